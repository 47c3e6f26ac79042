//! Setting a server up before a measurement: users with tokens and groups with
//! members on Sova (over REST, as clients do), and the same shape on the baseline
//! (tokens are user ids; membership is a `join` frame). Set-up is never measured.

use crate::conn::{self, Endpoint, Reader, Transport, Writer};
use crate::target::Kind;
use anyhow::{Context, Result, bail};
use futures_util::StreamExt;
use serde_json::json;
use sova_client::RestClient;
use std::time::{Duration, Instant};

/// A user the load generator acts as.
#[derive(Clone, Debug)]
pub struct User {
    /// User id.
    pub id: i64,
    /// Access token (on the baseline: the id as text).
    pub token: String,
}

/// Password every benchmark user gets.
pub const PASSWORD: &str = "bench-password-1";

/// Result of registering and logging in users: who, and how fast.
pub struct Signups {
    /// The users, in order.
    pub users: Vec<User>,
    /// Wall time of the registrations.
    pub register_time: Duration,
    /// Wall time of the logins.
    pub login_time: Duration,
}

/// Registers `n` users named `<prefix><i>` and logs each in, `concurrency` at a time.
pub async fn sova_users(endpoint: &Endpoint, prefix: &str, n: usize, concurrency: usize) -> Result<Signups> {
    let rest = RestClient::new(endpoint.http_base())?;
    let started = Instant::now();
    let ids: Vec<Result<i64>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let rest = rest.clone();
            let name = format!("{prefix}_bench_{i}");
            async move {
                let r = rest
                    .register(&name, PASSWORD)
                    .await
                    .with_context(|| format!("registering {name}"))?;
                Ok(r.user_id.0)
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    let register_time = started.elapsed();
    let ids = ids.into_iter().collect::<Result<Vec<_>>>()?;
    let started = Instant::now();
    let tokens: Vec<Result<String>> = futures_util::stream::iter(0..n)
        .map(|i| {
            let rest = rest.clone();
            let name = format!("{prefix}_bench_{i}");
            async move {
                let pair = rest
                    .login(&name, PASSWORD)
                    .await
                    .with_context(|| format!("logging {name} in"))?;
                Ok(pair.token)
            }
        })
        .buffered(concurrency)
        .collect()
        .await;
    let login_time = started.elapsed();
    let users = ids
        .into_iter()
        .zip(tokens)
        .map(|(id, t)| t.map(|token| User { id, token }))
        .collect::<Result<Vec<_>>>()?;
    Ok(Signups {
        users,
        register_time,
        login_time,
    })
}

/// Creates a chat of `kind` (`group` or `channel`) owned by `owner` with `members`
/// (adding them 1000 at a time, the API's limit per request); returns its id.
pub async fn sova_chat(endpoint: &Endpoint, kind: &str, owner: &User, members: &[User]) -> Result<i64> {
    let rest = RestClient::new(endpoint.http_base())?;
    let others: Vec<i64> = members.iter().map(|u| u.id).filter(|id| *id != owner.id).collect();
    let mut chunks = others.chunks(1000);
    let first: Vec<i64> = chunks.next().map(<[i64]>::to_vec).unwrap_or_default();
    let body = json!({"type": kind, "name": format!("bench {kind}"), "members": first});
    let resp = rest
        .raw(
            "POST",
            "/api/chats",
            Some(&owner.token),
            Some(body.to_string().into_bytes()),
        )
        .await?;
    if resp.status != 201 {
        bail!("creating a {kind}: {} {}", resp.status, resp.body);
    }
    let id = resp.body["id"].as_i64().context("chat without id")?;
    for chunk in chunks {
        let resp = rest
            .raw(
                "POST",
                &format!("/api/chats/{id}/members"),
                Some(&owner.token),
                Some(json!({"members": chunk}).to_string().into_bytes()),
            )
            .await?;
        if resp.status >= 300 {
            bail!("adding members: {} {}", resp.status, resp.body);
        }
    }
    Ok(id)
}

/// Baseline users: ids `1..=n`, the token is the id.
pub fn baseline_users(n: usize) -> Vec<User> {
    (1..=n as i64)
        .map(|id| User {
            id,
            token: id.to_string(),
        })
        .collect()
}

/// An authenticated connection, ready for a measurement.
pub struct Client {
    /// Sending half.
    pub writer: Writer,
    /// Receiving half.
    pub reader: Reader,
}

/// Connects and authenticates `user`; on the baseline also joins `chats`
/// (on Sova, membership comes from the chats themselves).
pub async fn client(
    kind: Kind,
    transport: Transport,
    endpoint: &Endpoint,
    index: usize,
    user: &User,
    chats: &[i64],
) -> Result<Client> {
    let (mut writer, mut reader) = conn::connect(transport, endpoint, index).await?;
    conn::auth(&mut writer, &mut reader, &user.token, None).await?;
    if kind != Kind::Sova {
        for (i, chat) in chats.iter().enumerate() {
            let re = format!("join{i}");
            writer
                .send(json!({"type": "join", "id": re, "chat_id": chat}).to_string())
                .await?;
            reader.answer(&re, Duration::from_secs(30)).await?;
        }
    }
    Ok(Client { writer, reader })
}
