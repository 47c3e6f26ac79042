use crate::extract::{Authed, OptionalJson};
use crate::{ApiJson, ApiPath, ApiQuery, HttpError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use sova_service::Services;
use sova_service::chats::UserRef;
use sova_service::ops::parse_cursor;
use sova_types::models::{Chat, ChatKind, Invite, Member, Role};
use sova_types::{ChatId, UserId};
use std::sync::Arc;

type S = State<Arc<Services>>;

#[derive(Deserialize)]
pub struct CreateChat {
    #[serde(rename = "type")]
    kind: ChatKind,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    members: Vec<UserRef>,
}

/// # POST /api/chats
/// `{"type":"private|group|channel","name","members":[ids or usernames]}` → 201 the chat;
/// 200 with the existing chat when a private chat with that user exists.
pub async fn create(
    State(s): S,
    Authed(u): Authed,
    ApiJson(req): ApiJson<CreateChat>,
) -> Result<(StatusCode, Json<Chat>), HttpError> {
    let (chat, created) = s
        .chats
        .create(u.user_id, req.kind, req.name.as_deref(), &req.members)
        .await?;
    Ok((if created { StatusCode::CREATED } else { StatusCode::OK }, Json(chat)))
}

#[derive(Deserialize)]
pub struct ListQuery {
    limit: Option<i64>,
    cursor: Option<String>,
}

/// # GET /api/chats?limit=50&cursor=<last_message_id>:<chat_id>
/// My chats, most recently active first, with last message and unread count.
pub async fn list(
    State(s): S,
    Authed(u): Authed,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Chat>>, HttpError> {
    Ok(Json(
        s.chats
            .list(u.user_id, parse_cursor(q.cursor.as_deref())?, q.limit.unwrap_or(50))
            .await?,
    ))
}

/// # GET /api/chats/{id}
pub async fn get(State(s): S, Authed(u): Authed, ApiPath(id): ApiPath<ChatId>) -> Result<Json<Chat>, HttpError> {
    Ok(Json(s.chats.view(id, u.user_id).await?))
}

#[derive(Deserialize)]
pub struct Rename {
    name: String,
}

/// # PATCH /api/chats/{id}
/// `{"name"}` (owner/admins).
pub async fn update(
    State(s): S,
    Authed(u): Authed,
    ApiPath(id): ApiPath<ChatId>,
    ApiJson(req): ApiJson<Rename>,
) -> Result<Json<Chat>, HttpError> {
    Ok(Json(s.chats.rename(u.user_id, id, &req.name).await?))
}

/// # DELETE /api/chats/{id}
/// 204 (owner only).
pub async fn delete(State(s): S, Authed(u): Authed, ApiPath(id): ApiPath<ChatId>) -> Result<StatusCode, HttpError> {
    s.chats.delete(u.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct MembersQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

/// # GET /api/chats/{id}/members?after=<user_id>&limit=100
pub async fn members(
    State(s): S,
    Authed(u): Authed,
    ApiPath(id): ApiPath<ChatId>,
    ApiQuery(q): ApiQuery<MembersQuery>,
) -> Result<Json<Vec<Member>>, HttpError> {
    Ok(Json(
        s.chats
            .members(u.user_id, id, q.after.map(UserId), q.limit.unwrap_or(100))
            .await?,
    ))
}

#[derive(Deserialize)]
pub struct AddMembers {
    members: Vec<UserRef>,
}

/// # POST /api/chats/{id}/members
/// `{"members":[ids or usernames]}` → the chat.
pub async fn add_members(
    State(s): S,
    Authed(u): Authed,
    ApiPath(id): ApiPath<ChatId>,
    ApiJson(req): ApiJson<AddMembers>,
) -> Result<Json<Chat>, HttpError> {
    Ok(Json(s.chats.add_members(u.user_id, id, &req.members).await?))
}

/// # DELETE /api/chats/{id}/members/{user_id}
/// 204; removing yourself is leaving.
pub async fn remove_member(
    State(s): S,
    Authed(u): Authed,
    ApiPath((id, user)): ApiPath<(ChatId, UserId)>,
) -> Result<StatusCode, HttpError> {
    s.chats.remove_member(u.user_id, id, user).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub struct SetRole {
    role: Role,
}

/// # PATCH /api/chats/{id}/members/{user_id}
/// `{"role":"member|admin|owner"}` (owner only; `owner` transfers ownership) → 204.
pub async fn set_role(
    State(s): S,
    Authed(u): Authed,
    ApiPath((id, user)): ApiPath<(ChatId, UserId)>,
    ApiJson(req): ApiJson<SetRole>,
) -> Result<StatusCode, HttpError> {
    s.chats.set_role(u.user_id, id, user, req.role).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// # POST /api/chats/{id}/leave
pub async fn leave(State(s): S, Authed(u): Authed, ApiPath(id): ApiPath<ChatId>) -> Result<StatusCode, HttpError> {
    s.chats.remove_member(u.user_id, id, u.user_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, Default)]
pub struct NewInvite {
    expires_in: Option<i64>,
    max_uses: Option<i64>,
}

/// # POST /api/chats/{id}/invites
/// `{"expires_in"?: seconds, "max_uses"?}` → 201 the invite.
pub async fn create_invite(
    State(s): S,
    Authed(u): Authed,
    ApiPath(id): ApiPath<ChatId>,
    OptionalJson(req): OptionalJson<NewInvite>,
) -> Result<(StatusCode, Json<Invite>), HttpError> {
    let req = req.unwrap_or_default();
    Ok((
        StatusCode::CREATED,
        Json(
            s.chats
                .create_invite(u.user_id, id, req.expires_in, req.max_uses)
                .await?,
        ),
    ))
}

/// # GET /api/chats/{id}/invites
pub async fn invites(
    State(s): S,
    Authed(u): Authed,
    ApiPath(id): ApiPath<ChatId>,
) -> Result<Json<Vec<Invite>>, HttpError> {
    Ok(Json(s.chats.invites(u.user_id, id).await?))
}

/// # DELETE /api/chats/{id}/invites/{code}
pub async fn revoke_invite(
    State(s): S,
    Authed(u): Authed,
    ApiPath((id, code)): ApiPath<(ChatId, String)>,
) -> Result<StatusCode, HttpError> {
    s.chats.revoke_invite(u.user_id, id, &code).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// # POST /api/invites/{code}/join
/// → the chat joined.
pub async fn join(State(s): S, Authed(u): Authed, ApiPath(code): ApiPath<String>) -> Result<Json<Chat>, HttpError> {
    Ok(Json(s.chats.join(u.user_id, &code).await?))
}

/// # PUT /api/chats/{id}/mute
/// Mutes the chat for me (clients silence notifications; mentions still arrive) → the chat.
pub async fn mute(State(s): S, Authed(u): Authed, ApiPath(id): ApiPath<ChatId>) -> Result<Json<Chat>, HttpError> {
    Ok(Json(s.chats.mute(u.user_id, id, true).await?))
}

/// # DELETE /api/chats/{id}/mute
pub async fn unmute(State(s): S, Authed(u): Authed, ApiPath(id): ApiPath<ChatId>) -> Result<Json<Chat>, HttpError> {
    Ok(Json(s.chats.mute(u.user_id, id, false).await?))
}
