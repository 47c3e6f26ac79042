use crate::extract::Authed;
use crate::{ApiJson, ApiPath, ApiQuery, Bearer, HttpError};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use sova_service::Services;
use sova_service::messages::SendParams;
use sova_types::models::MessageVersion;
use sova_types::models::{Message, SendRequest};
use sova_types::{ApiError, ChatId, MessageId};
use std::sync::Arc;

/// # POST /api/send
/// 201 with the stored message, pushed to members as `new_message`. The token may be
/// the body's `token` (seed style) or a bearer header; the text `content` or `text`.
pub async fn send(
    State(s): State<Arc<Services>>,
    Bearer(bearer): Bearer,
    ApiJson(req): ApiJson<SendRequest>,
) -> Result<(StatusCode, Json<Message>), HttpError> {
    let token = bearer
        .or(req.token)
        .ok_or_else(|| ApiError::unauthorized("missing token"))?;
    let user = s.auth.authenticate(&token).await?;
    let text = req
        .content
        .or(req.text)
        .ok_or_else(|| ApiError::bad_request("missing field `content`"))?;
    let msg = s.messages.send(&user, req.chat_id, text, req.client_msg_id).await?;
    Ok((StatusCode::CREATED, Json(msg)))
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    limit: Option<i64>,
    before: Option<i64>,
    chat_id: Option<i64>,
}

/// # GET /api/history?limit=50&before=<id>&chat_id=<id>
/// A page of messages (default chat `general`), oldest first; `before` pages back.
pub async fn history(
    State(s): State<Arc<Services>>,
    Authed(user): Authed,
    query: Result<Query<HistoryQuery>, QueryRejection>,
) -> Result<Json<Vec<Message>>, HttpError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))?;
    let (_, messages) = s
        .messages
        .history(
            &user,
            q.chat_id.map(ChatId),
            q.before.map(MessageId),
            q.limit.unwrap_or(50),
        )
        .await?;
    Ok(Json(messages))
}

type S = State<Arc<Services>>;

#[derive(Deserialize)]
pub struct NewChatMessage {
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    reply_to: Option<MessageId>,
    #[serde(default)]
    forward_of: Option<MessageId>,
    #[serde(default)]
    client_msg_id: Option<String>,
    #[serde(default)]
    kind: Option<sova_types::models::MessageKind>,
    #[serde(default)]
    attachment: Option<sova_types::models::Attachment>,
}

/// # POST /api/chats/{id}/messages
/// `{"text","reply_to"?,"forward_of"?,"client_msg_id"?}` → 201 the message.
pub async fn post(
    State(s): S,
    Authed(u): Authed,
    ApiPath(chat): ApiPath<ChatId>,
    ApiJson(req): ApiJson<NewChatMessage>,
) -> Result<(StatusCode, Json<Message>), HttpError> {
    if req.text.is_none() && req.forward_of.is_none() && req.attachment.is_none() {
        return Err(ApiError::bad_request("missing field `text`").into());
    }
    let p = SendParams {
        chat: Some(chat),
        text: req.text.unwrap_or_default(),
        reply_to: req.reply_to,
        forward_of: req.forward_of,
        client_msg_id: req.client_msg_id,
        kind: req.kind,
        attachment: req.attachment,
    };
    Ok((StatusCode::CREATED, Json(s.messages.send_with(&u, p).await?)))
}

#[derive(Deserialize)]
pub struct PageQuery {
    limit: Option<i64>,
    before: Option<i64>,
    after: Option<i64>,
    around: Option<i64>,
}

