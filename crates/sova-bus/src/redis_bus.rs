//! `RedisBus`: many `sova` instances as one. Each process keeps ONE subscriber
//! connection and subscribes only to the channels its local connections need
//! (`sova:c:<chat>`, `sova:u:<user>`); events are published once per audience and
//! fanned out locally. Sequenced events reach even this process's connections
//! through Redis, so all instances deliver them in one order (ephemeral ones, like
//! typing, are also delivered locally at once). When a channel subscription
//! becomes active, or the subscriber reconnects, local recipients are told to resync
//! from storage, so nothing published meanwhile is lost.

use crate::{Audience, BusEvent, EventBus, EventSink};
use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use parking_lot::RwLock;
use sova_types::{ChatId, UserId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

enum Out {
    Publish(String, Vec<u8>),
    Flush(oneshot::Sender<Result<(), String>>),
}

enum Ctl {
    Sub(String),
    Unsub(String),
}

struct Shared {
    instance: u64,
    prefix: String,
    sinks: RwLock<Vec<Arc<dyn EventSink>>>,
}

impl Shared {
    fn sinks(&self) -> Vec<Arc<dyn EventSink>> {
        self.sinks.read().clone()
    }
}

pub struct RedisBus {
    shared: Arc<Shared>,
    out: mpsc::UnboundedSender<Out>,
    ctl: mpsc::UnboundedSender<Ctl>,
    /// Local interest counts per channel.
    interest: parking_lot::Mutex<HashMap<String, usize>>,
}

fn channel(prefix: &str, a: Audience) -> String {
    match a {
        Audience::Chat(c) => format!("{prefix}:c:{}", c.0),
        Audience::User(u) => format!("{prefix}:u:{}", u.0),
    }
}

fn audience_of(prefix: &str, channel: &str) -> Option<Audience> {
    let rest = channel.strip_prefix(prefix)?.strip_prefix(':')?;
    let (kind, id) = rest.split_once(':')?;
    let id: i64 = id.parse().ok()?;
    match kind {
        "c" => Some(Audience::Chat(ChatId(id))),
        "u" => Some(Audience::User(UserId(id))),
        _ => None,
    }
}

/// Wire form: instance(8) then the event's JSON (its shared encoding, so a
/// publisher encodes each event once for Redis and its own clients together).
fn encode(instance: u64, e: &BusEvent) -> Vec<u8> {
    let json = e.event.json();
    let mut v = Vec::with_capacity(8 + json.len());
    v.extend_from_slice(&instance.to_be_bytes());
    v.extend_from_slice(json);
    v
}

fn decode(audience: Audience, b: &[u8]) -> Option<(u64, BusEvent)> {
    if b.len() < 9 {
        return None;
    }
    let instance = u64::from_be_bytes(b[0..8].try_into().ok()?);
    let json = Bytes::copy_from_slice(&b[8..]);
    let event: crate::Event = serde_json::from_slice(&json).ok()?;
    Some((
        instance,
        BusEvent {
            audience,
            event: crate::Shared::with_json(event, json),
        },
    ))
}

impl RedisBus {
    /// Connects (failing fast if Redis is unreachable) and starts the publisher and
    /// subscriber tasks.
    pub async fn connect(url: &str, prefix: &str) -> Result<Arc<RedisBus>, String> {
        let client = redis::Client::open(url).map_err(|e| format!("bad REDIS_URL: {e}"))?;
        let publisher = tokio::time::timeout(Duration::from_secs(10), client.get_connection_manager())
            .await
            .map_err(|_| "timed out connecting to Redis".to_owned())?
            .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        let mut raw = [0u8; 8];
        getrandom::fill(&mut raw).map_err(|e| e.to_string())?;
        let shared = Arc::new(Shared {
            instance: u64::from_be_bytes(raw),
            prefix: prefix.to_owned(),
            sinks: RwLock::new(Vec::new()),
        });
        let (out, out_rx) = mpsc::unbounded_channel();
        let (ctl, ctl_rx) = mpsc::unbounded_channel();
        tokio::spawn(publish_loop(publisher, out_rx));
        tokio::spawn(subscribe_loop(client, ctl_rx, shared.clone()));
        Ok(Arc::new(RedisBus {
            shared,
            out,
            ctl,
            interest: parking_lot::Mutex::new(HashMap::new()),
        }))
    }
}

impl EventBus for RedisBus {
    fn publish(&self, event: BusEvent) {
        // Sequenced events reach local connections through Redis too, so every
        // connection on every instance sees one order: Redis's, which the
        // publication lock makes seq order. Only ephemeral ones take the shortcut.
        if event.seq() == 0 {
            for sink in &self.shared.sinks() {
                sink.deliver(&event);
            }
        }
        let ch = channel(&self.shared.prefix, event.audience);
        let _ = self.out.send(Out::Publish(ch, encode(self.shared.instance, &event)));
    }

    fn subscribe(&self, sink: Arc<dyn EventSink>) {
        self.shared.sinks.write().push(sink);
    }

    fn interest(&self, audience: Audience, on: bool) {
        let ch = channel(&self.shared.prefix, audience);
        let mut map = self.interest.lock();
        let n = map.entry(ch.clone()).or_default();
        if on {
            *n += 1;
            if *n == 1 {
                let _ = self.ctl.send(Ctl::Sub(ch));
            }
        } else {
            *n = n.saturating_sub(1);
            if *n == 0 {
                map.remove(&ch);
                let _ = self.ctl.send(Ctl::Unsub(ch));
            }
        }
    }

    fn distributed(&self) -> bool {
        true
    }

    fn flush(&self) -> BoxFuture<'static, Result<(), String>> {
        let (tx, rx) = oneshot::channel();
        let sent = self.out.send(Out::Flush(tx)).is_ok();
        Box::pin(async move {
            if !sent {
                return Err("redis publisher stopped".to_owned());
            }
            rx.await.unwrap_or_else(|_| Err("redis publisher stopped".to_owned()))
        })
    }
}

