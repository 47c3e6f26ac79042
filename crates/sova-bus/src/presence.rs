//! Presence counters: how many connections each user has, aggregated over this
//! process (`LocalPresence`) or over every instance sharing a Redis
//! (`RedisPresence`: a per-instance count in one hash per user, and a heartbeat key
//! per instance, so a crashed instance's connections stop counting within 30 s).

use async_trait::async_trait;
use parking_lot::Mutex;
use redis::AsyncCommands;
use sova_types::UserId;
use std::collections::HashMap;
use std::time::Duration;

/// Seconds an instance's heartbeat lives; refreshed every third of it.
pub const HEARTBEAT_SECS: u64 = 30;

#[async_trait]
pub trait PresenceStore: Send + Sync {
    /// One more connection of `user` here; returns whether the user is now online anywhere.
    async fn connected(&self, user: UserId) -> Result<bool, String>;
    /// One connection of `user` here closed; returns whether the user is still online anywhere.
    async fn disconnected(&self, user: UserId) -> Result<bool, String>;
    /// Whether each user has a connection on any live instance.
    async fn online(&self, users: &[UserId]) -> Result<Vec<bool>, String>;
}

/// Presence within one process.
#[derive(Default)]
pub struct LocalPresence {
    counts: Mutex<HashMap<UserId, usize>>,
}

#[async_trait]
impl PresenceStore for LocalPresence {
    async fn connected(&self, user: UserId) -> Result<bool, String> {
        *self.counts.lock().entry(user).or_default() += 1;
        Ok(true)
    }

    async fn disconnected(&self, user: UserId) -> Result<bool, String> {
        let mut counts = self.counts.lock();
        let n = counts.entry(user).or_default();
        *n = n.saturating_sub(1);
        let online = *n > 0;
        if !online {
            counts.remove(&user);
        }
        Ok(online)
    }

    async fn online(&self, users: &[UserId]) -> Result<Vec<bool>, String> {
        let counts = self.counts.lock();
        Ok(users.iter().map(|u| counts.get(u).is_some_and(|n| *n > 0)).collect())
    }
}

/// Presence shared by every instance through Redis.
pub struct RedisPresence {
    conn: redis::aio::ConnectionManager,
    prefix: String,
    instance: String,
}

impl RedisPresence {
    /// Connects and starts this instance's heartbeat.
    pub async fn connect(url: &str, prefix: &str) -> Result<RedisPresence, String> {
        let client = redis::Client::open(url).map_err(|e| format!("bad REDIS_URL: {e}"))?;
        let conn = tokio::time::timeout(Duration::from_secs(10), client.get_connection_manager())
            .await
            .map_err(|_| "timed out connecting to Redis".to_owned())?
            .map_err(|e| format!("cannot connect to Redis: {e}"))?;
        let mut raw = [0u8; 8];
        getrandom::fill(&mut raw).map_err(|e| e.to_string())?;
        let instance = format!("{:016x}", u64::from_be_bytes(raw));
        let p = RedisPresence {
            conn,
            prefix: prefix.to_owned(),
            instance,
        };
        p.beat().await?;
        let (mut conn, key) = (p.conn.clone(), p.instance_key(&p.instance));
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(HEARTBEAT_SECS / 3)).await;
                let r: redis::RedisResult<()> = conn.set_ex(&key, 1, HEARTBEAT_SECS).await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "presence heartbeat failed");
                }
            }
        });
        Ok(p)
    }

    fn user_key(&self, user: UserId) -> String {
        format!("{}:presence:{}", self.prefix, user.0)
    }

    fn instance_key(&self, instance: &str) -> String {
        format!("{}:instance:{instance}", self.prefix)
    }

    async fn beat(&self) -> Result<(), String> {
        let mut c = self.conn.clone();
        c.set_ex::<_, _, ()>(self.instance_key(&self.instance), 1, HEARTBEAT_SECS)
            .await
            .map_err(|e| e.to_string())
    }

    async fn is_online(&self, user: UserId) -> Result<bool, String> {
        let mut c = self.conn.clone();
        let counts: HashMap<String, i64> = c.hgetall(self.user_key(user)).await.map_err(|e| e.to_string())?;
        for (instance, n) in counts {
            if n <= 0 {
                continue;
            }
            let alive: bool = c
                .exists(self.instance_key(&instance))
                .await
                .map_err(|e| e.to_string())?;
            if alive {
                return Ok(true);
            }
            // A dead instance's entries go.
            let _: redis::RedisResult<()> = c.hdel(self.user_key(user), &instance).await;
        }
        Ok(false)
    }
}

#[async_trait]
impl PresenceStore for RedisPresence {
    async fn connected(&self, user: UserId) -> Result<bool, String> {
        let mut c = self.conn.clone();
        let _: i64 = c
            .hincr(self.user_key(user), &self.instance, 1)
            .await
            .map_err(|e| e.to_string())?;
        Ok(true)
    }

    async fn disconnected(&self, user: UserId) -> Result<bool, String> {
        let mut c = self.conn.clone();
        let n: i64 = c
            .hincr(self.user_key(user), &self.instance, -1)
            .await
            .map_err(|e| e.to_string())?;
        if n <= 0 {
            let _: redis::RedisResult<()> = c.hdel(self.user_key(user), &self.instance).await;
        }
        self.is_online(user).await
    }

    async fn online(&self, users: &[UserId]) -> Result<Vec<bool>, String> {
        let mut out = Vec::with_capacity(users.len());
        for u in users {
            out.push(self.is_online(*u).await?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn local_counts_devices() {
        let p = LocalPresence::default();
        assert_eq!(p.online(&[UserId(1)]).await.unwrap(), vec![false]);
        p.connected(UserId(1)).await.unwrap();
        p.connected(UserId(1)).await.unwrap();
        assert!(p.disconnected(UserId(1)).await.unwrap(), "still one device");
        assert!(!p.disconnected(UserId(1)).await.unwrap());
        assert_eq!(p.online(&[UserId(1), UserId(2)]).await.unwrap(), vec![false, false]);
    }
}
