//! Games in chats: creating, joining and playing go through the writer
//! (`WriteOp::CreateGame`/`JoinGame`/`GameMove`/`GameTimeout`), whose
//! transaction runs the engine on the stored state and settles finished games;
//! reads (a game, the leaderboard, a player's statistics) come from the
//! `GameStore`. Only members of a game's chat see or touch it: anyone else gets
//! `not_found`, as for the chat itself.

use crate::{Writer, outcome_err, store_err};
use sova_core::games::{GameError, GameKind, Progress};
use sova_jobs::{JobQueue, NewJob};
use sova_store::{GameRow, Outcome, Stores, WriteOp};
use sova_types::games::{Game, HeldAchievement, KindStats, LeaderboardEntry, PlayerStats};
use sova_types::time::{now_micros, rfc3339};
use sova_types::{ApiError, ChatId, ErrorCode, GameId, UserId};
use std::sync::{Arc, OnceLock};

/// Most leaderboard rows one page holds.
pub const MAX_PAGE: i64 = 100;
/// Leaderboard rows per page when the caller does not say.
pub const DEFAULT_PAGE: i64 = 20;
/// Most players one game may invite.
pub const MAX_PLAYERS: usize = 50;
/// Largest `options` object accepted, in bytes of JSON.
pub const MAX_OPTIONS_BYTES: usize = 4096;
/// Largest move accepted, in bytes of JSON.
pub const MAX_MOVE_BYTES: usize = 1024;

/// The client error for a refusal of the game engine. An illegal move is 422
/// `invalid_move`; bad options are `bad_request`; a non-player is `forbidden`;
/// every conflict with the game's state (not your turn, game over, full, …) is
/// 409 `conflict` with the engine's code in `details.reason`.
pub fn game_err(e: &GameError) -> ApiError {
    let message = match e {
        GameError::InvalidMove(why) => format!("invalid move: {why}"),
        GameError::BadOptions(why) => format!("bad game options: {why}"),
        GameError::NotYourTurn => "it is not your turn".to_owned(),
        GameError::GameOver => "the game is over for you".to_owned(),
        GameError::NotAPlayer => "you do not play in this game".to_owned(),
        GameError::NotStarted => "the game has not started yet".to_owned(),
        GameError::AlreadyJoined => "you already play in this game".to_owned(),
        GameError::GameFull => "no seat is open in this game".to_owned(),
        GameError::TimeUp => "the time for this move has run out".to_owned(),
    };
    let code = match e.http_status() {
        422 => ErrorCode::InvalidMove,
        400 => ErrorCode::BadRequest,
        403 => ErrorCode::Forbidden,
        _ => ErrorCode::Conflict,
    };
    ApiError::new(code, message).with_details(serde_json::json!({ "reason": e.code() }))
}

/// The job that applies a game's timeout at its deadline (payload `{"game_id"}`).
pub const TIMEOUT_JOB: &str = "games.timeout";

/// Creates, plays and shows games.
#[derive(Clone)]
pub struct GameService {
    stores: Stores,
    writer: Writer,
    /// The durable queue timeouts are scheduled on, once the server has built it.
    jobs: Arc<OnceLock<JobQueue>>,
}

impl GameService {
    /// Games over `stores`, written through `writer`.
    pub fn new(stores: Stores, writer: Writer) -> Self {
        GameService {
            stores,
            writer,
            jobs: Arc::default(),
        }
    }

    /// Schedules timeouts on `queue` from now on (the server calls it once at start).
    pub fn attach_jobs(&self, queue: JobQueue) {
        let _ = self.jobs.set(queue);
    }

    /// Submits a game op and returns the game after it, as `viewer` sees it.
    async fn run(&self, op: WriteOp, viewer: UserId) -> Result<Game, ApiError> {
        let c = self.writer.submit(op).await?;
        match c.outcome {
            Outcome::Game(row) => {
                let game = to_dto(&row, Some(viewer))?;
                if !c.events.is_empty() {
                    self.schedule(&row).await;
                }
                Ok(game)
            }
            other => Err(outcome_err(&other).unwrap_or_else(ApiError::internal)),
        }
    }

