//! Reference models of the four engines for the property tests: the legal plays
//! written from the rules (not from the engines' code), arbitrary move domains
//! wider than them, each engine's invariants, and the proptest entry points.

use super::{Model, steps, walk};
use crate::games::connect4::{COLUMNS, Connect4, Connect4Move, Connect4State, ROWS};
use crate::games::engine::Game;
use crate::games::hangman::{Hangman, HangmanMove, HangmanOptions, HangmanState, in_alphabet};
use crate::games::quiz::{Quiz, QuizMove, QuizOptions, QuizState};
use crate::games::table::{EndReason, GameResult, Status};
use crate::games::tictactoe::{BoardOptions, LINES, TicTacToe, TicTacToeMove, TicTacToeState};
use crate::games::{Language, Millis};
use proptest::prelude::*;
use sova_types::UserId;

/// Who may play now: nobody unless in progress and before the deadline; the
/// player to move in turn-based games; everyone still playing otherwise.
fn movers<G: Game>(s: &G::State, now: Millis) -> Vec<UserId> {
    let t = G::table(s);
    if *t.status() != Status::InProgress || t.deadline().is_some_and(|d| now >= d) {
        return Vec::new();
    }
    if G::TURN_BASED {
        t.turn().into_iter().collect()
    } else {
        t.active_seats().into_iter().filter_map(|i| t.user_at(i)).collect()
    }
}

fn users(n: usize) -> Vec<UserId> {
    (1..=n as i64).map(UserId).collect()
}

/// The seat to move in a two-player board game, from the marks alone.
fn seat_by_count(marks: impl Iterator<Item = u8>) -> Result<usize, String> {
    let (mut zero, mut one) = (0usize, 0usize);
    for m in marks {
        match m {
            0 => zero += 1,
            1 => one += 1,
            other => return Err(format!("mark {other}")),
        }
    }
    match zero.checked_sub(one) {
        Some(0) => Ok(0),
        Some(1) => Ok(1),
        _ => Err(format!("{zero} first-player marks against {one}")),
    }
}

impl Model for TicTacToe {
    fn legal(s: &TicTacToeState, now: Millis) -> Vec<(UserId, TicTacToeMove)> {
        let free: Vec<u8> = (0..9u8).filter(|&c| s.board[usize::from(c)].is_none()).collect();
        movers::<Self>(s, now)
            .into_iter()
            .flat_map(|p| free.iter().map(move |&cell| (p, TicTacToeMove { cell })))
            .collect()
    }

    fn arbitrary(_s: &TicTacToeState, n: u32) -> TicTacToeMove {
        TicTacToeMove { cell: (n % 12) as u8 }
    }

