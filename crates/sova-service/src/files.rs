//! Uploaded files: streamed in, checked, sealed and stored; streamed out by byte
//! range; deleted by their uploader. Nothing here holds a whole file: an upload
//! passes through in request-body pieces and 64 KiB chunks, a download decrypts one
//! chunk at a time. Who may read a file is one store query (`visible_file`); to
//! anyone else a file does not exist (404, never 403).

use crate::{AuthUser, store_err};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use sova_config::Config;
use sova_files::crypt::{self, FileKeys};
use sova_files::{BlobWriter, Blobs, LocalBlobs, S3Blobs, S3Config, sniff};
use sova_store::{FileRow, Stores};
use sova_types::models::FileInfo;
use sova_types::{ApiError, ErrorCode, UserId};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Bytes kept from the start of an upload to check its signature.
pub(crate) const HEAD: usize = 16;

/// An upload as the client described it (raw; cleaned here).
pub struct NewUpload {
    /// The file name as sent (already percent-decoded).
    pub name: String,
    /// The declared `Content-Type`.
    pub mime: Option<String>,
    /// The declared length, when the client sent one (checked before reading).
    pub length: Option<u64>,
}

/// Uploads, downloads and deletes files.
pub struct FileService {
    pub(crate) stores: Stores,
    pub(crate) blobs: Arc<dyn Blobs>,
    pub(crate) keys: Arc<FileKeys>,
    pub(crate) max_upload: u64,
    pub(crate) quota: Option<u64>,
    /// Resumable uploads with a request writing to them right now (this instance).
    pub(crate) busy: parking_lot::Mutex<std::collections::HashSet<String>>,
}

/// The wire form of a stored file.
pub fn file_info(f: &FileRow) -> FileInfo {
    FileInfo {
        id: f.id.clone(),
        name: f.name.clone(),
        size: f.size,
        mime: f.mime.clone(),
        sha256: f.sha256.clone(),
        created_at: sova_types::time::rfc3339(f.created_at),
        width: f.width,
        height: f.height,
        // An empty BlurHash marks an image the media job could not preview.
        blurhash: f.blurhash.clone().filter(|b| !b.is_empty()),
    }
}

pub(crate) fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "files: {what}");
    ApiError::internal()
}

pub(crate) fn too_large(max: u64) -> ApiError {
    ApiError::too_large_max(format!("a file may be at most {max} bytes"), max)
}

pub(crate) fn quota_exceeded(quota: u64, used: u64) -> ApiError {
    ApiError::new(ErrorCode::QuotaExceeded, "this upload would exceed your storage quota")
        .with_details(serde_json::json!({ "quota": quota, "used": used }))
}

/// A new file id: 128 random bits, URL-safe.
pub(crate) fn new_id() -> Result<String, ApiError> {
    use base64::Engine;
    let mut raw = [0u8; 16];
    getrandom::fill(&mut raw).map_err(|e| internal("randomness", e))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw))
}

impl FileService {
    /// Local storage under the data directory, keyed from `MESSAGE_ENCRYPTION_KEY`.
    pub async fn start(config: &Config, stores: Stores) -> Result<FileService, ApiError> {
        let keys = config
            .message_encryption_key
            .as_ref()
            .ok_or_else(|| ApiError::unavailable("file storage needs MESSAGE_ENCRYPTION_KEY"))?;
        let keys = FileKeys::from_fernet_keys(keys.expose()).map_err(|e| internal("keys", e))?;
        let unavailable = |e: std::io::Error| ApiError::unavailable(format!("file storage: {e}"));
        let blobs: Arc<dyn Blobs> = match config.storage {
            sova_config::Storage::Local => Arc::new(LocalBlobs::open(&config.files_dir()).await.map_err(unavailable)?),
            sova_config::Storage::S3 => {
                let secret =
                    |s: &Option<sova_config::Secret>| s.as_ref().map(|s| s.expose().to_owned()).unwrap_or_default();
                let s3 = S3Config {
                    endpoint: config.s3_endpoint(),
                    bucket: config.s3_bucket.clone().unwrap_or_default(),
                    region: config.s3_region(),
                    access_key_id: secret(&config.s3_access_key_id),
                    secret_access_key: secret(&config.s3_secret_access_key),
                };
                Arc::new(S3Blobs::open(s3, &config.files_dir()).await.map_err(unavailable)?)
            }
        };
        Ok(FileService {
            stores,
            blobs,
            keys: Arc::new(keys),
            max_upload: config.max_upload_bytes,
            quota: config.user_quota_bytes,
            busy: Default::default(),
        })
    }

