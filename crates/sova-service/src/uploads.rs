//! Resumable uploads (tus 1.0 core + creation; the HTTP side is in `sova-api-http`).
//!
//! Bytes are sealed into the blob store's unfinished object as whole 64 KiB chunks
//! and synced before the upload's offset moves, so the offset a client is told
//! always names durable data and nothing is ever stored in the clear. A request that
//! ends (or breaks) in the middle of a chunk keeps the chunks before it: the reported
//! offset is the end of the last whole chunk, and the client resumes from there, as
//! tus allows. When the last byte arrives, the contents are checked (hash, image
//! signature, markup) by decrypting them once more, chunk by chunk, and the upload
//! becomes a file like any other.

use crate::AuthUser;
use crate::files::{FileService, file_info, hex_digest, internal, new_id, quota_exceeded, too_large};
use crate::store_err;
use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};
use sova_files::crypt::{self, CHUNK};
use sova_files::sniff;
use sova_store::{FileRow, UploadRow};
use sova_types::models::FileInfo;
use sova_types::{ApiError, ErrorCode, UserId};
use tokio::io::AsyncReadExt;

/// Uploads one user may have in progress at once.
pub const MAX_OPEN_UPLOADS: i64 = 20;
/// How long an upload may stay unfinished before the clean-up job removes it.
pub const UPLOAD_TTL: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// A resumable upload as the client announced it.
pub struct NewResumable {
    pub name: String,
    pub mime: Option<String>,
    /// `Upload-Length`.
    pub length: u64,
}

/// Where an upload stands.
#[derive(Clone, Debug)]
pub struct Progress {
    /// `Upload-Offset`: bytes received and durable.
    pub offset: u64,
    /// `Upload-Length`.
    pub length: u64,
    /// The file, once the upload is complete.
    pub file: Option<FileInfo>,
}

/// Marks an upload busy for as long as it lives.
struct Busy<'a> {
    set: &'a parking_lot::Mutex<std::collections::HashSet<String>>,
    id: String,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.set.lock().remove(&self.id);
    }
}

fn conflict_at(message: &str, offset: i64) -> ApiError {
    ApiError::conflict(message).with_details(serde_json::json!({ "offset": offset }))
}

impl FileService {
    /// Starts a resumable upload of `length` bytes; refused up front when it is
    /// over the size limit or the quota. Returns its id and state (an empty upload
    /// is complete at once).
    pub async fn create_upload(&self, user: &AuthUser, r: NewResumable) -> Result<(String, Progress), ApiError> {
        if r.length > self.max_upload {
            return Err(too_large(self.max_upload));
        }
        let used = u64::try_from(self.stores.files.bytes_used(user.user_id).await.map_err(store_err)?).unwrap_or(0);
        let (open, reserved) = self.stores.files.uploads_open(user.user_id).await.map_err(store_err)?;
        if open >= MAX_OPEN_UPLOADS {
            return Err(ApiError::conflict(format!(
                "at most {MAX_OPEN_UPLOADS} uploads may be in progress at once; finish or wait for older ones"
            )));
        }
        // Uploads in progress count against the quota: their bytes are on disk.
        let used = used.saturating_add(u64::try_from(reserved).unwrap_or(0));
        if let Some(q) = self.quota
            && used.saturating_add(r.length) > q
        {
            return Err(quota_exceeded(q, used));
        }
        let id = new_id()?;
        let header = self.keys.new_header().map_err(|e| internal("header", e))?;
        let mut w = self
            .blobs
            .append_partial(&id, 0)
            .await
            .map_err(|e| internal("create upload", e))?;
        w.write(Bytes::copy_from_slice(&header))
            .await
            .map_err(|e| internal("write upload", e))?;
        w.commit().await.map_err(|e| internal("write upload", e))?;
        let row = UploadRow {
            id: id.clone(),
            uploader: user.user_id,
            name: sniff::safe_name(&r.name),
            mime: sniff::normalize_mime(r.mime.as_deref()),
            length: i64::try_from(r.length).map_err(|e| internal("length", e))?,
            received: 0,
            created_at: sova_types::time::now_micros(),
        };
        if let Err(e) = self.stores.files.create_upload(&row).await {
            let _ = self.blobs.delete_partial(&id).await;
            return Err(store_err(e));
        }
        if r.length == 0 {
            // Nothing will ever be appended: an empty upload is complete at once.
            let sealer = self.keys.chunk_sealer(&header, &id).map_err(|e| internal("seal", e))?;
            let last = sealer.seal(0, 0, &[]).map_err(|e| internal("seal", e))?;
            let mut w = self
                .blobs
                .append_partial(&id, crypt::HEADER as u64)
                .await
                .map_err(|e| internal("write upload", e))?;
            w.write(last).await.map_err(|e| internal("write upload", e))?;
            w.commit().await.map_err(|e| internal("write upload", e))?;
            let file = self.finish_upload(&row).await?;
            let done = Progress {
                offset: 0,
                length: 0,
                file: Some(file),
            };
            return Ok((id, done));
        }
        Ok((
            id,
            Progress {
                offset: 0,
                length: r.length,
                file: None,
            },
        ))
    }

