//! `JobQueue`: the handle services keep to enqueue jobs and to wake this process's
//! runner, so a job enqueued locally starts without waiting for the next poll.

use crate::model::{Enqueued, NewJob};
use crate::store::{JobStore, QueueResult};
use std::sync::Arc;
use tokio::sync::Notify;

/// Enqueues jobs into a [`JobStore`] and wakes the local runner. Cheap to clone.
#[derive(Clone)]
pub struct JobQueue {
    store: Arc<dyn JobStore>,
    wake: Arc<Notify>,
}

impl JobQueue {
    /// A queue on `store`; give it to [`crate::JobRunner::new`] so enqueues wake it.
    pub fn new(store: Arc<dyn JobStore>) -> JobQueue {
        JobQueue {
            store,
            wake: Arc::new(Notify::new()),
        }
    }

    /// The store behind the queue.
    pub fn store(&self) -> &Arc<dyn JobStore> {
        &self.store
    }

    /// Enqueues `job` in its own transaction (see `sqlite::enqueue_in` /
    /// `postgres::enqueue_in` to enqueue inside yours) and wakes the runner.
    pub async fn enqueue(&self, job: &NewJob) -> QueueResult<Enqueued> {
        let done = self.store.enqueue(job).await?;
        if done.is_new() {
            self.wake();
        }
        Ok(done)
    }

    /// Wakes the local runner to claim now (call after committing a transaction
    /// that enqueued with `enqueue_in`).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    pub(crate) fn notifier(&self) -> &Arc<Notify> {
        &self.wake
    }
}