/// Publishes in order, pipelining whatever is queued into one round trip.
async fn publish_loop(mut conn: redis::aio::ConnectionManager, mut rx: mpsc::UnboundedReceiver<Out>) {
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        let mut pipe = redis::pipe();
        let mut flushes = Vec::new();
        let mut n = 0;
        for item in batch.drain(..) {
            match item {
                Out::Publish(ch, payload) => {
                    pipe.publish(ch, payload).ignore();
                    n += 1;
                }
                Out::Flush(tx) => flushes.push(tx),
            }
        }
        let mut result = Ok(());
        if n > 0 {
            // Retry a few times: losing a publish means remote clients resync later.
            for attempt in 0..3 {
                match pipe.query_async::<()>(&mut conn).await {
                    Ok(()) => {
                        result = Ok(());
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, attempt, "redis publish failed");
                        result = Err(e.to_string());
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }
        for tx in flushes {
            let _ = tx.send(result.clone());
        }
    }
}

/// Owns the one subscriber connection; reconnects and resubscribes on failure.
async fn subscribe_loop(client: redis::Client, mut ctl: mpsc::UnboundedReceiver<Ctl>, shared: Arc<Shared>) {
    let mut wanted: std::collections::HashSet<String> = Default::default();
    let mut first = true;
    loop {
        let pubsub = match client.get_async_pubsub().await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(error = %e, "redis subscriber cannot connect; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let (mut sink, mut stream) = pubsub.split();
        let mut ok = true;
        for ch in &wanted {
            if sink.subscribe(ch).await.is_err() {
                ok = false;
                break;
            }
        }
        if !ok {
            continue;
        }
        if !first {
            tracing::info!("redis subscriber reconnected; local clients resync");
            for s in shared.sinks() {
                s.resync(None);
            }
        }
        first = false;
        loop {
            tokio::select! {
                cmd = ctl.recv() => {
                    let Some(cmd) = cmd else { return };
                    let res = match cmd {
                        Ctl::Sub(ch) => {
                            let r = sink.subscribe(&ch).await;
                            if r.is_ok() {
                                // Anything published before the subscription took
                                // effect is fetched from storage.
                                if let Some(a) = audience_of(&shared.prefix, &ch) {
                                    for s in shared.sinks() {
                                        s.resync(Some(a));
                                    }
                                }
                            }
                            wanted.insert(ch);
                            r
                        }
                        Ctl::Unsub(ch) => {
                            wanted.remove(&ch);
                            sink.unsubscribe(&ch).await
                        }
                    };
                    if let Err(e) = res {
                        tracing::warn!(error = %e, "redis subscribe command failed");
                        break;
                    }
                }
                msg = stream.next() => {
                    let Some(msg) = msg else { break };
                    let Some(audience) = audience_of(&shared.prefix, msg.get_channel_name()) else { continue };
                    let Some((instance, event)) = decode(audience, msg.get_payload_bytes()) else { continue };
                    if instance == shared.instance && event.seq() == 0 {
                        continue; // ephemeral: delivered locally at publish time
                    }
                    for s in shared.sinks() {
                        s.deliver(&event);
                    }
                }
            }
        }
        tracing::warn!("redis subscriber connection lost; reconnecting");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_roundtrip() {
        let e = BusEvent::new(
            Audience::User(UserId(9)),
            crate::Event::ChatRemoved {
                seq: 42,
                chat_id: ChatId(7),
            },
        );
        let (inst, back) = decode(Audience::User(UserId(9)), &encode(5, &e)).unwrap();
        assert_eq!(inst, 5);
        assert_eq!(back.audience, e.audience);
        assert_eq!(back.event.event(), e.event.event());
        assert_eq!(back.seq(), 42);
        assert_eq!(back.membership(), Some(crate::Membership::Left(ChatId(7))));
        assert_eq!(back.event.json(), e.event.json());
        assert_eq!(
            audience_of("p", &channel("p", Audience::Chat(ChatId(3)))),
            Some(Audience::Chat(ChatId(3)))
        );
        assert_eq!(audience_of("p", "other:c:1"), None);
        assert_eq!(audience_of("p", "p:x:1"), None);
        assert!(decode(Audience::Chat(ChatId(1)), b"short").is_none());
    }
}
