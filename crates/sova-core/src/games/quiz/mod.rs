//! The quiz: any number of players answer the same multiple-choice questions at
//! once. Each question is open for `seconds_per_question`; a right answer scores
//! 500 points plus up to 500 more for speed (all 1000 at once, 500 at the last
//! moment), a wrong one nothing; answers after the deadline are refused
//! (`time_up`). The next question is asked as soon as every player still playing
//! has answered, or by `timeout` at the deadline. After the last question the
//! players are ranked by score. An answer is `{"answer": index}`. Neither the
//! right choice nor anyone's points for the open question are in any view until
//! the question closes.

mod questions;

use super::engine::Game;
use super::rng::Rng;
use super::stats::Feat;
use super::table::{EndReason, GameResult, Seating, Standing, Table};
use super::{GameError, GameKind, Language, Millis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sova_types::UserId;

/// The quiz engine.
pub struct Quiz;

/// An answer to the open question: the index of the chosen choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuizMove {
    /// 0-based index into the question's `choices`.
    pub answer: u8,
}

/// Quiz options; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuizOptions {
    /// The question set: `en` (default) or `ru`.
    pub language: Option<Language>,
    /// How many questions: 1 up to the set's size, default 10.
    pub questions: Option<usize>,
    /// Seconds each question stays open: 5..=300, default 20.
    pub seconds_per_question: Option<u32>,
    /// Seats: 1..=50, default the number of invited players (at least 1).
    pub seats: Option<usize>,
}

/// A question as dealt into a game (choices shuffled).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// The question.
    pub text: String,
    /// The choices, in the order shown.
    pub choices: Vec<String>,
    /// The index of the right choice (secret while the question is open).
    pub correct: u8,
}

/// One player's answer to one question.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Who answered.
    pub user: UserId,
    /// The chosen index.
    pub choice: u8,
    /// Points scored (0 when wrong).
    pub points: i64,
}

/// The whole state of a quiz; the open question's answer is secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuizState {
    pub(crate) table: Table,
    pub(crate) language: Language,
    pub(crate) question_ms: i64,
    pub(crate) questions: Vec<Question>,
    /// The open question's index (= `questions.len()` once all are played).
    pub(crate) current: usize,
    pub(crate) asked_at: Millis,
    /// The answers to each question, in the order they came.
    pub(crate) answers: Vec<Vec<Answer>>,
}

impl QuizState {
    /// The dealt questions, answers included (never send them to clients; `view` does not).
    pub fn questions(&self) -> &[Question] {
        &self.questions
    }

    /// The open question's index; equal to the number of questions once all are played.
    pub fn current(&self) -> usize {
        self.current
    }

    /// `user`'s points over the first `upto` questions.
    fn score(&self, user: UserId, upto: usize) -> i64 {
        self.answers
            .iter()
            .take(upto)
            .flatten()
            .filter(|a| a.user == user)
            .map(|a| a.points)
            .sum()
    }

    /// How many of `user`'s answers were right.
    fn right(&self, user: UserId, upto: usize) -> usize {
        self.answers
            .iter()
            .take(upto)
            .flatten()
            .filter(|a| a.user == user && a.points > 0)
            .count()
    }

    fn answered(&self, user: UserId) -> Option<&Answer> {
        self.answers
            .get(self.current)
            .and_then(|a| a.iter().find(|a| a.user == user))
    }

    /// Closes the open question: asks the next one, or ranks the players after the last.
    fn close(&mut self, now: Millis) {
        self.current += 1;
        if self.current >= self.questions.len() {
            self.finish();
        } else {
            self.asked_at = now;
            self.table.set_deadline(Some(now.saturating_add(self.question_ms)));
        }
    }

    /// Ranks every seated player: those still playing by score, then those who
    /// left by score; equal keys share a place.
    fn finish(&mut self) {
        let all = self.answers.len();
        let keyed: Vec<(UserId, bool, i64)> = self
            .table
            .players()
            .into_iter()
            .map(|u| (u, self.table.out().contains(&u), self.score(u, all)))
            .collect();
        let better = |a: &(UserId, bool, i64), b: &(UserId, bool, i64)| (!a.1 && b.1) || (a.1 == b.1 && a.2 > b.2);
        let mut standings: Vec<Standing> = keyed
            .iter()
            .map(|me| Standing {
                user: me.0,
                place: 1 + keyed.iter().filter(|o| better(o, me)).count() as u32,
                score: me.2,
            })
            .collect();
        standings.sort_by_key(|s| s.place);
        self.table.finish(GameResult::Ranked { standings });
    }

    fn all_answered(&self) -> bool {
        let active = self.table.active_seats();
        active
            .iter()
            .filter_map(|&s| self.table.user_at(s))
            .all(|u| self.answered(u).is_some())
    }
}

/// Deals `count` questions of `language`'s set, in a seed-chosen order with
/// shuffled choices.
fn deal(language: Language, count: usize, seed: u64) -> Vec<Question> {
    let set = match language {
        Language::En => questions::ENGLISH,
        Language::Ru => questions::RUSSIAN,
    };
    let mut rng = Rng::new(seed);
    let mut order: Vec<usize> = (0..set.len()).collect();
    rng.shuffle(&mut order);
    order
        .into_iter()
        .take(count)
        .map(|i| {
            let (text, choices, correct) = set[i];
            let mut idx: Vec<usize> = (0..choices.len()).collect();
            rng.shuffle(&mut idx);
            Question {
                text: text.to_owned(),
                choices: idx.iter().map(|&j| choices[j].to_owned()).collect(),
                correct: idx.iter().position(|&j| j == usize::from(correct)).unwrap_or(0) as u8,
            }
        })
        .collect()
}

