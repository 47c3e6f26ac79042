//! Messages (send, page, edit, delete, versions, reactions, pins), read state,
//! typing, presence, and the seed endpoints `/api/send`, `/api/history`, `/api/sync`.

use crate::{Auth, Caller, Entry, Limit, Method, Operation, Spec};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sova_service::Services;
use sova_service::messages::{REPLAY_PAGE, SendParams};
use sova_types::ErrorCode::{BadRequest, Conflict, Forbidden, NotFound, TooLarge};
use sova_types::models::{Attachment, Message, MessageKind, MessageVersion, Presence};
use sova_types::{ApiError, ChatId, Event, MessageId, UserId};

/// The operations of this module.
pub const OPS: &[Entry] = &[
    Entry::of::<SeedSend>(),
    Entry::of::<SeedHistory>(),
    Entry::of::<SyncEvents>(),
    Entry::of::<PresenceOf>(),
    Entry::of::<SendMessage>(),
    Entry::of::<Page>(),
    Entry::of::<GetMessage>(),
    Entry::of::<Edit>(),
    Entry::of::<Delete>(),
    Entry::of::<Versions>(),
    Entry::of::<React>(),
    Entry::of::<Unreact>(),
    Entry::of::<Pin>(),
    Entry::of::<Unpin>(),
    Entry::of::<Pins>(),
    Entry::of::<Read>(),
    Entry::of::<Typing>(),
];

const TAG: &str = "messages";

/// `seed_send` (`/api/send`): Send a message (seed API): to `general` unless `chat_id` is given.
pub struct SeedSend;
impl Operation for SeedSend {
    type Request = sova_types::models::SendRequest;
    type Response = Message;
    const SPEC: Spec = Spec::new(
        "seed_send",
        Method::Post,
        "/api/send",
        "Send a message (seed API): to `general` unless `chat_id` is given",
    )
    .tag(TAG)
    .auth(Auth::Optional)
    .status(201)
    .limit(Limit::Messages)
    .errors(&[NotFound, TooLarge])
    .rest_only();
    async fn handle(s: &Services, c: &Caller, r: sova_types::models::SendRequest) -> Result<Message, ApiError> {
        let user = match (&c.user, &r.token) {
            (Some(u), _) => u.clone(),
            (None, Some(token)) => s.auth.authenticate(token).await?,
            (None, None) => return Err(ApiError::unauthorized("missing token")),
        };
        let text = r
            .content
            .or(r.text)
            .ok_or_else(|| ApiError::bad_request("missing field `content`"))?;
        s.messages.send(&user, r.chat_id, text, r.client_msg_id).await
    }
}

/// `seed_history` (`/api/history`): A page of messages (seed API; default chat `general`), oldest first.
pub struct SeedHistory;
/// The input of `seed_history`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct SeedHistoryRequest {
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub before: Option<MessageId>,
    /// Default: the public `general` chat.
    #[serde(default)]
    pub chat_id: Option<ChatId>,
}
impl Operation for SeedHistory {
    type Request = SeedHistoryRequest;
    type Response = Vec<Message>;
    const SPEC: Spec = Spec::new(
        "seed_history",
        Method::Get,
        "/api/history",
        "A page of messages (seed API; default chat `general`), oldest first",
    )
    .tag(TAG)
    .errors(&[NotFound])
    .rest_only();
    async fn handle(s: &Services, c: &Caller, r: SeedHistoryRequest) -> Result<Vec<Message>, ApiError> {
        let (_, page) = s
            .messages
            .history(c.user()?, r.chat_id, r.before, r.limit.unwrap_or(50))
            .await?;
        Ok(page)
    }
}

