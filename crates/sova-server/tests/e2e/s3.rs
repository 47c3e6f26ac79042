//! `STORAGE=s3` against a real S3 implementation: moto's server (PyPI
//! `moto[server]`, installed by scripts/deps.sh), started here on a free port.
//! Uploads (plain, multipart-sized and resumable), ranges, deletion, and that the
//! bucket holds only ciphertext, read back with an independent client (boto3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use serde_json::Value;
use sova_config::{Secret, Storage};
use std::process::{Child, Command, Stdio};

const BUCKET: &str = "sova-files";

/// A moto S3 server for one test; killed on drop.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto[server] is required for the S3 tests (scripts/deps.sh installs it)");
    let moto = Moto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let mut up = false;
    for _ in 0..300 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "moto did not start");
    boto(&moto, &format!("s3.create_bucket(Bucket='{BUCKET}')"));
    moto
}

/// Runs Python with `s3` a boto3 client of `moto`; returns its stdout.
fn boto(moto: &Moto, code: &str) -> String {
    let script = format!(
        "import boto3\ns3 = boto3.client('s3', endpoint_url='{}', region_name='us-east-1', \
         aws_access_key_id='test', aws_secret_access_key='test')\n{code}\n",
        moto.endpoint
    );
    let out = Command::new("python3").args(["-c", &script]).output().unwrap();
    assert!(out.status.success(), "boto3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn keys(moto: &Moto) -> Vec<String> {
    let out = boto(
        moto,
        &format!("for o in s3.list_objects_v2(Bucket='{BUCKET}').get('Contents', []): print(o['Key'])"),
    );
    out.lines().map(str::to_owned).collect()
}

fn pattern(len: usize, seed: usize) -> Vec<u8> {
    (0..len).map(|i| ((i * 31 + seed) % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_storage_against_moto() {
    let moto = moto().await;
    let endpoint = moto.endpoint.clone();
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.storage = Storage::S3;
        c.s3_endpoint = Some(endpoint);
        c.s3_bucket = Some(BUCKET.into());
        c.s3_access_key_id = Some(Secret::new("test"));
        c.s3_secret_access_key = Some(Secret::new("test"));
        c.max_upload_bytes = 32 * 1024 * 1024;
    })
    .await
    .unwrap();
    let (_, a) = user(&server, "s3").await;
    let http = reqwest::Client::new();
    let upload = |data: Vec<u8>, name: &str| {
        http.post(format!("{}/api/files", server.http))
            .bearer_auth(&a.token)
            .header("content-type", "text/plain")
            .header("x-filename", name)
            .body(data)
            .send()
    };

    // A small file (one PUT) and one of 20 MiB (a multipart upload of 3 parts).
    let mut small = b"SOVA-S3-PLAINTEXT-MARKER ".repeat(100);
    small.extend(pattern(1000, 1));
    let big = pattern(20 * 1024 * 1024 + 123, 7);
    let mut ids = Vec::new();
    for (data, name) in [(small.clone(), "small.txt"), (big.clone(), "big.bin")] {
        let r = upload(data.clone(), name).await.unwrap();
        assert_eq!(r.status(), 201);
        let f: Value = r.json().await.unwrap();
        let id = f["id"].as_str().unwrap().to_owned();
        let got = http
            .get(format!("{}/api/files/{id}", server.http))
            .bearer_auth(&a.token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert!(got.as_ref() == data.as_slice(), "{name} reads back");
        let r = http
            .get(format!("{}/api/files/{id}", server.http))
            .bearer_auth(&a.token)
            .header("range", "bytes=70000-200000")
            .send()
            .await
            .unwrap();
        if data.len() > 200_000 {
            assert_eq!(r.status(), 206);
            assert!(r.bytes().await.unwrap().as_ref() == &data[70_000..=200_000]);
        }
        ids.push(id);
    }

    // A resumable upload lands in the bucket when it completes.
    let r = http
        .post(format!("{}/api/uploads", server.http))
        .bearer_auth(&a.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", "100000")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let tus_id = r.headers()["location"]
        .to_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let data = pattern(100_000, 3);
    let r = http
        .patch(format!("{}/api/uploads/{tus_id}", server.http))
        .bearer_auth(&a.token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(data.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let got = http
        .get(format!("{}/api/files/{tus_id}", server.http))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert!(got.as_ref() == data.as_slice());
    ids.push(tus_id);

    // The bucket holds exactly these objects, and only ciphertext.
    let mut stored = keys(&moto);
    stored.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(stored, expected);
    let found = boto(
        &moto,
        &format!(
            "print(sum(b'SOVA-S3-PLAINTEXT-MARKER' in s3.get_object(Bucket='{BUCKET}', Key=k)['Body'].read() \
             for k in {ids:?}))"
        ),
    );
    assert_eq!(found.trim(), "0", "plaintext in the bucket");

    // Deleting removes the object.
    let r = http
        .delete(format!("{}/api/files/{}", server.http, ids[0]))
        .bearer_auth(&a.token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    assert!(!keys(&moto).contains(&ids[0]));
    server.stop().await;
}
