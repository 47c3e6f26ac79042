//! IP reputation and a self-hosted CAPTCHA. Bad signs from an address (failed
//! logins, rate-limit hits, malformed traffic) add penalty points in a 15-minute
//! sliding window, shared across instances through Redis when configured. Past one
//! threshold, logins and registrations from that address need a solved
//! proof-of-work challenge; past another, they are refused until the points decay.
//! Challenges are stateless (HMAC-signed, 2-minute expiry) and single-use.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sova_limits::Limits;
use sova_types::{ApiError, ErrorCode};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// Window in which penalty points count.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Challenge lifetime, seconds.
pub const CHALLENGE_SECS: i64 = 120;

/// Penalty points per kind of bad sign.
pub mod points {
    pub const FAILED_LOGIN: u32 = 5;
    pub const RATE_LIMITED: u32 = 3;
    pub const MALFORMED: u32 = 1;
}

/// A proof-of-work challenge: find `nonce` so that SHA-256(`challenge` ":" `nonce`)
/// starts with `difficulty` zero bits.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Challenge {
    pub challenge: String,
    pub difficulty: u32,
    pub expires_in: i64,
    pub algorithm: String,
}

/// A solved challenge, sent with login or registration.
pub use sova_types::models::CaptchaSolution as Solution;

pub struct Reputation {
    limits: Arc<dyn Limits>,
    key: Vec<u8>,
    pub difficulty: u32,
    captcha_at: f64,
    block_at: f64,
}

/// Leading zero bits of a digest.
pub fn zero_bits(digest: &[u8]) -> u32 {
    let mut n = 0;
    for b in digest {
        if *b == 0 {
            n += 8;
        } else {
            n += b.leading_zeros();
            break;
        }
    }
    n
}

/// Solves a challenge by brute force (for tests and the SDK).
pub fn solve(challenge: &str, difficulty: u32) -> String {
    (0u64..)
        .map(|n| n.to_string())
        .find(|nonce| zero_bits(&Sha256::digest(format!("{challenge}:{nonce}").as_bytes())) >= difficulty)
        .unwrap_or_default()
}

fn now_secs() -> i64 {
    sova_types::time::now_micros() / 1_000_000
}

impl Reputation {
    pub fn new(limits: Arc<dyn Limits>, secret: &str, difficulty: u32, captcha_at: u32, block_at: u32) -> Reputation {
        let mut h = Sha256::new();
        h.update(b"sova captcha key\0");
        h.update(secret.as_bytes());
        Reputation {
            limits,
            key: h.finalize().to_vec(),
            difficulty: difficulty.clamp(1, 32),
            captcha_at: f64::from(captcha_at),
            block_at: f64::from(block_at),
        }
    }

    fn mac(&self, data: &str) -> String {
        let Ok(mut m) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        m.update(data.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(m.finalize().into_bytes())
    }

    /// Records a bad sign from `ip`.
    pub async fn penalize(&self, ip: IpAddr, points: u32) {
        self.limits.penalize(&format!("rep:{ip}"), points, WINDOW).await;
    }

    /// A fresh challenge.
    pub fn challenge(&self) -> Result<Challenge, ApiError> {
        let mut raw = [0u8; 12];
        getrandom::fill(&mut raw).map_err(|_| ApiError::internal())?;
        let body = format!(
            "{}.{}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw),
            now_secs() + CHALLENGE_SECS,
            self.difficulty
        );
        let challenge = format!("{body}.{}", self.mac(&body));
        Ok(Challenge {
            challenge,
            difficulty: self.difficulty,
            expires_in: CHALLENGE_SECS,
            algorithm: "sha256-leading-zero-bits".into(),
        })
    }

    async fn verify(&self, s: &Solution) -> bool {
        let Some((body, mac)) = s.challenge.rsplit_once('.') else {
            return false;
        };
        let parts: Vec<&str> = body.split('.').collect();
        let [_, exp, difficulty] = parts.as_slice() else {
            return false;
        };
        let (Ok(exp), Ok(difficulty)) = (exp.parse::<i64>(), difficulty.parse::<u32>()) else {
            return false;
        };
        let expected = self.mac(body);
        let fits: bool = subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), mac.as_bytes()).into();
        if !fits || exp < now_secs() || s.nonce.len() > 32 {
            return false;
        }
        if zero_bits(&Sha256::digest(format!("{}:{}", s.challenge, s.nonce).as_bytes())) < difficulty {
            return false;
        }
        // Single use: the second sighting within its lifetime is refused.
        let seen = self
            .limits
            .hit(
                &format!("captcha:{mac}"),
                1,
                Duration::from_secs(CHALLENGE_SECS as u64 * 2),
            )
            .await;
        seen.allowed()
    }

    /// Lets a login or registration from `ip` through, asks for a CAPTCHA, or blocks.
    pub async fn gate(&self, ip: IpAddr, solution: Option<&Solution>) -> Result<(), ApiError> {
        let score = self.limits.score(&format!("rep:{ip}"), WINDOW).await;
        if score >= self.block_at {
            crate::telemetry::security_event("address_blocked");
            return Err(ApiError::rate_limited(
                "this address is temporarily blocked after repeated abuse",
                WINDOW.as_secs(),
            ));
        }
        if score >= self.captcha_at {
            let ok = match solution {
                Some(s) => self.verify(s).await,
                None => false,
            };
            if !ok {
                crate::telemetry::security_event("captcha_required");
                return Err(ApiError::new(
                    ErrorCode::CaptchaRequired,
                    "solve a challenge from GET /api/captcha and send it as \"captcha\": {\"challenge\",\"nonce\"}",
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn challenges_verify_once() {
        let r = Reputation::new(Arc::new(sova_limits::LocalLimits::default()), "s", 8, 1, 100);
        let c = r.challenge().unwrap();
        let nonce = solve(&c.challenge, c.difficulty);
        assert!(zero_bits(&Sha256::digest(format!("{}:{nonce}", c.challenge).as_bytes())) >= 8);
        let good = Solution {
            challenge: c.challenge.clone(),
            nonce,
        };
        assert!(r.verify(&good).await);
        assert!(!r.verify(&good).await, "single use");
        let forged = Solution {
            challenge: c.challenge.replace(".8.", ".1."),
            nonce: "0".into(),
        };
        assert!(!r.verify(&forged).await, "difficulty is signed");
        assert_eq!(zero_bits(&[0, 0x0f]), 12);
    }
}
