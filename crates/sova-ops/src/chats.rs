//! Chats, members, roles, invites and mute: one declaration per operation.

use crate::{Caller, Created, Entry, Method, Operation, Spec};
use schemars::JsonSchema;
use serde::Deserialize;
use sova_service::Services;
use sova_service::chats::UserRef;
use sova_types::ErrorCode::{BadRequest, Conflict, Forbidden, NotFound, TooLarge};
use sova_types::models::{Chat, ChatKind, Invite, Member, Role};
use sova_types::{ApiError, ChatId, UserId};

/// The operations of this module.
pub const OPS: &[Entry] = &[
    Entry::of::<CreateChat>(),
    Entry::of::<ListChats>(),
    Entry::of::<GetChat>(),
    Entry::of::<UpdateChat>(),
    Entry::of::<DeleteChat>(),
    Entry::of::<ListMembers>(),
    Entry::of::<AddMembers>(),
    Entry::of::<RemoveMember>(),
    Entry::of::<SetRole>(),
    Entry::of::<Leave>(),
    Entry::of::<Mute>(),
    Entry::of::<Unmute>(),
    Entry::of::<CreateInvite>(),
    Entry::of::<ListInvites>(),
    Entry::of::<RevokeInvite>(),
    Entry::of::<Join>(),
];

const TAG: &str = "chats";

/// A chat named in the path.
#[derive(Deserialize, JsonSchema)]
pub struct ChatRequest {
    pub chat_id: ChatId,
}

/// Parses a chat-list cursor `"<last message id>:<chat id>"`.
pub fn parse_cursor(cursor: Option<&str>) -> Result<Option<(i64, ChatId)>, ApiError> {
    let Some(c) = cursor else { return Ok(None) };
    let bad = || ApiError::bad_request("cursor must be '<last_message_id>:<chat_id>'");
    let (a, b) = c.split_once(':').ok_or_else(bad)?;
    Ok(Some((
        a.parse().map_err(|_| bad())?,
        ChatId(b.parse().map_err(|_| bad())?),
    )))
}

/// `create_chat` (`/api/chats`): Create a private chat, group or channel (an existing private chat answers 200).
pub struct CreateChat;
/// The input of `create_chat`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct CreateChatRequest {
    /// `private`, `group` or `channel` (socket op frames call it `chat_type`).
    #[serde(rename = "type", alias = "chat_type")]
    pub kind: ChatKind,
    #[serde(default)]
    pub name: Option<String>,
    /// User ids or usernames.
    #[serde(default)]
    pub members: Vec<UserRef>,
}
impl Operation for CreateChat {
    type Request = CreateChatRequest;
    type Response = Created<Chat>;
    const SPEC: Spec = Spec::new(
        "create_chat",
        Method::Post,
        "/api/chats",
        "Create a private chat, group or channel (an existing private chat answers 200)",
    )
    .tag(TAG)
    .status(201)
    .errors(&[NotFound, Conflict, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: CreateChatRequest) -> Result<Created<Chat>, ApiError> {
        let (value, created) = s
            .chats
            .create(c.user()?.user_id, r.kind, r.name.as_deref(), &r.members)
            .await?;
        Ok(Created { value, created })
    }
    fn status(r: &Created<Chat>) -> u16 {
        if r.created { 201 } else { 200 }
    }
}

/// `chats` (`/api/chats`): My chats, most recently active first, with last message and unread count.
pub struct ListChats;
/// The input of `chats`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct ListChatsRequest {
    #[serde(default)]
    pub limit: Option<i64>,
    /// `<last_message_id>:<chat_id>` of the last chat of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}
impl Operation for ListChats {
    type Request = ListChatsRequest;
    type Response = Vec<Chat>;
    const SPEC: Spec = Spec::new(
        "chats",
        Method::Get,
        "/api/chats",
        "My chats, most recently active first, with last message and unread count",
    )
    .tag(TAG);
    async fn handle(s: &Services, c: &Caller, r: ListChatsRequest) -> Result<Vec<Chat>, ApiError> {
        let cursor = parse_cursor(r.cursor.as_deref())?;
        s.chats.list(c.user()?.user_id, cursor, r.limit.unwrap_or(50)).await
    }
}

/// `get_chat` (`/api/chats/{chat_id}`): One chat.
pub struct GetChat;
impl Operation for GetChat {
    type Request = ChatRequest;
    type Response = Chat;
    const SPEC: Spec = Spec::new("get_chat", Method::Get, "/api/chats/{chat_id}", "One chat")
        .tag(TAG)
        .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: ChatRequest) -> Result<Chat, ApiError> {
        s.chats.view(r.chat_id, c.user()?.user_id).await
    }
}

