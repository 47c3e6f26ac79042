//! Timestamps travel as RFC 3339 UTC strings and are stored as Unix microseconds,
//! which both databases compare and index identically.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Current time in Unix microseconds.
pub fn now_micros() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000) as i64
}

/// Formats Unix microseconds as RFC 3339 UTC (`2023-12-01T10:00:00.123456Z`).
pub fn rfc3339(micros: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_z() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_701_424_800_000_000), "2023-12-01T10:00:00Z");
        assert_eq!(rfc3339(1_701_424_800_123_456), "2023-12-01T10:00:00.123456Z");
    }
}
