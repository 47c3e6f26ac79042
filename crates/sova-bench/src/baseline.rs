//! The baseline: a minimal tokio server speaking the same frames as Sova on the same
//! two transports (WebSocket text messages, `\n`-terminated TCP lines), with no
//! authentication, no rules and no encryption. With `--db` every message is stored
//! in SQLite (WAL, `synchronous=FULL`, as Sova's embedded store) by one group-commit
//! writer and acknowledged only after its batch committed; without it nothing is
//! stored. It is what this machine can do, measured in the same run as Sova, so a
//! ratio to it means something on any machine.
//!
//! Frames: `auth {token}` (the token is the user id) → `auth_success`;
//! `join {chat_id}` → `result` (membership is in memory); `message {chat_id, text}` →
//! `ack` to the sender and `new_message` to every member, each push encoded once;
//! `messages {chat_id, before?, limit?}` → `result` with the page, newest last.

use anyhow::{Context, Result};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use parking_lot::RwLock;
use serde::Deserialize;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Row, SqliteConnection, SqlitePool};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use tokio::io::{AsyncWriteExt, BufWriter};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_util::codec::{FramedRead, LinesCodec};

/// Command-line arguments of `sova-bench baseline`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// WebSocket port.
    #[arg(long)]
    pub http_port: u16,
    /// TCP line-protocol port.
    #[arg(long)]
    pub tcp_port: u16,
    /// SQLite file: store every message with group commit before acknowledging it.
    #[arg(long)]
    pub db: Option<PathBuf>,
}

type Outbox = mpsc::Sender<Bytes>;

/// Pushes buffered per connection, as Sova's default `OUTBOUND_QUEUE`.
const QUEUE: usize = 1024;
/// Largest group commit.
const BATCH: usize = 1024;

#[derive(Default)]
struct Chat {
    members: RwLock<Vec<Outbox>>,
    chat_seq: AtomicI64,
}

struct Pending {
    chat: Arc<Chat>,
    chat_id: i64,
    user_id: i64,
    text: String,
    re: Option<String>,
    reply: Outbox,
}

struct State {
    chats: RwLock<HashMap<i64, Arc<Chat>>>,
    seq: AtomicI64,
    writer: Option<mpsc::Sender<Pending>>,
    reader: Option<SqlitePool>,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    token: Option<Cow<'a, str>>,
    chat_id: Option<i64>,
    text: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

/// Runs the baseline until the process is killed.
pub fn run(args: Args) -> Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(serve(args))
}

async fn serve(args: Args) -> Result<()> {
    let (writer, reader) = match &args.db {
        Some(path) => {
            let opts = SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full);
            let mut conn = opts.connect().await?;
            sqlx::query(
                "CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY, chat_id INTEGER NOT NULL, \
                 chat_seq INTEGER NOT NULL, user_id INTEGER NOT NULL, text TEXT NOT NULL, created_at TEXT NOT NULL)",
            )
            .execute(&mut conn)
            .await?;
            sqlx::query("CREATE INDEX IF NOT EXISTS messages_chat ON messages(chat_id, id)")
                .execute(&mut conn)
                .await?;
            let pool = SqlitePoolOptions::new()
                .max_connections(4)
                .connect_with(opts.read_only(true))
                .await?;
            let (tx, rx) = mpsc::channel(BATCH * 4);
            tokio::spawn(async move {
                if let Err(e) = write_loop(conn, rx).await {
                    eprintln!("baseline writer failed: {e}");
                    std::process::exit(1);
                }
            });
            (Some(tx), Some(pool))
        }
        None => (None, None),
    };
    let state = Arc::new(State {
        chats: RwLock::new(HashMap::new()),
        seq: AtomicI64::new(0),
        writer,
        reader,
    });
    let ws = TcpListener::bind(("127.0.0.1", args.http_port)).await?;
    let tcp = TcpListener::bind(("127.0.0.1", args.tcp_port)).await?;
    let s = state.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = ws.accept().await {
            let s = s.clone();
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                // The same small buffers as Sova's WebSocket listener.
                let config = WebSocketConfig::default()
                    .read_buffer_size(8 * 1024)
                    .write_buffer_size(8 * 1024)
                    .max_message_size(Some(1 << 20));
                if let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await {
                    serve_ws(s, ws).await;
                }
            });
        }
    });
    while let Ok((stream, _)) = tcp.accept().await {
        let s = state.clone();
        tokio::spawn(serve_tcp(s, stream));
    }
    Ok(())
}

