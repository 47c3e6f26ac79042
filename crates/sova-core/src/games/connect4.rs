//! Connect Four: two players drop discs into a 7-column, 6-row board; a disc falls
//! to the lowest free cell of its column. Four in a row horizontally, vertically
//! or diagonally wins; a full board without one is a draw. Seat 0 moves first.
//! A move is `{"column": 0..6}`.

use super::engine::Game;
use super::table::{EndReason, GameResult, Table};
use super::tictactoe::{BoardOptions, forfeit_two, two_seats};
use super::{GameError, GameKind, Millis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sova_types::UserId;

/// Columns on the board.
pub const COLUMNS: usize = 7;
/// Rows on the board.
pub const ROWS: usize = 6;

/// Connect Four's engine.
pub struct Connect4;

/// A Connect Four move: the column to drop a disc into, 0 (left) ..= 6.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Connect4Move {
    /// 0 is the leftmost column.
    pub column: u8,
}

/// The whole state of a Connect Four game (nothing secret).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Connect4State {
    pub(crate) table: Table,
    /// Each column's discs from the bottom up, as the seat that dropped them.
    pub(crate) columns: Vec<Vec<u8>>,
    /// Columns in the order discs were dropped.
    pub(crate) moves: Vec<u8>,
    /// The winning cells as `[column, row]` (row 0 at the bottom), when there are.
    pub(crate) line: Option<Vec<[u8; 2]>>,
}

impl Connect4State {
    /// Each column's discs from the bottom up (the seat that dropped each).
    pub fn columns(&self) -> &[Vec<u8>] {
        &self.columns
    }

    /// The disc at `column`, `row` (row 0 at the bottom).
    pub fn at(&self, column: usize, row: usize) -> Option<u8> {
        self.columns.get(column).and_then(|c| c.get(row)).copied()
    }
}

/// The cells of the first line (horizontal, vertical, rising, falling) of four or
/// more of `seat`'s discs through (`col`, `row`), as `[column, row]` sorted.
fn line_through(s: &Connect4State, col: usize, row: usize, seat: u8) -> Option<Vec<[u8; 2]>> {
    let same = |c: i64, r: i64| {
        c >= 0
            && r >= 0
            && usize::try_from(c)
                .ok()
                .zip(usize::try_from(r).ok())
                .and_then(|(c, r)| s.at(c, r))
                == Some(seat)
    };
    let (c0, r0) = (col as i64, row as i64);
    for (dc, dr) in [(1, 0), (0, 1), (1, 1), (1, -1)] {
        let mut cells = vec![[col as u8, row as u8]];
        for sign in [1, -1] {
            let (mut c, mut r) = (c0 + sign * dc, r0 + sign * dr);
            while same(c, r) {
                cells.push([c as u8, r as u8]);
                c += sign * dc;
                r += sign * dr;
            }
        }
        if cells.len() >= 4 {
            cells.sort_unstable();
            return Some(cells);
        }
    }
    None
}

impl Game for Connect4 {
    type State = Connect4State;
    type Move = Connect4Move;
    type Options = BoardOptions;
    const KIND: GameKind = GameKind::Connect4;
    const TURN_BASED: bool = true;

    fn create(players: &[UserId], o: &BoardOptions, _seed: u64) -> Result<Connect4State, GameError> {
        Ok(Connect4State {
            table: two_seats(players, o)?,
            columns: vec![Vec::new(); COLUMNS],
            moves: Vec::new(),
            line: None,
        })
    }

    fn table(s: &Connect4State) -> &Table {
        &s.table
    }

    fn table_mut(s: &mut Connect4State) -> &mut Table {
        &mut s.table
    }

    fn play(s: &mut Connect4State, seat: usize, mv: Connect4Move, now: Millis) -> Result<(), GameError> {
        let col = usize::from(mv.column);
        let Some(column) = s.columns.get_mut(col) else {
            return Err(GameError::invalid("column must be between 0 and 6"));
        };
        if column.len() >= ROWS {
            return Err(GameError::invalid(format!("column {col} is full")));
        }
        let disc = if seat == 0 { 0 } else { 1 };
        column.push(disc);
        let row = column.len() - 1;
        s.moves.push(mv.column);
        if let Some(line) = line_through(s, col, row, disc) {
            s.line = Some(line);
            let winner = s.table.user_at(seat).ok_or(GameError::NotAPlayer)?;
            s.table.finish(GameResult::Win {
                winner,
                reason: EndReason::Line,
            });
        } else if s.columns.iter().all(|c| c.len() >= ROWS) {
            s.table.finish(GameResult::Draw {
                reason: EndReason::BoardFull,
            });
        } else {
            s.table.pass_turn(now);
        }
        Ok(())
    }

    fn on_leave(s: &mut Connect4State, _seat: usize, reason: EndReason, _now: Millis) {
        forfeit_two(&mut s.table, reason);
    }

