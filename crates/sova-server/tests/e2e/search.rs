//! Search end to end (both databases): files found by a word inside a PDF and a
//! DOCX, a Russian word found by another form, filters, pagination, edits and
//! deletes, strangers, typed refusals, and no plaintext in the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

struct Http {
    base: String,
    c: reqwest::Client,
}

impl Http {
    async fn json(&self, method: reqwest::Method, token: &str, path: &str, body: Value) -> (u16, Value) {
        let mut req = self
            .c
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if !body.is_null() {
            req = req.json(&body);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn upload(&self, token: &str, name: &str, mime: &str, data: Vec<u8>) -> String {
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
        assert_eq!(r.status().as_u16(), 201);
        let v: Value = r.json().await.unwrap();
        v["id"].as_str().unwrap().to_owned()
    }

    async fn search(&self, token: &str, query: &[(&str, &str)]) -> (u16, Value) {
        let qs: Vec<String> = query.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
        let r = self
            .c
            .get(format!("{}/api/search?{}", self.base, qs.join("&")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Searches until `done` holds for the page (the indexer runs every second).
    async fn search_until(&self, token: &str, query: &[(&str, &str)], done: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let (status, page) = self.search(token, query).await;
            assert_eq!(status, 200, "{page}");
            if done(&page) {
                return page;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "never got there: {query:?} → {page}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Percent-encodes a query-string value (everything but unreserved characters).
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn items(page: &Value) -> &Vec<Value> {
    page["items"].as_array().unwrap()
}

fn message_ids(page: &Value) -> BTreeSet<i64> {
    items(page)
        .iter()
        .map(|i| i["message"]["id"].as_i64().or(i["message_id"].as_i64()).unwrap())
        .collect()
}

async fn search_everything(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let http = Http {
        base: server.http.clone(),
        c: reqwest::Client::new(),
    };
    let (_, a) = user(&server, "sa").await;
    let (_, b) = user(&server, "sb").await;
    let (_, c) = user(&server, "sc").await;
    let (status, chat) = http
        .json(
            reqwest::Method::POST,
            &a.token,
            "/api/chats",
            json!({"type": "group", "name": "search", "members": [b.user_id.0]}),
        )
        .await;
    assert_eq!(status, 201, "{chat}");
    let chat_id = chat["id"].as_i64().unwrap();
    let (_, solo) = http
        .json(
            reqwest::Method::POST,
            &a.token,
            "/api/chats",
            json!({"type": "group", "name": "solo", "members": []}),
        )
        .await;
    let solo_id = solo["id"].as_i64().unwrap();
    let send = |token: String, chat: i64, body: Value| {
        let http = &http;
        async move {
            let (status, m) = http
                .json(
                    reqwest::Method::POST,
                    &token,
                    &format!("/api/chats/{chat}/messages"),
                    body,
                )
                .await;
            assert_eq!(status, 201, "{m}");
            m["id"].as_i64().unwrap()
        }
    };

    // Files: a word inside a PDF and inside a DOCX.
    let pdf = http
        .upload(
            &a.token,
            "q3.pdf",
            "application/pdf",
            sova_search::fixtures::pdf(&["Quarterly zebracorn forecast", "second line"]),
        )
        .await;
    let docx = http
        .upload(
            &a.token,
            "contract.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            sova_search::fixtures::docx(&["Договор поставки кроликов", "и морковки"]),
        )
        .await;
    let with_files = send(
        a.token.clone(),
        chat_id,
        json!({"text": "документы", "files": [pdf, docx]}),
    )
    .await;
    let old = send(
        a.token.clone(),
        chat_id,
        json!({"text": "Я оставил твоими книгами на столе"}),
    )
    .await;
    let by_b = send(b.token.clone(), chat_id, json!({"text": "книга от боба"})).await;
    let elsewhere = send(a.token.clone(), solo_id, json!({"text": "книга в другом чате"})).await;

    let page = http
        .search_until(&b.token, &[("q", "zebracorn")], |p| !items(p).is_empty())
        .await;
    let item = &items(&page)[0];
    assert_eq!(item["kind"], "file", "{page}");
    assert_eq!(item["file"]["id"], pdf.as_str());
    assert_eq!(item["file"]["name"], "q3.pdf");
    assert_eq!(item["chat_id"], chat_id);
    assert_eq!(item["message_id"], with_files);
    assert!(
        item["snippet"].as_str().unwrap().contains("<mark>zebracorn</mark>"),
        "{item}"
    );
    let page = http
        .search_until(&b.token, &[("q", "кролик")], |p| !items(p).is_empty())
        .await;
    assert_eq!(items(&page)[0]["file"]["id"], docx.as_str(), "{page}");
    assert!(
        items(&page)[0]["snippet"]
            .as_str()
            .unwrap()
            .contains("<mark>кроликов</mark>")
    );
    let page = http.search(&b.token, &[("q", "contract")]).await.1;
    assert_eq!(items(&page)[0]["snippet"], "<mark>contract</mark>.docx", "{page}");

    // A Russian word found by another form.
    let page = http
        .search_until(&b.token, &[("q", "книга")], |p| items(p).len() >= 2)
        .await;
    assert_eq!(
        message_ids(&page),
        BTreeSet::from([old, by_b]),
        "b is not in the solo chat"
    );
    assert_eq!(items(&page)[0]["kind"], "message");
    let snippets: Vec<&str> = items(&page).iter().map(|i| i["snippet"].as_str().unwrap()).collect();
    assert!(
        snippets.contains(&"Я оставил твоими <mark>книгами</mark> на столе"),
        "{snippets:?}"
    );
    let page = http.search(&a.token, &[("q", "книга")]).await.1;
    assert_eq!(message_ids(&page), BTreeSet::from([old, by_b, elsewhere]));

    // A stranger finds nothing, and may not name a chat they are not in.
    for q in ["книга", "zebracorn", "кролик"] {
        let (status, page) = http.search(&c.token, &[("q", q)]).await;
        assert_eq!(status, 200);
        assert!(items(&page).is_empty(), "{q}: {page}");
    }
    let chat_s = chat_id.to_string();
    let (status, e) = http.search(&c.token, &[("q", "книга"), ("chat_id", &chat_s)]).await;
    assert_eq!((status, e["code"].as_str()), (404, Some("not_found")));

    // Filters.
    let solo_s = solo_id.to_string();
    let page = http.search(&a.token, &[("q", "книга"), ("chat_id", &solo_s)]).await.1;
    assert_eq!(message_ids(&page), BTreeSet::from([elsewhere]));
    let from_b = b.user_id.0.to_string();
    let page = http.search(&a.token, &[("q", "книга"), ("from", &from_b)]).await.1;
    assert_eq!(message_ids(&page), BTreeSet::from([by_b]));
    let by_b_s = by_b.to_string();
    let page = http.search(&a.token, &[("q", "книга"), ("before", &by_b_s)]).await.1;
    assert_eq!(message_ids(&page), BTreeSet::from([old]));
    let page = http.search(&a.token, &[("q", "книга"), ("after", &by_b_s)]).await.1;
    assert_eq!(message_ids(&page), BTreeSet::from([elsewhere]));
    let page = http
        .search(
            &a.token,
            &[
                ("q", "книга"),
                ("after", "2000-01-01T00:00:00Z"),
                ("before", "2999-01-01T00:00:00+03:00"),
            ],
        )
        .await
        .1;
    assert_eq!(message_ids(&page).len(), 3);
    let page = http
        .search(&a.token, &[("q", "книга"), ("before", "2000-01-01T00:00:00Z")])
        .await
        .1;
    assert!(items(&page).is_empty());
    let page = http.search(&a.token, &[("q", "документы"), ("has", "file")]).await.1;
    assert_eq!(message_ids(&page), BTreeSet::from([with_files]), "{page}");
    let page = http.search(&a.token, &[("q", "книга"), ("has", "file")]).await.1;
    assert!(items(&page).is_empty());

    // Pagination: stable and complete.
    let mut sent = BTreeSet::new();
    for i in 0..25 {
        sent.insert(
            send(
                a.token.clone(),
                chat_id,
                json!({"text": format!("pagination item {i}")}),
            )
            .await,
        );
    }
    http.search_until(&b.token, &[("q", "pagination"), ("limit", "100")], |p| {
        items(p).len() == 25
    })
    .await;
    let (mut seen, mut cursor, mut pages) = (Vec::new(), String::new(), 0);
    loop {
        let mut q = vec![("q", "pagination"), ("limit", "10")];
        if !cursor.is_empty() {
            q.push(("cursor", &cursor));
        }
        let (status, page) = http.search(&b.token, &q).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        seen.extend(items(&page).iter().map(|i| i["message"]["id"].as_i64().unwrap()));
        match page["cursor"].as_str() {
            Some(c) => cursor = c.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25, "no result twice");
    assert_eq!(seen.iter().copied().collect::<BTreeSet<_>>(), sent);
    let mut sorted = seen.clone();
    sorted.sort_unstable_by(|x, y| y.cmp(x));
    assert_eq!(seen, sorted, "equal scores: newest first");

    // Edits replace the indexed text; deletes remove it.
    let (status, _) = http
        .json(
            reqwest::Method::PATCH,
            &a.token,
            &format!("/api/chats/{chat_id}/messages/{old}"),
            json!({"text": "теперь здесь про машины"}),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = http
        .json(
            reqwest::Method::DELETE,
            &b.token,
            &format!("/api/chats/{chat_id}/messages/{by_b}"),
            Value::Null,
        )
        .await;
    assert_eq!(status, 200);
    http.search_until(&b.token, &[("q", "машина")], |p| {
        message_ids(p) == BTreeSet::from([old])
    })
    .await;
    http.search_until(&b.token, &[("q", "книга")], |p| items(p).is_empty())
        .await;

    // Typed refusals.
    let long = "слово ".repeat(60);
    for (q, field) in [
        (vec![("q", "")], "q"),
        (vec![("q", long.as_str())], "q"),
        (vec![("q", "ab*")], "q"),
        (vec![("q", "x"), ("limit", "0")], "limit"),
        (vec![("q", "x"), ("limit", "101")], "limit"),
        (vec![("q", "x"), ("has", "photo")], "has"),
        (vec![("q", "x"), ("before", "yesterday")], "before"),
        (vec![("q", "x"), ("cursor", "nonsense")], "cursor"),
    ] {
        let (status, e) = http.search(&a.token, &q).await;
        assert_eq!(status, 400, "{q:?}: {e}");
        assert_eq!(e["code"], "bad_request");
        assert_eq!(e["details"]["field"], field, "{e}");
    }

    // Nothing readable in the database: the index holds HMAC tokens only.
    match backend {
        Backend::Sqlite => {
            let data = server.config.data_dir.clone();
            server.restart().await; // flushes the WAL into the main file
            for word in ["zebracorn", "кроликов", "машины", "pagination"] {
                assert!(!files_contain(&data, word.as_bytes()), "{word} readable on disk");
            }
            server.stop().await;
        }
        Backend::Postgres => {
            let schema = server.schema.clone().unwrap();
            let out = std::process::Command::new("pg_dump")
                .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-n", &schema])
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let dump = String::from_utf8_lossy(&out.stdout);
            assert!(
                dump.contains("COPY") && dump.contains("search_postings"),
                "the index is in the dump"
            );
            for word in ["zebracorn", "кроликов", "машины", "pagination"] {
                assert!(!dump.contains(word), "{word} readable in the dump");
            }
            server.stop().await;
        }
    }
}

/// Whether any file under `dir` (recursively) contains `needle`.
fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
    std::fs::read_dir(dir).unwrap().flatten().any(|e| {
        let path = e.path();
        if path.is_dir() {
            return files_contain(&path, needle);
        }
        let data = std::fs::read(&path).unwrap_or_default();
        data.windows(needle.len()).any(|w| w == needle)
    })
}

both_backends!(search_everything);

/// `sova admin reindex` rebuilds the index with progress while the server runs,
/// and searches find everything again afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reindex_rebuilds_while_the_server_runs() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.jwt_secret = Some(sova_config::Secret::new("reindex-test-jwt-secret-0123456789abcdef"));
        c.message_encryption_key = Some(sova_config::Secret::new(common::TEST_FERNET_KEY));
    })
    .await
    .unwrap();
    let http = Http {
        base: server.http.clone(),
        c: reqwest::Client::new(),
    };
    let (_, a) = user(&server, "ri").await;
    let (_, chat) = http
        .json(
            reqwest::Method::POST,
            &a.token,
            "/api/chats",
            json!({"type": "group", "name": "reindex", "members": []}),
        )
        .await;
    let chat_id = chat["id"].as_i64().unwrap();
    for i in 0..30 {
        let (status, _) = http
            .json(
                reqwest::Method::POST,
                &a.token,
                &format!("/api/chats/{chat_id}/messages"),
                json!({"text": format!("перестройка книгами {i}")}),
            )
            .await;
        assert_eq!(status, 201);
    }
    let q = [("q", "книга"), ("limit", "100")];
    http.search_until(&a.token, &q, |p| items(p).len() == 30).await;

    let (data, url) = (server.config.data_dir.clone(), server.config.database_url());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_sova"))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("SOVA_DATA_DIR", data)
            .env("DATABASE_URL", url)
            .env("JWT_SECRET", "reindex-test-jwt-secret-0123456789abcdef")
            .env("MESSAGE_ENCRYPTION_KEY", common::TEST_FERNET_KEY)
            .args(["admin", "reindex", "--batch", "7"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    let last = text
        .lines()
        .rev()
        .find(|l| l.starts_with("indexed "))
        .unwrap_or_default();
    let (done, total) = last
        .trim_start_matches("indexed ")
        .trim_end_matches(" messages")
        .split_once('/')
        .unwrap();
    assert_eq!(done, total, "{text}");
    assert!(total.parse::<i64>().unwrap() >= 30, "{text}");
    assert!(text.ends_with("done: the search index is rebuilt\n"), "{text}");
    http.search_until(&a.token, &q, |p| items(p).len() == 30).await;
    server.stop().await;
}
