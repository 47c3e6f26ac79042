//! One type for a game of any kind, with JSON options and moves, so a generic
//! service can create, store, play and show every game the same way. The stored
//! form is `{"kind": "...", "state": {...}}` (secrets included: keep it on the
//! server); clients only ever get `view`.

use super::connect4::Connect4;
use super::engine::Game;
use super::hangman::Hangman;
use super::quiz::Quiz;
use super::rating::{Rating, RatingChange, rate_game};
use super::stats::{Achievement, GameRecord, Progress};
use super::table::{Action, Status};
use super::tictactoe::TicTacToe;
use super::{GameError, GameKind, Millis};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sova_types::UserId;

/// A game of any kind: the engine's whole state, tagged with its kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "state", rename_all = "lowercase")]
pub enum GameState {
    /// Tic-tac-toe.
    TicTacToe(<TicTacToe as Game>::State),
    /// Hangman.
    Hangman(<Hangman as Game>::State),
    /// Quiz.
    Quiz(<Quiz as Game>::State),
    /// Connect Four.
    Connect4(<Connect4 as Game>::State),
}

/// Runs `$body` with `G` bound to the engine of `$self`'s kind and `$s` to its state.
macro_rules! with_engine {
    ($self:expr, $s:ident, $G:ident => $body:expr) => {
        match $self {
            GameState::TicTacToe($s) => {
                type $G = TicTacToe;
                $body
            }
            GameState::Hangman($s) => {
                type $G = Hangman;
                $body
            }
            GameState::Quiz($s) => {
                type $G = Quiz;
                $body
            }
            GameState::Connect4($s) => {
                type $G = Connect4;
                $body
            }
        }
    };
}

/// Parses a JSON value as `T`; `null` reads as an empty object (every default).
fn parse<T: DeserializeOwned>(v: &Value) -> Result<T, String> {
    let v = if v.is_null() {
        Value::Object(Default::default())
    } else {
        v.clone()
    };
    serde_json::from_value(v).map_err(|e| e.to_string())
}

fn create<G: Game>(players: &[UserId], options: &Value, seed: u64, now: Millis) -> Result<G::State, GameError> {
    let options: G::Options = parse(options).map_err(GameError::BadOptions)?;
    G::new(players, &options, seed, now)
}

fn apply<G: Game>(s: &G::State, player: UserId, mv: &Value, now: Millis) -> Result<G::State, GameError> {
    let action: Action<G::Move> =
        serde_json::from_value(mv.clone()).map_err(|e| GameError::InvalidMove(e.to_string()))?;
    G::apply(s, player, action, now)
}

impl GameState {
    /// A new game of `kind` (see `Game::new`); `options` is the client's JSON object
    /// (`null` or `{}` for the defaults); unknown fields or values out of range are
    /// `bad_options`.
    pub fn new(kind: GameKind, players: &[UserId], options: &Value, seed: u64, now: Millis) -> Result<Self, GameError> {
        Ok(match kind {
            GameKind::TicTacToe => GameState::TicTacToe(create::<TicTacToe>(players, options, seed, now)?),
            GameKind::Hangman => GameState::Hangman(create::<Hangman>(players, options, seed, now)?),
            GameKind::Quiz => GameState::Quiz(create::<Quiz>(players, options, seed, now)?),
            GameKind::Connect4 => GameState::Connect4(create::<Connect4>(players, options, seed, now)?),
        })
    }

    /// The kind of game.
    pub fn kind(&self) -> GameKind {
        with_engine!(self, _s, G => G::KIND)
    }

    /// Applies a JSON move (the value of `{"move": …}`): `"start"`, `"resign"` or
    /// the engine's move object. A move that does not parse is `invalid_move`.
    pub fn apply(&self, player: UserId, mv: &Value, now: Millis) -> Result<Self, GameError> {
        Ok(match self {
            GameState::TicTacToe(s) => GameState::TicTacToe(apply::<TicTacToe>(s, player, mv, now)?),
            GameState::Hangman(s) => GameState::Hangman(apply::<Hangman>(s, player, mv, now)?),
            GameState::Quiz(s) => GameState::Quiz(apply::<Quiz>(s, player, mv, now)?),
            GameState::Connect4(s) => GameState::Connect4(apply::<Connect4>(s, player, mv, now)?),
        })
    }

