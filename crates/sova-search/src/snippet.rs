//! Snippets: a window of the decrypted text around the first match, as HTML-safe
//! text where every character but the highlight tags is escaped (`&`, `<`, `>`,
//! `"`, `'`) and every matched word is wrapped in `<mark>`…`</mark>`. A client may
//! insert it as HTML or, safer, split it on the two tags and unescape the rest.

use crate::query::Query;
use crate::text::{stem, words};

/// Characters of context kept around the matches.
pub const WINDOW_CHARS: usize = 160;
/// Characters of context kept before the first match.
const LEAD_CHARS: usize = 40;

fn escape(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The byte offset `chars` characters before (negative) or after `at`, clamped.
fn step(text: &str, at: usize, chars: isize) -> usize {
    if chars < 0 {
        text[..at]
            .char_indices()
            .rev()
            .nth(chars.unsigned_abs() - 1)
            .map_or(0, |(i, _)| i)
    } else {
        text[at..]
            .char_indices()
            .nth(chars.unsigned_abs())
            .map_or(text.len(), |(i, _)| at + i)
    }
}

/// The highlighted snippet of `text` for `query`; the text's start when nothing
/// matches (a file found by its contents shows its name this way).
pub fn snippet(text: &str, query: &Query) -> String {
    let ws = words(text);
    let hits: Vec<(usize, usize)> = ws
        .iter()
        .filter(|w| query.hits(&w.norm, &stem(&w.norm)))
        .map(|w| (w.start, w.end))
        .collect();
    let first = hits.first().map_or(0, |h| h.0);
    let mut from = step(text, first, -(LEAD_CHARS as isize));
    // Start at a word boundary when the cut falls inside a word.
    if from > 0
        && let Some(w) = ws.iter().find(|w| w.start < from && from < w.end)
    {
        from = w.end;
    }
    let to = step(text, from, WINDOW_CHARS as isize);
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    let mut at = from;
    for &(s, e) in hits.iter().filter(|h| h.0 >= from && h.1 <= to) {
        escape(&mut out, &text[at..s]);
        out.push_str("<mark>");
        escape(&mut out, &text[s..e]);
        out.push_str("</mark>");
        at = e;
    }
    escape(&mut out, &text[at..to]);
    if to < text.len() {
        out.push('…');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_are_marked_and_markup_escaped() {
        let q = Query::parse("книга").unwrap();
        assert_eq!(
            snippet("<b>Мои книги</b> & \"твои\"", &q),
            "&lt;b&gt;Мои <mark>книги</mark>&lt;/b&gt; &amp; &quot;твои&quot;"
        );
        let long = format!("{} find me {}", "слово ".repeat(40), "хвост ".repeat(40));
        let s = snippet(&long, &Query::parse("find").unwrap());
        assert!(s.starts_with('…') && s.ends_with('…'), "{s}");
        assert!(s.contains("<mark>find</mark>"));
        assert!(s.chars().count() < WINDOW_CHARS + 30);
        assert_eq!(snippet("nothing here", &Query::parse("zzz").unwrap()), "nothing here");
    }
}
