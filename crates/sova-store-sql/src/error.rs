//! The error type inside the shared SQL code: a database error kept raw (so the
//! retry loop can classify it) or an already decided `StoreError`. It becomes a
//! `StoreError` at the trait boundary through the backend's classification.

use sova_store::StoreError;

/// A failure inside a store operation.
#[derive(Debug)]
pub enum Error {
    /// The database (or driver) failed; classified by `Backend::classify`.
    Db(sqlx::Error),
    /// A failure already expressed as a store error (decoding, decryption, …).
    Store(StoreError),
}

/// Result of the shared SQL code.
pub type Result<T> = std::result::Result<T, Error>;

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Db(e)
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        Error::Store(e)
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::Db(e) => write!(f, "{e}"),
            Error::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for Error {}

/// A decoding failure for an unexpected stored value (a kind or role this
/// version does not know).
pub(crate) fn unexpected(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("unexpected {what}").into())
}
