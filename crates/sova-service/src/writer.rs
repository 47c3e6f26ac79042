//! The one ordered writer of this process. Every state change that emits events is
//! queued here and committed in batches (group commit: one transaction, one fsync
//! for many ops); after each commit the typed events are published in seq order
//! (each encoded at most once, when the first recipient needs it). A change is acknowledged only after its batch committed.

use crate::store_err;
use sova_bus::{Audience, BusEvent, EventBus};
use sova_store::{Committed, Stores, WriteOp};
use sova_types::ApiError;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// Most ops committed in one transaction.
pub const MAX_BATCH: usize = 512;

struct WriteReq {
    op: WriteOp,
    reply: oneshot::Sender<Result<Committed, ApiError>>,
}

/// A handle to the writer task; cheap to clone.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<WriteReq>,
}

impl Writer {
    /// Starts the writer; it stops once every handle is dropped and the queue is drained.
    pub fn start(stores: Stores, bus: Arc<dyn EventBus>) -> (Writer, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        (Writer { tx }, tokio::spawn(run(rx, stores, bus)))
    }

    /// Commits one op (batched with concurrent ones) and returns what it did.
    pub async fn submit(&self, op: WriteOp) -> Result<Committed, ApiError> {
        let (reply, rx) = oneshot::channel();
        // A pipelined connection's writes are queued in the order it sent them.
        crate::order::in_turn(self.tx.send(WriteReq { op, reply }))
            .await
            .map_err(|_| ApiError::unavailable("server is shutting down"))?;
        rx.await.map_err(|_| ApiError::unavailable("server is shutting down"))?
    }
}

/// The bus form of a stored event.
pub fn bus_event(e: &sova_store::StoredEvent) -> Option<BusEvent> {
    let audience = match (e.chat_id, e.target_user) {
        (Some(c), _) => Audience::Chat(c),
        (None, Some(u)) => Audience::User(u),
        (None, None) => return None,
    };
    Some(BusEvent::new(audience, e.event.clone()))
}

/// Publishes events another process committed but did not live to publish.
async fn publish_orphans(stores: &Stores, bus: &dyn EventBus) {
    loop {
        let orphans = match stores.messages.unpublished(1000).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(error = %e, "cannot look for unpublished events");
                return;
            }
        };
        let Some(last) = orphans.last().map(|e| e.seq) else {
            return;
        };
        tracing::warn!(
            count = orphans.len(),
            up_to = last,
            "publishing events a previous publisher left behind"
        );
        for e in &orphans {
            if let Some(ev) = bus_event(e) {
                bus.publish(ev);
            }
        }
        if bus.flush().await.is_err() || stores.messages.mark_published(last).await.is_err() {
            return;
        }
    }
}

async fn run(mut rx: mpsc::Receiver<WriteReq>, stores: Stores, bus: Arc<dyn EventBus>) {
    let mut reqs: Vec<WriteReq> = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut reqs, MAX_BATCH).await > 0 {
        let ops: Vec<WriteOp> = reqs.iter().map(|r| r.op.clone()).collect();
        // With several processes on one bus, commit + publish must not interleave
        // with another process's, or remote clients could see seq 101 before 100.
        let guard = if bus.distributed() {
            match stores.messages.lock_publication().await {
                Ok(g) => g,
                Err(e) => {
                    let err = store_err(e);
                    for req in reqs.drain(..) {
                        let _ = req.reply.send(Err(err.clone()));
                    }
                    continue;
                }
            }
        } else {
            None
        };
        if guard.is_some() {
            publish_orphans(&stores, bus.as_ref()).await;
        }
        let started = std::time::Instant::now();
        let committed = stores.messages.commit(&ops).await;
        crate::telemetry::group_commit(ops.len(), started.elapsed());
        let mut last = None;
        if let Ok(results) = &committed {
            let sent = results
                .iter()
                .filter(|r| {
                    matches!(r.outcome, sova_store::Outcome::Message(_))
                        && r.events
                            .first()
                            .is_some_and(|e| matches!(e.event, sova_types::Event::NewMessage(_)))
                })
                .count();
            crate::telemetry::messages(sent as u64);
            for e in results.iter().flat_map(|r| &r.events) {
                last = Some(e.seq);
                if let Some(ev) = bus_event(e) {
                    bus.publish(ev);
                }
            }
        }
        if let Some(guard) = guard {
            match bus.flush().await {
                Ok(()) => {
                    if let Some(seq) = last
                        && let Err(e) = stores.messages.mark_published(seq).await
                    {
                        tracing::warn!(error = %e, "recording the published position failed");
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "publishing to the bus failed; remote clients resync on reconnect")
                }
            }
            guard.release().await;
        }
        match committed {
            Ok(results) => {
                for (req, result) in reqs.drain(..).zip(results) {
                    let _ = req.reply.send(Ok(result));
                }
            }
            Err(e) => {
                let err = store_err(e);
                for req in reqs.drain(..) {
                    let _ = req.reply.send(Err(err.clone()));
                }
            }
        }
    }
    tracing::debug!("writer stopped");
}
