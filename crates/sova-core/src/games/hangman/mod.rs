//! Hangman: the players guess a hidden word, taking turns in seat order (one
//! guess per turn, hit or miss). A guess is a letter (`{"letter": "a"}`) or the
//! whole word (`{"word": "apple"}`); a wrong letter or word costs one of the
//! shared misses. Whoever reveals the last letter or names the word wins; when the
//! misses run out everybody loses. One player plays alone. Words come from the
//! embedded English or Russian list; `ё` counts as `е`.

mod words;

use super::engine::Game;
use super::rng::Rng;
use super::stats::Feat;
use super::table::{EndReason, GameResult, PlayerOutcome, Seating, Table};
use super::tictactoe::move_ms;
use super::{GameError, GameKind, Language, Millis};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use sova_types::UserId;

/// Hangman's engine.
pub struct Hangman;

/// A guess: one letter or the whole word.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum HangmanMove {
    /// One letter of the game's alphabet.
    Letter(String),
    /// The whole word.
    Word(String),
}

/// Hangman options; every field is optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HangmanOptions {
    /// The word list: `en` (default) or `ru`.
    pub language: Option<Language>,
    /// Misses allowed before everyone loses: 1..=12, default 6.
    pub max_misses: Option<u32>,
    /// Seats: 1..=8, default the number of invited players (at least 1).
    pub seats: Option<usize>,
    /// Seconds per guess before the player to move forfeits: 10..=604800, default 120.
    pub move_seconds: Option<u32>,
}

/// One guess as it was played.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Guess {
    /// Who guessed.
    pub user: UserId,
    /// The normalised letter or word.
    pub guess: String,
    /// Whether it was in (or was) the word.
    pub hit: bool,
}

/// The whole state of a hangman game; `word` is secret until the end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HangmanState {
    pub(crate) table: Table,
    pub(crate) language: Language,
    pub(crate) word: String,
    pub(crate) max_misses: u32,
    pub(crate) misses: u32,
    pub(crate) letters: Vec<char>,
    pub(crate) wrong_words: Vec<String>,
    pub(crate) guesses: Vec<Guess>,
}

impl HangmanState {
    /// The hidden word (never show it to clients before the end; `view` does not).
    pub fn word(&self) -> &str {
        &self.word
    }

    /// Misses so far.
    pub fn misses(&self) -> u32 {
        self.misses
    }

    /// Misses allowed.
    pub fn max_misses(&self) -> u32 {
        self.max_misses
    }

    /// The letters guessed so far, hits and misses, in order.
    pub fn letters(&self) -> &[char] {
        &self.letters
    }

    /// The game's language.
    pub fn language(&self) -> Language {
        self.language
    }

    /// Every letter of the word has been guessed.
    fn revealed(&self) -> bool {
        self.word.chars().all(|c| self.letters.contains(&c))
    }
}

/// The embedded word list of `language`.
pub fn word_list(language: Language) -> Vec<&'static str> {
    match language {
        Language::En => words::ENGLISH.split_whitespace().collect(),
        Language::Ru => words::RUSSIAN.split_whitespace().collect(),
    }
}

/// Whether `c` (normalised) is a letter of `language`'s alphabet.
pub fn in_alphabet(language: Language, c: char) -> bool {
    match language {
        Language::En => c.is_ascii_lowercase(),
        Language::Ru => ('а'..='я').contains(&c),
    }
}

