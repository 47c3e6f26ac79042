//! Row decoding and the column lists the queries select, in decode order. The
//! column lists are plain SQL fragments; each query that uses one spells out the
//! rest of its statement next to it.

use crate::error::unexpected;
use sova_store::{ChatKind, ChatRow, InviteRow, MemberRow, MessageKind, MessageRow, Role, UserRow};
use sova_types::models::ForwardOrigin;
use sova_types::{ChatId, MessageId, UserId};
use sqlx::{AssertSqlSafe, ColumnIndex, Decode, Row, Type};

/// Columns of a message row joined with its sender (`m`, `u`), in `message` order.
pub(crate) const MESSAGE_COLUMNS: &str = "m.id, m.chat_id, m.chat_seq, m.sender_id, u.username, m.text, \
     m.client_msg_id, m.created_at, m.kind, m.reply_to, m.forward_chat_id, m.forward_message_id, \
     m.forward_user_id, m.forward_user, m.mentions, m.edited_at, m.deleted_at, m.pinned_at, m.attachment, \
     m.attachments";

/// Columns of a chat row (`c`), in `chat` order.
pub(crate) const CHAT_COLUMNS: &str = "c.id, c.kind, c.name, c.slug, c.created_at, c.last_seq, c.member_count";

/// Columns of a member row (`cm` joined with `u`), in `member` order.
pub(crate) const MEMBER_COLUMNS: &str =
    "cm.chat_id, cm.user_id, u.username, cm.role, cm.joined_at, cm.last_read_seq, cm.muted";

/// `SELECT <message columns> FROM messages m JOIN users u …` followed by `tail`.
/// Only constant fragments are ever passed in; values are bound.
pub(crate) fn select_messages(tail: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages m JOIN users u ON u.id = m.sender_id {tail}"
    ))
}

/// `SELECT <chat columns><extra> FROM chats c ` followed by `tail` (constants only).
pub(crate) fn select_chats(extra: &str, tail: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!("SELECT {CHAT_COLUMNS}{extra} FROM chats c {tail}"))
}

/// `SELECT <member columns> FROM chat_members cm JOIN users u …` followed by `tail`.
pub(crate) fn select_members(tail: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!(
        "SELECT {MEMBER_COLUMNS} FROM chat_members cm JOIN users u ON u.id = cm.user_id {tail}"
    ))
}

/// Decodes `users` rows (`id, username, password_hash, created_at`).
pub(crate) fn user<R: Row>(r: &R) -> Result<UserRow, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    Ok(UserRow {
        id: UserId(r.try_get(0)?),
        username: r.try_get(1)?,
        password_hash: r.try_get(2)?,
        created_at: r.try_get(3)?,
    })
}

/// Decodes `CHAT_COLUMNS`.
pub(crate) fn chat<R: Row>(r: &R) -> Result<ChatRow, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    let kind: String = r.try_get(1)?;
    Ok(ChatRow {
        id: ChatId(r.try_get(0)?),
        kind: ChatKind::parse(&kind).ok_or_else(|| unexpected("chat kind"))?,
        name: r.try_get(2)?,
        slug: r.try_get(3)?,
        created_at: r.try_get(4)?,
        last_seq: r.try_get(5)?,
        member_count: r.try_get(6)?,
    })
}

/// Decodes `MESSAGE_COLUMNS` (text still sealed).
pub(crate) fn message<R: Row>(r: &R) -> Result<MessageRow, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    let kind: String = r.try_get(8)?;
    let fwd_chat: Option<i64> = r.try_get(10)?;
    let forward = match fwd_chat {
        Some(chat) => Some(ForwardOrigin {
            chat_id: ChatId(chat),
            message_id: MessageId(r.try_get::<Option<i64>, _>(11)?.unwrap_or_default()),
            user_id: UserId(r.try_get::<Option<i64>, _>(12)?.unwrap_or_default()),
            user: r.try_get::<Option<String>, _>(13)?.unwrap_or_default(),
        }),
        None => None,
    };
    let mentions: String = r.try_get(14)?;
    Ok(MessageRow {
        id: MessageId(r.try_get(0)?),
        chat_id: ChatId(r.try_get(1)?),
        chat_seq: r.try_get(2)?,
        sender_id: UserId(r.try_get(3)?),
        sender_name: r.try_get(4)?,
        text: r.try_get(5)?,
        client_msg_id: r.try_get(6)?,
        created_at: r.try_get(7)?,
        kind: MessageKind::parse(&kind).ok_or_else(|| unexpected("message kind"))?,
        reply_to: r.try_get::<Option<i64>, _>(9)?.map(MessageId),
        forward,
        mentions: crate::parse_ids(&mentions),
        edited_at: r.try_get(15)?,
        deleted_at: r.try_get(16)?,
        pinned_at: r.try_get(17)?,
        attachment: r
            .try_get::<Option<String>, _>(18)?
            .and_then(|j| serde_json::from_str(&j).ok()),
        attachments: r
            .try_get::<Option<String>, _>(19)?
            .and_then(|j| serde_json::from_str(&j).ok())
            .unwrap_or_default(),
    })
}

/// Decodes `MEMBER_COLUMNS`.
pub(crate) fn member<R: Row>(r: &R) -> Result<MemberRow, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    let role: String = r.try_get(3)?;
    Ok(MemberRow {
        chat_id: ChatId(r.try_get(0)?),
        user_id: UserId(r.try_get(1)?),
        username: r.try_get(2)?,
        role: Role::parse(&role).ok_or_else(|| unexpected("role"))?,
        joined_at: r.try_get(4)?,
        last_read_seq: r.try_get(5)?,
        muted: r.try_get::<i64, _>(6)? != 0,
    })
}

/// Decodes `invites` rows (`code, chat_id, created_by, created_at, expires_at,
/// max_uses, uses, revoked_at`).
pub(crate) fn invite<R: Row>(r: &R) -> Result<InviteRow, sqlx::Error>
where
    usize: ColumnIndex<R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    String: Type<R::Database> + for<'r> Decode<'r, R::Database>,
{
    Ok(InviteRow {
        code: r.try_get(0)?,
        chat_id: ChatId(r.try_get(1)?),
        created_by: UserId(r.try_get(2)?),
        created_at: r.try_get(3)?,
        expires_at: r.try_get(4)?,
        max_uses: r.try_get(5)?,
        uses: r.try_get(6)?,
        revoked_at: r.try_get(7)?,
    })
}

/// Decodes every row with `f`.
pub(crate) fn all<R, T>(rows: &[R], f: fn(&R) -> Result<T, sqlx::Error>) -> Result<Vec<T>, sqlx::Error> {
    rows.iter().map(f).collect()
}
