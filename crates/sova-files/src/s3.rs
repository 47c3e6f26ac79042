//! S3-compatible object storage for sealed files (`STORAGE=s3`): path-style
//! requests signed with AWS Signature Version 4, written with a multipart upload in
//! 8 MiB parts (so an upload holds at most one part in memory), read by `Range`.
//! Unfinished resumable uploads stay on local disk (`LocalBlobs`'s partial area,
//! on the instance that takes them) and are copied into the bucket, part by part,
//! when they complete.

use crate::blob::{BlobRead, BlobWriter, Blobs, LocalBlobs};
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures_util::TryStreamExt;
use hmac::{Hmac, Mac};
use reqwest::{Method, StatusCode};
use sha2::{Digest, Sha256};
use std::io;
use std::path::Path;
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// Bytes per multipart part (S3's minimum is 5 MiB for all but the last).
const PART: usize = 8 * 1024 * 1024;

/// Where the bucket is and how to sign for it.
#[derive(Clone, Debug)]
pub struct S3Config {
    /// `http(s)://host[:port]`, without the bucket.
    pub endpoint: String,
    pub bucket: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

struct Inner {
    http: reqwest::Client,
    cfg: S3Config,
    host: String,
}

/// Objects in an S3 bucket; unfinished uploads under a local directory.
pub struct S3Blobs {
    inner: Arc<Inner>,
    local: LocalBlobs,
}

fn err(what: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("s3 {what}: {e}"))
}

fn hmac(key: &[u8], data: &str) -> Vec<u8> {
    match <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(key) {
        Ok(mut m) => {
            m.update(data.as_bytes());
            m.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length; this arm is unreachable.
        Err(_) => Vec::new(),
    }
}

impl S3Blobs {
    /// A store on `cfg`'s bucket, keeping unfinished uploads under `local_root`.
    pub async fn open(cfg: S3Config, local_root: &Path) -> io::Result<S3Blobs> {
        let url = reqwest::Url::parse(&cfg.endpoint).map_err(|e| err("endpoint", e))?;
        let host = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            _ => return Err(err("endpoint", "no host")),
        };
        if url.scheme() != "http" {
            // The workspace's HTTP client is built without TLS (turning rustls on for
            // reqwest changes every client in the workspace); see docs/files.md.
            return Err(err("endpoint", "only http:// endpoints are supported in this build"));
        }
        let http = reqwest::Client::builder().build().map_err(|e| err("client", e))?;
        Ok(S3Blobs {
            inner: Arc::new(Inner { http, cfg, host }),
            local: LocalBlobs::open(local_root).await?,
        })
    }
}

impl Inner {
    /// Sends a signed request for object `key` (`query` as `(name, value)` pairs).
    async fn send(
        &self,
        method: Method,
        key: &str,
        query: &[(&str, &str)],
        extra: &[(&str, String)],
        body: Option<Bytes>,
    ) -> io::Result<reqwest::Response> {
        let now = time::OffsetDateTime::now_utc();
        let date = format!("{:04}{:02}{:02}", now.year(), u8::from(now.month()), now.day());
        let stamp = format!("{date}T{:02}{:02}{:02}Z", now.hour(), now.minute(), now.second());
        let path = format!("/{}/{key}", self.cfg.bucket);
        let mut q: Vec<(String, String)> = query.iter().map(|(k, v)| (enc(k), enc(v))).collect();
        q.sort();
        let query_str = q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let payload = "UNSIGNED-PAYLOAD";
        let signed = "host;x-amz-content-sha256;x-amz-date";
        let canonical = format!(
            "{method}\n{path}\n{query_str}\nhost:{}\nx-amz-content-sha256:{payload}\nx-amz-date:{stamp}\n\n{signed}\n{payload}",
            self.host
        );
        let scope = format!("{date}/{}/s3/aws4_request", self.cfg.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut key_bytes = hmac(format!("AWS4{}", self.cfg.secret_access_key).as_bytes(), &date);
        for part in [self.cfg.region.as_str(), "s3", "aws4_request"] {
            key_bytes = hmac(&key_bytes, part);
        }
        let signature = hex::encode(hmac(&key_bytes, &to_sign));
        let auth = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
            self.cfg.access_key_id
        );
        let mut url = format!("{}{path}", self.cfg.endpoint.trim_end_matches('/'));
        if !query_str.is_empty() {
            url = format!("{url}?{query_str}");
        }
        let mut req = self
            .http
            .request(method, url)
            .header("authorization", auth)
            .header("x-amz-content-sha256", payload)
            .header("x-amz-date", stamp);
        for (k, v) in extra {
            req = req.header(*k, v.as_str());
        }
        if let Some(b) = body {
            req = req.body(b);
        }
        req.send().await.map_err(|e| err("request", e))
    }