async fn serve_ws(state: Arc<State>, ws: tokio_tungstenite::WebSocketStream<TcpStream>) {
    let (mut sink, mut stream) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE);
    tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(bytes) = next {
                let Ok(text) = tokio_tungstenite::tungstenite::Utf8Bytes::try_from(bytes) else {
                    return;
                };
                if sink.feed(Message::Text(text)).await.is_err() {
                    return;
                }
                next = rx.try_recv().ok();
            }
            if sink.flush().await.is_err() {
                return;
            }
        }
    });
    let mut user = 0;
    while let Some(Ok(msg)) = stream.next().await {
        if let Message::Text(t) = msg {
            handle(&state, &tx, &mut user, t.as_str()).await;
        }
    }
}

async fn serve_tcp(state: Arc<State>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let (r, w) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Bytes>(QUEUE);
    tokio::spawn(async move {
        let mut w = BufWriter::with_capacity(8 * 1024, w);
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(bytes) = next {
                if w.write_all(&bytes).await.is_err() || w.write_all(b"\n").await.is_err() {
                    return;
                }
                next = rx.try_recv().ok();
            }
            if w.flush().await.is_err() {
                return;
            }
        }
    });
    let mut lines = FramedRead::new(r, LinesCodec::new_with_max_length(1 << 20));
    let mut user = 0;
    while let Some(Ok(line)) = lines.next().await {
        handle(&state, &tx, &mut user, &line).await;
    }
}

fn answer(kind: &str, re: Option<&str>, rest: serde_json::Value) -> Bytes {
    let mut v = rest;
    if let Some(obj) = v.as_object_mut() {
        obj.insert("type".into(), kind.into());
        if let Some(re) = re {
            obj.insert("re".into(), re.into());
        }
    }
    Bytes::from(v.to_string())
}

async fn handle(state: &Arc<State>, out: &Outbox, user: &mut i64, text: &str) {
    let Ok(f) = serde_json::from_str::<Frame>(text) else {
        let _ = out
            .send(answer("error", None, serde_json::json!({"code": "bad_request"})))
            .await;
        return;
    };
    let re = f.id.as_deref();
    match f.kind.as_ref() {
        "auth" => {
            *user = f.token.as_deref().and_then(|t| t.parse().ok()).unwrap_or(0);
            let _ = out
                .send(answer("auth_success", re, serde_json::json!({"user_id": *user})))
                .await;
        }
        "join" => {
            let chat = chat(state, f.chat_id.unwrap_or(0));
            chat.members.write().push(out.clone());
            let _ = out.send(answer("result", re, serde_json::json!({"data": null}))).await;
        }
        "message" => {
            let chat_id = f.chat_id.unwrap_or(0);
            let pending = Pending {
                chat: chat(state, chat_id),
                chat_id,
                user_id: *user,
                text: f.text.unwrap_or_default(),
                re: re.map(str::to_owned),
                reply: out.clone(),
            };
            match &state.writer {
                Some(w) => {
                    let _ = w.send(pending).await;
                }
                None => {
                    let seq = state.seq.fetch_add(1, Ordering::Relaxed) + 1;
                    let chat_seq = pending.chat.chat_seq.fetch_add(1, Ordering::Relaxed) + 1;
                    deliver(&pending, seq, chat_seq, &timestamp());
                }
            }
        }
        "messages" => {
            let data = match &state.reader {
                Some(pool) => page(pool, f.chat_id.unwrap_or(0), f.before, f.limit.unwrap_or(50))
                    .await
                    .unwrap_or_default(),
                None => Vec::new(),
            };
            let _ = out.send(answer("result", re, serde_json::json!({"data": data}))).await;
        }
        "ping" => {
            let _ = out.send(answer("pong", re, serde_json::json!({}))).await;
        }
        _ => {
            let _ = out
                .send(answer("error", re, serde_json::json!({"code": "bad_request"})))
                .await;
        }
    }
}

