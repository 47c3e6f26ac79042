//! Why a domain rule refused an operation. The store returns these for refused
//! write ops; the service turns them into client errors (one mapping, in
//! `sova-service`), so neither this crate nor the store knows the wire format.

use sova_types::UserId;

/// The class of a refusal, which decides the client-facing error code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RejectionKind {
    /// The target does not exist or is not visible to the caller.
    NotFound,
    /// The caller's role does not allow the operation.
    Forbidden,
    /// The operation conflicts with the current state.
    Conflict,
    /// The request itself is malformed for this state.
    BadRequest,
}

/// A specific reason why a rule refused an operation; nothing was written for it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rejection {
    /// The chat does not exist, was deleted, or the caller is not a member.
    NoSuchChat,
    /// The message does not exist in that chat or was deleted.
    NoSuchMessage,
    /// The message to forward does not exist or is not visible to the sender.
    NoSuchForwardSource,
    /// A file to attach is not one of the sender's uploads (or does not exist).
    NoSuchFile,
    /// A user named in the operation does not exist.
    NoSuchUser(UserId),
    /// The target user is not a member of the chat.
    NotAMember,
    /// The invite is unknown, expired, revoked or used up.
    InvalidInvite,
    /// Only the owner and admins post in a channel.
    ChannelPostersOnly,
    /// Only the author or a chat admin may delete the message.
    DeleteNotAllowed,
    /// Only the author may edit the message (system messages cannot be edited).
    EditNotAllowed,
    /// Only chat admins may pin (both members may in a private chat).
    PinNotAllowed,
    /// Members of private and public chats cannot be changed.
    MembersFixed,
    /// Only the owner and admins add members.
    AddNotAllowed,
    /// Members can only be removed by someone above their role.
    RemoveNotAllowed,
    /// Everyone stays in the public chat.
    PublicChatStays,
    /// A private chat cannot be left.
    PrivateChatStays,
    /// The owner must transfer ownership before leaving a non-empty chat.
    OwnerMustTransfer,
    /// Roles cannot change in private and public chats.
    RolesFixed,
    /// Only the owner changes roles.
    RoleChangeNotAllowed,
    /// One's own role cannot be set; ownership is transferred to another member.
    OwnRoleChange,
    /// Private and public chats cannot be renamed or deleted.
    ChatFixed,
    /// Only the owner may do this.
    OwnerOnly,
    /// Only the owner and admins may do this.
    ManagersOnly,
    /// A reply must point at a message of the same chat.
    ReplyOutsideChat,
    /// A private chat has exactly one other member.
    PrivateChatPair,
    /// Only private chats, groups and channels can be created.
    UncreatableKind,
    /// A group holds at most `max` members.
    GroupFull { max: i64 },
    /// The game does not exist, or the caller is not a member of its chat.
    NoSuchGame,
    /// The game engine refused a move, a join or the options; the game is unchanged.
    Game(crate::games::GameError),
    /// The task does not exist or is not in one of the caller's chats.
    NoSuchTask,
    /// The board does not exist or is not in one of the caller's chats.
    NoSuchBoard,
    /// The column is not one of a board of the task's chat.
    NoSuchColumn,
    /// An assignee is not a member of the task's chat.
    AssigneeNotMember(UserId),
    /// A task is made from a message of its own chat only.
    MessageOutsideChat,
    /// `after` must be another task in the target column.
    AfterNotInColumn,
    /// The write named an older version; the task is now at `current`.
    StaleVersion { current: i64 },
    /// Only the task's creator or a chat admin may delete it.
    TaskDeleteNotAllowed,
}

impl Rejection {
    /// The class of this refusal.
    pub fn kind(&self) -> RejectionKind {
        use Rejection::*;
        match self {
            NoSuchChat | NoSuchMessage | NoSuchForwardSource | NoSuchFile | NoSuchUser(_) | NotAMember
            | InvalidInvite | NoSuchTask | NoSuchBoard | NoSuchColumn | NoSuchGame => RejectionKind::NotFound,
            ChannelPostersOnly | DeleteNotAllowed | EditNotAllowed | PinNotAllowed | MembersFixed | AddNotAllowed
            | RemoveNotAllowed | PublicChatStays | PrivateChatStays | RolesFixed | RoleChangeNotAllowed | ChatFixed
            | OwnerOnly | ManagersOnly | TaskDeleteNotAllowed => RejectionKind::Forbidden,
            OwnerMustTransfer | GroupFull { .. } | StaleVersion { .. } => RejectionKind::Conflict,
            Game(e) => match e.http_status() {
                403 => RejectionKind::Forbidden,
                409 => RejectionKind::Conflict,
                _ => RejectionKind::BadRequest,
            },
            OwnRoleChange | ReplyOutsideChat | PrivateChatPair | UncreatableKind | AssigneeNotMember(_)
            | MessageOutsideChat | AfterNotInColumn => RejectionKind::BadRequest,
        }
    }
}

impl std::fmt::Display for Rejection {
    /// A developer-facing description (logs); clients get the service's text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for Rejection {}
