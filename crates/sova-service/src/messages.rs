//! Messages. Sends go through one writer task per process that commits them in
//! batches (group commit: one transaction and one fsync for many messages), then
//! publishes each new message on the bus, serialized once, in id order. A message is
//! acknowledged only after its batch has committed.

use crate::chats::ChatService;
use crate::{AuthUser, store_err};
use bytes::Bytes;
use sova_bus::{BusEvent, EventBus};
use sova_config::Config;
use sova_store::{Appended, MessageRow, NewMessage, Stores};
use sova_types::frames::ServerFrame;
use sova_types::models::Message;
use sova_types::time::{now_micros, rfc3339};
use sova_types::{ApiError, ChatId, MessageId};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Most messages committed in one transaction.
pub const MAX_BATCH: usize = 512;
/// Longest `client_msg_id`.
pub const MAX_CLIENT_MSG_ID: usize = 64;
/// Most messages returned by one history or sync page.
pub const MAX_PAGE: i64 = 100;
/// Most messages returned by one replay query.
pub const REPLAY_PAGE: i64 = 500;

struct WriteReq {
    msg: NewMessage,
    reply: oneshot::Sender<Result<Appended, ApiError>>,
}

pub struct MessageService {
    stores: Stores,
    chats: ChatService,
    writer: mpsc::Sender<WriteReq>,
    max_chars: usize,
}

/// The wire form of a stored message.
pub fn to_dto(row: MessageRow) -> Message {
    Message {
        id: row.id,
        chat_id: row.chat_id,
        chat_seq: row.chat_seq,
        user_id: row.sender_id,
        user: row.sender_name,
        text: row.text,
        timestamp: rfc3339(row.created_at),
        seq: row.id.0,
        client_msg_id: row.client_msg_id,
    }
}

/// Validates message text: non-blank, no NUL, at most `max_chars` characters.
pub fn validate_text(text: &str, max_chars: usize) -> Result<(), ApiError> {
    if text.trim().is_empty() {
        return Err(ApiError::bad_request("message text is empty"));
    }
    if text.len() > max_chars && text.chars().count() > max_chars {
        return Err(ApiError::too_large(format!(
            "message text exceeds {max_chars} characters"
        )));
    }
    if text.contains('\0') {
        return Err(ApiError::bad_request(
            "message text contains a NUL character",
        ));
    }
    Ok(())
}

impl MessageService {
    /// Starts the writer task; it stops once every `MessageService` handle is dropped
    /// and the queued writes are committed.
    pub fn start(
        config: &Config,
        stores: Stores,
        bus: Arc<dyn EventBus>,
        chats: ChatService,
    ) -> (MessageService, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        let writer = tokio::spawn(writer_loop(rx, stores.clone(), bus));
        (
            MessageService {
                stores,
                chats,
                writer: tx,
                max_chars: config.max_message_chars,
            },
            writer,
        )
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
        validate_text(&text, self.max_chars)?;
        if let Some(id) = &client_msg_id
            && (id.is_empty() || id.len() > MAX_CLIENT_MSG_ID)
        {
            return Err(ApiError::bad_request(format!(
                "client_msg_id must be 1-{MAX_CLIENT_MSG_ID} bytes"
            )));
        }
        let chat = chat.unwrap_or(self.chats.general());
        self.chats.require_member(chat, user.user_id).await?;
        let (reply, rx) = oneshot::channel();
        let req = WriteReq {
            msg: NewMessage {
                chat_id: chat,
                sender_id: user.user_id,
                text,
                client_msg_id,
                created_at: now_micros(),
            },
            reply,
        };
        self.writer
            .send(req)
            .await
            .map_err(|_| ApiError::unavailable("server is shutting down"))?;
        match rx
            .await
            .map_err(|_| ApiError::unavailable("server is shutting down"))??
        {
            Appended::New(row) | Appended::Duplicate(row) => Ok(to_dto(row)),
            Appended::NoSuchChat => Err(ApiError::not_found("no such chat")),
        }
    }

    /// A page of `chat`'s history visible to `user`: up to `limit` (1–100) messages
    /// older than `before`, oldest first.
    pub async fn history(
        &self,
        user: &AuthUser,
        chat: Option<ChatId>,
        before: Option<MessageId>,
        limit: i64,
    ) -> Result<(ChatId, Vec<Message>), ApiError> {
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(format!("limit must be 1-{MAX_PAGE}")));
        }
        let chat = chat.unwrap_or(self.chats.general());
        self.chats.require_member(chat, user.user_id).await?;
        let mut rows = self
            .stores
            .messages
            .history(chat, before, limit)
            .await
            .map_err(store_err)?;
        rows.reverse();
        Ok((chat, rows.into_iter().map(to_dto).collect()))
    }

    /// The highest event sequence committed so far.
    pub async fn last_seq(&self) -> Result<i64, ApiError> {
        self.stores
            .messages
            .last_message_id()
            .await
            .map_err(store_err)
    }

    /// Events after `since` in the user's chats, oldest first, at most `limit`.
    pub async fn since(
        &self,
        user: &AuthUser,
        since: i64,
        limit: i64,
    ) -> Result<Vec<Message>, ApiError> {
        let rows = self
            .stores
            .messages
            .messages_since(user.user_id, since.max(0), limit.clamp(1, REPLAY_PAGE))
            .await
            .map_err(store_err)?;
        Ok(rows.into_iter().map(to_dto).collect())
    }
}

async fn writer_loop(mut rx: mpsc::Receiver<WriteReq>, stores: Stores, bus: Arc<dyn EventBus>) {
    let mut reqs: Vec<WriteReq> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut reqs, MAX_BATCH).await > 0 {
        let batch: Vec<NewMessage> = reqs.iter().map(|r| r.msg.clone()).collect();
        match stores.messages.append_batch(&batch).await {
            Ok(results) => {
                for (req, result) in reqs.drain(..).zip(results) {
                    if let Appended::New(row) = &result {
                        bus.publish(event_for(row));
                    }
                    let _ = req.reply.send(Ok(result));
                }
            }
            Err(e) => {
                let err = store_err(e);
                for req in reqs.drain(..) {
                    let _ = req.reply.send(Err(err.clone()));
                }
            }
        }
    }
    tracing::debug!("message writer stopped");
}

fn event_for(row: &MessageRow) -> BusEvent {
    let frame = ServerFrame::NewMessage(to_dto(row.clone())).to_json();
    BusEvent {
        chat_id: row.chat_id,
        seq: row.id.0,
        frame: Bytes::from(frame),
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
        // Characters, not bytes: 10 two-byte letters fit.
        assert!(validate_text(&"я".repeat(10), 10).is_ok());
    }
}
