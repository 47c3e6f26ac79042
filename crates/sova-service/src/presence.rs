//! Presence: online while any of a user's devices is connected to any instance
//! (counted in-process, or in Redis across instances), last seen when the last one
//! disconnects (kept in the database, so it survives restarts). Changes are pushed,
//! ephemerally, to the user's private chats and small groups.

use crate::store_err;
use sova_bus::presence::PresenceStore;
use sova_bus::{Audience, BusEvent, EventBus};
use sova_store::Stores;
use sova_types::models::Presence;
use sova_types::time::{now_micros, rfc3339};
use sova_types::{ApiError, UserId};
use std::sync::Arc;

/// Most users in one presence query.
pub const MAX_QUERY: usize = 100;

pub struct PresenceService {
    counts: Arc<dyn PresenceStore>,
    stores: Stores,
    bus: Arc<dyn EventBus>,
    audience_max: i64,
}

impl PresenceService {
    pub fn new(counts: Arc<dyn PresenceStore>, stores: Stores, bus: Arc<dyn EventBus>, audience_max: i64) -> Self {
        PresenceService {
            counts,
            stores,
            bus,
            audience_max,
        }
    }

    async fn announce(&self, p: Presence) {
        let chats = match self.stores.chats.small_chats_of(p.user_id, self.audience_max).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "presence audience lookup failed");
                return;
            }
        };
        // One shared event (encoded once) for every chat it goes to.
        let event = sova_bus::Shared::new(sova_types::Event::Presence(p));
        for chat in chats {
            self.bus.publish(BusEvent {
                audience: Audience::Chat(chat),
                event: event.clone(),
            });
        }
    }

    /// A connection of `user` authenticated.
    pub async fn connected(&self, user: UserId) {
        if let Err(e) = self.counts.connected(user).await {
            tracing::warn!(error = %e, "presence update failed");
            return;
        }
        self.announce(Presence {
            user_id: user,
            status: "online".into(),
            last_seen: None,
        })
        .await;
    }

    /// A connection of `user` closed.
    pub async fn disconnected(&self, user: UserId) {
        let online = match self.counts.disconnected(user).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "presence update failed");
                return;
            }
        };
        let now = now_micros();
        if let Err(e) = self.stores.users.set_last_seen(user, now).await {
            tracing::warn!(error = %e, "last-seen update failed");
        }
        let status = if online { "online" } else { "offline" };
        self.announce(Presence {
            user_id: user,
            status: status.into(),
            last_seen: Some(rfc3339(now)),
        })
        .await;
    }

    /// Presence of up to 100 users (unknown ids are left out).
    pub async fn status(&self, users: &[UserId]) -> Result<Vec<Presence>, ApiError> {
        if users.is_empty() || users.len() > MAX_QUERY {
            return Err(ApiError::bad_request(format!("ask for 1-{MAX_QUERY} users")));
        }
        let found = self.stores.users.last_seen(users).await.map_err(store_err)?;
        // In the order asked, without duplicates.
        let mut seen: Vec<(UserId, Option<i64>)> = Vec::with_capacity(found.len());
        for u in users {
            if let Some(f) = found.iter().find(|f| f.0 == *u)
                && !seen.iter().any(|s| s.0 == *u)
            {
                seen.push(*f);
            }
        }
        let ids: Vec<UserId> = seen.iter().map(|(u, _)| *u).collect();
        let online = self.counts.online(&ids).await.map_err(|e| {
            tracing::warn!(error = %e, "presence lookup failed");
            ApiError::unavailable("presence is unavailable")
        })?;
        Ok(seen
            .into_iter()
            .zip(online)
            .map(|((user_id, last), on)| Presence {
                user_id,
                status: if on { "online" } else { "offline" }.into(),
                last_seen: last.map(rfc3339),
            })
            .collect())
    }
}