    fn invariants(s: &TicTacToeState) -> Result<(), String> {
        let to_move = seat_by_count(s.board.iter().flatten().copied())?;
        if s.moves.len() != s.board.iter().flatten().count() {
            return Err("the move list does not match the board".into());
        }
        let line_of = |m: u8| LINES.iter().any(|l| l.iter().all(|&c| s.board[c] == Some(m)));
        let full = s.board.iter().all(Option::is_some);
        match s.table.status() {
            Status::InProgress => {
                if line_of(0) || line_of(1) || full {
                    return Err("a game in progress has a line or a full board".into());
                }
                if s.table.turn_seat() != Some(to_move) {
                    return Err("the wrong player is to move".into());
                }
            }
            Status::Finished {
                result:
                    GameResult::Win {
                        winner,
                        reason: EndReason::Line,
                    },
            } => {
                let seat = s.table.seat_of(*winner).ok_or("the winner has no seat")? as u8;
                if !line_of(seat) || line_of(1 - seat) {
                    return Err("a line win needs exactly the winner's line".into());
                }
            }
            Status::Finished {
                result: GameResult::Draw { .. },
            } if !full || line_of(0) || line_of(1) => {
                return Err("a draw needs a full board without a line".into());
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether a four-in-a-row of `seat`'s discs is anywhere on the board.
fn four_anywhere(s: &Connect4State, seat: u8) -> bool {
    let at = |c: i64, r: i64| {
        (0..COLUMNS as i64).contains(&c) && (0..ROWS as i64).contains(&r) && s.at(c as usize, r as usize) == Some(seat)
    };
    (0..COLUMNS as i64).any(|c| {
        (0..ROWS as i64).any(|r| {
            [(1, 0), (0, 1), (1, 1), (1, -1)]
                .iter()
                .any(|&(dc, dr)| (0..4).all(|k| at(c + k * dc, r + k * dr)))
        })
    })
}

impl Model for Connect4 {
    fn legal(s: &Connect4State, now: Millis) -> Vec<(UserId, Connect4Move)> {
        let open: Vec<u8> = (0..COLUMNS as u8)
            .filter(|&c| s.columns[usize::from(c)].len() < ROWS)
            .collect();
        movers::<Self>(s, now)
            .into_iter()
            .flat_map(|p| open.iter().map(move |&column| (p, Connect4Move { column })))
            .collect()
    }

    fn arbitrary(_s: &Connect4State, n: u32) -> Connect4Move {
        Connect4Move { column: (n % 10) as u8 }
    }

    fn invariants(s: &Connect4State) -> Result<(), String> {
        if s.columns.len() != COLUMNS || s.columns.iter().any(|c| c.len() > ROWS) {
            return Err("the board has the wrong shape".into());
        }
        let to_move = seat_by_count(s.columns.iter().flatten().copied())?;
        if s.moves.len() != s.columns.iter().map(Vec::len).sum::<usize>() {
            return Err("the move list does not match the board".into());
        }
        let full = s.columns.iter().all(|c| c.len() == ROWS);
        match s.table.status() {
            Status::InProgress => {
                if four_anywhere(s, 0) || four_anywhere(s, 1) || full {
                    return Err("a game in progress has four in a row or a full board".into());
                }
                if s.table.turn_seat() != Some(to_move) {
                    return Err("the wrong player is to move".into());
                }
            }
            Status::Finished {
                result:
                    GameResult::Win {
                        winner,
                        reason: EndReason::Line,
                    },
            } => {
                let seat = s.table.seat_of(*winner).ok_or("the winner has no seat")? as u8;
                let line = s.line.as_ref().ok_or("a line win without its line")?;
                let on_line = line
                    .iter()
                    .all(|[c, r]| s.at(usize::from(*c), usize::from(*r)) == Some(seat));
                if line.len() < 4 || !on_line || four_anywhere(s, 1 - seat) {
                    return Err("a line win needs the winner's four in a row only".into());
                }
            }
            Status::Finished {
                result: GameResult::Draw { .. },
            } if !full || four_anywhere(s, 0) || four_anywhere(s, 1) => {
                return Err("a draw needs a full board without four in a row".into());
            }
            _ => {}
        }
        Ok(())
    }
}

/// Every string value in a JSON document (not the keys).
pub(crate) fn string_values(v: &serde_json::Value) -> Vec<&str> {
    match v {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().flat_map(string_values).collect(),
        serde_json::Value::Object(o) => o.values().flat_map(string_values).collect(),
        _ => Vec::new(),
    }
}

/// Two wrong words the hangman models may guess (never in the word lists).
const WRONG: [&str; 2] = ["qqqq", "жжжж"];

fn alphabet(language: Language) -> Vec<char> {
    match language {
        Language::En => ('a'..='z').collect(),
        Language::Ru => ('а'..='я').collect(),
    }
}

impl Model for Hangman {
    fn legal(s: &HangmanState, now: Millis) -> Vec<(UserId, HangmanMove)> {
        let mut moves: Vec<HangmanMove> = alphabet(s.language)
            .into_iter()
            .filter(|c| !s.letters.contains(c))
            .map(|c| HangmanMove::Letter(c.to_string()))
            .collect();
        moves.push(HangmanMove::Word(s.word.clone()));
        for w in WRONG {
            let fits = w.chars().all(|c| in_alphabet(s.language, c));
            if fits && !s.wrong_words.iter().any(|x| x == w) {
                moves.push(HangmanMove::Word(w.to_owned()));
            }
        }
        // Play letters before words so that driven games mostly end by letters.
        movers::<Self>(s, now)
            .into_iter()
            .flat_map(|p| moves.clone().into_iter().map(move |m| (p, m)))
            .collect()
    }

    fn arbitrary(s: &HangmanState, n: u32) -> HangmanMove {
        let abc = alphabet(s.language);
        let k = n as usize;
        match n % 8 {
            0 => HangmanMove::Word(s.word.clone()),
            1 => HangmanMove::Word(WRONG[k / 8 % 2].to_owned()),
            2 => HangmanMove::Letter(["1", "ab", "", "-", "ω"][k / 8 % 5].to_owned()),
            3 => HangmanMove::Word(["a1", "x"][k / 8 % 2].to_owned()),
            _ => HangmanMove::Letter(abc[k / 8 % abc.len()].to_string()),
        }
    }

    fn invariants(s: &HangmanState) -> Result<(), String> {
        let wrong_letters = s.letters.iter().filter(|&&c| !s.word.contains(c)).count();
        if s.misses as usize != wrong_letters + s.wrong_words.len() {
            return Err(format!(
                "{} misses for {wrong_letters} wrong letters and {:?}",
                s.misses, s.wrong_words
            ));
        }
        if s.misses > s.max_misses {
            return Err("more misses than allowed".into());
        }
        let mut letters = s.letters.clone();
        letters.sort_unstable();
        letters.dedup();
        if letters.len() != s.letters.len() {
            return Err("a letter guessed twice".into());
        }
        let revealed = s.word.chars().all(|c| s.letters.contains(&c));
        match s.table.status() {
            Status::InProgress => {
                if revealed || s.misses >= s.max_misses {
                    return Err("a game in progress is already decided".into());
                }
                let view = Hangman::view(s, None);
                let hidden = view["pattern"]
                    .as_array()
                    .map(|p| p.iter().filter(|c| c.is_null()).count());
                let unguessed = s.word.chars().filter(|c| !s.letters.contains(c)).count();
                if string_values(&view).contains(&s.word.as_str()) || hidden != Some(unguessed) {
                    return Err("the view shows the word".into());
                }
            }
            Status::Finished {
                result:
                    GameResult::Win {
                        reason: EndReason::Solved,
                        ..
                    },
            } => {
                let named = s.guesses.last().is_some_and(|g| g.hit && g.guess == s.word);
                if !revealed && !named {
                    return Err("solved without finding the word".into());
                }
            }
            Status::Finished {
                result: GameResult::NoWinner {
                    reason: EndReason::OutOfGuesses,
                },
            } if s.misses != s.max_misses => {
                return Err("out of guesses with misses left".into());
            }
            Status::Finished {
                result: GameResult::Win { reason, .. },
            } if *reason != EndReason::Solved => {
                return Err("hangman is only won by solving".into());
            }
            _ => {}
        }
        Ok(())
    }
}

impl Model for Quiz {
    fn legal(s: &QuizState, now: Millis) -> Vec<(UserId, QuizMove)> {
        let Some(q) = s.questions.get(s.current) else {
            return Vec::new();
        };
        let answered: Vec<UserId> = s.answers[s.current].iter().map(|a| a.user).collect();
        movers::<Self>(s, now)
            .into_iter()
            .filter(|p| !answered.contains(p))
            .flat_map(|p| (0..q.choices.len() as u8).map(move |answer| (p, QuizMove { answer })))
            .collect()
    }

    fn arbitrary(_s: &QuizState, n: u32) -> QuizMove {
        QuizMove { answer: (n % 7) as u8 }
    }

    fn invariants(s: &QuizState) -> Result<(), String> {
        if s.answers.len() != s.questions.len() || s.current > s.questions.len() {
            return Err("questions and answers disagree".into());
        }
        for (i, list) in s.answers.iter().enumerate() {
            if i > s.current && !list.is_empty() {
                return Err(format!("answers to question {i} before it was asked"));
            }
            let mut who: Vec<UserId> = list.iter().map(|a| a.user).collect();
            who.sort_unstable();
            who.dedup();
            if who.len() != list.len() {
                return Err(format!("someone answered question {i} twice"));
            }
            for a in list {
                let right = a.choice == s.questions[i].correct;
                if right != (500..=1000).contains(&a.points) || (!right && a.points != 0) {
                    return Err(format!("{a:?} scored wrongly"));
                }
            }
        }
        match s.table.status() {
            Status::InProgress if s.current >= s.questions.len() => Err("in progress after the last question".into()),
            Status::InProgress if Quiz::view(s, None)["question"].get("correct").is_some() => {
                Err("the open question's answer is shown".into())
            }
            Status::Finished { result } if !matches!(result, GameResult::Ranked { .. }) => {
                Err("a quiz ends ranked".into())
            }
            _ => Ok(()),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn tictactoe_random_walks(seated in 0usize..=2, steps in steps()) {
        walk::<TicTacToe>(TicTacToe::new(&users(seated), &BoardOptions::default(), 0, 0).unwrap(), &steps);
    }

    #[test]
    fn connect4_random_walks(seated in 0usize..=2, steps in steps()) {
        walk::<Connect4>(Connect4::new(&users(seated), &BoardOptions::default(), 0, 0).unwrap(), &steps);
    }

    #[test]
    fn hangman_random_walks(
        seats in 1usize..=4, seated in 0usize..=4, ru in any::<bool>(), max_misses in 1u32..=8,
        seed in any::<u64>(), steps in steps(),
    ) {
        let o = HangmanOptions {
            language: Some(if ru { Language::Ru } else { Language::En }),
            max_misses: Some(max_misses),
            seats: Some(seats),
            move_seconds: Some(60),
        };
        let s = Hangman::new(&users(seated.min(seats)), &o, seed, 0).unwrap();
        walk::<Hangman>(s, &steps);
    }

    #[test]
    fn quiz_random_walks(
        seats in 1usize..=4, seated in 0usize..=4, questions in 1usize..=5, seed in any::<u64>(), steps in steps(),
    ) {
        let o = QuizOptions { questions: Some(questions), seconds_per_question: Some(30), seats: Some(seats), ..Default::default() };
        walk::<Quiz>(Quiz::new(&users(seated.min(seats)), &o, seed, 0).unwrap(), &steps);
    }
}
