//! What every game shares: the seats (invited players and open seats), the
//! status and its one result, whose turn it is, the move deadline, the players
//! who resigned or forfeited, and the state's version. Engines change a table
//! only through these methods, which keep its invariants: a finished table has
//! no turn and no deadline, the player to move is seated and still playing.

use super::{GameError, Millis};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use sova_types::UserId;

/// Where a game is in its life; a finished game carries exactly one result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Status {
    /// Seats are open; moves are refused until the game starts.
    Waiting,
    /// Moves are being played.
    InProgress,
    /// Over, with its result; nothing is accepted any more.
    Finished {
        /// How it ended.
        result: GameResult,
    },
}

impl Status {
    /// The wire spelling: `waiting`, `in_progress` or `finished`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Status::Waiting => "waiting",
            Status::InProgress => "in_progress",
            Status::Finished { .. } => "finished",
        }
    }

    /// The result, when finished.
    pub fn result(&self) -> Option<&GameResult> {
        match self {
            Status::Finished { result } => Some(result),
            _ => None,
        }
    }
}

/// Why a game ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// A line was completed (three or four in a row).
    Line,
    /// The board filled up with no line.
    BoardFull,
    /// The hidden word was found.
    Solved,
    /// The players ran out of misses (hangman).
    OutOfGuesses,
    /// The other players resigned.
    Resigned,
    /// The other players let their move timer run out.
    Timeout,
    /// Every quiz question was played.
    Completed,
}

/// One player's place in a ranked result (quiz): places start at 1; tied players
/// share a place, and the next place skips accordingly (1, 1, 3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standing {
    /// The player.
    pub user: UserId,
    /// 1 for the best.
    pub place: u32,
    /// Points scored.
    pub score: i64,
}

/// The single result of a finished game.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum GameResult {
    /// `winner` won; every other player lost.
    Win {
        /// The winner.
        winner: UserId,
        /// How.
        reason: EndReason,
    },
    /// Nobody won or lost.
    Draw {
        /// How.
        reason: EndReason,
    },
    /// Everybody lost (the hangman word was not found, or every player left).
    NoWinner {
        /// How.
        reason: EndReason,
    },
    /// Players ranked by score (quiz), best first.
    Ranked {
        /// Every player's place, best first.
        standings: Vec<Standing>,
    },
}

/// How a finished game went for one player, for statistics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlayerOutcome {
    /// Won.
    Won,
    /// Lost.
    Lost,
    /// Drawn (including a shared first place).
    Drawn,
}

impl GameResult {
    /// How the game went for `user`: the winner won and everyone else lost; in a
    /// ranked result a sole first place with points wins, a shared first place
    /// draws and every other place loses.
    pub fn outcome_for(&self, user: UserId) -> PlayerOutcome {
        match self {
            GameResult::Win { winner, .. } if *winner == user => PlayerOutcome::Won,
            GameResult::Win { .. } | GameResult::NoWinner { .. } => PlayerOutcome::Lost,
            GameResult::Draw { .. } => PlayerOutcome::Drawn,
            GameResult::Ranked { standings } => {
                let Some(me) = standings.iter().find(|s| s.user == user) else {
                    return PlayerOutcome::Lost;
                };
                let firsts = standings.iter().filter(|s| s.place == 1).count();
                match (me.place, firsts) {
                    (1, 1) if me.score > 0 => PlayerOutcome::Won,
                    (1, n) if n > 1 => PlayerOutcome::Drawn,
                    _ => PlayerOutcome::Lost,
                }
            }
        }
    }

    /// Each player's place (1 = best, ties share) for rating, or `None` when the
    /// result ranks nobody against anybody (everyone lost to the puzzle).
    pub fn places(&self, players: &[UserId]) -> Option<Vec<(UserId, u32)>> {
        match self {
            GameResult::Win { winner, .. } => {
                Some(players.iter().map(|&p| (p, if p == *winner { 1 } else { 2 })).collect())
            }
            GameResult::Draw { .. } => Some(players.iter().map(|&p| (p, 1)).collect()),
            GameResult::NoWinner { .. } => None,
            GameResult::Ranked { standings } => {
                let last = standings.iter().map(|s| s.place).max().unwrap_or(0) + 1;
                Some(
                    players
                        .iter()
                        .map(|&p| (p, standings.iter().find(|s| s.user == p).map_or(last, |s| s.place)))
                        .collect(),
                )
            }
        }
    }
}

