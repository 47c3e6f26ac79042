//! Text of uploaded documents for the index: TXT and Markdown as they are, PDF
//! through `lopdf` (the text operators of every page), DOCX through `zip` and
//! `quick-xml` (the runs of `word/document.xml`). Bounded everywhere: inputs above
//! [`MAX_INPUT_BYTES`] are not opened, decompression stops at
//! [`MAX_INFLATED_BYTES`], and at most [`MAX_TEXT_BYTES`] of text are kept. A file
//! that fails to parse (or makes a parser panic) simply has no text.

use quick_xml::Reader;
use quick_xml::events::Event;
use std::io::Read;

/// Largest file whose text is extracted; bigger ones are found by name only.
pub const MAX_INPUT_BYTES: u64 = 32 * 1024 * 1024;
/// Most bytes a compressed part (a DOCX entry, a PDF page) may inflate to.
pub const MAX_INFLATED_BYTES: usize = 64 * 1024 * 1024;
/// Most bytes of text kept from one file.
pub const MAX_TEXT_BYTES: usize = 512 * 1024;

/// Which extractor a file needs, from its type or else its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Text,
    Pdf,
    Docx,
}

/// The extractor for a file of this type and name, if any.
pub fn kind(mime: &str, name: &str) -> Option<Kind> {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match (mime, ext.as_str()) {
        ("application/pdf", _) | (_, "pdf") => Some(Kind::Pdf),
        ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", _) | (_, "docx") => {
            Some(Kind::Docx)
        }
        ("text/plain" | "text/markdown" | "text/x-markdown", _) | (_, "txt" | "md" | "markdown") => Some(Kind::Text),
        _ => None,
    }
}

/// The text of `bytes` as a file of `kind`, cut at [`MAX_TEXT_BYTES`].
pub fn extract(kind: Kind, bytes: &[u8]) -> Option<String> {
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return None;
    }
    let text = std::panic::catch_unwind(|| match kind {
        Kind::Text => Some(String::from_utf8_lossy(&bytes[..bytes.len().min(MAX_TEXT_BYTES)]).into_owned()),
        Kind::Pdf => pdf(bytes),
        Kind::Docx => docx(bytes),
    })
    .ok()
    .flatten()?;
    Some(cut(text))
}

fn cut(mut text: String) -> String {
    if text.len() > MAX_TEXT_BYTES {
        let mut end = MAX_TEXT_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

fn pdf(bytes: &[u8]) -> Option<String> {
    let doc = lopdf::Document::load_mem(bytes).ok()?;
    let mut out = String::new();
    for page in doc.get_pages().keys() {
        if let Ok(t) = doc.extract_text_with_limit(&[*page], MAX_INFLATED_BYTES) {
            out.push_str(&t);
            out.push('\n');
        }
        if out.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    Some(out)
}

fn docx(bytes: &[u8]) -> Option<String> {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).ok()?;
    let entry = zip.by_name("word/document.xml").ok()?;
    let mut xml = String::new();
    entry.take(MAX_INFLATED_BYTES as u64).read_to_string(&mut xml).ok()?;
    let mut reader = Reader::from_str(&xml);
    let mut out = String::new();
    let mut in_text = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.local_name().as_ref() == "t" => in_text = true,
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                "t" => in_text = false,
                "p" => out.push('\n'),
                _ => {}
            },
            Ok(Event::Empty(e)) if matches!(e.local_name().as_ref(), "tab" | "br") => out.push(' '),
            Ok(Event::Text(t)) if in_text => out.push_str(&t.xml10_content()),
            Ok(Event::GeneralRef(r)) if in_text => match r.resolve_char_ref() {
                Ok(Some(c)) => out.push(c),
                _ => out.push(match r.into_inner().as_ref() {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => ' ',
                }),
            },
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
        if out.len() > MAX_TEXT_BYTES {
            break;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixtures;

    #[test]
    fn documents_yield_their_text() {
        let pdf = fixtures::pdf(&["Quarterly report", "budget forecast"]);
        let text = extract(Kind::Pdf, &pdf).unwrap();
        assert!(
            text.contains("Quarterly report") && text.contains("budget forecast"),
            "{text}"
        );
        let docx = fixtures::docx(&["Договор поставки", "R&D <plans>"]);
        let text = extract(Kind::Docx, &docx).unwrap();
        assert!(
            text.contains("Договор поставки") && text.contains("R&D <plans>"),
            "{text}"
        );
        assert_eq!(
            extract(Kind::Text, "# Заголовок".as_bytes()).as_deref(),
            Some("# Заголовок")
        );
        assert_eq!(extract(Kind::Pdf, b"%PDF-1.4 garbage"), None);
        assert_eq!(extract(Kind::Docx, b"PK garbage"), None);
        assert_eq!(kind("application/octet-stream", "a.PDF"), Some(Kind::Pdf));
        assert_eq!(kind("text/markdown", "notes"), Some(Kind::Text));
        assert_eq!(kind("image/png", "a.png"), None);
        assert_eq!(cut("я".repeat(MAX_TEXT_BYTES)).len(), MAX_TEXT_BYTES);
    }
}
