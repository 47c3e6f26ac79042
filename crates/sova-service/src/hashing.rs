//! Password hashing on a fixed pool of threads. Argon2id needs 19 MiB per hash; run
//! on the shared blocking pool, every new thread got its own allocator arena and kept
//! that memory (1.2 GB after 200 registrations and 200 logins). A few long-lived
//! workers reuse theirs, so memory stays bounded whatever the burst, and hashing can
//! never occupy more cores than the pool has threads.

use parking_lot::Mutex;
use sova_types::ApiError;
use std::sync::Arc;
use std::sync::mpsc;
use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of hashing threads fed by one queue.
pub struct HashPool {
    queue: Mutex<mpsc::Sender<Job>>,
}

impl HashPool {
    /// Starts `threads` workers (at least one); they stop when the pool is dropped.
    pub fn new(threads: usize) -> HashPool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("sova-hash-{i}"))
                .spawn(move || {
                    loop {
                        // Hold the lock only to take a job, never while running it.
                        let job = rx.lock().recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start a hashing thread");
            }
        }
        HashPool { queue: Mutex::new(tx) }
    }

    /// Runs `work` on a hashing thread and waits for its result (in queue order).
    pub async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        self.queue
            .lock()
            .send(job)
            .map_err(|_| ApiError::unavailable("shutting down"))?;
        rx.await.map_err(|_| ApiError::internal())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[tokio::test]
    async fn work_runs_on_the_pools_own_threads_only() {
        let pool = Arc::new(HashPool::new(2));
        let mut tasks = Vec::new();
        for i in 0..32u64 {
            let pool = pool.clone();
            tasks.push(tokio::spawn(async move {
                pool.run(move || (i * 2, std::thread::current().name().map(str::to_owned)))
                    .await
                    .unwrap()
            }));
        }
        let mut names = HashSet::new();
        for (i, t) in tasks.into_iter().enumerate() {
            let (v, name) = t.await.unwrap();
            assert_eq!(v, i as u64 * 2);
            names.insert(name.unwrap_or_default());
        }
        assert!(!names.is_empty() && names.len() <= 2, "{names:?}");
        assert!(names.iter().all(|n| n.starts_with("sova-hash-")), "{names:?}");
    }
}
