//! Glicko-2 ratings per kind of game, computed by the `skillratings` crate. A
//! finished game is one rating period for each of its players: every other player
//! is an opponent, beaten, drawn or lost to by place, all at their ratings from
//! before the game. Games that rank nobody (one player, or everyone lost to the
//! hangman word) change no rating.

use super::table::GameResult;
use serde::{Deserialize, Serialize};
use skillratings::Outcomes;
use skillratings::glicko2::{Glicko2Config, Glicko2Rating, glicko2_rating_period};
use sova_types::UserId;

/// A Glicko-2 rating on the Glicko scale (a new player is 1500 ± 350, volatility 0.06).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// The rating.
    pub rating: f64,
    /// The rating deviation (uncertainty).
    pub deviation: f64,
    /// The volatility.
    pub volatility: f64,
}

impl Default for Rating {
    /// A new player's rating: 1500, deviation 350, volatility 0.06.
    fn default() -> Self {
        Rating {
            rating: 1500.0,
            deviation: 350.0,
            volatility: 0.06,
        }
    }
}

impl From<Rating> for Glicko2Rating {
    fn from(r: Rating) -> Self {
        Glicko2Rating {
            rating: r.rating,
            deviation: r.deviation,
            volatility: r.volatility,
        }
    }
}

impl From<Glicko2Rating> for Rating {
    fn from(r: Glicko2Rating) -> Self {
        Rating {
            rating: r.rating,
            deviation: r.deviation,
            volatility: r.volatility,
        }
    }
}

/// A game's score against one opponent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Score {
    /// Beat the opponent.
    Win,
    /// Drew.
    Draw,
    /// Lost to the opponent.
    Loss,
}

/// The system constant τ = 0.5, the value of Glickman's worked example.
pub const TAU: f64 = 0.5;

/// `player`'s rating after one rating period with `results` (Glickman's
/// algorithm, τ = 0.5); an empty period only widens the deviation.
pub fn rate_period(player: Rating, results: &[(Rating, Score)]) -> Rating {
    let results: Vec<(Glicko2Rating, Outcomes)> = results
        .iter()
        .map(|&(r, s)| {
            let o = match s {
                Score::Win => Outcomes::WIN,
                Score::Draw => Outcomes::DRAW,
                Score::Loss => Outcomes::LOSS,
            };
            (r.into(), o)
        })
        .collect();
    let config = Glicko2Config {
        tau: TAU,
        ..Glicko2Config::new()
    };
    glicko2_rating_period(&player.into(), &results, &config).into()
}

/// One player's rating before and after a game.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RatingChange {
    /// The player.
    pub user: UserId,
    /// The rating before the game.
    pub before: Rating,
    /// The rating after it.
    pub after: Rating,
}

/// The rating changes of a finished game between `players` (each with their
/// current rating for this kind): empty when fewer than two players are rated or
/// the result ranks nobody.
pub fn rate_game(result: &GameResult, players: &[(UserId, Rating)]) -> Vec<RatingChange> {
    let users: Vec<UserId> = players.iter().map(|p| p.0).collect();
    let Some(places) = result.places(&users) else {
        return Vec::new();
    };
    if players.len() < 2 {
        return Vec::new();
    }
    players
        .iter()
        .zip(&places)
        .map(|(&(user, before), &(_, mine))| {
            let results: Vec<(Rating, Score)> = players
                .iter()
                .zip(&places)
                .filter(|((other, _), _)| *other != user)
                .map(|(&(_, r), &(_, theirs))| {
                    let score = match mine.cmp(&theirs) {
                        std::cmp::Ordering::Less => Score::Win,
                        std::cmp::Ordering::Equal => Score::Draw,
                        std::cmp::Ordering::Greater => Score::Loss,
                    };
                    (r, score)
                })
                .collect();
            RatingChange {
                user,
                before,
                after: rate_period(before, &results),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::table::{EndReason, Standing};

    fn r(rating: f64, deviation: f64) -> Rating {
        Rating {
            rating,
            deviation,
            volatility: 0.06,
        }
    }

    /// Glickman, "Example of the Glicko-2 system" (glicko2.pdf): a 1500/200/0.06
    /// player beats a 1400/30 opponent and loses to 1550/100 and 1700/300 in one
    /// period; τ = 0.5 gives r' ≈ 1464.06, RD' ≈ 151.52, σ' ≈ 0.05999.
    #[test]
    fn glickmans_worked_example() {
        let after = rate_period(
            r(1500.0, 200.0),
            &[
                (r(1400.0, 30.0), Score::Win),
                (r(1550.0, 100.0), Score::Loss),
                (r(1700.0, 300.0), Score::Loss),
            ],
        );
        assert!((after.rating - 1464.06).abs() < 0.01, "rating {}", after.rating);
        assert!((after.deviation - 151.52).abs() < 0.01, "deviation {}", after.deviation);
        assert!(
            (after.volatility - 0.05999).abs() < 0.00001,
            "volatility {}",
            after.volatility
        );
    }

    #[test]
    fn an_empty_period_only_widens_the_deviation() {
        let after = rate_period(r(1500.0, 200.0), &[]);
        assert_eq!(after.rating, 1500.0);
        assert!(after.deviation > 200.0);
    }

    #[test]
    fn a_win_moves_both_players_and_a_draw_between_equals_moves_nobody() {
        let (a, b) = (UserId(1), UserId(2));
        let win = GameResult::Win {
            winner: a,
            reason: EndReason::Line,
        };
        let changes = rate_game(&win, &[(a, Rating::default()), (b, Rating::default())]);
        assert_eq!(changes.len(), 2);
        assert!(changes[0].after.rating > 1500.0 && changes[1].after.rating < 1500.0);
        assert!((changes[0].after.rating - 1500.0 - (1500.0 - changes[1].after.rating)).abs() < 1e-9);
        let draw = GameResult::Draw {
            reason: EndReason::BoardFull,
        };
        let changes = rate_game(&draw, &[(a, Rating::default()), (b, Rating::default())]);
        assert!(
            changes
                .iter()
                .all(|c| (c.after.rating - 1500.0).abs() < 1e-9 && c.after.deviation < 350.0)
        );
        assert!(
            rate_game(&win, &[(a, Rating::default())]).is_empty(),
            "solo games are unrated"
        );
        let lost = GameResult::NoWinner {
            reason: EndReason::OutOfGuesses,
        };
        assert!(rate_game(&lost, &[(a, Rating::default()), (b, Rating::default())]).is_empty());
    }

    #[test]
    fn ranked_games_rate_every_pair_by_place() {
        let (a, b, c) = (UserId(1), UserId(2), UserId(3));
        let result = GameResult::Ranked {
            standings: vec![
                Standing {
                    user: b,
                    place: 1,
                    score: 3000,
                },
                Standing {
                    user: a,
                    place: 2,
                    score: 1000,
                },
                Standing {
                    user: c,
                    place: 3,
                    score: 0,
                },
            ],
        };
        let players = [(a, Rating::default()), (b, Rating::default()), (c, Rating::default())];
        let changes = rate_game(&result, &players);
        let by = |u| {
            changes
                .iter()
                .find(|c| c.user == u)
                .map(|c| c.after.rating)
                .unwrap_or_default()
        };
        assert!(by(b) > by(a) && by(a) > by(c));
        assert!((by(a) - 1500.0).abs() < 1e-6, "one win and one loss against equals");
    }
}
