//! Messages: send (text, replies, forwards, mentions), edit with kept versions,
//! delete for everyone (a tombstone stays), reactions, pins, history pages, read
//! state, typing, and the replay of missed events. Every change goes through the
//! ordered writer; reads are scoped by membership.

use crate::chats::ChatService;
use crate::{AuthUser, Writer, outcome_err, store_err};
use sova_bus::{Audience, BusEvent, EventBus};
use sova_config::Config;
use sova_store::{MessageKind, MessageRow, NewMessage, Outcome, Stores, WriteOp, dto};
use sova_types::Event;
use sova_types::models::{Attachment, Message, MessageVersion, ReactionCount};
use sova_types::time::{now_micros, rfc3339};
use sova_types::{ApiError, ChatId, MessageId};
use std::sync::Arc;

/// Longest `client_msg_id`.
pub const MAX_CLIENT_MSG_ID: usize = 64;
/// Most messages returned by one history page.
pub const MAX_PAGE: i64 = 100;
/// Most events returned by one replay page.
pub const REPLAY_PAGE: i64 = 500;
/// Longest reaction (one emoji, possibly with modifiers).
pub const MAX_EMOJI_BYTES: usize = 64;
/// Typing indicators expire after this many seconds.
pub const TYPING_SECS: u64 = 6;

/// The wire form of a stored message (without reactions).
pub fn to_dto(row: MessageRow) -> Message {
    dto::message(row)
}

/// Validates message text: non-blank, no NUL, at most `max_chars` characters.
pub fn validate_text(text: &str, max_chars: usize) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if text.len() > max_chars && text.chars().count() > max_chars {
        return Err(ApiError::too_large_max(
            format!("message text exceeds {max_chars} characters"),
            max_chars as u64,
        ));
    }
    if text.contains('\0') {
        return Err(ApiError::bad_request("message text contains a NUL character"));
    }
    Ok(())
}

/// Validates a reaction: one short token without whitespace or control characters.
pub fn validate_emoji(emoji: &str) -> Result<(), ApiError> {
    if emoji.is_empty() || emoji.len() > MAX_EMOJI_BYTES || emoji.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ApiError::bad_request(format!(
            "emoji must be 1-{MAX_EMOJI_BYTES} bytes without spaces"
        )));
    }
    Ok(())
}

/// Lower-cased usernames mentioned as `@name` (letters, digits, `_ . -`; 3–32 chars).
pub fn parse_mentions(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '_' | '.' | '-');
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '@' && (i == 0 || !is_name(chars[i - 1])) {
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && is_name(chars[end]) {
                end += 1;
            }
            // A trailing '.' or '-' is punctuation, not part of the name.
            while end > start && matches!(chars[end - 1], '.' | '-') {
                end -= 1;
            }
            let name: String = chars[start..end].iter().collect::<String>().to_lowercase();
            let n = end - start;
            if (3..=32).contains(&n) && !out.contains(&name) {
                out.push(name);
            }
            i = end.max(start);
        } else {
            i += 1;
        }
    }
    out
}

/// What to send.
#[derive(Clone, Debug, Default)]
pub struct SendParams {
    pub chat: Option<ChatId>,
    pub text: String,
    pub reply_to: Option<MessageId>,
    pub forward_of: Option<MessageId>,
    pub client_msg_id: Option<String>,
    /// `text` (default), `media` or `file`; the last two need an attachment.
    pub kind: Option<MessageKind>,
    pub attachment: Option<Attachment>,
    /// Ids of the sender's uploads to attach (`POST /api/files`).
    pub files: Vec<String>,
}

/// Most files one message carries.
pub const MAX_FILES_PER_MESSAGE: usize = 10;

