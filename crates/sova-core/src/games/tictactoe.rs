//! Tic-tac-toe: two players on a 3×3 board, seat 0 plays X and moves first, three
//! in a row (row, column or diagonal) wins, a full board without one is a draw.
//! A move is `{"cell": 0..8}`, cells numbered row by row from the top left.

use super::engine::Game;
use super::table::{EndReason, GameResult, Seating, Table};
use super::{GameError, GameKind, Millis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sova_types::UserId;

/// The eight lines of three cells.
pub const LINES: [[usize; 3]; 8] = [
    [0, 1, 2],
    [3, 4, 5],
    [6, 7, 8],
    [0, 3, 6],
    [1, 4, 7],
    [2, 5, 8],
    [0, 4, 8],
    [2, 4, 6],
];

/// Tic-tac-toe's engine.
pub struct TicTacToe;

/// A tic-tac-toe move: the cell to mark, 0..=8 row by row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TicTacToeMove {
    /// 0 is the top left, 8 the bottom right.
    pub cell: u8,
}

/// Tic-tac-toe options: `{"move_seconds"?: 10..=604800}` (default 300).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BoardOptions {
    /// Seconds each move may take before the player to move forfeits.
    pub move_seconds: Option<u32>,
    /// Always 2 when given.
    pub seats: Option<usize>,
}

/// The whole state of a tic-tac-toe game (nothing secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicTacToeState {
    pub(crate) table: Table,
    /// The mark in each cell: the seat (0 = X, 1 = O) or empty.
    pub(crate) board: [Option<u8>; 9],
    /// Cells in the order they were marked.
    pub(crate) moves: Vec<u8>,
    /// The winning line, when there is one.
    pub(crate) line: Option<[u8; 3]>,
}

impl TicTacToeState {
    /// The marks: the seat (0 = X, 1 = O) in each cell, row by row.
    pub fn board(&self) -> &[Option<u8>; 9] {
        &self.board
    }

    /// The cells in the order they were marked.
    pub fn moves(&self) -> &[u8] {
        &self.moves
    }
}

/// Move timer bounds shared by the turn-based games: 10 s to a week, 5 min by default.
pub(crate) fn move_ms(seconds: Option<u32>, default: u32) -> Result<i64, GameError> {
    let s = seconds.unwrap_or(default);
    if !(10..=604_800).contains(&s) {
        return Err(GameError::options("move_seconds must be between 10 and 604800"));
    }
    Ok(i64::from(s) * 1000)
}

/// Two-seat seating for the board games.
pub(crate) fn two_seats(players: &[UserId], o: &BoardOptions) -> Result<Table, GameError> {
    Table::new(Seating {
        players,
        seats: o.seats.unwrap_or(2),
        min_players: 2,
        max_players: 2,
        move_ms: move_ms(o.move_seconds, 300)?,
    })
}

/// Ends a two-player game one player left (already marked out): the other wins.
pub(crate) fn forfeit_two(table: &mut Table, reason: EndReason) {
    match table.last_standing() {
        Some(winner) => table.finish(GameResult::Win { winner, reason }),
        None => table.finish(GameResult::NoWinner { reason }),
    }
}

impl Game for TicTacToe {
    type State = TicTacToeState;
    type Move = TicTacToeMove;
    type Options = BoardOptions;
    const KIND: GameKind = GameKind::TicTacToe;
    const TURN_BASED: bool = true;

    fn create(players: &[UserId], o: &BoardOptions, _seed: u64) -> Result<TicTacToeState, GameError> {
        Ok(TicTacToeState {
            table: two_seats(players, o)?,
            board: [None; 9],
            moves: Vec::new(),
            line: None,
        })
    }

    fn table(s: &TicTacToeState) -> &Table {
        &s.table
    }

    fn table_mut(s: &mut TicTacToeState) -> &mut Table {
        &mut s.table
    }

