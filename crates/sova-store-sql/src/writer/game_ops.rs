//! Game ops of the batch writer: create, join, move and time out a game. The
//! engine (`sova_core::games::GameState`) runs on the state read inside the write
//! transaction, so a move on a stale state can neither be lost nor applied twice;
//! the row is updated with its version checked. A game that finishes is settled
//! in the same transaction: ratings, statistics, results and achievements (each
//! unlocked once per user by the table's key, with one `achievement_unlocked`).

use super::Writer;
use super::state::{reject, unchanged};
use crate::{Backend, Db, Result};
use sova_core::Rejection;
use sova_core::games::{GameKind, GameState, Progress, Rating, Settlement};
use sova_store::{Committed, GameRow, Outcome, StoreError, StoredEvent};
use sova_types::time::rfc3339;
use sova_types::{ChatId, Event, GameId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

/// Ratings are stored in fixed point (see migration 0015): rating and deviation
/// in thousandths, volatility in millionths.
const RATING_SCALE: f64 = 1_000.0;
const VOLATILITY_SCALE: f64 = 1_000_000.0;

/// The columns of a game row, in `game_row` order.
pub(crate) const GAME_COLUMNS: &str = "id, chat_id, created_by, created_at, updated_at, state";

/// A game row from `GAME_COLUMNS`.
pub(crate) fn game_row<R: Row>(r: &R) -> std::result::Result<GameRow, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    Ok(GameRow {
        id: GameId(r.try_get(0)?),
        chat_id: ChatId(r.try_get(1)?),
        created_by: UserId(r.try_get(2)?),
        created_at: r.try_get(3)?,
        updated_at: r.try_get(4)?,
        state: r.try_get(5)?,
    })
}

/// A stored fixed-point rating as a `Rating`.
pub(crate) fn rating_from(rating: i64, rd: i64, volatility: i64) -> Rating {
    Rating {
        rating: rating as f64 / RATING_SCALE,
        deviation: rd as f64 / RATING_SCALE,
        volatility: volatility as f64 / VOLATILITY_SCALE,
    }
}

fn fixed(v: f64, scale: f64) -> i64 {
    (v * scale).round() as i64
}

fn to_json<T: serde::Serialize>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Other(format!("game state does not encode: {e}")).into())
}

/// What `WriteOp::CreateGame` asks for, beside where, who and when.
pub(super) struct NewGame<'a> {
    pub(super) kind: GameKind,
    pub(super) players: &'a [UserId],
    pub(super) options: &'a str,
    pub(super) seed: u64,
}

/// Unix microseconds as the engines' milliseconds.
fn millis(at: i64) -> i64 {
    at / 1000
}

