//! The engine trait every game implements. An engine supplies its own rules
//! (`create`, `play`, `on_leave`, `view_game`); the provided methods add what all
//! games share — seat checks, turn order, start, resign, join, move timeouts and
//! versions — so every engine refuses the same things with the same errors. Every
//! transition works on a copy: an `Err` means the caller's state is untouched.

use super::stats::{Feat, GameRecord};
use super::table::{Action, EndReason, Status, Table};
use super::{GameError, GameKind, Millis};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use sova_types::UserId;
use std::fmt::Debug;

/// A game's rules as a pure state machine over `State`.
pub trait Game {
    /// The whole state, secrets included (store it; never send it to clients).
    type State: Clone + Debug + PartialEq + Serialize + DeserializeOwned;
    /// A move of this game, as the JSON object clients send.
    type Move: Clone + Debug + PartialEq + Serialize + DeserializeOwned;
    /// Creation options, as the JSON object clients send (`{}` takes every default).
    type Options: Clone + Debug + Default + Serialize + DeserializeOwned;
    /// Which game this is.
    const KIND: GameKind;
    /// Whether players move one at a time (the quiz is simultaneous).
    const TURN_BASED: bool;

    /// A waiting game with `players` seated and the rest of the seats open.
    fn create(players: &[UserId], options: &Self::Options, seed: u64) -> Result<Self::State, GameError>;
    /// The shared part of the state.
    fn table(state: &Self::State) -> &Table;
    /// The shared part of the state, for the provided transitions.
    fn table_mut(state: &mut Self::State) -> &mut Table;
    /// Applies a move by the player in `seat`, already checked to be playing and
    /// (in turn-based games) to move; on `Err` the state may be discarded.
    fn play(state: &mut Self::State, seat: usize, mv: Self::Move, now: Millis) -> Result<(), GameError>;
    /// Reacts to the player in `seat` leaving a game in progress (already marked
    /// out): ends the game or moves it on.
    fn on_leave(state: &mut Self::State, seat: usize, reason: EndReason, now: Millis);
    /// This game's own fields of the view `viewer` may see (secrets hidden).
    fn view_game(state: &Self::State, viewer: Option<UserId>) -> Map<String, Value>;

    /// Starts play once the seats are settled; the quiz also asks its first question.
    fn on_start(state: &mut Self::State, now: Millis) {
        Self::table_mut(state).start(now, Self::TURN_BASED);
    }

    /// Handles a passed deadline; by default the player to move forfeits. Returns
    /// whether anything changed.
    fn expire(state: &mut Self::State, now: Millis) -> bool {
        let table = Self::table_mut(state);
        let Some((seat, user)) = table.turn_seat().and_then(|s| Some((s, table.user_at(s)?))) else {
            return false;
        };
        table.retire(user);
        Self::on_leave(state, seat, EndReason::Timeout, now);
        true
    }

    /// Special things `user` achieved in this finished game (for achievements).
    fn feats(_state: &Self::State, _user: UserId) -> Vec<Feat> {
        Vec::new()
    }

    /// A new game: `players` take the first seats (seat 0 moves first), the rest
    /// stay open; it starts at once when every seat is taken. `seed` deals the
    /// content (hangman word, quiz questions): equal seeds deal equal games.
    fn new(players: &[UserId], options: &Self::Options, seed: u64, now: Millis) -> Result<Self::State, GameError> {
        let mut state = Self::create(players, options, seed)?;
        if Self::table(&state).is_full() {
            Self::on_start(&mut state, now);
        }
        Ok(state)
    }

    /// Applies `player`'s action at `now`, returning the next state (version + 1)
    /// or an error that leaves `state` as it was. Checks, in order: seated
    /// (`not_a_player`), finished or left (`game_over`), started (`not_started`),
    /// deadline (`time_up`), turn (`not_your_turn`), then the engine's rules
    /// (`invalid_move`).
    fn apply(
        state: &Self::State,
        player: UserId,
        action: Action<Self::Move>,
        now: Millis,
    ) -> Result<Self::State, GameError> {
        let table = Self::table(state);
        let mut next = state.clone();
        match (table.status(), action) {
            (_, _) if table.seat_of(player).is_none() => return Err(GameError::NotAPlayer),
            (Status::Waiting, Action::Resign) => Self::table_mut(&mut next).stand_up(player),
            (Status::Waiting, Action::Start) => {
                let seated = table.players().len();
                if seated < table.min_players() {
                    return Err(GameError::invalid(format!(
                        "at least {} players are needed",
                        table.min_players()
                    )));
                }
                Self::table_mut(&mut next).close_open_seats();
                Self::on_start(&mut next, now);
            }
            (_, Action::Start) => {
                table.check_player(player)?;
                return Err(GameError::invalid("the game has already started"));
            }
            (_, Action::Resign) => {
                let seat = table.check_player(player)?;
                Self::table_mut(&mut next).retire(player);
                Self::on_leave(&mut next, seat, EndReason::Resigned, now);
            }
            (_, Action::Play(mv)) => {
                let seat = table.check_player(player)?;
                if table.deadline().is_some_and(|d| now >= d) {
                    return Err(GameError::TimeUp);
                }
                if Self::TURN_BASED && table.turn_seat() != Some(seat) {
                    return Err(GameError::NotYourTurn);
                }
                Self::play(&mut next, seat, mv, now)?;
            }
        }
        Self::table_mut(&mut next).bump();
        Ok(next)
    }

