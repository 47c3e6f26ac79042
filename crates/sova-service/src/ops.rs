//! Socket operations: each `Op` frame runs the same service method as its REST
//! route and answers with the same JSON body, so both behave identically.

use crate::chats::UserRef;
use crate::messages::SendParams;
use crate::{AuthUser, Services};
use serde::Serialize;
use serde_json::Value;
use sova_types::frames::Op;
use sova_types::{ApiError, ChatId};

fn json<T: Serialize>(v: T) -> Result<Value, ApiError> {
    serde_json::to_value(v).map_err(|_| ApiError::internal())
}

/// Parses member references: user ids (numbers) or usernames (strings).
pub fn user_refs(values: &[Value]) -> Result<Vec<UserRef>, ApiError> {
    values
        .iter()
        .map(|v| {
            serde_json::from_value(v.clone())
                .map_err(|_| ApiError::bad_request("members must be user ids or usernames"))
        })
        .collect()
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

impl Services {
    /// Runs one socket operation for `user`; the value is the REST response body.
    pub async fn execute(&self, user: &AuthUser, op: Op) -> Result<Value, ApiError> {
        let me = user.user_id;
        let (c, m) = (&self.chats, &self.messages);
        match op {
            Op::CreateChat {
                chat_type,
                name,
                members,
            } => json(c.create(me, chat_type, name.as_deref(), &user_refs(&members)?).await?.0),
            Op::Chats { limit, cursor } => json(
                c.list(me, parse_cursor(cursor.as_deref())?, limit.unwrap_or(50))
                    .await?,
            ),
            Op::GetChat { chat_id } => json(c.view(chat_id, me).await?),
            Op::Mute { chat_id } => json(c.mute(me, chat_id, true).await?),
            Op::Unmute { chat_id } => json(c.mute(me, chat_id, false).await?),
            Op::UpdateChat { chat_id, name } => json(c.rename(me, chat_id, &name).await?),
            Op::DeleteChat { chat_id } => c.delete(me, chat_id).await.map(|_| Value::Null),
            Op::Members { chat_id, after, limit } => json(c.members(me, chat_id, after, limit.unwrap_or(100)).await?),
            Op::AddMembers { chat_id, members } => json(c.add_members(me, chat_id, &user_refs(&members)?).await?),
            Op::RemoveMember { chat_id, user_id } => c.remove_member(me, chat_id, user_id).await.map(|_| Value::Null),
            Op::Leave { chat_id } => c.remove_member(me, chat_id, me).await.map(|_| Value::Null),
            Op::SetRole { chat_id, user_id, role } => c.set_role(me, chat_id, user_id, role).await.map(|_| Value::Null),
            Op::CreateInvite {
                chat_id,
                expires_in,
                max_uses,
            } => json(c.create_invite(me, chat_id, expires_in, max_uses).await?),
            Op::Invites { chat_id } => json(c.invites(me, chat_id).await?),
            Op::RevokeInvite { chat_id, code } => c.revoke_invite(me, chat_id, &code).await.map(|_| Value::Null),
            Op::Join { code } => json(c.join(me, &code).await?),
            Op::Send {
                chat_id,
                text,
                reply_to,
                forward_of,
                client_msg_id,
                kind,
                attachment,
            } => {
                let p = SendParams {
                    chat: Some(chat_id),
                    text: text.unwrap_or_default(),
                    reply_to,
                    forward_of,
                    client_msg_id,
                    kind,
                    attachment,
                };
                json(m.send_with(user, p).await?)
            }
            Op::Messages {
                chat_id,
                limit,
                before,
                after,
                around,
            } => json(
                m.page(user, Some(chat_id), before, after, around, limit.unwrap_or(50))
                    .await?
                    .1,
            ),
            Op::GetMessage { chat_id, message_id } => json(m.get(user, chat_id, message_id).await?),
            Op::Edit {
                chat_id,
                message_id,
                text,
            } => json(m.edit(user, chat_id, message_id, text).await?),
            Op::Delete { chat_id, message_id } => json(m.delete(user, chat_id, message_id).await?),
            Op::Versions { chat_id, message_id } => json(m.versions(user, chat_id, message_id).await?),
            Op::React {
                chat_id,
                message_id,
                emoji,
            } => json(m.react(user, chat_id, message_id, &emoji, true).await?),
            Op::Unreact {
                chat_id,
                message_id,
                emoji,
            } => json(m.react(user, chat_id, message_id, &emoji, false).await?),
            Op::Pin { chat_id, message_id } => json(m.pin(user, chat_id, message_id, true).await?),
            Op::Unpin { chat_id, message_id } => json(m.pin(user, chat_id, message_id, false).await?),
            Op::Pins { chat_id } => json(m.pins(user, chat_id).await?),
            Op::Read { chat_id, up_to } => m.read(user, chat_id, up_to).await.map(|_| Value::Null),
            Op::Typing { chat_id } => m.typing(user, chat_id).await.map(|_| Value::Null),
            Op::Presence { user_ids } => json(self.presence.status(&user_ids).await?),
        }
    }
}
