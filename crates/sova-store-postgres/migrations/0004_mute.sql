-- Per-member mute: clients silence notifications; mentions still arrive.
ALTER TABLE chat_members ADD COLUMN muted BIGINT NOT NULL DEFAULT 0;
