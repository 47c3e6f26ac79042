//! Row → wire conversions, shared by the stores (which serialize event frames) and
//! the services.

use crate::{ChatRow, MemberRow, MessageRow};
use sova_types::models::{Chat, Member, Message, ReactionCount};
use sova_types::time::rfc3339;

/// The wire form of a message (reactions filled in by the caller when known).
pub fn message(row: MessageRow) -> Message {
    let deleted = row.deleted_at.is_some();
    Message {
        id: row.id,
        chat_id: row.chat_id,
        chat_seq: row.chat_seq,
        user_id: row.sender_id,
        user: row.sender_name,
        text: if deleted { String::new() } else { row.text },
        timestamp: rfc3339(row.created_at),
        seq: row.id.0,
        client_msg_id: row.client_msg_id,
        kind: row.kind,
        reply_to: row.reply_to,
        forward: if deleted { None } else { row.forward },
        attachment: if deleted { None } else { row.attachment },
        attachments: if deleted { Vec::new() } else { row.attachments },
        mentions: row.mentions,
        edited_at: row.edited_at.map(rfc3339),
        deleted,
        pinned: row.pinned_at.is_some(),
        reactions: Vec::<ReactionCount>::new(),
    }
}

/// The wire form of a chat, without per-caller fields.
pub fn chat(row: ChatRow) -> Chat {
    Chat {
        id: row.id,
        kind: row.kind,
        name: row.name,
        member_count: row.member_count,
        last_seq: row.last_seq,
        created_at: rfc3339(row.created_at),
        role: None,
        unread: None,
        last_read_seq: None,
        muted: false,
        last_message: None,
    }
}

/// The wire form of a member; `receipts` shows the read position.
pub fn member(row: MemberRow, receipts: bool) -> Member {
    Member {
        user_id: row.user_id,
        username: row.username,
        role: row.role,
        joined_at: rfc3339(row.joined_at),
        last_read_seq: receipts.then_some(row.last_read_seq),
    }
}

/// The wire form of a game as `viewer` sees it (`None`: the public view every
/// chat member may get, as in `game_updated`). Never includes a secret of a
/// game in progress: `state` is the engine's view, not the stored state.
pub fn game(
    row: &crate::GameRow,
    state: &sova_core::games::GameState,
    viewer: Option<sova_types::UserId>,
) -> sova_types::games::Game {
    sova_types::games::Game {
        id: row.id,
        kind: state.kind().as_str().to_owned(),
        chat_id: row.chat_id,
        state: state.view(viewer),
        players: state.players(),
        turn: state.turn(),
        status: state.status().as_str().to_owned(),
        version: i64::try_from(state.version()).unwrap_or(i64::MAX),
        result: state.status().result().and_then(|r| serde_json::to_value(r).ok()),
        deadline: state.deadline().map(|ms| rfc3339(ms.saturating_mul(1000))),
        created_by: row.created_by,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}
