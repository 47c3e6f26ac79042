-- Resumable (tus) uploads in progress. The sealed bytes live in the blob store's
-- unfinished area under the same id; `received` counts plaintext bytes sealed and
-- synced there (always a whole number of 64 KiB chunks until the upload completes).
CREATE TABLE uploads (
    id          TEXT    PRIMARY KEY,
    uploader_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    mime        TEXT    NOT NULL,
    length      BIGINT  NOT NULL,
    received    BIGINT  NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL
);
CREATE INDEX uploads_uploader ON uploads(uploader_id);
