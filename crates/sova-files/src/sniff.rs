//! What a file claims to be versus what it is, and names safe to keep.
//!
//! Images the client may show inline (PNG, JPEG, GIF, WebP) must start with their
//! format's signature and must not carry markup a browser could be tricked into
//! rendering as a page (`<script`, `<html`, …: an image/HTML polyglot); other
//! types are stored as declared and always served as downloads. Names lose any
//! path, control and bidirectional-override characters, so they are safe in
//! headers, on screens and on a user's disk.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// Longest stored name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;
/// Bytes kept between scanned pieces so a marker split across them is still found.
const OVERLAP: usize = 16;

/// Image types shown inline, with their signatures.
const IMAGES: &[(&str, &[&[u8]])] = &[
    ("image/png", &[b"\x89PNG\r\n\x1a\n"]),
    ("image/jpeg", &[b"\xff\xd8\xff"]),
    ("image/gif", &[b"GIF87a", b"GIF89a"]),
];

/// Markup that has no business inside an image.
const MARKUP: &[&[u8]] = &[
    b"<script",
    b"<html",
    b"<!doctype",
    b"<svg",
    b"<body",
    b"<iframe",
    b"<?php",
    b"<head",
];

/// The declared content type, reduced to a lower-case `type/subtype`;
/// `application/octet-stream` when missing or malformed.
pub fn normalize_mime(declared: Option<&str>) -> String {
    let Some(raw) = declared else {
        return "application/octet-stream".into();
    };
    let essence = raw.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match essence.split_once('/') {
        Some((t, s)) if token(t) && token(s) && essence.len() <= 127 => essence,
        _ => "application/octet-stream".into(),
    }
}

/// Whether `mime` is an image type whose contents are checked (and shown inline).
pub fn is_checked_image(mime: &str) -> bool {
    mime == "image/webp" || IMAGES.iter().any(|(m, _)| *m == mime)
}

/// Whether a file of type `mime` is served `inline` (else as an attachment).
pub fn is_inline(mime: &str) -> bool {
    is_checked_image(mime) || mime.starts_with("audio/") || mime.starts_with("video/")
}

/// Whether `head` (the first bytes, at least 12 unless the file is shorter)
/// carries the signature of image type `mime`.
pub fn signature_matches(mime: &str, head: &[u8]) -> bool {
    if mime == "image/webp" {
        return head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP";
    }
    IMAGES
        .iter()
        .filter(|(m, _)| *m == mime)
        .any(|(_, sigs)| sigs.iter().any(|s| head.starts_with(s)))
}

/// Bytes from the start of a file that `dimensions` looks at (JPEG's frame header
/// may follow EXIF data and an embedded preview).
pub const DIMENSIONS_HEAD: usize = 64 * 1024;

fn be16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?])))
}

fn le16(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(u16::from_le_bytes([*b.get(at)?, *b.get(at + 1)?])))
}

fn le24(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from(*b.get(at)?) | u32::from(*b.get(at + 1)?) << 8 | u32::from(*b.get(at + 2)?) << 16)
}

/// Pixel width and height of a PNG, GIF, WebP or JPEG from its first bytes (as
/// stored, before any EXIF orientation); `None` when they are not there.
pub fn dimensions(mime: &str, head: &[u8]) -> Option<(u32, u32)> {
    let dims = match mime {
        "image/png" if head.get(12..16) == Some(b"IHDR") => {
            let w = u32::from_be_bytes(head.get(16..20)?.try_into().ok()?);
            let h = u32::from_be_bytes(head.get(20..24)?.try_into().ok()?);
            (w, h)
        }
        "image/gif" => (le16(head, 6)?, le16(head, 8)?),
        "image/webp" => match head.get(12..16)? {
            b"VP8 " => (le16(head, 26)? & 0x3fff, le16(head, 28)? & 0x3fff),
            b"VP8L" => {
                let b = head.get(21..25)?;
                let (b0, b1, b2, b3) = (u32::from(b[0]), u32::from(b[1]), u32::from(b[2]), u32::from(b[3]));
                (
                    1 + (((b1 & 0x3f) << 8) | b0),
                    1 + (((b3 & 0xf) << 10) | (b2 << 2) | ((b1 & 0xc0) >> 6)),
                )
            }
            b"VP8X" => (1 + le24(head, 24)?, 1 + le24(head, 27)?),
            _ => return None,
        },
        "image/jpeg" => jpeg_dimensions(head)?,
        _ => return None,
    };
    (dims.0 > 0 && dims.1 > 0).then_some(dims)
}

/// Walks JPEG segments to the first start-of-frame marker.
fn jpeg_dimensions(b: &[u8]) -> Option<(u32, u32)> {
    let mut at = 2;
    loop {
        while *b.get(at)? != 0xff {
            at += 1;
        }
        while *b.get(at)? == 0xff {
            at += 1;
        }
        let marker = *b.get(at)?;
        at += 1;
        if matches!(marker, 0xd8 | 0x01 | 0xd0..=0xd7) {
            continue; // markers without a length
        }
        let len = usize::try_from(be16(b, at)?).ok()?;
        if matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
            return Some((be16(b, at + 5)?, be16(b, at + 3)?));
        }
        at += len;
    }
}