    /// Enqueues the timeout job at the game's deadline, once per version. The
    /// deadline is stored with the game in the write transaction, so a job lost
    /// here (a crash right after the commit) is made up by the recurring sweep.
    async fn schedule(&self, row: &GameRow) {
        let (Some(queue), Ok(state)) = (self.jobs.get(), row.game_state()) else {
            return;
        };
        let Some(deadline) = state.deadline() else { return };
        let job = NewJob::new(TIMEOUT_JOB, serde_json::json!({ "game_id": row.id }))
            .key(format!("{}:{}", row.id, state.version()))
            .run_at(deadline.saturating_mul(1000));
        if let Err(e) = queue.enqueue(&job).await {
            tracing::warn!(game = %row.id, %e, "game timeout not scheduled; the sweep will apply it");
        }
    }

    /// Applies `game`'s timeout if its deadline has passed (a job that fires early
    /// or twice changes nothing); whether it changed the game.
    pub async fn timeout(&self, game: GameId) -> Result<bool, ApiError> {
        let c = self
            .writer
            .submit(WriteOp::GameTimeout { game, at: now_micros() })
            .await?;
        match c.outcome {
            Outcome::Game(row) if !c.events.is_empty() => {
                self.schedule(&row).await;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// Starts a game of `kind` in `chat`: the caller takes the first seat, then
    /// `players` (members of the chat) in order; remaining seats stay open for
    /// `join`. Not a member of the chat: `not_found`.
    pub async fn create(
        &self,
        user: UserId,
        chat: ChatId,
        kind: &str,
        players: &[UserId],
        options: Option<&serde_json::Value>,
    ) -> Result<Game, ApiError> {
        let kind: GameKind = kind.parse().map_err(|e: GameError| game_err(&e))?;
        if players.len() > MAX_PLAYERS {
            return Err(ApiError::bad_request(format!("at most {MAX_PLAYERS} players")));
        }
        let mut seated = vec![user];
        for &p in players {
            if !seated.contains(&p) {
                seated.push(p);
            }
        }
        let options = options.cloned().unwrap_or(serde_json::Value::Null);
        if !(options.is_null() || options.is_object()) {
            return Err(ApiError::bad_request("options must be an object"));
        }
        let options = serde_json::to_string(&options).map_err(|_| ApiError::internal())?;
        if options.len() > MAX_OPTIONS_BYTES {
            return Err(ApiError::too_large_max(
                "options are too large",
                MAX_OPTIONS_BYTES as u64,
            ));
        }
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|_| ApiError::internal())?;
        self.run(
            WriteOp::CreateGame {
                chat,
                by: user,
                kind,
                players: seated,
                options,
                seed: u64::from_le_bytes(seed),
                at: now_micros(),
            },
            user,
        )
        .await
    }

    /// Takes an open seat in `game`.
    pub async fn join(&self, user: UserId, game: GameId) -> Result<Game, ApiError> {
        self.run(
            WriteOp::JoinGame {
                game,
                user,
                at: now_micros(),
            },
            user,
        )
        .await
    }

    /// Plays `mv` (the value of `{"move": …}`) in `game`.
    pub async fn play(&self, user: UserId, game: GameId, mv: &serde_json::Value) -> Result<Game, ApiError> {
        let mv = serde_json::to_string(mv).map_err(|_| ApiError::internal())?;
        if mv.len() > MAX_MOVE_BYTES {
            return Err(ApiError::too_large_max("the move is too large", MAX_MOVE_BYTES as u64));
        }
        self.run(
            WriteOp::GameMove {
                game,
                user,
                mv,
                at: now_micros(),
            },
            user,
        )
        .await
    }

    /// `game` as `user` sees it (their own quiz answer included); `not_found` unless
    /// `user` is a member of its chat. Reconnecting clients read this, then resume
    /// `game_updated` events.
    pub async fn get(&self, user: UserId, game: GameId) -> Result<Game, ApiError> {
        let row = self
            .stores
            .games
            .game(game)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("no such game"))?;
        self.stores
            .chats
            .member(row.chat_id, user)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("no such game"))?;
        to_dto(&row, Some(user))
    }

