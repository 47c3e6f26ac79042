//! Tokens over time (expiry, rotation, reuse, logout) on every transport, and
//! persistence across a graceful restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, PASSWORD, TestServer, user};
use serde_json::json;
use sova_client::ClientError;
use sova_types::ErrorCode;
use std::time::Duration;

fn is_unauthorized(e: &ClientError) -> bool {
    e.code() == Some(ErrorCode::Unauthorized)
}

async fn restart_keeps_everything(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (name, a) = user(&server, "persist").await;
    let mut sent = Vec::new();
    for i in 0..5 {
        sent.push(
            rest.send_to(&a.token, None, &format!("before restart {i}"), Some(&format!("k{i}")))
                .await
                .unwrap(),
        );
    }
    // A live WS client sees the restart as a polite close with a typed reason.
    let mut ws = server.ws().await;
    ws.auth_token(&a.token, None).await.unwrap();
    server.restart().await;
    match ws.recv().await {
        Ok(f) => {
            assert_eq!(f["type"], "error");
            assert_eq!(f["code"], "unavailable");
        }
        Err(e) => assert!(matches!(e, ClientError::Closed), "{e}"),
    }

    let rest = server.rest();
    // Old tokens, accounts, messages and idempotency keys all survive.
    let hist = rest.history(&a.token, None, None).await.unwrap();
    assert_eq!(hist, sent);
    let again = rest.send_to(&a.token, None, "dup", Some("k4")).await.unwrap();
    assert_eq!(again, sent[4]);
    let fresh = rest.send(&a.token, "after restart").await.unwrap();
    assert!(fresh.seq > sent[4].seq, "sequence keeps increasing");
    assert_eq!(fresh.chat_seq, sent[4].chat_seq + 1, "chat_seq has no gap");
    let relogin = rest.login(&name, PASSWORD).await.unwrap();
    assert_eq!(relogin.user_id, a.user_id);
    assert!(rest.refresh(&a.refresh_token).await.is_ok(), "refresh tokens persist");
    // A reconnecting socket resumes across the restart.
    let mut tcp = server.tcp().await;
    tcp.auth_token(&a.token, Some(sent[2].seq)).await.unwrap();
    let mut seqs = Vec::new();
    loop {
        let f = tcp.recv().await.unwrap();
        if f["type"] == "synced" {
            break;
        }
        seqs.push(f["seq"].as_i64().unwrap());
    }
    assert_eq!(seqs, vec![sent[3].seq, sent[4].seq, fresh.seq]);
    server.stop().await;
}

async fn access_token_expires(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| c.access_token_ttl_secs = 1).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "expiring").await;
    assert_eq!(a.expires_in, 1);
    assert!(rest.history(&a.token, None, None).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let e = rest.history(&a.token, None, None).await.unwrap_err();
    assert!(is_unauthorized(&e), "{e}");
    for transport in ["ws", "tcp"] {
        let mut rt = server.realtime(transport).await;
        let e = rt.auth_token(&a.token, None).await.unwrap_err();
        assert!(is_unauthorized(&e), "{transport}: {e}");
    }
    // The refresh token still works and yields a fresh access token.
    let pair = rest.refresh(&a.refresh_token).await.unwrap();
    assert!(rest.history(&pair.token, None, None).await.is_ok());
    server.stop().await;
}

async fn refresh_rotation_and_reuse(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "rotator").await;
    let second = rest.refresh(&a.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, a.refresh_token, "rotated");
    assert_eq!(second.user_id, a.user_id);
    let third = rest.refresh(&second.refresh_token).await.unwrap();
    // Reusing a spent token signals theft: the whole family dies.
    let e = rest.refresh(&a.refresh_token).await.unwrap_err();
    assert!(is_unauthorized(&e));
    let e = rest.refresh(&third.refresh_token).await.unwrap_err();
    assert!(is_unauthorized(&e), "live descendant revoked too");
    let e = rest.history(&third.token, None, None).await.unwrap_err();
    assert!(is_unauthorized(&e), "the session's access tokens die with it");
    // Another login (another device) is unaffected.
    let other = rest.login(&a.username, PASSWORD).await.unwrap();
    assert!(rest.refresh(&other.refresh_token).await.is_ok());
    for junk in ["", "x", &"z".repeat(300)] {
        let r = rest
            .raw(
                "POST",
                "/api/refresh",
                None,
                Some(json!({"refresh_token": junk}).to_string().into()),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 401, "{junk}");
    }
    server.stop().await;
}

