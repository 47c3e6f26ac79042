//! Property tests of the JSON layer (`GameState`): whatever JSON a client sends as
//! options or as a move, nothing panics, a refusal leaves the game as it was, and
//! an accepted change bumps the version and survives a store round trip.

use crate::games::{GameKind, GameState};
use proptest::prelude::*;
use serde_json::{Map, Value, json};
use sova_types::UserId;

/// JSON values biased towards the shapes the engines read.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..12).prop_map(|n| json!(n)),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("start"),
            Just("resign"),
            Just("a"),
            Just("ru"),
            Just("en"),
            Just("apple"),
            Just("")
        ]
        .prop_map(|s| json!(s)),
        "\\PC{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        let key = prop_oneof![
            Just("cell"),
            Just("column"),
            Just("letter"),
            Just("word"),
            Just("answer"),
            Just("seats"),
            Just("language"),
            Just("questions"),
            Just("max_misses"),
            Just("move_seconds"),
            Just("seconds_per_question"),
            Just("x"),
        ]
        .prop_map(str::to_owned);
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::vec((key, inner), 0..3)
                .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Mostly well-formed moves of every kind (so that many are accepted), and any JSON.
fn move_like() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (0u32..12).prop_map(|n| json!({"cell": n})),
        3 => (0u32..9).prop_map(|n| json!({"column": n})),
        3 => proptest::char::range('a', 'z').prop_map(|c| json!({"letter": c.to_string()})),
        3 => (0u32..5).prop_map(|n| json!({"answer": n})),
        1 => Just(json!("resign")),
        4 => json_value(),
    ]
}

fn kind() -> impl Strategy<Value = GameKind> {
    prop_oneof![
        Just(GameKind::TicTacToe),
        Just(GameKind::Hangman),
        Just(GameKind::Quiz),
        Just(GameKind::Connect4)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn any_options_make_a_game_or_bad_options(kind in kind(), options in json_value(), seed in any::<u64>()) {
        match GameState::new(kind, &[UserId(1), UserId(2)], &options, seed, 0) {
            Ok(g) => prop_assert_eq!(g.kind(), kind),
            Err(e) => prop_assert_eq!(e.code(), "bad_options"),
        }
    }

    #[test]
    fn any_json_move_is_applied_or_refused_without_change(
        kind in kind(), moves in proptest::collection::vec((0usize..3, move_like()), 1..40),
    ) {
        let mut g = GameState::new(kind, &[UserId(1), UserId(2)], &Value::Null, 5, 0).unwrap();
        for (i, (who, mv)) in moves.into_iter().enumerate() {
            let before = g.clone();
            let now = i as i64 * 1_000;
            match g.apply(UserId(who as i64), &mv, now) {
                Ok(next) => {
                    prop_assert_eq!(next.version(), before.version() + 1);
                    let stored = serde_json::to_value(&next).unwrap();
                    prop_assert_eq!(&serde_json::from_value::<GameState>(stored).unwrap(), &next);
                    g = next;
                }
                Err(_) => prop_assert_eq!(&g, &before),
            }
            let _ = g.view(Some(UserId(who as i64)));
        }
    }
}
