//! The realtime session core shared by WebSocket and TCP. A transport turns its
//! socket into a stream of `Inbound` frames and a `FrameSink`; everything else (frame
//! decoding, auth, dispatch to services, subscriptions, replay and backpressure)
//! happens here, so both transports behave identically.
//!
//! Invariants of one connection:
//! - up to `MAX_IN_FLIGHT` requests are handled concurrently; answers are written
//!   in the order the requests arrived, each carrying its request's `re`; writes (messages, edits, reactions, …) reach the writer in
//!   the order they were received (see `sova_service::order`), so they are stored,
//!   acknowledged and delivered in send order. `auth`, `auth_2fa` and `sync` (and
//!   anything before authentication) run alone: they wait for the requests in
//!   flight and nothing further is read until they finish. Pushes keep flowing while
//!   requests are in flight (except during a replay);
//! - a push is written only if its `seq` is above the last one written, so replay and
//!   live pushes never duplicate or reorder;
//! - the push queue is bounded; on overflow the connection is closed with its last
//!   `seq`, and the client resumes with `sync`.

mod attach;
mod decode;
pub mod hub;
pub use attach::Attached;
mod login;
mod seed;
mod sink;

use bytes::Bytes;
use decode::{OpFrame, Request};
use futures_util::future::BoxFuture;
use futures_util::stream::FuturesOrdered;
use futures_util::{FutureExt, Stream, StreamExt};
use hub::{Hub, Push};
use sink::{TimedSink, feed_frame, result_frame, send_frame};
use sova_service::{AuthUser, Services};
use sova_types::event::Event;
use sova_types::frames::{ClientFrame, ServerFrame};
use sova_types::{ApiError, ChatId, ErrorCode};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Time a new connection has to authenticate.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(30);
/// Malformed frames tolerated per `ABUSE_WINDOW` before the connection is closed.
pub const ABUSE_LIMIT: u32 = 50;
pub const ABUSE_WINDOW: Duration = Duration::from_secs(10);
/// Pushes written before one flush.
const WRITE_BATCH: usize = 64;
/// A write that makes no progress for this long means the peer stopped reading:
/// the connection is dropped (its client resumes with `since`).
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(15);

/// One unit read from a socket.
#[derive(Debug)]
pub enum Inbound {
    /// A complete frame (JSON expected).
    Frame(Bytes),
    /// A frame or line above the size limit (already discarded).
    TooLarge,
}

/// Why the server ends a connection (maps to WebSocket close codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// The peer left or the socket failed.
    Normal,
    /// The server is shutting down (1001).
    GoingAway,
    /// Auth timeout or repeated malformed frames (1008).
    Policy,
    /// Slow consumer: retry later and resume (1013).
    TryAgainLater,
}

/// The write half of a connection.
pub trait FrameSink: Send {
    /// Queues one frame (a JSON object, without framing).
    fn feed(&mut self, frame: Bytes) -> impl Future<Output = std::io::Result<()>> + Send;
    /// Writes out everything queued.
    fn flush(&mut self) -> impl Future<Output = std::io::Result<()>> + Send;
    /// Closes politely (WebSocket close frame with a code for `reason` / TCP shutdown).
    fn close(&mut self, reason: CloseReason) -> impl Future<Output = ()> + Send;
}

/// Shared by every connection of this process.
pub struct Gateway {
    services: Arc<Services>,
    hub: Arc<Hub>,
    next_conn: AtomicU64,
    /// Open connections per client address (this instance).
    per_ip: parking_lot::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>,
    max_per_ip: usize,
    queue_len: usize,
    max_frame: usize,
    frames_per_sec: u32,
    max_in_flight: usize,
}

