//! Words of a text and their normal forms: split on anything that is not a letter
//! or a digit, lower-cased, `ё` → `е`, then stemmed with Snowball (Russian for
//! words with Cyrillic letters, English for the rest; digits stay as they are).

use rust_stemmers::{Algorithm, Stemmer};
use std::sync::LazyLock;

/// Longest word indexed, in characters; longer runs (hashes, base64) are skipped.
pub const MAX_WORD_CHARS: usize = 48;

static RUSSIAN: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::Russian));
static ENGLISH: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// One word of a text: its byte range in the text and its normal form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub start: usize,
    pub end: usize,
    /// Lower-cased with `ё` → `е`.
    pub norm: String,
}

/// The normal form of a word: lower case, `ё` → `е`.
pub fn normalise(word: &str) -> String {
    word.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ё' { 'е' } else { c })
        .collect()
}

/// The words of `text` in order (runs of letters and digits), each at most
/// [`MAX_WORD_CHARS`] characters (longer runs are left out).
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut start = None;
    let mut chars = 0usize;
    for (i, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
                chars = 0;
            }
            chars += 1;
        } else if let Some(s) = start.take()
            && chars <= MAX_WORD_CHARS
        {
            out.push(Word {
                start: s,
                end: i,
                norm: normalise(&text[s..i]),
            });
        }
    }
    out
}

/// The stem of a normalised word.
pub fn stem(norm: &str) -> String {
    let cyrillic = norm.chars().any(|c| matches!(c, '\u{0400}'..='\u{04FF}'));
    if cyrillic {
        RUSSIAN.stem(norm).into_owned()
    } else if norm.chars().any(|c| c.is_ascii_alphabetic()) {
        ENGLISH.stem(norm).into_owned()
    } else {
        norm.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_split_normalised_and_stemmed() {
        let w = words("Ёжик читал КНИГАМИ, reading books! 42");
        let norms: Vec<&str> = w.iter().map(|w| w.norm.as_str()).collect();
        assert_eq!(norms, ["ежик", "читал", "книгами", "reading", "books", "42"]);
        assert_eq!(&"Ёжик читал"[w[1].start..w[1].end], "читал");
        assert_eq!(stem("книгами"), stem("книга"));
        assert_eq!(stem("книгу"), stem("книги"));
        assert_eq!(stem("reading"), stem("reads"));
        assert_eq!(stem("42"), "42");
        assert!(words(&"x".repeat(49)).is_empty());
    }
}
