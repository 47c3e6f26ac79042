//! Why a game refused a move, a join or its options. Each error has a stable
//! snake_case code and the HTTP status the service answers with, so the mapping
//! to `ApiError` is one match in the service and clients can tell the cases apart.

use std::fmt;

/// A refused game operation; the state it was applied to is unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum GameError {
    /// The move is not legal in this position (occupied cell, full column, a
    /// letter already guessed, a malformed move); 422 `invalid_move`.
    InvalidMove(String),
    /// Another player is to move; 409 `not_your_turn`.
    NotYourTurn,
    /// The game is finished (or the caller has resigned or forfeited); 409 `game_over`.
    GameOver,
    /// The caller holds no seat in this game; 403 `not_a_player`.
    NotAPlayer,
    /// The kind, players or options cannot make a game; 400 `bad_options`.
    BadOptions(String),
    /// Seats are still open and the game has not started; 409 `not_started`.
    NotStarted,
    /// The caller already holds a seat; 409 `already_joined`.
    AlreadyJoined,
    /// No seat is open (or the game has started); 409 `game_full`.
    GameFull,
    /// The move's deadline has passed (a quiz answer after the question closed, a
    /// move after the move timer ran out); the service runs `timeout` next; 409 `time_up`.
    TimeUp,
}

impl GameError {
    /// The stable wire code, e.g. `invalid_move`.
    pub fn code(&self) -> &'static str {
        match self {
            GameError::InvalidMove(_) => "invalid_move",
            GameError::NotYourTurn => "not_your_turn",
            GameError::GameOver => "game_over",
            GameError::NotAPlayer => "not_a_player",
            GameError::BadOptions(_) => "bad_options",
            GameError::NotStarted => "not_started",
            GameError::AlreadyJoined => "already_joined",
            GameError::GameFull => "game_full",
            GameError::TimeUp => "time_up",
        }
    }

    /// The HTTP status the service answers with: 422 for an illegal move, 400 for
    /// bad options, 403 for a non-player, 409 for every conflict with the game's state.
    pub fn http_status(&self) -> u16 {
        match self {
            GameError::InvalidMove(_) => 422,
            GameError::BadOptions(_) => 400,
            GameError::NotAPlayer => 403,
            GameError::NotYourTurn
            | GameError::GameOver
            | GameError::NotStarted
            | GameError::AlreadyJoined
            | GameError::GameFull
            | GameError::TimeUp => 409,
        }
    }

    pub(crate) fn invalid(why: impl Into<String>) -> Self {
        GameError::InvalidMove(why.into())
    }

    pub(crate) fn options(why: impl Into<String>) -> Self {
        GameError::BadOptions(why.into())
    }
}

impl fmt::Display for GameError {
    /// A human message that a client may show.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GameError::InvalidMove(why) => write!(f, "invalid move: {why}"),
            GameError::NotYourTurn => f.write_str("it is not your turn"),
            GameError::GameOver => f.write_str("the game is over"),
            GameError::NotAPlayer => f.write_str("you are not a player in this game"),
            GameError::BadOptions(why) => write!(f, "bad game options: {why}"),
            GameError::NotStarted => f.write_str("the game has not started: seats are still open"),
            GameError::AlreadyJoined => f.write_str("you already have a seat in this game"),
            GameError::GameFull => f.write_str("no seat is open in this game"),
            GameError::TimeUp => f.write_str("the time for this move is up"),
        }
    }
}

impl std::error::Error for GameError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_follow_the_contract() {
        assert_eq!(GameError::invalid("x").http_status(), 422);
        assert_eq!(GameError::invalid("x").code(), "invalid_move");
        assert_eq!(GameError::NotYourTurn.http_status(), 409);
        assert_eq!(GameError::NotYourTurn.code(), "not_your_turn");
        assert_eq!(GameError::GameOver.code(), "game_over");
        assert_eq!(GameError::NotAPlayer.code(), "not_a_player");
        assert_eq!(GameError::options("y").http_status(), 400);
        assert!(GameError::options("seats").to_string().contains("seats"));
    }
}