    fn play(s: &mut TicTacToeState, seat: usize, mv: TicTacToeMove, now: Millis) -> Result<(), GameError> {
        let cell = usize::from(mv.cell);
        match s.board.get(cell) {
            None => return Err(GameError::invalid("cell must be between 0 and 8")),
            Some(Some(_)) => return Err(GameError::invalid(format!("cell {cell} is taken"))),
            Some(None) => {}
        }
        let mark = if seat == 0 { 0 } else { 1 };
        s.board[cell] = Some(mark);
        s.moves.push(mv.cell);
        if let Some(line) = LINES.iter().find(|l| l.iter().all(|&c| s.board[c] == Some(mark))) {
            s.line = Some(line.map(|c| c as u8));
            let winner = s.table.user_at(seat).ok_or(GameError::NotAPlayer)?;
            s.table.finish(GameResult::Win {
                winner,
                reason: EndReason::Line,
            });
        } else if s.board.iter().all(Option::is_some) {
            s.table.finish(GameResult::Draw {
                reason: EndReason::BoardFull,
            });
        } else {
            s.table.pass_turn(now);
        }
        Ok(())
    }

    fn on_leave(s: &mut TicTacToeState, _seat: usize, reason: EndReason, _now: Millis) {
        forfeit_two(&mut s.table, reason);
    }

