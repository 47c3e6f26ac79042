//! Chats: the public `general` chat every user joins at registration, private chats
//! (one per pair), groups (owner / admins / members, a member limit) and channels
//! (only owner and admins post). Changes go through the ordered writer so every
//! member sees them as events in seq order; reads check membership and answer
//! `not_found` to non-members, who cannot even learn that a chat exists.

use crate::{Writer, outcome_err, store_err};
use sova_config::Config;
use sova_store::{ChatKind, InviteRow, MyChat, Outcome, Role, Stores, WriteOp, dto};
use sova_types::models::{Chat, Invite, Member};
use sova_types::time::{now_micros, rfc3339};
use sova_types::{ApiError, ChatId, UserId};

/// Slug of the public chat every user joins.
pub const GENERAL_SLUG: &str = "general";
/// Longest chat name, in characters.
pub const MAX_NAME: usize = 128;
/// Most members named in one create/add request.
pub const MAX_MEMBERS_PER_REQUEST: usize = 1000;

/// A user named by id or by username.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum UserRef {
    Id(UserId),
    Name(String),
}

#[derive(Clone)]
pub struct ChatService {
    stores: Stores,
    writer: Writer,
    general: ChatId,
    max_members: i64,
    receipts_max: i64,
}

/// Validates a chat name: 1–128 characters, not blank, no control characters.
pub fn validate_name(name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::bad_request("name must not be empty"));
    }
    if name.chars().count() > MAX_NAME {
        return Err(ApiError::too_large_max(
            format!("name exceeds {MAX_NAME} characters"),
            MAX_NAME as u64,
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(ApiError::bad_request("name must not contain control characters"));
    }
    Ok(name.to_owned())
}

impl ChatService {
    /// Ensures `general` exists (race-free across instances).
    pub async fn start(config: &Config, stores: Stores, writer: Writer) -> Result<ChatService, ApiError> {
        let general = stores
            .chats
            .ensure_chat(GENERAL_SLUG, ChatKind::Public, "General", now_micros())
            .await
            .map_err(store_err)?
            .id;
        Ok(ChatService {
            stores,
            writer,
            general,
            max_members: i64::try_from(config.max_group_members).unwrap_or(i64::MAX),
            receipts_max: i64::try_from(config.receipts_max_members).unwrap_or(0),
        })
    }

    /// The id of the `general` chat.
    pub fn general(&self) -> ChatId {
        self.general
    }

    /// Largest chat (members) whose read receipts are shown to everyone.
    pub fn receipts_max(&self) -> i64 {
        self.receipts_max
    }

    /// `user`'s role in `chat`; `not_found` for non-members.
    pub async fn require_member(&self, chat: ChatId, user: UserId) -> Result<Role, ApiError> {
        match self.stores.chats.member(chat, user).await.map_err(store_err)? {
            Some(m) => Ok(m.role),
            None => Err(ApiError::not_found("no such chat")),
        }
    }

    /// A chat that exists and is not deleted; `not_found` otherwise.
    async fn live_chat(&self, chat: ChatId) -> Result<sova_store::ChatRow, ApiError> {
        self.stores
            .chats
            .chat(chat)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("no such chat"))
    }

    /// The chats `user` belongs to.
    pub async fn chats_of(&self, user: UserId) -> Result<Vec<ChatId>, ApiError> {
        self.stores.chats.chats_of(user).await.map_err(store_err)
    }

    async fn resolve(&self, refs: &[UserRef]) -> Result<Vec<UserId>, ApiError> {
        if refs.len() > MAX_MEMBERS_PER_REQUEST {
            return Err(ApiError::too_large_max(
                format!("at most {MAX_MEMBERS_PER_REQUEST} members per request"),
                MAX_MEMBERS_PER_REQUEST as u64,
            ));
        }
        let mut out = Vec::with_capacity(refs.len());
        for r in refs {
            let id = match r {
                UserRef::Id(id) => *id,
                UserRef::Name(n) => {
                    self.stores
                        .users
                        .user_by_name(&n.to_lowercase())
                        .await
                        .map_err(store_err)?
                        .ok_or_else(|| {
                            ApiError::not_found(format!("no such user: {}", n.chars().take(40).collect::<String>()))
                        })?
                        .id
                }
            };
            out.push(id);
        }
        Ok(out)
    }

    /// Creates a chat; for a private chat that already exists, returns it with `false`.
    pub async fn create(
        &self,
        user: UserId,
        kind: ChatKind,
        name: Option<&str>,
        members: &[UserRef],
    ) -> Result<(Chat, bool), ApiError> {
        let name = match kind {
            ChatKind::Group | ChatKind::Channel => validate_name(name.unwrap_or_default())?,
            ChatKind::Private => String::new(),
            ChatKind::Public => {
                return Err(ApiError::bad_request("type must be private, group or channel"));
            }
        };
        let members = self.resolve(members).await?;
        let c = self
            .writer
            .submit(WriteOp::CreateChat {
                kind,
                name,
                creator: user,
                members,
                at: now_micros(),
                max_members: self.max_members,
            })
            .await?;
        match c.outcome {
            Outcome::Chat(row) => Ok((self.view(row.id, user).await?, true)),
            Outcome::ExistingChat(row) => Ok((self.view(row.id, user).await?, false)),
            other => Err(outcome_err(&other).unwrap_or_else(ApiError::internal)),
        }
    }

    fn my_chat_dto(&self, c: MyChat) -> Chat {
        let mut chat = dto::chat(c.chat);
        chat.role = Some(c.role);
        chat.unread = Some((chat.last_seq - c.last_read_seq).max(0));
        chat.last_read_seq = Some(c.last_read_seq);
        chat.muted = c.muted;
        chat.last_message = c.last_message.map(|m| Box::new(dto::message(m)));
        chat
    }

    /// `user`'s chats, most recently active first. `before` is the cursor from the
    /// previous page: (last message id, chat id) of its last chat.
    pub async fn list(&self, user: UserId, before: Option<(i64, ChatId)>, limit: i64) -> Result<Vec<Chat>, ApiError> {
        if !(1..=200).contains(&limit) {
            return Err(ApiError::bad_request("limit must be 1-200"));
        }
        let found = self
            .stores
            .chats
            .my_chats(user, before, limit)
            .await
            .map_err(store_err)?;
        Ok(found.into_iter().map(|c| self.my_chat_dto(c)).collect())
    }

    /// One chat as `user` sees it.
    pub async fn view(&self, chat: ChatId, user: UserId) -> Result<Chat, ApiError> {
        let member = self
            .stores
            .chats
            .member(chat, user)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("no such chat"))?;
        let row = self.live_chat(chat).await?;
        let last = if row.last_seq > 0 {
            self.stores
                .messages
                .history(chat, None, None, 1, false)
                .await
                .map_err(store_err)?
                .pop()
        } else {
            None
        };
        Ok(self.my_chat_dto(MyChat {
            chat: row,
            role: member.role,
            last_read_seq: member.last_read_seq,
            muted: member.muted,
            last_message: last,
        }))
    }

    async fn run(&self, op: WriteOp) -> Result<Outcome, ApiError> {
        let c = self.writer.submit(op).await?;
        match outcome_err(&c.outcome) {
            Some(e) => Err(e),
            None => Ok(c.outcome),
        }
    }

    /// Mutes or unmutes `chat` for `user` (notifications only; mentions still arrive).
    pub async fn mute(&self, user: UserId, chat: ChatId, muted: bool) -> Result<Chat, ApiError> {
        if !self
            .stores
            .chats
            .set_muted(chat, user, muted)
            .await
            .map_err(store_err)?
        {
            return Err(ApiError::not_found("no such chat"));
        }
        self.view(chat, user).await
    }

    pub async fn rename(&self, user: UserId, chat: ChatId, name: &str) -> Result<Chat, ApiError> {
        let name = validate_name(name)?;
        self.run(WriteOp::Rename {
            chat,
            by: user,
            name,
            at: now_micros(),
        })
        .await?;
        self.view(chat, user).await
    }

    pub async fn delete(&self, user: UserId, chat: ChatId) -> Result<(), ApiError> {
        self.run(WriteOp::DeleteChat {
            chat,
            by: user,
            at: now_micros(),
        })
        .await
        .map(drop)
    }

    /// Members in user-id order, after `after`; read positions where receipts apply.
    pub async fn members(
        &self,
        user: UserId,
        chat: ChatId,
        after: Option<UserId>,
        limit: i64,
    ) -> Result<Vec<Member>, ApiError> {
        if !(1..=1000).contains(&limit) {
            return Err(ApiError::bad_request("limit must be 1-1000"));
        }
        self.require_member(chat, user).await?;
        let row = self.live_chat(chat).await?;
        let receipts = row.member_count <= self.receipts_max;
        let found = self.stores.chats.members(chat, after, limit).await.map_err(store_err)?;
        Ok(found.into_iter().map(|m| dto::member(m, receipts)).collect())
    }

    /// The first `per_chat` members of each of `chats` that `user` belongs to, in one
    /// store call (for batched readers such as GraphQL's `Chat.members`). A chat
    /// `user` is not in (or that is gone) is absent from the map, so nobody sees the
    /// members of a chat they are not in.
    pub async fn members_of_chats(
        &self,
        user: UserId,
        chats: &[ChatId],
        per_chat: i64,
    ) -> Result<std::collections::HashMap<ChatId, Vec<Member>>, ApiError> {
        if !(1..=1000).contains(&per_chat) {
            return Err(ApiError::bad_request("limit must be 1-1000"));
        }
        let found = self
            .stores
            .chats
            .members_of_chats(user, chats, per_chat)
            .await
            .map_err(store_err)?;
        let mut out: std::collections::HashMap<ChatId, Vec<Member>> = std::collections::HashMap::new();
        for (row, member_count) in found {
            let receipts = member_count <= self.receipts_max;
            out.entry(row.chat_id).or_default().push(dto::member(row, receipts));
        }
        Ok(out)
    }

    pub async fn add_members(&self, user: UserId, chat: ChatId, refs: &[UserRef]) -> Result<Chat, ApiError> {
        let users = self.resolve(refs).await?;
        if users.is_empty() {
            return Err(ApiError::bad_request("members must name at least one user"));
        }
        self.run(WriteOp::AddMembers {
            chat,
            by: user,
            users,
            invite: None,
            at: now_micros(),
            max_members: self.max_members,
        })
        .await?;
        self.view(chat, user).await
    }

    /// Removes `target` (or leaves, when `target == user`).
    pub async fn remove_member(&self, user: UserId, chat: ChatId, target: UserId) -> Result<(), ApiError> {
        self.run(WriteOp::RemoveMember {
            chat,
            by: user,
            user: target,
            at: now_micros(),
        })
        .await
        .map(drop)
    }

    /// Sets `target`'s role; `owner` transfers ownership.
    pub async fn set_role(&self, user: UserId, chat: ChatId, target: UserId, role: Role) -> Result<(), ApiError> {
        self.run(WriteOp::SetRole {
            chat,
            by: user,
            user: target,
            role,
            at: now_micros(),
        })
        .await
        .map(drop)
    }

    fn invite_dto(i: InviteRow) -> Invite {
        Invite {
            code: i.code,
            chat_id: i.chat_id,
            created_by: i.created_by,
            created_at: rfc3339(i.created_at),
            expires_at: i.expires_at.map(rfc3339),
            max_uses: i.max_uses,
            uses: i.uses,
            revoked: i.revoked_at.is_some(),
        }
    }

    /// Creates an invite link (owner/admins of groups and channels).
    pub async fn create_invite(
        &self,
        user: UserId,
        chat: ChatId,
        expires_in_secs: Option<i64>,
        max_uses: Option<i64>,
    ) -> Result<Invite, ApiError> {
        let role = self.require_member(chat, user).await?;
        let row = self.live_chat(chat).await?;
        sova_core::rules::can_add(row.kind, role).map_err(|r| crate::rejection_err(&r))?;
        if expires_in_secs.is_some_and(|s| !(60..=365 * 86_400).contains(&s)) {
            return Err(ApiError::bad_request("expires_in must be 60 s to 365 days"));
        }
        if max_uses.is_some_and(|m| !(1..=1_000_000).contains(&m)) {
            return Err(ApiError::bad_request("max_uses must be 1-1000000"));
        }
        let mut raw = [0u8; 12];
        getrandom::fill(&mut raw).map_err(|_| ApiError::internal())?;
        use base64::Engine;
        let now = now_micros();
        let invite = InviteRow {
            code: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
            chat_id: chat,
            created_by: user,
            created_at: now,
            expires_at: expires_in_secs.map(|s| now + s * 1_000_000),
            max_uses,
            uses: 0,
            revoked_at: None,
        };
        self.stores
            .chats
            .create_invite(invite.clone())
            .await
            .map_err(store_err)?;
        Ok(Self::invite_dto(invite))
    }

    pub async fn invites(&self, user: UserId, chat: ChatId) -> Result<Vec<Invite>, ApiError> {
        let role = self.require_member(chat, user).await?;
        if !role.manages() {
            return Err(ApiError::forbidden("only the owner and admins see invites"));
        }
        let found = self.stores.chats.invites(chat).await.map_err(store_err)?;
        Ok(found.into_iter().map(Self::invite_dto).collect())
    }

    pub async fn revoke_invite(&self, user: UserId, chat: ChatId, code: &str) -> Result<(), ApiError> {
        let role = self.require_member(chat, user).await?;
        if !role.manages() {
            return Err(ApiError::forbidden("only the owner and admins revoke invites"));
        }
        if self
            .stores
            .chats
            .revoke_invite(chat, code, now_micros())
            .await
            .map_err(store_err)?
        {
            Ok(())
        } else {
            Err(ApiError::not_found("no such invite"))
        }
    }

    /// Joins the chat an invite code belongs to.
    pub async fn join(&self, user: UserId, code: &str) -> Result<Chat, ApiError> {
        if code.is_empty() || code.len() > 64 {
            return Err(ApiError::not_found("invite is invalid, expired, revoked or used up"));
        }
        let invite = self
            .stores
            .chats
            .invite(code)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("invite is invalid, expired, revoked or used up"))?;
        self.run(WriteOp::AddMembers {
            chat: invite.chat_id,
            by: user,
            users: vec![user],
            invite: Some(code.to_owned()),
            at: now_micros(),
            max_members: self.max_members,
        })
        .await?;
        self.view(invite.chat_id, user).await
    }
}
