//! Abuse defence from outside, as an attacker would probe it: brute force is
//! throttled and locked out per account and address, registrations and messages are
//! rate limited on every transport, frame floods are refused, and a 429 always says
//! when to come back.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, PASSWORD, TestServer, user};
use serde_json::json;
use std::time::Duration;

fn login_body(u: &str, p: &str) -> Option<Vec<u8>> {
    Some(json!({"username": u, "password": p}).to_string().into_bytes())
}

async fn brute_force_is_locked_out(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (name, _) = user(&server, "victim").await;
    for i in 0..5 {
        let r = rest
            .raw("POST", "/api/login", None, login_body(&name, &format!("guess-{i}")))
            .await
            .unwrap();
        assert_eq!(r.status, 401, "attempt {i}");
    }
    // Locked now: even the right password waits, and the answer says for how long.
    let r = rest
        .raw("POST", "/api/login", None, login_body(&name, PASSWORD))
        .await
        .unwrap();
    assert_eq!(r.status, 429);
    assert_eq!(r.body["code"], "rate_limited");
    assert!(r.body["retry_after"].as_u64().unwrap() >= 1);
    // The same lock holds on sockets.
    let mut ws = server.ws().await;
    let e = ws.auth_password(&name, PASSWORD).await.unwrap_err();
    assert_eq!(e.code(), Some(sova_types::ErrorCode::RateLimited));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    // After the backoff the owner gets in, and that clears the failures.
    let ok = rest
        .raw("POST", "/api/login", None, login_body(&name, PASSWORD))
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let r = rest
        .raw("POST", "/api/login", None, login_body(&name, "wrong-again"))
        .await
        .unwrap();
    assert_eq!(r.status, 401, "counting starts over");
    server.stop().await;
}

async fn login_and_registration_are_throttled_per_address(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.rate_limit_login_per_min = 4;
        c.rate_limit_register_per_hour = 3;
    })
    .await
    else {
        return;
    };
    let rest = server.rest();
    for i in 0..3 {
        rest.register(&common::uname(&format!("r{i}")), PASSWORD).await.unwrap();
    }
    let r = rest
        .raw(
            "POST",
            "/api/register",
            None,
            login_body(&common::uname("r4"), PASSWORD),
        )
        .await
        .unwrap();
    assert_eq!((r.status, r.body["code"].as_str()), (429, Some("rate_limited")));
    let retry: u64 = r.body["retry_after"].as_u64().unwrap();
    assert!((1..=3600).contains(&retry), "within the hour-long window: {retry}");
    // Logins for any accounts from one address: the fifth is refused.
    for i in 0..4 {
        let r = rest
            .raw(
                "POST",
                "/api/login",
                None,
                login_body(&format!("nobody{i}"), "whatever1"),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 401);
    }
    let r = rest
        .raw("POST", "/api/login", None, login_body("nobody9", "whatever1"))
        .await
        .unwrap();
    assert_eq!(r.status, 429);
    // The defences are visible to Prometheus.
    let metrics = reqwest::get(format!("{}/metrics", server.http))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "sova_logins_total{result=\"failed\"}",
        "sova_security_events_total{kind=\"rate_limited\"}",
    ] {
        assert!(metrics.contains(needle), "{needle} missing from /metrics:\n{metrics}");
    }
    server.stop().await;
}

async fn messages_are_rate_limited_everywhere(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| c.rate_limit_messages_per_min = 6).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "spammer").await;
    for i in 0..3 {
        rest.send(&a.token, &format!("rest {i}")).await.unwrap();
    }
    let mut tcp = server.tcp().await;
    tcp.auth_token(&a.token, None).await.unwrap();
    for i in 0..3 {
        tcp.send_message(&format!("tcp {i}"), None).await.unwrap();
    }
    // The budget is per user, across transports.
    let e = tcp.send_message("one too many", None).await.unwrap_err();
    assert_eq!(e.code(), Some(sova_types::ErrorCode::RateLimited));
    let r = rest
        .raw(
            "POST",
            "/api/send",
            Some(&a.token),
            Some(json!({"content": "and again"}).to_string().into()),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 429);
    let hist = rest.history(&a.token, None, None).await.unwrap();
    assert_eq!(hist.len(), 6, "refused messages were not stored");
    server.stop().await;
}

