//! Submission order for pipelined connections. A socket connection may have many
//! requests in flight, but its writes must reach the writer (and so be stored,
//! acknowledged and delivered) in the order the client sent them. Each request of a
//! connection takes a ticket from the connection's [`Lane`] and runs inside
//! [`Turn::scope`]; [`crate::Writer::submit`] waits until every earlier ticket of the
//! same lane has either queued its first write or finished, then queues its own.
//! Work before the first write (decoding, validation, rate-limit round trips, reads)
//! still overlaps freely, and lanes of different connections never wait on each other.

use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

tokio::task_local! {
    static TURN: Turn;
}

#[derive(Default)]
struct LaneState {
    /// The next ticket to hand out.
    issued: u64,
    /// Every ticket below this one has been released.
    turn: u64,
    /// Released tickets above `turn` (their predecessors are still running).
    early: BTreeSet<u64>,
    /// Tickets waiting for their turn. Only the ticket whose turn it becomes is woken:
    /// waking every waiter on each release made a full pipeline (hundreds of requests
    /// in flight) cost quadratic wake-ups, the top of the server's profile.
    waiting: HashMap<u64, Waker>,
}

/// The tickets of one connection.
#[derive(Default)]
pub struct Lane {
    state: Mutex<LaneState>,
}

/// One request's place in its connection's lane; released when the request queues
/// its first write or ends (completes, fails or is dropped), whichever comes first.
#[derive(Clone)]
pub struct Turn {
    lane: Arc<Lane>,
    ticket: u64,
}

impl Lane {
    /// A new, empty lane (one per connection).
    pub fn new() -> Arc<Lane> {
        Arc::default()
    }

    /// The next place in line, in the order requests were received.
    pub fn ticket(self: &Arc<Self>) -> Turn {
        let mut s = self.state.lock();
        let ticket = s.issued;
        s.issued += 1;
        Turn {
            lane: self.clone(),
            ticket,
        }
    }

    fn release(&self, ticket: u64) {
        let next = {
            let mut s = self.state.lock();
            s.waiting.remove(&ticket);
            if ticket < s.turn {
                return;
            }
            if ticket == s.turn {
                s.turn += 1;
                loop {
                    let next = s.turn;
                    if !s.early.remove(&next) {
                        break;
                    }
                    s.turn += 1;
                }
                let turn = s.turn;
                s.waiting.remove(&turn)
            } else {
                s.early.insert(ticket);
                None
            }
        };
        if let Some(w) = next {
            w.wake();
        }
    }
}

/// Releases a turn when the request's future is dropped.
struct Release(Turn);

impl Drop for Release {
    fn drop(&mut self) {
        self.0.lane.release(self.0.ticket);
    }
}

impl Turn {
    /// Runs `fut` holding this turn; writes it submits wait for earlier turns.
    /// The turn is released even if the returned future is dropped unpolled.
    pub fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        let release = Release(self.clone());
        async move {
            let _release = release;
            TURN.scope(self, fut).await
        }
    }

    /// Resolves once every earlier ticket of the lane is released.
    fn wait(&self) -> WaitTurn<'_> {
        WaitTurn(self)
    }

    fn release(&self) {
        self.lane.release(self.ticket);
    }
}

/// Resolves when its ticket's turn comes; checks and registers under one lock, so a
/// release in between cannot be missed.
struct WaitTurn<'a>(&'a Turn);

impl Future for WaitTurn<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let t = self.0;
        let mut s = t.lane.state.lock();
        if s.turn >= t.ticket {
            s.waiting.remove(&t.ticket);
            return Poll::Ready(());
        }
        match s.waiting.get_mut(&t.ticket) {
            Some(w) if w.will_wake(cx.waker()) => {}
            Some(w) => w.clone_from(cx.waker()),
            None => {
                s.waiting.insert(t.ticket, cx.waker().clone());
            }
        }
        Poll::Pending
    }
}

/// Waits for the current request's turn, runs `queue` (which must only enqueue, not
/// wait for the commit), then lets the next request of the lane go. Outside a lane
/// it just runs `queue`.
pub(crate) async fn in_turn<T>(queue: impl Future<Output = T>) -> T {
    let turn = TURN.try_with(Clone::clone).ok();
    if let Some(t) = &turn {
        t.wait().await;
    }
    let out = queue.await;
    if let Some(t) = &turn {
        t.release();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn writes_keep_ticket_order_even_when_later_requests_are_ready_first() {
        let lane = Lane::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for i in 0..20u64 {
            let turn = lane.ticket();
            let log = log.clone();
            tasks.push(tokio::spawn(turn.scope(async move {
                // Later tickets finish their preparation first.
                tokio::time::sleep(Duration::from_millis(60 - 3 * i)).await;
                in_turn(async { log.lock().push(i) }).await;
            })));
        }
        for t in tasks {
            t.await.unwrap_or_default();
        }
        assert_eq!(*log.lock(), (0..20).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn a_request_that_never_writes_releases_its_turn_when_it_ends() {
        let lane = Lane::new();
        let reader = lane.ticket();
        let writer = lane.ticket();
        let read = tokio::spawn(reader.scope(tokio::time::sleep(Duration::from_millis(30))));
        let wrote = tokio::time::timeout(Duration::from_secs(5), writer.scope(in_turn(async { "written" }))).await;
        assert_eq!(wrote.ok(), Some("written"));
        read.await.unwrap_or_default();
        // A dropped (cancelled) request releases too.
        let dropped = lane.ticket();
        drop(dropped.scope(std::future::pending::<()>()));
        let after = lane.ticket();
        let done = tokio::time::timeout(Duration::from_secs(5), after.scope(in_turn(async { 1 }))).await;
        assert_eq!(done.ok(), Some(1));
    }
}
