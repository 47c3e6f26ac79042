//! The `files.media` job end to end: a PNG and an EXIF-rotated JPEG get an upright
//! size, a BlurHash and a thumbnail served under the file's access rules; a
//! declared decompression bomb is refused once and stays downloadable; thumbnails
//! are sealed at rest and deleted with their file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use image::{ImageEncoder, Rgb, RgbImage};
use serde_json::{Value, json};
use std::time::Duration;

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, y| Rgb([(x * 3 % 256) as u8, (y * 5 % 256) as u8, 120]));
    let mut out = Vec::new();
    image::codecs::png::PngEncoder::new(&mut out)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A `w`×`h` JPEG whose EXIF says "rotate 90° clockwise to view" (orientation 6).
fn jpeg_rotated(w: u32, h: u32) -> Vec<u8> {
    let img = RgbImage::from_fn(w, h, |x, _| Rgb([(x % 256) as u8, 40, 200]));
    let mut plain = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut plain, 85)
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    // TIFF (big-endian) with one IFD entry: Orientation (0x0112), SHORT, 1, value 6.
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend_from_slice(&[0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0]);
    let len = u16::try_from(exif.len() + 2).unwrap().to_be_bytes();
    let mut out = plain[..2].to_vec(); // SOI
    out.extend_from_slice(&[0xFF, 0xE1, len[0], len[1]]);
    out.extend_from_slice(&exif);
    out.extend_from_slice(&plain[2..]);
    out
}

struct Api {
    base: String,
    c: reqwest::Client,
}

impl Api {
    async fn upload(&self, token: &str, name: &str, mime: &str, data: Vec<u8>) -> Value {
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
        assert_eq!(r.status(), 201);
        r.json().await.unwrap()
    }