async fn frame_floods_are_refused(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| c.rate_limit_frames_per_sec = 20).await else {
        return;
    };
    let (_, a) = user(&server, "flooder").await;
    for transport in ["ws", "tcp"] {
        let mut rt = server.realtime(transport).await;
        rt.auth_token(&a.token, None).await.unwrap();
        for i in 0..40 {
            rt.send(&json!({"type": "ping", "id": format!("p{i}")})).await.unwrap();
        }
        let (mut pongs, mut limited) = (0, 0);
        while pongs + limited < 40 {
            let f = rt.recv().await.unwrap();
            match f["type"].as_str() {
                Some("pong") => pongs += 1,
                Some("error") => {
                    assert_eq!(f["code"], "rate_limited");
                    assert!(f["retry_after"].as_u64().is_some());
                    limited += 1;
                }
                _ => {}
            }
        }
        assert!(limited >= 10, "{transport}: {limited} refused of 40");
        assert!(pongs >= 15, "{transport}: the allowed ones were answered ({pongs})");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        assert_eq!(
            rt.request(json!({"type": "ping"})).await.unwrap()["type"],
            "pong",
            "usable again"
        );
    }
    server.stop().await;
}

async fn bad_reputation_needs_captcha_then_blocks(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.reputation_captcha_at = 10;
        c.reputation_block_at = 30;
        c.captcha_difficulty = 8;
    })
    .await
    else {
        return;
    };
    let rest = server.rest();
    let (name, _) = user(&server, "honest").await;
    // Two failed logins (5 points each) from this address: now a CAPTCHA is needed.
    for i in 0..2 {
        let r = rest
            .raw(
                "POST",
                "/api/login",
                None,
                login_body(&format!("ghost{i}"), "nope-nope"),
            )
            .await
            .unwrap();
        assert_eq!(r.status, 401);
    }
    let r = rest
        .raw("POST", "/api/login", None, login_body(&name, PASSWORD))
        .await
        .unwrap();
    assert_eq!((r.status, r.body["code"].as_str()), (403, Some("captcha_required")));
    let solve = || async {
        let c = rest.raw("GET", "/api/captcha", None, None).await.unwrap().body;
        assert_eq!(c["difficulty"], 8);
        let challenge = c["challenge"].as_str().unwrap().to_owned();
        let nonce = sova_service::abuse::solve(&challenge, 8);
        json!({"challenge": challenge, "nonce": nonce})
    };
    let captcha = solve().await;
    let body = |c: &serde_json::Value, p: &str| {
        Some(
            json!({"username": name, "password": p, "captcha": c})
                .to_string()
                .into_bytes(),
        )
    };
    let ok = rest
        .raw("POST", "/api/login", None, body(&captcha, PASSWORD))
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    let again = rest
        .raw("POST", "/api/login", None, body(&captcha, PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        again.body["code"], "captcha_required",
        "a solved challenge is good once"
    );
    let wrong = json!({"challenge": captcha["challenge"], "nonce": "not-a-solution"});
    assert_eq!(
        rest.raw("POST", "/api/login", None, body(&wrong, PASSWORD))
            .await
            .unwrap()
            .body["code"],
        "captcha_required"
    );
    // Sockets ask too, and accept a solution.
    let mut ws = server.ws().await;
    let e = ws
        .request(json!({"type": "auth", "username": name, "password": PASSWORD}))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(sova_types::ErrorCode::CaptchaRequired));
    let ok = ws
        .request(json!({"type": "auth", "username": name, "password": PASSWORD, "captcha": solve().await}))
        .await
        .unwrap();
    assert_eq!(ok["type"], "auth_success");
    // Keep failing (with CAPTCHAs) until blocked: then even a CAPTCHA does not help.
    for _ in 0..4 {
        let _ = rest
            .raw("POST", "/api/login", None, body(&solve().await, "wrong-password"))
            .await
            .unwrap();
    }
    let blocked = rest
        .raw("POST", "/api/login", None, body(&solve().await, PASSWORD))
        .await
        .unwrap();
    assert_eq!(
        (blocked.status, blocked.body["code"].as_str()),
        (429, Some("rate_limited")),
        "{:?}",
        blocked.body
    );
    let r = rest
        .raw("POST", "/api/register", None, login_body("newcomer", PASSWORD))
        .await
        .unwrap();
    assert_eq!(r.status, 429, "registration is blocked too");
    server.stop().await;
}

async fn connections_are_limited_per_address(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| c.max_connections_per_ip = 3).await else {
        return;
    };
    let mut open = Vec::new();
    for i in 0..3 {
        let mut rt = if i % 2 == 0 {
            server.tcp().await
        } else {
            server.ws().await
        };
        assert_eq!(rt.request(json!({"type": "ping"})).await.unwrap()["type"], "pong");
        open.push(rt);
    }
    for transport in ["tcp", "ws"] {
        let mut extra = server.realtime(transport).await;
        let f = extra.recv().await.unwrap();
        assert_eq!(
            (f["type"].as_str(), f["code"].as_str()),
            (Some("error"), Some("rate_limited")),
            "{transport}"
        );
        assert!(extra.recv().await.is_err(), "then closed");
    }
    open.pop().unwrap().close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = server.tcp().await;
    assert_eq!(
        again.request(json!({"type": "ping"})).await.unwrap()["type"],
        "pong",
        "a freed slot is reusable"
    );
    server.stop().await;
}

