-- Client settings per user (theme, font size, language…), a JSON object that follows
-- the user across devices; last write wins.
CREATE TABLE user_settings (
    user_id INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    settings TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