/// A move as sent by a client: `"start"`, `"resign"`, or the engine's own move
/// object (e.g. `{"cell": 4}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<M> {
    /// Start a waiting game with the players seated so far; open seats close.
    Start,
    /// Leave the game: while waiting the seat opens again; once started the
    /// player forfeits.
    Resign,
    /// A move of the game itself.
    Play(M),
}

impl<M: Serialize> Serialize for Action<M> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Action::Start => s.serialize_str("start"),
            Action::Resign => s.serialize_str("resign"),
            Action::Play(m) => m.serialize(s),
        }
    }
}

impl<'de, M: DeserializeOwned> Deserialize<'de> for Action<M> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::String(s) if s == "start" => Ok(Action::Start),
            Value::String(s) if s == "resign" => Ok(Action::Resign),
            other => serde_json::from_value(other)
                .map(Action::Play)
                .map_err(D::Error::custom),
        }
    }
}

/// Who sits at a new game and how long a move may take.
#[derive(Clone, Debug)]
pub(crate) struct Seating<'a> {
    /// Invited players, seated in this order (seat 0 moves first).
    pub players: &'a [UserId],
    /// Total seats; those beyond `players` are open.
    pub seats: usize,
    /// The fewest players the game can start with.
    pub min_players: usize,
    /// The most seats the game allows.
    pub max_players: usize,
    /// Milliseconds a player has for each move (turn-based games).
    pub move_ms: i64,
}

/// The seats, status, turn, deadline and version of one game.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    seats: Vec<Option<UserId>>,
    status: Status,
    version: u64,
    turn: Option<usize>,
    deadline: Option<Millis>,
    move_ms: i64,
    min_players: usize,
    out: Vec<UserId>,
}

impl Table {
    /// A waiting table; `bad_options` for duplicate players, too many players or a
    /// seat count outside the game's range.
    pub(crate) fn new(s: Seating<'_>) -> Result<Table, GameError> {
        if s.seats < s.min_players || s.seats > s.max_players {
            return Err(GameError::options(format!(
                "seats must be between {} and {}",
                s.min_players, s.max_players
            )));
        }
        if s.players.len() > s.seats {
            return Err(GameError::options(format!("at most {} players", s.seats)));
        }
        for (i, p) in s.players.iter().enumerate() {
            if s.players[..i].contains(p) {
                return Err(GameError::options(format!("player {p} is listed twice")));
            }
        }
        let mut seats: Vec<Option<UserId>> = s.players.iter().copied().map(Some).collect();
        seats.resize(s.seats, None);
        Ok(Table {
            seats,
            status: Status::Waiting,
            version: 1,
            turn: None,
            deadline: None,
            move_ms: s.move_ms,
            min_players: s.min_players,
            out: Vec::new(),
        })
    }

    /// The status (and result, when finished).
    pub fn status(&self) -> &Status {
        &self.status
    }

    /// Increases by one with every accepted change; starts at 1.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The seats in order; `None` is an open seat.
    pub fn seats(&self) -> &[Option<UserId>] {
        &self.seats
    }

    /// The seated players in seat order.
    pub fn players(&self) -> Vec<UserId> {
        self.seats.iter().flatten().copied().collect()
    }

    /// The player to move, in a turn-based game in progress.
    pub fn turn(&self) -> Option<UserId> {
        self.turn.and_then(|i| self.seats.get(i).copied().flatten())
    }

    /// The seat to move, in a turn-based game in progress.
    pub fn turn_seat(&self) -> Option<usize> {
        self.turn
    }

    /// When the current move (or quiz question) times out.
    pub fn deadline(&self) -> Option<Millis> {
        self.deadline
    }

    /// Players who resigned or forfeited, in the order they left.
    pub fn out(&self) -> &[UserId] {
        &self.out
    }