impl Gateway {
    /// Creates the gateway and subscribes its hub to the bus.
    pub fn new(services: Arc<Services>) -> Arc<Gateway> {
        let max_per_ip = services.config.max_connections_per_ip;
        let hub = Arc::new(Hub::with_bus(&services.bus));
        services.bus.subscribe(hub.clone());
        Arc::new(Gateway {
            queue_len: services.config.outbound_queue,
            max_frame: services.config.max_frame_bytes,
            frames_per_sec: services.config.rate_limit_frames_per_sec,
            // A connection's own burst echoes back as pushes into its queue: keep
            // the burst well below the queue, or a pipelining sender would cut
            // itself off as a slow consumer.
            max_in_flight: services
                .config
                .max_in_flight
                .min(services.config.outbound_queue / 2)
                .max(1),
            services,
            hub,
            next_conn: AtomicU64::new(1),
            per_ip: parking_lot::Mutex::new(std::collections::HashMap::new()),
            max_per_ip: max_per_ip.max(1),
        })
    }

    /// The client address behind trusted proxies (see `Config::client_ip`).
    pub fn client_ip(&self, peer: std::net::IpAddr, forwarded_for: Option<&str>) -> std::net::IpAddr {
        self.services.config.client_ip(peer, forwarded_for)
    }

    /// Largest accepted frame in bytes (transports enforce it while reading).
    pub fn max_frame_bytes(&self) -> usize {
        self.max_frame
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Runs one connection until the peer leaves, it misbehaves, or `shutdown` fires.
    pub async fn serve<S, K>(
        self: Arc<Self>,
        incoming: S,
        sink: K,
        peer: SocketAddr,
        agent: String,
        shutdown: CancellationToken,
    ) where
        S: Stream<Item = Inbound> + Unpin + Send,
        K: FrameSink,
    {
        let ip = peer.ip();
        let admitted = {
            let mut map = self.per_ip.lock();
            let n = map.entry(ip).or_default();
            if *n >= self.max_per_ip {
                false
            } else {
                *n += 1;
                true
            }
        };
        if !admitted {
            let mut sink = sink;
            let refused = ServerFrame::error(
                ApiError::rate_limited("too many connections from this address", 10),
                None,
            );
            let _ = tokio::time::timeout(Duration::from_secs(1), send_frame(&mut sink, &refused)).await;
            let _ = tokio::time::timeout(Duration::from_secs(1), sink.close(CloseReason::Policy)).await;
            drop(incoming);
            return;
        }
        let transport = ["tcp", "grpc", "graphql"]
            .into_iter()
            .find(|t| agent.starts_with(t))
            .unwrap_or("ws");
        sova_service::telemetry::connections(transport, 1.0);
        self.serve_admitted(incoming, sink, peer, agent, shutdown).await;
        sova_service::telemetry::connections(transport, -1.0);
        let mut map = self.per_ip.lock();
        if let Some(n) = map.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                map.remove(&ip);
            }
        }
    }

    async fn serve_admitted<S, K>(
        self: &Arc<Self>,
        incoming: S,
        sink: K,
        peer: SocketAddr,
        agent: String,
        shutdown: CancellationToken,
    ) where
        S: Stream<Item = Inbound> + Unpin + Send,
        K: FrameSink,
    {
        let id = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::channel(self.queue_len);
        let mut conn = Conn {
            gw: self.clone(),
            id,
            user: None,
            token: None,
            last_sent: 0,
            replaying: false,
            resync: false,
            silent_replay: false,
            tx,
            overflow: CancellationToken::new(),
            abuse: (Instant::now(), 0),
            peer,
            agent,
            revoked: false,
            frames: (Instant::now(), 0, 0),
            lane: sova_service::order::Lane::new(),
        };
        tracing::debug!(conn = id, %peer, "connection opened");
        let sink = TimedSink {
            inner: sink,
            abort: Some(conn.overflow.clone()),
            limit: WRITE_TIMEOUT,
        };
        conn.run(incoming, sink, rx, shutdown).await;
        self.hub.unregister(id);
        if let Some(user) = &conn.user {
            self.services.presence.disconnected(user.user_id).await;
        }
        tracing::debug!(conn = id, %peer, "connection closed");
    }
}

