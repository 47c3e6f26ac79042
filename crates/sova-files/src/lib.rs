//! Uploaded files at rest. Contents are encrypted in 64 KiB chunks with
//! XChaCha20-Poly1305 (`crypt`), so any byte range can be read by decrypting only
//! the chunks it touches, and truncation, reordering or swapping of chunks fails
//! authentication. Ciphertext lives in a `Blobs` store (`blob`: a directory under
//! the data dir). `sniff` checks declared types against contents and makes file
//! names safe to store and to put in headers. `s3` keeps the ciphertext in an
//! S3-compatible bucket instead. `media` makes image thumbnails and BlurHashes for
//! the media job.

pub mod blob;
pub mod crypt;
pub mod media;
pub mod s3;
pub mod sniff;

pub use blob::{BlobWriter, Blobs, LocalBlobs};
pub use crypt::{ChunkSealer, CryptError, FileKeys, Opener, Sealer};
pub use s3::{S3Blobs, S3Config};
