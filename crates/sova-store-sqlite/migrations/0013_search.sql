-- Full-text search: a blind index (docs/search.md). A document is a message's
-- text (slot 0) or one of its attached files (slot n). Postings hold keyed-HMAC
-- tokens of stems, prefixes and stem pairs with their counts, never words.
-- The indexer's position and statistics are `search.*` rows of `counters`.
CREATE TABLE search_docs (
    message_id INTEGER NOT NULL,
    slot       INTEGER NOT NULL,
    chat_id    INTEGER NOT NULL,
    sender_id  INTEGER NOT NULL,
    file_id    TEXT,
    created_at INTEGER NOT NULL,
    length     INTEGER NOT NULL,
    has_files  INTEGER NOT NULL,
    PRIMARY KEY (message_id, slot)
) WITHOUT ROWID;

CREATE TABLE search_postings (
    token      BLOB    NOT NULL,
    message_id INTEGER NOT NULL,
    slot       INTEGER NOT NULL,
    tf         INTEGER NOT NULL,
    PRIMARY KEY (token, message_id, slot)
) WITHOUT ROWID;
CREATE INDEX search_postings_message ON search_postings(message_id);
