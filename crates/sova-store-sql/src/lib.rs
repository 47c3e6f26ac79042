//! SQL shared by the SQLite and PostgreSQL stores, written once as plain generic
//! Rust. `SqlStore<B>` implements every `sova-store` trait for any `Backend` `B`;
//! a backend only supplies what really differs between the databases: how a write
//! transaction takes the event-counter lock, the multi-row message insert, error
//! classification and the cross-process publication lock. The queries use the
//! common dialect (`$n` parameters, `ON CONFLICT`, `RETURNING`, row values,
//! `CAST`), so both databases run literally the same statements.
//!
//! The code is grouped by domain: `users`, `tokens` (refresh tokens, sessions,
//! audit), `chats` (chats, members, invites), `messages` (reads), `events`,
//! `counters` (named checkpoints), `reseal` (key rotation) and `writer` (the
//! group-commit write path). Domain rules come from `sova_core`; this crate only
//! reads and writes.

mod backend;
mod chats;
mod counters;
mod error;
mod events;
mod files;
mod games;
mod messages;
mod reseal;
mod retry;
mod rows;
mod search;
mod store;
mod tasks;
mod tokens;
mod users;
mod writer;

pub use backend::{Backend, Db};
pub use error::{Error, Result};
pub use retry::{MAX_ATTEMPTS, backoff};
pub use store::SqlStore;

/// Mentioned user ids as stored (comma-separated).
pub fn format_ids(ids: &[sova_types::UserId]) -> String {
    ids.iter().map(|i| i.0.to_string()).collect::<Vec<_>>().join(",")
}

/// A message's uploaded files as stored (JSON; NULL when it carries none).
pub fn attachments_json(row: &sova_store::MessageRow) -> Option<String> {
    if row.attachments.is_empty() {
        None
    } else {
        serde_json::to_string(&row.attachments).ok()
    }
}

/// Parses `format_ids` output; ignores junk.
pub fn parse_ids(s: &str) -> Vec<sova_types::UserId> {
    s.split(',')
        .filter_map(|p| p.trim().parse().ok())
        .map(sova_types::UserId)
        .collect()
}

/// Lower-case hex of `bytes` (session ids are the hex of refresh-token families).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Bytes of a hex string, if it is one.
pub fn hex_decode(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sova_types::UserId;

    #[test]
    fn ids_and_hex_round_trip() {
        let ids = [UserId(3), UserId(10)];
        assert_eq!(parse_ids(&format_ids(&ids)), ids);
        assert_eq!(parse_ids("1, x,2"), [UserId(1), UserId(2)]);
        assert_eq!(hex(&[0, 171]), "00ab");
        assert_eq!(hex_decode("00ab"), Some(vec![0, 171]));
        assert_eq!(hex_decode("0"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}
