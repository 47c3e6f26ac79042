-- Uploaded files (contents encrypted in the blob store; see docs/files.md) and
-- the messages that carry them. A file is readable by its uploader and by the
-- members of every chat a message carrying it was posted in (message_files).
CREATE TABLE files (
    id          TEXT    PRIMARY KEY,
    uploader_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    mime        TEXT    NOT NULL,
    size        BIGINT  NOT NULL,
    sha256      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    width       BIGINT,
    height      BIGINT,
    blurhash    TEXT
);
CREATE INDEX files_uploader ON files(uploader_id);

CREATE TABLE message_files (
    message_id BIGINT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    file_id    TEXT    NOT NULL, -- no foreign key: a link to a deleted file is inert, and a
                                 -- file deleted while a batch commits must not fail the batch
    chat_id    BIGINT  NOT NULL,
    PRIMARY KEY (message_id, file_id)
);
CREATE INDEX message_files_file ON message_files(file_id, chat_id);

-- The files a message carries, as clients see them (JSON array; NULL for none).
ALTER TABLE messages ADD COLUMN attachments TEXT;
