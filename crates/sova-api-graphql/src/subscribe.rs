//! The `events(since)` subscription: an attached gateway connection authenticated
//! with the subscriber's token, so GraphQL subscribers get exactly the socket pushes
//! (replay after `since`, then one `synced`, then live; no duplicates). Each item is
//! `Event { seq, type, data }` with `data` the push frame as JSON. An `error` frame
//! (slow consumer, revoked session, shutdown) ends the subscription with that error.

use crate::resolve::{RequestInfo, Shape, gql_error, prop_field};
use crate::schema::{INT64, JSON};
use async_graphql::dynamic::{InputValue, Object, SubscriptionField, SubscriptionFieldFuture, TypeRef};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use sova_gateway::{Attached, Gateway};
use sova_types::ApiError;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// What subscriptions need from the server.
pub struct Feed {
    /// Where attached connections run.
    pub gateway: Arc<Gateway>,
    /// Ends every subscription at shutdown.
    pub shutdown: CancellationToken,
}

/// The `Event` object type.
pub fn event_type() -> Object {
    Object::new("Event")
        .description("One push, as the socket transports write it.")
        .field(prop_field("seq", TypeRef::named(INT64), Shape::Scalar).description("Its position (0: ephemeral)."))
        .field(
            prop_field("type", TypeRef::named_nn(TypeRef::STRING), Shape::Scalar)
                .description("`new_message`, …, or `synced` after a replay."),
        )
        .field(prop_field("data", TypeRef::named_nn(JSON), Shape::Scalar).description("The push frame itself."))
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    seq: Option<i64>,
}

/// The `events` subscription field.
pub fn events_field() -> SubscriptionField {
    SubscriptionField::new("events", TypeRef::named_nn("Event"), |ctx| {
        SubscriptionFieldFuture::new(async move {
            let feed = ctx.data::<Feed>()?;
            let info = ctx.data::<RequestInfo>()?;
            let since = match ctx.args.get("since") {
                Some(v) if !v.is_null() => Some(v.i64()?),
                _ => None,
            };
            let token = info
                .token
                .clone()
                .map_err(gql_error)?
                .ok_or_else(|| gql_error(ApiError::unauthorized("missing bearer token")))?;
            let mut auth = json!({"type": "auth", "id": "auth", "token": token});
            if let Some(s) = since {
                auth["since"] = json!(s);
            }
            let peer = SocketAddr::new(info.ip, 0);
            let mut frames = feed.gateway.attach(
                futures_util::stream::iter([Bytes::from(auth.to_string())]),
                peer,
                info.agent.clone(),
                feed.shutdown.clone(),
            );
            loop {
                let Some(frame) = frames.next().await else {
                    return Err(gql_error(ApiError::unavailable("connection closed")));
                };
                match serde_json::from_slice::<Head>(&frame) {
                    Ok(h) if h.kind == "auth_success" => break,
                    Ok(h) if h.kind == "error" => {
                        return Err(gql_error(
                            serde_json::from_slice(&frame).unwrap_or_else(|_| ApiError::internal()),
                        ));
                    }
                    _ => {}
                }
            }
            Ok(events(frames))
        })
    })
    .argument(InputValue::new("since", TypeRef::named(INT64)).description("Replay the events after this seq first."))
    .description("Every event of the caller (its chats and itself), live; with `since`, replayed first.")
}

fn events<'a>(
    frames: Attached,
) -> impl Stream<Item = async_graphql::Result<async_graphql::dynamic::FieldValue<'a>>> + 'a {
    futures_util::stream::unfold((frames, false), |(mut frames, done)| async move {
        if done {
            return None;
        }
        loop {
            let frame = frames.next().await?;
            let Ok(h) = serde_json::from_slice::<Head>(&frame) else {
                continue;
            };
            match h.kind.as_str() {
                "error" => {
                    let e: ApiError = serde_json::from_slice(&frame).unwrap_or_else(|_| ApiError::internal());
                    return Some((Err(gql_error(e)), (frames, true)));
                }
                "result" | "pong" | "ack" | "history" | "auth_success" => continue,
                _ => {}
            }
            let data: Value = serde_json::from_slice(&frame).unwrap_or(Value::Null);
            let item = json!({"seq": h.seq.unwrap_or(0), "type": h.kind, "data": data});
            return Some((Ok(async_graphql::dynamic::FieldValue::owned_any(item)), (frames, false)));
        }
    })
}
