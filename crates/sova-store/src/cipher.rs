//! Message contents at rest: Fernet tokens (AES-128-CBC + HMAC-SHA256, the format
//! Python's `cryptography` reads and writes). Several keys may be configured, newest
//! first: new writes use the newest, reads try each, and `reseal` moves old rows to
//! the newest key. Rows written before encryption (not Fernet tokens) still read.

use fernet::{Fernet, MultiFernet};

pub struct Cipher {
    newest: Option<Fernet>,
    all: Option<MultiFernet>,
}

/// Fernet tokens start with version byte 0x80, which base64url-encodes as `gAAAAA`.
const TOKEN_PREFIX: &str = "gAAAAA";

impl Cipher {
    /// From comma-separated URL-safe base64 Fernet keys, newest first.
    pub fn new(keys: &str) -> Result<Cipher, String> {
        let parsed: Vec<Fernet> = keys
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .enumerate()
            .map(|(i, k)| {
                Fernet::new(k).ok_or_else(|| {
                    format!(
                        "MESSAGE_ENCRYPTION_KEY #{} is not a Fernet key (32 bytes, URL-safe base64)",
                        i + 1
                    )
                })
            })
            .collect::<Result<_, _>>()?;
        if parsed.is_empty() {
            return Err("MESSAGE_ENCRYPTION_KEY is empty".into());
        }
        let newest = keys
            .split(',')
            .map(str::trim)
            .find(|k| !k.is_empty())
            .and_then(Fernet::new);
        Ok(Cipher {
            newest,
            all: Some(MultiFernet::new(parsed)),
        })
    }

    /// No encryption (stores opened for tests or tools without a key).
    pub fn plain() -> Cipher {
        Cipher {
            newest: None,
            all: None,
        }
    }

    /// The stored form of `text` (empty stays empty: a tombstone reveals nothing).
    pub fn seal(&self, text: &str) -> String {
        match &self.all {
            Some(f) if !text.is_empty() => f.encrypt(text.as_bytes()),
            _ => text.to_owned(),
        }
    }

    /// The text of a stored value.
    pub fn open(&self, stored: &str) -> Result<String, String> {
        if !stored.starts_with(TOKEN_PREFIX) {
            return Ok(stored.to_owned());
        }
        let Some(f) = &self.all else {
            return Err("encrypted data but no MESSAGE_ENCRYPTION_KEY".into());
        };
        let bytes = f
            .decrypt(stored)
            .map_err(|_| "cannot decrypt: no configured key fits".to_owned())?;
        String::from_utf8(bytes).map_err(|_| "decrypted data is not UTF-8".to_owned())
    }

    /// Whether `stored` is already sealed with the newest key (or needs no sealing).
    pub fn is_current(&self, stored: &str) -> bool {
        match &self.newest {
            None => true,
            Some(_) if stored.is_empty() => true,
            Some(f) => stored.starts_with(TOKEN_PREFIX) && f.decrypt(stored).is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotation_keeps_old_rows_readable() {
        let (k1, k2) = (Fernet::generate_key(), Fernet::generate_key());
        let old = Cipher::new(&k1).unwrap();
        let sealed = old.seal("привет");
        assert!(sealed.starts_with(TOKEN_PREFIX) && !sealed.contains("привет"));
        let both = Cipher::new(&format!("{k2},{k1}")).unwrap();
        assert_eq!(both.open(&sealed).unwrap(), "привет");
        assert!(!both.is_current(&sealed));
        assert!(both.is_current(&both.seal("x")));
        assert_eq!(both.open("legacy plain text").unwrap(), "legacy plain text");
        assert_eq!(both.seal(""), "");
        assert!(
            Cipher::new(&k2).unwrap().open(&sealed).is_err(),
            "a removed key cannot read"
        );
        assert!(Cipher::new("not-a-key").is_err());
    }
}
