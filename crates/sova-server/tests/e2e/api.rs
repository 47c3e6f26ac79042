//! REST end to end: the seed endpoints, validation and every bad-input class.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, PASSWORD, TestServer, uname, user};
use serde_json::json;
use sova_types::ErrorCode;

async fn seed_flow(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let health = rest.health().await.unwrap();
    assert_eq!(health["status"], "ok");

    let name = uname("Seed");
    let reg = rest
        .raw(
            "POST",
            "/api/register",
            None,
            Some(json!({"username": name, "password": PASSWORD}).to_string().into()),
        )
        .await
        .unwrap();
    assert_eq!(reg.status, 201);
    assert_eq!(reg.body["username"], name.as_str());
    assert!(reg.body["user_id"].as_i64().unwrap() > 0);
    assert!(reg.request_id.is_some(), "every response carries x-request-id");

    let login = rest.login(&name.to_uppercase(), PASSWORD).await.unwrap();
    assert_eq!(
        login.username, name,
        "login is case-insensitive and returns the stored spelling"
    );
    assert_eq!(login.expires_in, 900);
    assert_eq!(login.token.split('.').count(), 3, "a JWT");
    assert!(login.refresh_token.len() >= 32);

    // Seed style: token in the body, text in `content`.
    let sent = rest
        .raw(
            "POST",
            "/api/send",
            None,
            Some(
                json!({"token": login.token, "content": "Привет, мир!"})
                    .to_string()
                    .into(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(sent.status, 201, "{:?}", sent.body);
    assert_eq!(sent.body["text"], "Привет, мир!");
    assert_eq!(sent.body["user"], name.as_str());
    assert!(sent.body["timestamp"].as_str().unwrap().ends_with('Z'));
    let m2 = rest.send(&login.token, "second").await.unwrap();
    assert_eq!(m2.chat_id.0, sent.body["chat_id"].as_i64().unwrap(), "both in general");

    let hist = rest.history(&login.token, Some(50), None).await.unwrap();
    let texts: Vec<_> = hist.iter().map(|m| m.text.as_str()).collect();
    assert_eq!(texts, vec!["Привет, мир!", "second"], "oldest first");
    server.stop().await;
}

async fn history_paging(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "pager").await;
    let mut ids = Vec::new();
    for i in 0..7 {
        ids.push(rest.send(&a.token, &format!("m{i}")).await.unwrap().id);
    }
    let last3 = rest.history(&a.token, Some(3), None).await.unwrap();
    assert_eq!(last3.iter().map(|m| m.id).collect::<Vec<_>>(), ids[4..].to_vec());
    let prev = rest.history(&a.token, Some(3), Some(last3[0].id)).await.unwrap();
    assert_eq!(prev.iter().map(|m| m.id).collect::<Vec<_>>(), ids[1..4].to_vec());
    let first = rest.history(&a.token, Some(3), Some(prev[0].id)).await.unwrap();
    assert_eq!(first.iter().map(|m| m.id).collect::<Vec<_>>(), ids[..1].to_vec());
    let default = rest.history(&a.token, None, None).await.unwrap();
    assert_eq!(default.len(), 7);
    for bad in ["limit=0", "limit=101", "limit=abc", "before=xyz", "limit=-5"] {
        let r = rest
            .raw("GET", &format!("/api/history?{bad}"), Some(&a.token), None)
            .await
            .unwrap();
        assert_eq!(r.status, 400, "{bad}: {:?}", r.body);
        assert_eq!(r.body["code"], "bad_request");
    }
    let r = rest.raw("GET", "/api/history", None, None).await.unwrap();
    assert_eq!(r.status, 401);
    server.stop().await;
}

async fn registration_rules(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let name = uname("Dup");
    rest.register(&name, PASSWORD).await.unwrap();
    let again = rest.register(&name.to_lowercase(), PASSWORD).await.unwrap_err();
    assert_eq!(again.code(), Some(ErrorCode::Conflict));
    assert!(matches!(again, sova_client::ClientError::Api { status: 409, .. }));
    for (u, p) in [
        ("ab", PASSWORD),
        ("has space", PASSWORD),
        ("<script>", PASSWORD),
        (&"x".repeat(33)[..], PASSWORD),
        ("okname", "short"),
    ] {
        let e = rest.register(u, p).await.unwrap_err();
        assert!(
            matches!(e, sova_client::ClientError::Api { status: 400, .. }),
            "{u}/{p}: {e}"
        );
    }
    let long_pw = "p".repeat(1025);
    assert_eq!(
        rest.register(&uname("lp"), &long_pw).await.unwrap_err().code(),
        Some(ErrorCode::BadRequest)
    );
    server.stop().await;
}

async fn login_failures_look_alike(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (name, _) = user(&server, "victim").await;
    let body = |u: &str, p: &str| Some(json!({"username": u, "password": p}).to_string().into_bytes());
    let wrong_pw = rest
        .raw("POST", "/api/login", None, body(&name, "wrong password"))
        .await
        .unwrap();
    let no_user = rest
        .raw("POST", "/api/login", None, body("nobody_here", "wrong password"))
        .await
        .unwrap();
    assert_eq!(wrong_pw.status, 401);
    assert_eq!(no_user.status, 401);
    assert_eq!(wrong_pw.body, no_user.body, "no user enumeration");
    server.stop().await;
}

async fn bad_input_is_typed(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "bad").await;
    type Case<'a> = (&'a str, &'a str, Option<Vec<u8>>, u16, &'a str);
    let cases: Vec<Case> = vec![
        ("POST", "/api/register", Some(b"{not json".to_vec()), 400, "bad_request"),
        ("POST", "/api/register", Some(b"[1,2]".to_vec()), 400, "bad_request"),
        (
            "POST",
            "/api/register",
            Some(b"{\"username\":\"abc\"}".to_vec()),
            400,
            "bad_request",
        ),
        ("POST", "/api/register", None, 400, "bad_request"),
        ("POST", "/api/login", Some(vec![0xff, 0xfe, 0x00]), 400, "bad_request"),
        (
            "POST",
            "/api/register",
            Some(format!("{{\"username\":\"{}\",\"password\":\"x\"}}", "a".repeat(1100 * 1024)).into_bytes()),
            413,
            "too_large",
        ),
        (
            "POST",
            "/api/send",
            Some(json!({"content": "no token"}).to_string().into_bytes()),
            401,
            "unauthorized",
        ),
        (
            "POST",
            "/api/send",
            Some(json!({"token": "garbage", "content": "x"}).to_string().into_bytes()),
            401,
            "unauthorized",
        ),
        ("GET", "/api/nope", None, 404, "not_found"),
        ("DELETE", "/api/login", None, 405, "method_not_allowed"),
    ];
    for (method, path, body, status, code) in cases {
        let r = rest.raw(method, path, None, body).await.unwrap();
        assert_eq!(r.status, status, "{method} {path}: {:?}", r.body);
        assert_eq!(r.body["code"], code, "{method} {path}");
        assert!(r.body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    let authed: Vec<(serde_json::Value, u16, &str)> = vec![
        (json!({"content": ""}), 400, "bad_request"),
        (json!({"content": "   "}), 400, "bad_request"),
        (json!({"content": "x".repeat(4097)}), 413, "too_large"),
        (json!({"content": "nul\u{0}byte"}), 400, "bad_request"),
        (json!({}), 400, "bad_request"),
        (json!({"content": "x", "chat_id": 999_999}), 404, "not_found"),
        (
            json!({"content": "x", "client_msg_id": "k".repeat(65)}),
            400,
            "bad_request",
        ),
        (json!({"content": 5}), 400, "bad_request"),
    ];
    for (body, status, code) in authed {
        let r = rest
            .raw("POST", "/api/send", Some(&a.token), Some(body.to_string().into_bytes()))
            .await
            .unwrap();
        assert_eq!(r.status, status, "{body}: {:?}", r.body);
        assert_eq!(r.body["code"], code, "{body}");
        if code == "too_large" {
            assert_eq!(
                r.body["details"]["max"], 4096,
                "the limit travels as details: {:?}",
                r.body
            );
        }
    }
    // A body over MAX_FRAME_BYTES names the limit too.
    let big = format!("{{\"content\":\"{}\"}}", "b".repeat(1100 * 1024));
    let r = rest
        .raw("POST", "/api/send", Some(&a.token), Some(big.into_bytes()))
        .await
        .unwrap();
    assert_eq!((r.status, r.body["details"]["max"].as_u64()), (413, Some(1024 * 1024)));
    // Exactly at the limit is fine, counted in characters.
    let max = "я".repeat(4096);
    assert_eq!(rest.send(&a.token, &max).await.unwrap().text, max);
    // Hostile text is stored and returned as data.
    let xss = "<script>alert('x')</script>'; DROP TABLE users; --";
    assert_eq!(rest.send(&a.token, xss).await.unwrap().text, xss);
    let hist = rest.history(&a.token, Some(1), None).await.unwrap();
    assert_eq!(hist[0].text, xss);
    assert!(rest.health().await.is_ok(), "server still healthy after abuse");
    server.stop().await;
}

async fn idempotent_send(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (_, a) = user(&server, "idem").await;
    let first = rest.send_to(&a.token, None, "once", Some("cm-1")).await.unwrap();
    let again = rest
        .send_to(&a.token, None, "once (retry)", Some("cm-1"))
        .await
        .unwrap();
    assert_eq!(first, again, "a retry returns the stored message");
    let hist = rest.history(&a.token, None, None).await.unwrap();
    assert_eq!(hist.len(), 1);
    server.stop().await;
}

/// Settings follow the user: saved on one device, read on another, announced to the
/// user's open connections (and to nobody else), bounded, and objects only.
async fn settings_follow_the_user(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (name, a) = user(&server, "settings").await;
    let (_, other) = user(&server, "stranger").await;
    let fresh = rest.raw("GET", "/api/me/settings", Some(&a.token), None).await.unwrap();
    assert_eq!(
        (fresh.status, &fresh.body),
        (200, &json!({"settings": {}, "updated_at": null}))
    );
    let mut mine = server.ws().await;
    mine.auth_token(&a.token, None).await.unwrap();
    let mut theirs = server.tcp().await;
    theirs.auth_token(&other.token, None).await.unwrap();

    let saved = rest
        .raw(
            "PUT",
            "/api/me/settings",
            Some(&a.token),
            Some(
                json!({"settings": {"theme": "dark", "font_size": 15}})
                    .to_string()
                    .into_bytes(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(saved.status, 200, "{:?}", saved.body);
    assert_eq!(saved.body["settings"], json!({"theme": "dark", "font_size": 15}));
    let pushed = mine.recv_type("settings_updated").await.unwrap();
    assert_eq!(pushed["settings"]["theme"], "dark");
    assert_eq!(pushed["updated_at"], saved.body["updated_at"]);
    assert!(pushed.get("seq").is_none(), "ephemeral: {pushed}");

    // Another device (a new login) reads the same.
    let second = rest.login(&name, PASSWORD).await.unwrap();
    let read = rest
        .raw("GET", "/api/me/settings", Some(&second.token), None)
        .await
        .unwrap();
    assert_eq!(read.body, saved.body);
    // Over a socket, as an op frame.
    let via_socket = mine.request(json!({"type": "settings"})).await.unwrap();
    assert_eq!(via_socket["data"], saved.body);

    let big = json!({"settings": {"blob": "x".repeat(17 * 1024)}})
        .to_string()
        .into_bytes();
    let r = rest
        .raw("PUT", "/api/me/settings", Some(&a.token), Some(big))
        .await
        .unwrap();
    assert_eq!((r.status, r.body["code"].as_str()), (413, Some("too_large")));
    assert_eq!(r.body["details"]["max"], 16 * 1024);
    let r = rest
        .raw(
            "PUT",
            "/api/me/settings",
            Some(&a.token),
            Some(br#"{"settings":[1,2]}"#.to_vec()),
        )
        .await
        .unwrap();
    assert_eq!((r.status, r.body["code"].as_str()), (400, Some("bad_request")));
    let r = rest.raw("GET", "/api/me/settings", None, None).await.unwrap();
    assert_eq!(r.status, 401);
    // The stranger heard nothing about it.
    theirs.send(&json!({"type": "ping", "id": "p"})).await.unwrap();
    loop {
        let f = theirs.recv().await.unwrap();
        assert_ne!(f["type"], "settings_updated", "{f}");
        if f["type"] == "pong" {
            break;
        }
    }
    server.stop().await;
}

both_backends!(
    settings_follow_the_user,
    seed_flow,
    history_paging,
    registration_rules,
    login_failures_look_alike,
    bad_input_is_typed,
    idempotent_send,
);
