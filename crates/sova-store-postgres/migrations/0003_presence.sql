-- Presence: when each user was last connected.
ALTER TABLE users ADD COLUMN last_seen_at BIGINT;
-- Events about one message, so deleting it can also delete the text they carry.
ALTER TABLE events ADD COLUMN message_id BIGINT;
ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT '';
CREATE INDEX events_message ON events(message_id) WHERE message_id IS NOT NULL;
-- A deleted private chat frees its pair.
UPDATE chats SET private_key = NULL WHERE deleted_at IS NOT NULL;
