//! The event bus port. Services publish each committed event once, typed and
//! shared (`SharedEvent`: its wire encoding is computed at most once), and the bus
//! hands the same `Arc` to every subscriber (the gateway's fan-out hub). `LocalBus` delivers in-process, synchronously and in publish order;
//! a Redis-backed bus (many instances) implements the same trait.

use parking_lot::RwLock;
pub use sova_types::event::{Event, Membership, Shared, SharedEvent};
use sova_types::{ChatId, UserId};
use std::sync::Arc;

/// Who may see an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Every member of the chat.
    Chat(ChatId),
    /// One user (all of their connections).
    User(UserId),
}

/// One event and who may see it.
#[derive(Clone, Debug)]
pub struct BusEvent {
    pub audience: Audience,
    pub event: SharedEvent,
}

impl BusEvent {
    /// Wraps `event` for `audience`.
    pub fn new(audience: Audience, event: Event) -> BusEvent {
        BusEvent {
            audience,
            event: Shared::new(event),
        }
    }

    /// Server-wide sequence, increasing in publish order; 0 for ephemeral and
    /// internal events, which are neither stored nor replayed.
    pub fn seq(&self) -> i64 {
        self.event.seq()
    }

    /// For `Audience::User`: the subscription change for that user's connections.
    pub fn membership(&self) -> Option<Membership> {
        match self.audience {
            Audience::User(_) => self.event.event().membership(),
            Audience::Chat(_) => None,
        }
    }
}

/// Receives published events. Must not block: it runs on the publisher's task.
pub trait EventSink: Send + Sync {
    fn deliver(&self, event: &BusEvent);
    /// Events for `audience` may have been missed (a subscription just became active,
    /// or the bus reconnected): its local recipients should catch up from storage.
    fn resync(&self, _audience: Option<Audience>) {}
}

/// Publish/subscribe for committed events.
pub trait EventBus: Send + Sync {
    /// Hands `event` to every subscriber, in publish order.
    fn publish(&self, event: BusEvent);
    /// Adds a subscriber for all subsequent events.
    fn subscribe(&self, sink: Arc<dyn EventSink>);
    /// This process starts (`true`) or stops caring about events for `audience`.
    fn interest(&self, _audience: Audience, _on: bool) {}
    /// Whether other processes share this bus (then publication order must be
    /// serialized across processes).
    fn distributed(&self) -> bool {
        false
    }
    /// Resolves once everything published so far has left this process.
    fn flush(&self) -> futures_util::future::BoxFuture<'static, Result<(), String>> {
        Box::pin(std::future::ready(Ok(())))
    }
}

pub mod presence;
pub mod redis_bus;
pub use redis_bus::RedisBus;

/// In-process bus for the single-instance (embedded) mode.
#[derive(Default)]
pub struct LocalBus {
    sinks: RwLock<Vec<Arc<dyn EventSink>>>,
}

impl LocalBus {
    pub fn new() -> Self {
        Self::default()
    }
}

impl EventBus for LocalBus {
    fn publish(&self, event: BusEvent) {
        // Clone the list so a sink may subscribe others without deadlocking.
        let sinks = self.sinks.read().clone();
        for sink in &sinks {
            sink.deliver(&event);
        }
    }

    fn subscribe(&self, sink: Arc<dyn EventSink>) {
        self.sinks.write().push(sink);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[derive(Default)]
    struct Collect(Mutex<Vec<i64>>);
    impl EventSink for Collect {
        fn deliver(&self, e: &BusEvent) {
            self.0.lock().push(e.seq());
        }
    }

    fn ev(seq: i64) -> BusEvent {
        BusEvent::new(
            Audience::Chat(ChatId(1)),
            Event::ChatRemoved {
                seq,
                chat_id: ChatId(1),
            },
        )
    }

    #[test]
    fn delivers_to_every_sink_in_order() {
        let bus = LocalBus::new();
        let (a, b) = (Arc::new(Collect::default()), Arc::new(Collect::default()));
        bus.publish(ev(0));
        bus.subscribe(a.clone());
        bus.subscribe(b.clone());
        for seq in 1..=3 {
            bus.publish(ev(seq));
        }
        assert_eq!(*a.0.lock(), vec![1, 2, 3]);
        assert_eq!(*b.0.lock(), vec![1, 2, 3]);
    }
}
