//! Unit tests of the quiz engine: dealing, speed scoring, deadlines, closing
//! questions early, ranking and the secrecy of open answers.

use super::*;
use crate::games::PlayerOutcome;
use crate::games::table::{Action, Status};

const A: UserId = UserId(1);
const B: UserId = UserId(2);
const C: UserId = UserId(3);

fn quiz(players: &[UserId], questions: usize) -> QuizState {
    let o = QuizOptions {
        questions: Some(questions),
        seconds_per_question: Some(10),
        ..Default::default()
    };
    Quiz::new(players, &o, 42, 1_000).unwrap()
}

fn answer(s: &QuizState, who: UserId, answer: u8, now: Millis) -> Result<QuizState, GameError> {
    Quiz::apply(s, who, Action::Play(QuizMove { answer }), now)
}

fn right(s: &QuizState) -> u8 {
    s.questions[s.current].correct
}

fn wrong(s: &QuizState) -> u8 {
    (right(s) + 1) % 4
}

#[test]
fn sets_are_well_formed_and_dealing_follows_the_seed() {
    for (set, lang) in [(questions::ENGLISH, Language::En), (questions::RUSSIAN, Language::Ru)] {
        assert!(set.len() >= 30, "{lang:?}");
        for (text, choices, correct) in set {
            assert!(usize::from(*correct) < choices.len(), "{text}");
            let mut c = choices.to_vec();
            c.sort_unstable();
            c.dedup();
            assert_eq!(c.len(), 4, "{text}");
        }
        let dealt = deal(lang, set.len(), 3);
        let mut texts: Vec<&str> = dealt.iter().map(|q| q.text.as_str()).collect();
        texts.sort_unstable();
        texts.dedup();
        assert_eq!(texts.len(), set.len(), "every question dealt once");
        for q in &dealt {
            let (_, choices, correct) = set.iter().find(|e| e.0 == q.text).unwrap();
            assert_eq!(
                q.choices[usize::from(q.correct)],
                choices[usize::from(*correct)],
                "shuffling keeps the answer"
            );
        }
    }
    assert_eq!(deal(Language::En, 5, 9), deal(Language::En, 5, 9));
    assert_ne!(deal(Language::En, 5, 9), deal(Language::En, 5, 10));
}

#[test]
fn faster_right_answers_score_more_and_the_round_closes_when_all_answered() {
    let s = quiz(&[A, B, C], 2);
    assert_eq!(Quiz::status(&s), &Status::InProgress);
    assert_eq!(Quiz::turn(&s), None);
    assert_eq!(Quiz::deadline(&s), Some(11_000));
    let ok = right(&s);
    let s = answer(&s, A, ok, 1_000).unwrap();
    let s = answer(&s, B, ok, 6_000).unwrap();
    assert_eq!(s.current, 0, "C has not answered yet");
    assert!(
        matches!(answer(&s, A, ok, 6_500), Err(GameError::InvalidMove(_))),
        "one answer per question"
    );
    let s = answer(&s, C, wrong(&s), 7_000).unwrap();
    assert_eq!(s.current, 1, "all answered: the next question is open");
    assert_eq!(Quiz::deadline(&s), Some(17_000));
    let points: Vec<i64> = s.answers[0].iter().map(|a| a.points).collect();
    assert_eq!(points, vec![1000, 750, 0]);
}

#[test]
fn late_answers_are_refused_and_the_tick_moves_on() {
    let s = quiz(&[A, B], 2);
    let s = answer(&s, A, right(&s), 2_000).unwrap();
    assert_eq!(answer(&s, B, right(&s), 11_000), Err(GameError::TimeUp));
    assert_eq!(Quiz::timeout(&s, 10_999), None);
    let t = Quiz::timeout(&s, 11_000).unwrap();
    assert_eq!(t.current, 1);
    assert_eq!(Quiz::deadline(&t), Some(21_000));
    assert_eq!(Quiz::version(&t), Quiz::version(&s) + 1);
    let t = Quiz::timeout(&t, 30_000).unwrap();
    let Some(GameResult::Ranked { standings }) = Quiz::status(&t).result() else {
        panic!("not ranked")
    };
    assert_eq!(
        standings[0],
        Standing {
            user: A,
            place: 1,
            score: 950
        }
    );
    assert_eq!(
        standings[1],
        Standing {
            user: B,
            place: 2,
            score: 0
        }
    );
    assert_eq!(Quiz::timeout(&t, 40_000), None);
    assert_eq!(answer(&t, A, 0, 12_000), Err(GameError::GameOver));
}

