//! The `sova.v1.Sova` service as one tower service: the request path names the RPC;
//! a unary RPC converts its request message to the operation's JSON object, runs the
//! registry's JSON dispatch and converts the JSON answer to the reply message. The
//! two streams ride an attached gateway connection (`Gateway::attach`): `Events` is
//! a socket that only listens, `Send` one that only sends. Nothing here knows any
//! single operation.

use crate::codec::DynCodec;
use crate::convert::{from_json, to_json};
use crate::protogen::{Model, PACKAGE, Reply, Rpc, SERVICE};
use crate::status::status;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use prost_reflect::{DescriptorPool, DynamicMessage, MessageDescriptor};
use serde::Deserialize;
use serde_json::{Value, json};
use sova_gateway::{Attached, Gateway};
use sova_ops::{Auth, Caller};
use sova_service::Services;
use sova_types::ApiError;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio_util::sync::CancellationToken;
use tonic::server::{Grpc, NamedService, ServerStreamingService, StreamingService, UnaryService};
use tonic::{Request, Response, Status, Streaming};

/// One unary RPC with its resolved message types.
struct Method {
    rpc: Rpc,
    request: MessageDescriptor,
    response: MessageDescriptor,
}

struct Inner {
    services: Arc<Services>,
    gateway: Arc<Gateway>,
    shutdown: CancellationToken,
    methods: HashMap<String, Method>,
    events_request: MessageDescriptor,
    event: MessageDescriptor,
    send_request: MessageDescriptor,
    send_ack: MessageDescriptor,
}

/// The Sova gRPC service (every registry operation, `Events` and `Send`).
#[derive(Clone)]
pub struct SovaService {
    inner: Arc<Inner>,
}

impl NamedService for SovaService {
    const NAME: &'static str = "sova.v1.Sova";
}

fn message(pool: &DescriptorPool, name: &str) -> Result<MessageDescriptor, String> {
    pool.get_message_by_name(name)
        .ok_or_else(|| format!("message {name} is missing from the compiled proto (regenerate it)"))
}

impl SovaService {
    /// The service for `model`, with message types from `pool`; fails when the
    /// compiled proto lacks an RPC or message of the registry.
    pub fn new(
        model: &Model,
        pool: &DescriptorPool,
        services: Arc<Services>,
        gateway: Arc<Gateway>,
        shutdown: CancellationToken,
    ) -> Result<SovaService, String> {
        let service = pool
            .get_service_by_name(&format!("{PACKAGE}.{SERVICE}"))
            .ok_or("the compiled proto has no Sova service")?;
        let mut methods = HashMap::new();
        for rpc in &model.rpcs {
            let declared = service
                .methods()
                .find(|m| m.name() == rpc.method)
                .ok_or_else(|| format!("RPC {} is missing from the compiled proto (regenerate it)", rpc.method))?;
            if declared.input().full_name() != rpc.request || declared.output().full_name() != rpc.response {
                return Err(format!(
                    "RPC {} differs from the registry (regenerate the proto)",
                    rpc.method
                ));
            }
            let method = Method {
                rpc: rpc.clone(),
                request: message(pool, &rpc.request)?,
                response: message(pool, &rpc.response)?,
            };
            methods.insert(rpc.method.clone(), method);
        }
        let inner = Inner {
            services,
            gateway,
            shutdown,
            methods,
            events_request: message(pool, &format!("{PACKAGE}.EventsRequest"))?,
            event: message(pool, &format!("{PACKAGE}.Event"))?,
            send_request: message(pool, &model.send_request)?,
            send_ack: message(pool, &format!("{PACKAGE}.SendAck"))?,
        };
        Ok(SovaService { inner: Arc::new(inner) })
    }
}

impl tower::Service<http::Request<tonic::body::Body>> for SovaService {
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let inner = self.inner.clone();
        Box::pin(async move {
            let name = req.uri().path().rsplit('/').next().unwrap_or_default().to_owned();
            let limit = inner.services.config.max_frame_bytes;
            let response = match name.as_str() {
                "Events" => {
                    let mut grpc = Grpc::new(DynCodec::new(inner.events_request.clone()));
                    grpc.server_streaming(EventsRpc(inner), req).await
                }
                "Send" => {
                    let mut grpc =
                        Grpc::new(DynCodec::new(inner.send_request.clone())).max_decoding_message_size(limit);
                    grpc.streaming(SendRpc(inner), req).await
                }
                other => match inner.methods.get(other) {
                    Some(method) => {
                        let mut grpc =
                            Grpc::new(DynCodec::new(method.request.clone())).max_decoding_message_size(limit);
                        let rpc = UnaryRpc {
                            inner: inner.clone(),
                            method: other.to_owned(),
                        };
                        grpc.unary(rpc, req).await
                    }
                    None => Status::unimplemented(format!("no RPC {other}")).into_http(),
                },
            };
            Ok(response)
        })
    }
}

