//! `SqlStore`: the pool and the at-rest cipher, plus the helpers every domain
//! module shares (unsealing rows, turning internal errors into `StoreError`).

use crate::{Backend, Error};
use sova_store::cipher::Cipher;
use sova_store::{MessageRow, StoreError, StoreResult, Stores};
use sqlx::Pool;
use std::marker::PhantomData;
use std::sync::Arc;

/// Every store trait over one database, through backend `B`.
pub struct SqlStore<B: Backend> {
    pub(crate) pool: Pool<B::Db>,
    /// Seals message contents (and other secrets) at rest.
    pub(crate) cipher: Arc<Cipher>,
    backend: PhantomData<fn() -> B>,
}

impl<B: Backend> Clone for SqlStore<B> {
    fn clone(&self) -> Self {
        SqlStore {
            pool: self.pool.clone(),
            cipher: self.cipher.clone(),
            backend: PhantomData,
        }
    }
}

impl<B: Backend> SqlStore<B> {
    /// A store over `pool`, storing text unencrypted until `with_cipher`.
    pub fn new(pool: Pool<B::Db>) -> Self {
        SqlStore {
            pool,
            cipher: Arc::new(Cipher::plain()),
            backend: PhantomData,
        }
    }

    /// Encrypts message contents at rest with `cipher` from now on.
    pub fn with_cipher(mut self, cipher: Cipher) -> Self {
        self.cipher = Arc::new(cipher);
        self
    }

    /// The connection pool (for backend-specific statements and tools).
    pub fn pool(&self) -> &Pool<B::Db> {
        &self.pool
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Turns an internal error into a store error, classifying database errors.
    pub(crate) fn fail(e: Error) -> StoreError {
        match e {
            Error::Db(e) => B::classify(e),
            Error::Store(e) => e,
        }
    }

    pub(crate) fn open_text(&self, stored: &str) -> Result<String, StoreError> {
        self.cipher.open(stored).map_err(StoreError::Other)
    }

    pub(crate) fn open_msg(&self, mut m: MessageRow) -> Result<MessageRow, StoreError> {
        m.text = self.open_text(&m.text)?;
        Ok(m)
    }

    pub(crate) fn open_msgs(&self, rows: Vec<MessageRow>) -> Result<Vec<MessageRow>, StoreError> {
        rows.into_iter().map(|m| self.open_msg(m)).collect()
    }
}

impl<B: Backend> SqlStore<B>
where
    SqlStore<B>: sova_store::UserStore
        + sova_store::TokenStore
        + sova_store::ChatStore
        + sova_store::MessageStore
        + sova_store::FileStore
        + sova_store::SearchStore
        + sova_store::TaskStore
        + sova_store::GameStore,
{
    /// All store traits backed by this database.
    pub fn stores(self) -> Stores {
        Stores::from_backend(Arc::new(self), B::NAME)
    }
}

/// Shorthand for the trait methods: run the body, classify its error.
pub(crate) fn done<B: Backend, T>(r: crate::Result<T>) -> StoreResult<T> {
    r.map_err(SqlStore::<B>::fail)
}