#[test]
fn ties_share_a_place_and_a_perfect_score_is_a_feat() {
    let mut s = quiz(&[A, B], 3);
    for q in 0..3 {
        let at = s.table.deadline().unwrap() - 10_000;
        s = answer(&s, A, right(&s), at).unwrap();
        s = answer(&s, B, right(&s), at).unwrap();
        assert_eq!(s.current, q + 1);
    }
    let Some(GameResult::Ranked { standings }) = Quiz::status(&s).result() else {
        panic!("not ranked")
    };
    assert!(standings.iter().all(|st| st.place == 1 && st.score == 3000));
    assert_eq!(Quiz::feats(&s, A), vec![Feat::PerfectQuiz]);
    let records = Quiz::records(&s);
    assert!(records.iter().all(|(_, r)| r.outcome == PlayerOutcome::Drawn));
}

#[test]
fn the_view_hides_the_open_answer_and_reveals_it_after() {
    let s = quiz(&[A, B], 2);
    let s = answer(&s, A, right(&s), 1_500).unwrap();
    let v = Quiz::view(&s, Some(B));
    assert_eq!(v["question"]["index"], 0);
    assert!(v["question"].get("correct").is_none());
    assert_eq!(v["answered"], json!([1]));
    assert_eq!(v["your_answer"], Value::Null);
    assert_eq!(
        v["scores"][0]["score"], 0,
        "A's points stay hidden while the question is open"
    );
    assert_eq!(Quiz::view(&s, Some(A))["your_answer"], json!(right(&s)));
    let s = answer(&s, B, wrong(&s), 2_000).unwrap();
    let v = Quiz::view(&s, None);
    assert_eq!(v["last"]["correct"], json!(s.questions[0].correct));
    assert_eq!(v["last"]["answers"][0]["points"], 975);
    assert_eq!(v["scores"][0]["score"], 975);
    assert_eq!(v["question"]["index"], 1);
}

#[test]
fn leaving_players_rank_last_and_the_last_to_leave_ends_it() {
    let s = quiz(&[A, B, C], 2);
    let s = answer(&s, A, wrong(&s), 2_000).unwrap();
    let s = answer(&s, B, right(&s), 2_000).unwrap();
    let s = Quiz::apply(&s, C, Action::Resign, 3_000).unwrap();
    assert_eq!(s.current, 1, "everyone still playing has answered");
    let s = Quiz::apply(&s, B, Action::Resign, 4_000).unwrap();
    let s = Quiz::apply(&s, A, Action::Resign, 5_000).unwrap();
    let Some(GameResult::Ranked { standings }) = Quiz::status(&s).result() else {
        panic!("not ranked")
    };
    let places: Vec<(UserId, u32)> = standings.iter().map(|s| (s.user, s.place)).collect();
    assert_eq!(places, vec![(B, 1), (A, 2), (C, 2)]);
}

#[test]
fn options_are_checked() {
    let bad = |o: QuizOptions| matches!(Quiz::new(&[A], &o, 0, 0), Err(GameError::BadOptions(_)));
    assert!(bad(QuizOptions {
        questions: Some(0),
        ..Default::default()
    }));
    assert!(bad(QuizOptions {
        questions: Some(1000),
        ..Default::default()
    }));
    assert!(bad(QuizOptions {
        seconds_per_question: Some(1),
        ..Default::default()
    }));
    assert!(bad(QuizOptions {
        seats: Some(51),
        ..Default::default()
    }));
    let ru = Quiz::new(
        &[A],
        &QuizOptions {
            language: Some(Language::Ru),
            ..Default::default()
        },
        0,
        0,
    )
    .unwrap();
    assert_eq!(ru.questions.len(), 10);
    assert!(ru.questions[0].text.chars().any(|c| ('а'..='я').contains(&c)));
}
