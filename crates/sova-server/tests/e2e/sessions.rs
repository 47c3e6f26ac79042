//! Sessions and devices: listing, revoking one or all others (sockets of a revoked
//! session close at once), the per-user session limit, new-device alerts, admin
//! revocation and the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, PASSWORD, TestServer, uname};
use serde_json::json;
use sova_client::ClientError;

fn login_body(u: &str, device: &str) -> Option<Vec<u8>> {
    Some(
        json!({"username": u, "password": PASSWORD, "device_id": device})
            .to_string()
            .into_bytes(),
    )
}

async fn sessions_are_listed_and_revoked(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let name = uname("owner");
    rest.register(&name, PASSWORD).await.unwrap();
    let phone = rest
        .raw("POST", "/api/login", None, login_body(&name, "phone"))
        .await
        .unwrap()
        .body;
    let phone_token = phone["token"].as_str().unwrap().to_owned();
    // The phone listens; a login from a new device alerts it.
    let mut phone_ws = server.ws().await;
    phone_ws.auth_token(&phone_token, None).await.unwrap();
    let mut laptop = server.tcp().await;
    let ok = laptop
        .request(json!({"type": "auth", "username": name, "password": PASSWORD, "device_id": "laptop"}))
        .await
        .unwrap();
    let laptop_token = ok["token"].as_str().unwrap().to_owned();
    let laptop_refresh = ok["refresh_token"].as_str().unwrap().to_owned();
    let alert = phone_ws.recv_type("security_alert").await.unwrap();
    assert_eq!(
        (alert["kind"].as_str(), alert["device_id"].as_str()),
        (Some("new_device"), Some("laptop"))
    );
    let alerts = rest
        .raw("GET", "/api/security/alerts", Some(&phone_token), None)
        .await
        .unwrap()
        .body;
    assert!(
        alerts
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["detail"].as_str().unwrap().contains("laptop"))
    );

    let list = rest
        .raw("GET", "/api/sessions", Some(&phone_token), None)
        .await
        .unwrap()
        .body;
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 2);
    let current: Vec<_> = list.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["device_id"], "phone");
    assert_eq!(list[1]["user_agent"], "tcp");
    assert_eq!(list[1]["location"], "loopback");
    let laptop_id = list.iter().find(|s| s["device_id"] == "laptop").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Revoking the laptop: its socket closes now, its tokens stop working.
    let r = rest
        .raw(
            "DELETE",
            &format!("/api/sessions/{laptop_id}"),
            Some(&phone_token),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204);
    loop {
        match laptop.recv().await {
            Ok(f) if f["type"] == "error" => assert_eq!(f["code"], "unauthorized"),
            Ok(_) => {}
            Err(ClientError::Closed) | Err(ClientError::Transport(_)) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        rest.raw("GET", "/api/history", Some(&laptop_token), None)
            .await
            .unwrap()
            .status,
        401
    );
    assert!(rest.refresh(&laptop_refresh).await.is_err());
    assert_eq!(
        rest.raw("GET", "/api/history", Some(&phone_token), None)
            .await
            .unwrap()
            .status,
        200,
        "other session unaffected"
    );
    let r = rest
        .raw("DELETE", "/api/sessions/nonexistent", Some(&phone_token), None)
        .await
        .unwrap();
    assert_eq!(r.status, 404);

    // Revoke all others.
    let tablet = rest
        .raw("POST", "/api/login", None, login_body(&name, "tablet"))
        .await
        .unwrap()
        .body;
    let r = rest
        .raw("POST", "/api/sessions/revoke-others", Some(&phone_token), None)
        .await
        .unwrap();
    assert_eq!(r.body["revoked"], 1);
    assert_eq!(
        rest.raw("GET", "/api/history", Some(tablet["token"].as_str().unwrap()), None)
            .await
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        rest.raw("GET", "/api/sessions", Some(&phone_token), None)
            .await
            .unwrap()
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    server.stop().await;
}

async fn oldest_sessions_are_evicted(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| c.max_sessions_per_user = 2).await else {
        return;
    };
    let rest = server.rest();
    let name = uname("many");
    rest.register(&name, PASSWORD).await.unwrap();
    let mut tokens = Vec::new();
    for d in ["a", "b", "c"] {
        tokens.push(
            rest.raw("POST", "/api/login", None, login_body(&name, d))
                .await
                .unwrap()
                .body["token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_eq!(
        rest.raw("GET", "/api/history", Some(&tokens[0]), None)
            .await
            .unwrap()
            .status,
        401,
        "oldest evicted"
    );
    assert_eq!(
        rest.raw("GET", "/api/history", Some(&tokens[2]), None)
            .await
            .unwrap()
            .status,
        200
    );
    assert_eq!(
        rest.raw("GET", "/api/sessions", Some(&tokens[2]), None)
            .await
            .unwrap()
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );
    server.stop().await;
}

async fn admins_revoke_and_read_the_audit_log(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| c.admin_users = "Chief".into()).await else {
        return;
    };
    let rest = server.rest();
    let chief = rest.signup("chief", PASSWORD).await.unwrap();
    let name = uname("suspect");
    let suspect = rest.signup(&name, PASSWORD).await.unwrap();
    let mut sock = server.ws().await;
    sock.auth_token(&suspect.token, None).await.unwrap();
    let _ = rest
        .raw(
            "POST",
            "/api/login",
            None,
            Some(json!({"username": name, "password": "wrong guess"}).to_string().into()),
        )
        .await;

    let path = format!("/api/admin/users/{}/revoke-sessions", suspect.user_id);
    assert_eq!(
        rest.raw("POST", &path, Some(&suspect.token), None)
            .await
            .unwrap()
            .status,
        403,
        "not an admin"
    );
    let r = rest.raw("POST", &path, Some(&chief.token), None).await.unwrap();
    assert_eq!((r.status, r.body["revoked"].as_i64()), (200, Some(1)));
    // Drain until the server closes the revoked session's socket.
    while sock.recv().await.is_ok() {}
    assert_eq!(
        rest.raw("GET", "/api/history", Some(&suspect.token), None)
            .await
            .unwrap()
            .status,
        401
    );

    let log = rest
        .raw("GET", "/api/admin/audit?limit=50", Some(&chief.token), None)
        .await
        .unwrap();
    assert_eq!(log.status, 200);
    let actions: Vec<&str> = log
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for a in ["login", "login_failed", "admin_revoke_sessions"] {
        assert!(actions.contains(&a), "{a} missing from {actions:?}");
    }
    let filtered = rest
        .raw("GET", "/api/admin/audit?action=login_failed", Some(&chief.token), None)
        .await
        .unwrap()
        .body;
    assert!(
        filtered
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["action"] == "login_failed")
    );
    let ids: Vec<i64> = log
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    let page = rest
        .raw(
            "GET",
            &format!("/api/admin/audit?before={}", ids[0]),
            Some(&chief.token),
            None,
        )
        .await
        .unwrap()
        .body;
    assert_eq!(page.as_array().unwrap().len(), ids.len() - 1, "paged by id");
    assert_eq!(
        rest.raw("GET", "/api/admin/audit", Some(&suspect.token), None)
            .await
            .unwrap()
            .status,
        401,
        "revoked token"
    );
    server.stop().await;
}

both_backends!(
    sessions_are_listed_and_revoked,
    oldest_sessions_are_evicted,
    admins_revoke_and_read_the_audit_log
);
