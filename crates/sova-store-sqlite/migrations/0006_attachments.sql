-- Media and file messages carry an attachment (JSON: url, name, mime, size).
ALTER TABLE messages ADD COLUMN attachment TEXT;