    /// Seats `player` in the first open seat; the game starts when the last seat
    /// is taken. `already_joined`, `game_full` (also once started) or `game_over`.
    fn join(state: &Self::State, player: UserId, now: Millis) -> Result<Self::State, GameError> {
        let table = Self::table(state);
        match table.status() {
            Status::Finished { .. } => return Err(GameError::GameOver),
            _ if table.seat_of(player).is_some() => return Err(GameError::AlreadyJoined),
            Status::InProgress => return Err(GameError::GameFull),
            Status::Waiting if table.is_full() => return Err(GameError::GameFull),
            Status::Waiting => {}
        }
        let mut next = state.clone();
        Self::table_mut(&mut next).sit(player);
        if Self::table(&next).is_full() {
            Self::on_start(&mut next, now);
        }
        Self::table_mut(&mut next).bump();
        Ok(next)
    }

    /// The state after the deadline passed, or `None` when nothing is due at `now`
    /// (no deadline, not reached, not in progress). Turn-based games forfeit the
    /// player to move; the quiz closes the current question.
    fn timeout(state: &Self::State, now: Millis) -> Option<Self::State> {
        let table = Self::table(state);
        if *table.status() != Status::InProgress || table.deadline().is_none_or(|d| now < d) {
            return None;
        }
        let mut next = state.clone();
        if !Self::expire(&mut next, now) {
            return None;
        }
        Self::table_mut(&mut next).bump();
        Some(next)
    }

    /// Waiting, in progress, or finished with the result.
    fn status(state: &Self::State) -> &Status {
        Self::table(state).status()
    }

    /// The player to move (turn-based games in progress only).
    fn turn(state: &Self::State) -> Option<UserId> {
        Self::table(state).turn()
    }

    /// When `timeout` next has something to do.
    fn deadline(state: &Self::State) -> Option<Millis> {
        Self::table(state).deadline()
    }

    /// The seated players in seat order.
    fn players(state: &Self::State) -> Vec<UserId> {
        Self::table(state).players()
    }

    /// The state's version: 1 when created, + 1 per accepted change.
    fn version(state: &Self::State) -> u64 {
        Self::table(state).version()
    }

    /// What `viewer` (a player, a spectator, or `None` for anyone) may see: the
    /// shared fields (`kind`, `status`, `result`, `seats`, `players`, `out`,
    /// `turn`, `deadline`, `version`) and the game's own, secrets hidden until the end.
    fn view(state: &Self::State, viewer: Option<UserId>) -> Value {
        let t = Self::table(state);
        let mut m = Self::view_game(state, viewer);
        m.insert("kind".into(), json!(Self::KIND));
        m.insert("status".into(), json!(t.status().as_str()));
        m.insert("result".into(), json!(t.status().result()));
        m.insert("seats".into(), json!(t.seats()));
        m.insert("players".into(), json!(t.players()));
        m.insert("out".into(), json!(t.out()));
        m.insert("turn".into(), json!(t.turn()));
        m.insert("deadline".into(), json!(t.deadline()));
        m.insert("version".into(), json!(t.version()));
        Value::Object(m)
    }

    /// One record per seated player of a finished game (empty before the end),
    /// for statistics, achievements and ratings.
    fn records(state: &Self::State) -> Vec<(UserId, GameRecord)> {
        let Some(result) = Self::status(state).result() else {
            return Vec::new();
        };
        Self::players(state)
            .into_iter()
            .map(|u| {
                (
                    u,
                    GameRecord {
                        kind: Self::KIND,
                        outcome: result.outcome_for(u),
                        feats: Self::feats(state, u),
                    },
                )
            })
            .collect()
    }
}