/// Lower case, with `ё` read as `е` (the lists are written without `ё`).
fn normalise(s: &str) -> String {
    s.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

impl Game for Hangman {
    type State = HangmanState;
    type Move = HangmanMove;
    type Options = HangmanOptions;
    const KIND: GameKind = GameKind::Hangman;
    const TURN_BASED: bool = true;

    fn create(players: &[UserId], o: &HangmanOptions, seed: u64) -> Result<HangmanState, GameError> {
        let max_misses = o.max_misses.unwrap_or(6);
        if !(1..=12).contains(&max_misses) {
            return Err(GameError::options("max_misses must be between 1 and 12"));
        }
        let table = Table::new(Seating {
            players,
            seats: o.seats.unwrap_or(players.len().max(1)),
            min_players: 1,
            max_players: 8,
            move_ms: move_ms(o.move_seconds, 120)?,
        })?;
        let language = o.language.unwrap_or_default();
        let list = word_list(language);
        let word = list.get(Rng::new(seed).below(list.len())).copied().unwrap_or("sova");
        Ok(HangmanState {
            table,
            language,
            word: word.to_owned(),
            max_misses,
            misses: 0,
            letters: Vec::new(),
            wrong_words: Vec::new(),
            guesses: Vec::new(),
        })
    }

    fn table(s: &HangmanState) -> &Table {
        &s.table
    }

    fn table_mut(s: &mut HangmanState) -> &mut Table {
        &mut s.table
    }

    fn play(s: &mut HangmanState, seat: usize, mv: HangmanMove, now: Millis) -> Result<(), GameError> {
        let user = s.table.user_at(seat).ok_or(GameError::NotAPlayer)?;
        let (guess, hit, solved) = match mv {
            HangmanMove::Letter(l) => {
                let l = normalise(&l);
                let mut chars = l.chars();
                let (Some(c), None) = (chars.next(), chars.next()) else {
                    return Err(GameError::invalid("a letter is one character"));
                };
                if !in_alphabet(s.language, c) {
                    return Err(GameError::invalid(format!(
                        "{c:?} is not a letter of this game's alphabet"
                    )));
                }
                if s.letters.contains(&c) {
                    return Err(GameError::invalid(format!("{c:?} was already guessed")));
                }
                s.letters.push(c);
                let hit = s.word.contains(c);
                (l, hit, hit && s.revealed())
            }
            HangmanMove::Word(w) => {
                let w = normalise(&w);
                if w.chars().count() < 2 || !w.chars().all(|c| in_alphabet(s.language, c)) {
                    return Err(GameError::invalid(
                        "a word is two or more letters of this game's alphabet",
                    ));
                }
                if s.wrong_words.contains(&w) {
                    return Err(GameError::invalid(format!("{w:?} was already tried")));
                }
                let hit = w == s.word;
                if !hit {
                    s.wrong_words.push(w.clone());
                }
                (w, hit, hit)
            }
        };
        s.guesses.push(Guess { user, guess, hit });
        if solved {
            s.table.finish(GameResult::Win {
                winner: user,
                reason: EndReason::Solved,
            });
        } else if !hit {
            s.misses += 1;
            if s.misses >= s.max_misses {
                s.table.finish(GameResult::NoWinner {
                    reason: EndReason::OutOfGuesses,
                });
            } else {
                s.table.pass_turn(now);
            }
        } else {
            s.table.pass_turn(now);
        }
        Ok(())
    }

    fn on_leave(s: &mut HangmanState, seat: usize, reason: EndReason, now: Millis) {
        if s.table.active_seats().is_empty() {
            s.table.finish(GameResult::NoWinner { reason });
        } else if s.table.turn_seat() == Some(seat) {
            s.table.pass_turn(now);
        }
    }

    fn view_game(s: &HangmanState, _viewer: Option<UserId>) -> Map<String, Value> {
        let over = s.table.status().result().is_some();
        let pattern: Vec<Option<String>> = s
            .word
            .chars()
            .map(|c| (over || s.letters.contains(&c)).then(|| c.to_string()))
            .collect();
        let mut m = Map::new();
        m.insert("language".into(), json!(s.language));
        m.insert("pattern".into(), json!(pattern));
        m.insert("length".into(), json!(pattern.len()));
        m.insert("letters".into(), json!(s.letters));
        m.insert("wrong_words".into(), json!(s.wrong_words));
        m.insert("misses".into(), json!(s.misses));
        m.insert("max_misses".into(), json!(s.max_misses));
        m.insert("guesses".into(), json!(s.guesses));
        m.insert("word".into(), json!(over.then_some(&s.word)));
        m
    }

    fn feats(s: &HangmanState, user: UserId) -> Vec<Feat> {
        let won = s
            .table
            .status()
            .result()
            .is_some_and(|r| r.outcome_for(user) == PlayerOutcome::Won);
        if won && s.misses == 0 {
            vec![Feat::FlawlessHangman]
        } else {
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::games::table::{Action, Status};

    const A: UserId = UserId(1);
    const B: UserId = UserId(2);

    fn letter(s: &HangmanState, who: UserId, l: &str) -> Result<HangmanState, GameError> {
        Hangman::apply(s, who, Action::Play(HangmanMove::Letter(l.into())), 10)
    }

    fn word(s: &HangmanState, who: UserId, w: &str) -> Result<HangmanState, GameError> {
        Hangman::apply(s, who, Action::Play(HangmanMove::Word(w.into())), 10)
    }

    fn with_word(w: &str, players: &[UserId], max_misses: u32) -> HangmanState {
        let o = HangmanOptions {
            max_misses: Some(max_misses),
            ..Default::default()
        };
        let mut s = Hangman::new(players, &o, 1, 0).unwrap();
        s.word = w.into();
        s
    }

    #[test]
    fn word_lists_are_large_unique_and_in_their_alphabet() {
        for lang in [Language::En, Language::Ru] {
            let list = word_list(lang);
            assert!(list.len() >= 200, "{lang:?} has {}", list.len());
            let mut sorted = list.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), list.len(), "{lang:?} has duplicates");
            for w in list {
                assert!(w.chars().all(|c| in_alphabet(lang, c)), "{w}");
                assert!((3..=11).contains(&w.chars().count()), "{w}");
            }
        }
        let ru = Hangman::new(
            &[A],
            &HangmanOptions {
                language: Some(Language::Ru),
                ..Default::default()
            },
            9,
            0,
        )
        .unwrap();
        assert!(word_list(Language::Ru).contains(&ru.word()));
    }

    #[test]
    fn players_take_turns_and_the_last_letter_wins() {
        let s = with_word("noon", &[A, B], 6);
        assert_eq!(letter(&s, B, "n"), Err(GameError::NotYourTurn));
        let s = letter(&s, A, "N").unwrap();
        assert_eq!(Hangman::turn(&s), Some(B));
        let v = Hangman::view(&s, Some(B));
        assert_eq!(v["pattern"], json!(["n", null, null, "n"]));
        assert_eq!(v["word"], Value::Null);
        assert!(!v.to_string().contains("noon"), "the view must not leak the word");
        let s = letter(&s, B, "o").unwrap();
        assert_eq!(
            Hangman::status(&s).result(),
            Some(&GameResult::Win {
                winner: B,
                reason: EndReason::Solved
            })
        );
        assert_eq!(Hangman::feats(&s, B), vec![Feat::FlawlessHangman]);
        assert_eq!(Hangman::feats(&s, A), vec![]);
        assert_eq!(Hangman::view(&s, None)["word"], "noon");
    }

    #[test]
    fn misses_run_out_and_everybody_loses() {
        let s = with_word("cat", &[A], 2);
        let s = letter(&s, A, "z").unwrap();
        assert_eq!(word(&s, A, "zz").map(|_| ()), Ok(()));
        let s = word(&s, A, "dog").unwrap();
        assert_eq!(
            Hangman::status(&s).result(),
            Some(&GameResult::NoWinner {
                reason: EndReason::OutOfGuesses
            })
        );
        assert_eq!(s.misses(), 2);
        assert_eq!(letter(&s, A, "c"), Err(GameError::GameOver));
    }

    #[test]
    fn whole_word_guesses_win_and_russian_yo_reads_as_ye() {
        let s = with_word("ёлка".replace('ё', "е").as_str(), &[A], 6);
        let mut s = s;
        s.language = Language::Ru;
        let s = letter(&s, A, "Ё").unwrap();
        assert_eq!(s.letters(), &['е']);
        let s = word(&s, A, "ЕЛКА").unwrap();
        assert_eq!(
            Hangman::status(&s).result(),
            Some(&GameResult::Win {
                winner: A,
                reason: EndReason::Solved
            })
        );
    }

    #[test]
    fn bad_guesses_are_refused_and_change_nothing() {
        let s = letter(&with_word("apple", &[A], 6), A, "p").unwrap();
        let before = s.clone();
        for bad in ["p", "ab", "", "1", "я"] {
            assert!(matches!(letter(&s, A, bad), Err(GameError::InvalidMove(_))), "{bad:?}");
        }
        let s2 = word(&s, A, "grape").unwrap();
        assert!(matches!(word(&s2, A, "grape"), Err(GameError::InvalidMove(_))));
        assert!(matches!(word(&s, A, "a"), Err(GameError::InvalidMove(_))));
        assert!(matches!(word(&s, A, "app1e"), Err(GameError::InvalidMove(_))));
        assert_eq!(s, before);
        assert!(matches!(
            Hangman::new(
                &[A],
                &HangmanOptions {
                    max_misses: Some(0),
                    ..Default::default()
                },
                0,
                0
            ),
            Err(GameError::BadOptions(_))
        ));
        assert!(matches!(
            Hangman::new(
                &[A],
                &HangmanOptions {
                    seats: Some(9),
                    ..Default::default()
                },
                0,
                0
            ),
            Err(GameError::BadOptions(_))
        ));
    }

    #[test]
    fn a_timed_out_player_is_skipped_and_the_last_one_out_ends_it() {
        let s = with_word("apple", &[A, B], 6);
        let t = Hangman::timeout(&s, Hangman::deadline(&s).unwrap()).unwrap();
        assert_eq!(t.table.out(), &[A]);
        assert_eq!(Hangman::turn(&t), Some(B));
        assert_eq!(letter(&t, A, "a"), Err(GameError::GameOver));
        let t = letter(&t, B, "a").unwrap();
        assert_eq!(Hangman::turn(&t), Some(B), "B plays alone now");
        let t = Hangman::apply(&t, B, Action::Resign, 20).unwrap();
        assert_eq!(
            Hangman::status(&t).result(),
            Some(&GameResult::NoWinner {
                reason: EndReason::Resigned
            })
        );
        assert_ne!(Hangman::status(&t), &Status::InProgress);
    }

    #[test]
    fn a_waiting_game_starts_with_the_players_seated() {
        let o = HangmanOptions {
            seats: Some(3),
            ..Default::default()
        };
        let s = Hangman::new(&[A], &o, 0, 0).unwrap();
        let s = Hangman::join(&s, B, 5).unwrap();
        assert_eq!(Hangman::status(&s), &Status::Waiting);
        assert_eq!(
            Hangman::apply(&s, UserId(7), Action::Start, 6),
            Err(GameError::NotAPlayer)
        );
        let s = Hangman::apply(&s, B, Action::Start, 6).unwrap();
        assert_eq!(Hangman::status(&s), &Status::InProgress);
        assert_eq!(Hangman::players(&s), vec![A, B]);
        assert_eq!(Hangman::join(&s, UserId(3), 7), Err(GameError::GameFull));
    }
}
