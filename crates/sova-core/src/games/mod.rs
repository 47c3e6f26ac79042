//! Multiplayer mini-games played inside chats, as pure state machines: one engine
//! per game (tic-tac-toe, Connect Four, hangman, quiz) behind the [`Game`] trait,
//! a JSON dispatch layer over every kind ([`GameState`]), Glicko-2 ratings
//! ([`rating`]), statistics and achievements ([`stats`]). No IO and no clock:
//! every transition takes the time (`now`, Unix milliseconds) and returns a new
//! state, so the service can run it inside its write transaction, store the state
//! as JSON and schedule the next [`GameState::deadline`] as a job. See
//! `docs/games.md` for the move formats and views.

pub mod any;
pub mod connect4;
pub mod engine;
pub mod error;
pub mod hangman;
pub mod quiz;
pub mod rating;
mod rng;
pub mod stats;
pub mod table;
pub mod tictactoe;

#[cfg(test)]
mod props;

pub use any::{GameState, PlayerSettlement, Settlement};
pub use engine::Game;
pub use error::GameError;
pub use rating::{Rating, RatingChange};
pub use stats::{Achievement, Feat, GameRecord, KindStats, Progress, Stats};
pub use table::{Action, EndReason, GameResult, PlayerOutcome, Standing, Status, Table};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A point in time: milliseconds since the Unix epoch (the caller's clock).
pub type Millis = i64;

/// The kinds of game the server runs; the wire spelling is the lower-case name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GameKind {
    /// Tic-tac-toe on a 3×3 board, two players.
    TicTacToe,
    /// Hangman: guess a hidden word letter by letter, one to eight players taking turns.
    Hangman,
    /// A timed multiple-choice quiz, any number of players, scored by speed.
    Quiz,
    /// Connect Four on a 7×6 board with gravity, two players.
    Connect4,
}

impl GameKind {
    /// Every kind, in a stable order.
    pub const ALL: [GameKind; 4] = [
        GameKind::TicTacToe,
        GameKind::Hangman,
        GameKind::Quiz,
        GameKind::Connect4,
    ];

    /// The wire spelling: `tictactoe`, `hangman`, `quiz` or `connect4`.
    pub fn as_str(self) -> &'static str {
        match self {
            GameKind::TicTacToe => "tictactoe",
            GameKind::Hangman => "hangman",
            GameKind::Quiz => "quiz",
            GameKind::Connect4 => "connect4",
        }
    }
}

impl fmt::Display for GameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for GameKind {
    type Err = GameError;
    /// Parses the wire spelling; anything else is `bad_options`.
    fn from_str(s: &str) -> Result<Self, GameError> {
        GameKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| GameError::BadOptions(format!("unknown game kind {s:?}")))
    }
}

/// The language of a game's content (hangman words, quiz questions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// English.
    #[default]
    En,
    /// Russian.
    Ru,
}
