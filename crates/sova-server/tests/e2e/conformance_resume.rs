//! Resume after a disconnect, over all five transports from one table of
//! expectations, on both databases: a subscriber receives a message live, goes away,
//! misses three messages, and comes back with `since` (REST: `GET /api/sync?since=`;
//! WebSocket and TCP: `since` on `auth`; gRPC: `EventsRequest.since`; GraphQL:
//! `events(since:)` over graphql-transport-ws). Every transport must replay exactly the
//! same missed events (the same push frames), each once, then mark the live point, and
//! then deliver a new message live, once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::conformance::{Fixture, fixture, normalize};

use common::grpc::GrpcClient;
use common::{Backend, TestServer};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sova_client::Realtime;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type GqlSocket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A live subscription over one transport, yielding push frames.
enum Subscription {
    Socket(Realtime),
    Grpc(tonic::Streaming<prost_reflect::DynamicMessage>),
    Graphql(GqlSocket),
}

impl Subscription {
    async fn open(server: &TestServer, transport: &str, token: &str, since: Option<i64>) -> Subscription {
        match transport {
            "WebSocket" | "TCP" => {
                let mut rt = if transport == "TCP" {
                    server.tcp().await
                } else {
                    server.ws().await
                };
                rt.auth_token(token, since).await.unwrap();
                Subscription::Socket(rt)
            }
            "gRPC" => {
                let mut client = GrpcClient::connect(&server.grpc).await;
                Subscription::Grpc(client.events(since, token).await.unwrap())
            }
            "GraphQL" => {
                let url = format!("{}/graphql", server.http.replacen("http", "ws", 1));
                let mut req = url.into_client_request().unwrap();
                req.headers_mut()
                    .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
                let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
                let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}});
                ws.send(WsMessage::text(init.to_string())).await.unwrap();
                let ack = gql_next(&mut ws).await;
                assert_eq!(ack["type"], "connection_ack", "{ack}");
                let subscribe = json!({"id": "1", "type": "subscribe", "payload": {
                    "query": "subscription($s: Int64) { events(since: $s) { seq type data } }",
                    "variables": {"s": since},
                }});
                ws.send(WsMessage::text(subscribe.to_string())).await.unwrap();
                Subscription::Graphql(ws)
            }
            other => panic!("no subscription over {other}"),
        }
    }

    /// The next push frame that is not ephemeral presence or typing.
    async fn next(&mut self) -> Value {
        loop {
            let frame = match self {
                Subscription::Socket(rt) => rt.recv().await.unwrap(),
                Subscription::Grpc(stream) => {
                    let event = stream.message().await.unwrap().expect("the Events stream ended");
                    let event = sova_api_grpc::convert::to_json(&event);
                    serde_json::from_str(event["json"].as_str().unwrap()).unwrap()
                }
                Subscription::Graphql(ws) => {
                    let m = gql_next(ws).await;
                    assert_eq!(m["type"], "next", "{m}");
                    m["payload"]["data"]["events"]["data"].clone()
                }
            };
            if !matches!(frame["type"].as_str(), Some("presence" | "typing")) {
                return frame;
            }
        }
    }

    async fn close(self) {
        match self {
            Subscription::Socket(rt) => rt.close().await,
            Subscription::Grpc(stream) => drop(stream),
            Subscription::Graphql(mut ws) => {
                let _ = ws.close(None).await;
            }
        }
    }
}

/// The next JSON message of a graphql-transport-ws socket (answering pings).
async fn gql_next(ws: &mut GqlSocket) -> Value {
    loop {
        match ws.next().await.expect("the GraphQL socket closed").unwrap() {
            WsMessage::Text(t) => {
                let v: Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "ping" {
                    ws.send(WsMessage::text(json!({"type": "pong"}).to_string()))
                        .await
                        .unwrap();
                    continue;
                }
                return v;
            }
            WsMessage::Close(c) => panic!("the GraphQL socket closed: {c:?}"),
            _ => {}
        }
    }
}

