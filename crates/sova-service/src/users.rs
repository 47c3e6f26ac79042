//! The user directory: one user by id, and usernames by prefix for pickers and
//! mentions. Only public fields leave this module (`UserProfile`).

use crate::auth::USERNAME_MAX;
use crate::store_err;
use sova_store::{Stores, UserRow};
use sova_types::models::UserProfile;
use sova_types::time::rfc3339;
use sova_types::{ApiError, UserId};

/// Most users one directory page holds.
pub const MAX_PAGE: i64 = 50;
/// Users per page when the caller does not say.
pub const DEFAULT_PAGE: i64 = 20;

/// Looks users up for any signed-in user.
#[derive(Clone)]
pub struct UserService {
    stores: Stores,
}

impl UserService {
    /// A directory over `stores`.
    pub fn new(stores: Stores) -> Self {
        UserService { stores }
    }

    /// The user with this id, or `not_found`.
    pub async fn profile(&self, id: UserId) -> Result<UserProfile, ApiError> {
        match self.stores.users.user_by_id(id).await.map_err(store_err)? {
            Some(u) => Ok(profile(u)),
            None => Err(ApiError::not_found("no such user")),
        }
    }

    /// Users whose username starts with `q` (case-insensitive; all users when `q` is
    /// empty), ordered by username, after the username `after`; at most
    /// [`MAX_PAGE`] per page. A prefix longer than any username is `bad_request`.
    pub async fn search(&self, q: &str, after: Option<&str>, limit: Option<i64>) -> Result<Vec<UserProfile>, ApiError> {
        let q = q.trim().to_lowercase();
        if q.chars().count() > USERNAME_MAX {
            return Err(ApiError::bad_request(format!(
                "q is at most {USERNAME_MAX} characters (a username prefix)"
            )));
        }
        let limit = limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::bad_request(format!("limit must be 1-{MAX_PAGE}")));
        }
        let after = after.map(str::to_lowercase);
        let rows = self
            .stores
            .users
            .search_users(&q, after.as_deref(), limit)
            .await
            .map_err(store_err)?;
        Ok(rows.into_iter().map(profile).collect())
    }
}

fn profile(u: UserRow) -> UserProfile {
    UserProfile {
        user_id: u.id,
        username: u.username,
        created_at: rfc3339(u.created_at),
    }
}