/// What a finished request does to the connection.
pub(crate) enum Outcome {
    Reply(Option<ServerFrame>),
    /// An answer already encoded (an operation's `result` frame).
    Raw(Bytes),
    Authed {
        user: AuthUser,
        token: String,
        chats: Vec<ChatId>,
        reply: ServerFrame,
        since: Option<i64>,
        then: Option<Box<ClientFrame>>,
        /// The newest committed seq when authenticating: where resyncs start for a
        /// client that asked for no history.
        baseline: i64,
    },
    /// One replay page; `more` asks for the next page after `until`.
    Replay {
        re: Option<String>,
        frames: Vec<Push>,
        more: bool,
        until: i64,
    },
    Error(ApiError, Option<String>),
}

struct Conn {
    gw: Arc<Gateway>,
    id: u64,
    user: Option<AuthUser>,
    token: Option<String>,
    last_sent: i64,
    replaying: bool,
    /// The bus may have missed events: replay from `last_sent` when idle.
    resync: bool,
    /// The running replay is a resync: it ends without `synced`.
    silent_replay: bool,
    tx: mpsc::Sender<Push>,
    overflow: CancellationToken,
    abuse: (Instant, u32),
    peer: SocketAddr,
    /// What the transport knows of the client software (WebSocket User-Agent, or "tcp").
    agent: String,
    /// This connection's session was revoked: close it.
    revoked: bool,
    /// Per-second frame counter: (window start, previous count, current count).
    frames: (Instant, u64, u64),
    /// Keeps this connection's writes in the order its frames arrived.
    lane: Arc<sova_service::order::Lane>,
}

/// Requests of one connection being handled: they run concurrently, and their
/// answers are written in the order the requests arrived (so acks keep send order).
type InFlight = FuturesOrdered<BoxFuture<'static, Outcome>>;

