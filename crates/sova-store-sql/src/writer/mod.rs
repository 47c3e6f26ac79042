//! The write path: `WriteOp`s applied in one transaction per batch (group
//! commit), rules (`sova_core::rules`) checked against state read inside it,
//! event ids taken from the counter in op order. Working state (chats,
//! memberships, names, new rows) is kept in memory for the batch and written
//! once at the end (`flush`), so a batch of N messages costs a handful of
//! statements, one commit and one fsync, not N round trips each.
//!
//! `state` holds the batch's cached state and its accessors, `prefetch` loads
//! what a batch of sends needs in three queries, `message_ops`, `chat_ops` and
//! `game_ops` apply the ops, `flush` writes everything out and commits.
//! `task_ops` apply the ops, `flush` writes everything out and commits.

mod chat_ops;
mod flush;
mod game_ops;
mod message_ops;
mod prefetch;
mod state;
mod task_ops;

pub(crate) use game_ops::{GAME_COLUMNS, game_row, rating_from};
pub(crate) use state::Writer;

use crate::{Backend, Db, Result};
use sova_store::cipher::Cipher;
use sova_store::{Committed, WriteOp};
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Type};
use std::sync::Arc;

/// Applies `ops` in one write transaction and commits; one attempt (the caller
/// retries serialization failures).
pub(crate) async fn commit<B>(pool: &Pool<Db<B>>, cipher: &Arc<Cipher>, ops: &[WriteOp]) -> Result<Vec<Committed>>
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
    let (tx, last) = B::begin_write(pool).await?;
    let mut w = Writer::<B>::new(tx, last, cipher.clone());
    w.prefetch(ops).await?;
    let mut out = Vec::with_capacity(ops.len());
    for op in ops {
        out.push(w.apply(op).await?);
    }
    w.finish().await?;
    Ok(out)
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
    /// Applies one op to the batch.
    async fn apply(&mut self, op: &WriteOp) -> Result<Committed> {
        match op {
            WriteOp::Send(m) => self.send(m).await,
            WriteOp::Edit {
                chat,
                message,
                user,
                text,
                at,
            } => self.edit(*chat, *message, *user, text, *at).await,
            WriteOp::Delete {
                chat,
                message,
                user,
                at,
            } => self.delete(*chat, *message, *user, *at).await,
            WriteOp::React {
                chat,
                message,
                user,
                emoji,
                add,
                at,
            } => self.react(*chat, *message, *user, emoji, *add, *at).await,
            WriteOp::Pin {
                chat,
                message,
                user,
                pin,
                at,
            } => self.pin(*chat, *message, *user, *pin, *at).await,
            WriteOp::Read {
                chat,
                user,
                up_to,
                at: _,
                receipts_max_members,
            } => self.read(*chat, *user, *up_to, *receipts_max_members).await,
            WriteOp::CreateChat {
                kind,
                name,
                creator,
                members,
                at,
                max_members,
            } => {
                self.create_chat(*kind, name, *creator, members, *at, *max_members)
                    .await
            }
            WriteOp::AddMembers {
                chat,
                by,
                users,
                invite,
                at,
                max_members,
            } => {
                self.add_members(*chat, *by, users, invite.as_deref(), *at, *max_members)
                    .await
            }
            WriteOp::RemoveMember { chat, by, user, at } => self.remove_member(*chat, *by, *user, *at).await,
            WriteOp::SetRole {
                chat,
                by,
                user,
                role,
                at,
            } => self.set_role(*chat, *by, *user, *role, *at).await,
            WriteOp::Rename { chat, by, name, at } => self.rename(*chat, *by, name, *at).await,
            WriteOp::DeleteChat { chat, by, at } => self.delete_chat(*chat, *by, *at).await,
            WriteOp::CreateGame {
                chat,
                by,
                kind,
                players,
                options,
                seed,
                at,
            } => {
                let spec = game_ops::NewGame {
                    kind: *kind,
                    players,
                    options,
                    seed: *seed,
                };
                self.create_game(*chat, *by, spec, *at).await
            }
            WriteOp::JoinGame { game, user, at } => self.join_game(*game, *user, *at).await,
            WriteOp::GameMove { game, user, mv, at } => self.game_move(*game, *user, mv, *at).await,
            WriteOp::GameTimeout { game, at } => self.game_timeout(*game, *at).await,
            WriteOp::Task(op) => self.task_op(op).await,
        }
    }
}
