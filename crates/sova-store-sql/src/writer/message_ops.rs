//! Message ops of the batch writer: send, edit, delete, react, pin, read. Each
//! checks its rule (`sova_core::rules`) against the batch's state, then changes
//! it; a refused op writes nothing.

use super::Writer;
use super::state::{MemberState, reject, unchanged};
use crate::{Backend, Db, Result, rows};
use sova_core::{Rejection, rules};
use sova_store::{Committed, MessageKind, NewMessage, Outcome};
use sova_types::models::{FileAttachment, ForwardOrigin};
use sova_types::{ChatId, Event, MessageId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type};

/// Mentions resolved per message; more are ignored.
const MAX_MENTIONS: usize = 50;

impl<B> Writer<B>
where
    B: Backend,
    for<'c> &'c mut <Db<B> as Database>::Connection: Executor<'c, Database = Db<B>>,
    <Db<B> as Database>::Arguments: IntoArguments<Db<B>>,
    usize: ColumnIndex<<Db<B> as Database>::Row>,
    i64: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    String: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a str: Type<Db<B>> + Encode<'a, Db<B>>,
    Vec<u8>: Type<Db<B>> + for<'q> Encode<'q, Db<B>> + for<'r> Decode<'r, Db<B>>,
    for<'a> &'a [u8]: Type<Db<B>> + Encode<'a, Db<B>>,
    Option<i64>: for<'q> Encode<'q, Db<B>>,
    Option<String>: for<'q> Encode<'q, Db<B>>,
    for<'a> Option<&'a str>: Encode<'a, Db<B>>,
{
    /// The sender's own uploads among `ids`, in the order given, as a message
    /// carries them (one query); `None` when any id is not the sender's file.
    async fn own_files(&mut self, sender: UserId, ids: &[String]) -> Result<Option<Vec<FileAttachment>>> {
        let mut qb = QueryBuilder::<Db<B>>::new(
            "SELECT id, name, size, mime, width, height, blurhash FROM files WHERE uploader_id = ",
        );
        qb.push_bind(sender.0).push(" AND id IN (");
        let mut sep = qb.separated(", ");
        for id in ids {
            sep.push_bind(id.clone());
        }
        qb.push(")");
        let found = qb.build().fetch_all(&mut *self.tx).await?;
        let mut by_id = std::collections::HashMap::new();
        for r in &found {
            let id: String = r.try_get(0)?;
            let file = FileAttachment {
                file_id: id.clone(),
                name: r.try_get(1)?,
                size: r.try_get(2)?,
                mime: r.try_get(3)?,
                width: r.try_get(4)?,
                height: r.try_get(5)?,
                blurhash: r.try_get(6)?,
            };
            by_id.insert(id, file);
        }
        Ok(ids.iter().map(|id| by_id.get(id).cloned()).collect())
    }

    pub(super) async fn send(&mut self, m: &NewMessage) -> Result<Committed> {
        if let Some(cmid) = &m.client_msg_id {
            if let Some(row) = self.cmids.get(&(m.sender_id.0, cmid.clone())) {
                return Ok(unchanged(Outcome::Duplicate(row.clone())));
            }
            let r = if self.cmids_loaded {
                None
            } else {
                sqlx::query(rows::select_messages("WHERE m.sender_id = $1 AND m.client_msg_id = $2"))
                    .bind(m.sender_id.0)
                    .bind(cmid)
                    .fetch_optional(&mut *self.tx)
                    .await?
            };
            if let Some(r) = r {
                let row = self.open(rows::message(&r)?)?;
                return Ok(unchanged(Outcome::Duplicate(row)));
            }
        }
        let Some(kind) = self.chat(m.chat_id).await?.map(|c| c.row.kind) else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(member) = self.member(m.chat_id, m.sender_id).await? else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        if m.kind != MessageKind::System
            && let Err(e) = rules::can_post(kind, member.role)
        {
            return Ok(reject(e));
        }
        if let Some(reply) = m.reply_to {
            let in_batch = self.pending.iter().any(|p| p.id == reply && p.chat_id == m.chat_id);
            if !in_batch && self.load_message(m.chat_id, reply).await?.is_none() {
                return Ok(reject(Rejection::ReplyOutsideChat));
            }
        }
        let mut text = m.text.clone();
        let mut msg_kind = m.kind;
        let mut forward = None;
        let mut attachment = m.attachment.clone();
        let mut attachments = Vec::new();
        if let Some(orig) = m.forward_of {
            self.flush().await?;
            let r = sqlx::query(rows::select_messages("WHERE m.id = $1"))
                .bind(orig.0)
                .fetch_optional(&mut *self.tx)
                .await?;
            let Some(r) = r else {
                return Ok(reject(Rejection::NoSuchForwardSource));
            };
            let o = self.open(rows::message(&r)?)?;
            if o.deleted_at.is_some() || self.member(o.chat_id, m.sender_id).await?.is_none() {
                return Ok(reject(Rejection::NoSuchForwardSource));
            }
            text = o.text.clone();
            attachment = o.attachment.clone();
            // A forward shares the files too: the new chat's members may read them.
            attachments = o.attachments.clone();
            msg_kind = rules::forwarded_kind(o.kind);
            // Forwarding a forward keeps the first origin.
            forward = Some(o.forward.clone().unwrap_or(ForwardOrigin {
                chat_id: o.chat_id,
                message_id: o.id,
                user_id: o.sender_id,
                user: o.sender_name.clone(),
            }));
        }
        if !m.files.is_empty() {
            match self.own_files(m.sender_id, &m.files).await? {
                Some(found) => attachments = found,
                None => return Ok(reject(Rejection::NoSuchFile)),
            }
        }
        let mut mentioned = Vec::new();
        for name in m.mentions.iter().take(MAX_MENTIONS) {
            let r = sqlx::query(
                "SELECT u.id FROM users u JOIN chat_members cm ON cm.user_id = u.id AND cm.chat_id = $1 \
                 WHERE u.username_lower = $2",
            )
            .bind(m.chat_id.0)
            .bind(name)
            .fetch_optional(&mut *self.tx)
            .await?;
            let id: Option<i64> = r.map(|r| r.try_get(0)).transpose()?;
            if let Some(id) = id.map(UserId)
                && id != m.sender_id
                && !mentioned.contains(&id)
            {
                mentioned.push(id);
            }
        }
        let mut row = self
            .append(m.chat_id, m.sender_id, msg_kind, text, m.created_at)
            .await?;
        row.reply_to = m.reply_to;
        row.forward = forward;
        row.attachment = attachment;
        row.attachments = attachments;
        row.mentions = mentioned.clone();
        row.client_msg_id = m.client_msg_id.clone();
        let mut events = vec![Self::new_message_event(&row)];
        for user in mentioned {
            let (chat_id, message_id, by) = (row.chat_id, row.id, row.sender_id);
            let (name, text) = (row.sender_name.clone(), row.text.clone());
            events.push(self.text_event(message_id, None, Some(user), |seq| Event::Mention {
                seq,
                chat_id,
                message_id,
                by,
                user: name,
                text,
            }));
        }
        if let Some(cmid) = &m.client_msg_id {
            self.cmids.insert((m.sender_id.0, cmid.clone()), row.clone());
        }
        self.pending.push(row.clone());
        Ok(Committed {
            outcome: Outcome::Message(row),
            events,
        })
    }

    pub(super) async fn edit(
        &mut self,
        chat: ChatId,
        id: MessageId,
        user: UserId,
        text: &str,
        at: i64,
    ) -> Result<Committed> {
        if self.member(chat, user).await?.is_none() {
            return Ok(reject(Rejection::NoSuchChat));
        }
        let Some(mut row) = self.load_message(chat, id).await? else {
            return Ok(reject(Rejection::NoSuchMessage));
        };
        if row.deleted_at.is_some() {
            return Ok(reject(Rejection::NoSuchMessage));
        }
        if let Err(e) = rules::can_edit(row.sender_id == user, row.kind) {
            return Ok(reject(e));
        }
        sqlx::query(
            "INSERT INTO message_versions (message_id, version, text, replaced_at) \
             VALUES ($1, (SELECT COALESCE(MAX(version), 0) + 1 FROM message_versions WHERE message_id = $1), $2, $3)",
        )
        .bind(id.0)
        .bind(self.cipher.seal(&row.text))
        .bind(at)
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("UPDATE messages SET text = $1, edited_at = $2 WHERE id = $3")
            .bind(self.cipher.seal(text))
            .bind(at)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await?;
        row.text = text.to_owned();
        row.edited_at = Some(at);
        let t = text.to_owned();
        let ev = self.text_event(id, Some(chat), None, |seq| Event::MessageEdited {
            seq,
            chat_id: chat,
            message_id: id,
            user_id: user,
            text: t,
            edited_at: sova_types::time::rfc3339(at),
        });
        Ok(Committed {
            outcome: Outcome::Message(row),
            events: vec![ev],
        })
    }

    pub(super) async fn delete(&mut self, chat: ChatId, id: MessageId, user: UserId, at: i64) -> Result<Committed> {
        let Some(member) = self.member(chat, user).await? else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(mut row) = self.load_message(chat, id).await? else {
            return Ok(reject(Rejection::NoSuchMessage));
        };
        if let Err(e) = rules::can_delete(row.sender_id == user, member.role) {
            return Ok(reject(e));
        }
        if row.deleted_at.is_some() {
            return Ok(unchanged(Outcome::Message(row)));
        }
        // Deleted for everyone: the content and its history go, a tombstone stays.
        sqlx::query(
            "UPDATE messages SET text = '', deleted_at = $1, pinned_at = NULL, mentions = '', forward_chat_id = NULL, \
             forward_message_id = NULL, forward_user_id = NULL, forward_user = NULL, attachment = NULL, attachments = NULL WHERE id = $2",
        )
        .bind(at)
        .bind(id.0)
        .execute(&mut *self.tx)
        .await?;
        // Stored edits and mentions carry the text: they go too.
        self.stored.retain(|(_, about)| *about != Some(id.0));
        for sql in [
            "DELETE FROM message_versions WHERE message_id = $1",
            "DELETE FROM reactions WHERE message_id = $1",
            "DELETE FROM events WHERE message_id = $1",
            // Its files are no longer shared with the chat through it.
            "DELETE FROM message_files WHERE message_id = $1",
        ] {
            sqlx::query(sql).bind(id.0).execute(&mut *self.tx).await?;
        }
        row.text.clear();
        row.deleted_at = Some(at);
        row.pinned_at = None;
        row.mentions.clear();
        row.forward = None;
        row.attachment = None;
        row.attachments.clear();
        let ev = self.event(Some(chat), None, |seq| Event::MessageDeleted {
            seq,
            chat_id: chat,
            message_id: id,
            deleted_by: user,
        });
        Ok(Committed {
            outcome: Outcome::Message(row),
            events: vec![ev],
        })
    }

    pub(super) async fn react(
        &mut self,
        chat: ChatId,
        id: MessageId,
        user: UserId,
        emoji: &str,
        add: bool,
        at: i64,
    ) -> Result<Committed> {
        if self.member(chat, user).await?.is_none() {
            return Ok(reject(Rejection::NoSuchChat));
        }
        let Some(row) = self.load_message(chat, id).await? else {
            return Ok(reject(Rejection::NoSuchMessage));
        };
        if row.deleted_at.is_some() {
            return Ok(reject(Rejection::NoSuchMessage));
        }
        let done = if add {
            sqlx::query(
                "INSERT INTO reactions (message_id, emoji, user_id, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id.0)
            .bind(emoji)
            .bind(user.0)
            .bind(at)
            .execute(&mut *self.tx)
            .await?
        } else {
            sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3")
                .bind(id.0)
                .bind(emoji)
                .bind(user.0)
                .execute(&mut *self.tx)
                .await?
        };
        if B::rows_affected(&done) == 0 {
            return Ok(unchanged(Outcome::Message(row)));
        }
        let r = sqlx::query("SELECT COUNT(*) FROM reactions WHERE message_id = $1 AND emoji = $2")
            .bind(id.0)
            .bind(emoji)
            .fetch_one(&mut *self.tx)
            .await?;
        let count: i64 = r.try_get(0)?;
        let e = emoji.to_owned();
        let ev = self.event(Some(chat), None, |seq| {
            if add {
                Event::ReactionAdded {
                    seq,
                    chat_id: chat,
                    message_id: id,
                    user_id: user,
                    emoji: e,
                    count,
                }
            } else {
                Event::ReactionRemoved {
                    seq,
                    chat_id: chat,
                    message_id: id,
                    user_id: user,
                    emoji: e,
                    count,
                }
            }
        });
        Ok(Committed {
            outcome: Outcome::Message(row),
            events: vec![ev],
        })
    }

    pub(super) async fn pin(
        &mut self,
        chat: ChatId,
        id: MessageId,
        user: UserId,
        pin: bool,
        at: i64,
    ) -> Result<Committed> {
        let Some(member) = self.member(chat, user).await? else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(kind) = self.chat(chat).await?.map(|c| c.row.kind) else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        if let Err(e) = rules::can_pin(kind, member.role) {
            return Ok(reject(e));
        }
        let Some(mut row) = self.load_message(chat, id).await? else {
            return Ok(reject(Rejection::NoSuchMessage));
        };
        if row.deleted_at.is_some() {
            return Ok(reject(Rejection::NoSuchMessage));
        }
        if row.pinned_at.is_some() == pin {
            return Ok(unchanged(Outcome::Message(row)));
        }
        let when = pin.then_some(at);
        sqlx::query("UPDATE messages SET pinned_at = $1 WHERE id = $2")
            .bind(when)
            .bind(id.0)
            .execute(&mut *self.tx)
            .await?;
        row.pinned_at = when;
        let ev = self.event(Some(chat), None, |seq| Event::MessagePinned {
            seq,
            chat_id: chat,
            message_id: id,
            pinned: pin,
            by: user,
        });
        Ok(Committed {
            outcome: Outcome::Message(row),
            events: vec![ev],
        })
    }

    pub(super) async fn read(
        &mut self,
        chat: ChatId,
        user: UserId,
        up_to: i64,
        receipts_max: i64,
    ) -> Result<Committed> {
        let Some((last_seq, members)) = self.chat(chat).await?.map(|c| (c.row.last_seq, c.row.member_count)) else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(member) = self.member(chat, user).await? else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(up_to) = rules::advance_read(member.last_read_seq, up_to, last_seq) else {
            return Ok(unchanged(Outcome::Done));
        };
        self.members.insert(
            (chat.0, user.0),
            Some(MemberState {
                last_read_seq: up_to,
                ..member
            }),
        );
        self.dirty_members.insert((chat.0, user.0));
        // Receipts for chats up to the configured size; otherwise only the
        // reader's own devices learn the new position.
        let ev = if rules::receipts_to_all(members, receipts_max) {
            self.event(Some(chat), None, |seq| Event::Read {
                seq,
                chat_id: chat,
                user_id: user,
                up_to,
            })
        } else {
            self.event(None, Some(user), |seq| Event::Read {
                seq,
                chat_id: chat,
                user_id: user,
                up_to,
            })
        };
        Ok(Committed {
            outcome: Outcome::Done,
            events: vec![ev],
        })
    }
}
