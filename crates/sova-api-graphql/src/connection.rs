//! Relay-style cursor connections over the paging operations: `messages_connection`
//! (over `messages`) and `chats_connection` (over `chats`). The plain list fields
//! stay as the operations answer them; a connection answers
//! `{ edges { cursor node } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } }`
//! (Relay's names, so Relay clients page it as is). Cursors are opaque: base64 of
//! `m:<message id>` or `c:<the chats cursor>`. Each page is one operation call plus,
//! when the page is full, one probe of a single item beyond it, so `hasNextPage`
//! (forward) and `hasPreviousPage` (backward) are exact.

use crate::resolve::{RequestInfo, gql_error};
use crate::schema::INT64;
use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, TypeRef};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sova_service::Services;
use sova_types::ApiError;
use std::sync::Arc;

/// Page size when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i64 = 50;

/// The opaque cursor of `kind` (`m` or `c`) and position `value`.
pub fn encode(kind: char, value: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{kind}:{value}"))
}

/// The position in a cursor of `kind`; `bad_request` for anything else.
pub fn decode(kind: char, cursor: &str) -> Result<String, ApiError> {
    let bad = || ApiError::bad_request("invalid cursor");
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    text.strip_prefix(kind)
        .and_then(|t| t.strip_prefix(':'))
        .map(str::to_owned)
        .ok_or_else(bad)
}

fn message_cursor(m: &Value) -> String {
    encode('m', &m["id"].as_i64().unwrap_or(0).to_string())
}

fn message_position(cursor: &str) -> Result<i64, ApiError> {
    decode('m', cursor)?
        .parse()
        .map_err(|_| ApiError::bad_request("invalid cursor"))
}

/// The `…Connection`, `…Edge` and `PageInfo` types for node type `node`.
pub fn types(node: &str) -> [Object; 2] {
    let edge = format!("{node}Edge");
    [
        Object::new(format!("{node}Connection"))
            .description(format!("A page of `{node}`s (Relay cursor connection)."))
            .field(json_field("edges", TypeRef::named_nn_list_nn(&edge), Kind::List))
            .field(json_field("pageInfo", TypeRef::named_nn("PageInfo"), Kind::Object)),
        Object::new(edge)
            .field(json_field("cursor", TypeRef::named_nn(TypeRef::STRING), Kind::Scalar))
            .field(json_field("node", TypeRef::named_nn(node), Kind::Object)),
    ]
}

/// The shared `PageInfo` type.
pub fn page_info() -> Object {
    Object::new("PageInfo")
        .description("Where a connection's page lies (Relay).")
        .field(json_field(
            "hasNextPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            Kind::Scalar,
        ))
        .field(json_field(
            "hasPreviousPage",
            TypeRef::named_nn(TypeRef::BOOLEAN),
            Kind::Scalar,
        ))
        .field(json_field("startCursor", TypeRef::named(TypeRef::STRING), Kind::Scalar))
        .field(json_field("endCursor", TypeRef::named(TypeRef::STRING), Kind::Scalar))
}

#[derive(Clone, Copy)]
enum Kind {
    Scalar,
    Object,
    List,
}

fn json_field(name: &'static str, ty: TypeRef, kind: Kind) -> Field {
    Field::new(name, ty, move |ctx| {
        FieldFuture::new(async move {
            let parent = ctx.parent_value.try_downcast_ref::<Value>()?;
            let v = parent.get(name).cloned().unwrap_or(Value::Null);
            Ok(match kind {
                Kind::Scalar => Some(FieldValue::value(
                    async_graphql::Value::from_json(v).unwrap_or(async_graphql::Value::Null),
                )),
                Kind::Object => Some(FieldValue::owned_any(v)),
                Kind::List => Some(FieldValue::list(
                    v.as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .map(FieldValue::owned_any),
                )),
            })
        })
    })
}