    /// Where `user`'s upload `id` stands; a finished one shows its file.
    pub async fn upload_progress(&self, user: UserId, id: &str) -> Result<Progress, ApiError> {
        if let Some(row) = self.stores.files.upload(id, user).await.map_err(store_err)? {
            return Ok(Progress {
                offset: u64::try_from(row.received).unwrap_or(0),
                length: u64::try_from(row.length).unwrap_or(0),
                file: None,
            });
        }
        let file = self.stores.files.visible_file(id, user).await.map_err(store_err)?;
        match file {
            Some(f) if f.uploader == user => {
                let size = u64::try_from(f.size).unwrap_or(0);
                Ok(Progress {
                    offset: size,
                    length: size,
                    file: Some(file_info(&f)),
                })
            }
            _ => Err(ApiError::not_found("no such upload")),
        }
    }

    /// Appends `body` (of `declared` bytes, when the client said) to `user`'s upload
    /// `id` at `offset` (which must be where the upload stands: `conflict`
    /// otherwise, with `details.offset`). Whole chunks are kept even when the body
    /// breaks off; the last byte completes the upload.
    pub async fn append<S, E>(
        &self,
        user: &AuthUser,
        id: &str,
        offset: u64,
        declared: Option<u64>,
        body: S,
    ) -> Result<Progress, ApiError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        if !self.busy.lock().insert(id.to_owned()) {
            return Err(ApiError::conflict("another request is writing this upload"));
        }
        let _busy = Busy {
            set: &self.busy,
            id: id.to_owned(),
        };
        let row = self
            .stores
            .files
            .upload(id, user.user_id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("no such upload"))?;
        if i64::try_from(offset).ok() != Some(row.received) {
            return Err(conflict_at("Upload-Offset does not match the upload", row.received));
        }
        let length = u64::try_from(row.length).unwrap_or(0);
        if declared.is_some_and(|n| offset.saturating_add(n) > length) {
            return Err(ApiError::bad_request("more bytes than Upload-Length"));
        }
        let mut header = vec![0u8; crypt::HEADER];
        self.blobs
            .read_partial(id, 0, crypt::HEADER as u64)
            .await
            .map_err(|e| internal("open upload", e))?
            .read_exact(&mut header)
            .await
            .map_err(|e| internal("read upload", e))?;
        let sealer = self.keys.chunk_sealer(&header, id).map_err(|e| internal("seal", e))?;
        let mut pos = offset;
        let stored_at = crypt::chunk_offset(pos / CHUNK as u64);
        let mut writer = self
            .blobs
            .append_partial(id, stored_at)
            .await
            .map_err(|e| internal("open upload", e))?;
        let mut buf = BytesMut::new();
        let mut failure = None;
        let mut body = std::pin::pin!(body);
        while let Some(piece) = body.next().await {
            let piece = match piece {
                Ok(p) => p,
                Err(e) => {
                    failure = Some(ApiError::bad_request(format!("upload interrupted: {e}")));
                    break;
                }
            };
            if pos + (buf.len() + piece.len()) as u64 > length {
                failure = Some(ApiError::bad_request("more bytes than Upload-Length"));
                break;
            }
            buf.extend_from_slice(&piece);
            loop {
                let need = usize::try_from((length - pos).min(CHUNK as u64)).unwrap_or(CHUNK);
                if need == 0 || buf.len() < need {
                    break;
                }
                let plain = buf.split_to(need);
                let sealed = sealer
                    .seal(pos / CHUNK as u64, length, &plain)
                    .map_err(|e| internal("seal", e))?;
                writer.write(sealed).await.map_err(|e| internal("write upload", e))?;
                pos += need as u64;
            }
        }
        // What is sealed is kept even when the request failed: the client resumes.
        writer.commit().await.map_err(|e| internal("sync upload", e))?;
        let (from, to) = (row.received, i64::try_from(pos).unwrap_or(row.received));
        if to != from
            && !self
                .stores
                .files
                .advance_upload(id, from, to)
                .await
                .map_err(store_err)?
        {
            return Err(ApiError::conflict("the upload moved meanwhile"));
        }
        if let Some(e) = failure {
            return Err(e);
        }
        let file = if pos == length {
            let row = UploadRow { received: to, ..row };
            Some(self.finish_upload(&row).await?)
        } else {
            None
        };
        Ok(Progress {
            offset: pos,
            length,
            file,
        })
    }

    /// Checks a complete upload (decrypting it once more) and turns it into a file;
    /// on refusal nothing of it remains.
    async fn finish_upload(&self, row: &UploadRow) -> Result<FileInfo, ApiError> {
        let checked = self.check_upload(row).await;
        let (sha256, dims) = match checked {
            Ok(done) => done,
            Err(e) => {
                self.drop_upload(&row.id).await;
                return Err(e);
            }
        };
        if let Err(e) = self.blobs.finish_partial(&row.id).await {
            return Err(internal("finish upload", e));
        }
        let file = FileRow {
            id: row.id.clone(),
            uploader: row.uploader,
            name: row.name.clone(),
            mime: row.mime.clone(),
            size: row.length,
            sha256,
            created_at: sova_types::time::now_micros(),
            width: dims.map(|d| i64::from(d.0)),
            height: dims.map(|d| i64::from(d.1)),
            blurhash: None,
        };
        let quota = self.quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
        let stored = self.stores.files.insert_file(&file, quota).await;
        if !matches!(stored, Ok(true)) {
            let _ = self.blobs.delete(&row.id).await;
        }
        let _ = self.stores.files.delete_upload(&row.id).await;
        match stored {
            Ok(true) => Ok(file_info(&file)),
            Ok(false) => {
                let used = self.stores.files.bytes_used(row.uploader).await.unwrap_or(0);
                Err(quota_exceeded(
                    self.quota.unwrap_or(0),
                    u64::try_from(used).unwrap_or(0),
                ))
            }
            Err(e) => Err(store_err(e)),
        }
    }

    /// The SHA-256 of a complete upload (and an image's pixel size), after its
    /// type checks.
    async fn check_upload(&self, row: &UploadRow) -> Result<(String, Option<(u32, u32)>), ApiError> {
        let size = u64::try_from(row.length).unwrap_or(0);
        let total = crypt::stored_len(size);
        let mut r = self
            .blobs
            .read_partial(&row.id, 0, total)
            .await
            .map_err(|e| internal("open upload", e))?;
        let mut header = vec![0u8; crypt::HEADER];
        r.read_exact(&mut header)
            .await
            .map_err(|e| internal("read upload", e))?;
        let opener = self.keys.opener(&header, &row.id).map_err(|e| internal("open", e))?;
        let checked = sniff::is_checked_image(&row.mime);
        let mut scan = sniff::MarkupScan::default();
        let mut head = Vec::new();
        let mut hash = Sha256::new();
        for index in 0..crypt::chunk_count(size) {
            let mut sealed = vec![0u8; usize::try_from(crypt::sealed_chunk_len(index, size)).unwrap_or(0)];
            r.read_exact(&mut sealed)
                .await
                .map_err(|e| internal("read upload", e))?;
            let plain = opener
                .open(index, size, &sealed)
                .map_err(|e| internal("open upload", e))?;
            if index == 0 {
                head = plain.iter().take(sniff::DIMENSIONS_HEAD).copied().collect();
            }
            if checked {
                scan.feed(&plain);
            }
            hash.update(&plain);
        }
        if checked && (!sniff::signature_matches(&row.mime, &head) || scan.found()) {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                format!("the contents are not a valid {} file", row.mime),
            ));
        }
        let dims = if checked {
            sniff::dimensions(&row.mime, &head)
        } else {
            None
        };
        Ok((hex_digest(hash), dims))
    }

    /// Removes uploads created before `before` (microseconds) that never finished,
    /// with their bytes; returns how many went. Run by the `uploads.purge_abandoned`
    /// job.
    pub async fn purge_abandoned_uploads(&self, before: i64) -> Result<u64, ApiError> {
        let mut n = 0;
        // One bounded round per run; the job comes back for the rest.
        for id in self.stores.files.stale_uploads(before, 1000).await.map_err(store_err)? {
            if self.busy.lock().contains(&id) {
                continue; // being written right now: next time
            }
            self.drop_upload(&id).await;
            n += 1;
        }
        Ok(n)
    }

    async fn drop_upload(&self, id: &str) {
        if let Err(e) = self.blobs.delete_partial(id).await {
            tracing::warn!(error = %e, upload = %id, "files: could not remove a refused upload");
        }
        if let Err(e) = self.stores.files.delete_upload(id).await {
            tracing::warn!(error = %e, upload = %id, "files: could not forget a refused upload");
        }
    }
}
