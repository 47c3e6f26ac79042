//! Retry delays: exponential in the attempt number, capped, with "equal jitter"
//! (half the delay fixed, half random) so jobs that failed together (a database
//! outage) do not retry in lockstep, yet every retry waits at least half its step.

use std::time::Duration;

/// Exponential backoff with jitter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay step after the first failure.
    pub base: Duration,
    /// Largest step.
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(2),
            cap: Duration::from_secs(3600),
        }
    }
}

impl Backoff {
    /// The step after failed attempt `attempt` (from 1): `base · 2^(attempt-1)`,
    /// at most `cap`; no jitter.
    pub fn step(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(40);
        let factor = 1u64 << exp;
        let base = u64::try_from(self.base.as_micros()).unwrap_or(u64::MAX);
        let cap = u64::try_from(self.cap.as_micros()).unwrap_or(u64::MAX);
        Duration::from_micros(base.saturating_mul(factor).min(cap))
    }

    /// The delay before retrying after failed attempt `attempt`: uniformly random in
    /// `[step/2, step]`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let step = u64::try_from(self.step(attempt).as_micros()).unwrap_or(u64::MAX);
        let half = step / 2;
        let spread = step - half;
        let jitter = if spread == 0 {
            0
        } else {
            rand::random::<u64>() % (spread + 1)
        };
        Duration::from_micros(half + jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_double_up_to_the_cap() {
        let b = Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(10),
        };
        let steps: Vec<u64> = (1..=6).map(|a| b.step(a).as_secs()).collect();
        assert_eq!(steps, vec![1, 2, 4, 8, 10, 10]);
        assert_eq!(b.step(0).as_secs(), 1, "attempt 0 behaves like 1");
        assert_eq!(b.step(u32::MAX).as_secs(), 10, "no overflow");
    }

    #[test]
    fn delays_stay_within_half_step_and_step_and_vary() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(60),
        };
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = b.delay(4);
            assert!(
                d >= Duration::from_millis(400) && d <= Duration::from_millis(800),
                "{d:?}"
            );
            seen.insert(d);
        }
        assert!(seen.len() > 10, "jitter must spread retries");
    }
}
