//! The media step behind the `files.media` job: image files not yet handled get a
//! sealed thumbnail object (`<id>_t`, same encryption as the file), their upright
//! size and a BlurHash on the file row. The file row is the durable to-do mark
//! (`blurhash IS NULL`), so nothing is lost if the process dies mid-way, and a
//! repeated run rewrites the same thumbnail. An image that cannot be previewed
//! (undecodable, a decompression bomb, too big to load) gets an empty BlurHash:
//! handled once, never retried, still downloadable.

use crate::files::{FileService, internal};
use crate::store_err;
use sova_files::crypt;
use sova_files::media::{self, Preview};
use sova_store::FileRow;
use sova_types::ApiError;
use tokio::io::AsyncReadExt;

/// Largest original the media job loads to make a preview.
pub const MAX_MEDIA_BYTES: u64 = 64 * 1024 * 1024;
/// Largest stored thumbnail object read back.
const MAX_THUMB_STORED: u64 = 8 * 1024 * 1024;

/// The blob key of a file's thumbnail: never another file's id (ids are 22 chars).
pub fn thumb_key(file_id: &str) -> String {
    format!("{file_id}_t")
}

/// Whether a file row says its thumbnail exists.
pub fn has_thumbnail(f: &FileRow) -> bool {
    f.blurhash.as_deref().is_some_and(|b| !b.is_empty())
}

/// Plaintext length of a sealed object `stored` bytes long (inverse of `stored_len`).
fn plain_len(stored: u64) -> Option<u64> {
    let body = stored.checked_sub(crypt::HEADER as u64)?;
    (1..=body / crypt::TAG as u64 + 1)
        .map(|n| (n, body.checked_sub(n * crypt::TAG as u64)))
        .find_map(|(n, size)| size.filter(|s| crypt::chunk_count(*s) == n))
}

impl FileService {
    /// Handles up to `limit` pending images; the number handled (0: caught up).
    /// Errors only for transient trouble (database, object store).
    pub async fn media_step(&self, limit: i64) -> Result<usize, ApiError> {
        let pending = self.stores.files.media_pending(limit).await.map_err(store_err)?;
        for file in &pending {
            self.media_one(file).await?;
        }
        Ok(pending.len())
    }

    async fn media_one(&self, file: &FileRow) -> Result<(), ApiError> {
        let size = u64::try_from(file.size).unwrap_or(u64::MAX);
        let outcome = match self.plaintext(file, MAX_MEDIA_BYTES).await? {
            None => Err(format!("{size} bytes is over the media limit")),
            Some(bytes) => {
                let mime = file.mime.clone();
                tokio::task::spawn_blocking(move || media::preview(&mime, &bytes))
                    .await
                    .map_err(|e| internal("media task", e))?
                    .map_err(|e| e.to_string())
            }
        };
        match outcome {
            Ok(p) => {
                self.store_thumbnail(&file.id, &p).await?;
                let dims = (i64::from(p.width), i64::from(p.height));
                self.stores
                    .files
                    .set_media(&file.id, Some(dims), &p.blurhash)
                    .await
                    .map_err(store_err)
            }
            Err(why) => {
                tracing::info!(file = %file.id, reason = %why, "media: no preview");
                self.stores.files.set_media(&file.id, None, "").await.map_err(store_err)
            }
        }
    }

    async fn store_thumbnail(&self, id: &str, p: &Preview) -> Result<(), ApiError> {
        let key = thumb_key(id);
        let mut sealer = self.keys.sealer(&key).map_err(|e| internal("sealer", e))?;
        let mut writer = self.blobs.create(&key).await.map_err(|e| internal("create thumb", e))?;
        let mut parts = vec![sealer.header()];
        parts.extend(sealer.push(&p.thumbnail).map_err(|e| internal("seal", e))?);
        parts.push(sealer.finish().map_err(|e| internal("seal", e))?);
        for part in parts {
            if let Err(e) = writer.write(part).await {
                writer.abort().await;
                return Err(internal("write thumb", e));
            }
        }
        writer.commit().await.map_err(|e| internal("commit thumb", e))
    }

    /// The decrypted thumbnail of `file` (already checked readable); `not_found`
    /// while there is none (not an image, not made yet, or refused).
    pub async fn thumbnail(&self, file: &FileRow) -> Result<Vec<u8>, ApiError> {
        if !has_thumbnail(file) {
            return Err(ApiError::not_found("no thumbnail for this file"));
        }
        let key = thumb_key(&file.id);
        let mut sealed = Vec::new();
        let mut r = self
            .blobs
            .read(&key, 0, MAX_THUMB_STORED)
            .await
            .map_err(|e| internal("open thumb", e))?;
        r.read_to_end(&mut sealed)
            .await
            .map_err(|e| internal("read thumb", e))?;
        let size = plain_len(sealed.len() as u64).ok_or_else(|| internal("thumb", "bad length"))?;
        let opener = self
            .keys
            .opener(sealed.get(..crypt::HEADER).unwrap_or_default(), &key)
            .map_err(|e| internal("open thumb", e))?;
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        for index in 0..crypt::chunk_count(size) {
            let from = usize::try_from(crypt::chunk_offset(index)).unwrap_or(usize::MAX);
            let len = usize::try_from(crypt::sealed_chunk_len(index, size)).unwrap_or(usize::MAX);
            let chunk = sealed
                .get(from..from.saturating_add(len))
                .ok_or_else(|| internal("thumb", "truncated"))?;
            out.extend(opener.open(index, size, chunk).map_err(|e| internal("open thumb", e))?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::plain_len;
    use sova_files::crypt::stored_len;

    #[test]
    fn plain_len_inverts_stored_len() {
        for size in [0, 1, 1000, 65_535, 65_536, 65_537, 200_000] {
            assert_eq!(plain_len(stored_len(size)), Some(size), "{size}");
        }
        assert_eq!(plain_len(3), None);
    }
}
