//! Local fan-out: which connections of this process watch which chat and user. The
//! bus hands each committed event here once; the hub gives every recipient
//! connection a clone of the same `SharedEvent` (a reference count: the event is
//! encoded at most once, whatever the number of recipients). Delivery never blocks: a
//! connection whose bounded queue is full is flagged as a slow consumer and closed
//! by its own task. The hub also tells the bus which audiences this process needs
//! (so a Redis-backed bus subscribes only to those) and relays resync requests.

use parking_lot::RwLock;
use sova_bus::{Audience, BusEvent, Event, EventBus, EventSink, Membership, Shared, SharedEvent};
use sova_types::{ChatId, UserId};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Weak};
use tokio::sync::mpsc;
use tokio::sync::mpsc::error::TrySendError;
use tokio_util::sync::CancellationToken;

/// One pushed event as a connection receives it.
pub type Push = SharedEvent;

#[derive(Clone)]
struct Subscriber {
    conn: u64,
    tx: mpsc::Sender<Push>,
    overflow: CancellationToken,
}

#[derive(Default)]
struct Inner {
    chats: HashMap<ChatId, Vec<Subscriber>>,
    users: HashMap<UserId, Vec<Subscriber>>,
    /// Each connection's user and chats, to unregister it completely.
    conns: HashMap<u64, (UserId, HashSet<ChatId>)>,
}

/// Connections of this process, by chat and by user.
#[derive(Default)]
pub struct Hub {
    inner: RwLock<Inner>,
    /// Told when this process starts or stops needing an audience's events.
    bus: Option<Weak<dyn EventBus>>,
}

/// Removes `conn` under `key`; true when that emptied the key.
fn remove_sub<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<Subscriber>>, key: K, conn: u64) -> bool {
    if let Some(subs) = map.get_mut(&key) {
        subs.retain(|s| s.conn != conn);
        if subs.is_empty() {
            map.remove(&key);
            return true;
        }
    }
    false
}

/// Adds `sub` under `key`; true when the key was new.
fn add_sub<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Vec<Subscriber>>, key: K, sub: &Subscriber) -> bool {
    let list = map.entry(key).or_default();
    let first = list.is_empty();
    if !list.iter().any(|s| s.conn == sub.conn) {
        list.push(sub.clone());
    }
    first
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    /// A hub that reports its interest in chats and users to `bus`.
    pub fn with_bus(bus: &Arc<dyn EventBus>) -> Self {
        Hub {
            inner: RwLock::default(),
            bus: Some(Arc::downgrade(bus)),
        }
    }

    fn interest(&self, changes: Vec<(Audience, bool)>) {
        let Some(bus) = self.bus.as_ref().and_then(Weak::upgrade) else {
            return;
        };
        for (a, on) in changes {
            bus.interest(a, on);
        }
    }

    /// Registers connection `conn` of `user`, watching `chats`. `overflow` is
    /// cancelled if its queue fills.
    pub fn register(
        &self,
        conn: u64,
        user: UserId,
        chats: &[ChatId],
        tx: &mpsc::Sender<Push>,
        overflow: &CancellationToken,
    ) {
        let sub = Subscriber {
            conn,
            tx: tx.clone(),
            overflow: overflow.clone(),
        };
        let mut changes = Vec::new();
        {
            let mut inner = self.inner.write();
            let entry = inner.conns.entry(conn).or_insert_with(|| (user, HashSet::new()));
            let new: Vec<ChatId> = chats.iter().copied().filter(|c| entry.1.insert(*c)).collect();
            for chat in new {
                if add_sub(&mut inner.chats, chat, &sub) {
                    changes.push((Audience::Chat(chat), true));
                }
            }
            if add_sub(&mut inner.users, user, &sub) {
                changes.push((Audience::User(user), true));
            }
        }
        self.interest(changes);
    }

    /// Removes connection `conn` everywhere.
    pub fn unregister(&self, conn: u64) {
        let mut changes = Vec::new();
        {
            let mut inner = self.inner.write();
            let Some((user, chats)) = inner.conns.remove(&conn) else {
                return;
            };
            for chat in chats {
                if remove_sub(&mut inner.chats, chat, conn) {
                    changes.push((Audience::Chat(chat), false));
                }
            }
            if remove_sub(&mut inner.users, user, conn) {
                changes.push((Audience::User(user), false));
            }
        }
        self.interest(changes);
    }

    /// Number of (chat, connection) subscriptions, for tests and metrics.
    pub fn subscription_count(&self) -> usize {
        self.inner.read().chats.values().map(Vec::len).sum()
    }

    /// Whether any local connection watches `chat`.
    pub fn watches(&self, chat: ChatId) -> bool {
        self.inner.read().chats.contains_key(&chat)
    }

    fn apply_membership(&self, user: UserId, change: Membership) {
        let mut changes = Vec::new();
        {
            let mut inner = self.inner.write();
            let subs = inner.users.get(&user).cloned().unwrap_or_default();
            for sub in subs {
                match change {
                    Membership::Joined(chat) => {
                        if let Some((_, chats)) = inner.conns.get_mut(&sub.conn)
                            && chats.insert(chat)
                            && add_sub(&mut inner.chats, chat, &sub)
                        {
                            changes.push((Audience::Chat(chat), true));
                        }
                    }
                    Membership::Left(chat) => {
                        if let Some((_, chats)) = inner.conns.get_mut(&sub.conn) {
                            chats.remove(&chat);
                        }
                        if remove_sub(&mut inner.chats, chat, sub.conn) {
                            changes.push((Audience::Chat(chat), false));
                        }
                    }
                }
            }
        }
        self.interest(changes);
    }
}

