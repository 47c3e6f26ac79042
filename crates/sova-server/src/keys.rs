//! Start-up safety for shared databases. Every instance records fingerprints of its
//! keys in the database (never the keys): the message-encryption keys that sealed
//! data there, and the JWT secret of each running instance (refreshed by a
//! heartbeat). An instance refuses to start when its `MESSAGE_ENCRYPTION_KEY` cannot
//! read what the database holds, or when another live instance on the same database
//! signs tokens with a different `JWT_SECRET`; either would otherwise surface later
//! as `500 cannot decrypt` or as tokens that work on one instance only.

use sha2::{Digest, Sha256};
use sova_config::Config;
use sova_store::Stores;
use std::time::Duration;

/// How often a running instance refreshes its JWT fingerprint.
pub const HEARTBEAT: Duration = Duration::from_secs(60);
/// A JWT fingerprint refreshed within this long belongs to a live instance.
const LIVE_FOR: Duration = Duration::from_secs(180);

const MESSAGE_PREFIX: &str = "keyfp:message:";
const JWT_PREFIX: &str = "keyfp:jwt:";

/// A short, non-reversible identifier of a key (64 bits of a domain-separated SHA-256).
pub fn fingerprint(key: &str) -> String {
    let digest = Sha256::new_with_prefix(b"sova key fingerprint\0")
        .chain_update(key.as_bytes())
        .finalize();
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

fn message_keys(config: &Config) -> Vec<String> {
    config
        .message_encryption_key
        .as_ref()
        .map(|k| {
            k.expose()
                .split(',')
                .map(str::trim)
                .filter(|k| !k.is_empty())
                .map(fingerprint)
                .collect()
        })
        .unwrap_or_default()
}

fn jwt_key(config: &Config) -> Option<String> {
    config.jwt_secret.as_ref().map(|k| fingerprint(k.expose()))
}

fn now_micros() -> i64 {
    sova_types::time::now_micros()
}

/// Checks the configured keys against the database and records this instance's;
/// the returned presence must be refreshed with [`KeyPresence::heartbeat`].
pub async fn verify(config: &Config, stores: &Stores) -> anyhow::Result<Option<KeyPresence>> {
    let m = &stores.messages;
    let configured = message_keys(config);
    let recorded = m.checkpoints_with_prefix(MESSAGE_PREFIX).await?;
    let unknown: Vec<&str> = recorded
        .iter()
        .map(|(name, _)| &name[MESSAGE_PREFIX.len()..])
        .filter(|fp| !configured.iter().any(|c| c == fp))
        .collect();
    if !unknown.is_empty() {
        anyhow::bail!(
            "this database holds messages encrypted with a key this instance does not have \
             (key fingerprint {}; this instance's keys: {}). Every instance on one database \
             must share MESSAGE_ENCRYPTION_KEY: copy it from the instance that created the \
             data (its data directory's secrets.toml in development), or list that key after \
             your newest one and run `sova admin rotate-keys`",
            unknown.join(", "),
            configured.join(", ")
        );
    }
    // Databases written before fingerprints were recorded: try to read the newest data.
    if let Err(e) = m.probe_sealed().await {
        anyhow::bail!(
            "MESSAGE_ENCRYPTION_KEY cannot read the messages in this database ({e}). Every \
             instance on one database must share MESSAGE_ENCRYPTION_KEY: copy it from the \
             instance that created the data (its data directory's secrets.toml in development)"
        );
    }
    if let Some(newest) = configured.first() {
        m.set_checkpoint(&format!("{MESSAGE_PREFIX}{newest}"), now_micros())
            .await?;
    }

    let Some(mine) = jwt_key(config) else {
        return Ok(None);
    };
    let live_since = now_micros() - LIVE_FOR.as_micros() as i64;
    for (name, seen) in m.checkpoints_with_prefix(JWT_PREFIX).await? {
        let fp = name[JWT_PREFIX.len()..].split(':').next().unwrap_or_default();
        if fp == mine {
            continue;
        }
        if seen >= live_since {
            anyhow::bail!(
                "another instance using this database signs tokens with a different \
                 JWT_SECRET (fingerprint {fp}, seen {}s ago; this instance: {mine}). Set the \
                 same JWT_SECRET (and MESSAGE_ENCRYPTION_KEY) on every instance; in \
                 development copy them from the first instance's secrets.toml. If that \
                 instance is gone, it stops counting {}s after it was last seen",
                (now_micros() - seen) / 1_000_000,
                LIVE_FOR.as_secs()
            );
        }
        // A secret no live instance uses any more (it was rotated).
        m.delete_checkpoint(&name).await?;
    }
    let mut id = [0u8; 8];
    getrandom::fill(&mut id).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
    let instance: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let presence = KeyPresence {
        name: format!("{JWT_PREFIX}{mine}:{instance}"),
    };
    presence.heartbeat(stores).await?;
    Ok(Some(presence))
}

/// This instance's record of the `JWT_SECRET` it signs with, refreshed while it
/// runs and removed when it stops gracefully.
pub struct KeyPresence {
    name: String,
}

impl KeyPresence {
    /// Records that this instance is alive.
    pub async fn heartbeat(&self, stores: &Stores) -> anyhow::Result<()> {
        stores.messages.set_checkpoint(&self.name, now_micros()).await?;
        Ok(())
    }

    /// Forgets this instance (a graceful stop), so a restart with a new secret is
    /// not refused.
    pub async fn release(&self, stores: &Stores) -> anyhow::Result<()> {
        stores.messages.delete_checkpoint(&self.name).await?;
        Ok(())
    }
}

/// After `rotate-keys` re-sealed everything with the newest key, older keys no
/// longer guard any data: forget their fingerprints so instances may drop them.
pub async fn forget_retired(config: &Config, stores: &Stores) -> anyhow::Result<()> {
    let keys = message_keys(config);
    let Some(newest) = keys.first() else { return Ok(()) };
    for (name, _) in stores.messages.checkpoints_with_prefix(MESSAGE_PREFIX).await? {
        if name[MESSAGE_PREFIX.len()..] != *newest {
            stores.messages.delete_checkpoint(&name).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_short_stable_and_distinct() {
        let a = fingerprint("key-a");
        assert_eq!(a.len(), 16);
        assert_eq!(a, fingerprint("key-a"));
        assert_ne!(a, fingerprint("key-b"));
        assert!(!a.contains("key"));
    }
}
