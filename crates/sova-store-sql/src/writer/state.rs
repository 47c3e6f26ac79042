//! The batch's working state and its cached accessors: chats, memberships and
//! usernames are read once per batch and then kept (and changed) in memory;
//! new message rows wait in `pending` until something needs them in the table.

use crate::{Backend, Db, Result, rows};
use sova_core::{Lang, Rejection, SystemEvent};
use sova_store::cipher::Cipher;
use sova_store::{ChatRow, Committed, MessageKind, MessageRow, Outcome, Role, StoreError, StoredEvent};
use sova_types::{ChatId, Event, MessageId, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Transaction, Type};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

/// A chat as the batch sees it.
pub(super) struct ChatState {
    pub(super) row: ChatRow,
    pub(super) last_message_id: i64,
    /// Changed in this batch: written by `finish`.
    pub(super) dirty: bool,
}

/// A membership as the batch sees it.
#[derive(Clone, Copy)]
pub(super) struct MemberState {
    pub(super) role: Role,
    pub(super) last_read_seq: i64,
}

/// One batch in one write transaction.
pub(crate) struct Writer<B: Backend> {
    pub(super) tx: Transaction<'static, Db<B>>,
    /// The event counter when the batch began.
    pub(super) start: i64,
    /// The next event id to hand out.
    pub(super) next: i64,
    /// Chats by id; `None` caches "missing or deleted".
    pub(super) chats: HashMap<i64, Option<ChatState>>,
    /// Memberships by (chat, user); `None` caches "not a member".
    pub(super) members: HashMap<(i64, i64), Option<MemberState>>,
    /// Memberships whose read position changed.
    pub(super) dirty_members: HashSet<(i64, i64)>,
    /// Usernames by user id; `None` caches "no such user".
    pub(super) names: HashMap<i64, Option<String>>,
    /// New message rows not yet inserted (text in the clear).
    pub(super) pending: Vec<MessageRow>,
    /// Messages sent in this batch by (sender, client_msg_id), for idempotent resends.
    pub(super) cmids: HashMap<(i64, String), MessageRow>,
    /// `cmids` also holds every stored message the batch's resends could repeat
    /// (prefetched), so a send needs no lookup of its own.
    pub(super) cmids_loaded: bool,
    /// Events to insert, with the message whose text they carry (if any).
    pub(super) stored: Vec<(StoredEvent, Option<i64>)>,
    pub(super) cipher: Arc<Cipher>,
    /// The language of system messages.
    pub(super) lang: Lang,
}

/// An op refused by a rule: nothing written, no events.
pub(super) fn reject(r: Rejection) -> Committed {
    Committed {
        outcome: Outcome::Rejected(r),
        events: Vec::new(),
    }
}