    fn view_game(s: &Connect4State, _viewer: Option<UserId>) -> Map<String, Value> {
        // Rows top-down, as a board is drawn.
        let rows: Vec<Vec<Option<u8>>> = (0..ROWS)
            .rev()
            .map(|r| (0..COLUMNS).map(|c| s.at(c, r)).collect())
            .collect();
        let mut m = Map::new();
        m.insert("board".into(), json!(rows));
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

    fn play_all(cols: &[u8]) -> Connect4State {
        let mut s = Connect4::new(&[A, B], &BoardOptions::default(), 0, 0).unwrap();
        for (i, &column) in cols.iter().enumerate() {
            let who = if i % 2 == 0 { A } else { B };
            s = Connect4::apply(&s, who, Action::Play(Connect4Move { column }), 5).unwrap();
        }
        s
    }

    fn winner(s: &Connect4State) -> Option<UserId> {
        match Connect4::status(s).result() {
            Some(GameResult::Win {
                winner,
                reason: EndReason::Line,
            }) => Some(*winner),
            _ => None,
        }
    }

    #[test]
    fn horizontal_vertical_and_both_diagonals_win() {
        // Horizontal: A fills the bottom of columns 0..3, B stacks on top of them.
        let s = play_all(&[0, 0, 1, 1, 2, 2, 3]);
        assert_eq!(winner(&s), Some(A));
        assert_eq!(s.line, Some(vec![[0, 0], [1, 0], [2, 0], [3, 0]]));
        // Vertical for B.
        let s = play_all(&[0, 6, 1, 6, 0, 6, 1, 6]);
        assert_eq!(winner(&s), Some(B));
        // Rising diagonal for A: (0,0) (1,1) (2,2) (3,3).
        let s = play_all(&[0, 1, 1, 2, 2, 3, 2, 3, 3, 6, 3]);
        assert_eq!(winner(&s), Some(A));
        assert_eq!(s.line, Some(vec![[0, 0], [1, 1], [2, 2], [3, 3]]));
        // Falling diagonal for A: (6,0) (5,1) (4,2) (3,3), completed from the middle.
        let s = play_all(&[6, 5, 5, 4, 4, 3, 3, 3, 3, 0, 4]);
        assert_eq!(winner(&s), Some(A));
        assert_eq!(s.line, Some(vec![[3, 3], [4, 2], [5, 1], [6, 0]]));
        assert_eq!(Connect4::turn(&s), None);
    }

    /// A full board with no four in a row: columns 0..=5 follow `(row / 2 + column)
    /// % 2` (runs of at most two in every direction) and column 6 alternates.
    fn draw_board(c: usize, r: usize) -> u8 {
        if c == 6 { (r % 2) as u8 } else { ((r / 2 + c) % 2) as u8 }
    }

    /// An alternating drop order (seat 0 first) that builds `draw_board`.
    fn drop_order(heights: &mut [usize; 7], turn: u8, out: &mut Vec<u8>) -> bool {
        if out.len() == 42 {
            return true;
        }
        for c in 0..7 {
            let h = heights[c];
            if h < 6 && draw_board(c, h) == turn {
                heights[c] += 1;
                out.push(c as u8);
                if drop_order(heights, 1 - turn, out) {
                    return true;
                }
                out.pop();
                heights[c] -= 1;
            }
        }
        false
    }

    #[test]
    fn a_full_board_without_four_is_a_draw() {
        let mut cols = Vec::new();
        assert!(drop_order(&mut [0; 7], 0, &mut cols));
        let mut s = Connect4::new(&[A, B], &BoardOptions::default(), 0, 0).unwrap();
        for (i, &column) in cols.iter().enumerate() {
            assert_eq!(Connect4::status(&s), &Status::InProgress, "ended early at move {i}");
            let who = if i % 2 == 0 { A } else { B };
            s = Connect4::apply(&s, who, Action::Play(Connect4Move { column }), 5).unwrap();
        }
        assert_eq!(
            Connect4::status(&s).result(),
            Some(&GameResult::Draw {
                reason: EndReason::BoardFull
            })
        );
        assert_eq!(s.line, None);
    }

    #[test]
    fn a_full_column_and_out_of_range_columns_are_refused_unchanged() {
        let s = play_all(&[3, 3, 3, 3, 3, 3]);
        let before = s.clone();
        let err = |c| Connect4::apply(&s, A, Action::Play(Connect4Move { column: c }), 5).unwrap_err();
        assert!(matches!(err(3), GameError::InvalidMove(_)));
        assert!(matches!(err(7), GameError::InvalidMove(_)));
        assert_eq!(
            Connect4::apply(&s, B, Action::Play(Connect4Move { column: 0 }), 5),
            Err(GameError::NotYourTurn)
        );
        assert_eq!(s, before);
        let v = Connect4::view(&s, None);
        assert_eq!(v["board"][0][3], 1, "top row holds B's last disc");
        assert_eq!(v["board"][5][3], 0, "bottom row holds A's first disc");
    }
}
