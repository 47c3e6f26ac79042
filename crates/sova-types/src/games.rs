//! Wire shapes of the games played in chats (issue #14): a game as clients see it,
//! leaderboard rows and a player's statistics. The engines themselves live in
//! `sova_core::games`; `state` here is always a view, never the stored state.

use crate::ids::{ChatId, GameId, UserId};
use serde::{Deserialize, Serialize};

/// A game as a viewer sees it (`POST /api/chats/{id}/games`, `GET /api/games/{id}`,
/// the `game_updated` event).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Game {
    pub id: GameId,
    /// `tictactoe`, `hangman`, `quiz` or `connect4`.
    pub kind: String,
    pub chat_id: ChatId,
    /// The engine's view for this viewer (the public view in `game_updated`):
    /// board, pattern or question, seats, scores; never a secret of a running game.
    pub state: serde_json::Value,
    /// Seated players in seat order.
    pub players: Vec<UserId>,
    /// The player to move (turn-based games in progress), else `null`.
    pub turn: Option<UserId>,
    /// `waiting`, `in_progress` or `finished`.
    pub status: String,
    /// 1 at creation, + 1 per accepted change.
    pub version: i64,
    /// The result once finished (`{"outcome":"win","winner",…}` …), else `null`.
    pub result: Option<serde_json::Value>,
    /// When the player to move (or the open quiz question) runs out of time.
    pub deadline: Option<String>,
    pub created_by: UserId,
    pub created_at: String,
    pub updated_at: String,
}

/// One row of a leaderboard: a player's rating in one kind of game.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LeaderboardEntry {
    /// 1-based place in the whole leaderboard (not only this page).
    pub rank: i64,
    pub user_id: UserId,
    pub username: String,
    pub kind: String,
    /// Glicko-2 rating (starts at 1500).
    pub rating: f64,
    /// Rating deviation (starts at 350; lower is surer).
    pub deviation: f64,
    pub volatility: f64,
    /// Rated games played in this kind.
    pub played: i64,
}

/// Statistics of one kind of game for one player.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KindStats {
    pub kind: String,
    pub played: i64,
    pub won: i64,
    pub lost: i64,
    pub drawn: i64,
    /// Wins in a row now.
    pub streak: i64,
    pub best_streak: i64,
    /// The Glicko-2 rating in this kind (1500 before any rated game).
    pub rating: f64,
    pub deviation: f64,
}

/// An achievement a player holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HeldAchievement {
    /// e.g. `first_win`, `ten_win_streak` (see docs/games.md).
    pub id: String,
    pub game_id: GameId,
    pub unlocked_at: String,
}

/// A player's statistics (`GET /api/users/{id}/stats`): totals over every kind,
/// per kind with the rating, and the achievements held.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PlayerStats {
    pub user_id: UserId,
    /// Finished games of every kind.
    pub played: i64,
    pub won: i64,
    pub lost: i64,
    pub drawn: i64,
    /// The longest run of wins in any one kind.
    pub best_streak: i64,
    /// Per kind played, in kind order.
    pub kinds: Vec<KindStats>,
    /// Oldest first.
    pub achievements: Vec<HeldAchievement>,
}
