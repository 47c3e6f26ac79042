//! Permission and state rules for chats, members and messages. The store applies
//! them inside its write transaction to state read in that transaction, so a
//! check and the change it guards cannot race; the service may apply them early
//! to fail fast. Every function is pure.

use crate::Rejection;
use sova_types::UserId;
use sova_types::models::{ChatKind, MessageKind, Role};

/// May a member with `role` post in a chat of `kind`?
pub fn can_post(kind: ChatKind, role: Role) -> Result<(), Rejection> {
    if kind == ChatKind::Channel && !role.manages() {
        return Err(Rejection::ChannelPostersOnly);
    }
    Ok(())
}

/// May a member edit a message? Only its author, and never a system message.
pub fn can_edit(by_is_author: bool, kind: MessageKind) -> Result<(), Rejection> {
    if by_is_author && kind != MessageKind::System {
        Ok(())
    } else {
        Err(Rejection::EditNotAllowed)
    }
}

/// May `by` (with `role`) delete a message written by `author`?
pub fn can_delete(by_is_author: bool, role: Role) -> Result<(), Rejection> {
    if by_is_author || role.manages() {
        Ok(())
    } else {
        Err(Rejection::DeleteNotAllowed)
    }
}

/// May a member pin? Admins in groups and channels; both members of a private chat.
pub fn can_pin(kind: ChatKind, role: Role) -> Result<(), Rejection> {
    if kind == ChatKind::Private || role.manages() {
        Ok(())
    } else {
        Err(Rejection::PinNotAllowed)
    }
}

/// May `role` add members to a chat of `kind` (without an invite)?
pub fn can_add(kind: ChatKind, role: Role) -> Result<(), Rejection> {
    match kind {
        ChatKind::Private | ChatKind::Public => Err(Rejection::MembersFixed),
        _ if role.manages() => Ok(()),
        _ => Err(Rejection::AddNotAllowed),
    }
}

/// May `by_role` remove a member holding `target_role`? (Leaving is separate.)
pub fn can_remove(kind: ChatKind, by_role: Role, target_role: Role) -> Result<(), Rejection> {
    if matches!(kind, ChatKind::Private | ChatKind::Public) {
        return Err(Rejection::MembersFixed);
    }
    if by_role.manages() && by_role > target_role {
        Ok(())
    } else {
        Err(Rejection::RemoveNotAllowed)
    }
}

/// May a member holding `role` leave? The owner must transfer ownership first,
/// unless they are the last member.
pub fn can_leave(kind: ChatKind, role: Role, member_count: i64) -> Result<(), Rejection> {
    match kind {
        ChatKind::Public => return Err(Rejection::PublicChatStays),
        ChatKind::Private => return Err(Rejection::PrivateChatStays),
        _ => {}
    }
    if role == Role::Owner && member_count > 1 {
        return Err(Rejection::OwnerMustTransfer);
    }
    Ok(())
}

/// May `by_role` change someone's role? Only the owner changes roles.
pub fn can_set_role(kind: ChatKind, by_role: Role) -> Result<(), Rejection> {
    if matches!(kind, ChatKind::Private | ChatKind::Public) {
        return Err(Rejection::RolesFixed);
    }
    if by_role == Role::Owner {
        Ok(())
    } else {
        Err(Rejection::RoleChangeNotAllowed)
    }
}

/// The role changes that giving `role` to `target` (by the owner `by`) implies,
/// in order: the target's new role and, when ownership moves, the old owner
/// becoming an admin. Setting one's own role is refused: ownership is
/// transferred to another member instead.
pub fn role_changes(by: UserId, target: UserId, role: Role) -> Result<Vec<(UserId, Role)>, Rejection> {
    if by == target {
        return Err(Rejection::OwnRoleChange);
    }
    let mut changes = vec![(target, role)];
    if role == Role::Owner {
        changes.push((by, Role::Admin));
    }
    Ok(changes)
}

/// May `role` rename (`owner_only == false`) or delete (`owner_only == true`) the chat?
pub fn can_manage(kind: ChatKind, role: Role, owner_only: bool) -> Result<(), Rejection> {
    if matches!(kind, ChatKind::Private | ChatKind::Public) {
        return Err(Rejection::ChatFixed);
    }
    let ok = if owner_only {
        role == Role::Owner
    } else {
        role.manages()
    };
    if ok {
        Ok(())
    } else if owner_only {
        Err(Rejection::OwnerOnly)
    } else {
        Err(Rejection::ManagersOnly)
    }
}

