//! Games played in chats (issue #14): create, join, move, view, the leaderboard
//! and a player's statistics, on every transport. Rules live in
//! `sova_core::games`, wiring in `sova_service::games`; see docs/games.md.

use crate::{Caller, Entry, Method, Operation, Spec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sova_service::Services;
use sova_types::ErrorCode::{BadRequest, Conflict, Forbidden, InvalidMove, NotFound, TooLarge};
use sova_types::games::{Game, LeaderboardEntry, PlayerStats};
use sova_types::{ApiError, ChatId, GameId, UserId};

/// The operations of this module.
pub const OPS: &[Entry] = &[
    Entry::of::<CreateGame>(),
    Entry::of::<JoinGame>(),
    Entry::of::<MakeMove>(),
    Entry::of::<GetGame>(),
    Entry::of::<Leaderboard>(),
    Entry::of::<UserStats>(),
];

const TAG: &str = "games";

/// The input of `create_game`.
#[derive(Deserialize, JsonSchema)]
pub struct CreateGameRequest {
    pub chat_id: ChatId,
    /// `tictactoe`, `hangman`, `quiz` or `connect4`.
    pub kind: String,
    /// Members of the chat seated after the caller, in order; seats left over are
    /// open for `join_game`.
    #[serde(default)]
    pub players: Vec<UserId>,
    /// Per kind (docs/games.md), e.g. `{"move_seconds":60}`; absent for the defaults.
    #[serde(default)]
    pub options: Option<serde_json::Value>,
}

/// `create_game` (`/api/chats/{chat_id}/games`): Start a game in a chat.
pub struct CreateGame;
impl Operation for CreateGame {
    type Request = CreateGameRequest;
    type Response = Game;
    const SPEC: Spec = Spec::new(
        "create_game",
        Method::Post,
        "/api/chats/{chat_id}/games",
        "Start a game in a chat (the caller takes the first seat)",
    )
    .tag(TAG)
    .status(201)
    .errors(&[NotFound, BadRequest, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: CreateGameRequest) -> Result<Game, ApiError> {
        let u = c.user()?;
        s.games
            .create(u.user_id, r.chat_id, &r.kind, &r.players, r.options.as_ref())
            .await
    }
}

/// The input of operations on one game.
#[derive(Deserialize, JsonSchema)]
pub struct GameRequest {
    pub game_id: GameId,
}

/// `join_game` (`/api/games/{game_id}/join`): Take an open seat.
pub struct JoinGame;
impl Operation for JoinGame {
    type Request = GameRequest;
    type Response = Game;
    const SPEC: Spec = Spec::new(
        "join_game",
        Method::Post,
        "/api/games/{game_id}/join",
        "Take an open seat",
    )
    .tag(TAG)
    .errors(&[NotFound, Conflict]);
    async fn handle(s: &Services, c: &Caller, r: GameRequest) -> Result<Game, ApiError> {
        s.games.join(c.user()?.user_id, r.game_id).await
    }
}

/// The input of `move`.
#[derive(Deserialize, JsonSchema)]
pub struct MoveRequest {
    pub game_id: GameId,
    /// `"start"`, `"resign"` or the game's move, e.g. `{"cell":4}`, `{"column":3}`,
    /// `{"letter":"a"}`, `{"answer":2}`.
    #[serde(rename = "move")]
    pub mv: serde_json::Value,
}

/// `move` (`/api/games/{game_id}/moves`): Play a move (an illegal one is 422
/// `invalid_move`, another player's turn 409 `conflict`; the game is unchanged).
pub struct MakeMove;
impl Operation for MakeMove {
    type Request = MoveRequest;
    type Response = Game;
    const SPEC: Spec = Spec::new(
        "move",
        Method::Post,
        "/api/games/{game_id}/moves",
        "Play a move (illegal: 422 invalid_move; not your turn: 409 conflict)",
    )
    .tag(TAG)
    .errors(&[NotFound, InvalidMove, Conflict, Forbidden, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: MoveRequest) -> Result<Game, ApiError> {
        s.games.play(c.user()?.user_id, r.game_id, &r.mv).await
    }
}

/// `get_game` (`/api/games/{game_id}`): One game as the caller sees it.
pub struct GetGame;
impl Operation for GetGame {
    type Request = GameRequest;
    type Response = Game;
    const SPEC: Spec = Spec::new(
        "get_game",
        Method::Get,
        "/api/games/{game_id}",
        "One game as the caller sees it",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: GameRequest) -> Result<Game, ApiError> {
        s.games.get(c.user()?.user_id, r.game_id).await
    }
}

/// The input of `leaderboard`.
#[derive(Deserialize, JsonSchema)]
pub struct LeaderboardRequest {
    /// One kind of game (absent: every kind, one row per player and kind).
    #[serde(default)]
    pub kind: Option<String>,
    /// Only players who finished a game in this chat (the caller's).
    #[serde(default)]
    pub chat_id: Option<ChatId>,
    /// Rows to skip (the previous page's `next_offset`).
    #[serde(default)]
    pub offset: Option<i64>,
    /// 1–100, default 20.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A page of the leaderboard.
#[derive(Serialize, JsonSchema)]
pub struct LeaderboardPage {
    /// By rating, highest first.
    pub entries: Vec<LeaderboardEntry>,
    /// The `offset` of the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_offset: Option<i64>,
}

/// `leaderboard` (`/api/leaderboard`): Players by rating, globally or in a chat.
pub struct Leaderboard;
impl Operation for Leaderboard {
    type Request = LeaderboardRequest;
    type Response = LeaderboardPage;
    const SPEC: Spec = Spec::new(
        "leaderboard",
        Method::Get,
        "/api/leaderboard",
        "Players by rating, highest first, globally or in a chat",
    )
    .tag(TAG)
    .errors(&[NotFound, BadRequest]);
    async fn handle(s: &Services, c: &Caller, r: LeaderboardRequest) -> Result<LeaderboardPage, ApiError> {
        let u = c.user()?;
        let limit = r.limit.unwrap_or(sova_service::games::DEFAULT_PAGE);
        let offset = r.offset.unwrap_or(0);
        let entries = s
            .games
            .leaderboard(u.user_id, r.kind.as_deref(), r.chat_id, Some(offset), Some(limit))
            .await?;
        let full = i64::try_from(entries.len()).unwrap_or(0) == limit;
        Ok(LeaderboardPage {
            next_offset: full.then(|| offset + limit),
            entries,
        })
    }
}

/// The input of `user_stats`.
#[derive(Deserialize, JsonSchema)]
pub struct UserStatsRequest {
    pub user_id: UserId,
}

/// `user_stats` (`/api/users/{user_id}/stats`): A player's games, ratings and achievements.
pub struct UserStats;
impl Operation for UserStats {
    type Request = UserStatsRequest;
    type Response = PlayerStats;
    const SPEC: Spec = Spec::new(
        "user_stats",
        Method::Get,
        "/api/users/{user_id}/stats",
        "A player's statistics, ratings per kind and achievements",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: UserStatsRequest) -> Result<PlayerStats, ApiError> {
        c.user()?;
        s.games.stats(r.user_id).await
    }
}
