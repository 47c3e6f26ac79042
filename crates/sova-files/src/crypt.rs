//! Chunked authenticated encryption of file contents.
//!
//! Stored form: a 33-byte header (`SOVAF1`, the 8-byte id of the key, a 19-byte
//! random file nonce), then the plaintext in 64 KiB chunks, each sealed with
//! XChaCha20-Poly1305 under the nonce `file nonce ‖ chunk index (u32 BE) ‖ last`
//! (`last` is 1 only on the final chunk) and the header plus the file id as
//! associated data. So a chunk cannot move to another position, file or key, a
//! file cannot be cut short at a chunk boundary (the new last chunk would carry
//! `last = 0`), and a range is read by opening only the chunks it covers. An empty
//! file is one empty final chunk (its tag alone).
//!
//! Keys are derived from the server's `MESSAGE_ENCRYPTION_KEY` list (HMAC-SHA256
//! with a fixed label), newest first: new files use the newest, and every listed
//! key still opens the files it sealed, so rotating that key never strands a file.

use base64::Engine;
use bytes::{Bytes, BytesMut};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Plaintext bytes per chunk.
pub const CHUNK: usize = 64 * 1024;
/// Authentication tag bytes added to every chunk.
pub const TAG: usize = 16;
/// Bytes of the header in front of the first chunk.
pub const HEADER: usize = MAGIC.len() + KEY_ID + PREFIX;

const MAGIC: &[u8; 6] = b"SOVAF1";
const KEY_ID: usize = 8;
const PREFIX: usize = 19;

/// Why stored contents could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
pub enum CryptError {
    #[error("no usable key: {0}")]
    Key(String),
    #[error("not a Sova encrypted file")]
    Format,
    #[error("sealed with a key this server does not have")]
    UnknownKey,
    /// Tampered with, truncated, or read at the wrong position.
    #[error("file contents fail authentication")]
    Corrupt,
}

/// The file-encryption keys, newest first.
#[derive(Clone)]
pub struct FileKeys {
    keys: Vec<([u8; KEY_ID], XChaCha20Poly1305)>,
}

impl FileKeys {
    /// Derives one file key per comma-separated Fernet key (URL-safe base64 of 32
    /// bytes), newest first, as `MESSAGE_ENCRYPTION_KEY` lists them.
    pub fn from_fernet_keys(list: &str) -> Result<FileKeys, CryptError> {
        let mut keys = Vec::new();
        for (i, k) in list.split(',').map(str::trim).filter(|k| !k.is_empty()).enumerate() {
            let raw = base64::engine::general_purpose::URL_SAFE
                .decode(k)
                .map_err(|_| CryptError::Key(format!("MESSAGE_ENCRYPTION_KEY #{} is not base64", i + 1)))?;
            keys.push(Self::derive(&raw)?);
        }
        if keys.is_empty() {
            return Err(CryptError::Key("MESSAGE_ENCRYPTION_KEY is empty".into()));
        }
        Ok(FileKeys { keys })
    }

    /// A single key from raw secret bytes (tests and tools).
    pub fn from_secret(secret: &[u8]) -> Result<FileKeys, CryptError> {
        Ok(FileKeys {
            keys: vec![Self::derive(secret)?],
        })
    }

    fn derive(secret: &[u8]) -> Result<([u8; KEY_ID], XChaCha20Poly1305), CryptError> {
        // A separate key per purpose: file contents never share a key with Fernet.
        let mut mac = <Hmac<Sha256> as hmac::KeyInit>::new_from_slice(secret)
            .map_err(|_| CryptError::Key("unusable key length".into()))?;
        mac.update(b"sova file contents v1");
        let key = mac.finalize().into_bytes();
        let id_digest = Sha256::new_with_prefix(b"sova file key id\0")
            .chain_update(key)
            .finalize();
        let mut id = [0u8; KEY_ID];
        id.copy_from_slice(&id_digest[..KEY_ID]);
        let cipher = XChaCha20Poly1305::new_from_slice(&key).map_err(|_| CryptError::Key("bad key".into()))?;
        Ok((id, cipher))
    }

    /// A header for a new file: the newest key and a fresh nonce.
    pub fn new_header(&self) -> Result<[u8; HEADER], CryptError> {
        let (id, _) = self.keys.first().ok_or(CryptError::UnknownKey)?;
        let mut header = [0u8; HEADER];
        header[..MAGIC.len()].copy_from_slice(MAGIC);
        header[MAGIC.len()..MAGIC.len() + KEY_ID].copy_from_slice(id);
        getrandom::fill(&mut header[MAGIC.len() + KEY_ID..])
            .map_err(|e| CryptError::Key(format!("no randomness: {e}")))?;
        Ok(header)
    }

    /// Seals chunks of a file whose header already exists, one chunk at a time in
    /// any request (resumable uploads).
    pub fn chunk_sealer(&self, header: &[u8], file_id: &str) -> Result<ChunkSealer, CryptError> {
        Ok(ChunkSealer {
            chunk: self.opener(header, file_id)?.chunk,
        })
    }