    async fn expect_ok(resp: reqwest::Response, what: &str) -> io::Result<reqwest::Response> {
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        if status == StatusCode::NOT_FOUND {
            return Err(io::Error::new(io::ErrorKind::NotFound, format!("s3 {what}: not found")));
        }
        let body = resp.text().await.unwrap_or_default();
        Err(err(
            what,
            format!("{status}: {}", body.chars().take(300).collect::<String>()),
        ))
    }
}

/// URI-encodes a query component the way SigV4 expects.
fn enc(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// The text of `<tag>…</tag>` in a small XML answer.
fn xml_value(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(xml[start..end].to_owned())
}

#[async_trait]
impl Blobs for S3Blobs {
    async fn create(&self, key: &str) -> io::Result<Box<dyn BlobWriter>> {
        crate::blob::check_key(key)?;
        Ok(Box::new(S3Writer {
            inner: self.inner.clone(),
            key: key.to_owned(),
            buf: BytesMut::new(),
            upload: None,
            parts: Vec::new(),
        }))
    }

    async fn read(&self, key: &str, offset: u64, len: u64) -> io::Result<BlobRead> {
        crate::blob::check_key(key)?;
        if len == 0 {
            return Ok(Box::pin(tokio::io::empty()));
        }
        let range = format!("bytes={offset}-{}", offset + len - 1);
        let resp = self
            .inner
            .send(Method::GET, key, &[], &[("range", range)], None)
            .await?;
        let resp = Inner::expect_ok(resp, "get").await?;
        let stream = resp.bytes_stream().map_err(|e| err("read", e));
        Ok(Box::pin(tokio_util::io::StreamReader::new(stream).take(len)))
    }

    async fn delete(&self, key: &str) -> io::Result<()> {
        crate::blob::check_key(key)?;
        let resp = self.inner.send(Method::DELETE, key, &[], &[], None).await?;
        match Inner::expect_ok(resp, "delete").await {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn append_partial(&self, key: &str, at: u64) -> io::Result<Box<dyn BlobWriter>> {
        self.local.append_partial(key, at).await
    }

    async fn read_partial(&self, key: &str, offset: u64, len: u64) -> io::Result<BlobRead> {
        self.local.read_partial(key, offset, len).await
    }

    async fn finish_partial(&self, key: &str) -> io::Result<()> {
        let mut src = self.local.read_partial(key, 0, u64::MAX).await?;
        let mut w = self.create(key).await?;
        let mut piece = vec![0u8; 1024 * 1024];
        loop {
            let n = match src.read(&mut piece).await {
                Ok(n) => n,
                Err(e) => {
                    w.abort().await;
                    return Err(e);
                }
            };
            if n == 0 {
                break;
            }
            if let Err(e) = w.write(Bytes::copy_from_slice(&piece[..n])).await {
                w.abort().await;
                return Err(e);
            }
        }
        w.commit().await?;
        self.local.delete_partial(key).await
    }

    async fn delete_partial(&self, key: &str) -> io::Result<()> {
        self.local.delete_partial(key).await
    }
}

/// One object being written: a plain PUT when it fits in one part, else a
/// multipart upload started when the first part is full.
struct S3Writer {
    inner: Arc<Inner>,
    key: String,
    buf: BytesMut,
    upload: Option<String>,
    parts: Vec<(usize, String)>,
}

impl S3Writer {
    async fn upload_part(&mut self, data: Bytes) -> io::Result<()> {
        let upload = match &self.upload {
            Some(u) => u.clone(),
            None => {
                let resp = self
                    .inner
                    .send(Method::POST, &self.key, &[("uploads", "")], &[], None)
                    .await?;
                let xml = Inner::expect_ok(resp, "create multipart")
                    .await?
                    .text()
                    .await
                    .map_err(|e| err("create multipart", e))?;
                let id = xml_value(&xml, "UploadId").ok_or_else(|| err("create multipart", "no UploadId"))?;
                self.upload = Some(id.clone());
                id
            }
        };
        let number = (self.parts.len() + 1).to_string();
        let resp = self
            .inner
            .send(
                Method::PUT,
                &self.key,
                &[("partNumber", &number), ("uploadId", &upload)],
                &[],
                Some(data),
            )
            .await?;
        let resp = Inner::expect_ok(resp, "upload part").await?;
        let etag = resp
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| err("upload part", "no ETag"))?
            .to_owned();
        self.parts.push((self.parts.len() + 1, etag));
        Ok(())
    }
}

#[async_trait]
impl BlobWriter for S3Writer {
    async fn write(&mut self, data: Bytes) -> io::Result<()> {
        self.buf.extend_from_slice(&data);
        while self.buf.len() >= PART {
            let part = self.buf.split_to(PART).freeze();
            self.upload_part(part).await?;
        }
        Ok(())
    }

    async fn commit(mut self: Box<Self>) -> io::Result<()> {
        let rest = std::mem::take(&mut self.buf).freeze();
        let Some(_) = &self.upload else {
            let resp = self.inner.send(Method::PUT, &self.key, &[], &[], Some(rest)).await?;
            return Inner::expect_ok(resp, "put").await.map(|_| ());
        };
        if !rest.is_empty() {
            self.upload_part(rest).await?;
        }
        let upload = self.upload.clone().unwrap_or_default();
        let mut xml = String::from("<CompleteMultipartUpload>");
        for (n, etag) in &self.parts {
            xml.push_str(&format!("<Part><PartNumber>{n}</PartNumber><ETag>{etag}</ETag></Part>"));
        }
        xml.push_str("</CompleteMultipartUpload>");
        let resp = self
            .inner
            .send(
                Method::POST,
                &self.key,
                &[("uploadId", &upload)],
                &[],
                Some(Bytes::from(xml)),
            )
            .await?;
        let resp = Inner::expect_ok(resp, "complete multipart").await?;
        // S3 may report a failed completion inside a 200 answer.
        let text = resp.text().await.map_err(|e| err("complete multipart", e))?;
        if text.contains("<Error>") {
            return Err(err("complete multipart", text.chars().take(300).collect::<String>()));
        }
        Ok(())
    }

    async fn abort(self: Box<Self>) {
        if let Some(upload) = &self.upload {
            let r = self
                .inner
                .send(Method::DELETE, &self.key, &[("uploadId", upload)], &[], None)
                .await;
            if let Err(e) = r {
                // Parts left behind are cleaned by the bucket's lifecycle rules; not
                // worth failing the request over.
                tracing::warn!(error = %e, key = %self.key, "s3: could not abort a multipart upload");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_and_encoding_helpers() {
        let xml = "<InitiateMultipartUploadResult><UploadId>abc-1</UploadId></InitiateMultipartUploadResult>";
        assert_eq!(xml_value(xml, "UploadId").as_deref(), Some("abc-1"));
        assert_eq!(xml_value(xml, "Nope"), None);
        assert_eq!(enc("a b/c~"), "a%20b%2Fc~");
    }
}