/// Checks the list of file ids a message would carry (shape only; ownership is
/// checked in the write transaction).
pub fn validate_files(files: &[String]) -> Result<(), ApiError> {
    if files.len() > MAX_FILES_PER_MESSAGE {
        return Err(ApiError::bad_request(format!(
            "a message carries at most {MAX_FILES_PER_MESSAGE} files"
        )));
    }
    for (i, f) in files.iter().enumerate() {
        if f.is_empty() || f.len() > 64 || !f.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(ApiError::bad_request("files: not a file id"));
        }
        if files[..i].contains(f) {
            return Err(ApiError::bad_request("files: the same file twice"));
        }
    }
    Ok(())
}

/// Longest attachment URL.
pub const MAX_URL: usize = 2048;
/// Largest attachment size accepted in metadata (10 GiB).
pub const MAX_ATTACHMENT_SIZE: i64 = 10 * 1024 * 1024 * 1024;

/// Checks a kind/attachment pair as a client may send it.
pub fn validate_attachment(kind: MessageKind, attachment: Option<&Attachment>) -> Result<(), ApiError> {
    match (kind, attachment) {
        (MessageKind::System, _) => Err(ApiError::bad_request("system messages are written by the server")),
        (MessageKind::Text, None) => Ok(()),
        (MessageKind::Text, Some(_)) => Err(ApiError::bad_request("an attachment needs kind media or file")),
        (_, None) => Err(ApiError::bad_request("media and file messages need an attachment")),
        (kind, Some(a)) => {
            let bad = |m: &str| Err(ApiError::bad_request(format!("attachment: {m}")));
            if !(a.url.starts_with("https://") || a.url.starts_with("http://")) || a.url.len() > MAX_URL {
                return bad("url must be http(s) and at most 2048 bytes");
            }
            if a.url.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return bad("url must not contain spaces or control characters");
            }
            if a.name.trim().is_empty() || a.name.chars().count() > 255 || a.name.chars().any(char::is_control) {
                return bad("name must be 1-255 printable characters");
            }
            let (top, sub) = a.mime.split_once('/').unwrap_or_default();
            if top.is_empty()
                || sub.is_empty()
                || a.mime.len() > 127
                || a.mime.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                return bad("mime must look like type/subtype");
            }
            if kind == MessageKind::Media && !matches!(top, "image" | "video" | "audio") {
                return bad("media must be image/*, video/* or audio/*");
            }
            if !(0..=MAX_ATTACHMENT_SIZE).contains(&a.size) {
                return bad("size must be 0 to 10 GiB");
            }
            Ok(())
        }
    }
}

pub struct MessageService {
    stores: Stores,
    bus: Arc<dyn EventBus>,
    chats: ChatService,
    writer: Writer,
    max_chars: usize,
    limits: Arc<dyn sova_limits::Limits>,
    per_min: u32,
}

impl MessageService {
    pub fn new(
        config: &Config,
        stores: Stores,
        bus: Arc<dyn EventBus>,
        chats: ChatService,
        writer: Writer,
        limits: Arc<dyn sova_limits::Limits>,
    ) -> MessageService {
        MessageService {
            stores,
            bus,
            chats,
            writer,
            max_chars: config.max_message_chars,
            limits,
            per_min: config.rate_limit_messages_per_min,
        }
    }

    async fn message_op(&self, op: WriteOp) -> Result<MessageRow, ApiError> {
        let c = self.writer.submit(op).await?;
        match c.outcome {
            Outcome::Message(row) | Outcome::Duplicate(row) => Ok(row),
            other => Err(outcome_err(&other).unwrap_or_else(ApiError::internal)),
        }
    }

    /// Stores a message from `user` in `chat` (default `general`) and returns it once
    /// committed. A repeated `client_msg_id` returns the first message, unchanged.
    pub async fn send(
        &self,
        user: &AuthUser,
        chat: Option<ChatId>,
        text: String,
        client_msg_id: Option<String>,
    ) -> Result<Message, ApiError> {
        self.send_with(
            user,
            SendParams {
                chat,
                text,
                client_msg_id,
                ..SendParams::default()
            },
        )
        .await
    }

