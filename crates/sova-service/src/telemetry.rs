//! Prometheus metrics: the `metrics` facade with the Prometheus recorder, rendered
//! by our own `/metrics` route. The recorder is process-wide (the facade's design);
//! it is installed once, even when a process runs several servers (tests).

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (once) and returns the handle that renders it.
pub fn install() -> Option<PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            match metrics::set_global_recorder(recorder) {
                Ok(()) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder already set elsewhere");
                    None
                }
            }
        })
        .clone()
}

/// Counts a security-relevant event (alertable): `kind` is a fixed label value.
pub fn security_event(kind: &'static str) {
    metrics::counter!("sova_security_events_total", "kind" => kind).increment(1);
}

/// Counts a login outcome.
pub fn login(result: &'static str) {
    metrics::counter!("sova_logins_total", "result" => result).increment(1);
}

/// Counts stored messages.
pub fn messages(n: u64) {
    metrics::counter!("sova_messages_total").increment(n);
}

/// Tracks open socket connections by transport.
pub fn connections(transport: &'static str, delta: f64) {
    metrics::gauge!("sova_connections", "transport" => transport).increment(delta);
}

/// Records one group commit: how many ops it carried, how long the transaction took
/// and how long the ops had waited in the queue before it began.
pub fn group_commit(ops: usize, commit: std::time::Duration) {
    metrics::histogram!("sova_writer_batch_ops").record(ops as f64);
    metrics::histogram!("sova_writer_commit_seconds").record(commit.as_secs_f64());
}
