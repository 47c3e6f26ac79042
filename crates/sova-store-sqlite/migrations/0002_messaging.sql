-- Messaging core: chat kinds and roles, rich messages, reactions, versions, events, invites.
ALTER TABLE chats ADD COLUMN created_by INTEGER;
ALTER TABLE chats ADD COLUMN private_key TEXT;
ALTER TABLE chats ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN last_message_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE chats ADD COLUMN deleted_at INTEGER;
CREATE UNIQUE INDEX chats_private_key ON chats(private_key) WHERE private_key IS NOT NULL;
CREATE INDEX chats_activity ON chats(last_message_id, id);
UPDATE chats SET member_count = (SELECT COUNT(*) FROM chat_members cm WHERE cm.chat_id = chats.id);
UPDATE chats SET last_message_id = COALESCE((SELECT MAX(id) FROM messages m WHERE m.chat_id = chats.id), 0);

ALTER TABLE chat_members ADD COLUMN last_read_seq INTEGER NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN kind TEXT NOT NULL DEFAULT 'text';
ALTER TABLE messages ADD COLUMN reply_to INTEGER;
ALTER TABLE messages ADD COLUMN forward_chat_id INTEGER;
ALTER TABLE messages ADD COLUMN forward_message_id INTEGER;
ALTER TABLE messages ADD COLUMN forward_user_id INTEGER;
ALTER TABLE messages ADD COLUMN forward_user TEXT;
ALTER TABLE messages ADD COLUMN mentions TEXT NOT NULL DEFAULT '';
ALTER TABLE messages ADD COLUMN edited_at INTEGER;
ALTER TABLE messages ADD COLUMN deleted_at INTEGER;
ALTER TABLE messages ADD COLUMN pinned_at INTEGER;
CREATE INDEX messages_pinned ON messages(chat_id, pinned_at) WHERE pinned_at IS NOT NULL;

CREATE TABLE message_versions (
    message_id  INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    text        TEXT    NOT NULL,
    replaced_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, version)
);

CREATE TABLE reactions (
    message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    emoji      TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (message_id, emoji, user_id)
);

-- Events other than new messages (a message row is its own event).
CREATE TABLE events (
    id          INTEGER PRIMARY KEY,
    chat_id     INTEGER,
    target_user INTEGER,
    payload     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX events_chat ON events(chat_id, id) WHERE chat_id IS NOT NULL;
CREATE INDEX events_user ON events(target_user, id) WHERE target_user IS NOT NULL;

CREATE TABLE invites (
    code       TEXT    PRIMARY KEY,
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    created_by INTEGER NOT NULL REFERENCES users(id),
    created_at INTEGER NOT NULL,
    expires_at INTEGER,
    max_uses   INTEGER,
    uses       INTEGER NOT NULL DEFAULT 0,
    revoked_at INTEGER
);
CREATE INDEX invites_chat ON invites(chat_id);