/// Scans an image's bytes for markup, piece by piece.
#[derive(Default)]
pub struct MarkupScan {
    tail: Vec<u8>,
    found: bool,
}

impl MarkupScan {
    /// Looks at the next piece of the file.
    pub fn feed(&mut self, piece: &[u8]) {
        if self.found {
            return;
        }
        let mut window = std::mem::take(&mut self.tail);
        window.extend_from_slice(piece);
        let lower = window.to_ascii_lowercase();
        self.found = MARKUP.iter().any(|m| lower.windows(m.len()).any(|w| w == *m));
        let keep = window.len().min(OVERLAP);
        self.tail = window.split_off(window.len() - keep);
    }

    /// Whether markup was seen.
    pub fn found(&self) -> bool {
        self.found
    }
}

/// Decodes an `X-Filename` header (percent-encoded UTF-8).
pub fn decode_header_name(raw: &str) -> Option<String> {
    percent_decode_str(raw).decode_utf8().ok().map(|s| s.into_owned())
}

/// A name safe to store and show: the last path segment, without control or
/// bidirectional-override characters, trimmed, at most 255 bytes; `file` when
/// nothing is left.
pub fn safe_name(raw: &str) -> String {
    let last = raw.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let mut name = String::new();
    for c in trimmed.chars() {
        if name.len() + c.len_utf8() > MAX_NAME_BYTES {
            break;
        }
        name.push(c);
    }
    if name.is_empty() { "file".into() } else { name }
}

/// Characters left as they are in `filename*` (RFC 8187 `attr-char`).
const ATTR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// The `Content-Disposition` value for a stored file.
pub fn disposition(mime: &str, name: &str) -> String {
    let kind = if is_inline(mime) { "inline" } else { "attachment" };
    format!("{kind}; filename*=UTF-8''{}", utf8_percent_encode(name, ATTR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters() {
        assert_eq!(safe_name("../../etc/passwd"), "passwd");
        assert_eq!(safe_name("..\\..\\boot.ini"), "boot.ini");
        assert_eq!(safe_name("a\r\nSet-Cookie: x\u{0}.txt"), "aSet-Cookie: x.txt");
        assert_eq!(safe_name("evil\u{202e}gpj.exe"), "evilgpj.exe");
        assert_eq!(safe_name(".."), "file");
        assert_eq!(safe_name(""), "file");
        assert_eq!(safe_name(".bashrc"), "bashrc");
        assert_eq!(safe_name(&"é".repeat(200)).len(), 254);
    }

    #[test]
    fn dispositions_encode_names_and_choose_inline_for_media() {
        assert_eq!(
            disposition("application/pdf", "a b\"é.pdf"),
            "attachment; filename*=UTF-8''a%20b%22%C3%A9.pdf"
        );
        assert!(disposition("image/png", "x.png").starts_with("inline;"));
        assert!(disposition("video/mp4", "x").starts_with("inline;"));
        assert!(disposition("image/svg+xml", "x.svg").starts_with("attachment;"));
        assert!(disposition("text/html", "x.html").starts_with("attachment;"));
    }

    #[test]
    fn image_dimensions_from_headers() {
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\x02\x80\0\0\x01\xe0\x08\x06\0\0\0";
        assert_eq!(dimensions("image/png", png), Some((640, 480)));
        assert_eq!(dimensions("image/gif", b"GIF89a\x20\x03\x58\x02"), Some((800, 600)));
        // SOI, an APP0 segment, then SOF0 (precision 8, height 0x0100, width 0x0200).
        let jpeg = b"\xff\xd8\xff\xe0\0\x04ab\xff\xc0\0\x11\x08\x01\x00\x02\x00\x03";
        assert_eq!(dimensions("image/jpeg", jpeg), Some((512, 256)));
        let mut vp8x = b"RIFF\0\0\0\0WEBPVP8X\0\0\0\0\0\0\0\0".to_vec();
        vp8x.extend_from_slice(&[0x7f, 0x02, 0x00, 0xdf, 0x01, 0x00]);
        assert_eq!(dimensions("image/webp", &vp8x), Some((640, 480)));
        assert_eq!(dimensions("image/png", b"\x89PNG\r\n\x1a\n"), None, "cut short");
        assert_eq!(dimensions("application/pdf", png), None);
        assert_eq!(
            dimensions("image/jpeg", b"\xff\xd8\xff\xe0\0\x10"),
            None,
            "no frame header"
        );
    }

    #[test]
    fn images_are_checked_against_their_signature_and_markup() {
        assert!(signature_matches("image/png", b"\x89PNG\r\n\x1a\n...."));
        assert!(!signature_matches("image/png", b"GIF89a"));
        assert!(signature_matches("image/webp", b"RIFF\0\0\0\0WEBPVP8 "));
        assert!(!signature_matches("image/jpeg", b"<html>"));
        let mut scan = MarkupScan::default();
        scan.feed(b"GIF89a....<scr");
        assert!(!scan.found());
        scan.feed(b"IPT>alert(1)");
        assert!(scan.found(), "split marker");
        assert_eq!(normalize_mime(Some("Image/PNG; charset=x")), "image/png");
        assert_eq!(normalize_mime(Some("nonsense")), "application/octet-stream");
        assert_eq!(normalize_mime(None), "application/octet-stream");
    }
}
