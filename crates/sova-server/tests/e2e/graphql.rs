//! The GraphQL transport end to end: driven by Python's `gql` client (HTTP queries and
//! mutations validated against the introspected schema, graphql-transport-ws
//! subscriptions fed by a message sent over TCP, resume with `since`), and by plain
//! HTTP for the transport's own rules (GET refuses mutations, depth and complexity
//! limits), on both
//! databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, TestServer, user};
use serde_json::{Value, json};
use std::path::PathBuf;

async fn python_gql_client_passes(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.rate_limit_register_per_hour = 100_000;
        c.rate_limit_login_per_min = 100_000;
    })
    .await
    else {
        return;
    };
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/clients/gql_client.py");
    let (http, tcp) = (server.http.clone(), server.tcp.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .arg(script)
            .arg(http)
            .arg(tcp)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python gql client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for check in [
        "register login",
        "queries and mutations",
        "errors",
        "subscription receives a TCP message",
        "subscription resume",
        "subscription auth",
    ] {
        assert!(
            stdout.lines().any(|l| l == format!("ok {check}")),
            "missing check {check}:\n{stdout}"
        );
    }
    server.stop().await;
}

/// Percent-encodes a query-string value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn post(server: &TestServer, token: Option<&str>, body: Value) -> Value {
    let client = reqwest::Client::new();
    let mut req = client.post(format!("{}/graphql", server.http)).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.unwrap().json().await.unwrap()
}

async fn http_rules_hold(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let (name, pair) = user(&server, "gqlh").await;
    let me = post(
        &server,
        Some(&pair.token),
        json!({"query": "{ me { username user_id } }"}),
    )
    .await;
    assert_eq!(me["data"]["me"]["username"], json!(name), "{me}");

    // GET runs queries but never mutations.
    let client = reqwest::Client::new();
    let get = client
        .get(format!(
            "{}/graphql?query={}",
            server.http,
            encode("{ me { username } }")
        ))
        .bearer_auth(&pair.token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 200);
    let body: Value = get.json().await.unwrap();
    assert_eq!(body["data"]["me"]["username"], json!(name));
    let get = client
        .get(format!(
            "{}/graphql?query={}",
            server.http,
            encode("mutation { logout }")
        ))
        .bearer_auth(&pair.token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    let still = post(&server, Some(&pair.token), json!({"query": "{ me { username } }"})).await;
    assert_eq!(
        still["data"]["me"]["username"],
        json!(name),
        "the GET mutation ran: {still}"
    );

    // Depth limit: a query nested past it is refused before anything runs.
    let mut deep = "__typename".to_owned();
    for _ in 0..20 {
        deep = format!("ofType {{ {deep} }}");
    }
    let deep = post(
        &server,
        None,
        json!({"query": format!("{{ __schema {{ types {{ {deep} }} }} }}")}),
    )
    .await;
    assert!(deep["data"].is_null(), "{deep}");
    assert!(
        deep["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{deep}"
    );

    // Complexity limit: too many fields in one query are refused as a whole.
    let wide: Vec<String> = (0..600).map(|i| format!("a{i}: me {{ username }}")).collect();
    let wide = post(
        &server,
        Some(&pair.token),
        json!({"query": format!("{{ {} }}", wide.join(" "))}),
    )
    .await;
    assert!(wide["data"].is_null(), "{wide}");
    assert!(
        wide["errors"][0]["message"].as_str().unwrap().contains("too complex"),
        "{wide}"
    );

    // Errors carry the registry's codes.
    let err = post(
        &server,
        Some(&pair.token),
        json!({"query": "{ get_chat(chat_id: 987654321) { id } }"}),
    )
    .await;
    assert_eq!(err["errors"][0]["extensions"]["code"], "not_found", "{err}");
    let err = post(&server, Some("garbage"), json!({"query": "{ me { username } }"})).await;
    assert_eq!(err["errors"][0]["extensions"]["code"], "unauthorized", "{err}");
    server.stop().await;
}

async fn graphiql_page_is_served_in_development_only(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let client = reqwest::Client::new();
    let page = client.get(format!("{}/graphiql", server.http)).send().await.unwrap();
    assert_eq!(
        page.status(),
        200,
        "GraphiQL was not built into the server (npm ci in crates/sova-api-graphql/graphiql)"
    );
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(csp.contains("script-src 'self'") && !csp.contains("http"), "{csp}");
    let html = page.text().await.unwrap();
    // Every script is served from here: no CDN.
    for src in [
        "/graphiql/react.production.min.js",
        "/graphiql/react-dom.production.min.js",
        "/graphiql/graphiql.min.js",
        "/graphiql/init.js",
    ] {
        assert!(
            html.contains(&format!("<script src=\"{src}\">")),
            "{src} missing:\n{html}"
        );
        let js = client.get(format!("{}{src}", server.http)).send().await.unwrap();
        assert_eq!(js.status(), 200, "{src}");
        assert!(
            js.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/javascript")
        );
        assert!(!js.bytes().await.unwrap().is_empty());
    }
    assert!(!html.contains("https://"), "the page loads something from elsewhere");
    server.stop().await;

    let Some(off) = TestServer::start_with(backend, |c| c.graphiql = Some(false)).await else {
        return;
    };
    // Off: the path is no GraphiQL (the web client's fallback may answer it).
    let page = client.get(format!("{}/graphiql", off.http)).send().await.unwrap();
    assert!(!page.text().await.unwrap().contains("graphiql.min.js"));
    let init = client
        .get(format!("{}/graphiql/init.js", off.http))
        .send()
        .await
        .unwrap();
    assert!(!init.text().await.unwrap().contains("GraphiQL.createFetcher"));
    off.stop().await;
}

both_backends!(
    python_gql_client_passes,
    http_rules_hold,
    graphiql_page_is_served_in_development_only
);
