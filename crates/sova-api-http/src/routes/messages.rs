use crate::extract::Authed;
use crate::{ApiJson, Bearer, HttpError};
use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use sova_service::Services;
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
    let msg = s
        .messages
        .send(&user, req.chat_id, text, req.client_msg_id)
        .await?;
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
    let Query(q) =
        query.map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))?;
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
