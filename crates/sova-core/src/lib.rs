//! Pure domain rules: validation, permissions, state machines and the text of
//! system messages. No IO (no database, no network, no clock): every function
//! takes the state it judges and returns a decision, so the store can call it
//! inside its write transaction and tests can call it with any state. The coming
//! domains (task workflow, game moves, call states) add their modules here.

pub mod games;
pub mod rejection;
pub mod rules;
pub mod system;
pub mod tasks;

pub use rejection::{Rejection, RejectionKind};
pub use system::{Lang, SystemEvent};
