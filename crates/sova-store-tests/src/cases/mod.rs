//! The conformance cases. Each takes a freshly migrated, empty backend. The
//! cases live in `accounts` (users, tokens), `messages`, `chats` and `search`; the helpers
//! they share are here.

mod accounts;
mod chats;
mod messages;
mod search;
mod tasks;

pub use accounts::*;
pub use chats::*;
pub use messages::*;
pub use search::*;
pub use tasks::*;

use sova_core::RejectionKind;
use sova_store::{
    ChatKind, Committed, NewMessage, NewRefreshToken, NewUser, Outcome, RotateOutcome, StoreError, Stores, UserRow,
    WriteOp,
};
use sova_types::{ChatId, MessageId, UserId};
use std::collections::{HashMap, HashSet};

const T0: i64 = 1_700_000_000_000_000;

async fn user(s: &Stores, name: &str, join: &[ChatId]) -> UserRow {
    s.users
        .create_user(
            NewUser {
                username: name.to_owned(),
                username_lower: name.to_lowercase(),
                password_hash: format!("hash-of-{name}"),
                created_at: T0,
            },
            join,
        )
        .await
        .expect("create user")
}

async fn chat(s: &Stores, slug: &str) -> ChatId {
    s.chats
        .ensure_chat(slug, ChatKind::Group, slug, T0)
        .await
        .expect("chat")
        .id
}

fn msg(chat: ChatId, sender: UserId, text: &str, cmid: Option<&str>) -> NewMessage {
    let mut m = NewMessage::text(chat, sender, text, T0);
    m.client_msg_id = cmid.map(str::to_owned);
    m
}

/// Sends a batch of messages; returns each outcome.
async fn append(s: &Stores, batch: &[NewMessage]) -> Vec<Outcome> {
    let ops: Vec<WriteOp> = batch.iter().cloned().map(WriteOp::Send).collect();
    s.messages
        .commit(&ops)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.outcome)
        .collect()
}

/// Applies ops in one batch.
async fn commit(s: &Stores, ops: Vec<WriteOp>) -> Vec<Committed> {
    s.messages.commit(&ops).await.unwrap()
}

fn new_row(a: &Outcome) -> &sova_store::MessageRow {
    match a {
        Outcome::Message(r) => r,
        other => panic!("expected a new row, got {other:?}"),
    }
}

fn token(hash: u8, user: UserId, family: u8, expires_at: i64) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: vec![hash; 32],
        user_id: user,
        family_id: vec![family; 16],
        created_at: T0,
        expires_at,
    }
}

fn chat_of(c: &Committed) -> sova_store::ChatRow {
    match &c.outcome {
        Outcome::Chat(r) | Outcome::ExistingChat(r) => r.clone(),
        other => panic!("expected a chat, got {other:?}"),
    }
}

fn rejected(c: &Committed) -> RejectionKind {
    match &c.outcome {
        Outcome::Rejected(e) => e.kind(),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

fn create(kind: ChatKind, name: &str, creator: UserId, members: &[UserId]) -> WriteOp {
    WriteOp::CreateChat {
        kind,
        name: name.into(),
        creator,
        members: members.to_vec(),
        at: T0,
        max_members: 10,
    }
}

fn frames(c: &Committed) -> Vec<serde_json::Value> {
    c.events
        .iter()
        .map(|e| serde_json::to_value(&e.event).unwrap())
        .collect()
}
