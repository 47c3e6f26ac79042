//! Gateway tier: connections driven through an in-memory frame stream and sink (no
//! sockets): pipelining and send order, malformed frames, abuse, and a peer that
//! stops reading.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use futures_util::Stream;
use parking_lot::Mutex;
use serde_json::{Value, json};
use sova_bus::{EventBus, LocalBus};
use sova_config::{Config, Secret};
use sova_gateway::{CloseReason, FrameSink, Gateway, Inbound};
use sova_service::Services;
use sova_service::auth::{Client, LoginResult};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
const WAIT: Duration = Duration::from_secs(20);

async fn services(tweak: impl FnOnce(&mut Config)) -> (Arc<Services>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().join("data"),
        jwt_secret: Some(Secret::new("gateway-tier-test-secret-".repeat(2))),
        message_encryption_key: Some(Secret::new(KEY)),
        rate_limit_frames_per_sec: 100_000,
        rate_limit_messages_per_min: 100_000,
        ..Config::default()
    };
    tweak(&mut config);
    let store = sova_store_sqlite::SqliteStore::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let stores = store
        .with_cipher(sova_store::cipher::Cipher::new(KEY).unwrap())
        .stores();
    let bus: Arc<dyn EventBus> = Arc::new(LocalBus::new());
    let (services, _tasks) = Services::start(Arc::new(config), stores, bus).await.unwrap();
    (services, dir)
}

async fn token(s: &Services, name: &str) -> String {
    let client = Client::from_ip([127, 0, 0, 1].into());
    s.auth.register(name, "correct horse battery", &client).await.unwrap();
    match s.auth.login(name, "correct horse battery", &client).await.unwrap() {
        LoginResult::Tokens(pair) => pair.token,
        LoginResult::SecondFactor { .. } => panic!("no 2FA here"),
    }
}

/// What the connection wrote, and how it closed.
#[derive(Clone, Default)]
struct Written {
    frames: Arc<Mutex<Vec<Value>>>,
    closed: Arc<Mutex<Option<CloseReason>>>,
    /// While set, writes never complete (a peer that stopped reading).
    stalled: Arc<AtomicBool>,
    wake: Arc<tokio::sync::Notify>,
}

struct MemSink(Written);

impl FrameSink for MemSink {
    async fn feed(&mut self, frame: Bytes) -> std::io::Result<()> {
        if self.0.stalled.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        self.0.frames.lock().push(serde_json::from_slice(&frame).unwrap());
        self.0.wake.notify_waiters();
        Ok(())
    }
    async fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
    async fn close(&mut self, reason: CloseReason) {
        *self.0.closed.lock() = Some(reason);
        self.0.wake.notify_waiters();
    }
}

struct Conn {
    tx: mpsc::UnboundedSender<Inbound>,
    out: Written,
    done: tokio::task::JoinHandle<()>,
}