    /// The seat `user` holds.
    pub fn seat_of(&self, user: UserId) -> Option<usize> {
        self.seats.iter().position(|s| *s == Some(user))
    }

    /// The user in `seat`, if it is taken.
    pub fn user_at(&self, seat: usize) -> Option<UserId> {
        self.seats.get(seat).copied().flatten()
    }

    /// Whether the player in `seat` is still playing (seated and not out).
    pub fn is_active(&self, seat: usize) -> bool {
        self.user_at(seat).is_some_and(|u| !self.out.contains(&u))
    }

    /// The seats still playing, in order.
    pub fn active_seats(&self) -> Vec<usize> {
        (0..self.seats.len()).filter(|&i| self.is_active(i)).collect()
    }

    pub(crate) fn min_players(&self) -> usize {
        self.min_players
    }

    pub(crate) fn is_full(&self) -> bool {
        self.seats.iter().all(Option::is_some)
    }

    pub(crate) fn bump(&mut self) {
        self.version += 1;
    }

    /// Seats `user` in the first open seat (the caller checked there is one).
    pub(crate) fn sit(&mut self, user: UserId) {
        if let Some(seat) = self.seats.iter_mut().find(|s| s.is_none()) {
            *seat = Some(user);
        }
    }

    /// Opens `user`'s seat again (leaving before the start).
    pub(crate) fn stand_up(&mut self, user: UserId) {
        if let Some(seat) = self.seats.iter_mut().find(|s| **s == Some(user)) {
            *seat = None;
        }
    }

    /// Closes the open seats (a `start` with fewer players than seats).
    pub(crate) fn close_open_seats(&mut self) {
        self.seats.retain(Option::is_some);
    }

    /// Starts play: the first seat moves, with a fresh deadline, in turn-based games.
    pub(crate) fn start(&mut self, now: Millis, turn_based: bool) {
        self.status = Status::InProgress;
        if turn_based {
            self.turn = self.active_seats().first().copied();
            self.deadline = Some(now.saturating_add(self.move_ms));
        }
    }

    /// Sets the deadline (quiz questions keep their own clock).
    pub(crate) fn set_deadline(&mut self, at: Option<Millis>) {
        self.deadline = at;
    }

    /// Hands the move to the next seat still playing after the current one, with a
    /// fresh deadline.
    pub(crate) fn pass_turn(&mut self, now: Millis) {
        let n = self.seats.len();
        let from = self.turn.unwrap_or(n.saturating_sub(1));
        self.turn = (1..=n).map(|k| (from + k) % n).find(|&i| self.is_active(i));
        self.deadline = self.turn.map(|_| now.saturating_add(self.move_ms));
    }

    /// Marks `user` as out (resigned or forfeited).
    pub(crate) fn retire(&mut self, user: UserId) {
        if !self.out.contains(&user) {
            self.out.push(user);
        }
    }

    /// Ends the game with `result`: no turn, no deadline.
    pub(crate) fn finish(&mut self, result: GameResult) {
        self.status = Status::Finished { result };
        self.turn = None;
        self.deadline = None;
    }

    /// The only player still playing, when exactly one is.
    pub(crate) fn last_standing(&self) -> Option<UserId> {
        match self.active_seats().as_slice() {
            [one] => self.user_at(*one),
            _ => None,
        }
    }

