//! Files end to end: uploads (raw and multipart) at the size limit and around it,
//! the quota, names, type checks; downloads with ranges, ETags and headers;
//! attachments on messages (REST, socket frame, `new_message`, history) and who
//! may read a file; deletion; nothing readable at rest; bounded memory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use serde_json::{Value, json};

/// The size limit these tests run with (more than two 64 KiB chunks).
const LIMIT: u64 = 200_000;

struct Http {
    base: String,
    c: reqwest::Client,
}

impl Http {
    fn new(server: &TestServer) -> Http {
        Http {
            base: server.http.clone(),
            c: reqwest::Client::new(),
        }
    }

    /// A raw upload: (status, body).
    async fn upload(&self, token: &str, name: &str, mime: &str, data: Vec<u8>) -> (u16, Value) {
        let r = self
            .c
            .post(format!("{}/api/files", self.base))
            .bearer_auth(token)
            .header("content-type", mime)
            .header("x-filename", name)
            .body(data)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn multipart(&self, token: &str, part: &str, name: &str, mime: &str, data: &[u8]) -> (u16, Value) {
        let boundary = "sovaTestBoundary7d2";
        let mut body =
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n").into_bytes();
        body.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{part}\"; filename=\"{name}\"\r\nContent-Type: {mime}\r\n\r\n"
            )
            .bytes(),
        );
        body.extend_from_slice(data);
        body.extend(format!("\r\n--{boundary}--\r\n").bytes());
        let r = self
            .c
            .post(format!("{}/api/files", self.base))
            .bearer_auth(token)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, token: &str, id: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut req = self.c.get(format!("{}/api/files/{id}", self.base)).bearer_auth(token);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send().await.unwrap()
    }

    async fn delete(&self, token: &str, id: &str) -> u16 {
        let r = self
            .c
            .delete(format!("{}/api/files/{id}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        r.status().as_u16()
    }

    async fn json(&self, method: reqwest::Method, token: &str, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .c
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

fn header(r: &reqwest::Response, name: &str) -> String {
    r.headers()
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// A tiny valid PNG (1×1).
const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89\0\0\0\rIDATx\x9cc\xf8\xff\xff?\0\x05\xfe\x02\xfe\xa7\x35\x81\x84\0\0\0\0IEND\xaeB`\x82";

async fn uploads_sizes_limits_names_and_types(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.max_upload_bytes = LIMIT;
        c.user_quota_bytes = Some(3 * LIMIT);
    })
    .await
    else {
        return;
    };
    let http = Http::new(&server);
    let (_, a) = user(&server, "fa").await;

    // 0 bytes, 1 byte, exactly the limit: stored and read back exactly.
    for size in [0usize, 1, LIMIT as usize] {
        let data = pattern(size);
        let (status, f) = http
            .upload(&a.token, "data.bin", "application/octet-stream", data.clone())
            .await;
        assert_eq!(status, 201, "{size}: {f}");
        assert_eq!(f["size"], size as u64);
        assert_eq!(f["sha256"], sha256_hex(&data));
        assert_eq!(f["mime"], "application/octet-stream");
        assert!(f["created_at"].as_str().unwrap().ends_with('Z'));
        let r = http.get(&a.token, f["id"].as_str().unwrap(), &[]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "content-length"), size.to_string());
        assert_eq!(r.bytes().await.unwrap().to_vec(), data, "{size}");
        assert_eq!(http.delete(&a.token, f["id"].as_str().unwrap()).await, 204);
    }
    // One byte over: too_large with the limit, by declared length and by multipart
    // (whose length is only known while streaming).
    let (status, e) = http
        .upload(&a.token, "big", "application/octet-stream", pattern(LIMIT as usize + 1))
        .await;
    assert_eq!((status, e["code"].as_str()), (413, Some("too_large")), "{e}");
    assert_eq!(e["details"]["max"], LIMIT);
    let (status, e) = http
        .multipart(
            &a.token,
            "file",
            "big.bin",
            "application/octet-stream",
            &pattern(LIMIT as usize + 1),
        )
        .await;
    assert_eq!((status, e["code"].as_str()), (413, Some("too_large")), "{e}");

    // Multipart: the part named `file`, its name and type.
    let (status, f) = http
        .multipart(&a.token, "file", "notes.txt", "text/plain", b"hello")
        .await;
    assert_eq!(status, 201, "{f}");
    assert_eq!(
        (f["name"].as_str(), f["mime"].as_str(), f["size"].as_u64()),
        (Some("notes.txt"), Some("text/plain"), Some(5))
    );
    let (status, e) = http.multipart(&a.token, "other", "x", "text/plain", b"x").await;
    assert_eq!((status, e["code"].as_str()), (400, Some("bad_request")), "{e}");

    // Names: paths and control characters never survive; headers stay well-formed.
    let (_, f) = http
        .upload(&a.token, "..%2F..%2Fetc%2Fpasswd", "text/plain", b"x".to_vec())
        .await;
    assert_eq!(f["name"], "passwd");
    let (_, f) = http
        .upload(&a.token, "a%0D%0ASet-Cookie%3A%20x%00.txt", "text/plain", b"x".to_vec())
        .await;
    assert_eq!(f["name"], "aSet-Cookie: x.txt");
    let r = http.get(&a.token, f["id"].as_str().unwrap(), &[]).await;
    assert_eq!(
        header(&r, "content-disposition"),
        "attachment; filename*=UTF-8''aSet-Cookie%3A%20x.txt"
    );
    assert!(r.headers().get("set-cookie").is_none());
    let (status, e) = http.upload(&a.token, "%FF%FE", "text/plain", b"x".to_vec()).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (400, Some("bad_request")),
        "not UTF-8: {e}"
    );

    // Types: a real PNG is inline; an "image" that is not one, or a polyglot, is refused.
    let (status, png) = http.upload(&a.token, "dot.png", "image/png", PNG.to_vec()).await;
    assert_eq!(status, 201, "{png}");
    assert_eq!(
        (png["width"].as_i64(), png["height"].as_i64()),
        (Some(1), Some(1)),
        "{png}"
    );
    let r = http.get(&a.token, png["id"].as_str().unwrap(), &[]).await;
    assert_eq!(header(&r, "content-type"), "image/png");
    assert_eq!(header(&r, "content-disposition"), "inline; filename*=UTF-8''dot.png");
    let (status, e) = http
        .upload(
            &a.token,
            "fake.png",
            "image/png",
            b"<html><script>alert(1)</script>".to_vec(),
        )
        .await;
    assert_eq!(
        (status, e["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{e}"
    );
    let (status, _) = http
        .upload(&a.token, "gif.png", "image/png", b"GIF89a\x01\0\x01\0".to_vec())
        .await;
    assert_eq!(status, 415, "a GIF is not a PNG");
    let mut polyglot = PNG.to_vec();
    polyglot.extend_from_slice(b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script>");
    let (status, e) = http.upload(&a.token, "poly.png", "image/png", polyglot).await;
    assert_eq!(
        (status, e["code"].as_str()),
        (415, Some("unsupported_media_type")),
        "{e}"
    );
    // HTML is stored as declared but only ever served as a sandboxed download.
    let (_, html) = http
        .upload(
            &a.token,
            "page.html",
            "text/html",
            b"<script>alert(1)</script>".to_vec(),
        )
        .await;
    let r = http.get(&a.token, html["id"].as_str().unwrap(), &[]).await;
    assert_eq!(header(&r, "content-type"), "text/html");
    assert_eq!(header(&r, "x-content-type-options"), "nosniff");
    assert!(header(&r, "content-disposition").starts_with("attachment;"));
    assert!(header(&r, "content-security-policy").contains("sandbox"));

    // Quota: 3 × LIMIT in all; what is stored counts, deleting frees it.
    let mut ids = Vec::new();
    loop {
        let (status, f) = http
            .upload(&a.token, "q", "application/octet-stream", pattern(LIMIT as usize))
            .await;
        if status != 201 {
            assert_eq!((status, f["code"].as_str()), (413, Some("quota_exceeded")), "{f}");
            break;
        }
        ids.push(f["id"].as_str().unwrap().to_owned());
        assert!(ids.len() <= 3, "quota not enforced");
    }
    assert_eq!(ids.len(), 2, "small files above use part of the quota");
    assert_eq!(http.delete(&a.token, &ids[0]).await, 204);
    let (status, _) = http
        .upload(&a.token, "q", "application/octet-stream", pattern(LIMIT as usize))
        .await;
    assert_eq!(status, 201, "deleting freed quota");
    server.stop().await;
}

async fn downloads_ranges_etags_and_access(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| c.max_upload_bytes = LIMIT).await else {
        return;
    };
    let http = Http::new(&server);
    let (_, a) = user(&server, "fa").await;
    let (_, b) = user(&server, "fb").await;
    let (_, stranger) = user(&server, "fs").await;
    let data = pattern(150_000);
    let (_, f) = http
        .upload(&a.token, "r%C3%A9sum%C3%A9.pdf", "application/pdf", data.clone())
        .await;
    let id = f["id"].as_str().unwrap().to_owned();
    assert_eq!(f["name"], "résumé.pdf");

    let r = http.get(&a.token, &id, &[]).await;
    let etag = header(&r, "etag");
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&data)));
    assert_eq!(header(&r, "content-type"), "application/pdf");
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    assert_eq!(
        header(&r, "content-disposition"),
        "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    );
    // Ranges within a chunk, across chunk boundaries, open-ended and suffix.
    for (range, from, to) in [
        ("bytes=0-0", 0usize, 0usize),
        ("bytes=65530-131080", 65_530, 131_080),
        ("bytes=140000-", 140_000, 149_999),
        ("bytes=-10", 149_990, 149_999),
        ("bytes=100-99999999", 100, 149_999),
    ] {
        let r = http.get(&a.token, &id, &[("range", range)]).await;
        assert_eq!(r.status(), 206, "{range}");
        assert_eq!(header(&r, "content-range"), format!("bytes {from}-{to}/150000"));
        assert_eq!(r.bytes().await.unwrap().to_vec(), data[from..=to], "{range}");
    }
    let r = http.get(&a.token, &id, &[("range", "bytes=150000-")]).await;
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "content-range"), "bytes */150000");
    let r = http.get(&a.token, &id, &[("if-none-match", &etag)]).await;
    assert_eq!(r.status(), 304);
    // If-Range with another version: the whole file.
    let r = http
        .get(&a.token, &id, &[("range", "bytes=0-9"), ("if-range", "\"other\"")])
        .await;
    assert_eq!(r.status(), 200);

    // Not shared yet: b does not see it (404, the same as a file that never existed).
    assert_eq!(http.get(&b.token, &id, &[]).await.status(), 404);
    assert_eq!(http.get(&b.token, "AAAAAAAAAAAAAAAAAAAAAA", &[]).await.status(), 404);
    assert_eq!(http.get(&b.token, "..%2F..%2Fsova.db", &[]).await.status(), 404);

    // Shared in a private chat with b: b reads it; the stranger still gets 404.
    let (status, chat) = http
        .json(
            reqwest::Method::POST,
            &a.token,
            "/api/chats",
            json!({"type": "private", "members": [b.user_id.0]}),
        )
        .await;
    assert!(status == 201 || status == 200, "{chat}");
    let chat_id = chat["id"].as_i64().unwrap();
    let mut brt = server.ws().await;
    brt.auth_token(&b.token, None).await.unwrap();
    let (status, msg) = http
        .json(
            reqwest::Method::POST,
            &a.token,
            &format!("/api/chats/{chat_id}/messages"),
            json!({"text": "the CV", "files": [id]}),
        )
        .await;
    assert_eq!(status, 201, "{msg}");
    let expected = json!([{"file_id": id, "name": "résumé.pdf", "size": 150_000, "mime": "application/pdf"}]);
    assert_eq!(msg["attachments"], expected);
    let pushed = brt.recv_type("new_message").await.unwrap();
    assert_eq!(pushed["attachments"], expected, "{pushed}");
    let (_, page) = http
        .json(
            reqwest::Method::GET,
            &b.token,
            &format!("/api/chats/{chat_id}/messages"),
            Value::Null,
        )
        .await;
    let listed = page.as_array().or_else(|| page["messages"].as_array()).unwrap();
    assert!(listed.iter().any(|m| m["attachments"] == expected), "history: {page}");
    let r = http.get(&b.token, &id, &[("range", "bytes=10-19")]).await;
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().to_vec(), data[10..20]);
    assert_eq!(http.get(&stranger.token, &id, &[]).await.status(), 404);

    // Only the uploader attaches a file, and only the uploader deletes it.
    let (status, e) = http
        .json(
            reqwest::Method::POST,
            &b.token,
            &format!("/api/chats/{chat_id}/messages"),
            json!({"files": [id]}),
        )
        .await;
    assert_eq!((status, e["code"].as_str()), (404, Some("not_found")), "{e}");
    let (status, e) = http
        .json(
            reqwest::Method::POST,
            &a.token,
            &format!("/api/chats/{chat_id}/messages"),
            json!({"files": ["bad id!"]}),
        )
        .await;
    assert_eq!((status, e["code"].as_str()), (400, Some("bad_request")), "{e}");
    assert_eq!(http.delete(&b.token, &id).await, 404);

    // The socket `message` frame carries files too.
    let (_, f2) = http.upload(&a.token, "two.txt", "text/plain", b"second".to_vec()).await;
    let mut art = server.ws().await;
    art.auth_token(&a.token, None).await.unwrap();
    art.send(&json!({"type": "message", "id": "m1", "chat_id": chat_id, "files": [f2["id"]]}))
        .await
        .unwrap();
    let pushed = brt.recv_type("new_message").await.unwrap();
    assert_eq!(pushed["attachments"][0]["file_id"], f2["id"], "{pushed}");
    assert_eq!(pushed["text"], "");
    let r = http.get(&b.token, f2["id"].as_str().unwrap(), &[]).await;
    assert_eq!(r.bytes().await.unwrap().as_ref(), b"second");

    // An image's pixel size travels with it.
    let (_, png) = http.upload(&a.token, "dot.png", "image/png", PNG.to_vec()).await;
    let (status, msg) = http
        .json(
            reqwest::Method::POST,
            &a.token,
            &format!("/api/chats/{chat_id}/messages"),
            json!({"files": [png["id"]]}),
        )
        .await;
    assert_eq!(status, 201, "{msg}");
    assert_eq!(
        msg["attachments"][0],
        json!({"file_id": png["id"], "name": "dot.png", "size": PNG.len(), "mime": "image/png", "width": 1, "height": 1})
    );
    let pushed_png = brt.recv_type("new_message").await.unwrap();
    assert_eq!(pushed_png["attachments"][0]["width"], 1);

    // Deleting the message unshares its files; deleting a file removes it for all.
    let mid = pushed["id"].as_i64().unwrap();
    let (status, _) = http
        .json(
            reqwest::Method::DELETE,
            &a.token,
            &format!("/api/chats/{chat_id}/messages/{mid}"),
            Value::Null,
        )
        .await;
    assert!(status < 300, "delete message: {status}");
    assert_eq!(http.get(&b.token, f2["id"].as_str().unwrap(), &[]).await.status(), 404);
    assert_eq!(http.get(&a.token, f2["id"].as_str().unwrap(), &[]).await.status(), 200);
    assert_eq!(http.delete(&a.token, &id).await, 204);
    assert_eq!(http.get(&b.token, &id, &[]).await.status(), 404);
    assert_eq!(http.get(&a.token, &id, &[]).await.status(), 404);
    assert_eq!(http.delete(&a.token, &id).await, 404);

    // Every file route needs a session.
    let r = reqwest::Client::new()
        .get(format!("{}/api/files/{}", server.http, f2["id"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    server.stop().await;
}

both_backends!(uploads_sizes_limits_names_and_types, downloads_ranges_etags_and_access);

/// Nothing under the files directory reveals the contents.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contents_are_encrypted_at_rest() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let http = Http::new(&server);
    let (_, a) = user(&server, "fe").await;
    let marker = b"SOVA-PLAINTEXT-MARKER-0123456789".repeat(5_000);
    let (status, f) = http.upload(&a.token, "secret.txt", "text/plain", marker.clone()).await;
    assert_eq!(status, 201);
    let mut found = 0;
    let mut stack = vec![server.config.files_dir()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p).unwrap();
                assert!(
                    !bytes.windows(22).any(|w| w == b"SOVA-PLAINTEXT-MARKER-"),
                    "{} holds plaintext",
                    p.display()
                );
                found += 1;
            }
        }
    }
    assert_eq!(found, 1, "one stored object");
    let r = http.get(&a.token, f["id"].as_str().unwrap(), &[]).await;
    assert_eq!(r.bytes().await.unwrap().to_vec(), marker);
    server.stop().await;
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

/// Kills the spawned server when the test ends, however it ends.
struct Killer(std::process::Child);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The real `sova` binary (its own process, so its memory is measured alone)
/// moves a file much larger than the memory growth allowed, up and down: its peak
/// resident size grows by far less than the file, so neither direction holds it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_files_stream_in_bounded_memory() {
    use std::io::BufRead;
    const SIZE: u64 = 192 * 1024 * 1024;
    const ALLOWED_KIB: u64 = 48 * 1024;
    let dir = tempfile::tempdir().unwrap();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_sova"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SOVA_DATA_DIR", dir.path().join("data"))
        .env("BIND_ADDR", "127.0.0.1")
        .env("HTTP_PORT", "0")
        .env("TCP_PORT", "0")
        .env("MAX_UPLOAD_BYTES", SIZE.to_string())
        .env("LOG_FORMAT", "json")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = Killer(child);
    let pid = child.0.id();
    let mut lines = std::io::BufReader::new(child.0.stderr.take().unwrap()).lines();
    let http = loop {
        let line = lines.next().expect("sova exited before serving").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        if v["message"] == "sova is serving" {
            break format!("http://{}", v["http_addr"].as_str().unwrap());
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines.by_ref() {});
    let name = common::uname("fm");
    let pair = sova_client::RestClient::new(&http)
        .unwrap()
        .signup(&name, common::PASSWORD)
        .await
        .unwrap();
    // Reset the server's peak (VmHWM) to its current size, then read the peak after.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let before = status_kib(pid, "VmRSS:");
    let piece = bytes::Bytes::from(pattern(1024 * 1024));
    let pieces =
        futures_util::stream::iter((0..SIZE / (1024 * 1024)).map(move |_| Ok::<_, std::io::Error>(piece.clone())));
    let r = reqwest::Client::new()
        .post(format!("{http}/api/files"))
        .bearer_auth(&pair.token)
        .header("content-type", "application/octet-stream")
        .header("x-filename", "big.bin")
        .body(reqwest::Body::wrap_stream(pieces))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let f: Value = r.json().await.unwrap();
    assert_eq!(f["size"], SIZE);
    let mut r = reqwest::Client::new()
        .get(format!("{http}/api/files/{}", f["id"].as_str().unwrap()))
        .bearer_auth(&pair.token)
        .send()
        .await
        .unwrap();
    let mut total = 0u64;
    while let Some(chunk) = r.chunk().await.unwrap() {
        total += chunk.len() as u64;
    }
    assert_eq!(total, SIZE);
    let peak = status_kib(pid, "VmHWM:");
    let grew = peak.saturating_sub(before);
    eprintln!(
        "server peak RSS grew by {grew} KiB moving a {} MiB file each way",
        SIZE >> 20
    );
    assert!(
        grew < ALLOWED_KIB,
        "server peak RSS grew by {grew} KiB moving a {} MiB file",
        SIZE >> 20
    );
}
