//! Sova's wire contract: id newtypes, DTOs, client and server frames, and the closed
//! error-code enum shared by every transport. No IO lives here, so every crate (and
//! the SDK) can depend on it cheaply.

pub mod error;
pub mod event;
pub mod frames;
pub mod games;
pub mod ids;
pub mod models;
pub mod tasks;
pub mod time;

pub use error::{ApiError, ErrorCode};
pub use event::{Event, SharedEvent};
pub use ids::{BoardId, ChatId, ColumnId, GameId, MessageId, TaskId, UserId};