    /// `send` with replies and forwards.
    pub async fn send_with(&self, user: &AuthUser, p: SendParams) -> Result<Message, ApiError> {
        let minute = std::time::Duration::from_secs(60);
        crate::auth::deny(
            self.limits
                .hit(&format!("msg:user:{}", user.user_id), self.per_min, minute)
                .await,
            "sending too fast",
        )?;
        let kind = p.kind.unwrap_or_default();
        validate_files(&p.files)?;
        if p.forward_of.is_none() {
            validate_attachment(kind, p.attachment.as_ref())?;
            // A media or file message, or one carrying files, may have no caption.
            if (kind == MessageKind::Text && p.files.is_empty()) || !p.text.is_empty() {
                validate_text(&p.text, self.max_chars)?;
            }
        }
        if let Some(id) = &p.client_msg_id
            && (id.is_empty() || id.len() > MAX_CLIENT_MSG_ID)
        {
            return Err(ApiError::bad_request(format!(
                "client_msg_id must be 1-{MAX_CLIENT_MSG_ID} bytes"
            )));
        }
        let chat = p.chat.unwrap_or(self.chats.general());
        // A forward copies the original text; the request's text is ignored.
        let mentions = if p.forward_of.is_none() && p.text.contains('@') {
            parse_mentions(&p.text)
        } else {
            Vec::new()
        };
        let msg = NewMessage {
            chat_id: chat,
            sender_id: user.user_id,
            kind,
            text: p.text,
            reply_to: p.reply_to,
            forward_of: p.forward_of,
            mentions,
            attachment: if p.forward_of.is_none() { p.attachment } else { None },
            files: if p.forward_of.is_none() { p.files } else { Vec::new() },
            client_msg_id: p.client_msg_id,
            created_at: now_micros(),
        };
        self.message_op(WriteOp::Send(msg)).await.map(to_dto)
    }

    /// Edits one's own message; the previous text is kept as a version.
    pub async fn edit(&self, user: &AuthUser, chat: ChatId, id: MessageId, text: String) -> Result<Message, ApiError> {
        validate_text(&text, self.max_chars)?;
        let row = self
            .message_op(WriteOp::Edit {
                chat,
                message: id,
                user: user.user_id,
                text,
                at: now_micros(),
            })
            .await?;
        self.with_reactions(user, vec![row]).await.map(|mut v| v.remove(0))
    }

    /// Deletes for everyone (author or chat admin); returns the tombstone.
    pub async fn delete(&self, user: &AuthUser, chat: ChatId, id: MessageId) -> Result<Message, ApiError> {
        self.message_op(WriteOp::Delete {
            chat,
            message: id,
            user: user.user_id,
            at: now_micros(),
        })
        .await
        .map(to_dto)
    }

    /// Adds or removes `user`'s reaction; returns the message with its reactions.
    pub async fn react(
        &self,
        user: &AuthUser,
        chat: ChatId,
        id: MessageId,
        emoji: &str,
        add: bool,
    ) -> Result<Message, ApiError> {
        validate_emoji(emoji)?;
        let row = self
            .message_op(WriteOp::React {
                chat,
                message: id,
                user: user.user_id,
                emoji: emoji.to_owned(),
                add,
                at: now_micros(),
            })
            .await?;
        self.with_reactions(user, vec![row]).await.map(|mut v| v.remove(0))
    }

    /// Pins or unpins (admins; both members of a private chat).
    pub async fn pin(&self, user: &AuthUser, chat: ChatId, id: MessageId, pin: bool) -> Result<Message, ApiError> {
        let row = self
            .message_op(WriteOp::Pin {
                chat,
                message: id,
                user: user.user_id,
                pin,
                at: now_micros(),
            })
            .await?;
        self.with_reactions(user, vec![row]).await.map(|mut v| v.remove(0))
    }

    /// Pinned messages, most recent pin first.
    pub async fn pins(&self, user: &AuthUser, chat: ChatId) -> Result<Vec<Message>, ApiError> {
        self.chats.require_member(chat, user.user_id).await?;
        let rows = self.stores.messages.pins(chat).await.map_err(store_err)?;
        self.with_reactions(user, rows).await
    }

