-- Games played in chats (issue #14). `state` is the engine's whole state as JSON
-- (`sova_core::games::GameState`, secrets included); `status`, `version` and
-- `deadline` (Unix microseconds, NULL when nothing is due) are copied out of it
-- for the version check and the timeout sweep.
CREATE TABLE games (
    id         INTEGER PRIMARY KEY,
    chat_id    INTEGER NOT NULL REFERENCES chats(id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    version    INTEGER NOT NULL,
    deadline   INTEGER,
    state      TEXT    NOT NULL,
    created_by INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX games_chat ON games(chat_id);
CREATE INDEX games_deadline ON games(deadline) WHERE deadline IS NOT NULL;

-- Glicko-2 ratings per user and kind, in fixed point so both databases order
-- them identically: rating and rd in thousandths, volatility in millionths.
CREATE TABLE game_ratings (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT    NOT NULL,
    rating     INTEGER NOT NULL,
    rd         INTEGER NOT NULL,
    volatility INTEGER NOT NULL,
    played     INTEGER NOT NULL,
    PRIMARY KEY (user_id, kind)
);
CREATE INDEX game_ratings_kind ON game_ratings(kind, rating);

-- Statistics and held achievements (`sova_core::games::Progress` as JSON).
CREATE TABLE game_progress (
    user_id    INTEGER PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    progress   TEXT    NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Each achievement once per user: the key makes a second unlock a no-op.
CREATE TABLE game_achievements (
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    achievement TEXT    NOT NULL,
    game_id     INTEGER NOT NULL,
    unlocked_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, achievement)
);

-- Who finished which game where (per-chat leaderboards); one row per player of a
-- settled game, so a game is settled exactly once.
CREATE TABLE game_results (
    game_id     INTEGER NOT NULL REFERENCES games(id) ON DELETE CASCADE,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    chat_id     INTEGER NOT NULL,
    kind        TEXT    NOT NULL,
    outcome     TEXT    NOT NULL,
    finished_at INTEGER NOT NULL,
    PRIMARY KEY (game_id, user_id)
);
CREATE INDEX game_results_chat ON game_results(chat_id, kind);
