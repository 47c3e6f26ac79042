-- Full-text search: a blind index (docs/search.md). A document is a message's
-- text (slot 0) or one of its attached files (slot n). Postings hold keyed-HMAC
-- tokens of stems, prefixes and stem pairs with their counts, never words.
-- The indexer's position and statistics are `search.*` rows of `counters`.
CREATE TABLE search_docs (
    message_id BIGINT NOT NULL,
    slot       BIGINT NOT NULL,
    chat_id    BIGINT NOT NULL,
    sender_id  BIGINT NOT NULL,
    file_id    TEXT,
    created_at BIGINT NOT NULL,
    length     BIGINT NOT NULL,
    has_files  BIGINT NOT NULL,
    PRIMARY KEY (message_id, slot)
);

CREATE TABLE search_postings (
    token      BYTEA  NOT NULL,
    message_id BIGINT NOT NULL,
    slot       BIGINT NOT NULL,
    tf         BIGINT NOT NULL,
    PRIMARY KEY (token, message_id, slot)
);
CREATE INDEX search_postings_message ON search_postings(message_id);