/// Runs operation `name` for the caller of this request.
async fn call(
    ctx: &async_graphql::dynamic::ResolverContext<'_>,
    name: &str,
    request: Value,
) -> Result<Value, ApiError> {
    let services = ctx.data::<Arc<Services>>().map_err(|_| ApiError::internal())?.clone();
    let info = ctx.data::<RequestInfo>().map_err(|_| ApiError::internal())?;
    let entry = sova_ops::all()
        .iter()
        .find(|e| e.spec.name == name)
        .ok_or_else(ApiError::internal)?;
    let caller = info.caller(entry.spec.auth, &services).await?;
    let Value::Object(request) = request else {
        return Err(ApiError::internal());
    };
    let out = entry.call(services, caller, request).await?;
    match &out.body {
        Some(bytes) => serde_json::from_slice(bytes).map_err(|_| ApiError::internal()),
        None => Ok(Value::Array(Vec::new())),
    }
}

fn list(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a,
        _ => Vec::new(),
    }
}

fn opt_i64(ctx: &async_graphql::dynamic::ResolverContext<'_>, name: &str) -> async_graphql::Result<Option<i64>> {
    match ctx.args.get(name) {
        Some(v) if !v.is_null() => Ok(Some(v.i64()?)),
        _ => Ok(None),
    }
}

fn opt_str(ctx: &async_graphql::dynamic::ResolverContext<'_>, name: &str) -> async_graphql::Result<Option<String>> {
    match ctx.args.get(name) {
        Some(v) if !v.is_null() => Ok(Some(v.string()?.to_owned())),
        _ => Ok(None),
    }
}

fn connection(nodes: Vec<Value>, cursor: impl Fn(&Value) -> String, next: bool, previous: bool) -> Value {
    let edges: Vec<Value> = nodes
        .into_iter()
        .map(|n| json!({"cursor": cursor(&n), "node": n}))
        .collect();
    let page = json!({
        "hasNextPage": next,
        "hasPreviousPage": previous,
        "startCursor": edges.first().map(|e| e["cursor"].clone()),
        "endCursor": edges.last().map(|e| e["cursor"].clone()),
    });
    json!({"edges": edges, "pageInfo": page})
}

/// `messages_connection(chat_id, first, after, last, before)`: a chat's messages,
/// oldest first. Forward (`first`, `after`): the messages after the cursor; backward
/// (`last`, `before`, or neither: the newest): the messages before it.
async fn messages_page(ctx: &async_graphql::dynamic::ResolverContext<'_>) -> Result<Value, ApiError> {
    let arg = |e: async_graphql::Error| ApiError::bad_request(e.message);
    let chat = ctx
        .args
        .get("chat_id")
        .ok_or_else(|| ApiError::bad_request("chat_id is required"))?
        .i64()
        .map_err(arg)?;
    let (first, last) = (opt_i64(ctx, "first").map_err(arg)?, opt_i64(ctx, "last").map_err(arg)?);
    let after = opt_str(ctx, "after")
        .map_err(arg)?
        .map(|c| message_position(&c))
        .transpose()?;
    let before = opt_str(ctx, "before")
        .map_err(arg)?
        .map(|c| message_position(&c))
        .transpose()?;
    if first.is_some() && last.is_some() {
        return Err(ApiError::bad_request("first and last cannot be combined"));
    }
    if after.is_some() && before.is_some() {
        return Err(ApiError::bad_request("after and before cannot be combined"));
    }
    let page = |before: Option<i64>, after: Option<i64>, limit: i64| {
        let mut r = Map::new();
        r.insert("chat_id".into(), json!(chat));
        r.insert("limit".into(), json!(limit));
        if let Some(b) = before {
            r.insert("before".into(), json!(b));
        }
        if let Some(a) = after {
            r.insert("after".into(), json!(a));
        }
        call(ctx, "messages", Value::Object(r))
    };
    let id = |m: Option<&Value>| m.and_then(|m| m["id"].as_i64());
    if first.is_some() || after.is_some() {
        let n = first.unwrap_or(DEFAULT_PAGE);
        // From the start when no cursor is given (ids are positive).
        let nodes = list(page(None, Some(after.unwrap_or(0)), n).await?);
        // A full page: is there one more after it?
        let next = match id(nodes.last()) {
            Some(last) if nodes.len() as i64 == n => !list(page(None, Some(last), 1).await?).is_empty(),
            _ => false,
        };
        Ok(connection(nodes, message_cursor, next, after.is_some()))
    } else {
        let n = last.unwrap_or(DEFAULT_PAGE);
        let nodes = list(page(before, None, n).await?);
        let previous = match id(nodes.first()) {
            Some(first) if nodes.len() as i64 == n => !list(page(Some(first), None, 1).await?).is_empty(),
            _ => false,
        };
        Ok(connection(nodes, message_cursor, before.is_some(), previous))
    }
}

