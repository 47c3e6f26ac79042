//! Chats. The foundation has one public chat, `general`, which every user joins at
//! registration; private chats, groups and channels build on the same tables.

use crate::store_err;
use sova_store::{ChatKind, Stores};
use sova_types::{ApiError, ChatId, UserId};

/// Slug of the public chat every user joins.
pub const GENERAL_SLUG: &str = "general";

#[derive(Clone)]
pub struct ChatService {
    stores: Stores,
    general: ChatId,
}

impl ChatService {
    /// Ensures `general` exists (race-free across instances).
    pub async fn start(stores: Stores) -> Result<ChatService, ApiError> {
        let general = stores
            .chats
            .ensure_chat(
                GENERAL_SLUG,
                ChatKind::Public,
                "General",
                sova_types::time::now_micros(),
            )
            .await
            .map_err(store_err)?
            .id;
        Ok(ChatService { stores, general })
    }

    /// The id of the `general` chat.
    pub fn general(&self) -> ChatId {
        self.general
    }

    /// Succeeds when `user` is a member of `chat`; otherwise `not_found`, so a
    /// non-member cannot even learn that the chat exists.
    pub async fn require_member(&self, chat: ChatId, user: UserId) -> Result<(), ApiError> {
        if self
            .stores
            .chats
            .is_member(chat, user)
            .await
            .map_err(store_err)?
        {
            Ok(())
        } else {
            Err(ApiError::not_found("no such chat"))
        }
    }

    /// The chats `user` belongs to.
    pub async fn chats_of(&self, user: UserId) -> Result<Vec<ChatId>, ApiError> {
        self.stores.chats.chats_of(user).await.map_err(store_err)
    }
}
