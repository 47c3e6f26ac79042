//! The user directory: a user by id and users by username prefix, for member
//! pickers, mentions and profiles on every transport.

use crate::{Caller, Entry, Method, Operation, Spec};
use schemars::JsonSchema;
use serde::Deserialize;
use sova_service::Services;
use sova_types::ErrorCode::NotFound;
use sova_types::models::UserProfile;
use sova_types::{ApiError, UserId};

/// The operations of this module.
pub const OPS: &[Entry] = &[Entry::of::<GetUser>(), Entry::of::<SearchUsers>()];

const TAG: &str = "users";

/// The input of `get_user`.
#[derive(Deserialize, JsonSchema)]
pub struct GetUserRequest {
    pub user_id: UserId,
}

/// `get_user` (`/api/users/{user_id}`): One user's public profile.
pub struct GetUser;
impl Operation for GetUser {
    type Request = GetUserRequest;
    type Response = UserProfile;
    const SPEC: Spec = Spec::new(
        "get_user",
        Method::Get,
        "/api/users/{user_id}",
        "One user's public profile",
    )
    .tag(TAG)
    .errors(&[NotFound]);
    async fn handle(s: &Services, c: &Caller, r: GetUserRequest) -> Result<UserProfile, ApiError> {
        c.user()?;
        s.users.profile(r.user_id).await
    }
}

/// The input of `users`.
#[derive(Deserialize, JsonSchema)]
pub struct SearchUsersRequest {
    /// A username prefix, case-insensitive (empty or absent: every user).
    #[serde(default)]
    pub q: Option<String>,
    /// The last username of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// 1–50, default 20.
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `users` (`/api/users`): Users whose username starts with `q`, by username.
pub struct SearchUsers;
impl Operation for SearchUsers {
    type Request = SearchUsersRequest;
    type Response = Vec<UserProfile>;
    const SPEC: Spec = Spec::new(
        "users",
        Method::Get,
        "/api/users",
        "Users whose username starts with q, by username",
    )
    .tag(TAG);
    async fn handle(s: &Services, c: &Caller, r: SearchUsersRequest) -> Result<Vec<UserProfile>, ApiError> {
        c.user()?;
        s.users
            .search(r.q.as_deref().unwrap_or(""), r.after.as_deref(), r.limit)
            .await
    }
}
