//! Full-text search (`GET /api/search`) over the messages and files of the
//! caller's chats, best first, with highlighted snippets (docs/search.md).

use crate::{Caller, Entry, Method, Operation, Spec};
use schemars::JsonSchema;
use serde::Deserialize;
use sova_service::Services;
use sova_service::search::SearchParams;
use sova_types::ErrorCode::{BadRequest, NotFound};
use sova_types::models::SearchPage;
use sova_types::{ApiError, ChatId, UserId};

/// The operations of this module.
pub const OPS: &[Entry] = &[Entry::of::<Search>()];

/// `search` (`/api/search`): Search messages and files in my chats, best first.
pub struct Search;

/// The input of `search`, from the query string (REST) or the op frame.
#[derive(Deserialize, JsonSchema)]
pub struct SearchRequest {
    /// Words (any form: `книга` finds `книгами`), `"quoted phrases"` and `prefix*`
    /// (at least 3 letters); 1-256 characters.
    pub q: String,
    /// Only this chat.
    #[serde(default)]
    pub chat_id: Option<ChatId>,
    /// Only messages sent by this user id.
    #[serde(default)]
    pub from: Option<UserId>,
    /// Only older: a message id (digits) or an RFC 3339 time.
    #[serde(default)]
    pub before: Option<String>,
    /// Only newer: a message id (digits) or an RFC 3339 time.
    #[serde(default)]
    pub after: Option<String>,
    /// `file`: only files and messages carrying files.
    #[serde(default)]
    pub has: Option<String>,
    /// 1-100 (default 20).
    #[serde(default)]
    pub limit: Option<i64>,
    /// The `cursor` of the previous page.
    #[serde(default)]
    pub cursor: Option<String>,
}

impl Operation for Search {
    type Request = SearchRequest;
    type Response = SearchPage;
    const SPEC: Spec = Spec::new(
        "search",
        Method::Get,
        "/api/search",
        "Search messages and files in my chats, best first",
    )
    .tag("search")
    .errors(&[BadRequest, NotFound]);
    async fn handle(s: &Services, c: &Caller, r: SearchRequest) -> Result<SearchPage, ApiError> {
        let p = SearchParams {
            q: r.q,
            chat_id: r.chat_id,
            from: r.from,
            before: r.before,
            after: r.after,
            has: r.has,
            limit: r.limit,
            cursor: r.cursor,
        };
        s.search.search(&s.messages, &s.files, c.user()?, p).await
    }
}
