//! The write path shared by both backends: `WriteOp`s applied in one transaction,
//! rules checked against state read inside it, event ids taken from the counter in
//! op order. Working state (chats, memberships, new rows) is kept in memory for the
//! batch and written once at the end, so a batch of N messages costs a handful of
//! statements, not N round trips each.

/// Expands the `writer` module for `$store` over `$db` (used by `impl_sql_store!`).
#[macro_export]
macro_rules! impl_writer {
    ($store:ty, $db:ty) => {
        pub(crate) mod writer {
            use super::*;
            use sova_store::{dto, Outcome, StoredEvent};
            use sova_core::{rules, Lang, Rejection, SystemEvent};
            use sova_types::Event;
            use sova_types::models::ForwardOrigin;
            use std::collections::{HashMap, HashSet};

            const MAX_MENTIONS: usize = 50;

            struct ChatState {
                row: ChatRow,
                last_message_id: i64,
                dirty: bool,
            }

            #[derive(Clone, Copy)]
            struct MemberState {
                role: Role,
                last_read_seq: i64,
            }

            pub(crate) struct Writer {
                tx: Tx,
                start: i64,
                next: i64,
                chats: HashMap<i64, Option<ChatState>>,
                members: HashMap<(i64, i64), Option<MemberState>>,
                dirty_members: HashSet<(i64, i64)>,
                names: HashMap<i64, Option<String>>,
                pending: Vec<MessageRow>,
                cmids: HashMap<(i64, String), MessageRow>,
                /// Events to insert, with the message they concern (if they carry its text).
                stored: Vec<(StoredEvent, Option<i64>)>,
                cipher: std::sync::Arc<sova_store::cipher::Cipher>,
            }

            fn reject(e: Rejection) -> Committed {
                Committed { outcome: Outcome::Rejected(e), events: Vec::new() }
            }

            fn not_found(what: &str) -> Committed {
                reject(match what {
                    "chat" => Rejection::NoSuchChat,
                    "message" => Rejection::NoSuchMessage,
                    _ => Rejection::NoSuchForwardSource,
                })
            }

            impl Writer {
                pub(crate) fn new(tx: Tx, last: i64, cipher: std::sync::Arc<sova_store::cipher::Cipher>) -> Self {
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
                        stored: Vec::new(),
                        cipher,
                    }
                }

                fn open(&self, mut m: MessageRow) -> StoreResult<MessageRow> {
                    m.text = self.cipher.open(&m.text).map_err(StoreError::Other)?;
                    Ok(m)
                }

                fn take_id(&mut self) -> i64 {
                    let id = self.next;
                    self.next += 1;
                    id
                }

                /// Records a stored event (written at the end) and returns it.
                fn event(&mut self, chat: Option<ChatId>, target: Option<UserId>, f: impl FnOnce(i64) -> Event) -> StoredEvent {
                    let seq = self.take_id();
                    let ev = StoredEvent { seq, chat_id: chat, target_user: target, event: f(seq) };
                    self.stored.push((ev.clone(), None));
                    ev
                }

                /// An event carrying `message`'s text: deleted with the message.
                fn text_event(&mut self, message: MessageId, chat: Option<ChatId>, target: Option<UserId>, f: impl FnOnce(i64) -> Event) -> StoredEvent {
                    let ev = self.event(chat, target, f);
                    if let Some(last) = self.stored.last_mut() {
                        last.1 = Some(message.0);
                    }
                    ev
                }

                async fn chat(&mut self, id: ChatId) -> StoreResult<Option<&mut ChatState>> {
                    if !self.chats.contains_key(&id.0) {
                        let r = sqlx::query(concat!(
                            "SELECT ", $crate::chat_columns!(), ", c.last_message_id FROM chats c WHERE c.id = $1 AND c.deleted_at IS NULL"
                        ))
                        .bind(id.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                        let state = match r {
                            Some(r) => Some(ChatState {
                                row: chat_row(&r).map_err(map_err)?,
                                last_message_id: r.try_get(7).map_err(map_err)?,
                                dirty: false,
                            }),
                            None => None,
                        };
                        self.chats.insert(id.0, state);
                    }
                    Ok(self.chats.get_mut(&id.0).and_then(Option::as_mut))
                }

                async fn member(&mut self, chat: ChatId, user: UserId) -> StoreResult<Option<MemberState>> {
                    if let Some(m) = self.members.get(&(chat.0, user.0)) {
                        return Ok(*m);
                    }
                    let r = sqlx::query("SELECT role, last_read_seq FROM chat_members WHERE chat_id = $1 AND user_id = $2")
                        .bind(chat.0)
                        .bind(user.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    let m = match r {
                        Some(r) => {
                            let role: String = r.try_get(0).map_err(map_err)?;
                            Some(MemberState { role: Role::parse(&role).unwrap_or(Role::Member), last_read_seq: r.try_get(1).map_err(map_err)? })
                        }
                        None => None,
                    };
                    self.members.insert((chat.0, user.0), m);
                    Ok(m)
                }

                async fn name(&mut self, user: UserId) -> StoreResult<Option<String>> {
                    if let Some(n) = self.names.get(&user.0) {
                        return Ok(n.clone());
                    }
                    let n: Option<String> = sqlx::query_scalar("SELECT username FROM users WHERE id = $1")
                        .bind(user.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    self.names.insert(user.0, n.clone());
                    Ok(n)
                }

                /// Writes queued message rows (before anything reads or references them).
                async fn flush(&mut self) -> StoreResult<()> {
                    if !self.pending.is_empty() {
                        let mut rows = std::mem::take(&mut self.pending);
                        for r in &mut rows {
                            r.text = self.cipher.seal(&r.text);
                        }
                        <$store>::insert_message_rows(&mut self.tx, &rows).await?;
                    }
                    Ok(())
                }

                async fn load_message(&mut self, chat: ChatId, id: MessageId) -> StoreResult<Option<MessageRow>> {
                    self.flush().await?;
                    let r = sqlx::query(concat!(
                        "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = $1 AND m.chat_id = $2"
                    ))
                    .bind(id.0)
                    .bind(chat.0)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                    r.map(|r| message_row(&r).map_err(map_err).and_then(|m| self.open(m))).transpose()
                }

                /// Queues a message row with the next id and chat_seq; returns it.
                async fn append(&mut self, chat: ChatId, sender: UserId, kind: MessageKind, text: String, at: i64) -> StoreResult<MessageRow> {
                    let sender_name = self.name(sender).await?.unwrap_or_default();
                    let id = self.take_id();
                    let Some(state) = self.chat(chat).await? else {
                        return Err(StoreError::Other("append to a missing chat".into()));
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

                fn new_message_event(row: &MessageRow) -> StoredEvent {
                    StoredEvent {
                        seq: row.id.0,
                        chat_id: Some(row.chat_id),
                        target_user: None,
                        event: Event::NewMessage(dto::message(row.clone())),
                    }
                }

                /// A system message (joins, leaves, renames) from `actor`.
                async fn system(&mut self, chat: ChatId, actor: UserId, text: String, at: i64) -> StoreResult<StoredEvent> {
                    let row = self.append(chat, actor, MessageKind::System, text, at).await?;
                    let ev = Self::new_message_event(&row);
                    self.pending.push(row);
                    Ok(ev)
                }

                /// Loads, in three queries, the chats, memberships and names the sends of
                /// a batch need, instead of three round trips per distinct chat.
                pub(crate) async fn prefetch(&mut self, ops: &[WriteOp]) -> StoreResult<()> {
                    let mut chats = std::collections::BTreeSet::new();
                    let mut pairs = std::collections::BTreeSet::new();
                    let mut users = std::collections::BTreeSet::new();
                    for op in ops {
                        if let WriteOp::Send(m) = op {
                            chats.insert(m.chat_id.0);
                            pairs.insert((m.chat_id.0, m.sender_id.0));
                            users.insert(m.sender_id.0);
                        }
                    }
                    if chats.len() < 2 {
                        return Ok(());
                    }
                    for ids in chats.iter().copied().collect::<Vec<_>>().chunks(500) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new(concat!(
                            "SELECT ", $crate::chat_columns!(), ", c.last_message_id FROM chats c WHERE c.deleted_at IS NULL AND c.id IN ("
                        ));
                        let mut sep = qb.separated(", ");
                        for id in ids {
                            sep.push_bind(*id);
                        }
                        qb.push(")");
                        for id in ids {
                            self.chats.insert(*id, None);
                        }
                        for r in qb.build().fetch_all(&mut *self.tx).await.map_err(map_err)? {
                            let row = chat_row(&r).map_err(map_err)?;
                            let last: i64 = r.try_get(7).map_err(map_err)?;
                            self.chats.insert(row.id.0, Some(ChatState { row, last_message_id: last, dirty: false }));
                        }
                    }
                    let chat_ids: Vec<i64> = chats.iter().copied().collect();
                    for ids in chat_ids.chunks(500) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT chat_id, user_id, role, last_read_seq FROM chat_members WHERE chat_id IN (");
                        let mut sep = qb.separated(", ");
                        for id in ids {
                            sep.push_bind(*id);
                        }
                        qb.push(") AND user_id IN (");
                        let mut sep = qb.separated(", ");
                        for u in &users {
                            sep.push_bind(*u);
                        }
                        qb.push(")");
                        for p in pairs.iter().filter(|p| ids.contains(&p.0)) {
                            self.members.entry(*p).or_insert(None);
                        }
                        for r in qb.build().fetch_all(&mut *self.tx).await.map_err(map_err)? {
                            let key: (i64, i64) = (r.try_get(0).map_err(map_err)?, r.try_get(1).map_err(map_err)?);
                            let role: String = r.try_get(2).map_err(map_err)?;
                            let state = MemberState { role: Role::parse(&role).unwrap_or(Role::Member), last_read_seq: r.try_get(3).map_err(map_err)? };
                            self.members.insert(key, Some(state));
                        }
                    }
                    let user_ids: Vec<i64> = users.iter().copied().collect();
                    for ids in user_ids.chunks(500) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new("SELECT id, username FROM users WHERE id IN (");
                        let mut sep = qb.separated(", ");
                        for id in ids {
                            sep.push_bind(*id);
                        }
                        qb.push(")");
                        for r in qb.build().fetch_all(&mut *self.tx).await.map_err(map_err)? {
                            self.names.insert(r.try_get(0).map_err(map_err)?, Some(r.try_get(1).map_err(map_err)?));
                        }
                    }
                    Ok(())
                }

                pub(crate) async fn apply(&mut self, op: &WriteOp) -> StoreResult<Committed> {
                    match op {
                        WriteOp::Send(m) => self.send(m).await,
                        WriteOp::Edit { chat, message, user, text, at } => self.edit(*chat, *message, *user, text, *at).await,
                        WriteOp::Delete { chat, message, user, at } => self.delete(*chat, *message, *user, *at).await,
                        WriteOp::React { chat, message, user, emoji, add, at } => self.react(*chat, *message, *user, emoji, *add, *at).await,
                        WriteOp::Pin { chat, message, user, pin, at } => self.pin(*chat, *message, *user, *pin, *at).await,
                        WriteOp::Read { chat, user, up_to, at: _, receipts_max_members } => self.read(*chat, *user, *up_to, *receipts_max_members).await,
                        WriteOp::CreateChat { kind, name, creator, members, at, max_members } => {
                            self.create_chat(*kind, name, *creator, members, *at, *max_members).await
                        }
                        WriteOp::AddMembers { chat, by, users, invite, at, max_members } => {
                            self.add_members(*chat, *by, users, invite.as_deref(), *at, *max_members).await
                        }
                        WriteOp::RemoveMember { chat, by, user, at } => self.remove_member(*chat, *by, *user, *at).await,
                        WriteOp::SetRole { chat, by, user, role, at } => self.set_role(*chat, *by, *user, *role, *at).await,
                        WriteOp::Rename { chat, by, name, at } => self.rename(*chat, *by, name, *at).await,
                        WriteOp::DeleteChat { chat, by, at } => self.delete_chat(*chat, *by, *at).await,
                    }
                }

                async fn send(&mut self, m: &sova_store::NewMessage) -> StoreResult<Committed> {
                    if let Some(cmid) = &m.client_msg_id {
                        if let Some(row) = self.cmids.get(&(m.sender_id.0, cmid.clone())) {
                            return Ok(Committed { outcome: Outcome::Duplicate(row.clone()), events: Vec::new() });
                        }
                        let r = sqlx::query(concat!(
                            "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id \
                             WHERE m.sender_id = $1 AND m.client_msg_id = $2"
                        ))
                        .bind(m.sender_id.0)
                        .bind(cmid)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                        if let Some(r) = r {
                            let row = self.open(message_row(&r).map_err(map_err)?)?;
                            return Ok(Committed { outcome: Outcome::Duplicate(row), events: Vec::new() });
                        }
                    }
                    let Some(kind) = self.chat(m.chat_id).await?.map(|c| c.row.kind) else { return Ok(not_found("chat")) };
                    let Some(member) = self.member(m.chat_id, m.sender_id).await? else { return Ok(not_found("chat")) };
                    if m.kind != MessageKind::System {
                        if let Err(e) = rules::can_post(kind, member.role) {
                            return Ok(reject(e));
                        }
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
                    if let Some(orig) = m.forward_of {
                        self.flush().await?;
                        let r = sqlx::query(concat!(
                            "SELECT ", $crate::message_columns!(), " FROM messages m JOIN users u ON u.id = m.sender_id WHERE m.id = $1"
                        ))
                        .bind(orig.0)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                        let Some(r) = r else { return Ok(not_found("message to forward")) };
                        let o = self.open(message_row(&r).map_err(map_err)?)?;
                        if o.deleted_at.is_some() || self.member(o.chat_id, m.sender_id).await?.is_none() {
                            return Ok(not_found("message to forward"));
                        }
                        text = o.text.clone();
                        attachment = o.attachment.clone();
                        msg_kind = if o.kind == MessageKind::System { MessageKind::Text } else { o.kind };
                        // Forwarding a forward keeps the first origin.
                        forward = Some(o.forward.clone().unwrap_or(ForwardOrigin {
                            chat_id: o.chat_id,
                            message_id: o.id,
                            user_id: o.sender_id,
                            user: o.sender_name.clone(),
                        }));
                    }
                    let mut mentioned = Vec::new();
                    for name in m.mentions.iter().take(MAX_MENTIONS) {
                        let id: Option<i64> = sqlx::query_scalar(
                            "SELECT u.id FROM users u JOIN chat_members cm ON cm.user_id = u.id AND cm.chat_id = $1 WHERE u.username_lower = $2",
                        )
                        .bind(m.chat_id.0)
                        .bind(name)
                        .fetch_optional(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                        if let Some(id) = id.map(UserId)
                            && id != m.sender_id
                            && !mentioned.contains(&id)
                        {
                            mentioned.push(id);
                        }
                    }
                    let mut row = self.append(m.chat_id, m.sender_id, msg_kind, text, m.created_at).await?;
                    row.reply_to = m.reply_to;
                    row.forward = forward;
                    row.attachment = attachment;
                    row.mentions = mentioned.clone();
                    row.client_msg_id = m.client_msg_id.clone();
                    let mut events = vec![Self::new_message_event(&row)];
                    for user in mentioned {
                        let (chat_id, message_id, by, name, text) = (row.chat_id, row.id, row.sender_id, row.sender_name.clone(), row.text.clone());
                        events.push(self.text_event(message_id, None, Some(user), |seq| Event::Mention { seq, chat_id, message_id, by, user: name, text }));
                    }
                    if let Some(cmid) = &m.client_msg_id {
                        self.cmids.insert((m.sender_id.0, cmid.clone()), row.clone());
                    }
                    self.pending.push(row.clone());
                    Ok(Committed { outcome: Outcome::Message(row), events })
                }

                async fn edit(&mut self, chat: ChatId, id: MessageId, user: UserId, text: &str, at: i64) -> StoreResult<Committed> {
                    if self.member(chat, user).await?.is_none() {
                        return Ok(not_found("chat"));
                    }
                    let Some(mut row) = self.load_message(chat, id).await? else { return Ok(not_found("message")) };
                    if row.deleted_at.is_some() {
                        return Ok(not_found("message"));
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
                    .await
                    .map_err(map_err)?;
                    sqlx::query("UPDATE messages SET text = $1, edited_at = $2 WHERE id = $3")
                        .bind(self.cipher.seal(text))
                        .bind(at)
                        .bind(id.0)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
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
                    Ok(Committed { outcome: Outcome::Message(row), events: vec![ev] })
                }

                async fn delete(&mut self, chat: ChatId, id: MessageId, user: UserId, at: i64) -> StoreResult<Committed> {
                    let Some(member) = self.member(chat, user).await? else { return Ok(not_found("chat")) };
                    let Some(mut row) = self.load_message(chat, id).await? else { return Ok(not_found("message")) };
                    if let Err(e) = rules::can_delete(row.sender_id == user, member.role) {
                        return Ok(reject(e));
                    }
                    if row.deleted_at.is_some() {
                        return Ok(Committed { outcome: Outcome::Message(row), events: Vec::new() });
                    }
                    // Deleted for everyone: the content and its history go, a tombstone stays.
                    sqlx::query(
                        "UPDATE messages SET text = '', deleted_at = $1, pinned_at = NULL, mentions = '', forward_chat_id = NULL, \
forward_message_id = NULL, forward_user_id = NULL, forward_user = NULL, attachment = NULL WHERE id = $2",
                    )
                        .bind(at)
                        .bind(id.0)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    // Stored edits and mentions carry the text: they go too.
                    self.stored.retain(|(_, about)| *about != Some(id.0));
                    for sql in [
                        "DELETE FROM message_versions WHERE message_id = $1",
                        "DELETE FROM reactions WHERE message_id = $1",
                        "DELETE FROM events WHERE message_id = $1",
                    ] {
                        sqlx::query(sql).bind(id.0).execute(&mut *self.tx).await.map_err(map_err)?;
                    }
                    row.text.clear();
                    row.deleted_at = Some(at);
                    row.pinned_at = None;
                    row.mentions.clear();
                    row.forward = None;
                    row.attachment = None;
                    let ev = self.event(Some(chat), None, |seq| Event::MessageDeleted { seq, chat_id: chat, message_id: id, deleted_by: user });
                    Ok(Committed { outcome: Outcome::Message(row), events: vec![ev] })
                }

                async fn react(&mut self, chat: ChatId, id: MessageId, user: UserId, emoji: &str, add: bool, at: i64) -> StoreResult<Committed> {
                    if self.member(chat, user).await?.is_none() {
                        return Ok(not_found("chat"));
                    }
                    let Some(row) = self.load_message(chat, id).await? else { return Ok(not_found("message")) };
                    if row.deleted_at.is_some() {
                        return Ok(not_found("message"));
                    }
                    let changed = if add {
                        sqlx::query("INSERT INTO reactions (message_id, emoji, user_id, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
                            .bind(id.0)
                            .bind(emoji)
                            .bind(user.0)
                            .bind(at)
                            .execute(&mut *self.tx)
                            .await
                    } else {
                        sqlx::query("DELETE FROM reactions WHERE message_id = $1 AND emoji = $2 AND user_id = $3")
                            .bind(id.0)
                            .bind(emoji)
                            .bind(user.0)
                            .execute(&mut *self.tx)
                            .await
                    }
                    .map_err(map_err)?
                    .rows_affected()
                        > 0;
                    if !changed {
                        return Ok(Committed { outcome: Outcome::Message(row), events: Vec::new() });
                    }
                    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reactions WHERE message_id = $1 AND emoji = $2")
                        .bind(id.0)
                        .bind(emoji)
                        .fetch_one(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    let e = emoji.to_owned();
                    let ev = self.event(Some(chat), None, |seq| {
                        if add {
                            Event::ReactionAdded { seq, chat_id: chat, message_id: id, user_id: user, emoji: e, count }
                        } else {
                            Event::ReactionRemoved { seq, chat_id: chat, message_id: id, user_id: user, emoji: e, count }
                        }
                    });
                    Ok(Committed { outcome: Outcome::Message(row), events: vec![ev] })
                }

                async fn pin(&mut self, chat: ChatId, id: MessageId, user: UserId, pin: bool, at: i64) -> StoreResult<Committed> {
                    let Some(member) = self.member(chat, user).await? else { return Ok(not_found("chat")) };
                    let Some(kind) = self.chat(chat).await?.map(|c| c.row.kind) else { return Ok(not_found("chat")) };
                    if let Err(e) = rules::can_pin(kind, member.role) {
                        return Ok(reject(e));
                    }
                    let Some(mut row) = self.load_message(chat, id).await? else { return Ok(not_found("message")) };
                    if row.deleted_at.is_some() {
                        return Ok(not_found("message"));
                    }
                    if row.pinned_at.is_some() == pin {
                        return Ok(Committed { outcome: Outcome::Message(row), events: Vec::new() });
                    }
                    let when = pin.then_some(at);
                    sqlx::query("UPDATE messages SET pinned_at = $1 WHERE id = $2")
                        .bind(when)
                        .bind(id.0)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    row.pinned_at = when;
                    let ev = self.event(Some(chat), None, |seq| Event::MessagePinned { seq, chat_id: chat, message_id: id, pinned: pin, by: user });
                    Ok(Committed { outcome: Outcome::Message(row), events: vec![ev] })
                }

                async fn read(&mut self, chat: ChatId, user: UserId, up_to: i64, receipts_max: i64) -> StoreResult<Committed> {
                    let Some((last_seq, members)) = self.chat(chat).await?.map(|c| (c.row.last_seq, c.row.member_count)) else {
                        return Ok(not_found("chat"));
                    };
                    let Some(member) = self.member(chat, user).await? else { return Ok(not_found("chat")) };
                    let up_to = up_to.min(last_seq);
                    if up_to <= member.last_read_seq {
                        return Ok(Committed { outcome: Outcome::Done, events: Vec::new() });
                    }
                    self.members.insert((chat.0, user.0), Some(MemberState { last_read_seq: up_to, ..member }));
                    self.dirty_members.insert((chat.0, user.0));
                    // Receipts for chats up to the configured size; otherwise only the
                    // reader's own devices learn the new position.
                    let ev = if members <= receipts_max {
                        self.event(Some(chat), None, |seq| Event::Read { seq, chat_id: chat, user_id: user, up_to })
                    } else {
                        self.event(None, Some(user), |seq| Event::Read { seq, chat_id: chat, user_id: user, up_to })
                    };
                    Ok(Committed { outcome: Outcome::Done, events: vec![ev] })
                }

                fn chat_added(&mut self, row: &ChatRow, user: UserId, role: Role, read: i64) -> StoreResult<StoredEvent> {
                    let mut dto = dto::chat(row.clone());
                    dto.role = Some(role);
                    dto.last_read_seq = Some(read);
                    dto.unread = Some((row.last_seq - read).max(0));
                    Ok(self.event(None, Some(user), |seq| Event::ChatAdded { seq, chat: dto }))
                }

                /// Adds a member whose read position starts at the chat's current end.
                async fn insert_member(&mut self, chat: ChatId, user: UserId, role: Role, at: i64) -> StoreResult<()> {
                    let read = match self.chat(chat).await? {
                        Some(state) => {
                            state.row.member_count += 1;
                            state.dirty = true;
                            state.row.last_seq
                        }
                        None => 0,
                    };
                    sqlx::query("INSERT INTO chat_members (chat_id, user_id, role, joined_at, last_read_seq) VALUES ($1, $2, $3, $4, $5)")
                        .bind(chat.0)
                        .bind(user.0)
                        .bind(role.as_str())
                        .bind(at)
                        .bind(read)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    self.members.insert((chat.0, user.0), Some(MemberState { role, last_read_seq: read }));
                    Ok(())
                }

                async fn create_chat(&mut self, kind: ChatKind, name: &str, creator: UserId, members: &[UserId], at: i64, max_members: i64) -> StoreResult<Committed> {
                    let mut others: Vec<UserId> = Vec::new();
                    for m in members {
                        if *m != creator && !others.contains(m) {
                            others.push(*m);
                        }
                    }
                    for m in &others {
                        if self.name(*m).await?.is_none() {
                            return Ok(reject(Rejection::NoSuchUser(*m)));
                        }
                    }
                    let creator_name = self.name(creator).await?.unwrap_or_default();
                    let (private_key, chat_name) = match kind {
                        ChatKind::Private => {
                            let [other] = others.as_slice() else {
                                return Ok(reject(Rejection::PrivateChatPair));
                            };
                            let key = $crate::private_key(creator, *other);
                            let r = sqlx::query(concat!("SELECT ", $crate::chat_columns!(), " FROM chats c WHERE c.private_key = $1 AND c.deleted_at IS NULL"))
                                .bind(&key)
                                .fetch_optional(&mut *self.tx)
                                .await
                                .map_err(map_err)?;
                            if let Some(r) = r {
                                return Ok(Committed { outcome: Outcome::ExistingChat(chat_row(&r).map_err(map_err)?), events: Vec::new() });
                            }
                            let other_name = self.name(*other).await?.unwrap_or_default();
                            let mut pair = [creator_name.clone(), other_name];
                            pair.sort();
                            (Some(key), pair.join(" & "))
                        }
                        ChatKind::Public => return Ok(reject(Rejection::UncreatableKind)),
                        ChatKind::Group | ChatKind::Channel => {
                            if kind == ChatKind::Group && others.len() as i64 + 1 > max_members {
                                return Ok(reject(Rejection::GroupFull { max: max_members }));
                            }
                            (None, name.to_owned())
                        }
                    };
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO chats (kind, name, created_at, created_by, private_key, member_count) VALUES ($1, $2, $3, $4, $5, 0) RETURNING id",
                    )
                    .bind(kind.as_str())
                    .bind(&chat_name)
                    .bind(at)
                    .bind(creator.0)
                    .bind(&private_key)
                    .fetch_one(&mut *self.tx)
                    .await
                    .map_err(map_err)?;
                    let chat = ChatId(id);
                    let creator_role = if kind == ChatKind::Private { Role::Member } else { Role::Owner };
                    self.insert_member(chat, creator, creator_role, at).await?;
                    for m in &others {
                        self.insert_member(chat, *m, Role::Member, at).await?;
                    }
                    // `chat_added` first: it subscribes the members' connections, so they
                    // then receive the system message live.
                    let mut events = Vec::new();
                    let row = self.chat(chat).await?.map(|c| c.row.clone()).ok_or(StoreError::NotFound)?;
                    events.push(self.chat_added(&row, creator, creator_role, 0)?);
                    for m in &others {
                        events.push(self.chat_added(&row, *m, Role::Member, 0)?);
                    }
                    if kind != ChatKind::Private {
                        events.push(self.system(chat, creator, SystemEvent::ChatCreated { by: creator_name, kind, name: chat_name }.text(Lang::En), at).await?);
                    }
                    let row = self.chat(chat).await?.map(|c| c.row.clone()).ok_or(StoreError::NotFound)?;
                    Ok(Committed { outcome: Outcome::Chat(row), events })
                }

                async fn add_members(&mut self, chat: ChatId, by: UserId, users: &[UserId], invite: Option<&str>, at: i64, max_members: i64) -> StoreResult<Committed> {
                    let Some((kind, count)) = self.chat(chat).await?.map(|c| (c.row.kind, c.row.member_count)) else {
                        return Ok(not_found("chat"));
                    };
                    let by_member = self.member(chat, by).await?;
                    if let Some(code) = invite {
                        if by_member.is_some() {
                            let row = self.chat(chat).await?.map(|c| c.row.clone()).ok_or(StoreError::NotFound)?;
                            return Ok(Committed { outcome: Outcome::Chat(row), events: Vec::new() });
                        }
                        let used = sqlx::query(
                            "UPDATE invites SET uses = uses + 1 WHERE code = $1 AND chat_id = $2 AND revoked_at IS NULL \
                             AND (expires_at IS NULL OR expires_at > $3) AND (max_uses IS NULL OR uses < max_uses)",
                        )
                        .bind(code)
                        .bind(chat.0)
                        .bind(at)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?
                        .rows_affected();
                        if used == 0 {
                            return Ok(reject(Rejection::InvalidInvite));
                        }
                    } else {
                        let Some(m) = by_member else { return Ok(not_found("chat")) };
                        if let Err(e) = rules::can_add(kind, m.role) {
                            return Ok(reject(e));
                        }
                    }
                    let mut new = Vec::new();
                    for u in users {
                        if new.contains(u) || self.member(chat, *u).await?.is_some() {
                            continue;
                        }
                        if self.name(*u).await?.is_none() {
                            return Ok(reject(Rejection::NoSuchUser(*u)));
                        }
                        new.push(*u);
                    }
                    if kind == ChatKind::Group && count + new.len() as i64 > max_members {
                        return Ok(reject(Rejection::GroupFull { max: max_members }));
                    }
                    let by_name = self.name(by).await?.unwrap_or_default();
                    let mut events = Vec::new();
                    for u in &new {
                        self.insert_member(chat, *u, Role::Member, at).await?;
                    }
                    // New members start with the history read; `chat_added` goes first so
                    // their connections follow the chat before the system messages.
                    let row = self.chat(chat).await?.map(|c| c.row.clone()).ok_or(StoreError::NotFound)?;
                    for u in &new {
                        events.push(self.chat_added(&row, *u, Role::Member, row.last_seq)?);
                    }
                    for u in &new {
                        let name = self.name(*u).await?.unwrap_or_default();
                        let text = if invite.is_some() { SystemEvent::MemberJoined { name } } else { SystemEvent::MemberAdded { by: by_name.clone(), name } }.text(Lang::En);
                        events.push(self.system(chat, if invite.is_some() { *u } else { by }, text, at).await?);
                    }
                    let row = self.chat(chat).await?.map(|c| c.row.clone()).ok_or(StoreError::NotFound)?;
                    if !new.is_empty() {
                        let dto = dto::chat(row.clone());
                        events.push(self.event(Some(chat), None, |seq| Event::ChatUpdated { seq, chat: dto }));
                    }
                    Ok(Committed { outcome: Outcome::Chat(row), events })
                }

                async fn remove_member(&mut self, chat: ChatId, by: UserId, user: UserId, at: i64) -> StoreResult<Committed> {
                    let Some((kind, count)) = self.chat(chat).await?.map(|c| (c.row.kind, c.row.member_count)) else {
                        return Ok(not_found("chat"));
                    };
                    let Some(by_m) = self.member(chat, by).await? else { return Ok(not_found("chat")) };
                    let Some(target) = self.member(chat, user).await? else {
                        return Ok(reject(Rejection::NotAMember));
                    };
                    let check = if by == user { rules::can_leave(kind, by_m.role, count) } else { rules::can_remove(kind, by_m.role, target.role) };
                    if let Err(e) = check {
                        return Ok(reject(e));
                    }
                    let mut events = Vec::new();
                    let (by_name, name) = (self.name(by).await?.unwrap_or_default(), self.name(user).await?.unwrap_or_default());
                    let text = if by == user { SystemEvent::MemberLeft { name } } else { SystemEvent::MemberRemoved { by: by_name, name } }.text(Lang::En);
                    events.push(self.system(chat, by, text, at).await?);
                    sqlx::query("DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2")
                        .bind(chat.0)
                        .bind(user.0)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    self.members.insert((chat.0, user.0), None);
                    self.dirty_members.remove(&(chat.0, user.0));
                    let emptied = match self.chat(chat).await? {
                        Some(state) => {
                            state.row.member_count -= 1;
                            state.dirty = true;
                            state.row.member_count <= 0
                        }
                        None => false,
                    };
                    if emptied {
                        self.mark_deleted(chat, at).await?;
                    } else if let Some(row) = self.chat(chat).await?.map(|c| c.row.clone()) {
                        let dto = dto::chat(row);
                        events.push(self.event(Some(chat), None, |seq| Event::ChatUpdated { seq, chat: dto }));
                    }
                    events.push(self.event(None, Some(user), |seq| Event::ChatRemoved { seq, chat_id: chat }));
                    Ok(Committed { outcome: Outcome::Done, events })
                }

                async fn set_role(&mut self, chat: ChatId, by: UserId, user: UserId, role: Role, _at: i64) -> StoreResult<Committed> {
                    let Some(kind) = self.chat(chat).await?.map(|c| c.row.kind) else { return Ok(not_found("chat")) };
                    let Some(by_m) = self.member(chat, by).await? else { return Ok(not_found("chat")) };
                    if let Err(e) = rules::can_set_role(kind, by_m.role) {
                        return Ok(reject(e));
                    }
                    let Some(target) = self.member(chat, user).await? else {
                        return Ok(reject(Rejection::NotAMember));
                    };
                    if user == by {
                        return Ok(reject(Rejection::OwnRoleChange));
                    }
                    let mut changes = vec![(user, role)];
                    if role == Role::Owner {
                        changes.push((by, Role::Admin));
                    }
                    let mut events = Vec::new();
                    for (u, r) in changes {
                        let current = if u == user { target } else { by_m };
                        if current.role == r {
                            continue;
                        }
                        sqlx::query("UPDATE chat_members SET role = $1 WHERE chat_id = $2 AND user_id = $3")
                            .bind(r.as_str())
                            .bind(chat.0)
                            .bind(u.0)
                            .execute(&mut *self.tx)
                            .await
                            .map_err(map_err)?;
                        self.members.insert((chat.0, u.0), Some(MemberState { role: r, ..current }));
                        events.push(self.event(Some(chat), None, |seq| Event::MemberUpdated { seq, chat_id: chat, user_id: u, role: r }));
                    }
                    Ok(Committed { outcome: Outcome::Done, events })
                }

                async fn rename(&mut self, chat: ChatId, by: UserId, name: &str, at: i64) -> StoreResult<Committed> {
                    let Some(kind) = self.chat(chat).await?.map(|c| c.row.kind) else { return Ok(not_found("chat")) };
                    let Some(by_m) = self.member(chat, by).await? else { return Ok(not_found("chat")) };
                    if let Err(e) = rules::can_manage(kind, by_m.role, false) {
                        return Ok(reject(e));
                    }
                    let by_name = self.name(by).await?.unwrap_or_default();
                    if let Some(state) = self.chat(chat).await? {
                        state.row.name = name.to_owned();
                        state.dirty = true;
                    }
                    let mut events = vec![self.system(chat, by, SystemEvent::ChatRenamed { by: by_name, name: name.to_owned() }.text(Lang::En), at).await?];
                    let row = self.chat(chat).await?.map(|c| c.row.clone()).ok_or(StoreError::NotFound)?;
                    let dto = dto::chat(row.clone());
                    events.push(self.event(Some(chat), None, |seq| Event::ChatUpdated { seq, chat: dto }));
                    Ok(Committed { outcome: Outcome::Chat(row), events })
                }

                async fn mark_deleted(&mut self, chat: ChatId, at: i64) -> StoreResult<()> {
                    self.flush().await?;
                    sqlx::query("UPDATE chats SET deleted_at = $1, private_key = NULL WHERE id = $2")
                        .bind(at)
                        .bind(chat.0)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    sqlx::query("UPDATE invites SET revoked_at = $1 WHERE chat_id = $2 AND revoked_at IS NULL")
                        .bind(at)
                        .bind(chat.0)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    Ok(())
                }

                async fn delete_chat(&mut self, chat: ChatId, by: UserId, at: i64) -> StoreResult<Committed> {
                    let Some(kind) = self.chat(chat).await?.map(|c| c.row.kind) else { return Ok(not_found("chat")) };
                    let Some(by_m) = self.member(chat, by).await? else { return Ok(not_found("chat")) };
                    if let Err(e) = rules::can_manage(kind, by_m.role, true) {
                        return Ok(reject(e));
                    }
                    let users: Vec<i64> = sqlx::query_scalar("SELECT user_id FROM chat_members WHERE chat_id = $1")
                        .bind(chat.0)
                        .fetch_all(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    self.mark_deleted(chat, at).await?;
                    sqlx::query("DELETE FROM chat_members WHERE chat_id = $1")
                        .bind(chat.0)
                        .execute(&mut *self.tx)
                        .await
                        .map_err(map_err)?;
                    let mut events = Vec::with_capacity(users.len());
                    for u in users {
                        self.members.insert((chat.0, u), None);
                        self.dirty_members.remove(&(chat.0, u));
                        events.push(self.event(None, Some(UserId(u)), |seq| Event::ChatRemoved { seq, chat_id: chat }));
                    }
                    if let Some(state) = self.chat(chat).await? {
                        state.row.member_count = 0;
                        state.dirty = true;
                    }
                    Ok(Committed { outcome: Outcome::Done, events })
                }

                /// Writes the batch's rows and state, advances the counter, commits.
                pub(crate) async fn finish(mut self) -> StoreResult<()> {
                    self.flush().await?;
                    for chunk in self.stored.chunks(200) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new("INSERT INTO events (id, chat_id, target_user, payload, created_at, message_id) ");
                        let now = sova_types::time::now_micros();
                        let cipher = self.cipher.clone();
                        let sealed: Vec<String> = chunk.iter().map(|(e, _)| cipher.seal(&sova_store::event_at_rest(&e.event))).collect();
                        qb.push_values(chunk.iter().zip(sealed), |mut b, ((e, about), sealed)| {
                            b.push_bind(e.seq)
                                .push_bind(e.chat_id.map(|c| c.0))
                                .push_bind(e.target_user.map(|u| u.0))
                                .push_bind(sealed)
                                .push_bind(now)
                                .push_bind(*about);
                        });
                        qb.build().execute(&mut *self.tx).await.map_err(map_err)?;
                    }
                    // One statement per table, whatever the number of chats touched.
                    let dirty: Vec<(i64, &ChatState)> =
                        self.chats.iter().filter_map(|(id, st)| st.as_ref().filter(|st| st.dirty).map(|st| (*id, st))).collect();
                    for chunk in dirty.chunks(100) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new("WITH v(id, last_seq, last_message_id, member_count, name) AS (VALUES ");
                        for (i, (id, st)) in chunk.iter().enumerate() {
                            if i > 0 {
                                qb.push(", ");
                            }
                            qb.push("(CAST(").push_bind(*id).push(" AS BIGINT), CAST(").push_bind(st.row.last_seq);
                            qb.push(" AS BIGINT), CAST(").push_bind(st.last_message_id).push(" AS BIGINT), CAST(");
                            qb.push_bind(st.row.member_count).push(" AS BIGINT), CAST(").push_bind(st.row.name.clone()).push(" AS TEXT))");
                        }
                        qb.push(
                            ") UPDATE chats SET last_seq = v.last_seq, last_message_id = v.last_message_id, \
                             member_count = v.member_count, name = v.name FROM v WHERE chats.id = v.id",
                        );
                        qb.build().execute(&mut *self.tx).await.map_err(map_err)?;
                    }
                    let reads: Vec<(i64, i64, i64)> = self
                        .dirty_members
                        .iter()
                        .filter_map(|key| match self.members.get(key) {
                            Some(Some(m)) => Some((key.0, key.1, m.last_read_seq)),
                            _ => None,
                        })
                        .collect();
                    for chunk in reads.chunks(100) {
                        let mut qb = sqlx::QueryBuilder::<$db>::new("WITH v(chat_id, user_id, seq) AS (VALUES ");
                        for (i, (chat, user, seq)) in chunk.iter().enumerate() {
                            if i > 0 {
                                qb.push(", ");
                            }
                            qb.push("(CAST(").push_bind(*chat).push(" AS BIGINT), CAST(").push_bind(*user);
                            qb.push(" AS BIGINT), CAST(").push_bind(*seq).push(" AS BIGINT))");
                        }
                        qb.push(
                            ") UPDATE chat_members SET last_read_seq = v.seq FROM v \
                             WHERE chat_members.chat_id = v.chat_id AND chat_members.user_id = v.user_id",
                        );
                        qb.build().execute(&mut *self.tx).await.map_err(map_err)?;
                    }
                    if self.next - 1 != self.start {
                        sqlx::query("UPDATE counters SET value = $1 WHERE name = 'event'")
                            .bind(self.next - 1)
                            .execute(&mut *self.tx)
                            .await
                            .map_err(map_err)?;
                    }
                    self.tx.commit().await.map_err(map_err)
                }
            }
        }
    };
}