/// The other members a new chat starts with: `members` without the creator and
/// without repeats, in the order given.
pub fn other_members(creator: UserId, members: &[UserId]) -> Vec<UserId> {
    let mut others: Vec<UserId> = Vec::with_capacity(members.len());
    for m in members {
        if *m != creator && !others.contains(m) {
            others.push(*m);
        }
    }
    others
}

/// What decides whether an invite link can still be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InviteState {
    /// When it stops working (exclusive), if ever.
    pub expires_at: Option<i64>,
    /// How many joins it allows, if limited.
    pub max_uses: Option<i64>,
    /// Joins so far.
    pub uses: i64,
    /// Whether an admin revoked it.
    pub revoked: bool,
}

/// May the invite be used at `now`? Not revoked, not yet expired, not used up.
pub fn can_use_invite(invite: &InviteState, now: i64) -> Result<(), Rejection> {
    let expired = invite.expires_at.is_some_and(|e| e <= now);
    let used_up = invite.max_uses.is_some_and(|m| invite.uses >= m);
    if invite.revoked || expired || used_up {
        Err(Rejection::InvalidInvite)
    } else {
        Ok(())
    }
}

/// Which chats a user may create: private chats, groups and channels.
pub fn can_create(kind: ChatKind) -> Result<(), Rejection> {
    if kind == ChatKind::Public {
        Err(Rejection::UncreatableKind)
    } else {
        Ok(())
    }
}

/// The one other member of a private chat; exactly one is required.
pub fn private_partner(others: &[UserId]) -> Result<UserId, Rejection> {
    match others {
        [other] => Ok(*other),
        _ => Err(Rejection::PrivateChatPair),
    }
}

/// Private chats are unique per pair of users: this key (smaller id first) says
/// which pair a private chat belongs to, whoever created it.
pub fn private_key(a: UserId, b: UserId) -> String {
    let (lo, hi) = if a.0 <= b.0 { (a.0, b.0) } else { (b.0, a.0) };
    format!("{lo}:{hi}")
}

/// The name of a private chat: both usernames, sorted, joined by " & ".
pub fn private_chat_name(a: &str, b: &str) -> String {
    let mut pair = [a.to_owned(), b.to_owned()];
    pair.sort();
    pair.join(" & ")
}

/// The creator's role in a new chat: owner of groups and channels, plain member
/// of a private chat (where both are equal).
pub fn creator_role(kind: ChatKind) -> Role {
    if kind == ChatKind::Private {
        Role::Member
    } else {
        Role::Owner
    }
}

/// May a chat of `kind` holding `current` members take `adding` more? Only groups
/// are limited (to `max` members).
pub fn check_capacity(kind: ChatKind, current: i64, adding: i64, max: i64) -> Result<(), Rejection> {
    if kind == ChatKind::Group && current + adding > max {
        Err(Rejection::GroupFull { max })
    } else {
        Ok(())
    }
}

/// The kind a forwarded copy of a message of `kind` gets: system messages become
/// plain text (the copy is the forwarder's, not the server's).
pub fn forwarded_kind(kind: MessageKind) -> MessageKind {
    if kind == MessageKind::System {
        MessageKind::Text
    } else {
        kind
    }
}

/// The new read position when a member at `current` reports reading up to
/// `requested` in a chat whose last `chat_seq` is `last_seq`: capped at the end,
/// never moving back; `None` when nothing changes.
pub fn advance_read(current: i64, requested: i64, last_seq: i64) -> Option<i64> {
    let up_to = requested.min(last_seq);
    (up_to > current).then_some(up_to)
}

/// Whether read receipts of a chat with `member_count` members go to every member
/// (true) or only to the reader's own devices (false, for large chats).
pub fn receipts_to_all(member_count: i64, receipts_max_members: i64) -> bool {
    member_count <= receipts_max_members
}