impl Conn {
    async fn run<S, K>(
        &mut self,
        mut incoming: S,
        mut sink: TimedSink<K>,
        mut rx: mpsc::Receiver<Push>,
        shutdown: CancellationToken,
    ) where
        S: Stream<Item = Inbound> + Unpin + Send,
        K: FrameSink,
    {
        let mut in_flight = InFlight::new();
        // A request that must run alone is in flight (auth, sync, a replay page).
        let mut exclusive = false;
        // A request that must run alone, waiting for the ones in flight to finish.
        let mut deferred: Option<(Request, Option<String>)> = None;
        let max_in_flight = self.gw.max_in_flight;
        let auth_deadline = tokio::time::sleep(AUTH_TIMEOUT);
        tokio::pin!(auth_deadline);
        let (final_frame, reason): (Option<ServerFrame>, CloseReason) = loop {
            let authed = self.user.is_some();
            if in_flight.is_empty() {
                exclusive = false;
                if let Some((frame, re)) = deferred.take() {
                    exclusive = true;
                    match self.start(frame, re) {
                        Ok(fut) => in_flight.push_back(fut),
                        Err((err, re)) => {
                            exclusive = false;
                            if send_frame(&mut sink, &ServerFrame::error(err, re)).await.is_err() {
                                break (None, CloseReason::Normal);
                            }
                        }
                    }
                    continue;
                }
                if self.resync && authed && !self.replaying {
                    // Catch up on events the bus may have missed; no `synced` for this one.
                    self.resync = false;
                    self.replaying = true;
                    self.silent_replay = true;
                    exclusive = true;
                    in_flight.push_back(self.replay_page(self.last_sent, None));
                }
            }
            let live = authed && !self.replaying;
            let readable = !exclusive && deferred.is_none() && in_flight.len() < max_in_flight;
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => {
                    // Finish the requests in flight so their answers are not lost.
                    let drain = async {
                        let mut ignored = InFlight::new();
                        while let Some(outcome) = in_flight.next().await {
                            if self.apply(outcome, &mut sink, &mut ignored).await.is_err() {
                                break;
                            }
                        }
                        sink.flush().await
                    };
                    let _ = tokio::time::timeout(WRITE_TIMEOUT, drain).await;
                    break (
                        Some(ServerFrame::error(ApiError::unavailable("server is shutting down"), None)),
                        CloseReason::GoingAway,
                    );
                }
                _ = self.overflow.cancelled() => break self.cut_off(),
                _ = &mut auth_deadline, if !authed => {
                    break (
                        Some(ServerFrame::error(ApiError::unauthorized("authentication timed out"), None)),
                        CloseReason::Policy,
                    );
                }
                push = rx.recv(), if live => {
                    let Some(push) = push else { break (None, CloseReason::Normal) };
                    if self.write_pushes(&mut sink, push, &mut rx).await.is_err() {
                        // A write the hub aborted because the queue overflowed.
                        break if self.overflow.is_cancelled() { self.cut_off() } else { (None, CloseReason::Normal) };
                    }
                    if self.revoked {
                        break (
                            Some(ServerFrame::error(ApiError::unauthorized("this session was revoked"), None)),
                            CloseReason::Policy,
                        );
                    }
                }
                Some(outcome) = in_flight.next(), if !in_flight.is_empty() => {
                    // Answer this one and every other request already finished, then
                    // flush once.
                    let mut written = self.apply(outcome, &mut sink, &mut in_flight).await;
                    let mut n = 1;
                    while written.is_ok() && n < WRITE_BATCH {
                        let Some(Some(outcome)) = in_flight.next().now_or_never() else { break };
                        written = self.apply(outcome, &mut sink, &mut in_flight).await;
                        n += 1;
                    }
                    if written.is_err() || sink.flush().await.is_err() {
                        break (None, CloseReason::Normal);
                    }
                }
                inbound = incoming.next(), if readable => {
                    let Some(inbound) = inbound else { break (None, CloseReason::Normal) };
                    let decoded = self.on_inbound(inbound).and_then(|(frame, re)| {
                        if self.runs_alone(&frame) {
                            if in_flight.is_empty() {
                                exclusive = true;
                                self.start(frame, re).map(Some)
                            } else {
                                deferred = Some((frame, re));
                                Ok(None)
                            }
                        } else {
                            let turn = self.lane.ticket();
                            self.start(frame, re).map(|fut| Some(turn.scope(fut).boxed()))
                        }
                    });
                    match decoded {
                        Ok(Some(fut)) => in_flight.push_back(fut),
                        Ok(None) => {}
                        Err((err, re)) => {
                            exclusive = exclusive && !in_flight.is_empty();
                            let fatal = self.note_abuse();
                            if send_frame(&mut sink, &ServerFrame::error(err, re)).await.is_err() {
                                break (None, CloseReason::Normal);
                            }
                            if fatal {
                                break (
                                    Some(ServerFrame::error(
                                        ApiError::new(ErrorCode::RateLimited, "too many malformed frames"),
                                        None,
                                    )),
                                    CloseReason::Policy,
                                );
                            }
                        }
                    }
                }
            }
        };
        // Last words, briefly: the peer may not be reading at all.
        sink.abort = None;
        sink.limit = Duration::from_secs(1);
        if let Some(frame) = final_frame {
            let _ = send_frame(&mut sink, &frame).await;
        }
        sink.close(reason).await;
    }

    /// The last words to a slow consumer: where to resume from.
    fn cut_off(&self) -> (Option<ServerFrame>, CloseReason) {
        (
            Some(ServerFrame::Error {
                code: ErrorCode::SlowConsumer,
                message: "too many undelivered events; reconnect and sync from seq".into(),
                re: None,
                seq: Some(self.last_sent),
                retry_after: None,
                details: Some(serde_json::json!({ "seq": self.last_sent })),
            }),
            CloseReason::TryAgainLater,
        )
    }

    /// Whether `frame` must run with nothing else in flight: it changes who the
    /// connection is or what it has seen, so later frames depend on its outcome.
    fn runs_alone(&self, frame: &Request) -> bool {
        match frame {
            Request::Seed(ClientFrame::Auth { .. } | ClientFrame::Auth2fa { .. } | ClientFrame::Sync { .. }) => true,
            Request::Seed(ClientFrame::Message { token: Some(t), .. }) => self.token.as_deref() != Some(t.as_str()),
            _ => self.user.is_none(),
        }
    }

    /// Starts handling a decoded frame.
    fn start(
        &mut self,
        frame: Request,
        re: Option<String>,
    ) -> Result<BoxFuture<'static, Outcome>, (ApiError, Option<String>)> {
        match frame {
            Request::Seed(frame) => self.dispatch(frame, re),
            Request::Op(entry, op) => self.dispatch_op(entry, op, re),
        }
    }

    /// Runs a registry operation as the connection's user; the answer is `result`
    /// with exactly the REST body as `data`.
    fn dispatch_op(
        &mut self,
        entry: &'static sova_ops::Entry,
        op: OpFrame,
        re: Option<String>,
    ) -> Result<BoxFuture<'static, Outcome>, (ApiError, Option<String>)> {
        if self.user.is_none() {
            return Err((ApiError::unauthorized("authenticate first with an auth frame"), re));
        }
        let caller = sova_ops::Caller {
            user: self.user.clone(),
            ip: self.peer.ip(),
            agent: self.agent.clone(),
        };
        let services = self.gw.services.clone();
        Ok(async move {
            match entry.call(services, caller, op.params).await {
                Ok(out) => Outcome::Raw(result_frame(re.as_deref(), out.body.as_ref())),
                Err(e) => Outcome::Error(e, re),
            }
        }
        .boxed())
    }

    /// Writes `first` and whatever else is queued (up to a batch), then flushes once.
    async fn write_pushes<K: FrameSink>(
        &mut self,
        sink: &mut K,
        first: Push,
        rx: &mut mpsc::Receiver<Push>,
    ) -> std::io::Result<()> {
        let mut next = Some(first);
        let mut n = 0;
        while let Some(push) = next.take() {
            match push.event() {
                Event::Resync => self.resync = true,
                Event::SessionRevoked { session, .. }
                    if self
                        .user
                        .as_ref()
                        .is_some_and(|u| !u.session.is_empty() && *session == u.session) =>
                {
                    self.revoked = true;
                    return Ok(());
                }
                Event::SessionRevoked { .. } => {}
                // Ephemeral (typing, presence, alerts): not sequenced, never replayed.
                _ if push.seq() == 0 => {
                    sink.feed(push.json().clone()).await?;
                    n += 1;
                }
                _ if push.seq() > self.last_sent => {
                    sink.feed(push.json().clone()).await?;
                    self.last_sent = push.seq();
                    n += 1;
                }
                _ => {}
            }
            if n < WRITE_BATCH {
                next = rx.try_recv().ok();
            }
        }
        sink.flush().await
    }

    /// Counts a malformed frame; true when the connection should be closed.
    fn note_abuse(&mut self) -> bool {
        let now = Instant::now();
        if now.duration_since(self.abuse.0) > ABUSE_WINDOW {
            self.abuse = (now, 0);
        }
        self.abuse.1 += 1;
        // Malformed traffic also costs the address reputation.
        let (services, ip) = (self.gw.services.clone(), self.peer.ip());
        tokio::spawn(async move {
            services
                .auth
                .reputation
                .penalize(ip, sova_service::abuse::points::MALFORMED)
                .await
        });
        self.abuse.1 > ABUSE_LIMIT
    }

    /// Session metadata for a login on this connection.
    fn client(
        &self,
        device_id: Option<String>,
        captcha: Option<sova_types::models::CaptchaSolution>,
    ) -> sova_service::auth::Client {
        sova_service::auth::Client {
            ip: self.peer.ip(),
            device_id: device_id.unwrap_or_default(),
            user_agent: self.agent.clone(),
            captcha,
        }
    }

    /// Sliding-window frame limit for this connection.
    fn frame_allowed(&mut self) -> bool {
        let now = Instant::now();
        let (start, prev, curr) = &mut self.frames;
        let elapsed = now.duration_since(*start);
        if elapsed >= Duration::from_secs(2) {
            *start = now;
            *prev = 0;
            *curr = 0;
        } else if elapsed >= Duration::from_secs(1) {
            *start += Duration::from_secs(1);
            *prev = *curr;
            *curr = 0;
        }
        *curr += 1;
        let ms = now.duration_since(*start).as_millis() as u64;
        let allowed = sova_limits::sliding_count(*prev, *curr, ms, 1000) <= f64::from(self.gw.frames_per_sec);
        if !allowed {
            // Refused frames do not prolong the penalty.
            *curr -= 1;
        }
        allowed
    }

    /// Decodes a frame (after the frame-rate and size checks).
    fn on_inbound(&mut self, inbound: Inbound) -> Result<(Request, Option<String>), (ApiError, Option<String>)> {
        if !self.frame_allowed() {
            // Only refused frames pay for finding their id, so the client can match the refusal.
            let re = match &inbound {
                Inbound::Frame(b) => decode::probe_id(b),
                Inbound::TooLarge => None,
            };
            return Err((ApiError::rate_limited("too many frames per second", 1), re));
        }
        let bytes = match inbound {
            Inbound::Frame(b) => b,
            Inbound::TooLarge => {
                return Err((
                    ApiError::too_large_max(
                        format!("frame exceeds {} bytes", self.gw.max_frame),
                        self.gw.max_frame as u64,
                    ),
                    None,
                ));
            }
        };
        if bytes.len() > self.gw.max_frame {
            return Err((
                ApiError::too_large_max(
                    format!("frame exceeds {} bytes", self.gw.max_frame),
                    self.gw.max_frame as u64,
                ),
                None,
            ));
        }
        decode::decode(&bytes)
    }

    /// Writes a finished request's answer (without flushing) and starts whatever
    /// it leads to (the next replay page, a frame that waited for authentication).
    async fn apply<K: FrameSink>(
        &mut self,
        outcome: Outcome,
        sink: &mut K,
        in_flight: &mut InFlight,
    ) -> std::io::Result<()> {
        match outcome {
            Outcome::Reply(Some(frame)) => feed_frame(sink, &frame).await?,
            Outcome::Reply(None) => {}
            Outcome::Raw(frame) => sink.feed(frame).await?,
            Outcome::Error(err, re) => {
                if err.code == ErrorCode::Internal {
                    tracing::warn!(conn = self.id, "request failed with an internal error");
                }
                feed_frame(sink, &ServerFrame::error(err, re)).await?;
            }
            Outcome::Authed {
                user,
                token,
                chats,
                reply,
                since,
                then,
                baseline,
            } => {
                if self.user.is_none() && since.filter(|s| *s >= 0).is_none() {
                    self.last_sent = self.last_sent.max(baseline);
                }
                if self.user.is_none() {
                    self.gw
                        .hub
                        .register(self.id, user.user_id, &chats, &self.tx, &self.overflow);
                    self.gw.services.presence.connected(user.user_id).await;
                }
                self.user = Some(user);
                self.token = Some(token);
                feed_frame(sink, &reply).await?;
                if let Some(frame) = then {
                    let re = frame.request_id().map(str::to_owned);
                    match self.dispatch(*frame, re) {
                        Ok(fut) => in_flight.push_back(fut),
                        Err((e, re)) => feed_frame(sink, &ServerFrame::error(e, re)).await?,
                    }
                } else if let Some(since) = since.filter(|s| *s >= 0) {
                    self.replaying = true;
                    in_flight.push_back(self.replay_page(since, None));
                }
            }
            Outcome::Replay {
                re,
                frames,
                more,
                until,
            } => {
                for push in frames {
                    sink.feed(push.json().clone()).await?;
                    self.last_sent = self.last_sent.max(push.seq());
                }
                if more {
                    in_flight.push_back(self.replay_page(until, re));
                } else {
                    self.replaying = false;
                    let seq = self.last_sent.max(until);
                    self.last_sent = seq;
                    if !std::mem::take(&mut self.silent_replay) {
                        feed_frame(sink, &ServerFrame::Synced { re, seq }).await?;
                    }
                }
            }
        }
        Ok(())
    }
}
