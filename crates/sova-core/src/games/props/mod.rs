//! Property tests of every engine: random walks of plays, arbitrary (often
//! illegal) moves, joins, starts, resignations and timeouts. Each engine has a
//! reference model (`models`) that lists the legal plays and checks the engine's
//! invariants; the harness checks that the engine accepts exactly the legal plays,
//! refuses everything else without changing the state, keeps every invariant,
//! always reaches an end with exactly one result, and accepts nothing after it.

mod json;
mod models;

pub(crate) use models::string_values;

use super::Millis;
use super::engine::Game;
use super::table::{Action, GameResult, PlayerOutcome, Status};
use proptest::prelude::*;
use sova_types::UserId;
use std::collections::BTreeSet;

/// An engine with a reference model of its rules.
pub(crate) trait Model: Game {
    /// Every legal play at `now`, with the player who may make it (for hangman:
    /// every letter, the word and two fixed wrong words).
    fn legal(s: &Self::State, now: Millis) -> Vec<(UserId, Self::Move)>;
    /// A move from a domain wider than the legal plays, picked by `n`.
    fn arbitrary(s: &Self::State, n: u32) -> Self::Move;
    /// The engine's own invariants.
    fn invariants(s: &Self::State) -> Result<(), String>;
}

/// One step of a random walk.
#[derive(Clone, Debug)]
pub(crate) enum Step {
    /// Play the legal move picked by the number.
    Play(usize),
    /// Send an arbitrary move as the picked user (a non-player among them).
    Arbitrary(usize, u32),
    /// The picked user resigns.
    Resign(usize),
    /// The picked user (or a newcomer) joins.
    Join(usize),
    /// The picked user starts the game.
    Start(usize),
    /// Time passes by this many milliseconds, then `timeout` runs.
    Wait(i64),
}

pub(crate) fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = prop_oneof![
        12 => any::<usize>().prop_map(Step::Play),
        6 => (any::<usize>(), any::<u32>()).prop_map(|(p, n)| Step::Arbitrary(p, n)),
        1 => any::<usize>().prop_map(Step::Resign),
        2 => any::<usize>().prop_map(Step::Join),
        1 => any::<usize>().prop_map(Step::Start),
        2 => (0i64..400_000).prop_map(Step::Wait),
    ];
    proptest::collection::vec(step, 0..80)
}

/// A stranger who never holds a seat unless they join.
const STRANGER: UserId = UserId(99);

/// Invariants every engine shares, on the table and the result.
fn check_common<G: Model>(s: &G::State) {
    let t = G::table(s);
    let players = t.players();
    let unique: BTreeSet<UserId> = players.iter().copied().collect();
    assert_eq!(unique.len(), players.len(), "a player holds two seats");
    assert!(
        t.out().iter().all(|u| players.contains(u)),
        "someone out who is not seated"
    );
    match t.status() {
        Status::Waiting => {
            assert!(
                t.turn().is_none() && t.deadline().is_none(),
                "waiting games have no clock"
            );
            assert!(t.seats().iter().any(Option::is_none), "a full table must have started");
        }
        Status::InProgress => {
            assert!(t.deadline().is_some(), "a game in progress has a deadline");
            assert!(!t.active_seats().is_empty(), "a game in progress has players");
            if G::TURN_BASED {
                let seat = t
                    .turn_seat()
                    .expect("a turn-based game in progress has a player to move");
                assert!(t.is_active(seat), "the player to move is out");
            } else {
                assert!(t.turn().is_none());
            }
            assert!(G::records(s).is_empty());
        }
        Status::Finished { result } => {
            assert!(
                t.turn().is_none() && t.deadline().is_none(),
                "finished games have no clock"
            );
            let records = G::records(s);
            assert_eq!(records.len(), players.len(), "one record per player");
            let won = records.iter().filter(|(_, r)| r.outcome == PlayerOutcome::Won).count();
            match result {
                GameResult::Win { winner, .. } => {
                    assert!(
                        players.contains(winner) && !t.out().contains(winner),
                        "the winner is playing"
                    );
                    assert_eq!(won, 1, "exactly one winner");
                }
                GameResult::Draw { .. } => {
                    assert!(records.iter().all(|(_, r)| r.outcome == PlayerOutcome::Drawn));
                }
                GameResult::NoWinner { .. } => assert_eq!(won, 0),
                GameResult::Ranked { standings } => {
                    let ranked: BTreeSet<UserId> = standings.iter().map(|s| s.user).collect();
                    assert_eq!(ranked, unique, "every player ranked once");
                    assert_eq!(ranked.len(), standings.len());
                    assert!(standings.windows(2).all(|w| w[0].place <= w[1].place));
                    assert!(won <= 1);
                }
            }
        }
    }
    if let Err(e) = G::invariants(s) {
        panic!("invariant broken: {e}\n{s:#?}");
    }
    let view = G::view(s, None);
    assert_eq!(view["version"], serde_json::json!(G::version(s)));
    assert_eq!(view["status"], t.status().as_str());
}

/// Whether `player` may play `mv` at `now` according to the model.
fn expected_ok<G: Model>(s: &G::State, player: UserId, mv: &G::Move, now: Millis) -> bool {
    G::legal(s, now).iter().any(|(p, m)| *p == player && m == mv)
}

/// Applies `next` after `s`: a new version, and every invariant.
fn accept<G: Model>(s: &G::State, next: G::State) -> G::State {
    assert_eq!(G::version(&next), G::version(s) + 1, "every change bumps the version");
    check_common::<G>(&next);
    next
}