both_backends!(
    connections_are_limited_per_address,
    bad_reputation_needs_captcha_then_blocks,
    brute_force_is_locked_out,
    login_and_registration_are_throttled_per_address,
    messages_are_rate_limited_everywhere,
    frame_floods_are_refused,
);

mod web {
    use super::common::{Backend, TestServer};

    /// Every response carries the hardening headers; CORS answers configured origins only.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hardening_headers_and_cors() {
        let server = TestServer::start_with(Backend::Sqlite, |c| c.cors_origins = "https://app.example".into())
            .await
            .unwrap();
        let http = reqwest::Client::new();
        for path in ["/health", "/api/history", "/api/nope"] {
            let r = http.get(format!("{}{path}", server.http)).send().await.unwrap();
            let h = r.headers();
            let csp = h["content-security-policy"].to_str().unwrap();
            assert!(
                csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
                "{csp}"
            );
            assert!(csp.contains("frame-ancestors 'none'"));
            assert_eq!(h["x-content-type-options"], "nosniff");
            assert_eq!(h["x-frame-options"], "DENY");
            assert_eq!(h["referrer-policy"], "no-referrer");
            assert!(
                h["content-type"].to_str().unwrap().starts_with("application/json"),
                "{path}"
            );
        }
        let preflight = |origin: &'static str| {
            http.request(reqwest::Method::OPTIONS, format!("{}/api/send", server.http))
                .header("origin", origin)
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "authorization,content-type")
                .send()
        };
        let ok = preflight("https://app.example").await.unwrap();
        assert_eq!(ok.headers()["access-control-allow-origin"], "https://app.example");
        let evil = preflight("https://evil.example").await.unwrap();
        assert!(evil.headers().get("access-control-allow-origin").is_none());
        server.stop().await;
    }
}

mod slow {
    use super::common::{Backend, TestServer};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A client that dribbles its request headers (slowloris) is cut off.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn slow_headers_are_cut_off() {
        let server = TestServer::start_with(Backend::Sqlite, |c| c.http_header_timeout_secs = 1)
            .await
            .unwrap();
        let addr = server.http.trim_start_matches("http://").to_owned();
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        let started = std::time::Instant::now();
        let mut buf = Vec::new();
        let read = tokio::time::timeout(std::time::Duration::from_secs(5), s.read_to_end(&mut buf)).await;
        assert!(read.is_ok(), "the server closed the slow connection");
        assert!(started.elapsed() < std::time::Duration::from_secs(4));
        // Normal clients are unaffected.
        let ok = reqwest::get(format!("{}/health", server.http)).await.unwrap();
        assert_eq!(ok.status(), 200);
        server.stop().await;
    }
}

mod proxies {
    use super::common::{Backend, TestServer};
    use serde_json::json;

    async fn login_from(server: &TestServer, forwarded: &str) -> u16 {
        reqwest::Client::new()
            .post(format!("{}/api/login", server.http))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"username": "nobody_here", "password": "whatever1"}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    /// Behind a trusted proxy, limits apply per real client; a spoofed header from an
    /// untrusted peer changes nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted = TestServer::start_with(Backend::Sqlite, |c| {
            c.trusted_proxies = "127.0.0.1".into();
            c.rate_limit_login_per_min = 2;
        })
        .await
        .unwrap();
        assert_eq!(login_from(&trusted, "1.1.1.1").await, 401);
        assert_eq!(login_from(&trusted, "1.1.1.1").await, 401);
        assert_eq!(login_from(&trusted, "1.1.1.1").await, 429);
        assert_eq!(
            login_from(&trusted, "2.2.2.2").await,
            401,
            "another client behind the proxy"
        );
        trusted.stop().await;

        let direct = TestServer::start_with(Backend::Sqlite, |c| c.rate_limit_login_per_min = 2)
            .await
            .unwrap();
        assert_eq!(login_from(&direct, "1.1.1.1").await, 401);
        assert_eq!(login_from(&direct, "2.2.2.2").await, 401);
        assert_eq!(
            login_from(&direct, "3.3.3.3").await,
            429,
            "spoofed headers do not reset the limit"
        );
        direct.stop().await;
    }
}