impl<B> Writer<B>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    String: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    Vec<u8>: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a [u8]: Type<Db<B>> + Encode<'a, Db<B>>,
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
    for<'a> Option<&'a str>: Encode<'a, Db<B>>,
{
    /// The `game_updated` event for the chat, carrying the public view.
    fn game_updated(&mut self, row: &GameRow, state: &GameState) -> StoredEvent {
        let game = sova_store::dto::game(row, state, None);
        self.event(Some(row.chat_id), None, |seq| Event::GameUpdated { seq, game })
    }

    /// Whether `user` is a member of the live chat `chat`.
    async fn in_chat(&mut self, chat: ChatId, user: UserId) -> Result<bool> {
        Ok(self.chat(chat).await?.is_some() && self.member(chat, user).await?.is_some())
    }

    /// The game `id` as `user` may see it: `None` when it does not exist or its chat
    /// is gone or `user` is not a member of it.
    async fn visible_game(&mut self, id: GameId, user: Option<UserId>) -> Result<Option<(GameRow, GameState)>> {
        let r = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {GAME_COLUMNS} FROM games WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&mut *self.tx)
        .await?;
        let Some(r) = r else { return Ok(None) };
        let row = game_row(&r)?;
        let visible = match user {
            Some(u) => self.in_chat(row.chat_id, u).await?,
            None => self.chat(row.chat_id).await?.is_some(),
        };
        if !visible {
            return Ok(None);
        }
        let state = row.game_state()?;
        Ok(Some((row, state)))
    }

    pub(super) async fn create_game(
        &mut self,
        chat: ChatId,
        by: UserId,
        spec: NewGame<'_>,
        at: i64,
    ) -> Result<Committed> {
        let NewGame {
            kind,
            players,
            options,
            seed,
        } = spec;
        if !self.in_chat(chat, by).await? {
            return Ok(reject(Rejection::NoSuchChat));
        }
        for &p in players {
            if !self.in_chat(chat, p).await? {
                return Ok(reject(Rejection::NotAMember));
            }
        }
        let options: serde_json::Value = match serde_json::from_str(options) {
            Ok(v) => v,
            Err(e) => {
                return Ok(reject(Rejection::Game(sova_core::games::GameError::BadOptions(
                    e.to_string(),
                ))));
            }
        };
        let state = match GameState::new(kind, players, &options, seed, millis(at)) {
            Ok(s) => s,
            Err(e) => return Ok(reject(Rejection::Game(e))),
        };
        let json = to_json(&state)?;
        let r = sqlx::query(
            "INSERT INTO games (chat_id, kind, status, version, deadline, state, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id",
        )
        .bind(chat.0)
        .bind(kind.as_str())
        .bind(state.status().as_str())
        .bind(i64::try_from(state.version()).unwrap_or(i64::MAX))
        .bind(state.deadline().map(|ms| ms.saturating_mul(1000)))
        .bind(json.clone())
        .bind(by.0)
        .bind(at)
        .fetch_one(&mut *self.tx)
        .await?;
        let row = GameRow {
            id: GameId(r.try_get(0)?),
            chat_id: chat,
            created_by: by,
            created_at: at,
            updated_at: at,
            state: json,
        };
        let events = vec![self.game_updated(&row, &state)];
        Ok(Committed {
            outcome: Outcome::Game(row),
            events,
        })
    }

    pub(super) async fn join_game(&mut self, game: GameId, user: UserId, at: i64) -> Result<Committed> {
        let Some((row, state)) = self.visible_game(game, Some(user)).await? else {
            return Ok(reject(Rejection::NoSuchGame));
        };
        match state.join(user, millis(at)) {
            Ok(next) => self.save_game(row, &state, next, at).await,
            Err(e) => Ok(reject(Rejection::Game(e))),
        }
    }

    pub(super) async fn game_move(&mut self, game: GameId, user: UserId, mv: &str, at: i64) -> Result<Committed> {
        let Some((row, state)) = self.visible_game(game, Some(user)).await? else {
            return Ok(reject(Rejection::NoSuchGame));
        };
        let mv: serde_json::Value = match serde_json::from_str(mv) {
            Ok(v) => v,
            Err(e) => {
                return Ok(reject(Rejection::Game(sova_core::games::GameError::InvalidMove(
                    e.to_string(),
                ))));
            }
        };
        match state.apply(user, &mv, millis(at)) {
            Ok(next) => self.save_game(row, &state, next, at).await,
            Err(e) => Ok(reject(Rejection::Game(e))),
        }
    }

    pub(super) async fn game_timeout(&mut self, game: GameId, at: i64) -> Result<Committed> {
        let Some((row, state)) = self.visible_game(game, None).await? else {
            return Ok(reject(Rejection::NoSuchGame));
        };
        match state.timeout(millis(at)) {
            Some(next) => self.save_game(row, &state, next, at).await,
            // Nothing due (a move came first, or the sweep ran early): harmless.
            None => Ok(unchanged(Outcome::Game(row))),
        }
    }

    /// Stores `next` over `prev` (the row must still be at `prev`'s version), emits
    /// `game_updated`, and settles the game when this change finished it.
    async fn save_game(&mut self, mut row: GameRow, prev: &GameState, next: GameState, at: i64) -> Result<Committed> {
        let json = to_json(&next)?;
        let done = sqlx::query(
            "UPDATE games SET status = $1, version = $2, deadline = $3, state = $4, updated_at = $5
             WHERE id = $6 AND version = $7",
        )
        .bind(next.status().as_str())
        .bind(i64::try_from(next.version()).unwrap_or(i64::MAX))
        .bind(next.deadline().map(|ms| ms.saturating_mul(1000)))
        .bind(json.clone())
        .bind(at)
        .bind(row.id.0)
        .bind(i64::try_from(prev.version()).unwrap_or(i64::MAX))
        .execute(&mut *self.tx)
        .await?;
        if B::rows_affected(&done) != 1 {
            return Err(StoreError::Conflict("the game changed meanwhile".into()).into());
        }
        row.state = json;
        row.updated_at = at;
        let mut events = vec![self.game_updated(&row, &next)];
        if prev.status().result().is_none() {
            let progress = self.progress_of(&next).await?;
            let ratings = self.ratings_of(&next).await?;
            if let Some(s) = next.settle(&ratings, &progress) {
                events.extend(self.settle(&row, s, at).await?);
            }
        }
        Ok(Committed {
            outcome: Outcome::Game(row),
            events,
        })
    }

    /// The players' current ratings in the game's kind (new players are absent).
    async fn ratings_of(&mut self, state: &GameState) -> Result<Vec<(UserId, Rating)>> {
        let mut out = Vec::new();
        for u in state.players() {
            let r = sqlx::query("SELECT rating, rd, volatility FROM game_ratings WHERE user_id = $1 AND kind = $2")
                .bind(u.0)
                .bind(state.kind().as_str())
                .fetch_optional(&mut *self.tx)
                .await?;
            if let Some(r) = r {
                out.push((u, rating_from(r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)));
            }
        }
        Ok(out)
    }

    /// The players' statistics and held achievements (new players are absent).
    async fn progress_of(&mut self, state: &GameState) -> Result<Vec<(UserId, Progress)>> {
        let mut out = Vec::new();
        for u in state.players() {
            let r = sqlx::query("SELECT progress FROM game_progress WHERE user_id = $1")
                .bind(u.0)
                .fetch_optional(&mut *self.tx)
                .await?;
            if let Some(r) = r {
                let text: String = r.try_get(0)?;
                let p: Progress = serde_json::from_str(&text)
                    .map_err(|e| StoreError::Other(format!("stored progress does not decode: {e}")))?;
                out.push((u, p));
            }
        }
        Ok(out)
    }

    /// Writes a finished game's settlement; one `achievement_unlocked` per
    /// achievement actually inserted (the key refuses a second unlock).
    async fn settle(&mut self, row: &GameRow, s: Settlement, at: i64) -> Result<Vec<StoredEvent>> {
        let kind = s.kind.as_str();
        for c in &s.ratings {
            sqlx::query(
                "INSERT INTO game_ratings (user_id, kind, rating, rd, volatility, played) VALUES ($1, $2, $3, $4, $5, 1)
                 ON CONFLICT (user_id, kind) DO UPDATE SET rating = excluded.rating, rd = excluded.rd,
                 volatility = excluded.volatility, played = game_ratings.played + 1",
            )
            .bind(c.user.0)
            .bind(kind)
            .bind(fixed(c.after.rating, RATING_SCALE))
            .bind(fixed(c.after.deviation, RATING_SCALE))
            .bind(fixed(c.after.volatility, VOLATILITY_SCALE))
            .execute(&mut *self.tx)
            .await?;
        }
        let mut events = Vec::new();
        for p in s.players {
            let progress = to_json(&p.progress)?;
            sqlx::query(
                "INSERT INTO game_progress (user_id, progress, updated_at) VALUES ($1, $2, $3)
                 ON CONFLICT (user_id) DO UPDATE SET progress = excluded.progress, updated_at = excluded.updated_at",
            )
            .bind(p.user.0)
            .bind(progress)
            .bind(at)
            .execute(&mut *self.tx)
            .await?;
            let outcome = serde_json::to_value(p.record.outcome)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            sqlx::query(
                "INSERT INTO game_results (game_id, user_id, chat_id, kind, outcome, finished_at)
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (game_id, user_id) DO NOTHING",
            )
            .bind(row.id.0)
            .bind(p.user.0)
            .bind(row.chat_id.0)
            .bind(kind)
            .bind(outcome)
            .bind(at)
            .execute(&mut *self.tx)
            .await?;
            for a in p.unlocked {
                let done = sqlx::query(
                    "INSERT INTO game_achievements (user_id, achievement, game_id, unlocked_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, achievement) DO NOTHING",
                )
                .bind(p.user.0)
                .bind(a.id())
                .bind(row.id.0)
                .bind(at)
                .execute(&mut *self.tx)
                .await?;
                if B::rows_affected(&done) == 1 {
                    let (user, game_id) = (p.user, row.id);
                    events.push(self.event(None, Some(user), |seq| Event::AchievementUnlocked {
                        seq,
                        user_id: user,
                        achievement: a.id().to_owned(),
                        kind: kind.to_owned(),
                        game_id,
                        unlocked_at: rfc3339(at),
                    }));
                }
            }
        }
        Ok(events)
    }
}