fn chat(state: &State, id: i64) -> Arc<Chat> {
    if let Some(c) = state.chats.read().get(&id) {
        return c.clone();
    }
    state.chats.write().entry(id).or_default().clone()
}

fn timestamp() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Acknowledges to the sender and pushes to every member, the push encoded once.
fn deliver(p: &Pending, seq: i64, chat_seq: i64, ts: &str) {
    let push = Bytes::from(
        serde_json::json!({"type": "new_message", "id": seq, "chat_id": p.chat_id, "chat_seq": chat_seq,
            "user_id": p.user_id, "user": format!("u{}", p.user_id), "text": p.text, "timestamp": ts,
            "seq": seq, "kind": "text"})
        .to_string(),
    );
    if p.re.is_some() {
        let ack = answer(
            "ack",
            p.re.as_deref(),
            serde_json::json!({"message_id": seq, "chat_id": p.chat_id, "chat_seq": chat_seq, "seq": seq, "timestamp": ts}),
        );
        let _ = p.reply.try_send(ack);
    }
    for m in p.chat.members.read().iter() {
        // A full queue drops the push (Sova would cut the slow consumer off).
        let _ = m.try_send(push.clone());
    }
}

async fn write_loop(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Pending>) -> Result<()> {
    let mut seq: i64 = 0;
    let mut batch = Vec::with_capacity(BATCH);
    let mut rows = String::with_capacity(BATCH * 96);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let ts = timestamp();
        rows.clear();
        let mut seqs = Vec::with_capacity(batch.len());
        let mut arr = Vec::with_capacity(batch.len());
        for p in &batch {
            seq += 1;
            let chat_seq = p.chat.chat_seq.fetch_add(1, Ordering::Relaxed) + 1;
            seqs.push((seq, chat_seq));
            arr.push((seq, p.chat_id, chat_seq, p.user_id, p.text.as_str(), ts.as_str()));
        }
        rows.push_str(&serde_json::to_string(&arr)?);
        let mut tx = conn.begin().await?;
        sqlx::query(
            "INSERT INTO messages (id, chat_id, chat_seq, user_id, text, created_at) \
             SELECT j.value->>0, j.value->>1, j.value->>2, j.value->>3, j.value->>4, j.value->>5 FROM json_each(?1) AS j",
        )
        .bind(rows.as_str())
        .execute(&mut *tx)
        .await
        .context("storing a batch")?;
        tx.commit().await?;
        for (p, (s, cs)) in batch.drain(..).zip(seqs) {
            deliver(&p, s, cs, &ts);
        }
    }
    Ok(())
}

async fn page(pool: &SqlitePool, chat_id: i64, before: Option<i64>, limit: i64) -> Result<Vec<serde_json::Value>> {
    let rows = sqlx::query(
        "SELECT id, chat_seq, user_id, text, created_at FROM messages WHERE chat_id = ?1 AND id < ?2 \
         ORDER BY id DESC LIMIT ?3",
    )
    .bind(chat_id)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit.clamp(1, 100))
    .fetch_all(pool)
    .await?;
    let mut out: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            let id: i64 = r.get(0);
            serde_json::json!({"id": id, "chat_id": chat_id, "chat_seq": r.get::<i64, _>(1),
                "user_id": r.get::<i64, _>(2), "text": r.get::<String, _>(3), "timestamp": r.get::<String, _>(4),
                "seq": id, "kind": "text"})
        })
        .collect();
    out.reverse();
    Ok(out)
}
