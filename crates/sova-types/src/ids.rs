//! Id newtypes. The seed contract shows integer `user_id`s, so every id is an `i64`
//! newtype: one scheme everywhere. Message ids double as the server-wide event
//! sequence (`seq`), so they are assigned in commit order by the store's writer.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Declares an `i64` id newtype that serializes as a bare JSON number.
#[macro_export]
macro_rules! id_type {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// A chat (the public `general` chat, private chats, groups, channels).
    ChatId
);
id_type!(
    /// A message; also its server-wide event sequence number.
    MessageId
);
id_type!(
    /// A game played in a chat.
    GameId
);
id_type!(
    /// A task in a chat.
    TaskId
);
id_type!(
    /// A kanban board in a chat.
    BoardId
);
id_type!(
    /// A column of a board.
    ColumnId
);