fn stream(mut rx: mpsc::UnboundedReceiver<Inbound>) -> impl Stream<Item = Inbound> + Unpin + Send {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

fn connect(gw: &Arc<Gateway>) -> Conn {
    let (tx, rx) = mpsc::unbounded_channel();
    let out = Written::default();
    let peer = "127.0.0.1:40000".parse().unwrap();
    let done = tokio::spawn(gw.clone().serve(
        stream(rx),
        MemSink(out.clone()),
        peer,
        "test".into(),
        CancellationToken::new(),
    ));
    Conn { tx, out, done }
}

impl Conn {
    fn send(&self, frame: Value) {
        self.tx.send(Inbound::Frame(Bytes::from(frame.to_string()))).unwrap();
    }
    fn send_raw(&self, text: &str) {
        self.tx.send(Inbound::Frame(Bytes::from(text.to_owned()))).unwrap();
    }
    /// Waits until `pred` holds for the frames written so far.
    async fn until(&self, what: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let notified = self.out.wake.notified();
            {
                let frames = self.out.frames.lock();
                if pred(&frames) {
                    return frames.clone();
                }
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("timed out waiting for {what}: {:?}", self.out.frames.lock());
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_frames_are_answered_with_their_re_and_writes_keep_send_order() {
    let (s, _dir) = services(|_| {}).await;
    let gw = Gateway::new(s.clone());
    let t = token(&s, "alice").await;
    let c = connect(&gw);
    // Nothing waits: auth, a hundred messages and a ping in one go.
    c.send(json!({"type": "auth", "id": "a", "token": t}));
    for i in 0..100 {
        c.send(json!({"type": "message", "id": format!("m{i}"), "text": format!("n{i}")}));
    }
    c.send(json!({"type": "ping", "id": "p"}));
    let frames = c
        .until("every answer", |f| {
            f.iter().filter(|x| x["type"] == "ack").count() == 100 && f.iter().any(|x| x["type"] == "pong")
        })
        .await;
    assert_eq!(frames[0]["type"], "auth_success", "auth runs alone, first");
    let acks: Vec<(&str, i64)> = frames
        .iter()
        .filter(|x| x["type"] == "ack")
        .map(|x| (x["re"].as_str().unwrap(), x["seq"].as_i64().unwrap()))
        .collect();
    let expected: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
    assert_eq!(acks.iter().map(|a| a.0.to_owned()).collect::<Vec<_>>(), expected);
    assert!(acks.windows(2).all(|w| w[0].1 < w[1].1), "stored in send order");
    let pushed: Vec<&str> = frames
        .iter()
        .filter(|x| x["type"] == "new_message")
        .filter_map(|x| x["text"].as_str())
        .collect();
    let sent: Vec<String> = (0..100).map(|i| format!("n{i}")).collect();
    let pushed_ours: Vec<String> = pushed
        .iter()
        .filter(|t| t.starts_with('n'))
        .map(|t| (*t).to_owned())
        .collect();
    assert_eq!(pushed_ours, sent, "delivered in send order");
    drop(c.tx);
    tokio::time::timeout(WAIT, c.done).await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_get_typed_errors_and_the_connection_stays_usable() {
    let (s, _dir) = services(|_| {}).await;
    let gw = Gateway::new(s.clone());
    let t = token(&s, "bob").await;
    let c = connect(&gw);
    c.send(json!({"type": "auth", "token": t}));
    c.until("auth", |f| f.iter().any(|x| x["type"] == "auth_success")).await;
    c.send_raw("{not json");
    c.send(json!({"type": "teleport", "id": "t1"}));
    c.send(json!({"type": "send", "id": "s1", "chat_id": "not a number"}));
    c.tx.send(Inbound::TooLarge).unwrap();
    c.send(json!({"type": "ping", "id": "alive"}));
    let frames = c.until("pong", |f| f.iter().any(|x| x["re"] == "alive")).await;
    let errors: Vec<(&str, Option<&str>)> = frames
        .iter()
        .filter(|x| x["type"] == "error")
        .map(|x| (x["code"].as_str().unwrap(), x["re"].as_str()))
        .collect();
    assert_eq!(
        errors,
        vec![
            ("bad_request", None),
            ("bad_request", Some("t1")),
            ("bad_request", Some("s1")),
            ("too_large", None)
        ]
    );
    let too_large = frames.iter().find(|x| x["code"] == "too_large").unwrap();
    assert!(too_large["details"]["max"].as_u64().is_some(), "{too_large}");
    assert!(c.out.closed.lock().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_malformed_frames_close_the_connection() {
    let (s, _dir) = services(|_| {}).await;
    let gw = Gateway::new(s.clone());
    let c = connect(&gw);
    for _ in 0..60 {
        c.send_raw("][");
    }
    tokio::time::timeout(WAIT, c.done).await.unwrap().unwrap();
    assert_eq!(*c.out.closed.lock(), Some(CloseReason::Policy));
    let frames = c.out.frames.lock();
    assert_eq!(frames.last().unwrap()["code"], "rate_limited", "{:?}", frames.last());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_cut_off_as_a_slow_consumer() {
    let (s, _dir) = services(|c| c.outbound_queue = 4).await;
    let gw = Gateway::new(s.clone());
    let (reader, writer, bystander) = (
        token(&s, "reader").await,
        token(&s, "writer").await,
        token(&s, "bystander").await,
    );
    let (reader_user, writer_user) = (
        s.auth.authenticate(&reader).await.unwrap(),
        s.auth.authenticate(&writer).await.unwrap(),
    );
    let (chat, _) = s
        .chats
        .create(
            writer_user.user_id,
            sova_types::models::ChatKind::Group,
            Some("flood"),
            &[sova_service::chats::UserRef::Id(reader_user.user_id)],
        )
        .await
        .unwrap();
    let slow = connect(&gw);
    slow.send(json!({"type": "auth", "token": reader}));
    slow.until("auth", |f| f.iter().any(|x| x["type"] == "auth_success"))
        .await;
    slow.out.stalled.store(true, Ordering::SeqCst);
    let other = connect(&gw);
    other.send(json!({"type": "auth", "token": bystander}));
    other
        .until("auth", |f| f.iter().any(|x| x["type"] == "auth_success"))
        .await;
    for i in 0..20 {
        let p = sova_service::messages::SendParams {
            chat: Some(chat.id),
            text: format!("flood {i}"),
            ..Default::default()
        };
        s.messages.send_with(&writer_user, p).await.unwrap();
    }
    // The stalled connection ends by itself, without waiting for its blocked write.
    tokio::time::timeout(WAIT, slow.done).await.unwrap().unwrap();
    assert_eq!(*slow.out.closed.lock(), Some(CloseReason::TryAgainLater));
    other.send(json!({"type": "ping", "id": "still"}));
    other.until("pong", |f| f.iter().any(|x| x["re"] == "still")).await;
    assert!(other.out.closed.lock().is_none(), "other connections are unaffected");
}