/// The bearer token in `authorization` metadata, if any.
fn bearer(meta: &tonic::metadata::MetadataMap) -> Result<Option<String>, ApiError> {
    let Some(value) = meta.get("authorization") else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| ApiError::unauthorized("malformed authorization metadata"))?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or_else(|| ApiError::unauthorized("authorization must be 'Bearer <token>'"))?;
    Ok(Some(token.trim().to_owned()))
}

/// The client address (behind trusted proxies, the forwarded one) and software.
fn origin<T>(inner: &Inner, req: &Request<T>) -> (SocketAddr, String) {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0), |c| c.0);
    let forwarded = req.metadata().get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = inner.services.config.client_ip(peer.ip(), forwarded);
    let agent = req
        .metadata()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .map_or_else(
            || "grpc".to_owned(),
            |a| format!("grpc {}", a.chars().take(250).collect::<String>()),
        );
    (SocketAddr::new(ip, peer.port()), agent)
}

struct UnaryRpc {
    inner: Arc<Inner>,
    method: String,
}

impl UnaryService<DynamicMessage> for UnaryRpc {
    type Response = DynamicMessage;
    type Future = BoxFuture<'static, Result<Response<DynamicMessage>, Status>>;

    fn call(&mut self, req: Request<DynamicMessage>) -> Self::Future {
        let inner = self.inner.clone();
        let name = self.method.clone();
        Box::pin(async move {
            let method = inner
                .methods
                .get(&name)
                .ok_or_else(|| Status::unimplemented(format!("no RPC {name}")))?;
            unary(&inner, method, req).await.map(Response::new)
        })
    }
}

async fn unary(inner: &Inner, method: &Method, req: Request<DynamicMessage>) -> Result<DynamicMessage, Status> {
    let entry = method.rpc.entry;
    let (peer, agent) = origin(inner, &req);
    let user = match entry.spec.auth {
        Auth::Public => None,
        Auth::Session | Auth::Optional => match bearer(req.metadata()).map_err(|e| status(&e))? {
            Some(token) => Some(inner.services.auth.authenticate(&token).await.map_err(|e| status(&e))?),
            None if entry.spec.auth == Auth::Session => {
                return Err(status(&ApiError::unauthorized("missing bearer token")));
            }
            None => None,
        },
    };
    let caller = Caller {
        user,
        ip: peer.ip(),
        agent,
    };
    let request = to_json(req.get_ref());
    let out = entry
        .call(inner.services.clone(), caller, request)
        .await
        .map_err(|e| status(&e))?;
    let body: Value = match &out.body {
        Some(bytes) => serde_json::from_slice(bytes).map_err(|_| Status::internal("unreadable response"))?,
        None => Value::Null,
    };
    let shaped = match method.rpc.reply {
        Reply::Empty => return Ok(DynamicMessage::new(method.response.clone())),
        Reply::Direct => body,
        Reply::Items => json!({ "items": body }),
        Reply::Value => json!({ "value": body }),
    };
    from_json(method.response.clone(), &shaped).map_err(|e| {
        tracing::error!(rpc = %method.rpc.method, error = %e, "response does not fit the proto reply");
        Status::internal("response does not fit the reply message")
    })
}

/// What the connection said, as far as these streams care.
#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    re: Option<String>,
    #[serde(default)]
    seq: Option<i64>,
}

fn head(frame: &[u8]) -> Option<Head> {
    serde_json::from_slice(frame).ok()
}

/// The error an `error` frame carries.
fn frame_error(frame: &[u8]) -> ApiError {
    serde_json::from_slice(frame).unwrap_or_else(|_| ApiError::internal())
}

/// Opens an attached connection authenticated with the caller's token and waits for
/// the answer to `auth`: a refusal is the RPC's status, not a stream item.
async fn open<T>(
    inner: &Inner,
    req: &Request<T>,
    since: Option<i64>,
    then: BoxStream<'static, Bytes>,
) -> Result<Attached, Status> {
    let token = bearer(req.metadata())
        .map_err(|e| status(&e))?
        .ok_or_else(|| status(&ApiError::unauthorized("missing bearer token")))?;
    let mut auth = json!({"type": "auth", "id": "auth", "token": token});
    if let Some(since) = since {
        auth["since"] = json!(since);
    }
    let auth = Bytes::from(auth.to_string());
    let (peer, agent) = origin(inner, req);
    let incoming = futures_util::stream::iter([auth]).chain(then);
    let mut frames = inner.gateway.attach(incoming, peer, agent, inner.shutdown.clone());
    loop {
        let Some(frame) = frames.next().await else {
            return Err(Status::unavailable("connection closed"));
        };
        match head(&frame) {
            Some(h) if h.kind == "auth_success" => return Ok(frames),
            Some(h) if h.kind == "error" => return Err(status(&frame_error(&frame))),
            _ => {}
        }
    }
}

struct EventsRpc(Arc<Inner>);