/// `sync_events` (`/api/sync`): Every event after `since`, as a socket replay sends them.
pub struct SyncEvents;
/// The input of `sync_events`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct SyncRequest {
    /// The last `seq` the client has (default 0).
    #[serde(default)]
    pub since: Option<i64>,
    /// 1-500 (default 500).
    #[serde(default)]
    pub limit: Option<i64>,
}
/// What a socket replay would send: the events after `since`, oldest first.
#[derive(Serialize, JsonSchema)]
pub struct SyncPage {
    pub events: Vec<Event>,
    /// Resume from here.
    pub seq: i64,
    /// Whether more events follow (ask again with `since` = `seq`).
    pub more: bool,
}
impl Operation for SyncEvents {
    type Request = SyncRequest;
    type Response = SyncPage;
    const SPEC: Spec = Spec::new(
        "sync_events",
        Method::Get,
        "/api/sync",
        "Every event after `since`, as a socket replay sends them",
    )
    .tag(TAG)
    .rest_only();
    async fn handle(s: &Services, c: &Caller, r: SyncRequest) -> Result<SyncPage, ApiError> {
        let since = r.since.unwrap_or(0);
        if since < 0 {
            return Err(ApiError::bad_request("since must be >= 0"));
        }
        let limit = r.limit.unwrap_or(REPLAY_PAGE);
        if !(1..=REPLAY_PAGE).contains(&limit) {
            return Err(ApiError::bad_request("limit must be 1-500"));
        }
        let events = s.messages.since(c.user()?, since, limit).await?;
        let more = events.len() as i64 >= limit;
        let seq = match events.last() {
            Some(e) => e.seq(),
            None => since.min(s.messages.last_seq().await?),
        };
        Ok(SyncPage { events, seq, more })
    }
}

/// User ids as a JSON array, or comma-separated in a query string.
#[derive(Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum UserIds {
    List(Vec<UserId>),
    Csv(String),
}

/// `presence` (`/api/presence`): Online/offline and last seen, over every device and instance.
pub struct PresenceOf;
/// The input of `presence`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct PresenceRequest {
    /// 1-100 user ids (`1,2,3` in a query string).
    pub user_ids: UserIds,
}
impl Operation for PresenceOf {
    type Request = PresenceRequest;
    type Response = Vec<Presence>;
    const SPEC: Spec = Spec::new(
        "presence",
        Method::Get,
        "/api/presence",
        "Online/offline and last seen, over every device and instance",
    )
    .tag("presence");
    async fn handle(s: &Services, c: &Caller, r: PresenceRequest) -> Result<Vec<Presence>, ApiError> {
        c.user()?;
        let ids = match r.user_ids {
            UserIds::List(ids) => ids,
            UserIds::Csv(csv) => csv
                .split(',')
                .filter(|p| !p.trim().is_empty())
                .map(|p| p.trim().parse().map(UserId))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|_| ApiError::bad_request("user_ids must be comma-separated user ids"))?,
        };
        s.presence.status(&ids).await
    }
}

/// `send` (`/api/chats/{chat_id}/messages`): Send a message (reply, forward, media or file); pushed as `new_message`.
pub struct SendMessage;
/// The input of `send`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct SendRequest {
    pub chat_id: ChatId,
    /// Required unless forwarding or sending an attachment.
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub reply_to: Option<MessageId>,
    /// Copies that message (text and attachment) into this chat.
    #[serde(default)]
    pub forward_of: Option<MessageId>,
    /// Makes retries idempotent: a resend answers the stored message.
    #[serde(default)]
    pub client_msg_id: Option<String>,
    #[serde(default)]
    pub kind: Option<MessageKind>,
    #[serde(default)]
    pub attachment: Option<Attachment>,
    /// Ids of your uploads (`POST /api/files`) to attach, at most 10; they appear
    /// as `attachments` and become readable by the chat's members.
    #[serde(default)]
    pub files: Vec<String>,
}
impl Operation for SendMessage {
    type Request = SendRequest;
    type Response = Message;
    const SPEC: Spec = Spec::new(
        "send",
        Method::Post,
        "/api/chats/{chat_id}/messages",
        "Send a message (reply, forward, media or file); pushed as `new_message`",
    )
    .tag(TAG)
    .status(201)
    .limit(Limit::Messages)
    .errors(&[NotFound, Forbidden, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: SendRequest) -> Result<Message, ApiError> {
        if r.text.is_none() && r.forward_of.is_none() && r.attachment.is_none() && r.files.is_empty() {
            return Err(ApiError::bad_request("missing field `text`"));
        }
        let p = SendParams {
            chat: Some(r.chat_id),
            text: r.text.unwrap_or_default(),
            reply_to: r.reply_to,
            forward_of: r.forward_of,
            client_msg_id: r.client_msg_id,
            kind: r.kind,
            attachment: r.attachment,
            files: r.files,
        };
        s.messages.send_with(c.user()?, p).await
    }
}

/// `messages` (`/api/chats/{chat_id}/messages`): A page of a chat's messages, oldest first (before, after or around a message).
pub struct Page;
/// The input of `messages`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct PageRequest {
    pub chat_id: ChatId,
    /// 1-100 (default 50).
    #[serde(default)]
    pub limit: Option<i64>,
    #[serde(default)]
    pub before: Option<MessageId>,
    #[serde(default)]
    pub after: Option<MessageId>,
    #[serde(default)]
    pub around: Option<MessageId>,
}
impl Operation for Page {
    type Request = PageRequest;
    type Response = Vec<Message>;
    const SPEC: Spec = Spec::new(
        "messages",
        Method::Get,
        "/api/chats/{chat_id}/messages",
        "A page of a chat's messages, oldest first (before, after or around a message)",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: PageRequest) -> Result<Vec<Message>, ApiError> {
        let limit = r.limit.unwrap_or(50);
        let (_, page) = s
            .messages
            .page(c.user()?, Some(r.chat_id), r.before, r.after, r.around, limit)
            .await?;
        Ok(page)
    }
}

