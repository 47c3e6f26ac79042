//! The gRPC transport end to end: driven by Python's grpcio (stubs from the protos,
//! a stub from the served reflection, the health service, ErrorInfo details), and by
//! the dynamic Rust client for what the conformance table does not cover (auth,
//! unknown RPCs, the streams' edges), on both databases.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::grpc::{GrpcClient, status_error};
use common::{Backend, TestServer, user};
use serde_json::json;
use std::path::PathBuf;

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

async fn python_grpcio_client_passes(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.rate_limit_register_per_hour = 100_000;
        c.rate_limit_login_per_min = 100_000;
    })
    .await
    else {
        return;
    };
    let addr = server.grpc.trim_start_matches("http://").to_owned();
    let out_dir = tempfile::tempdir().unwrap();
    let script = repo_root().join("crates/sova-server/tests/e2e/clients/grpc_client.py");
    let proto = repo_root().join("proto");
    let out = tokio::task::spawn_blocking({
        let out_dir = out_dir.path().to_owned();
        move || {
            std::process::Command::new("python3")
                .arg(script)
                .arg(addr)
                .arg(proto)
                .arg(out_dir)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python grpcio client failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for check in [
        "health",
        "register login me",
        "errors",
        "unary",
        "events resume",
        "send stream",
        "send stream auth",
        "reflection",
    ] {
        assert!(
            stdout.lines().any(|l| l == format!("ok {check}")),
            "missing check {check}:\n{stdout}"
        );
    }
    server.stop().await;
}

async fn unary_calls_authenticate_and_map_errors(backend: Backend) {
    let Some(server) = TestServer::start(backend).await else {
        return;
    };
    let mut grpc = GrpcClient::connect(&server.grpc).await;
    let (name, pair) = user(&server, "grpcu").await;
    let me = grpc.call("me", &json!({}), Some(&pair.token)).await.unwrap();
    assert_eq!(me["username"], json!(name));
    assert_eq!(me["user_id"], json!(pair.user_id.0));

    let err = grpc.call("me", &json!({}), None).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    assert_eq!(status_error(&err)[0], "unauthorized");
    let err = grpc.call("me", &json!({}), Some("not-a-token")).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unauthenticated);

    // Validation: too long a text is refused with the same code as elsewhere.
    let chats = grpc.call("chats", &json!({}), Some(&pair.token)).await.unwrap();
    let general = chats.as_array().unwrap()[0]["id"].clone();
    let long = "x".repeat(server.config.max_message_chars + 1);
    let err = grpc
        .call("send", &json!({"chat_id": general, "text": long}), Some(&pair.token))
        .await
        .unwrap_err();
    let code = status_error(&err)[0].clone();
    assert!(code == "bad_request" || code == "too_large", "{err:?}");

    // A 204 operation answers Empty.
    let done = grpc
        .call("typing", &json!({"chat_id": general}), Some(&pair.token))
        .await
        .unwrap();
    assert!(done.is_null());
    server.stop().await;
}

both_backends!(python_grpcio_client_passes, unary_calls_authenticate_and_map_errors);
