//! The query language: words (all must match, in any word form), `"quoted
//! phrases"` (the words in this order, next to each other) and `prefix*` (a word
//! starting with the prefix, at least [`PREFIX_MIN`] characters). Everything else
//! is punctuation. A query maps to the blind tokens every matching document has.

use crate::blind::{IndexKey, Token};
use crate::doc::{PREFIX_MAX, PREFIX_MIN};
use crate::text::{normalise, stem, words};

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 256;
/// Most terms (words, phrases, prefixes) in one query.
pub const MAX_TERMS: usize = 16;

/// Why a query was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("q must contain at least one word")]
    Empty,
    #[error("q is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    #[error("q has more than {MAX_TERMS} words")]
    TooManyTerms,
    #[error("a prefix query needs at least {PREFIX_MIN} letters before *")]
    ShortPrefix,
}

/// A normalised query word with its stem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryWord {
    pub norm: String,
    pub stem: String,
}

/// One term of a query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// A word in any form (same stem).
    Word(QueryWord),
    /// A word starting with this normalised prefix.
    Prefix(String),
    /// Words in this order, adjacent.
    Phrase(Vec<QueryWord>),
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
}

fn word(norm: String) -> QueryWord {
    QueryWord {
        stem: stem(&norm),
        norm,
    }
}

impl Query {
    /// Parses `q`; an unclosed quote runs to the end.
    pub fn parse(q: &str) -> Result<Query, QueryError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        let mut terms = Vec::new();
        for (i, part) in q.split('"').enumerate() {
            if i % 2 == 1 {
                let ws: Vec<QueryWord> = words(part).into_iter().map(|w| word(w.norm)).collect();
                match ws.len() {
                    0 => {}
                    1 => terms.extend(ws.into_iter().map(Term::Word)),
                    _ => terms.push(Term::Phrase(ws)),
                }
                continue;
            }
            for chunk in part.split_whitespace() {
                let ws = words(chunk);
                if chunk.ends_with('*') && ws.len() == 1 {
                    let p = normalise(&chunk[ws[0].start..ws[0].end]);
                    if p.chars().count() < PREFIX_MIN {
                        return Err(QueryError::ShortPrefix);
                    }
                    terms.push(Term::Prefix(p));
                } else {
                    terms.extend(ws.into_iter().map(|w| Term::Word(word(w.norm))));
                }
            }
        }
        if terms.is_empty() {
            return Err(QueryError::Empty);
        }
        if terms.len() > MAX_TERMS {
            return Err(QueryError::TooManyTerms);
        }
        Ok(Query { terms })
    }

    /// Tokens every matching document has, without repeats.
    pub fn required(&self, key: &IndexKey) -> Vec<Token> {
        let mut out = Vec::new();
        for t in &self.terms {
            match t {
                Term::Word(w) => out.push(key.stem(&w.stem)),
                Term::Prefix(p) => out.push(key.prefix(indexed_prefix(p))),
                Term::Phrase(ws) => {
                    out.extend(ws.iter().map(|w| key.stem(&w.stem)));
                    out.extend(ws.windows(2).map(|p| key.pair(&p[0].stem, &p[1].stem)));
                }
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|t| seen.insert(*t));
        out
    }

    /// Tokens that score a document (stems and prefixes; pairs only narrow).
    pub fn scored(&self, key: &IndexKey) -> Vec<Token> {
        let mut out = Vec::new();
        for t in &self.terms {
            match t {
                Term::Word(w) => out.push(key.stem(&w.stem)),
                Term::Prefix(p) => out.push(key.prefix(indexed_prefix(p))),
                Term::Phrase(ws) => out.extend(ws.iter().map(|w| key.stem(&w.stem))),
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        out.retain(|t| seen.insert(*t));
        out
    }

    /// Whether the (decrypted) `text` really matches: the index cannot tell a
    /// phrase from its pairs occurring apart, nor prefixes longer than it keeps.
    pub fn matches(&self, text: &str) -> bool {
        let ws = words(text);
        let stems: Vec<String> = ws.iter().map(|w| stem(&w.norm)).collect();
        self.terms.iter().all(|t| match t {
            Term::Word(w) => stems.contains(&w.stem),
            Term::Prefix(p) => ws.iter().any(|w| w.norm.starts_with(p.as_str())),
            Term::Phrase(q) => stems
                .windows(q.len())
                .any(|win| win.iter().zip(q).all(|(s, w)| *s == w.stem)),
        })
    }

    /// Whether the word with this normal form and stem is one the query looks for.
    pub fn hits(&self, norm: &str, stem: &str) -> bool {
        self.terms.iter().any(|t| match t {
            Term::Word(w) => w.stem == stem,
            Term::Prefix(p) => norm.starts_with(p.as_str()),
            Term::Phrase(ws) => ws.iter().any(|w| w.stem == stem),
        })
    }
}

/// The prefix as indexed (at most [`PREFIX_MAX`] characters).
fn indexed_prefix(p: &str) -> &str {
    match p.char_indices().nth(PREFIX_MAX) {
        Some((i, _)) => &p[..i],
        None => p,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_phrases_and_prefixes_parse() {
        let q = Query::parse(r#"Книга "big red fox" прогр* "x"#).unwrap();
        assert_eq!(q.terms.len(), 4);
        assert!(matches!(&q.terms[1], Term::Phrase(ws) if ws.len() == 3));
        assert_eq!(q.terms[2], Term::Prefix("прогр".into()));
        assert!(matches!(&q.terms[3], Term::Word(w) if w.norm == "x"));
        assert_eq!(Query::parse("  ,. "), Err(QueryError::Empty));
        assert_eq!(Query::parse(""), Err(QueryError::Empty));
        assert_eq!(Query::parse(&"a".repeat(257)), Err(QueryError::TooLong));
        assert_eq!(Query::parse("ab*"), Err(QueryError::ShortPrefix));
        assert_eq!(Query::parse(&"a ".repeat(17)), Err(QueryError::TooManyTerms));
    }

    #[test]
    fn matching_checks_forms_order_and_prefixes() {
        let q = Query::parse(r#""red fox" книга прог*"#).unwrap();
        assert!(q.matches("A red fox read книгами about программы"));
        assert!(!q.matches("A fox, red, read книгами about программы"));
        assert!(!q.matches("A red fox read книгами"));
        let k = IndexKey::from_secret(b"k");
        assert_eq!(q.required(&k).len(), 5);
        assert_eq!(q.scored(&k).len(), 4);
        let long = Query::parse("абвгдежзийклм*").unwrap();
        assert_eq!(long.required(&k), vec![k.prefix("абвгдежзий")]);
    }
}