impl EventSink for Hub {
    fn deliver(&self, event: &BusEvent) {
        {
            let inner = self.inner.read();
            let subs = match event.audience {
                Audience::Chat(c) => inner.chats.get(&c),
                Audience::User(u) => inner.users.get(&u),
            };
            for s in subs.into_iter().flatten() {
                match s.tx.try_send(event.event.clone()) {
                    Ok(()) => {}
                    Err(TrySendError::Full(_)) => s.overflow.cancel(),
                    Err(TrySendError::Closed(_)) => {}
                }
            }
        }
        if let (Audience::User(user), Some(change)) = (event.audience, event.membership()) {
            self.apply_membership(user, change);
        }
    }

    fn resync(&self, audience: Option<Audience>) {
        let inner = self.inner.read();
        let targets: Vec<&Subscriber> = match audience {
            Some(Audience::Chat(c)) => inner.chats.get(&c).into_iter().flatten().collect(),
            Some(Audience::User(u)) => inner.users.get(&u).into_iter().flatten().collect(),
            None => inner.users.values().flatten().collect(),
        };
        let resync = Shared::new(Event::Resync);
        for s in targets {
            if let Err(TrySendError::Full(_)) = s.tx.try_send(resync.clone()) {
                s.overflow.cancel();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(audience: Audience, seq: i64, membership: Option<Membership>) -> BusEvent {
        let event = match membership {
            Some(Membership::Joined(chat)) => Event::ChatAdded {
                seq,
                chat: sova_types::models::Chat {
                    id: chat,
                    kind: sova_types::models::ChatKind::Group,
                    name: "g".into(),
                    member_count: 1,
                    last_seq: 0,
                    created_at: "2026-01-01T00:00:00Z".into(),
                    role: None,
                    unread: None,
                    last_read_seq: None,
                    muted: false,
                    last_message: None,
                },
            },
            Some(Membership::Left(chat_id)) => Event::ChatRemoved { seq, chat_id },
            None => Event::MessageDeleted {
                seq,
                chat_id: ChatId(0),
                message_id: sova_types::MessageId(seq),
                deleted_by: UserId(0),
            },
        };
        BusEvent::new(audience, event)
    }

    #[test]
    fn fans_out_only_to_subscribers_and_flags_overflow() {
        let hub = Hub::new();
        let (tx1, mut rx1) = mpsc::channel(2);
        let (tx2, mut rx2) = mpsc::channel(8);
        let (o1, o2) = (CancellationToken::new(), CancellationToken::new());
        hub.register(1, UserId(1), &[ChatId(10), ChatId(11)], &tx1, &o1);
        hub.register(2, UserId(2), &[ChatId(11)], &tx2, &o2);
        hub.deliver(&ev(Audience::Chat(ChatId(10)), 1, None));
        hub.deliver(&ev(Audience::Chat(ChatId(11)), 2, None));
        assert_eq!(rx1.try_recv().unwrap().seq(), 1);
        assert_eq!(rx1.try_recv().unwrap().seq(), 2);
        assert_eq!(rx2.try_recv().unwrap().seq(), 2);
        assert!(rx2.try_recv().is_err(), "conn 2 is not in chat 10");
        for seq in 3..6 {
            hub.deliver(&ev(Audience::Chat(ChatId(10)), seq, None));
        }
        assert!(o1.is_cancelled());
        assert!(!o2.is_cancelled());
        hub.unregister(1);
        hub.unregister(2);
        assert_eq!(hub.subscription_count(), 0);
    }

    #[test]
    fn user_events_change_subscriptions() {
        let hub = Hub::new();
        let (tx, mut rx) = mpsc::channel(8);
        let o = CancellationToken::new();
        hub.register(7, UserId(3), &[], &tx, &o);
        hub.deliver(&ev(Audience::Chat(ChatId(5)), 1, None));
        assert!(rx.try_recv().is_err());
        hub.deliver(&ev(Audience::User(UserId(3)), 2, Some(Membership::Joined(ChatId(5)))));
        hub.deliver(&ev(Audience::Chat(ChatId(5)), 3, None));
        assert_eq!(rx.try_recv().unwrap().seq(), 2);
        assert_eq!(rx.try_recv().unwrap().seq(), 3);
        assert!(hub.watches(ChatId(5)));
        hub.deliver(&ev(Audience::User(UserId(3)), 4, Some(Membership::Left(ChatId(5)))));
        hub.deliver(&ev(Audience::Chat(ChatId(5)), 5, None));
        assert_eq!(rx.try_recv().unwrap().seq(), 4, "the removal itself is delivered");
        assert!(rx.try_recv().is_err(), "nothing after leaving");
        assert!(!hub.watches(ChatId(5)));
    }
}
