//! Full-text search without plaintext in the index: text normalisation and
//! Russian/English stemming (`text`), keyed-HMAC blind tokens (`blind`), the terms
//! of a document (`doc`), the query language (`query`), BM25 ranking (`rank`),
//! highlighted snippets computed from decrypted text (`snippet`), text extraction
//! from TXT, Markdown, PDF and DOCX files (`extract`) and minimal documents for
//! tests (`fixtures`). No IO: the store keeps the tokens, the service decrypts.
//! Design and what the index leaks: docs/search.md.

pub mod blind;
pub mod doc;
pub mod extract;
pub mod fixtures;
pub mod query;
pub mod rank;
pub mod snippet;
pub mod text;

pub use blind::{IndexKey, TOKEN_BYTES, Token};
pub use doc::{Terms, document_terms};
pub use query::{Query, QueryError, Term};