    /// Checks that `user` may act in the game now and returns their seat: seated
    /// (`not_a_player`), not finished and still playing (`game_over`), started
    /// (`not_started`).
    pub(crate) fn check_player(&self, user: UserId) -> Result<usize, GameError> {
        let seat = self.seat_of(user).ok_or(GameError::NotAPlayer)?;
        match self.status {
            Status::Finished { .. } => Err(GameError::GameOver),
            Status::Waiting => Err(GameError::NotStarted),
            Status::InProgress if !self.is_active(seat) => Err(GameError::GameOver),
            Status::InProgress => Ok(seat),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(players: &[i64], seats: usize) -> Result<Table, GameError> {
        let players: Vec<UserId> = players.iter().map(|&p| UserId(p)).collect();
        Table::new(Seating {
            players: &players,
            seats,
            min_players: 2,
            max_players: 4,
            move_ms: 1000,
        })
    }

    #[test]
    fn seating_is_validated() {
        assert!(matches!(table(&[1, 1], 2), Err(GameError::BadOptions(_))));
        assert!(matches!(table(&[1, 2, 3], 2), Err(GameError::BadOptions(_))));
        assert!(matches!(table(&[1], 5), Err(GameError::BadOptions(_))));
        assert!(matches!(table(&[1], 1), Err(GameError::BadOptions(_))));
        let t = table(&[1], 3).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(t.seats(), &[Some(UserId(1)), None, None]);
        assert_eq!(t.status(), &Status::Waiting);
        assert_eq!(t.version(), 1);
    }

    #[test]
    fn turns_skip_players_who_are_out() {
        let mut t = table(&[1, 2, 3], 3).unwrap_or_else(|e| panic!("{e}"));
        t.start(100, true);
        assert_eq!((t.turn(), t.deadline()), (Some(UserId(1)), Some(1100)));
        t.retire(UserId(2));
        t.pass_turn(200);
        assert_eq!((t.turn(), t.deadline()), (Some(UserId(3)), Some(1200)));
        t.pass_turn(300);
        assert_eq!(t.turn(), Some(UserId(1)));
        t.retire(UserId(3));
        assert_eq!(t.last_standing(), Some(UserId(1)));
        t.finish(GameResult::Draw {
            reason: EndReason::BoardFull,
        });
        assert_eq!((t.turn(), t.deadline()), (None, None));
        assert_eq!(t.check_player(UserId(1)), Err(GameError::GameOver));
        assert_eq!(t.check_player(UserId(9)), Err(GameError::NotAPlayer));
    }

    #[test]
    fn outcomes_and_places_of_results() {
        let (a, b, c) = (UserId(1), UserId(2), UserId(3));
        let win = GameResult::Win {
            winner: a,
            reason: EndReason::Line,
        };
        assert_eq!(win.outcome_for(a), PlayerOutcome::Won);
        assert_eq!(win.outcome_for(b), PlayerOutcome::Lost);
        assert_eq!(win.places(&[a, b]), Some(vec![(a, 1), (b, 2)]));
        assert_eq!(
            GameResult::NoWinner {
                reason: EndReason::OutOfGuesses
            }
            .places(&[a, b]),
            None
        );
        let ranked = GameResult::Ranked {
            standings: vec![
                Standing {
                    user: b,
                    place: 1,
                    score: 900,
                },
                Standing {
                    user: a,
                    place: 1,
                    score: 900,
                },
                Standing {
                    user: c,
                    place: 3,
                    score: 0,
                },
            ],
        };
        assert_eq!(ranked.outcome_for(a), PlayerOutcome::Drawn);
        assert_eq!(ranked.outcome_for(c), PlayerOutcome::Lost);
        assert_eq!(ranked.places(&[a, b, c]), Some(vec![(a, 1), (b, 1), (c, 3)]));
        let json = serde_json::to_value(&Status::Finished { result: win }).unwrap_or_default();
        assert_eq!(json["status"], "finished");
        assert_eq!(json["result"]["outcome"], "win");
        assert_eq!(json["result"]["winner"], 1);
    }

    #[test]
    fn actions_parse_from_strings_and_objects() {
        #[derive(Debug, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Cell {
            cell: u8,
        }
        let parse = |v: Value| serde_json::from_value::<Action<Cell>>(v).ok();
        assert_eq!(parse(serde_json::json!("resign")), Some(Action::Resign));
        assert_eq!(parse(serde_json::json!("start")), Some(Action::Start));
        assert_eq!(
            parse(serde_json::json!({"cell": 4})),
            Some(Action::Play(Cell { cell: 4 }))
        );
        assert_eq!(parse(serde_json::json!("jump")), None);
        assert_eq!(parse(serde_json::json!({"cell": 400})), None);
        assert_eq!(
            serde_json::to_value(Action::Play(Cell { cell: 2 })).ok(),
            Some(serde_json::json!({"cell": 2}))
        );
    }
}
