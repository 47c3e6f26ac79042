//! TLS: HTTPS (with HSTS), WSS, the TCP protocol and gRPC over TLS, with the self-signed
//! development certificate generated on first start; a client that cannot speak TLS
//! does not disturb the listener.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{Backend, PASSWORD, TestServer, user};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;

fn connector(server: &TestServer) -> TlsConnector {
    let pem = std::fs::read(server.config.data_dir.join("tls-cert.pem")).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

async fn tls(server: &TestServer, addr: std::net::SocketAddr) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    connector(server)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_wss_and_tcp_over_tls() {
    let server = TestServer::start_with(Backend::Sqlite, |c| {
        c.tls_self_signed = true;
        c.https_port = 0;
        c.tcp_tls_port = 0;
        c.grpc_tls_port = 0;
    })
    .await
    .unwrap();
    let (https, tcp_tls) = (server.https_addr.unwrap(), server.tcp_tls_addr.unwrap());
    let (name, _) = user(&server, "tls").await;

    // A client that does not speak TLS gets nowhere and breaks nothing.
    let mut plain = TcpStream::connect(tcp_tls).await.unwrap();
    plain.write_all(b"{\"type\":\"ping\"}\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), plain.read_to_end(&mut buf)).await;
    assert!(!String::from_utf8_lossy(&buf).contains("pong"));

    // HTTPS, with HSTS.
    let mut s = tls(&server, https).await;
    s.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).await.unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.to_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{resp}"
    );

    // The line protocol over TLS.
    let s = tls(&server, tcp_tls).await;
    let (r, mut w) = tokio::io::split(s);
    let mut lines = BufReader::new(r).lines();
    w.write_all(format!("{}\n", json!({"type": "auth", "username": name, "password": PASSWORD})).as_bytes())
        .await
        .unwrap();
    let first: Value = serde_json::from_str(&lines.next_line().await.unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "auth_success");
    let token = first["token"].as_str().unwrap().to_owned();

    // WSS.
    let s = tls(&server, https).await;
    let (mut ws, _) = tokio_tungstenite::client_async("wss://localhost/ws", s).await.unwrap();
    ws.send(tokio_tungstenite::tungstenite::Message::Text(
        json!({"type": "auth", "token": token}).to_string().into(),
    ))
    .await
    .unwrap();
    let msg = ws.next().await.unwrap().unwrap();
    let v: Value = serde_json::from_str(msg.to_text().unwrap()).unwrap();
    assert_eq!(v["type"], "auth_success");

    // gRPC over TLS (ALPN h2), with Python's grpcio trusting the generated certificate.
    let grpc_tls = server.grpc_tls_addr.unwrap();
    let cert = server.config.data_dir.join("tls-cert.pem");
    let script = format!(
        "import grpc\nfrom grpc_health.v1 import health_pb2, health_pb2_grpc\n\
         creds = grpc.ssl_channel_credentials(root_certificates=open({cert:?}, 'rb').read())\n\
         ch = grpc.secure_channel('127.0.0.1:{port}', creds, options=[('grpc.ssl_target_name_override', 'localhost')])\n\
         r = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service='sova.v1.Sova'), timeout=20)\n\
         print(health_pb2.HealthCheckResponse.ServingStatus.Name(r.status), end='')",
        cert = cert.display().to_string(),
        port = grpc_tls.port()
    );
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(["-c", &script])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "SERVING",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.stop().await;
}
