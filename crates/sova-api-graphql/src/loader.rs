//! Nested fields that no single operation answers, batched with a dataloader:
//! `Chat.members(first)`. Every `Chat` in one response (a `chats` list of any length)
//! asks the loader for its members; the loader gathers the keys of one tick and reads
//! them with one `ChatService::members_of_chats` call per caller — one store query —
//! so `chats { members { … } last_message { … } }` costs a bounded number of store
//! calls whatever the number of chats (`last_message` is part of the `chats` answer
//! itself). The service checks the membership: a chat the caller is not in answers
//! `not_found`, like the `members` operation.

use crate::resolve::{RequestInfo, Shape, gql_error, to_field};
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::dynamic::{Field, FieldFuture, InputValue, TypeRef};
use serde_json::Value;
use sova_ops::Auth;
use sova_service::Services;
use sova_types::models::Member;
use sova_types::{ApiError, ChatId, UserId};
use std::collections::HashMap;
use std::sync::Arc;

/// How many members `Chat.members` shows when `first` is not given.
pub const DEFAULT_MEMBERS: i64 = 100;

/// Loads members of many chats at once. A key is (caller, chat, how many): keys of
/// different callers (requests resolved in the same tick) or caps are read apart.
pub struct MembersLoader {
    services: Arc<Services>,
}

/// The loader as schema data.
pub fn members_loader(services: Arc<Services>) -> DataLoader<MembersLoader> {
    DataLoader::new(MembersLoader { services }, tokio::spawn)
}

impl Loader<(UserId, ChatId, i64)> for MembersLoader {
    type Value = Arc<Vec<Member>>;
    type Error = ApiError;

    async fn load(
        &self,
        keys: &[(UserId, ChatId, i64)],
    ) -> Result<HashMap<(UserId, ChatId, i64), Self::Value>, Self::Error> {
        let mut groups: HashMap<(UserId, i64), Vec<ChatId>> = HashMap::new();
        for (user, chat, first) in keys {
            groups.entry((*user, *first)).or_default().push(*chat);
        }
        let mut out = HashMap::new();
        for ((user, first), chats) in groups {
            let found = self.services.chats.members_of_chats(user, &chats, first).await?;
            for (chat, members) in found {
                out.insert((user, chat, first), Arc::new(members));
            }
        }
        Ok(out)
    }
}

/// `Chat.members(first: Int = 100): [Member!]`: the chat's first members by user id.
pub fn members_field() -> Field {
    Field::new("members", TypeRef::named_nn_list(crate::schema::MEMBER), |ctx| {
        FieldFuture::new(async move {
            let services = ctx.data::<Arc<Services>>()?;
            let info = ctx.data::<RequestInfo>()?;
            let loader = ctx.data::<DataLoader<MembersLoader>>()?;
            let parent = ctx.parent_value.try_downcast_ref::<Value>()?;
            let chat = parent
                .get("id")
                .and_then(Value::as_i64)
                .map(ChatId)
                .ok_or_else(|| gql_error(ApiError::internal()))?;
            let first = match ctx.args.get("first") {
                Some(v) if !v.is_null() => v.i64()?,
                _ => DEFAULT_MEMBERS,
            };
            let caller = info.caller(Auth::Session, services).await.map_err(gql_error)?;
            let user = caller.user().map_err(gql_error)?.user_id;
            let members = loader
                .load_one((user, chat, first))
                .await
                .map_err(gql_error)?
                .ok_or_else(|| gql_error(ApiError::not_found("no such chat")))?;
            let json = serde_json::to_value(&*members).map_err(|_| gql_error(ApiError::internal()))?;
            Ok(to_field(Some(&json), &Shape::List(Box::new(Shape::Object))))
        })
    })
    .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)).description("How many (1-1000; 100 when absent)."))
    .description(
        "The chat's first members by user id, as the `members` operation answers them; read for all chats \
         of a response at once (a dataloader).",
    )
}