/// # GET /api/chats/{id}/messages?limit=&before=&after=&around=
/// Oldest first; edited and deleted state shown; reactions aggregated.
pub async fn list(
    State(s): S,
    Authed(u): Authed,
    ApiPath(chat): ApiPath<ChatId>,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> Result<Json<Vec<Message>>, HttpError> {
    let (_, page) = s
        .messages
        .page(
            &u,
            Some(chat),
            q.before.map(MessageId),
            q.after.map(MessageId),
            q.around.map(MessageId),
            q.limit.unwrap_or(50),
        )
        .await?;
    Ok(Json(page))
}

/// # GET /api/chats/{id}/messages/{mid}
pub async fn get_one(
    State(s): S,
    Authed(u): Authed,
    ApiPath((chat, id)): ApiPath<(ChatId, MessageId)>,
) -> Result<Json<Message>, HttpError> {
    Ok(Json(s.messages.get(&u, chat, id).await?))
}

#[derive(Deserialize)]
pub struct EditBody {
    text: String,
}

/// # PATCH /api/chats/{id}/messages/{mid}
/// `{"text"}` (author only); the previous text is kept as a version.
pub async fn edit(
    State(s): S,
    Authed(u): Authed,
    ApiPath((chat, id)): ApiPath<(ChatId, MessageId)>,
    ApiJson(req): ApiJson<EditBody>,
) -> Result<Json<Message>, HttpError> {
    Ok(Json(s.messages.edit(&u, chat, id, req.text).await?))
}

/// # DELETE /api/chats/{id}/messages/{mid}
/// Deletes for everyone (author or admin) → the tombstone.
pub async fn delete(
    State(s): S,
    Authed(u): Authed,
    ApiPath((chat, id)): ApiPath<(ChatId, MessageId)>,
) -> Result<Json<Message>, HttpError> {
    Ok(Json(s.messages.delete(&u, chat, id).await?))
}

/// # GET /api/chats/{id}/messages/{mid}/versions
pub async fn versions(
    State(s): S,
    Authed(u): Authed,
    ApiPath((chat, id)): ApiPath<(ChatId, MessageId)>,
) -> Result<Json<Vec<MessageVersion>>, HttpError> {
    Ok(Json(s.messages.versions(&u, chat, id).await?))
}

/// # PUT /api/chats/{id}/messages/{mid}/reactions/{emoji}
pub async fn react(
    State(s): S,
    Authed(u): Authed,
    ApiPath((chat, id, emoji)): ApiPath<(ChatId, MessageId, String)>,
) -> Result<Json<Message>, HttpError> {
    Ok(Json(s.messages.react(&u, chat, id, &emoji, true).await?))
}

/// # DELETE /api/chats/{id}/messages/{mid}/reactions/{emoji}
pub async fn unreact(
    State(s): S,
    Authed(u): Authed,
    ApiPath((chat, id, emoji)): ApiPath<(ChatId, MessageId, String)>,
) -> Result<Json<Message>, HttpError> {
    Ok(Json(s.messages.react(&u, chat, id, &emoji, false).await?))
}

/// # POST /api/chats/{id}/messages/{mid}/pin
pub async fn pin(
    State(s): S,
    Authed(u): Authed,
    ApiPath((chat, id)): ApiPath<(ChatId, MessageId)>,
) -> Result<Json<Message>, HttpError> {
    Ok(Json(s.messages.pin(&u, chat, id, true).await?))
}

/// # DELETE /api/chats/{id}/messages/{mid}/pin
pub async fn unpin(
    State(s): S,
    Authed(u): Authed,
    ApiPath((chat, id)): ApiPath<(ChatId, MessageId)>,
) -> Result<Json<Message>, HttpError> {
    Ok(Json(s.messages.pin(&u, chat, id, false).await?))
}

/// # GET /api/chats/{id}/pins
pub async fn pins(
    State(s): S,
    Authed(u): Authed,
    ApiPath(chat): ApiPath<ChatId>,
) -> Result<Json<Vec<Message>>, HttpError> {
    Ok(Json(s.messages.pins(&u, chat).await?))
}

#[derive(Deserialize)]
pub struct ReadBody {
    up_to: i64,
}

/// # POST /api/chats/{id}/read
/// `{"up_to": <chat_seq>}` → 204; moves my read position forward.
pub async fn read(
    State(s): S,
    Authed(u): Authed,
    ApiPath(chat): ApiPath<ChatId>,
    ApiJson(req): ApiJson<ReadBody>,
) -> Result<StatusCode, HttpError> {
    s.messages.read(&u, chat, req.up_to).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// # POST /api/chats/{id}/typing
/// 204; members see `typing` for 6 s.
pub async fn typing(State(s): S, Authed(u): Authed, ApiPath(chat): ApiPath<ChatId>) -> Result<StatusCode, HttpError> {
    s.messages.typing(&u, chat).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct SyncQuery {
    since: Option<i64>,
    limit: Option<i64>,
}

/// # GET /api/sync?since=<seq>&limit=500
/// Every event after `since`, oldest first, each exactly as pushed on sockets;
/// `seq` is the position to continue from and `more` tells whether to.
pub async fn sync(
    State(s): S,
    Authed(u): Authed,
    ApiQuery(q): ApiQuery<SyncQuery>,
) -> Result<Json<serde_json::Value>, HttpError> {
    let since = q.since.unwrap_or(0);
    if since < 0 {
        return Err(ApiError::bad_request("since must be >= 0").into());
    }
    let limit = q.limit.unwrap_or(sova_service::messages::REPLAY_PAGE);
    if !(1..=sova_service::messages::REPLAY_PAGE).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1-500").into());
    }
    let events = s.messages.since(&u, since, limit).await?;
    let more = events.len() as i64 >= limit;
    let seq = match events.last() {
        Some(e) => e.seq(),
        None => since.min(s.messages.last_seq().await?),
    };
    Ok(Json(serde_json::json!({"events": events, "seq": seq, "more": more})))
}

#[derive(Deserialize)]
pub struct PresenceQuery {
    user_ids: String,
}

/// # GET /api/presence?user_ids=1,2,3
/// Online/offline and last seen, aggregated over devices and instances (1–100 users).
pub async fn presence(
    State(s): S,
    Authed(_): Authed,
    ApiQuery(q): ApiQuery<PresenceQuery>,
) -> Result<Json<Vec<sova_types::models::Presence>>, HttpError> {
    let ids = q
        .user_ids
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse().map(sova_types::UserId))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| ApiError::bad_request("user_ids must be comma-separated user ids"))?;
    Ok(Json(s.presence.status(&ids).await?))
}