    /// Applies the timeout of every game whose deadline has passed (at most `limit`);
    /// returns how many changed. Run by the recurring `games.sweep_timeouts` job.
    pub async fn sweep_timeouts(&self, limit: i64) -> Result<usize, ApiError> {
        let due = self
            .stores
            .games
            .games_due(now_micros(), limit)
            .await
            .map_err(store_err)?;
        let mut changed = 0;
        for game in due {
            if self.timeout(game).await? {
                changed += 1;
            }
        }
        Ok(changed)
    }

    /// A page of the leaderboard: by rating, highest first; of one kind or all;
    /// with `chat` (of which `user` must be a member), only players who finished a
    /// game there. `offset` rows are skipped.
    pub async fn leaderboard(
        &self,
        user: UserId,
        kind: Option<&str>,
        chat: Option<ChatId>,
        offset: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Vec<LeaderboardEntry>, ApiError> {
        let kind = match kind.filter(|k| !k.is_empty()) {
            Some(k) => Some(k.parse::<GameKind>().map_err(|e| game_err(&e))?),
            None => None,
        };
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(format!("limit must be 1-{MAX_PAGE}")));
        }
        let offset = offset.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::bad_request("offset must not be negative"));
        }
        if let Some(chat) = chat {
            self.stores
                .chats
                .member(chat, user)
                .await
                .map_err(store_err)?
                .ok_or_else(|| ApiError::not_found("no such chat"))?;
        }
        let rows = self
            .stores
            .games
            .leaderboard(kind.map(GameKind::as_str), chat, offset, limit)
            .await
            .map_err(store_err)?;
        Ok(rows
            .into_iter()
            .zip(offset + 1..)
            .map(|(r, rank)| LeaderboardEntry {
                rank,
                user_id: r.user_id,
                username: r.username,
                kind: r.kind,
                rating: r.rating.rating,
                deviation: r.rating.deviation,
                volatility: r.rating.volatility,
                played: r.played,
            })
            .collect())
    }

    /// `of`'s statistics, ratings and achievements (any signed-in user may look);
    /// `not_found` for an unknown user.
    pub async fn stats(&self, of: UserId) -> Result<PlayerStats, ApiError> {
        if self.stores.users.user_by_id(of).await.map_err(store_err)?.is_none() {
            return Err(ApiError::not_found("no such user"));
        }
        let (progress, ratings, achievements) = self.stores.games.player(of).await.map_err(store_err)?;
        let progress: Progress = match progress {
            Some(text) => serde_json::from_str(&text).map_err(|e| {
                tracing::error!(%e, "stored game progress does not decode");
                ApiError::internal()
            })?,
            None => Progress::default(),
        };
        let kinds: Vec<KindStats> = progress
            .stats
            .kinds
            .iter()
            .map(|(kind, s)| {
                let r = ratings.iter().find(|r| r.kind == kind.as_str());
                let rating = r.map(|r| r.rating).unwrap_or_default();
                KindStats {
                    kind: kind.as_str().to_owned(),
                    played: i64::from(s.played),
                    won: i64::from(s.won),
                    lost: i64::from(s.lost),
                    drawn: i64::from(s.drawn),
                    streak: i64::from(s.streak),
                    best_streak: i64::from(s.best_streak),
                    rating: rating.rating,
                    deviation: rating.deviation,
                }
            })
            .collect();
        Ok(PlayerStats {
            user_id: of,
            played: kinds.iter().map(|k| k.played).sum(),
            won: kinds.iter().map(|k| k.won).sum(),
            lost: kinds.iter().map(|k| k.lost).sum(),
            drawn: kinds.iter().map(|k| k.drawn).sum(),
            best_streak: kinds.iter().map(|k| k.best_streak).max().unwrap_or(0),
            kinds,
            achievements: achievements
                .into_iter()
                .map(|a| HeldAchievement {
                    id: a.achievement,
                    game_id: a.game_id,
                    unlocked_at: rfc3339(a.unlocked_at),
                })
                .collect(),
        })
    }
}

/// The wire form of a stored game for `viewer`.
fn to_dto(row: &GameRow, viewer: Option<UserId>) -> Result<Game, ApiError> {
    let state = row.game_state().map_err(store_err)?;
    Ok(sova_store::dto::game(row, &state, viewer))
}