    /// Stores `body` as a new file of `user`. Refuses (and keeps nothing) past the
    /// size limit (`too_large`), past the quota (`quota_exceeded`), and an image
    /// whose contents are not that image (`unsupported_media_type`).
    pub async fn upload<S, E>(&self, user: &AuthUser, up: NewUpload, body: S) -> Result<FileInfo, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mime = sniff::normalize_mime(up.mime.as_deref());
        let name = sniff::safe_name(&up.name);
        let used = u64::try_from(self.stores.files.bytes_used(user.user_id).await.map_err(store_err)?).unwrap_or(0);
        let room = self.quota.map(|q| q.saturating_sub(used));
        if let Some(len) = up.length {
            if len > self.max_upload {
                return Err(too_large(self.max_upload));
            }
            if let (Some(q), Some(room)) = (self.quota, room)
                && len > room
            {
                return Err(quota_exceeded(q, used));
            }
        }
        let id = new_id()?;
        let mut writer = self.blobs.create(&id).await.map_err(|e| internal("create blob", e))?;
        let sealed = self.seal_into(&mut *writer, &id, &mime, room, used, body).await;
        let (size, sha256, dims) = match sealed {
            Ok(done) => done,
            Err(e) => {
                writer.abort().await;
                return Err(e);
            }
        };
        writer.commit().await.map_err(|e| internal("commit blob", e))?;
        let row = FileRow {
            id,
            uploader: user.user_id,
            name,
            mime,
            size: i64::try_from(size).map_err(|e| internal("size", e))?,
            sha256,
            created_at: sova_types::time::now_micros(),
            width: dims.map(|d| i64::from(d.0)),
            height: dims.map(|d| i64::from(d.1)),
            blurhash: None,
        };
        let quota = self.quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
        let stored = self.stores.files.insert_file(&row, quota).await;
        if !matches!(stored, Ok(true)) {
            // Not recorded: the contents must not linger unreferenced.
            if let Err(e) = self.blobs.delete(&row.id).await {
                tracing::warn!(error = %e, file = %row.id, "files: could not remove an unrecorded upload");
            }
        }
        match stored {
            Ok(true) => Ok(file_info(&row)),
            Ok(false) => Err(quota_exceeded(self.quota.unwrap_or(0), used)),
            Err(e) => Err(store_err(e)),
        }
    }

    /// Streams `body` through the checks and the sealer into `writer`: (size,
    /// SHA-256, an image's pixel size).
    async fn seal_into<S, E>(
        &self,
        writer: &mut dyn BlobWriter,
        id: &str,
        mime: &str,
        room: Option<u64>,
        used: u64,
        body: S,
    ) -> Result<(u64, String, Option<(u32, u32)>), ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut sealer = self.keys.sealer(id).map_err(|e| internal("sealer", e))?;
        let write_err = |e: std::io::Error| internal("write blob", e);
        writer.write(sealer.header()).await.map_err(write_err)?;
        let checked = sniff::is_checked_image(mime);
        let mut scan = sniff::MarkupScan::default();
        // Images keep enough of their start to read their pixel size.
        let keep = if checked { sniff::DIMENSIONS_HEAD } else { HEAD };
        let mut head = Vec::with_capacity(keep);
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut body = std::pin::pin!(body);
        while let Some(piece) = body.next().await {
            let piece = piece.map_err(|e| ApiError::bad_request(format!("upload interrupted: {e}")))?;
            size += piece.len() as u64;
            if size > self.max_upload {
                return Err(too_large(self.max_upload));
            }
            if let (Some(q), Some(room)) = (self.quota, room)
                && size > room
            {
                return Err(quota_exceeded(q, used));
            }
            if head.len() < keep {
                let take = (keep - head.len()).min(piece.len());
                head.extend_from_slice(&piece[..take]);
            }
            if checked {
                scan.feed(&piece);
            }
            hash.update(&piece);
            for chunk in sealer.push(&piece).map_err(|e| internal("seal", e))? {
                writer.write(chunk).await.map_err(write_err)?;
            }
        }
        if checked && (!sniff::signature_matches(mime, &head) || scan.found()) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("the contents are not a valid {mime} file"),
            ));
        }
        let last = sealer.finish().map_err(|e| internal("seal", e))?;
        writer.write(last).await.map_err(write_err)?;
        let dims = if checked { sniff::dimensions(mime, &head) } else { None };
        Ok((size, hex_digest(hash), dims))
    }

    /// The file when `user` may read it; `not_found` otherwise.
    pub async fn get(&self, user: UserId, id: &str) -> Result<FileRow, ApiError> {
        self.stores
            .files
            .visible_file(id, user)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("no such file"))
    }

    /// The plaintext bytes `start..=end` of `file`, decrypted chunk by chunk as the
    /// stream is read. `end` must be below the file's size (an empty file has no
    /// bytes to read: use an empty body).
    pub async fn read(
        &self,
        file: &FileRow,
        start: u64,
        end: u64,
    ) -> Result<impl Stream<Item = std::io::Result<Bytes>> + Send + 'static, ApiError> {
        let size = u64::try_from(file.size).unwrap_or(0);
        let mut header = vec![0u8; crypt::HEADER];
        let mut r = self
            .blobs
            .read(&file.id, 0, crypt::HEADER as u64)
            .await
            .map_err(|e| internal("open blob", e))?;
        r.read_exact(&mut header)
            .await
            .map_err(|e| internal("read header", e))?;
        let opener = Arc::new(self.keys.opener(&header, &file.id).map_err(|e| internal("open", e))?);
        let chunk = crypt::CHUNK as u64;
        let (first, last) = (start / chunk, end / chunk);
        let from = crypt::chunk_offset(first);
        let to = crypt::chunk_offset(last) + crypt::sealed_chunk_len(last, size);
        let reader = self
            .blobs
            .read(&file.id, from, to - from)
            .await
            .map_err(|e| internal("open blob", e))?;
        let state = (reader, first, start - first * chunk, end - start + 1);
        Ok(futures_util::stream::try_unfold(
            state,
            move |(mut reader, index, skip, left)| {
                let opener = opener.clone();
                let sealed_len = crypt::sealed_chunk_len(index, size);
                async move {
                    if left == 0 {
                        return Ok(None);
                    }
                    let mut sealed = vec![0u8; usize::try_from(sealed_len).unwrap_or(0)];
                    reader.read_exact(&mut sealed).await?;
                    let plain = opener
                        .open(index, size, &sealed)
                        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
                    let from = usize::try_from(skip).unwrap_or(0).min(plain.len());
                    let take = usize::try_from(left).unwrap_or(usize::MAX).min(plain.len() - from);
                    let piece = Bytes::from(plain).slice(from..from + take);
                    Ok(Some((piece, (reader, index + 1, 0, left - take as u64))))
                }
            },
        ))
    }

    /// Deletes a file of `user` (only its uploader may); `not_found` otherwise.
    pub async fn delete(&self, user: UserId, id: &str) -> Result<(), ApiError> {
        let row = self.stores.files.delete_file(id, user).await.map_err(store_err)?;
        let row = row.ok_or_else(|| ApiError::not_found("no such file"))?;
        if let Err(e) = self.blobs.delete(&row.id).await {
            // The row is gone, so nobody can read it; the bytes are sealed anyway.
            tracing::warn!(error = %e, file = %row.id, "files: could not remove deleted contents");
        }
        if let Err(e) = self.blobs.delete(&crate::media::thumb_key(&row.id)).await {
            tracing::warn!(error = %e, file = %row.id, "files: could not remove a deleted thumbnail");
        }
        Ok(())
    }
}

pub(crate) fn hex_digest(hash: Sha256) -> String {
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

impl FileService {
    /// The whole plaintext of `file` when it is at most `cap` bytes (`None` above):
    /// for the search indexer, which needs a document in one piece to parse it.
    pub(crate) async fn plaintext(&self, file: &FileRow, cap: u64) -> Result<Option<Vec<u8>>, ApiError> {
        let size = u64::try_from(file.size).unwrap_or(u64::MAX);
        if size > cap {
            return Ok(None);
        }
        if size == 0 {
            return Ok(Some(Vec::new()));
        }
        let mut stream = std::pin::pin!(self.read(file, 0, size - 1).await?);
        let mut out = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        while let Some(piece) = stream.next().await {
            out.extend_from_slice(&piece.map_err(|e| internal("read", e))?);
        }
        Ok(Some(out))
    }
}