/// `chats_connection(first, after)`: the caller's chats, most recently active first
/// (forward only, as the `chats` operation pages).
async fn chats_page(ctx: &async_graphql::dynamic::ResolverContext<'_>) -> Result<Value, ApiError> {
    let arg = |e: async_graphql::Error| ApiError::bad_request(e.message);
    let n = opt_i64(ctx, "first").map_err(arg)?.unwrap_or(DEFAULT_PAGE);
    let after = opt_str(ctx, "after")
        .map_err(arg)?
        .map(|c| decode('c', &c))
        .transpose()?;
    let page = |cursor: Option<String>, limit: i64| {
        let mut r = Map::new();
        r.insert("limit".into(), json!(limit));
        if let Some(c) = cursor {
            r.insert("cursor".into(), json!(c));
        }
        call(ctx, "chats", Value::Object(r))
    };
    // The `chats` operation's own cursor: `<last message id>:<chat id>`.
    let position = |c: &Value| {
        format!(
            "{}:{}",
            c["last_message"]["id"].as_i64().unwrap_or(0),
            c["id"].as_i64().unwrap_or(0)
        )
    };
    let nodes = list(page(after.clone(), n).await?);
    let next = match nodes.last() {
        Some(last) if nodes.len() as i64 == n => !list(page(Some(position(last)), 1).await?).is_empty(),
        _ => false,
    };
    Ok(connection(nodes, |c| encode('c', &position(c)), next, after.is_some()))
}

fn resolved(
    name: &'static str,
    ty: &str,
    run: for<'a> fn(
        &'a async_graphql::dynamic::ResolverContext<'a>,
    ) -> futures_util::future::BoxFuture<'a, Result<Value, ApiError>>,
) -> Field {
    Field::new(name, TypeRef::named_nn(ty), move |ctx| {
        FieldFuture::new(async move {
            let v = run(&ctx).await.map_err(gql_error)?;
            Ok(Some(FieldValue::owned_any(v)))
        })
    })
}

/// The connection fields of `Query`.
pub fn fields() -> Vec<Field> {
    let messages = resolved("messages_connection", "MessageConnection", |ctx| {
        Box::pin(messages_page(ctx))
    })
    .description("A chat's messages as a Relay connection, oldest first (over the `messages` operation).")
    .argument(InputValue::new("chat_id", TypeRef::named_nn(INT64)))
    .argument(
        InputValue::new("first", TypeRef::named(TypeRef::INT)).description("Page forward: this many after `after`."),
    )
    .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
    .argument(
        InputValue::new("last", TypeRef::named(TypeRef::INT))
            .description("Page backward: this many before `before` (the default, 50 newest)."),
    )
    .argument(InputValue::new("before", TypeRef::named(TypeRef::STRING)));
    let chats = resolved("chats_connection", "ChatConnection", |ctx| Box::pin(chats_page(ctx)))
        .description("The caller's chats as a Relay connection, most recently active first (over `chats`).")
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)).description("How many (50 when absent)."))
        .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)));
    vec![messages, chats]
}