impl ServerStreamingService<DynamicMessage> for EventsRpc {
    type Response = DynamicMessage;
    type ResponseStream = BoxStream<'static, Result<DynamicMessage, Status>>;
    type Future = BoxFuture<'static, Result<Response<Self::ResponseStream>, Status>>;

    fn call(&mut self, req: Request<DynamicMessage>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move {
            let since = to_json(req.get_ref()).get("since").and_then(Value::as_i64);
            let frames = open(&inner, &req, since, futures_util::stream::empty().boxed()).await?;
            let event = inner.event.clone();
            Ok(Response::new(events(frames, event).boxed()))
        })
    }
}

/// Pushes (and `synced`) as `Event` messages; an `error` frame ends the stream with
/// its status (slow consumer, revoked session, shutdown).
fn events(frames: Attached, desc: MessageDescriptor) -> impl Stream<Item = Result<DynamicMessage, Status>> {
    futures_util::stream::unfold((frames, false), move |(mut frames, done)| {
        let desc = desc.clone();
        async move {
            if done {
                return None;
            }
            loop {
                let frame = frames.next().await?;
                let Some(h) = head(&frame) else { continue };
                match h.kind.as_str() {
                    "error" => return Some((Err(status(&frame_error(&frame))), (frames, true))),
                    "result" | "pong" | "ack" | "history" | "auth_success" => continue,
                    _ => {}
                }
                let mut msg = DynamicMessage::new(desc.clone());
                let json = String::from_utf8_lossy(&frame).into_owned();
                let fields = [
                    ("seq", prost_reflect::Value::I64(h.seq.unwrap_or(0))),
                    ("type", prost_reflect::Value::String(h.kind)),
                    ("json", prost_reflect::Value::String(json)),
                ];
                for (name, value) in fields {
                    if let Err(e) = msg.try_set_field_by_name(name, value) {
                        tracing::error!(error = %e, "the Event message lacks a field");
                    }
                }
                return Some((Ok(msg), (frames, false)));
            }
        }
    })
}

struct SendRpc(Arc<Inner>);

impl StreamingService<DynamicMessage> for SendRpc {
    type Response = DynamicMessage;
    type ResponseStream = BoxStream<'static, Result<DynamicMessage, Status>>;
    type Future = BoxFuture<'static, Result<Response<Self::ResponseStream>, Status>>;

    fn call(&mut self, req: Request<Streaming<DynamicMessage>>) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move {
            let (meta, ext, body) = req.into_parts();
            let probe = Request::from_parts(meta, ext, ());
            // Each request becomes a `send` op frame numbered in order; a final ping
            // answers after every send, so its pong ends the reply stream.
            let requests = body
                .take_while(|r| std::future::ready(r.is_ok()))
                .filter_map(|r| std::future::ready(r.ok()))
                .enumerate()
                .map(|(i, msg)| {
                    let mut frame = to_json(&msg);
                    frame.insert("type".into(), json!("send"));
                    frame.insert("id".into(), json!(i.to_string()));
                    Bytes::from(Value::Object(frame).to_string())
                })
                .chain(futures_util::stream::iter([Bytes::from_static(
                    br#"{"type":"ping","id":"end"}"#,
                )]));
            let frames = open(&inner, &probe, None, requests.boxed()).await?;
            Ok(Response::new(acks(frames, inner.send_ack.clone()).boxed()))
        })
    }
}

/// One `SendAck` per answered send, in order, until the closing pong.
fn acks(frames: Attached, desc: MessageDescriptor) -> impl Stream<Item = Result<DynamicMessage, Status>> {
    futures_util::stream::unfold((frames, false), move |(mut frames, done)| {
        let desc = desc.clone();
        async move {
            if done {
                return None;
            }
            loop {
                let frame = frames.next().await?;
                let Some(h) = head(&frame) else { continue };
                let Some(re) = h.re else {
                    if h.kind == "error" {
                        return Some((Err(status(&frame_error(&frame))), (frames, true)));
                    }
                    continue;
                };
                let ack = match h.kind.as_str() {
                    "pong" if re == "end" => return None,
                    "result" => {
                        let data = serde_json::from_slice::<Value>(&frame)
                            .ok()
                            .and_then(|mut v| v.get_mut("data").map(Value::take))
                            .unwrap_or(Value::Null);
                        json!({ "message": data })
                    }
                    "error" => {
                        let e = frame_error(&frame);
                        let mut err = json!({"code": e.code.as_str(), "message": e.message});
                        if let Some(r) = e.retry_after {
                            err["retry_after"] = json!(r);
                        }
                        if let Some(d @ Value::Object(_)) = e.details {
                            err["details"] = d;
                        }
                        json!({ "error": err })
                    }
                    _ => continue,
                };
                let item = from_json(desc.clone(), &ack).map_err(|e| {
                    tracing::error!(error = %e, "a send answer does not fit SendAck");
                    Status::internal("a send answer does not fit SendAck")
                });
                return Some((item, (frames, false)));
            }
        }
    })
}