    /// A sealer for a new file `file_id`, under the newest key with a fresh nonce.
    pub fn sealer(&self, file_id: &str) -> Result<Sealer, CryptError> {
        let header = self.new_header()?;
        let (_, cipher) = self.keys.first().ok_or(CryptError::UnknownKey)?;
        Ok(Sealer {
            chunk: Chunker::new(cipher.clone(), header, file_id),
            index: 0,
            buf: BytesMut::with_capacity(CHUNK * 2),
        })
    }

    /// An opener for stored file `file_id`, from its header.
    pub fn opener(&self, header: &[u8], file_id: &str) -> Result<Opener, CryptError> {
        if header.len() != HEADER || &header[..MAGIC.len()] != MAGIC {
            return Err(CryptError::Format);
        }
        let id = &header[MAGIC.len()..MAGIC.len() + KEY_ID];
        let (_, cipher) = self.keys.iter().find(|(k, _)| k == id).ok_or(CryptError::UnknownKey)?;
        let mut h = [0u8; HEADER];
        h.copy_from_slice(header);
        Ok(Opener {
            chunk: Chunker::new(cipher.clone(), h, file_id),
        })
    }
}

/// The parts shared by sealing and opening: the cipher, the header and the
/// associated data.
struct Chunker {
    cipher: XChaCha20Poly1305,
    header: [u8; HEADER],
    aad: Vec<u8>,
}

impl Chunker {
    fn new(cipher: XChaCha20Poly1305, header: [u8; HEADER], file_id: &str) -> Chunker {
        let mut aad = header.to_vec();
        aad.extend_from_slice(file_id.as_bytes());
        Chunker { cipher, header, aad }
    }

    fn nonce(&self, index: u32, last: bool) -> XNonce {
        let mut n = [0u8; 24];
        n[..PREFIX].copy_from_slice(&self.header[MAGIC.len() + KEY_ID..]);
        n[PREFIX..PREFIX + 4].copy_from_slice(&index.to_be_bytes());
        n[23] = u8::from(last);
        XNonce::from(n)
    }
}

/// Seals a file as its plaintext streams in; holds at most two chunks.
pub struct Sealer {
    chunk: Chunker,
    index: u32,
    buf: BytesMut,
}

impl Sealer {
    /// The header to store in front of the chunks.
    pub fn header(&self) -> Bytes {
        Bytes::copy_from_slice(&self.chunk.header)
    }

    /// Takes more plaintext; returns the chunks now known not to be the last.
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Bytes>, CryptError> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        // A full chunk is sealed only once more data follows it: it may be the last.
        while self.buf.len() > CHUNK {
            let plain = self.buf.split_to(CHUNK);
            out.push(self.seal(&plain, false)?);
        }
        Ok(out)
    }

    /// Seals the final chunk (possibly empty).
    pub fn finish(mut self) -> Result<Bytes, CryptError> {
        let plain = std::mem::take(&mut self.buf);
        self.seal(&plain, true)
    }

    fn seal(&mut self, plain: &[u8], last: bool) -> Result<Bytes, CryptError> {
        let nonce = self.chunk.nonce(self.index, last);
        let sealed = self
            .chunk
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &self.chunk.aad,
                },
            )
            .map_err(|_| CryptError::Corrupt)?;
        self.index = self.index.checked_add(1).ok_or(CryptError::Format)?;
        Ok(Bytes::from(sealed))
    }
}

/// Seals chunk `index` of a file of known total size.
pub struct ChunkSealer {
    chunk: Chunker,
}

impl ChunkSealer {
    /// The sealed form of chunk `index` of a file of `size` bytes (`plain` must be
    /// exactly that chunk's bytes).
    pub fn seal(&self, index: u64, size: u64, plain: &[u8]) -> Result<Bytes, CryptError> {
        if plain.len() as u64 + TAG as u64 != sealed_chunk_len(index, size) {
            return Err(CryptError::Format);
        }
        let last = index + 1 == chunk_count(size);
        let nonce = self
            .chunk
            .nonce(u32::try_from(index).map_err(|_| CryptError::Format)?, last);
        let sealed = self
            .chunk
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: &self.chunk.aad,
                },
            )
            .map_err(|_| CryptError::Corrupt)?;
        Ok(Bytes::from(sealed))
    }
}

/// Opens the chunks of one stored file.
pub struct Opener {
    chunk: Chunker,
}

impl Opener {
    /// The plaintext of chunk `index` of a file of `size` bytes.
    pub fn open(&self, index: u64, size: u64, sealed: &[u8]) -> Result<Vec<u8>, CryptError> {
        let last = index + 1 == chunk_count(size);
        let index = u32::try_from(index).map_err(|_| CryptError::Format)?;
        let nonce = self.chunk.nonce(index, last);
        self.chunk
            .cipher
            .decrypt(
                &nonce,
                Payload {
                    msg: sealed,
                    aad: &self.chunk.aad,
                },
            )
            .map_err(|_| CryptError::Corrupt)
    }
}

