//! Batch prefetch: the chats, memberships and usernames a batch of sends needs,
//! loaded in three queries instead of three round trips per distinct chat.

use super::Writer;
use super::state::{ChatState, MemberState};
use crate::{Backend, Db, Result, rows};
use sova_store::{Role, WriteOp};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, QueryBuilder, Row, Type};
use std::collections::BTreeSet;

/// Ids per `IN (…)` list, far below every database's parameter limit.
const CHUNK: usize = 500;

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
    /// Loads what the sends among `ops` need (only worth it for two or more chats:
    /// with one, the cached accessors cost the same three queries).
    pub(super) async fn prefetch(&mut self, ops: &[WriteOp]) -> Result<()> {
        self.prefetch_resends(ops).await?;
        let mut chats = BTreeSet::new();
        let mut pairs = BTreeSet::new();
        let mut users = BTreeSet::new();
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
        let chat_ids: Vec<i64> = chats.iter().copied().collect();
        for ids in chat_ids.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db<B>>::new(format!(
                "SELECT {}, c.last_message_id FROM chats c WHERE c.deleted_at IS NULL AND c.id IN (",
                rows::CHAT_COLUMNS
            ));
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            qb.push(")");
            for id in ids {
                self.chats.insert(*id, None);
            }
            for r in qb.build().fetch_all(&mut *self.tx).await? {
                let row = rows::chat(&r)?;
                let last: i64 = r.try_get(7)?;
                self.chats.insert(
                    row.id.0,
                    Some(ChatState {
                        row,
                        last_message_id: last,
                        dirty: false,
                    }),
                );
            }
        }
        for ids in chat_ids.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db<B>>::new(
                "SELECT chat_id, user_id, role, last_read_seq FROM chat_members WHERE chat_id IN (",
            );
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
            for r in qb.build().fetch_all(&mut *self.tx).await? {
                let key: (i64, i64) = (r.try_get(0)?, r.try_get(1)?);
                let role: String = r.try_get(2)?;
                let state = MemberState {
                    role: Role::parse(&role).unwrap_or(Role::Member),
                    last_read_seq: r.try_get(3)?,
                };
                self.members.insert(key, Some(state));
            }
        }
        let user_ids: Vec<i64> = users.iter().copied().collect();
        for ids in user_ids.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db<B>>::new("SELECT id, username FROM users WHERE id IN (");
            let mut sep = qb.separated(", ");
            for id in ids {
                sep.push_bind(*id);
            }
            qb.push(")");
            for r in qb.build().fetch_all(&mut *self.tx).await? {
                self.names.insert(r.try_get(0)?, Some(r.try_get(1)?));
            }
        }
        Ok(())
    }

    /// Loads the stored messages that the batch's sends with a `client_msg_id` could
    /// repeat, in one query per chunk instead of one per send (only worth it for two
    /// or more such sends).
    async fn prefetch_resends(&mut self, ops: &[WriteOp]) -> Result<()> {
        let wanted: BTreeSet<(i64, &str)> = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Send(m) => m.client_msg_id.as_deref().map(|c| (m.sender_id.0, c)),
                _ => None,
            })
            .collect();
        if wanted.len() < 2 {
            return Ok(());
        }
        let wanted_list: Vec<(i64, &str)> = wanted.iter().copied().collect();
        for chunk in wanted_list.chunks(CHUNK) {
            let mut qb = QueryBuilder::<Db<B>>::new(format!(
                "SELECT {} FROM messages m JOIN users u ON u.id = m.sender_id \
                 WHERE m.client_msg_id IS NOT NULL AND m.sender_id IN (",
                rows::MESSAGE_COLUMNS
            ));
            let mut sep = qb.separated(", ");
            for s in chunk.iter().map(|w| w.0).collect::<BTreeSet<_>>() {
                sep.push_bind(s);
            }
            qb.push(") AND m.client_msg_id IN (");
            let mut sep = qb.separated(", ");
            for c in chunk.iter().map(|w| w.1).collect::<BTreeSet<_>>() {
                sep.push_bind(c.to_owned());
            }
            qb.push(")");
            for r in qb.build().fetch_all(&mut *self.tx).await? {
                let row = rows::message(&r)?;
                let Some(cmid) = row.client_msg_id.clone() else {
                    continue;
                };
                // The IN lists cross senders with ids: keep only the asked pairs.
                if wanted.contains(&(row.sender_id.0, cmid.as_str())) {
                    let row = self.open(row)?;
                    self.cmids.insert((row.sender_id.0, cmid), row);
                }
            }
        }
        self.cmids_loaded = true;
        Ok(())
    }
}
