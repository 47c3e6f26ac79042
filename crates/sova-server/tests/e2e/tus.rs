//! Resumable uploads (tus 1.0 core + creation) end to end: creation limits,
//! appends that keep only whole chunks, an upload interrupted mid-request and
//! resumed from the offset the server reports, conflicts, other users, the file it
//! becomes, type checks at completion, and empty uploads.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use base64::Engine;
use common::{Backend, TestServer, user};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

const LIMIT: u64 = 300_000;
const CHUNK: u64 = 64 * 1024;

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 13 % 251) as u8).collect()
}

fn b64(s: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(s)
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

struct Tus {
    base: String,
    c: reqwest::Client,
}

impl Tus {
    async fn create(&self, token: &str, length: u64, meta: &str) -> reqwest::Response {
        self.c
            .post(format!("{}/api/uploads", self.base))
            .bearer_auth(token)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", length.to_string())
            .header("upload-metadata", meta)
            .send()
            .await
            .unwrap()
    }

    async fn patch(&self, token: &str, id: &str, offset: u64, data: Vec<u8>) -> reqwest::Response {
        self.c
            .patch(format!("{}/api/uploads/{id}", self.base))
            .bearer_auth(token)
            .header("tus-resumable", "1.0.0")
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(data)
            .send()
            .await
            .unwrap()
    }

    async fn offset(&self, token: &str, id: &str) -> (u16, Option<u64>) {
        let r = self
            .c
            .head(format!("{}/api/uploads/{id}", self.base))
            .bearer_auth(token)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), header(&r, "upload-offset").parse().ok())
    }
}

/// Sends a PATCH that announces `announced` bytes but carries only `data`, then
/// closes the connection: the request breaks off mid-body.
async fn broken_patch(server: &TestServer, token: &str, id: &str, offset: u64, announced: usize, data: &[u8]) {
    let addr = server.http.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PATCH /api/uploads/{id} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nTus-Resumable: 1.0.0\r\n\
         Content-Type: application/offset+octet-stream\r\nUpload-Offset: {offset}\r\nContent-Length: {announced}\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    s.write_all(data).await.unwrap();
    s.flush().await.unwrap();
    s.shutdown().await.unwrap();
    drop(s);
}

async fn resumable_uploads(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| c.max_upload_bytes = LIMIT).await else {
        return;
    };
    let tus = Tus {
        base: server.http.clone(),
        c: reqwest::Client::new(),
    };
    let (_, a) = user(&server, "ta").await;
    let (_, b) = user(&server, "tb").await;

    // Creation: the protocol header, a length within the limit.
    let r = tus
        .c
        .post(format!("{}/api/uploads", server.http))
        .bearer_auth(&a.token)
        .header("upload-length", "5")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 412, "no Tus-Resumable");
    let r = tus.create(&a.token, LIMIT + 1, "").await;
    assert_eq!(r.status(), 413);
    assert_eq!(r.json::<Value>().await.unwrap()["code"], "too_large");

    let size = 200_000usize;
    let data = pattern(size);
    let r = tus
        .create(
            &a.token,
            size as u64,
            &format!("filename {},filetype {}", b64("großes.bin"), b64("application/x-test")),
        )
        .await;
    assert_eq!(r.status(), 201);
    let location = header(&r, "location");
    assert_eq!(header(&r, "upload-offset"), "0");
    let id = location.strip_prefix("/api/uploads/").unwrap().to_owned();

    // 100 000 bytes arrive; one whole chunk is kept, and the offset says so.
    let r = tus.patch(&a.token, &id, 0, data[..100_000].to_vec()).await;
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), CHUNK.to_string());
    assert_eq!(tus.offset(&a.token, &id).await, (200, Some(CHUNK)));

    // Interrupted: 70 000 of 100 000 announced bytes, then the connection closes.
    broken_patch(
        &server,
        &a.token,
        &id,
        CHUNK,
        100_000,
        &data[CHUNK as usize..CHUNK as usize + 70_000],
    )
    .await;
    let mut offset = CHUNK;
    for _ in 0..200 {
        offset = tus.offset(&a.token, &id).await.1.unwrap();
        if offset != CHUNK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(offset, 2 * CHUNK, "the whole chunk of the broken request is kept");

    // Wrong offset, wrong type, someone else's upload.
    let r = tus.patch(&a.token, &id, 0, b"x".to_vec()).await;
    assert_eq!(r.status(), 409);
    assert_eq!(r.json::<Value>().await.unwrap()["details"]["offset"], 2 * CHUNK);
    let r = tus
        .c
        .patch(format!("{}/api/uploads/{id}", server.http))
        .bearer_auth(&a.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", (2 * CHUNK).to_string())
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    assert_eq!(tus.offset(&b.token, &id).await.0, 404);
    assert_eq!(tus.patch(&b.token, &id, 2 * CHUNK, b"x".to_vec()).await.status(), 404);
    let r = tus.create(&a.token, 5, "").await;
    let small = header(&r, "location").strip_prefix("/api/uploads/").unwrap().to_owned();
    let r = tus.patch(&a.token, &small, 0, b"0123456789".to_vec()).await;
    assert_eq!(r.status(), 400, "more bytes than Upload-Length");
    assert_eq!(tus.offset(&a.token, &small).await, (200, Some(0)));

    // Resumed from the reported offset: the upload completes and is a file.
    let r = tus
        .patch(&a.token, &id, 2 * CHUNK, data[2 * CHUNK as usize..].to_vec())
        .await;
    assert_eq!(r.status(), 204);
    assert_eq!(header(&r, "upload-offset"), size.to_string());
    assert_eq!(header(&r, "x-file-id"), id);
    let r = tus
        .c
        .get(format!("{}/api/files/{id}", server.http))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "application/x-test");
    assert_eq!(
        header(&r, "content-disposition"),
        "attachment; filename*=UTF-8''gro%C3%9Fes.bin"
    );
    assert_eq!(r.bytes().await.unwrap().to_vec(), data);
    let view: Value = tus
        .c
        .get(format!("{}/api/uploads/{id}", server.http))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(view["file"]["size"], size as u64);
    assert_eq!(view["file"]["name"], "großes.bin");
    assert_eq!(view["offset"], size as u64);
    assert_eq!(
        tus.offset(&b.token, &id).await.0,
        404,
        "not shared: b cannot see the file"
    );

    // A fake image is refused when it completes, and nothing of it remains.
    let r = tus
        .create(
            &a.token,
            20,
            &format!("filename {},filetype {}", b64("x.png"), b64("image/png")),
        )
        .await;
    let fake = header(&r, "location").strip_prefix("/api/uploads/").unwrap().to_owned();
    let r = tus.patch(&a.token, &fake, 0, b"<html>not a png</htm".to_vec()).await;
    assert_eq!(r.status(), 415);
    assert_eq!(tus.offset(&a.token, &fake).await.0, 404);

    // An empty upload is complete at creation.
    let r = tus.create(&a.token, 0, "").await;
    assert_eq!(r.status(), 201);
    let empty = header(&r, "x-file-id");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        (body["file"]["size"].as_u64(), body["file"]["id"].as_str()),
        (Some(0), Some(empty.as_str()))
    );
    let r = tus
        .c
        .get(format!("{}/api/files/{empty}", server.http))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.unwrap().is_empty());
    server.stop().await;
}

both_backends!(resumable_uploads);