/// Chunks a file of `size` plaintext bytes is stored in (an empty file has one).
pub fn chunk_count(size: u64) -> u64 {
    size.div_ceil(CHUNK as u64).max(1)
}

/// Bytes a file of `size` plaintext bytes takes at rest.
pub fn stored_len(size: u64) -> u64 {
    HEADER as u64 + size + chunk_count(size) * TAG as u64
}

/// Where sealed chunk `index` starts in the stored form.
pub fn chunk_offset(index: u64) -> u64 {
    HEADER as u64 + index * (CHUNK + TAG) as u64
}

/// Sealed length of chunk `index` of a file of `size` bytes.
pub fn sealed_chunk_len(index: u64, size: u64) -> u64 {
    let start = index * CHUNK as u64;
    size.saturating_sub(start).min(CHUNK as u64) + TAG as u64
}

/// SHA-256 of `data` as lower-case hex (for ids and test helpers).
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seal_all(keys: &FileKeys, id: &str, data: &[u8], step: usize) -> Vec<u8> {
        let mut s = keys.sealer(id).unwrap();
        let mut out = s.header().to_vec();
        for part in data.chunks(step.max(1)) {
            for c in s.push(part).unwrap() {
                out.extend_from_slice(&c);
            }
        }
        out.extend_from_slice(&s.finish().unwrap());
        out
    }

    fn open_all(keys: &FileKeys, id: &str, stored: &[u8], size: u64) -> Result<Vec<u8>, CryptError> {
        let o = keys.opener(&stored[..HEADER], id)?;
        let mut out = Vec::new();
        for i in 0..chunk_count(size) {
            let at = chunk_offset(i) as usize;
            let len = sealed_chunk_len(i, size) as usize;
            out.extend(o.open(i, size, stored.get(at..at + len).ok_or(CryptError::Corrupt)?)?);
        }
        Ok(out)
    }

    #[test]
    fn round_trips_every_size_around_chunk_boundaries() {
        let keys = FileKeys::from_secret(b"k").unwrap();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7] {
            let data: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
            let stored = seal_all(&keys, "f1", &data, 10_000);
            assert_eq!(stored.len() as u64, stored_len(size as u64), "size {size}");
            assert_eq!(
                open_all(&keys, "f1", &stored, size as u64).unwrap(),
                data,
                "size {size}"
            );
            if size > 16 {
                assert!(!stored.windows(16).any(|w| w == &data[..16]), "plaintext visible");
            }
        }
    }

    #[test]
    fn tampering_truncation_and_swapping_fail() {
        let keys = FileKeys::from_secret(b"k").unwrap();
        let data = vec![7u8; 2 * CHUNK + 5];
        let stored = seal_all(&keys, "f1", &data, CHUNK);
        let mut flipped = stored.clone();
        flipped[HEADER + 3] ^= 1;
        assert!(matches!(
            open_all(&keys, "f1", &flipped, data.len() as u64),
            Err(CryptError::Corrupt)
        ));
        // Cut at a chunk boundary and claim the shorter size: the last flag is wrong.
        let cut = &stored[..chunk_offset(2) as usize];
        assert!(open_all(&keys, "f1", cut, 2 * CHUNK as u64).is_err());
        // The same bytes under another file id do not open.
        assert!(open_all(&keys, "f2", &stored, data.len() as u64).is_err());
        let other = FileKeys::from_secret(b"other").unwrap();
        assert!(matches!(
            other.opener(&stored[..HEADER], "f1"),
            Err(CryptError::UnknownKey)
        ));
    }

    #[test]
    fn chunk_sealing_matches_streaming() {
        let keys = FileKeys::from_secret(b"k").unwrap();
        let size = CHUNK as u64 + 10;
        let header = keys.new_header().unwrap();
        let cs = keys.chunk_sealer(&header, "f").unwrap();
        let data: Vec<u8> = (0..size as usize).map(|i| (i % 253) as u8).collect();
        let mut stored = header.to_vec();
        stored.extend_from_slice(&cs.seal(0, size, &data[..CHUNK]).unwrap());
        stored.extend_from_slice(&cs.seal(1, size, &data[CHUNK..]).unwrap());
        assert_eq!(open_all(&keys, "f", &stored, size).unwrap(), data);
        assert!(cs.seal(1, size, &data[..5]).is_err(), "wrong chunk length");
    }

    #[test]
    fn older_keys_still_open_their_files() {
        let k1 = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";
        let k2 = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
        let old = FileKeys::from_fernet_keys(k1).unwrap();
        let stored = seal_all(&old, "f", b"hello", 3);
        let both = FileKeys::from_fernet_keys(&format!("{k2},{k1}")).unwrap();
        assert_eq!(open_all(&both, "f", &stored, 5).unwrap(), b"hello");
        assert!(FileKeys::from_fernet_keys("not base64!").is_err());
    }
}