/// `update_chat` (`/api/chats/{chat_id}`): Rename a chat (owner and admins).
pub struct UpdateChat;
/// The input of `update_chat`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct UpdateChatRequest {
    pub chat_id: ChatId,
    pub name: String,
}
impl Operation for UpdateChat {
    type Request = UpdateChatRequest;
    type Response = Chat;
    const SPEC: Spec = Spec::new(
        "update_chat",
        Method::Patch,
        "/api/chats/{chat_id}",
        "Rename a chat (owner and admins)",
    )
    .tag(TAG)
    .errors(&[NotFound, Forbidden, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: UpdateChatRequest) -> Result<Chat, ApiError> {
        s.chats.rename(c.user()?.user_id, r.chat_id, &r.name).await
    }
}

/// `delete_chat` (`/api/chats/{chat_id}`): Delete a chat (owner only).
pub struct DeleteChat;
impl Operation for DeleteChat {
    type Request = ChatRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "delete_chat",
        Method::Delete,
        "/api/chats/{chat_id}",
        "Delete a chat (owner only)",
    )
    .tag(TAG)
    .status(204)
    .errors(&[NotFound, Forbidden]);
    async fn handle(s: &Services, c: &Caller, r: ChatRequest) -> Result<(), ApiError> {
        s.chats.delete(c.user()?.user_id, r.chat_id).await
    }
}

/// `members` (`/api/chats/{chat_id}/members`): Members of a chat, by user id.
pub struct ListMembers;
/// The input of `members`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct ListMembersRequest {
    pub chat_id: ChatId,
    /// The last user id of the previous page.
    #[serde(default)]
    pub after: Option<UserId>,
    #[serde(default)]
    pub limit: Option<i64>,
}
impl Operation for ListMembers {
    type Request = ListMembersRequest;
    type Response = Vec<Member>;
    const SPEC: Spec = Spec::new(
        "members",
        Method::Get,
        "/api/chats/{chat_id}/members",
        "Members of a chat, by user id",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: ListMembersRequest) -> Result<Vec<Member>, ApiError> {
        s.chats
            .members(c.user()?.user_id, r.chat_id, r.after, r.limit.unwrap_or(100))
            .await
    }
}

/// `add_members` (`/api/chats/{chat_id}/members`): Add members (admins); answers the chat.
pub struct AddMembers;
/// The input of `add_members`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct AddMembersRequest {
    pub chat_id: ChatId,
    /// User ids or usernames.
    pub members: Vec<UserRef>,
}
impl Operation for AddMembers {
    type Request = AddMembersRequest;
    type Response = Chat;
    const SPEC: Spec = Spec::new(
        "add_members",
        Method::Post,
        "/api/chats/{chat_id}/members",
        "Add members (admins); answers the chat",
    )
    .tag(TAG)
    .errors(&[NotFound, Forbidden, Conflict, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: AddMembersRequest) -> Result<Chat, ApiError> {
        s.chats.add_members(c.user()?.user_id, r.chat_id, &r.members).await
    }
}

/// A member of a chat named in the path.
#[derive(Deserialize, JsonSchema)]
pub struct MemberRequest {
    pub chat_id: ChatId,
    pub user_id: UserId,
}

/// `remove_member` (`/api/chats/{chat_id}/members/{user_id}`): Remove a member (admins; removing yourself is leaving).
pub struct RemoveMember;
impl Operation for RemoveMember {
    type Request = MemberRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "remove_member",
        Method::Delete,
        "/api/chats/{chat_id}/members/{user_id}",
        "Remove a member (admins; removing yourself is leaving)",
    )
    .tag(TAG)
    .status(204)
    .errors(&[NotFound, Forbidden, Conflict]);
    async fn handle(s: &Services, c: &Caller, r: MemberRequest) -> Result<(), ApiError> {
        s.chats.remove_member(c.user()?.user_id, r.chat_id, r.user_id).await
    }
}

/// `set_role` (`/api/chats/{chat_id}/members/{user_id}`): Change a member's role (owner only).
pub struct SetRole;
/// The input of `set_role`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct SetRoleRequest {
    pub chat_id: ChatId,
    pub user_id: UserId,
    /// `owner` transfers ownership.
    pub role: Role,
}
impl Operation for SetRole {
    type Request = SetRoleRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "set_role",
        Method::Patch,
        "/api/chats/{chat_id}/members/{user_id}",
        "Change a member's role (owner only)",
    )
    .tag(TAG)
    .status(204)
    .errors(&[NotFound, Forbidden, Conflict]);
    async fn handle(s: &Services, c: &Caller, r: SetRoleRequest) -> Result<(), ApiError> {
        s.chats.set_role(c.user()?.user_id, r.chat_id, r.user_id, r.role).await
    }
}