    fn view_game(s: &TicTacToeState, _viewer: Option<UserId>) -> Map<String, Value> {
        let marks: Vec<Option<&str>> = s
            .board
            .iter()
            .map(|c| c.map(|m| if m == 0 { "x" } else { "o" }))
            .collect();
        let mut m = Map::new();
        m.insert("board".into(), json!(marks));
        m.insert("moves".into(), json!(s.moves));
        m.insert("line".into(), json!(s.line));
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::table::{Action, Status};

    const A: UserId = UserId(1);
    const B: UserId = UserId(2);

    fn game() -> TicTacToeState {
        TicTacToe::new(&[A, B], &BoardOptions::default(), 0, 0).unwrap()
    }

    fn play_all(cells: &[u8]) -> TicTacToeState {
        let mut s = game();
        for (i, &cell) in cells.iter().enumerate() {
            let who = if i % 2 == 0 { A } else { B };
            s = TicTacToe::apply(&s, who, Action::Play(TicTacToeMove { cell }), 10).unwrap();
        }
        s
    }

    #[test]
    fn every_line_wins_for_x_and_for_o() {
        for line in LINES {
            let others: Vec<u8> = (0..9u8).filter(|c| !line.contains(&usize::from(*c))).collect();
            // O's two marks elsewhere cannot make a line of three.
            let x: Vec<u8> = line.iter().map(|&c| c as u8).collect();
            let s = play_all(&[x[0], others[0], x[1], others[1], x[2]]);
            assert_eq!(
                TicTacToe::status(&s),
                &Status::Finished {
                    result: GameResult::Win {
                        winner: A,
                        reason: EndReason::Line
                    }
                },
                "line {line:?}"
            );
            assert_eq!(s.line, Some(line.map(|c| c as u8)));
            assert_eq!(TicTacToe::turn(&s), None);
        }
        // O wins the middle row while X scatters.
        let s = play_all(&[0, 3, 8, 4, 1, 5]);
        assert_eq!(
            TicTacToe::status(&s).result(),
            Some(&GameResult::Win {
                winner: B,
                reason: EndReason::Line
            })
        );
    }

    #[test]
    fn a_full_board_without_a_line_is_a_draw() {
        // X O X / X O O / O X X
        let s = play_all(&[0, 1, 2, 4, 3, 5, 7, 6, 8]);
        assert_eq!(
            TicTacToe::status(&s).result(),
            Some(&GameResult::Draw {
                reason: EndReason::BoardFull
            })
        );
        assert_eq!(TicTacToe::version(&s), 10);
    }

    #[test]
    fn illegal_moves_and_wrong_turns_leave_the_state_unchanged() {
        let s = play_all(&[4]);
        let before = s.clone();
        let err = |who, cell| TicTacToe::apply(&s, who, Action::Play(TicTacToeMove { cell }), 10).unwrap_err();
        assert_eq!(err(A, 0), GameError::NotYourTurn);
        assert!(matches!(err(B, 4), GameError::InvalidMove(_)));
        assert!(matches!(err(B, 9), GameError::InvalidMove(_)));
        assert_eq!(err(UserId(3), 0), GameError::NotAPlayer);
        assert_eq!(
            TicTacToe::apply(&s, B, Action::Start, 10).unwrap_err().code(),
            "invalid_move"
        );
        assert_eq!(s, before);
        let won = play_all(&[0, 3, 1, 4, 2]);
        assert_eq!(
            TicTacToe::apply(&won, B, Action::Play(TicTacToeMove { cell: 8 }), 10),
            Err(GameError::GameOver)
        );
        assert_eq!(TicTacToe::apply(&won, A, Action::Resign, 10), Err(GameError::GameOver));
    }

    #[test]
    fn open_seats_join_then_play_and_resign_forfeits() {
        let s = TicTacToe::new(&[A], &BoardOptions::default(), 0, 0).unwrap();
        assert_eq!(TicTacToe::status(&s), &Status::Waiting);
        assert_eq!(
            TicTacToe::apply(&s, A, Action::Play(TicTacToeMove { cell: 0 }), 1),
            Err(GameError::NotStarted)
        );
        assert_eq!(TicTacToe::join(&s, A, 1), Err(GameError::AlreadyJoined));
        let s = TicTacToe::join(&s, B, 1_000).unwrap();
        assert_eq!((TicTacToe::turn(&s), TicTacToe::deadline(&s)), (Some(A), Some(301_000)));
        assert_eq!(TicTacToe::join(&s, UserId(3), 2), Err(GameError::GameFull));
        let s = TicTacToe::apply(&s, B, Action::Resign, 2_000).unwrap();
        assert_eq!(
            TicTacToe::status(&s).result(),
            Some(&GameResult::Win {
                winner: A,
                reason: EndReason::Resigned
            })
        );
    }

    #[test]
    fn the_player_to_move_forfeits_at_the_deadline() {
        let s = play_all(&[4]);
        let deadline = TicTacToe::deadline(&s).unwrap();
        assert_eq!(TicTacToe::timeout(&s, deadline - 1), None);
        assert_eq!(
            TicTacToe::apply(&s, B, Action::Play(TicTacToeMove { cell: 0 }), deadline),
            Err(GameError::TimeUp)
        );
        let t = TicTacToe::timeout(&s, deadline).unwrap();
        assert_eq!(
            TicTacToe::status(&t).result(),
            Some(&GameResult::Win {
                winner: A,
                reason: EndReason::Timeout
            })
        );
        assert_eq!(TicTacToe::timeout(&t, deadline + 1), None);
        let records = TicTacToe::records(&t);
        assert_eq!(records.len(), 2);
    }

    #[test]
    fn options_are_checked_and_the_view_shows_marks() {
        let bad = BoardOptions {
            move_seconds: Some(1),
            seats: None,
        };
        assert!(matches!(
            TicTacToe::new(&[A, B], &bad, 0, 0),
            Err(GameError::BadOptions(_))
        ));
        let three = BoardOptions {
            move_seconds: None,
            seats: Some(3),
        };
        assert!(matches!(
            TicTacToe::new(&[A, B], &three, 0, 0),
            Err(GameError::BadOptions(_))
        ));
        let v = TicTacToe::view(&play_all(&[4, 0]), Some(A));
        assert_eq!(v["board"][4], "x");
        assert_eq!(v["board"][0], "o");
        assert_eq!(v["turn"], 1);
        assert_eq!(v["status"], "in_progress");
        assert_eq!(v["kind"], "tictactoe");
        assert_eq!(v["version"], 3);
    }
}