/// Whether a chat with `member_count` members left is now empty (and is deleted).
pub fn emptied(member_count: i64) -> bool {
    member_count <= 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ChatKind::*;
    use Role::*;

    #[test]
    fn posting_and_moderation() {
        assert!(can_post(Channel, Member).is_err());
        assert!(can_post(Channel, Admin).is_ok());
        assert!(can_post(Group, Member).is_ok());
        assert!(can_delete(true, Member).is_ok());
        assert!(can_delete(false, Member).is_err());
        assert!(can_delete(false, Admin).is_ok());
        assert!(can_pin(Private, Member).is_ok());
        assert!(can_pin(Group, Member).is_err());
        assert!(can_edit(true, MessageKind::Text).is_ok());
        assert_eq!(can_edit(false, MessageKind::Text), Err(Rejection::EditNotAllowed));
        assert_eq!(can_edit(true, MessageKind::System), Err(Rejection::EditNotAllowed));
    }

    #[test]
    fn membership_changes() {
        assert!(can_add(Group, Member).is_err());
        assert!(can_add(Group, Admin).is_ok());
        assert!(can_add(Private, Owner).is_err());
        assert!(can_remove(Group, Admin, Member).is_ok());
        assert!(can_remove(Group, Admin, Admin).is_err());
        assert!(can_remove(Group, Owner, Admin).is_ok());
        assert_eq!(can_leave(Group, Owner, 3), Err(Rejection::OwnerMustTransfer));
        assert!(can_leave(Group, Owner, 1).is_ok());
        assert!(can_leave(Public, Member, 5).is_err());
        assert!(can_leave(Private, Member, 2).is_err());
        assert!(can_set_role(Group, Admin).is_err());
        assert!(can_set_role(Group, Owner).is_ok());
        assert!(can_manage(Group, Admin, false).is_ok());
        assert!(can_manage(Group, Admin, true).is_err());
        assert_eq!(check_capacity(Group, 9, 2, 10), Err(Rejection::GroupFull { max: 10 }));
        assert!(check_capacity(Group, 9, 1, 10).is_ok());
        assert!(check_capacity(Channel, 9, 5, 10).is_ok());
    }

    #[test]
    fn chat_creation() {
        let (a, b, c) = (UserId(1), UserId(2), UserId(3));
        assert_eq!(other_members(a, &[b, a, b, c]), vec![b, c]);
        assert_eq!(private_partner(&[b]), Ok(b));
        assert_eq!(private_partner(&[b, c]), Err(Rejection::PrivateChatPair));
        assert_eq!(private_partner(&[]), Err(Rejection::PrivateChatPair));
        assert_eq!(private_key(b, a), private_key(a, b));
        assert_eq!(private_key(UserId(10), UserId(9)), "9:10");
        assert_eq!(private_chat_name("zed", "amy"), "amy & zed");
        assert_eq!(creator_role(Private), Member);
        assert_eq!(creator_role(Channel), Owner);
        assert!(can_create(Public).is_err());
        assert_eq!(forwarded_kind(MessageKind::System), MessageKind::Text);
    }

    #[test]
    fn invite_validity() {
        let open = InviteState {
            expires_at: None,
            max_uses: None,
            uses: 7,
            revoked: false,
        };
        assert!(can_use_invite(&open, 100).is_ok());
        assert_eq!(
            can_use_invite(&InviteState { revoked: true, ..open }, 100),
            Err(Rejection::InvalidInvite)
        );
        let timed = InviteState {
            expires_at: Some(100),
            ..open
        };
        assert!(can_use_invite(&timed, 99).is_ok());
        assert!(can_use_invite(&timed, 100).is_err(), "expiry is exclusive");
        let limited = InviteState {
            max_uses: Some(8),
            ..open
        };
        assert!(can_use_invite(&limited, 0).is_ok());
        assert!(can_use_invite(&InviteState { uses: 8, ..limited }, 0).is_err());
    }

    #[test]
    fn read_positions() {
        assert_eq!(advance_read(3, 10, 7), Some(7));
        assert_eq!(advance_read(7, 10, 7), None);
        assert_eq!(advance_read(5, 4, 7), None);
        assert!(receipts_to_all(5, 5));
        assert!(!receipts_to_all(6, 5));
    }

    /// Role transitions over every (by role, target role, new role): whoever changes
    /// roles is the owner, an owner never sets their own role, and a transfer leaves
    /// exactly one owner.
    #[test]
    fn role_transitions_keep_one_owner() {
        let roles = [Member, Admin, Owner];
        let (owner, other) = (UserId(1), UserId(2));
        for kind in [Public, Private, Group, Channel] {
            for by_role in roles {
                for target_role in [Member, Admin] {
                    for new_role in roles {
                        if can_set_role(kind, by_role).is_err() {
                            assert!(by_role != Owner || matches!(kind, Public | Private));
                            continue;
                        }
                        assert_eq!(role_changes(owner, owner, new_role), Err(Rejection::OwnRoleChange));
                        let changes = role_changes(owner, other, new_role).unwrap();
                        let mut state = [(owner, Owner), (other, target_role)];
                        for (u, r) in changes {
                            for s in &mut state {
                                if s.0 == u {
                                    s.1 = r;
                                }
                            }
                        }
                        assert_eq!(state.iter().filter(|s| s.1 == Owner).count(), 1, "{new_role:?}");
                    }
                }
            }
        }
    }
}
