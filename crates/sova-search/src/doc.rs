//! The terms of a document as the index stores them: for every word the token of
//! its stem, the tokens of its prefixes of [`PREFIX_MIN`]..=[`PREFIX_MAX`]
//! characters (for `word*` queries) and the token of the pair it forms with the
//! next word's stem (for phrases), each with its count, plus the document's length
//! in words (for BM25).

use crate::blind::{IndexKey, Token};
use crate::text::{stem, words};
use std::collections::BTreeMap;

/// Shortest prefix a `word*` query may use, in characters.
pub const PREFIX_MIN: usize = 3;
/// Longest prefix indexed; longer query prefixes use this many characters and are
/// checked against the decrypted text.
pub const PREFIX_MAX: usize = 10;

/// Tokens with their counts, and the length in words.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Terms {
    pub counts: BTreeMap<Token, i64>,
    pub length: i64,
}

impl Terms {
    /// Adds the terms of `text` (several texts of one document add up; no pair
    /// spans two texts).
    pub fn add(&mut self, key: &IndexKey, text: &str) {
        let mut previous: Option<String> = None;
        for w in words(text) {
            let s = stem(&w.norm);
            *self.counts.entry(key.stem(&s)).or_default() += 1;
            for p in prefixes(&w.norm) {
                *self.counts.entry(key.prefix(p)).or_default() += 1;
            }
            if let Some(prev) = &previous {
                *self.counts.entry(key.pair(prev, &s)).or_default() += 1;
            }
            previous = Some(s);
            self.length += 1;
        }
    }

    /// Whether nothing was indexed.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }
}

/// The terms of one text.
pub fn document_terms(key: &IndexKey, text: &str) -> Terms {
    let mut t = Terms::default();
    t.add(key, text);
    t
}

/// The indexed prefixes of a normalised word (none for words shorter than
/// [`PREFIX_MIN`]).
pub fn prefixes(norm: &str) -> impl Iterator<Item = &str> {
    let ends: Vec<usize> = norm
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .enumerate()
        .filter(|(n, _)| (PREFIX_MIN - 1..PREFIX_MAX).contains(n))
        .map(|(_, end)| end)
        .collect();
    ends.into_iter().map(move |e| &norm[..e])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stems_prefixes_and_pairs_are_counted() {
        let k = IndexKey::from_secret(b"k");
        let t = document_terms(&k, "Книга и книги");
        assert_eq!(t.length, 3);
        assert_eq!(t.counts[&k.stem(&stem("книга"))], 2);
        assert_eq!(t.counts[&k.prefix("кни")], 2);
        assert_eq!(t.counts[&k.prefix("книга")], 1);
        assert_eq!(t.counts[&k.pair(&stem("книга"), "и")], 1);
        assert!(!t.counts.contains_key(&k.prefix("кн")));
        let p: Vec<&str> = prefixes("abcdefghijklm").collect();
        assert_eq!(p.first(), Some(&"abc"));
        assert_eq!(p.last(), Some(&"abcdefghij"));
        assert_eq!(prefixes("ab").count(), 0);
    }
}
