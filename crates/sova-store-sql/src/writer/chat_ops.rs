//! Chat ops of the batch writer: create, add and remove members, set roles,
//! rename, delete. Permissions and limits come from `sova_core::rules`, the
//! system-message text from `sova_core::SystemEvent`.

use super::Writer;
use super::state::{MemberState, reject, unchanged};
use crate::{Backend, Db, Result, rows};
use sova_core::rules::{self, InviteState};
use sova_core::{Rejection, SystemEvent};
use sova_store::{ChatKind, ChatRow, Committed, Outcome, Role, StoredEvent};
use sova_types::{ChatId, Event, UserId};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Row, Type};

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
    /// The `chat_added` event telling `user` about `row`, read up to `read`.
    fn chat_added(&mut self, row: &ChatRow, user: UserId, role: Role, read: i64) -> StoredEvent {
        let mut dto = sova_store::dto::chat(row.clone());
        dto.role = Some(role);
        dto.last_read_seq = Some(read);
        dto.unread = Some((row.last_seq - read).max(0));
        self.event(None, Some(user), |seq| Event::ChatAdded { seq, chat: dto })
    }

    /// The `chat_updated` event for the chat's current row.
    fn chat_updated(&mut self, row: ChatRow) -> StoredEvent {
        let chat = row.id;
        let dto = sova_store::dto::chat(row);
        self.event(Some(chat), None, |seq| Event::ChatUpdated { seq, chat: dto })
    }

    /// Adds a member whose read position starts at the chat's current end.
    async fn insert_member(&mut self, chat: ChatId, user: UserId, role: Role, at: i64) -> Result<()> {
        let read = match self.chat(chat).await? {
            Some(state) => {
                state.row.member_count += 1;
                state.dirty = true;
                state.row.last_seq
            }
            None => 0,
        };
        sqlx::query(
            "INSERT INTO chat_members (chat_id, user_id, role, joined_at, last_read_seq) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(chat.0)
        .bind(user.0)
        .bind(role.as_str())
        .bind(at)
        .bind(read)
        .execute(&mut *self.tx)
        .await?;
        self.members.insert(
            (chat.0, user.0),
            Some(MemberState {
                role,
                last_read_seq: read,
            }),
        );
        Ok(())
    }

    pub(super) async fn create_chat(
        &mut self,
        kind: ChatKind,
        name: &str,
        creator: UserId,
        members: &[UserId],
        at: i64,
        max_members: i64,
    ) -> Result<Committed> {
        let others = rules::other_members(creator, members);
        for m in &others {
            if self.name(*m).await?.is_none() {
                return Ok(reject(Rejection::NoSuchUser(*m)));
            }
        }
        let creator_name = self.name(creator).await?.unwrap_or_default();
        if let Err(e) = rules::can_create(kind) {
            return Ok(reject(e));
        }
        let (private_key, chat_name) = if kind == ChatKind::Private {
            let other = match rules::private_partner(&others) {
                Ok(o) => o,
                Err(e) => return Ok(reject(e)),
            };
            let key = rules::private_key(creator, other);
            let r = sqlx::query(rows::select_chats(
                "",
                "WHERE c.private_key = $1 AND c.deleted_at IS NULL",
            ))
            .bind(&key)
            .fetch_optional(&mut *self.tx)
            .await?;
            if let Some(r) = r {
                return Ok(unchanged(Outcome::ExistingChat(rows::chat(&r)?)));
            }
            let other_name = self.name(other).await?.unwrap_or_default();
            (Some(key), rules::private_chat_name(&creator_name, &other_name))
        } else {
            if let Err(e) = rules::check_capacity(kind, 1, others.len() as i64, max_members) {
                return Ok(reject(e));
            }
            (None, name.to_owned())
        };
        let r = sqlx::query(
            "INSERT INTO chats (kind, name, created_at, created_by, private_key, member_count) \
             VALUES ($1, $2, $3, $4, $5, 0) RETURNING id",
        )
        .bind(kind.as_str())
        .bind(&chat_name)
        .bind(at)
        .bind(creator.0)
        .bind(&private_key)
        .fetch_one(&mut *self.tx)
        .await?;
        let chat = ChatId(r.try_get(0)?);
        let creator_role = rules::creator_role(kind);
        self.insert_member(chat, creator, creator_role, at).await?;
        for m in &others {
            self.insert_member(chat, *m, Role::Member, at).await?;
        }
        // `chat_added` first: it subscribes the members' connections, so they
        // then receive the system message live.
        let mut events = Vec::new();
        let row = self.chat_row(chat).await?;
        events.push(self.chat_added(&row, creator, creator_role, 0));
        for m in &others {
            events.push(self.chat_added(&row, *m, Role::Member, 0));
        }
        if kind != ChatKind::Private {
            let what = SystemEvent::ChatCreated {
                by: creator_name,
                kind,
                name: chat_name,
            };
            events.push(self.system(chat, creator, what, at).await?);
        }
        let row = self.chat_row(chat).await?;
        Ok(Committed {
            outcome: Outcome::Chat(row),
            events,
        })
    }

    pub(super) async fn add_members(
        &mut self,
        chat: ChatId,
        by: UserId,
        users: &[UserId],
        invite: Option<&str>,
        at: i64,
        max_members: i64,
    ) -> Result<Committed> {
        let Some((kind, count)) = self.chat(chat).await?.map(|c| (c.row.kind, c.row.member_count)) else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let by_member = self.member(chat, by).await?;
        if let Some(code) = invite {
            if by_member.is_some() {
                return Ok(unchanged(Outcome::Chat(self.chat_row(chat).await?)));
            }
            let r = sqlx::query(
                "SELECT expires_at, max_uses, uses, revoked_at FROM invites WHERE code = $1 AND chat_id = $2",
            )
            .bind(code)
            .bind(chat.0)
            .fetch_optional(&mut *self.tx)
            .await?;
            let Some(r) = r else {
                return Ok(reject(Rejection::InvalidInvite));
            };
            let state = InviteState {
                expires_at: r.try_get(0)?,
                max_uses: r.try_get(1)?,
                uses: r.try_get(2)?,
                revoked: r.try_get::<Option<i64>, _>(3)?.is_some(),
            };
            if let Err(e) = rules::can_use_invite(&state, at) {
                return Ok(reject(e));
            }
            // Counted only if nobody revoked it since it was read (a revocation does
            // not take the writer's lock); other joins are serialized by that lock.
            let used = sqlx::query(
                "UPDATE invites SET uses = uses + 1 WHERE code = $1 AND chat_id = $2 AND uses = $3 \
                 AND revoked_at IS NULL",
            )
            .bind(code)
            .bind(chat.0)
            .bind(state.uses)
            .execute(&mut *self.tx)
            .await?;
            if B::rows_affected(&used) == 0 {
                return Ok(reject(Rejection::InvalidInvite));
            }
        } else {
            let Some(m) = by_member else {
                return Ok(reject(Rejection::NoSuchChat));
            };
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
        if let Err(e) = rules::check_capacity(kind, count, new.len() as i64, max_members) {
            return Ok(reject(e));
        }
        let by_name = self.name(by).await?.unwrap_or_default();
        let mut events = Vec::new();
        for u in &new {
            self.insert_member(chat, *u, Role::Member, at).await?;
        }
        // New members start with the history read; `chat_added` goes first so
        // their connections follow the chat before the system messages.
        let row = self.chat_row(chat).await?;
        for u in &new {
            events.push(self.chat_added(&row, *u, Role::Member, row.last_seq));
        }
        for u in &new {
            let name = self.name(*u).await?.unwrap_or_default();
            let (actor, what) = match invite {
                Some(_) => (*u, SystemEvent::MemberJoined { name }),
                None => (
                    by,
                    SystemEvent::MemberAdded {
                        by: by_name.clone(),
                        name,
                    },
                ),
            };
            events.push(self.system(chat, actor, what, at).await?);
        }
        let row = self.chat_row(chat).await?;
        if !new.is_empty() {
            events.push(self.chat_updated(row.clone()));
        }
        Ok(Committed {
            outcome: Outcome::Chat(row),
            events,
        })
    }

    pub(super) async fn remove_member(&mut self, chat: ChatId, by: UserId, user: UserId, at: i64) -> Result<Committed> {
        let Some((kind, count)) = self.chat(chat).await?.map(|c| (c.row.kind, c.row.member_count)) else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(by_m) = self.member(chat, by).await? else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(target) = self.member(chat, user).await? else {
            return Ok(reject(Rejection::NotAMember));
        };
        let check = if by == user {
            rules::can_leave(kind, by_m.role, count)
        } else {
            rules::can_remove(kind, by_m.role, target.role)
        };
        if let Err(e) = check {
            return Ok(reject(e));
        }
        let mut events = Vec::new();
        let (by_name, name) = (
            self.name(by).await?.unwrap_or_default(),
            self.name(user).await?.unwrap_or_default(),
        );
        let what = if by == user {
            SystemEvent::MemberLeft { name }
        } else {
            SystemEvent::MemberRemoved { by: by_name, name }
        };
        events.push(self.system(chat, by, what, at).await?);
        sqlx::query("DELETE FROM chat_members WHERE chat_id = $1 AND user_id = $2")
            .bind(chat.0)
            .bind(user.0)
            .execute(&mut *self.tx)
            .await?;
        self.members.insert((chat.0, user.0), None);
        self.dirty_members.remove(&(chat.0, user.0));
        let emptied = match self.chat(chat).await? {
            Some(state) => {
                state.row.member_count -= 1;
                state.dirty = true;
                rules::emptied(state.row.member_count)
            }
            None => false,
        };
        if emptied {
            self.mark_deleted(chat, at).await?;
        } else if let Some(row) = self.chat(chat).await?.map(|c| c.row.clone()) {
            events.push(self.chat_updated(row));
        }
        events.push(self.event(None, Some(user), |seq| Event::ChatRemoved { seq, chat_id: chat }));
        Ok(Committed {
            outcome: Outcome::Done,
            events,
        })
    }

    pub(super) async fn set_role(
        &mut self,
        chat: ChatId,
        by: UserId,
        user: UserId,
        role: Role,
        _at: i64,
    ) -> Result<Committed> {
        let Some(kind) = self.chat(chat).await?.map(|c| c.row.kind) else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(by_m) = self.member(chat, by).await? else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        if let Err(e) = rules::can_set_role(kind, by_m.role) {
            return Ok(reject(e));
        }
        let Some(target) = self.member(chat, user).await? else {
            return Ok(reject(Rejection::NotAMember));
        };
        let changes = match rules::role_changes(by, user, role) {
            Ok(c) => c,
            Err(e) => return Ok(reject(e)),
        };
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
                .await?;
            self.members
                .insert((chat.0, u.0), Some(MemberState { role: r, ..current }));
            events.push(self.event(Some(chat), None, |seq| Event::MemberUpdated {
                seq,
                chat_id: chat,
                user_id: u,
                role: r,
            }));
        }
        Ok(Committed {
            outcome: Outcome::Done,
            events,
        })
    }

    pub(super) async fn rename(&mut self, chat: ChatId, by: UserId, name: &str, at: i64) -> Result<Committed> {
        let Some(kind) = self.chat(chat).await?.map(|c| c.row.kind) else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(by_m) = self.member(chat, by).await? else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        if let Err(e) = rules::can_manage(kind, by_m.role, false) {
            return Ok(reject(e));
        }
        let by_name = self.name(by).await?.unwrap_or_default();
        if let Some(state) = self.chat(chat).await? {
            state.row.name = name.to_owned();
            state.dirty = true;
        }
        let what = SystemEvent::ChatRenamed {
            by: by_name,
            name: name.to_owned(),
        };
        let mut events = vec![self.system(chat, by, what, at).await?];
        let row = self.chat_row(chat).await?;
        events.push(self.chat_updated(row.clone()));
        Ok(Committed {
            outcome: Outcome::Chat(row),
            events,
        })
    }

    /// Marks the chat deleted (freeing its private pair) and revokes its invites.
    async fn mark_deleted(&mut self, chat: ChatId, at: i64) -> Result<()> {
        self.flush().await?;
        sqlx::query("UPDATE chats SET deleted_at = $1, private_key = NULL WHERE id = $2")
            .bind(at)
            .bind(chat.0)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("UPDATE invites SET revoked_at = $1 WHERE chat_id = $2 AND revoked_at IS NULL")
            .bind(at)
            .bind(chat.0)
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    pub(super) async fn delete_chat(&mut self, chat: ChatId, by: UserId, at: i64) -> Result<Committed> {
        let Some(kind) = self.chat(chat).await?.map(|c| c.row.kind) else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        let Some(by_m) = self.member(chat, by).await? else {
            return Ok(reject(Rejection::NoSuchChat));
        };
        if let Err(e) = rules::can_manage(kind, by_m.role, true) {
            return Ok(reject(e));
        }
        let found = sqlx::query("SELECT user_id FROM chat_members WHERE chat_id = $1")
            .bind(chat.0)
            .fetch_all(&mut *self.tx)
            .await?;
        let users: Vec<i64> = found
            .iter()
            .map(|r| r.try_get(0))
            .collect::<std::result::Result<_, _>>()?;
        self.mark_deleted(chat, at).await?;
        sqlx::query("DELETE FROM chat_members WHERE chat_id = $1")
            .bind(chat.0)
            .execute(&mut *self.tx)
            .await?;
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
        Ok(Committed {
            outcome: Outcome::Done,
            events,
        })
    }
}
