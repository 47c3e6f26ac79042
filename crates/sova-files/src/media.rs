//! Image previews made off the request path: decode an uploaded PNG/JPEG/WebP/GIF
//! under hard limits (decompression bombs are refused before any pixel buffer is
//! allocated), turn it upright by its EXIF orientation, and produce a small JPEG
//! thumbnail (re-encoded, so no metadata survives), a BlurHash and the upright size.

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use std::io::Cursor;

/// Longest side of a thumbnail, in pixels.
pub const THUMB_SIDE: u32 = 320;
/// Most pixels an image may declare to be decoded at all.
pub const MAX_PIXELS: u64 = 40_000_000;
/// Largest width or height an image may declare.
pub const MAX_SIDE: u32 = 20_000;
/// BlurHash components along the longer side (the shorter gets proportionally fewer).
const COMPONENTS: u32 = 4;

/// What the media job stores for an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// Width after the EXIF orientation is applied.
    pub width: u32,
    /// Height after the EXIF orientation is applied.
    pub height: u32,
    /// BlurHash of the upright image.
    pub blurhash: String,
    /// The thumbnail, a baseline JPEG with no metadata.
    pub thumbnail: Vec<u8>,
}

/// Why an image gets no preview. Every variant is final: retrying cannot help.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// Not one of the types previews are made for.
    #[error("no previews for {0}")]
    Unsupported(String),
    /// Declared dimensions beyond [`MAX_SIDE`] or [`MAX_PIXELS`].
    #[error("image too large to decode: {0}x{1}")]
    TooLarge(u32, u32),
    /// The bytes could not be decoded (or hit a decoder limit).
    #[error("cannot decode the image: {0}")]
    Decode(#[from] image::ImageError),
    /// BlurHash refused the pixels.
    #[error("blurhash: {0}")]
    Blurhash(String),
}

fn format_of(mime: &str) -> Option<ImageFormat> {
    match mime {
        "image/png" => Some(ImageFormat::Png),
        "image/jpeg" => Some(ImageFormat::Jpeg),
        "image/webp" => Some(ImageFormat::WebP),
        "image/gif" => Some(ImageFormat::Gif),
        _ => None,
    }
}

/// Whether previews are made for files of this type.
pub fn previewable(mime: &str) -> bool {
    format_of(mime).is_some()
}

/// Decodes `bytes` (declared `mime`) within the limits and makes its preview.
/// The size check reads only the header, so a bomb costs no pixel memory.
pub fn preview(mime: &str, bytes: &[u8]) -> Result<Preview, MediaError> {
    let format = format_of(mime).ok_or_else(|| MediaError::Unsupported(mime.to_owned()))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    // RGBA at 8 bits plus decoder scratch for the largest image allowed.
    limits.max_alloc = Some(MAX_PIXELS * 4 + 64 * 1024 * 1024);
    reader.limits(limits);
    let mut decoder = reader.into_decoder()?;
    let (w, h) = decoder.dimensions();
    if w > MAX_SIDE || h > MAX_SIDE || u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(MediaError::TooLarge(w, h));
    }
    let orientation = decoder.orientation()?;
    let mut img = DynamicImage::from_decoder(decoder)?;
    img.apply_orientation(orientation);
    let (width, height) = (img.width(), img.height());
    let thumb = if width.max(height) > THUMB_SIDE {
        img.thumbnail(THUMB_SIDE, THUMB_SIDE)
    } else {
        img
    };
    let rgb = thumb.to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 80).encode_image(&rgb)?;
    let rgba = thumb.to_rgba8();
    let (cx, cy) = components(rgba.width(), rgba.height());
    let blurhash = blurhash::encode(cx, cy, rgba.width(), rgba.height(), rgba.as_raw())
        .map_err(|e| MediaError::Blurhash(e.to_string()))?;
    Ok(Preview {
        width,
        height,
        blurhash,
        thumbnail: out,
    })
}

/// Components per axis, proportional to the aspect ratio (1..=COMPONENTS).
fn components(w: u32, h: u32) -> (u32, u32) {
    let (long, short) = (w.max(h).max(1), w.min(h).max(1));
    let minor = (COMPONENTS * short).div_ceil(long).clamp(1, COMPONENTS);
    if w >= h {
        (COMPONENTS, minor)
    } else {
        (minor, COMPONENTS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgb, RgbImage};

    fn png(w: u32, h: u32) -> Vec<u8> {
        let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 90]));
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .unwrap();
        out
    }

    #[test]
    fn a_png_gets_a_small_thumbnail_and_a_blurhash() {
        let p = preview("image/png", &png(800, 400)).unwrap();
        assert_eq!((p.width, p.height), (800, 400));
        let t = image::load_from_memory_with_format(&p.thumbnail, ImageFormat::Jpeg).unwrap();
        assert_eq!((t.width(), t.height()), (320, 160));
        assert!(p.blurhash.len() >= 6, "{}", p.blurhash);
        assert!(blurhash::decode(&p.blurhash, 8, 8, 1.0).is_ok());
    }

    #[test]
    fn a_declared_bomb_is_refused_before_decoding() {
        let mut bytes = png(1, 1);
        // IHDR width/height live at bytes 16..24; its CRC is not checked before the size.
        bytes[16..20].copy_from_slice(&100_000u32.to_be_bytes());
        bytes[20..24].copy_from_slice(&100_000u32.to_be_bytes());
        assert!(preview("image/png", &bytes).is_err());
        assert!(matches!(preview("text/plain", b"x"), Err(MediaError::Unsupported(_))));
        assert!(preview("image/png", b"\x89PNG\r\n\x1a\nnot really").is_err());
    }

    #[test]
    fn components_follow_the_aspect() {
        assert_eq!(components(800, 400), (4, 2));
        assert_eq!(components(100, 900), (1, 4));
        assert_eq!(components(1, 1), (4, 4));
    }
}
