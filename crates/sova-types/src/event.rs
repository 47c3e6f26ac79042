//! Typed events: everything a client can receive as a push, and the internal
//! signals that travel the same way (never written to a client). The writer builds
//! them, the store persists them (encrypted) and returns them typed, the bus carries
//! them as [`SharedEvent`]s whose wire encoding is computed at most once and shared
//! by every recipient; each transport only picks the encoding it speaks.

use crate::ids::{ChatId, MessageId, UserId};
use crate::models::{Chat, Message, Role};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, OnceLock};

/// One event. Serialized, a client-facing variant is exactly its push frame
/// (`{"type":"new_message",…,"seq"}`), the same on every transport.
// Events mostly live behind one `Arc` (`Shared`); boxing the most common variant
// (`NewMessage`) would cost an extra allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// A message pushed to every member of its chat.
    NewMessage(Message),
    MessageEdited {
        seq: i64,
        chat_id: ChatId,
        message_id: MessageId,
        user_id: UserId,
        text: String,
        edited_at: String,
    },
    MessageDeleted {
        seq: i64,
        chat_id: ChatId,
        message_id: MessageId,
        deleted_by: UserId,
    },
    ReactionAdded {
        seq: i64,
        chat_id: ChatId,
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
        /// Users now reacting with this emoji.
        count: i64,
    },
    ReactionRemoved {
        seq: i64,
        chat_id: ChatId,
        message_id: MessageId,
        user_id: UserId,
        emoji: String,
        count: i64,
    },
    MessagePinned {
        seq: i64,
        chat_id: ChatId,
        message_id: MessageId,
        pinned: bool,
        by: UserId,
    },
    /// A member's read position moved (receipts, and the reader's other devices).
    Read {
        seq: i64,
        chat_id: ChatId,
        user_id: UserId,
        up_to: i64,
    },
    /// You were mentioned (sent even when the chat is muted).
    Mention {
        seq: i64,
        chat_id: ChatId,
        message_id: MessageId,
        by: UserId,
        user: String,
        text: String,
    },
    /// You joined or were added to a chat (or it was created with you in it).
    ChatAdded { seq: i64, chat: Chat },
    /// The chat changed (name, members, roles).
    ChatUpdated { seq: i64, chat: Chat },
    /// You left or were removed, or the chat was deleted.
    ChatRemoved { seq: i64, chat_id: ChatId },
    /// A member's role changed.
    MemberUpdated {
        seq: i64,
        chat_id: ChatId,
        user_id: UserId,
        role: Role,
    },
    /// A game of the chat changed (created, joined, a move, a timeout). `game.state`
    /// is the public view: it never holds a secret, since every member gets it.
    GameUpdated { seq: i64, game: crate::games::Game },
    /// You unlocked an achievement (exactly once per user and achievement).
    AchievementUnlocked {
        seq: i64,
        user_id: UserId,
        achievement: String,
        /// The kind of the game that unlocked it.
        kind: String,
        game_id: crate::ids::GameId,
        unlocked_at: String,
    },
    /// A task was created in the chat.
    TaskCreated { seq: i64, task: crate::tasks::Task },
    /// A task changed (fields, checklist, assignees, or its place on a board).
    TaskUpdated { seq: i64, task: crate::tasks::Task },
    /// A task was deleted.
    TaskDeleted {
        seq: i64,
        chat_id: ChatId,
        task_id: crate::ids::TaskId,
    },
    /// A board was created or its columns changed (columns carry no tasks here).
    BoardUpdated { seq: i64, board: crate::tasks::Board },
    /// Ephemeral: a user's presence changed (sent to their private chats and small groups).
    Presence(crate::models::Presence),
    /// Ephemeral: a member is typing (expires after `expires_in` seconds).
    Typing {
        chat_id: ChatId,
        user_id: UserId,
        user: String,
        expires_in: u64,
    },
    /// Ephemeral: a security-relevant change on the account (e.g. a login from a new device).
    SecurityAlert {
        kind: String,
        ip: String,
        device_id: String,
        user_agent: String,
        at: String,
    },
    /// Ephemeral: the user's client settings changed (on any device); to every
    /// connection of the user.
    SettingsUpdated {
        settings: serde_json::Value,
        updated_at: String,
    },
    /// Internal: the session `session` of `user_id` was revoked; its connections close.
    SessionRevoked { user_id: UserId, session: String },
    /// Internal: the recipient may have missed events (a new bus subscription or a
    /// reconnect) and catches up from storage.
    Resync,
}

/// A subscription change an event implies for its recipient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Membership {
    Joined(ChatId),
    Left(ChatId),
}