/// B sends `text` to G over REST: the stored message.
async fn send(server: &TestServer, fx: &Fixture, text: &str) -> Value {
    let body = serde_json::to_vec(&json!({"text": text})).unwrap();
    let path = format!("/api/chats/{}/messages", fx.ids["G"]);
    let r = server
        .rest()
        .raw("POST", &path, Some(&fx.tokens[1]), Some(body))
        .await
        .unwrap();
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

/// The frame of a new message with `text`, skipping other events (fixture set-up).
async fn until_message(sub: &mut Subscription, text: &str) -> Value {
    loop {
        let f = sub.next().await;
        if f["type"] == "new_message" && f["text"] == text {
            return f;
        }
    }
}

/// What A sees over `transport` when resuming after missing three messages:
/// (the replayed frames, normalized; the live frame after the live point, normalized).
async fn resume_over(server: &TestServer, transport: &str) -> (Vec<Value>, Value) {
    let fx = fixture(server).await;
    let a = fx.tokens[0].clone();
    // Online: the first message arrives live (REST has no live events: it syncs).
    let base = if transport == "REST" {
        send(server, &fx, "before").await
    } else {
        // From the beginning, so that every transport marks its live point (`synced`);
        // the message is sent after it, so it arrives live, not replayed.
        let mut sub = Subscription::open(server, transport, &a, Some(0)).await;
        while sub.next().await["type"] != "synced" {}
        send(server, &fx, "before").await;
        let live = until_message(&mut sub, "before").await;
        sub.close().await;
        live
    };
    let since = base["seq"].as_i64().unwrap();
    // Away: three messages are missed.
    let mut missed = Vec::new();
    for i in 0..3 {
        missed.push(send(server, &fx, &format!("missed {i}")).await["seq"].as_i64().unwrap());
    }
    let (replayed, live) = if transport == "REST" {
        let sync = server
            .rest()
            .raw("GET", &format!("/api/sync?since={since}"), Some(&a), None)
            .await
            .unwrap();
        let replayed = sync.body["events"].as_array().unwrap().clone();
        send(server, &fx, "live").await;
        let after = server
            .rest()
            .raw("GET", &format!("/api/sync?since={}", missed[2]), Some(&a), None)
            .await
            .unwrap();
        let after = after.body["events"].as_array().unwrap().clone();
        assert_eq!(after.len(), 1, "REST: {after:?}");
        (replayed, after[0].clone())
    } else {
        let mut sub = Subscription::open(server, transport, &a, Some(since)).await;
        let mut replayed = Vec::new();
        loop {
            let f = sub.next().await;
            if f["type"] == "synced" {
                assert_eq!(f["seq"], json!(missed[2]), "{transport}: {f}");
                break;
            }
            replayed.push(f);
        }
        send(server, &fx, "live").await;
        // The next event is the live message: nothing replayed twice in between.
        let live = sub.next().await;
        sub.close().await;
        (replayed, live)
    };
    let seqs: Vec<i64> = replayed.iter().map(|f| f["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, missed, "{transport}: not exactly the missed events, once each");
    assert_eq!(live["text"], "live", "{transport}: {live}");
    (
        replayed.iter().map(|f| normalize(f, &fx)).collect(),
        normalize(&live, &fx),
    )
}

async fn resume_answers_alike(backend: Backend) {
    let Some(server) = TestServer::start_with(backend, |c| {
        c.rate_limit_register_per_hour = 100_000;
        c.rate_limit_login_per_min = 100_000;
    })
    .await
    else {
        return;
    };
    let (rest_replayed, rest_live) = resume_over(&server, "REST").await;
    assert_eq!(rest_replayed.len(), 3);
    assert!(
        rest_replayed.iter().all(|f| f["type"] == "new_message"),
        "{rest_replayed:?}"
    );
    for transport in ["WebSocket", "TCP", "gRPC", "GraphQL"] {
        let (replayed, live) = resume_over(&server, transport).await;
        assert_eq!(rest_replayed, replayed, "{transport} replays differently from REST");
        assert_eq!(rest_live, live, "{transport} delivers differently from REST");
    }
    server.stop().await;
}

mod sqlite {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resume_answers_alike() {
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            super::resume_answers_alike(super::common::Backend::Sqlite),
        )
        .await
        .expect("test timed out");
    }
}
mod postgres {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn resume_answers_alike() {
        tokio::time::timeout(
            std::time::Duration::from_secs(120),
            super::resume_answers_alike(super::common::Backend::Postgres),
        )
        .await
        .expect("test timed out");
    }
}