    /// Seats `player` in an open seat (see `Game::join`).
    pub fn join(&self, player: UserId, now: Millis) -> Result<Self, GameError> {
        Ok(match self {
            GameState::TicTacToe(s) => GameState::TicTacToe(TicTacToe::join(s, player, now)?),
            GameState::Hangman(s) => GameState::Hangman(Hangman::join(s, player, now)?),
            GameState::Quiz(s) => GameState::Quiz(Quiz::join(s, player, now)?),
            GameState::Connect4(s) => GameState::Connect4(Connect4::join(s, player, now)?),
        })
    }

    /// The state after its deadline passed, or `None` when nothing is due (see `Game::timeout`).
    pub fn timeout(&self, now: Millis) -> Option<Self> {
        Some(match self {
            GameState::TicTacToe(s) => GameState::TicTacToe(TicTacToe::timeout(s, now)?),
            GameState::Hangman(s) => GameState::Hangman(Hangman::timeout(s, now)?),
            GameState::Quiz(s) => GameState::Quiz(Quiz::timeout(s, now)?),
            GameState::Connect4(s) => GameState::Connect4(Connect4::timeout(s, now)?),
        })
    }

    /// Waiting, in progress, or finished with its result.
    pub fn status(&self) -> &Status {
        with_engine!(self, s, G => G::status(s))
    }

    /// The player to move (turn-based games in progress).
    pub fn turn(&self) -> Option<UserId> {
        with_engine!(self, s, G => G::turn(s))
    }

    /// When `timeout` next has something to do: schedule a job for it.
    pub fn deadline(&self) -> Option<Millis> {
        with_engine!(self, s, G => G::deadline(s))
    }

    /// The seated players in seat order.
    pub fn players(&self) -> Vec<UserId> {
        with_engine!(self, s, G => G::players(s))
    }

    /// 1 when created, + 1 per accepted change.
    pub fn version(&self) -> u64 {
        with_engine!(self, s, G => G::version(s))
    }

    /// What `viewer` (player, spectator or `None`) may see; never the secrets of a
    /// game in progress.
    pub fn view(&self, viewer: Option<UserId>) -> Value {
        with_engine!(self, s, G => G::view(s, viewer))
    }

    /// Each player's record of a finished game (empty before the end).
    pub fn records(&self) -> Vec<(UserId, GameRecord)> {
        with_engine!(self, s, G => G::records(s))
    }
}

/// What one player gets from a finished game.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PlayerSettlement {
    /// The player.
    pub user: UserId,
    /// How the game went for them.
    pub record: GameRecord,
    /// Their statistics and achievements after the game.
    pub progress: Progress,
    /// Achievements this game unlocked (announce each with `achievement_unlocked`).
    pub unlocked: Vec<Achievement>,
}

/// Everything a finished game changes, computed in one pure step for the
/// transaction that stores the final state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    /// The kind, whose ratings change.
    pub kind: GameKind,
    /// Rating changes for this kind (empty for unrated games).
    pub ratings: Vec<RatingChange>,
    /// Per player, in seat order.
    pub players: Vec<PlayerSettlement>,
}

