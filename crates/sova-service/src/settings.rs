//! Client settings that follow the user across devices: one JSON object per user,
//! bounded in size, last write wins; every save is announced to all of the user's
//! connections (`settings_updated`), on every instance.

use crate::{AuthUser, store_err};
use serde_json::{Map, Value};
use sova_bus::{Audience, BusEvent, EventBus};
use sova_store::Stores;
use sova_types::models::UserSettings;
use sova_types::time::{now_micros, rfc3339};
use sova_types::{ApiError, Event};
use std::sync::Arc;

/// Largest settings object, serialized.
pub const MAX_SETTINGS_BYTES: usize = 16 * 1024;

/// Reads and saves client settings.
#[derive(Clone)]
pub struct SettingsService {
    stores: Stores,
    bus: Arc<dyn EventBus>,
}

impl SettingsService {
    /// A service over `stores`, announcing saves on `bus`.
    pub fn new(stores: Stores, bus: Arc<dyn EventBus>) -> SettingsService {
        SettingsService { stores, bus }
    }

    /// `user`'s settings; an empty object when never saved.
    pub async fn get(&self, user: &AuthUser) -> Result<UserSettings, ApiError> {
        match self.stores.users.settings(user.user_id).await.map_err(store_err)? {
            Some((text, at)) => {
                let settings = serde_json::from_str::<Map<String, Value>>(&text).map_err(|e| {
                    tracing::error!(error = %e, user_id = %user.user_id, "stored settings do not decode");
                    ApiError::internal()
                })?;
                Ok(UserSettings {
                    settings,
                    updated_at: Some(rfc3339(at)),
                })
            }
            None => Ok(UserSettings {
                settings: Map::new(),
                updated_at: None,
            }),
        }
    }

    /// Replaces `user`'s settings and tells their connections.
    pub async fn put(&self, user: &AuthUser, settings: Map<String, Value>) -> Result<UserSettings, ApiError> {
        let text = serde_json::to_string(&settings).map_err(|_| ApiError::internal())?;
        if text.len() > MAX_SETTINGS_BYTES {
            return Err(ApiError::too_large_max(
                format!("settings exceed {MAX_SETTINGS_BYTES} bytes"),
                MAX_SETTINGS_BYTES as u64,
            ));
        }
        let at = now_micros();
        self.stores
            .users
            .put_settings(user.user_id, &text, at)
            .await
            .map_err(store_err)?;
        let saved = UserSettings {
            settings,
            updated_at: Some(rfc3339(at)),
        };
        self.bus.publish(BusEvent::new(
            Audience::User(user.user_id),
            Event::SettingsUpdated {
                settings: Value::Object(saved.settings.clone()),
                updated_at: rfc3339(at),
            },
        ));
        Ok(saved)
    }
}