/// A message named in the path.
#[derive(Deserialize, JsonSchema)]
pub struct MessageRequest {
    pub chat_id: ChatId,
    pub message_id: MessageId,
}

/// `get_message` (`/api/chats/{chat_id}/messages/{message_id}`): One message.
pub struct GetMessage;
impl Operation for GetMessage {
    type Request = MessageRequest;
    type Response = Message;
    const SPEC: Spec = Spec::new(
        "get_message",
        Method::Get,
        "/api/chats/{chat_id}/messages/{message_id}",
        "One message",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: MessageRequest) -> Result<Message, ApiError> {
        s.messages.get(c.user()?, r.chat_id, r.message_id).await
    }
}

/// `edit` (`/api/chats/{chat_id}/messages/{message_id}`): Edit my message; the previous text is kept as a version.
pub struct Edit;
/// The input of `edit`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct EditRequest {
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub text: String,
}
impl Operation for Edit {
    type Request = EditRequest;
    type Response = Message;
    const SPEC: Spec = Spec::new(
        "edit",
        Method::Patch,
        "/api/chats/{chat_id}/messages/{message_id}",
        "Edit my message; the previous text is kept as a version",
    )
    .tag(TAG)
    .errors(&[NotFound, Forbidden, TooLarge]);
    async fn handle(s: &Services, c: &Caller, r: EditRequest) -> Result<Message, ApiError> {
        s.messages.edit(c.user()?, r.chat_id, r.message_id, r.text).await
    }
}

/// `delete` (`/api/chats/{chat_id}/messages/{message_id}`): Delete for everyone (author or admins); answers the tombstone.
pub struct Delete;
impl Operation for Delete {
    type Request = MessageRequest;
    type Response = Message;
    const SPEC: Spec = Spec::new(
        "delete",
        Method::Delete,
        "/api/chats/{chat_id}/messages/{message_id}",
        "Delete for everyone (author or admins); answers the tombstone",
    )
    .tag(TAG)
    .errors(&[NotFound, Forbidden]);
    async fn handle(s: &Services, c: &Caller, r: MessageRequest) -> Result<Message, ApiError> {
        s.messages.delete(c.user()?, r.chat_id, r.message_id).await
    }
}

/// `versions` (`/api/chats/{chat_id}/messages/{message_id}/versions`): Earlier versions of an edited message.
pub struct Versions;
impl Operation for Versions {
    type Request = MessageRequest;
    type Response = Vec<MessageVersion>;
    const SPEC: Spec = Spec::new(
        "versions",
        Method::Get,
        "/api/chats/{chat_id}/messages/{message_id}/versions",
        "Earlier versions of an edited message",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: MessageRequest) -> Result<Vec<MessageVersion>, ApiError> {
        s.messages.versions(c.user()?, r.chat_id, r.message_id).await
    }
}

/// A reaction named in the path.
#[derive(Deserialize, JsonSchema)]
pub struct ReactionRequest {
    pub chat_id: ChatId,
    pub message_id: MessageId,
    pub emoji: String,
}

/// `react` (`/api/chats/{chat_id}/messages/{message_id}/reactions/{emoji}`): Add my reaction; answers the message with its reactions.
pub struct React;
impl Operation for React {
    type Request = ReactionRequest;
    type Response = Message;
    const SPEC: Spec = Spec::new(
        "react",
        Method::Put,
        "/api/chats/{chat_id}/messages/{message_id}/reactions/{emoji}",
        "Add my reaction; answers the message with its reactions",
    )
    .tag(TAG)
    .errors(&[NotFound, Conflict]);
    async fn handle(s: &Services, c: &Caller, r: ReactionRequest) -> Result<Message, ApiError> {
        s.messages
            .react(c.user()?, r.chat_id, r.message_id, &r.emoji, true)
            .await
    }
}

