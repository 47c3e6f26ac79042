//! Local fan-out: which connections of this process watch which chat. The bus hands
//! each committed event here once; the hub gives every subscribed connection a
//! clone of the same serialized bytes. Delivery never blocks: a connection whose
//! bounded queue is full is flagged as a slow consumer and closed by its own task.

use bytes::Bytes;
use parking_lot::RwLock;
use sova_bus::{BusEvent, EventSink};
use sova_types::ChatId;
use std::collections::HashMap;
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

/// One pushed event as a connection receives it.
#[derive(Clone, Debug)]
pub struct Push {
    pub seq: i64,
    pub frame: Bytes,
}

#[derive(Clone)]
struct Subscriber {
    conn: u64,
    tx: mpsc::Sender<Push>,
    overflow: CancellationToken,
}

/// Connections of this process, by chat.
#[derive(Default)]
pub struct Hub {
    chats: RwLock<HashMap<ChatId, Vec<Subscriber>>>,
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// Subscribes connection `conn` to `chats`. `overflow` is cancelled if its queue fills.
    pub fn subscribe(
        &self,
        conn: u64,
        chats: &[ChatId],
        tx: &mpsc::Sender<Push>,
        overflow: &CancellationToken,
    ) {
        let mut map = self.chats.write();
        for chat in chats {
            let subs = map.entry(*chat).or_default();
            if !subs.iter().any(|s| s.conn == conn) {
                subs.push(Subscriber {
                    conn,
                    tx: tx.clone(),
                    overflow: overflow.clone(),
                });
            }
        }
    }

    /// Removes connection `conn` from `chats`.
    pub fn unsubscribe(&self, conn: u64, chats: &[ChatId]) {
        let mut map = self.chats.write();
        for chat in chats {
            if let Some(subs) = map.get_mut(chat) {
                subs.retain(|s| s.conn != conn);
                if subs.is_empty() {
                    map.remove(chat);
                }
            }
        }
    }

    /// Number of (chat, connection) subscriptions, for tests and metrics.
    pub fn subscription_count(&self) -> usize {
        self.chats.read().values().map(Vec::len).sum()
    }
}

impl EventSink for Hub {
    fn deliver(&self, event: &BusEvent) {
        let map = self.chats.read();
        let Some(subs) = map.get(&event.chat_id) else {
            return;
        };
        for s in subs {
            let push = Push {
                seq: event.seq,
                frame: event.frame.clone(),
            };
            match s.tx.try_send(push) {
                Ok(()) => {}
                Err(TrySendError::Full(_)) => s.overflow.cancel(),
                Err(TrySendError::Closed(_)) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(chat: i64, seq: i64) -> BusEvent {
        BusEvent {
            chat_id: ChatId(chat),
            seq,
            frame: Bytes::from(format!("{{\"seq\":{seq}}}")),
        }
    }

    #[test]
    fn fans_out_only_to_subscribers_and_flags_overflow() {
        let hub = Hub::new();
        let (tx1, mut rx1) = mpsc::channel(2);
        let (tx2, mut rx2) = mpsc::channel(8);
        let (o1, o2) = (CancellationToken::new(), CancellationToken::new());
        hub.subscribe(1, &[ChatId(10), ChatId(11)], &tx1, &o1);
        hub.subscribe(2, &[ChatId(11)], &tx2, &o2);
        hub.deliver(&ev(10, 1));
        hub.deliver(&ev(11, 2));
        assert_eq!(rx1.try_recv().unwrap().seq, 1);
        assert_eq!(rx1.try_recv().unwrap().seq, 2);
        assert_eq!(rx2.try_recv().unwrap().seq, 2);
        assert!(rx2.try_recv().is_err(), "conn 2 is not in chat 10");
        // Fill conn 1's queue (capacity 2): the third push flags overflow.
        for seq in 3..6 {
            hub.deliver(&ev(10, seq));
        }
        assert!(o1.is_cancelled());
        assert!(!o2.is_cancelled());
        hub.unsubscribe(1, &[ChatId(10), ChatId(11)]);
        hub.unsubscribe(2, &[ChatId(11)]);
        assert_eq!(hub.subscription_count(), 0);
    }
}