impl GameState {
    /// The settlement of a finished game (`None` before the end), given the
    /// players' current ratings for this kind and their progress; a player
    /// missing from either starts from the default (a new player).
    pub fn settle(&self, ratings: &[(UserId, Rating)], progress: &[(UserId, Progress)]) -> Option<Settlement> {
        let result = self.status().result()?;
        let players = self.players();
        let rated: Vec<(UserId, Rating)> = players
            .iter()
            .map(|&u| (u, ratings.iter().find(|r| r.0 == u).map(|r| r.1).unwrap_or_default()))
            .collect();
        let settled = self
            .records()
            .into_iter()
            .map(|(user, record)| {
                let before = progress
                    .iter()
                    .find(|p| p.0 == user)
                    .map(|p| p.1.clone())
                    .unwrap_or_default();
                let (progress, unlocked) = before.record(&record);
                PlayerSettlement {
                    user,
                    record,
                    progress,
                    unlocked,
                }
            })
            .collect();
        Some(Settlement {
            kind: self.kind(),
            ratings: rate_game(result, &rated),
            players: settled,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::table::GameResult;
    use serde_json::json;

    const A: UserId = UserId(1);
    const B: UserId = UserId(2);

    #[test]
    fn a_game_of_tic_tac_toe_through_json() {
        let g = GameState::new(GameKind::TicTacToe, &[A], &Value::Null, 0, 0).unwrap();
        assert_eq!(g.status().as_str(), "waiting");
        let g = g.join(B, 1).unwrap();
        assert_eq!((g.turn(), g.version()), (Some(A), 2));
        let mut g = g;
        for (who, cell) in [(A, 0), (B, 3), (A, 1), (B, 4)] {
            g = g.apply(who, &json!({"cell": cell}), 2).unwrap();
        }
        assert_eq!(g.apply(A, &json!({"column": 2}), 3).unwrap_err().code(), "invalid_move");
        assert_eq!(g.apply(B, &json!({"cell": 2}), 3).unwrap_err().code(), "not_your_turn");
        let g = g.apply(A, &json!({"cell": 2}), 3).unwrap();
        assert_eq!(
            g.status().result(),
            Some(&GameResult::Win {
                winner: A,
                reason: crate::games::EndReason::Line
            })
        );
        let stored = serde_json::to_value(&g).unwrap();
        assert_eq!(stored["kind"], "tictactoe");
        let back: GameState = serde_json::from_value(stored).unwrap();
        assert_eq!(back, g);
        assert_eq!(g.records().len(), 2);
    }

    #[test]
    fn every_kind_starts_from_json_options_and_refuses_bad_ones() {
        let opts = [
            (GameKind::TicTacToe, json!({"move_seconds": 60})),
            (GameKind::Connect4, json!({})),
            (GameKind::Hangman, json!({"language": "ru", "max_misses": 8})),
            (
                GameKind::Quiz,
                json!({"language": "ru", "questions": 5, "seconds_per_question": 15}),
            ),
        ];
        for (kind, o) in opts {
            let g = GameState::new(kind, &[A, B], &o, 7, 0).unwrap();
            assert_eq!(g.kind(), kind);
            assert_eq!(g.status(), &Status::InProgress);
            assert_eq!(g.view(Some(A))["kind"], kind.as_str());
            assert!(g.deadline().is_some());
            let err = GameState::new(kind, &[A, B], &json!({"bogus": 1}), 7, 0).unwrap_err();
            assert_eq!(err.code(), "bad_options", "{kind}");
            let resigned = g.apply(B, &json!("resign"), 1).unwrap();
            assert_eq!(resigned.version(), 2);
        }
        assert_eq!("quiz".parse::<GameKind>().unwrap(), GameKind::Quiz);
        assert_eq!("chess".parse::<GameKind>().unwrap_err().code(), "bad_options");
    }

    #[test]
    fn views_hide_the_secrets_of_games_in_progress() {
        let g = GameState::new(GameKind::Hangman, &[A], &json!({}), 3, 0).unwrap();
        let GameState::Hangman(h) = &g else {
            panic!("hangman expected")
        };
        let word = h.word().to_owned();
        let view = g.view(Some(A));
        assert!(!crate::games::props::string_values(&view).contains(&word.as_str()));
        assert_eq!(view["word"], Value::Null);
        let q = GameState::new(GameKind::Quiz, &[A, B], &json!({"questions": 3}), 3, 0).unwrap();
        let v = q.view(None);
        assert!(v["question"].get("correct").is_none());
        assert!(v.get("questions").is_none());
    }

    #[test]
    fn a_finished_game_settles_ratings_stats_and_achievements_once() {
        let mut g = GameState::new(GameKind::Connect4, &[A, B], &Value::Null, 0, 0).unwrap();
        assert!(g.settle(&[], &[]).is_none(), "nothing to settle before the end");
        for (who, column) in [(A, 0), (B, 1), (A, 0), (B, 1), (A, 0), (B, 1), (A, 0)] {
            g = g.apply(who, &json!({"column": column}), 1).unwrap();
        }
        let s = g
            .settle(
                &[(
                    B,
                    Rating {
                        rating: 1700.0,
                        deviation: 80.0,
                        volatility: 0.06,
                    },
                )],
                &[],
            )
            .unwrap();
        assert_eq!(s.kind, GameKind::Connect4);
        assert_eq!(s.ratings.len(), 2);
        assert!(s.ratings[0].after.rating > 1500.0, "the new player beat a stronger one");
        assert!(s.ratings[1].after.rating < 1700.0);
        let a = &s.players[0];
        assert_eq!((a.user, a.record.outcome), (A, crate::games::PlayerOutcome::Won));
        assert_eq!(
            a.unlocked,
            vec![
                Achievement::FirstGame,
                Achievement::FirstWin,
                Achievement::FirstConnect4
            ]
        );
        assert_eq!(
            s.players[1].unlocked,
            vec![Achievement::FirstGame, Achievement::FirstConnect4]
        );
        let again = g.settle(&[], &[(A, a.progress.clone())]).unwrap();
        assert!(
            again.players[0].unlocked.is_empty(),
            "held achievements are not unlocked again"
        );
        assert_eq!(again.players[0].progress.stats.kind(GameKind::Connect4).won, 2);
    }
}