/// The size of `language`'s question set.
pub fn set_size(language: Language) -> usize {
    match language {
        Language::En => questions::ENGLISH.len(),
        Language::Ru => questions::RUSSIAN.len(),
    }
}

impl Game for Quiz {
    type State = QuizState;
    type Move = QuizMove;
    type Options = QuizOptions;
    const KIND: GameKind = GameKind::Quiz;
    const TURN_BASED: bool = false;

    fn create(players: &[UserId], o: &QuizOptions, seed: u64) -> Result<QuizState, GameError> {
        let language = o.language.unwrap_or_default();
        let count = o.questions.unwrap_or(10);
        if count == 0 || count > set_size(language) {
            return Err(GameError::options(format!(
                "questions must be between 1 and {}",
                set_size(language)
            )));
        }
        let secs = o.seconds_per_question.unwrap_or(20);
        if !(5..=300).contains(&secs) {
            return Err(GameError::options("seconds_per_question must be between 5 and 300"));
        }
        let question_ms = i64::from(secs) * 1000;
        let table = Table::new(Seating {
            players,
            seats: o.seats.unwrap_or(players.len().max(1)),
            min_players: 1,
            max_players: 50,
            move_ms: question_ms,
        })?;
        Ok(QuizState {
            table,
            language,
            question_ms,
            questions: deal(language, count, seed),
            current: 0,
            asked_at: 0,
            answers: vec![Vec::new(); count],
        })
    }

    fn table(s: &QuizState) -> &Table {
        &s.table
    }

    fn table_mut(s: &mut QuizState) -> &mut Table {
        &mut s.table
    }

    fn on_start(s: &mut QuizState, now: Millis) {
        s.table.start(now, false);
        s.asked_at = now;
        s.table.set_deadline(Some(now.saturating_add(s.question_ms)));
    }

    fn play(s: &mut QuizState, seat: usize, mv: QuizMove, now: Millis) -> Result<(), GameError> {
        let user = s.table.user_at(seat).ok_or(GameError::NotAPlayer)?;
        let Some(q) = s.questions.get(s.current) else {
            return Err(GameError::GameOver);
        };
        if usize::from(mv.answer) >= q.choices.len() {
            return Err(GameError::invalid(format!(
                "answer must be between 0 and {}",
                q.choices.len().saturating_sub(1)
            )));
        }
        if s.answered(user).is_some() {
            return Err(GameError::invalid("this question is already answered"));
        }
        let left = s.question_ms - now.saturating_sub(s.asked_at).clamp(0, s.question_ms);
        let points = if mv.answer == q.correct {
            500 + 500 * left / s.question_ms
        } else {
            0
        };
        if let Some(list) = s.answers.get_mut(s.current) {
            list.push(Answer {
                user,
                choice: mv.answer,
                points,
            });
        }
        if s.all_answered() {
            s.close(now);
        }
        Ok(())
    }

    fn expire(s: &mut QuizState, now: Millis) -> bool {
        s.close(now);
        true
    }

    fn on_leave(s: &mut QuizState, _seat: usize, _reason: EndReason, now: Millis) {
        if s.table.active_seats().is_empty() {
            s.finish();
        } else if s.all_answered() {
            s.close(now);
        }
    }

    fn view_game(s: &QuizState, viewer: Option<UserId>) -> Map<String, Value> {
        let open = s.table.status().result().is_none() && s.table.deadline().is_some();
        // While a question is open, scores count only closed questions, so they
        // cannot tell who got the open one right.
        let upto = if open { s.current } else { s.answers.len() };
        let scores: Vec<Value> = s
            .table
            .players()
            .into_iter()
            .map(|u| json!({"user": u, "score": s.score(u, upto), "right": s.right(u, upto)}))
            .collect();
        let question = s.questions.get(s.current).filter(|_| open).map(|q| {
            json!({"index": s.current, "text": q.text, "choices": q.choices, "asked_at": s.asked_at, "deadline": s.table.deadline()})
        });
        let answered: Vec<UserId> = if open {
            s.answers
                .get(s.current)
                .map(|a| a.iter().map(|a| a.user).collect())
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let last_index = s.current.checked_sub(1).filter(|&i| i < s.questions.len());
        let last = last_index.and_then(|i| Some((i, s.questions.get(i)?, s.answers.get(i)?))).map(|(i, q, a)| {
            json!({"index": i, "text": q.text, "choices": q.choices, "correct": q.correct, "answers": a})
        });
        let mut m = Map::new();
        m.insert("language".into(), json!(s.language));
        m.insert("question_count".into(), json!(s.questions.len()));
        m.insert("seconds_per_question".into(), json!(s.question_ms / 1000));
        m.insert("question".into(), json!(question));
        m.insert("answered".into(), json!(answered));
        m.insert(
            "your_answer".into(),
            json!(viewer.filter(|_| open).and_then(|v| s.answered(v)).map(|a| a.choice)),
        );
        m.insert("scores".into(), json!(scores));
        m.insert("last".into(), json!(last));
        m
    }

    fn feats(s: &QuizState, user: UserId) -> Vec<Feat> {
        let finished = s.table.status().result().is_some();
        if finished && s.right(user, s.answers.len()) == s.questions.len() {
            vec![Feat::PerfectQuiz]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests;