/// `unreact` (`/api/chats/{chat_id}/messages/{message_id}/reactions/{emoji}`): Remove my reaction.
pub struct Unreact;
impl Operation for Unreact {
    type Request = ReactionRequest;
    type Response = Message;
    const SPEC: Spec = Spec::new(
        "unreact",
        Method::Delete,
        "/api/chats/{chat_id}/messages/{message_id}/reactions/{emoji}",
        "Remove my reaction",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: ReactionRequest) -> Result<Message, ApiError> {
        s.messages
            .react(c.user()?, r.chat_id, r.message_id, &r.emoji, false)
            .await
    }
}

/// `pin` (`/api/chats/{chat_id}/messages/{message_id}/pin`): Pin a message (admins; any member in private chats).
pub struct Pin;
impl Operation for Pin {
    type Request = MessageRequest;
    type Response = Message;
    const SPEC: Spec = Spec::new(
        "pin",
        Method::Post,
        "/api/chats/{chat_id}/messages/{message_id}/pin",
        "Pin a message (admins; any member in private chats)",
    )
    .tag(TAG)
    .errors(&[NotFound, Forbidden]);
    async fn handle(s: &Services, c: &Caller, r: MessageRequest) -> Result<Message, ApiError> {
        s.messages.pin(c.user()?, r.chat_id, r.message_id, true).await
    }
}

/// `unpin` (`/api/chats/{chat_id}/messages/{message_id}/pin`): Unpin a message.
pub struct Unpin;
impl Operation for Unpin {
    type Request = MessageRequest;
    type Response = Message;
    const SPEC: Spec = Spec::new(
        "unpin",
        Method::Delete,
        "/api/chats/{chat_id}/messages/{message_id}/pin",
        "Unpin a message",
    )
    .tag(TAG)
    .errors(&[NotFound, Forbidden]);
    async fn handle(s: &Services, c: &Caller, r: MessageRequest) -> Result<Message, ApiError> {
        s.messages.pin(c.user()?, r.chat_id, r.message_id, false).await
    }
}

/// `pins` (`/api/chats/{chat_id}/pins`): Pinned messages, most recently pinned first.
pub struct Pins;
impl Operation for Pins {
    type Request = crate::chats::ChatRequest;
    type Response = Vec<Message>;
    const SPEC: Spec = Spec::new(
        "pins",
        Method::Get,
        "/api/chats/{chat_id}/pins",
        "Pinned messages, most recently pinned first",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: crate::chats::ChatRequest) -> Result<Vec<Message>, ApiError> {
        s.messages.pins(c.user()?, r.chat_id).await
    }
}

/// `read` (`/api/chats/{chat_id}/read`): Move my read position forward (receipts to members, sync to my devices).
pub struct Read;
/// The input of `read`, from path, query and body (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct ReadRequest {
    pub chat_id: ChatId,
    /// The `chat_seq` read up to; the position only moves forward.
    pub up_to: i64,
}
impl Operation for Read {
    type Request = ReadRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "read",
        Method::Post,
        "/api/chats/{chat_id}/read",
        "Move my read position forward (receipts to members, sync to my devices)",
    )
    .tag(TAG)
    .status(204)
    .errors(&[NotFound, BadRequest]);
    async fn handle(s: &Services, c: &Caller, r: ReadRequest) -> Result<(), ApiError> {
        s.messages.read(c.user()?, r.chat_id, r.up_to).await
    }
}

/// `typing` (`/api/chats/{chat_id}/typing`): Tell members I am typing (for 6 s).
pub struct Typing;
impl Operation for Typing {
    type Request = crate::chats::ChatRequest;
    type Response = ();
    const SPEC: Spec = Spec::new(
        "typing",
        Method::Post,
        "/api/chats/{chat_id}/typing",
        "Tell members I am typing (for 6 s)",
    )
    .tag(TAG)
    .status(204)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: crate::chats::ChatRequest) -> Result<(), ApiError> {
        s.messages.typing(c.user()?, r.chat_id).await
    }
}
