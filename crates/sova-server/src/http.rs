//! The HTTP(S) accept loop. Like `axum::serve`, plus what it lacks: a deadline for
//! a request's headers (slow-header "slowloris" clients are cut off), and the
//! client address handed to handlers as `ConnectInfo`. Upgraded WebSocket
//! connections leave hyper's hands and follow the gateway's own shutdown.

use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use std::net::SocketAddr;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// Serves `app` on `listener` until `shutdown`, then waits up to `grace` for
/// in-flight requests.
pub async fn serve<L>(
    mut listener: L,
    app: Router,
    header_timeout: Duration,
    grace: Duration,
    shutdown: CancellationToken,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    let graceful = GracefulShutdown::new();
    loop {
        let (io, peer) = tokio::select! {
            _ = shutdown.cancelled() => break,
            conn = listener.accept() => conn,
        };
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            app.clone().oneshot(req.map(axum::body::Body::new))
        });
        let mut builder = Builder::new(TokioExecutor::new());
        builder
            .http1()
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        builder.http2().timer(TokioTimer::new()).enable_connect_protocol();
        let conn = builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%peer, error = %e, "http connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("http requests still running after the grace period");
    }
}