    async fn get(&self, token: &str, path: &str) -> reqwest::Response {
        self.c
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    async fn post(&self, token: &str, path: &str, body: Value) -> Value {
        let r = self
            .c
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        r.json().await.unwrap()
    }
}

/// Waits until the media job has made `id`'s thumbnail; its bytes.
async fn ready(api: &Api, token: &str, id: &str) -> Vec<u8> {
    for _ in 0..300 {
        let r = api.get(token, &format!("/api/files/{id}/thumbnail")).await;
        if r.status() == 200 {
            return r.bytes().await.unwrap().to_vec();
        }
        assert_eq!(r.status(), 404);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no thumbnail for {id}");
}

fn stored_objects(server: &TestServer) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![server.config.files_dir()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

async fn thumbnails_blurhash_and_access(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let api = Api {
        base: server.http.clone(),
        c: reqwest::Client::new(),
    };
    let (_, a) = user(&server, "ma").await;
    let (_, b) = user(&server, "mb").await;
    let (_, stranger) = user(&server, "ms").await;

    let p = api.upload(&a.token, "wide.png", "image/png", png(640, 200)).await;
    let j = api
        .upload(&a.token, "photo.jpg", "image/jpeg", jpeg_rotated(400, 100))
        .await;
    // A PNG declaring 100000×100000: the header passes the upload check, the job refuses it.
    let mut bomb = png(1, 1);
    bomb[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    bomb[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let bomb_len = bomb.len();
    let (pid, jid) = (p["id"].as_str().unwrap(), j["id"].as_str().unwrap());
    let chat = api
        .post(
            &a.token,
            "/api/chats",
            json!({"type": "private", "members": [b.user_id.0]}),
        )
        .await;
    let chat_id = chat["id"].as_i64().unwrap();
    api.post(
        &a.token,
        &format!("/api/chats/{chat_id}/messages"),
        json!({"text": "pics", "files": [pid, jid]}),
    )
    .await;

    let jt = ready(&api, &b.token, jid).await;
    let thumb = image::load_from_memory(&jt).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (80, 320), "upright and at most 320 px");
    let pt = ready(&api, &b.token, pid).await;
    let thumb = image::load_from_memory(&pt).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 100));
    // Attachments are copied into the message when it is sent: one sent once the
    // media job is done carries the upright size and the BlurHash.
    let sent = api
        .post(
            &a.token,
            &format!("/api/chats/{chat_id}/messages"),
            json!({"text": "again", "files": [pid, jid]}),
        )
        .await;
    let pa = &sent["attachments"][0];
    assert_eq!(
        (pa["width"].as_i64(), pa["height"].as_i64()),
        (Some(640), Some(200)),
        "{pa}"
    );
    assert!(pa["blurhash"].as_str().is_some_and(|h| h.len() >= 6), "{pa}");
    let ja = &sent["attachments"][1];
    // Orientation 6 turns the 400×100 pixels into a 100×400 picture.
    assert_eq!(
        (ja["width"].as_i64(), ja["height"].as_i64()),
        (Some(100), Some(400)),
        "{ja}"
    );
    assert!(ja["blurhash"].as_str().is_some_and(|h| h.len() >= 6), "{ja}");
    let page = api
        .get(&b.token, &format!("/api/chats/{chat_id}/messages"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains(ja["blurhash"].as_str().unwrap()), "history: {page}");

    let r = api.get(&b.token, &format!("/api/files/{jid}/thumbnail")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["cache-control"].to_str().unwrap().starts_with("private"));
    let etag = r.headers()["etag"].to_str().unwrap().to_owned();
    let r = api
        .c
        .get(format!("{}/api/files/{jid}/thumbnail", api.base))
        .bearer_auth(&b.token)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 304);
    for path in [format!("/api/files/{jid}/thumbnail"), format!("/api/files/{jid}")] {
        assert_eq!(api.get(&stranger.token, &path).await.status(), 404, "{path}");
    }

    // The bomb, then a good image: the job takes them oldest first, so once the
    // second has its thumbnail the bomb has been handled, refused and marked so.
    let bid = api.upload(&a.token, "bomb.png", "image/png", bomb).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let after = api.upload(&a.token, "after.png", "image/png", png(10, 10)).await;
    ready(&api, &a.token, after["id"].as_str().unwrap()).await;
    assert_eq!(
        api.get(&a.token, &format!("/api/files/{bid}/thumbnail")).await.status(),
        404
    );
    let r = api.get(&a.token, &format!("/api/files/{bid}")).await;
    assert_eq!(r.status(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), bomb_len);
    // A non-image never has one.
    let t = api.upload(&a.token, "a.txt", "text/plain", b"hello".to_vec()).await;
    let tid = t["id"].as_str().unwrap();
    assert_eq!(
        api.get(&a.token, &format!("/api/files/{tid}/thumbnail")).await.status(),
        404
    );

    // Deleting the file removes the original and the thumbnail.
    if backend == Backend::Sqlite {
        let before = stored_objects(&server).len();
        let r = api
            .c
            .delete(format!("{}/api/files/{pid}", api.base))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 204);
        assert_eq!(stored_objects(&server).len(), before - 2);
    }
    server.stop().await;
}

both_backends!(thumbnails_blurhash_and_access);

/// A thumbnail is sealed like its file: no object holds its pixels in the clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thumbnails_are_encrypted_at_rest() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let api = Api {
        base: server.http.clone(),
        c: reqwest::Client::new(),
    };
    let (_, a) = user(&server, "mt").await;
    let f = api.upload(&a.token, "small.png", "image/png", png(64, 64)).await;
    let id = f["id"].as_str().unwrap();
    let thumb = ready(&api, &a.token, id).await;
    assert!(thumb.len() > 100);
    let objects = stored_objects(&server);
    assert_eq!(objects.len(), 2, "the original and its thumbnail");
    for p in objects {
        let bytes = std::fs::read(&p).unwrap();
        // The JPEG's start (SOI + JFIF APP0) would be there if it were stored plain.
        assert!(
            !bytes.windows(16).any(|w| w == &thumb[..16]),
            "{} holds the thumbnail",
            p.display()
        );
    }
    server.stop().await;
}