/// An op that changed nothing and emits no events.
pub(super) fn unchanged(outcome: Outcome) -> Committed {
    Committed {
        outcome,
        events: Vec::new(),
    }
}

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
    pub(super) fn new(tx: Transaction<'static, Db<B>>, last: i64, cipher: Arc<Cipher>) -> Self {
        Writer {
            tx,
            start: last,
            next: last + 1,
            chats: HashMap::new(),
            members: HashMap::new(),
            dirty_members: HashSet::new(),
            names: HashMap::new(),
            pending: Vec::new(),
            cmids: HashMap::new(),
            cmids_loaded: false,
            stored: Vec::new(),
            cipher,
            lang: Lang::default(),
        }
    }

    pub(super) fn open(&self, mut m: MessageRow) -> Result<MessageRow> {
        m.text = self.cipher.open(&m.text).map_err(StoreError::Other)?;
        Ok(m)
    }

    pub(super) fn take_id(&mut self) -> i64 {
        let id = self.next;
        self.next += 1;
        id
    }

    /// Records a stored event (written at the end) and returns it.
    pub(super) fn event(
        &mut self,
        chat: Option<ChatId>,
        target: Option<UserId>,
        f: impl FnOnce(i64) -> Event,
    ) -> StoredEvent {
        let seq = self.take_id();
        let ev = StoredEvent {
            seq,
            chat_id: chat,
            target_user: target,
            event: f(seq),
        };
        self.stored.push((ev.clone(), None));
        ev
    }

    /// An event carrying `message`'s text: deleted with the message.
    pub(super) fn text_event(
        &mut self,
        message: MessageId,
        chat: Option<ChatId>,
        target: Option<UserId>,
        f: impl FnOnce(i64) -> Event,
    ) -> StoredEvent {
        let ev = self.event(chat, target, f);
        if let Some(last) = self.stored.last_mut() {
            last.1 = Some(message.0);
        }
        ev
    }

    /// The live chat `id`, read once per batch.
    pub(super) async fn chat(&mut self, id: ChatId) -> Result<Option<&mut ChatState>> {
        if !self.chats.contains_key(&id.0) {
            let r = sqlx::query(rows::select_chats(
                ", c.last_message_id",
                "WHERE c.id = $1 AND c.deleted_at IS NULL",
            ))
            .bind(id.0)
            .fetch_optional(&mut *self.tx)
            .await?;
            let state = match r {
                Some(r) => Some(ChatState {
                    row: rows::chat(&r)?,
                    last_message_id: r.try_get(7)?,
                    dirty: false,
                }),
                None => None,
            };
            self.chats.insert(id.0, state);
        }
        Ok(self.chats.get_mut(&id.0).and_then(Option::as_mut))
    }

    /// A copy of the live chat's row.
    pub(super) async fn chat_row(&mut self, id: ChatId) -> Result<ChatRow> {
        Ok(self
            .chat(id)
            .await?
            .map(|c| c.row.clone())
            .ok_or(StoreError::NotFound)?)
    }

    /// `user`'s membership of `chat`, read once per batch.
    pub(super) async fn member(&mut self, chat: ChatId, user: UserId) -> Result<Option<MemberState>> {
        if let Some(m) = self.members.get(&(chat.0, user.0)) {
            return Ok(*m);
        }
        let r = sqlx::query("SELECT role, last_read_seq FROM chat_members WHERE chat_id = $1 AND user_id = $2")
            .bind(chat.0)
            .bind(user.0)
            .fetch_optional(&mut *self.tx)
            .await?;
        let m = match r {
            Some(r) => {
                let role: String = r.try_get(0)?;
                Some(MemberState {
                    role: Role::parse(&role).unwrap_or(Role::Member),
                    last_read_seq: r.try_get(1)?,
                })
            }
            None => None,
        };
        self.members.insert((chat.0, user.0), m);
        Ok(m)
    }

    /// `user`'s username, read once per batch.
    pub(super) async fn name(&mut self, user: UserId) -> Result<Option<String>> {
        if let Some(n) = self.names.get(&user.0) {
            return Ok(n.clone());
        }
        let r = sqlx::query("SELECT username FROM users WHERE id = $1")
            .bind(user.0)
            .fetch_optional(&mut *self.tx)
            .await?;
        let n: Option<String> = r.map(|r| r.try_get(0)).transpose()?;
        self.names.insert(user.0, n.clone());
        Ok(n)
    }

    /// Message `id` of `chat`, after writing queued rows so it can be found.
    pub(super) async fn load_message(&mut self, chat: ChatId, id: MessageId) -> Result<Option<MessageRow>> {
        self.flush().await?;
        let r = sqlx::query(rows::select_messages("WHERE m.id = $1 AND m.chat_id = $2"))
            .bind(id.0)
            .bind(chat.0)
            .fetch_optional(&mut *self.tx)
            .await?;
        r.map(|r| self.open(rows::message(&r)?)).transpose()
    }

    /// Builds a message row with the next id and chat_seq; the caller queues it.
    pub(super) async fn append(
        &mut self,
        chat: ChatId,
        sender: UserId,
        kind: MessageKind,
        text: String,
        at: i64,
    ) -> Result<MessageRow> {
        let sender_name = self.name(sender).await?.unwrap_or_default();
        let id = self.take_id();
        let Some(state) = self.chat(chat).await? else {
            return Err(StoreError::Other("append to a missing chat".into()).into());
        };
        state.row.last_seq += 1;
        state.last_message_id = id;
        state.dirty = true;
        let row = MessageRow {
            id: MessageId(id),
            chat_id: chat,
            chat_seq: state.row.last_seq,
            sender_id: sender,
            sender_name,
            kind,
            text,
            reply_to: None,
            forward: None,
            attachment: None,
            attachments: Vec::new(),
            mentions: Vec::new(),
            client_msg_id: None,
            created_at: at,
            edited_at: None,
            deleted_at: None,
            pinned_at: None,
        };
        // Sending marks the chat read up to one's own message.
        if let Some(Some(m)) = self.members.get_mut(&(chat.0, sender.0)) {
            m.last_read_seq = row.chat_seq;
            self.dirty_members.insert((chat.0, sender.0));
        }
        Ok(row)
    }

    /// The `new_message` event a message row stands for (its id is the event id).
    pub(super) fn new_message_event(row: &MessageRow) -> StoredEvent {
        StoredEvent {
            seq: row.id.0,
            chat_id: Some(row.chat_id),
            target_user: None,
            event: Event::NewMessage(sova_store::dto::message(row.clone())),
        }
    }

    /// A system message (joins, leaves, renames) from `actor`, in the writer's language.
    pub(super) async fn system(
        &mut self,
        chat: ChatId,
        actor: UserId,
        what: SystemEvent,
        at: i64,
    ) -> Result<StoredEvent> {
        let text = what.text(self.lang);
        let row = self.append(chat, actor, MessageKind::System, text, at).await?;
        let ev = Self::new_message_event(&row);
        self.pending.push(row);
        Ok(ev)
    }
}
