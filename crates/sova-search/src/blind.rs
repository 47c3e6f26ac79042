//! Blind tokens: what the index stores instead of words. A token is the first
//! [`TOKEN_BYTES`] bytes of HMAC-SHA256 under the index key, over a one-byte domain
//! (stem, prefix or pair of stems) and the normalised text. Without the key a token
//! says nothing about its word; with the database alone only how often each token
//! occurs and in which documents can be seen (docs/search.md).
//!
//! The index key is derived with HKDF-SHA256 (RFC 5869; salt and info are fixed
//! labels of this purpose) from the newest `MESSAGE_ENCRYPTION_KEY`, so it never
//! equals the Fernet key or the file key derived from the same secret.

use base64::Engine;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Bytes kept of each HMAC: 96 bits, so two words colliding is negligible.
pub const TOKEN_BYTES: usize = 12;
/// A blind token.
pub type Token = [u8; TOKEN_BYTES];

const SALT: &[u8] = b"sova search index salt v1";
const INFO: &[u8] = b"sova search index key v1";

const STEM: u8 = b's';
const PREFIX: u8 = b'p';
const PAIR: u8 = b'b';

type HmacSha256 = Hmac<Sha256>;

/// The key of the blind index.
#[derive(Clone)]
pub struct IndexKey {
    mac: HmacSha256,
    fingerprint: i64,
}

impl std::fmt::Debug for IndexKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IndexKey({:016x})", self.fingerprint)
    }
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as KeyInit>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

impl IndexKey {
    /// The key derived from the newest (first) of the comma-separated Fernet keys
    /// that `MESSAGE_ENCRYPTION_KEY` lists.
    pub fn from_fernet_keys(list: &str) -> Result<IndexKey, String> {
        let newest = list
            .split(',')
            .map(str::trim)
            .find(|k| !k.is_empty())
            .ok_or("MESSAGE_ENCRYPTION_KEY is empty")?;
        let raw = base64::engine::general_purpose::URL_SAFE
            .decode(newest)
            .map_err(|_| "MESSAGE_ENCRYPTION_KEY #1 is not base64".to_owned())?;
        Ok(IndexKey::from_secret(&raw))
    }

    /// The key derived from raw secret bytes (HKDF-SHA256 extract and expand).
    pub fn from_secret(secret: &[u8]) -> IndexKey {
        let prk = hmac(SALT, &[secret]);
        let okm = hmac(&prk, &[INFO, &[1]]);
        let check = hmac(&okm, &[b"fingerprint"]);
        let mut fp = [0u8; 8];
        fp.copy_from_slice(&check[..8]);
        IndexKey {
            mac: <HmacSha256 as KeyInit>::new_from_slice(&okm).unwrap_or_else(|_| unreachable!()),
            // Positive, so it is stored and compared as a plain integer everywhere.
            fingerprint: i64::from_be_bytes(fp) & i64::MAX,
        }
    }

    /// Identifies the key without revealing it: the index is rebuilt when it changes.
    pub fn fingerprint(&self) -> i64 {
        self.fingerprint
    }

    fn token(&self, domain: u8, parts: &[&str]) -> Token {
        let mut mac = self.mac.clone();
        mac.update(&[domain]);
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                mac.update(&[0]);
            }
            mac.update(p.as_bytes());
        }
        let full = mac.finalize().into_bytes();
        let mut t = [0u8; TOKEN_BYTES];
        t.copy_from_slice(&full[..TOKEN_BYTES]);
        t
    }

    /// The token of a stem.
    pub fn stem(&self, stem: &str) -> Token {
        self.token(STEM, &[stem])
    }

    /// The token of a word prefix (normalised, not stemmed).
    pub fn prefix(&self, prefix: &str) -> Token {
        self.token(PREFIX, &[prefix])
    }

    /// The token of two adjacent stems (for phrases).
    pub fn pair(&self, first: &str, second: &str) -> Token {
        self.token(PAIR, &[first, second])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_depend_on_key_domain_and_text() {
        let k = IndexKey::from_secret(b"one");
        assert_eq!(k.stem("книг"), IndexKey::from_secret(b"one").stem("книг"));
        assert_ne!(k.stem("книг"), IndexKey::from_secret(b"two").stem("книг"));
        assert_ne!(k.stem("книг"), k.prefix("книг"));
        assert_ne!(k.pair("a", "bc"), k.pair("ab", "c"));
        assert_ne!(k.fingerprint(), IndexKey::from_secret(b"two").fingerprint());
        assert!(k.fingerprint() >= 0);
        let fernet = base64::engine::general_purpose::URL_SAFE.encode([7u8; 32]);
        let listed = IndexKey::from_fernet_keys(&format!("{fernet}, other")).unwrap();
        assert_eq!(listed.fingerprint(), IndexKey::from_secret(&[7u8; 32]).fingerprint());
        assert!(IndexKey::from_fernet_keys(" , ").is_err());
    }
}