async fn logout_revokes_everywhere(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "leaver").await;
    let huge = format!("{{\"refresh_token\":\"{}\"}}", "r".repeat(1100 * 1024)).into_bytes();
    let r = rest
        .raw("POST", "/api/logout", Some(&a.token), Some(huge))
        .await
        .unwrap();
    assert_eq!((r.status, r.body["code"].as_str()), (413, Some("too_large")));
    let r = rest
        .raw("POST", "/api/logout", Some(&a.token), Some(b"{oops".to_vec()))
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    rest.logout(&a.token, Some(&a.refresh_token)).await.unwrap();
    let e = rest.history(&a.token, None, None).await.unwrap_err();
    assert!(is_unauthorized(&e), "blacklisted access token");
    let e = rest.send(&a.token, "after logout").await.unwrap_err();
    assert!(is_unauthorized(&e));
    let e = rest.refresh(&a.refresh_token).await.unwrap_err();
    assert!(is_unauthorized(&e), "refresh revoked");
    for transport in ["ws", "tcp"] {
        let mut rt = server.realtime(transport).await;
        assert!(is_unauthorized(&rt.auth_token(&a.token, None).await.unwrap_err()));
    }
    // Logout without a token is 401; a second logout with the dead token too.
    assert_eq!(rest.raw("POST", "/api/logout", None, None).await.unwrap().status, 401);
    assert_eq!(
        rest.raw("POST", "/api/logout", Some(&a.token), None)
            .await
            .unwrap()
            .status,
        401
    );
    server.stop().await;
}

async fn forged_tokens_are_refused(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "forger").await;
    let parts: Vec<&str> = a.token.split('.').collect();
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let none_header = b64.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let forged_claims =
        b64.encode(json!({"sub": "1", "name": "admin", "jti": "x", "iat": 0, "exp": 9_999_999_999i64}).to_string());
    let candidates = [
        format!("{none_header}.{}.", parts[1]),
        format!("{}.{forged_claims}.{}", parts[0], parts[2]),
        format!("{}.{}.{}", parts[0], parts[1], "A".repeat(parts[2].len())),
        "not.a.jwt".to_owned(),
    ];
    for t in &candidates {
        let e = rest.history(t, None, None).await.unwrap_err();
        assert!(is_unauthorized(&e), "{t}: {e}");
    }
    server.stop().await;
}

/// Starts another instance on `server`'s database with its own data directory; the
/// error if it refuses.
async fn second_instance(
    server: &TestServer,
    tweak: impl FnOnce(&mut sova_config::Config),
) -> Result<sova_server::Running, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = server.config.clone();
    config.database_url = Some(sova_config::Secret::new(server.config.database_url()));
    config.data_dir = dir.path().join("data");
    tweak(&mut config);
    let listeners = sova_server::Listeners::bind(&config).await.unwrap();
    match sova_server::launch(config, listeners, tokio_util::sync::CancellationToken::new()).await {
        Ok(running) => Ok(running),
        Err(e) => Err(format!("{e:#}")),
    }
}

/// Two development instances with their own data directories on one database: the
/// second generated other keys and must refuse to start, saying what to do, instead
/// of answering 500 on the first message it cannot decrypt.
async fn instances_with_other_keys_refuse_to_start(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let (_, a) = user(&server, "keys").await;
    server.rest().send(&a.token, "sealed at rest").await.unwrap();
    let mut first = server.config.clone();
    first.prepare_secrets().unwrap();
    let (jwt, key) = (
        first.jwt_secret.clone().unwrap(),
        first.message_encryption_key.clone().unwrap(),
    );

    let err = second_instance(&server, |_| {})
        .await
        .err()
        .expect("other generated keys must be refused");
    assert!(
        err.contains("MESSAGE_ENCRYPTION_KEY") && err.contains("secrets.toml"),
        "{err}"
    );

    // The same encryption key but another JWT secret, while the first instance runs.
    let other_jwt = |c: &mut sova_config::Config| {
        c.message_encryption_key = Some(key.clone());
        c.jwt_secret = Some(sova_config::Secret::new("another-jwt-secret-".repeat(3)));
    };
    let err = second_instance(&server, other_jwt)
        .await
        .err()
        .expect("another JWT secret must be refused");
    assert!(err.contains("JWT_SECRET"), "{err}");

    // The same keys: a sibling starts and reads the first one's messages.
    let sibling = second_instance(&server, |c| {
        c.message_encryption_key = Some(key.clone());
        c.jwt_secret = Some(jwt.clone());
    })
    .await
    .unwrap();
    let rest = sova_client::RestClient::new(format!("http://{}", sibling.http_addr)).unwrap();
    let history = rest.history(&a.token, Some(50), None).await.unwrap();
    assert!(history.iter().any(|m| m.text == "sealed at rest"));
    sibling.stop().await;

    // Once the first instance stopped gracefully, rotating the JWT secret is allowed.
    server.stop_keep().await;
    let rotated = second_instance(&server, other_jwt).await.unwrap();
    rotated.stop().await;

    // A database from before fingerprints were recorded: the newest data is probed.
    let db = sova_server::Database::open(&{
        let mut c = server.config.clone();
        c.database_url = Some(sova_config::Secret::new(server.config.database_url()));
        c
    })
    .await
    .unwrap();
    let stores = db.stores();
    for (name, _) in stores.messages.checkpoints_with_prefix("keyfp:").await.unwrap() {
        stores.messages.delete_checkpoint(&name).await.unwrap();
    }
    db.close().await;
    let err = second_instance(&server, |_| {})
        .await
        .err()
        .expect("unreadable data must be refused");
    assert!(err.contains("cannot read the messages"), "{err}");
}

both_backends!(
    instances_with_other_keys_refuse_to_start,
    restart_keeps_everything,
    access_token_expires,
    refresh_rotation_and_reuse,
    logout_revokes_everywhere,
    forged_tokens_are_refused,
);
