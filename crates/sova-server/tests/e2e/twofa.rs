//! Two-factor authentication from outside, with codes from `oathtool` (an
//! independent RFC 6238 implementation): enrolment, confirmation, login with a code
//! or a backup code on REST and sockets, replay refusal, tickets that are not
//! tokens, and disabling.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, PASSWORD, TestServer, user};
use serde_json::{Value, json};

/// The TOTP code for `secret` at now + `offset_secs`, from oathtool; `None` (skip)
/// when oathtool is missing outside CI.
fn oathtool(secret: &str, offset_secs: i64) -> Option<String> {
    let now = format!("{} seconds", offset_secs);
    match std::process::Command::new("oathtool")
        .args(["--totp", "-b", "-N", &format!("now + {now}"), secret])
        .output()
    {
        Ok(out) if out.status.success() => Some(String::from_utf8(out.stdout).unwrap().trim().to_owned()),
        Ok(out) => panic!("oathtool failed: {}", String::from_utf8_lossy(&out.stderr)),
        Err(_) if std::env::var_os("CI").is_some() => panic!("oathtool is required in CI (apt-get install oathtool)"),
        Err(_) => {
            eprintln!("SKIPPED: oathtool not installed");
            None
        }
    }
}

fn body(v: Value) -> Option<Vec<u8>> {
    Some(v.to_string().into_bytes())
}

async fn two_factor_end_to_end(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let rest = server.rest();
    let (name, pair) = user(&server, "secure").await;
    let t = pair.token.clone();

    let setup = rest.raw("POST", "/api/2fa/setup", Some(&t), None).await.unwrap();
    assert_eq!(setup.status, 200, "{:?}", setup.body);
    let secret = setup.body["secret"].as_str().unwrap().to_owned();
    let uri = setup.body["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Sova:")
            && uri.contains(&format!("secret={secret}"))
            && uri.contains("issuer=Sova"),
        "{uri}"
    );
    assert!(setup.body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let png = reqwest::Client::new()
        .get(format!("{}/api/2fa/qr.png", server.http))
        .bearer_auth(&t)
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().await.unwrap()[..8], b"\x89PNG\r\n\x1a\n");

    let Some(now_code) = oathtool(&secret, 0) else { return };
    let wrong = rest
        .raw("POST", "/api/2fa/enable", Some(&t), body(json!({"code": "000000"})))
        .await
        .unwrap();
    assert_eq!(wrong.status, 400);
    let enabled = rest
        .raw("POST", "/api/2fa/enable", Some(&t), body(json!({"code": now_code})))
        .await
        .unwrap();
    assert_eq!(enabled.status, 200, "{:?}", enabled.body);
    let backups: Vec<String> = serde_json::from_value(enabled.body["backup_codes"].clone()).unwrap();
    assert_eq!(backups.len(), 10);
    let status = rest.raw("GET", "/api/2fa", Some(&t), None).await.unwrap();
    assert_eq!(status.body, json!({"enabled": true, "backup_codes_left": 10}));

    // Password alone is not enough any more.
    let step1 = rest
        .raw(
            "POST",
            "/api/login",
            None,
            body(json!({"username": name, "password": PASSWORD})),
        )
        .await
        .unwrap();
    assert_eq!(step1.status, 200);
    assert_eq!(step1.body["2fa_required"], true);
    assert!(step1.body.get("token").is_none());
    let ticket = step1.body["ticket"].as_str().unwrap().to_owned();
    // The ticket is not an access token, and an access token is not a ticket.
    assert_eq!(
        rest.raw("GET", "/api/history", Some(&ticket), None)
            .await
            .unwrap()
            .status,
        401
    );
    let r = rest
        .raw(
            "POST",
            "/api/login/2fa",
            None,
            body(json!({"ticket": t, "code": now_code})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    // The code used to enable cannot be replayed; the next step's code works once.
    let r = rest
        .raw(
            "POST",
            "/api/login/2fa",
            None,
            body(json!({"ticket": ticket, "code": now_code})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "replayed code");
    let next = oathtool(&secret, 30).unwrap();
    let ok = rest
        .raw(
            "POST",
            "/api/login/2fa",
            None,
            body(json!({"ticket": ticket, "code": next})),
        )
        .await
        .unwrap();
    assert_eq!(ok.status, 200, "{:?}", ok.body);
    assert!(ok.body["token"].is_string() && ok.body["refresh_token"].is_string());
    let again = rest
        .raw(
            "POST",
            "/api/login/2fa",
            None,
            body(json!({"ticket": ticket, "code": next})),
        )
        .await
        .unwrap();
    assert_eq!(again.status, 401, "a code is good once");
    let far = oathtool(&secret, 120).unwrap();
    let r = rest
        .raw(
            "POST",
            "/api/login/2fa",
            None,
            body(json!({"ticket": ticket, "code": far})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401, "outside the ±1 step window");

    // Sockets: the same two steps, finished with a backup code (single use).
    for transport in ["ws", "tcp"] {
        let mut rt = server.realtime(transport).await;
        let f = rt
            .request(json!({"type": "auth", "username": name, "password": PASSWORD}))
            .await
            .unwrap();
        assert_eq!(f["type"], "auth_2fa_required");
        let ticket = f["ticket"].as_str().unwrap().to_owned();
        if transport == "ws" {
            // (Each wrong code counts toward a lockout; keep this test under it.)
            let e = rt
                .request(json!({"type": "auth_2fa", "ticket": ticket, "code": "123456"}))
                .await
                .unwrap_err();
            assert_eq!(e.code(), Some(sova_types::ErrorCode::Unauthorized));
        }
        let code = if transport == "ws" { &backups[0] } else { &backups[1] };
        let ok = rt
            .request(json!({"type": "auth_2fa", "ticket": ticket, "code": code.to_uppercase()}))
            .await
            .unwrap();
        assert_eq!(ok["type"], "auth_success");
        assert!(ok["refresh_token"].is_string());
        rt.send_message("after 2fa", None).await.unwrap();
    }
    let ticket = rest
        .raw(
            "POST",
            "/api/login",
            None,
            body(json!({"username": name, "password": PASSWORD})),
        )
        .await
        .unwrap()
        .body["ticket"]
        .as_str()
        .unwrap()
        .to_owned();
    let used = rest
        .raw(
            "POST",
            "/api/login/2fa",
            None,
            body(json!({"ticket": ticket, "code": backups[0]})),
        )
        .await
        .unwrap();
    assert_eq!(used.status, 401, "backup codes are single-use");
    assert_eq!(
        rest.raw("GET", "/api/2fa", Some(&t), None).await.unwrap().body["backup_codes_left"],
        8
    );

    // Disabling needs the password and a code.
    let r = rest
        .raw(
            "POST",
            "/api/2fa/disable",
            Some(&t),
            body(json!({"password": "wrong password", "code": backups[2]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 401);
    let r = rest
        .raw(
            "POST",
            "/api/2fa/disable",
            Some(&t),
            body(json!({"password": PASSWORD, "code": backups[2]})),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 204, "{:?}", r.body);
    let plain = rest.login(&name, PASSWORD).await.unwrap();
    assert!(!plain.token.is_empty(), "back to password-only");
    server.stop().await;
}

both_backends!(two_factor_end_to_end);