impl Event {
    /// The server-wide sequence number; 0 for ephemeral and internal events, which
    /// are neither stored nor replayed.
    pub fn seq(&self) -> i64 {
        match self {
            Event::NewMessage(m) => m.seq,
            Event::MessageEdited { seq, .. }
            | Event::MessageDeleted { seq, .. }
            | Event::ReactionAdded { seq, .. }
            | Event::ReactionRemoved { seq, .. }
            | Event::MessagePinned { seq, .. }
            | Event::Read { seq, .. }
            | Event::Mention { seq, .. }
            | Event::ChatAdded { seq, .. }
            | Event::ChatUpdated { seq, .. }
            | Event::ChatRemoved { seq, .. }
            | Event::MemberUpdated { seq, .. }
            | Event::GameUpdated { seq, .. }
            | Event::AchievementUnlocked { seq, .. } => *seq,
            Event::TaskCreated { seq, .. }
            | Event::TaskUpdated { seq, .. }
            | Event::TaskDeleted { seq, .. }
            | Event::BoardUpdated { seq, .. } => *seq,
            Event::Presence(_)
            | Event::Typing { .. }
            | Event::SecurityAlert { .. }
            | Event::SettingsUpdated { .. }
            | Event::SessionRevoked { .. }
            | Event::Resync => 0,
        }
    }

    /// Internal signals are acted on by the gateway and never sent to a client.
    pub fn is_internal(&self) -> bool {
        matches!(self, Event::SessionRevoked { .. } | Event::Resync)
    }

    /// The subscription change this event implies for the user it targets.
    pub fn membership(&self) -> Option<Membership> {
        match self {
            Event::ChatAdded { chat, .. } => Some(Membership::Joined(chat.id)),
            Event::ChatRemoved { chat_id, .. } => Some(Membership::Left(*chat_id)),
            _ => None,
        }
    }

    /// Serializes to compact JSON (the push frame). Serialization of these types
    /// cannot fail; the fallback only keeps the signature infallible.
    pub fn to_json(&self) -> Bytes {
        serde_json::to_vec(self).map(Bytes::from).unwrap_or_else(|_| {
            Bytes::from_static(br#"{"type":"error","code":"internal","message":"internal server error"}"#)
        })
    }
}

/// An event with its wire encodings, each computed at most once and shared by every
/// recipient (a clone is a reference count).
pub type SharedEvent = Arc<Shared>;

/// See [`SharedEvent`].
#[derive(Debug)]
pub struct Shared {
    event: Event,
    json: OnceLock<Bytes>,
}

impl Shared {
    /// Wraps `event`; its JSON is encoded on first use.
    pub fn new(event: Event) -> SharedEvent {
        Arc::new(Shared {
            event,
            json: OnceLock::new(),
        })
    }

    /// Wraps `event` whose JSON encoding is already known (e.g. received from
    /// another instance), so it is never encoded again.
    pub fn with_json(event: Event, json: Bytes) -> SharedEvent {
        Arc::new(Shared {
            event,
            json: OnceLock::from(json),
        })
    }

    /// The typed event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The event's server-wide sequence number (see [`Event::seq`]).
    pub fn seq(&self) -> i64 {
        self.event.seq()
    }

    /// The JSON push frame, encoded once.
    pub fn json(&self) -> &Bytes {
        self.json.get_or_init(|| self.event.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message() -> Message {
        Message {
            id: MessageId(5),
            chat_id: ChatId(1),
            chat_seq: 2,
            user_id: UserId(3),
            user: "u".into(),
            text: "hi".into(),
            timestamp: "2023-12-01T10:00:00Z".into(),
            seq: 5,
            client_msg_id: None,
            kind: Default::default(),
            reply_to: None,
            forward: None,
            attachment: None,
            attachments: Vec::new(),
            mentions: Vec::new(),
            edited_at: None,
            deleted: false,
            pinned: false,
            reactions: Vec::new(),
        }
    }

    #[test]
    fn new_message_is_flat() {
        let v: serde_json::Value = serde_json::from_slice(&Event::NewMessage(message()).to_json()).unwrap();
        assert_eq!(v["type"], "new_message");
        assert_eq!(v["user"], "u");
        assert_eq!(v["seq"], 5);
        assert!(v.get("client_msg_id").is_none());
    }

    #[test]
    fn events_round_trip_and_know_their_seq_and_membership() {
        let events = [
            Event::NewMessage(message()),
            Event::ChatRemoved {
                seq: 9,
                chat_id: ChatId(4),
            },
            Event::Typing {
                chat_id: ChatId(1),
                user_id: UserId(2),
                user: "u".into(),
                expires_in: 6,
            },
            Event::SessionRevoked {
                user_id: UserId(2),
                session: "ab".into(),
            },
        ];
        for e in &events {
            let back: Event = serde_json::from_slice(&e.to_json()).unwrap();
            assert_eq!(&back, e);
        }
        assert_eq!(events[0].seq(), 5);
        assert_eq!(events[1].seq(), 9);
        assert_eq!(events[2].seq(), 0);
        assert_eq!(events[1].membership(), Some(Membership::Left(ChatId(4))));
        assert!(events[3].is_internal() && !events[2].is_internal());
    }

    #[test]
    fn shared_encoding_is_computed_once() {
        let shared = Shared::new(Event::NewMessage(message()));
        let a = shared.json().clone();
        let b = shared.json().clone();
        // The same buffer, not an equal copy.
        assert_eq!(a.as_ptr(), b.as_ptr());
    }
}