    /// Earlier versions of a message (empty when never edited).
    pub async fn versions(
        &self,
        user: &AuthUser,
        chat: ChatId,
        id: MessageId,
    ) -> Result<Vec<MessageVersion>, ApiError> {
        self.chats.require_member(chat, user.user_id).await?;
        if self
            .stores
            .messages
            .message(chat, id)
            .await
            .map_err(store_err)?
            .is_none()
        {
            return Err(ApiError::not_found("no such message"));
        }
        let v = self.stores.messages.versions(id).await.map_err(store_err)?;
        Ok(v.into_iter()
            .map(|(version, text, at)| MessageVersion {
                version,
                text,
                replaced_at: rfc3339(at),
            })
            .collect())
    }

    /// One message.
    pub async fn get(&self, user: &AuthUser, chat: ChatId, id: MessageId) -> Result<Message, ApiError> {
        self.chats.require_member(chat, user.user_id).await?;
        let row = self
            .stores
            .messages
            .message(chat, id)
            .await
            .map_err(store_err)?
            .ok_or_else(|| ApiError::not_found("no such message"))?;
        self.with_reactions(user, vec![row]).await.map(|mut v| v.remove(0))
    }

    pub(crate) async fn with_reactions(
        &self,
        user: &AuthUser,
        rows: Vec<MessageRow>,
    ) -> Result<Vec<Message>, ApiError> {
        let ids: Vec<MessageId> = rows.iter().filter(|r| r.deleted_at.is_none()).map(|r| r.id).collect();
        let reactions = self
            .stores
            .messages
            .reactions(&ids, user.user_id)
            .await
            .map_err(store_err)?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let id = r.id;
                let mut m = to_dto(r);
                m.reactions = reactions
                    .iter()
                    .filter(|x| x.0 == id)
                    .map(|(_, emoji, count, me)| ReactionCount {
                        emoji: emoji.clone(),
                        count: *count,
                        me: *me,
                    })
                    .collect();
                m
            })
            .collect())
    }

    /// A page of `chat`'s history (default `general`) visible to `user`, oldest first:
    /// up to `limit` (1–100) messages before `before`, after `after`, or around
    /// `around` (half before, the rest from it on).
    pub async fn page(
        &self,
        user: &AuthUser,
        chat: Option<ChatId>,
        before: Option<MessageId>,
        after: Option<MessageId>,
        around: Option<MessageId>,
        limit: i64,
    ) -> Result<(ChatId, Vec<Message>), ApiError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(format!("limit must be 1-{MAX_PAGE}")));
        }
        if around.is_some() && (before.is_some() || after.is_some()) {
            return Err(ApiError::bad_request("around cannot be combined with before or after"));
        }
        let chat = chat.unwrap_or(self.chats.general());
        self.chats.require_member(chat, user.user_id).await?;
        let m = &self.stores.messages;
        let rows = if let Some(center) = around {
            let older = limit / 2;
            let mut rows = m
                .history(chat, Some(center), None, older.max(1), false)
                .await
                .map_err(store_err)?;
            if older == 0 {
                rows.clear();
            }
            rows.reverse();
            let newer = m
                .history(chat, None, Some(MessageId(center.0 - 1)), limit - older, true)
                .await
                .map_err(store_err)?;
            rows.extend(newer);
            rows
        } else if after.is_some() && before.is_none() {
            m.history(chat, None, after, limit, true).await.map_err(store_err)?
        } else {
            let mut rows = m.history(chat, before, after, limit, false).await.map_err(store_err)?;
            rows.reverse();
            rows
        };
        Ok((chat, self.with_reactions(user, rows).await?))
    }

    /// The seed history: `limit` messages before `before`, oldest first.
    pub async fn history(
        &self,
        user: &AuthUser,
        chat: Option<ChatId>,
        before: Option<MessageId>,
        limit: i64,
    ) -> Result<(ChatId, Vec<Message>), ApiError> {
        self.page(user, chat, before, None, None, limit).await
    }

    /// Moves `user`'s read position in `chat` up to `up_to` (a `chat_seq`).
    pub async fn read(&self, user: &AuthUser, chat: ChatId, up_to: i64) -> Result<(), ApiError> {
        if up_to < 0 {
            return Err(ApiError::bad_request("up_to must be >= 0"));
        }
        let c = self
            .writer
            .submit(WriteOp::Read {
                chat,
                user: user.user_id,
                up_to,
                at: now_micros(),
                receipts_max_members: self.chats.receipts_max(),
            })
            .await?;
        match outcome_err(&c.outcome) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Announces that `user` is typing in `chat` (ephemeral: neither stored nor replayed).
    pub async fn typing(&self, user: &AuthUser, chat: ChatId) -> Result<(), ApiError> {
        self.chats.require_member(chat, user.user_id).await?;
        self.bus.publish(BusEvent::new(
            Audience::Chat(chat),
            Event::Typing {
                chat_id: chat,
                user_id: user.user_id,
                user: user.username.clone(),
                expires_in: TYPING_SECS,
            },
        ));
        Ok(())
    }

    /// The highest event sequence committed so far.
    pub async fn last_seq(&self) -> Result<i64, ApiError> {
        self.stores.messages.last_message_id().await.map_err(store_err)
    }

    /// Every event visible to `user` after `since`, oldest first, at most `limit`.
    /// New messages and stored events are merged by seq; when one
    /// source fills the page, the other is cut at the same point so nothing is skipped.
    pub async fn since(&self, user: &AuthUser, since: i64, limit: i64) -> Result<Vec<Event>, ApiError> {
        let limit = limit.clamp(1, REPLAY_PAGE);
        let since = since.max(0);
        let msgs = self
            .stores
            .messages
            .messages_since(user.user_id, since, limit)
            .await
            .map_err(store_err)?;
        let events = self
            .stores
            .messages
            .events_since(user.user_id, since, limit)
            .await
            .map_err(store_err)?;
        let cut = |full: bool, last: Option<i64>| {
            if full { last.unwrap_or(i64::MAX) } else { i64::MAX }
        };
        let bound = cut(msgs.len() as i64 >= limit, msgs.last().map(|m| m.id.0))
            .min(cut(events.len() as i64 >= limit, events.last().map(Event::seq)));
        let mut out: Vec<Event> = msgs
            .into_iter()
            .filter(|m| m.id.0 <= bound)
            .map(|m| Event::NewMessage(to_dto(m)))
            .chain(events.into_iter().filter(|e| e.seq() <= bound))
            .collect();
        out.sort_by_key(Event::seq);
        out.truncate(limit as usize);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rules() {
        assert!(validate_text("hi", 10).is_ok());
        assert_eq!(
            validate_text("   ", 10).unwrap_err().code,
            sova_types::ErrorCode::BadRequest
        );
        assert_eq!(
            validate_text("a\0b", 10).unwrap_err().code,
            sova_types::ErrorCode::BadRequest
        );
        assert_eq!(
            validate_text(&"я".repeat(11), 10).unwrap_err().code,
            sova_types::ErrorCode::TooLarge
        );
        assert!(validate_text(&"я".repeat(10), 10).is_ok());
    }

    #[test]
    fn mentions_are_parsed_like_usernames() {
        assert_eq!(
            parse_mentions("hi @Alice and @bob_2, also @Alice."),
            vec!["alice", "bob_2"]
        );
        assert_eq!(parse_mentions("mail me: a@example.com"), Vec::<String>::new());
        assert_eq!(parse_mentions("@ab too short, @Иван ok"), vec!["иван"]);
        assert_eq!(parse_mentions("@"), Vec::<String>::new());
    }

    #[test]
    fn emoji_rules() {
        assert!(validate_emoji("👍").is_ok());
        assert!(validate_emoji("👍🏽").is_ok());
        assert!(validate_emoji("").is_err());
        assert!(validate_emoji("a b").is_err());
        assert!(validate_emoji(&"x".repeat(65)).is_err());
    }
}