/// Runs a random walk, then plays the game to its end and checks that nothing is
/// accepted afterwards.
pub(crate) fn walk<G: Model>(start: G::State, steps: &[Step]) {
    check_common::<G>(&start);
    let mut s = start;
    let mut now: Millis = 0;
    let mut newcomer = 200;
    for step in steps {
        let mut pool = G::players(&s);
        pool.push(STRANGER);
        let pick = |i: usize| pool[i % pool.len()];
        let before = s.clone();
        match *step {
            Step::Play(i) => {
                let legal = G::legal(&s, now);
                if legal.is_empty() {
                    continue;
                }
                let (p, m) = legal[i % legal.len()].clone();
                match G::apply(&s, p, Action::Play(m.clone()), now) {
                    Ok(next) => s = accept::<G>(&s, next),
                    Err(e) => panic!("legal move {m:?} by {p} refused: {e}\n{s:#?}"),
                }
            }
            Step::Arbitrary(i, n) => {
                let (p, m) = (pick(i), G::arbitrary(&s, n));
                let ok = expected_ok::<G>(&s, p, &m, now);
                match G::apply(&s, p, Action::Play(m.clone()), now) {
                    Ok(next) if ok => s = accept::<G>(&s, next),
                    Ok(_) => panic!("illegal move {m:?} by {p} accepted\n{s:#?}"),
                    Err(e) if ok => panic!("legal move {m:?} by {p} refused: {e}\n{s:#?}"),
                    Err(_) => assert_eq!(s, before, "a refused move changed the state"),
                }
            }
            Step::Resign(i) => {
                let p = pick(i);
                let t = G::table(&s);
                let may = t.seat_of(p).is_some_and(|seat| match t.status() {
                    Status::Waiting => true,
                    Status::InProgress => t.is_active(seat),
                    Status::Finished { .. } => false,
                });
                match G::apply(&s, p, Action::Resign, now) {
                    Ok(next) if may => s = accept::<G>(&s, next),
                    Ok(_) => panic!("{p} resigned where they cannot"),
                    Err(e) if may => panic!("{p} could not resign: {e}"),
                    Err(_) => assert_eq!(s, before),
                }
            }
            Step::Join(i) => {
                let p = if i % 3 == 0 {
                    newcomer += 1;
                    UserId(newcomer)
                } else {
                    pick(i)
                };
                let t = G::table(&s);
                let may = *t.status() == Status::Waiting && t.seat_of(p).is_none() && t.seats().contains(&None);
                match G::join(&s, p, now) {
                    Ok(next) if may => s = accept::<G>(&s, next),
                    Ok(_) => panic!("{p} joined where they cannot"),
                    Err(e) if may => panic!("{p} could not join: {e}"),
                    Err(_) => assert_eq!(s, before),
                }
            }
            Step::Start(i) => {
                let p = pick(i);
                let t = G::table(&s);
                let may =
                    *t.status() == Status::Waiting && t.seat_of(p).is_some() && t.players().len() >= t.min_players();
                match G::apply(&s, p, Action::Start, now) {
                    Ok(next) if may => s = accept::<G>(&s, next),
                    Ok(_) => panic!("{p} started where they cannot"),
                    Err(e) if may => panic!("{p} could not start: {e}"),
                    Err(_) => assert_eq!(s, before),
                }
            }
            Step::Wait(ms) => {
                now += ms;
                let due = *G::status(&s) == Status::InProgress && G::deadline(&s).is_some_and(|d| now >= d);
                match G::timeout(&s, now) {
                    Some(next) => {
                        assert!(due, "timeout before the deadline");
                        s = accept::<G>(&s, next);
                    }
                    None => assert!(!due, "a due deadline did nothing"),
                }
            }
        }
    }
    s = finish::<G>(s, &mut now);
    after_the_end::<G>(&s, now);
}

/// Plays legal moves (joining newcomers while waiting, letting deadlines pass
/// when nobody can move) until the game ends, within a bound.
fn finish<G: Model>(mut s: G::State, now: &mut Millis) -> G::State {
    for i in 0..2_000 {
        match G::status(&s) {
            Status::Finished { .. } => return s,
            Status::Waiting => {
                let next = G::join(&s, UserId(1_000 + i), *now).expect("an open seat takes a newcomer");
                s = accept::<G>(&s, next);
            }
            Status::InProgress => {
                let legal = G::legal(&s, *now);
                if let Some((p, m)) = legal.into_iter().next() {
                    let next = G::apply(&s, p, Action::Play(m), *now).expect("a legal move is accepted");
                    s = accept::<G>(&s, next);
                } else {
                    *now = G::deadline(&s).expect("a game in progress has a deadline");
                    let next = G::timeout(&s, *now).expect("a due deadline changes the game");
                    s = accept::<G>(&s, next);
                }
            }
        }
    }
    panic!("the game did not end\n{s:#?}");
}

/// Nothing is accepted after the end.
fn after_the_end<G: Model>(s: &G::State, now: Millis) {
    assert!(G::status(s).result().is_some());
    let mut pool = G::players(s);
    pool.push(STRANGER);
    for &p in &pool {
        for n in 0..40 {
            assert!(
                G::apply(s, p, Action::Play(G::arbitrary(s, n)), now).is_err(),
                "a move after the end"
            );
        }
        assert!(G::apply(s, p, Action::Resign, now).is_err());
        assert!(G::apply(s, p, Action::Start, now).is_err());
        assert!(G::join(s, p, now).is_err());
    }
    assert!(G::timeout(s, now + 1_000_000_000).is_none());
    assert!(G::legal(s, now).is_empty());
}