/// `leave` (`/api/chats/{chat_id}/leave`): Leave a chat.
pub struct Leave;
impl Operation for Leave {
    type Request = ChatRequest;
    type Response = ();
    const SPEC: Spec = Spec::new("leave", Method::Post, "/api/chats/{chat_id}/leave", "Leave a chat")
        .tag(TAG)
        .status(204)
        .errors(&[NotFound, Conflict]);
    async fn handle(s: &Services, c: &Caller, r: ChatRequest) -> Result<(), ApiError> {
        let me = c.user()?.user_id;
        s.chats.remove_member(me, r.chat_id, me).await
    }
}

/// `mute` (`/api/chats/{chat_id}/mute`): Mute a chat for me (mentions still arrive); answers the chat.
pub struct Mute;
impl Operation for Mute {
    type Request = ChatRequest;
    type Response = Chat;
    const SPEC: Spec = Spec::new(
        "mute",
        Method::Put,
        "/api/chats/{chat_id}/mute",
        "Mute a chat for me (mentions still arrive); answers the chat",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: ChatRequest) -> Result<Chat, ApiError> {
        s.chats.mute(c.user()?.user_id, r.chat_id, true).await
    }
}

/// `unmute` (`/api/chats/{chat_id}/mute`): Unmute a chat.
pub struct Unmute;
impl Operation for Unmute {
    type Request = ChatRequest;
    type Response = Chat;
    const SPEC: Spec = Spec::new("unmute", Method::Delete, "/api/chats/{chat_id}/mute", "Unmute a chat")
        .tag(TAG)
        .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: ChatRequest) -> Result<Chat, ApiError> {
        s.chats.mute(c.user()?.user_id, r.chat_id, false).await
    }
}

/// `create_invite` (`/api/chats/{chat_id}/invites`): Create an invite link (admins).
pub struct CreateInvite;
/// The input of `create_invite`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct CreateInviteRequest {
    pub chat_id: ChatId,
    /// Seconds until the invite expires (none: never).
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub max_uses: Option<i64>,
}
impl Operation for CreateInvite {
    type Request = CreateInviteRequest;
    type Response = Invite;
    const SPEC: Spec = Spec::new(
        "create_invite",
        Method::Post,
        "/api/chats/{chat_id}/invites",
        "Create an invite link (admins)",
    )
    .tag(TAG)
    .status(201)
    .errors(&[NotFound, Forbidden]);
    async fn handle(s: &Services, c: &Caller, r: CreateInviteRequest) -> Result<Invite, ApiError> {
        s.chats
            .create_invite(c.user()?.user_id, r.chat_id, r.expires_in, r.max_uses)
            .await
    }
}

/// `invites` (`/api/chats/{chat_id}/invites`): A chat's live invites (admins).
pub struct ListInvites;
impl Operation for ListInvites {
    type Request = ChatRequest;
    type Response = Vec<Invite>;
    const SPEC: Spec = Spec::new(
        "invites",
        Method::Get,
        "/api/chats/{chat_id}/invites",
        "A chat's live invites (admins)",
    )
    .tag(TAG)
    .errors(&[NotFound, Forbidden]);
    async fn handle(s: &Services, c: &Caller, r: ChatRequest) -> Result<Vec<Invite>, ApiError> {
        s.chats.invites(c.user()?.user_id, r.chat_id).await
    }
}

/// `revoke_invite` (`/api/chats/{chat_id}/invites/{code}`): Revoke an invite (admins).
pub struct RevokeInvite;
/// The input of `revoke_invite`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct RevokeInviteRequest {
    pub chat_id: ChatId,
    pub code: String,
}
impl Operation for RevokeInvite {
    type Request = RevokeInviteRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "revoke_invite",
        Method::Delete,
        "/api/chats/{chat_id}/invites/{code}",
        "Revoke an invite (admins)",
    )
    .tag(TAG)
    .status(204)
    .errors(&[NotFound, Forbidden]);
    async fn handle(s: &Services, c: &Caller, r: RevokeInviteRequest) -> Result<(), ApiError> {
        s.chats.revoke_invite(c.user()?.user_id, r.chat_id, &r.code).await
    }
}

/// `join` (`/api/invites/{code}/join`): Join a chat by invite; answers the chat.
pub struct Join;
/// The input of `join`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct JoinRequest {
    pub code: String,
}
impl Operation for Join {
    type Request = JoinRequest;
    type Response = Chat;
    const SPEC: Spec = Spec::new(
        "join",
        Method::Post,
        "/api/invites/{code}/join",
        "Join a chat by invite; answers the chat",
    )
    .tag(TAG)
    .errors(&[NotFound, Conflict, BadRequest]);
    async fn handle(s: &Services, c: &Caller, r: JoinRequest) -> Result<Chat, ApiError> {
        s.chats.join(c.user()?.user_id, &r.code).await
    }
}
