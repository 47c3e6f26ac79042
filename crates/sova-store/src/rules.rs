//! Pure permission rules, applied by every backend inside the write transaction
//! (so a check and the change it guards cannot race). No IO here.

use sova_types::ApiError;
use sova_types::models::{ChatKind, Role};

/// May a member with `role` post in a chat of `kind`?
pub fn can_post(kind: ChatKind, role: Role) -> Result<(), ApiError> {
    if kind == ChatKind::Channel && !role.manages() {
        return Err(ApiError::forbidden("only the owner and admins post in a channel"));
    }
    Ok(())
}

/// May `by` (with `role`) delete a message written by `author`?
pub fn can_delete(by_is_author: bool, role: Role) -> Result<(), ApiError> {
    if by_is_author || role.manages() {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "only the author or a chat admin can delete this message",
        ))
    }
}

/// May a member pin? Admins in groups and channels; both members of a private chat.
pub fn can_pin(kind: ChatKind, role: Role) -> Result<(), ApiError> {
    if kind == ChatKind::Private || role.manages() {
        Ok(())
    } else {
        Err(ApiError::forbidden("only chat admins can pin messages"))
    }
}

/// May `role` add members to a chat of `kind` (without an invite)?
pub fn can_add(kind: ChatKind, role: Role) -> Result<(), ApiError> {
    match kind {
        ChatKind::Private | ChatKind::Public => Err(ApiError::forbidden("members of this chat cannot be changed")),
        _ if role.manages() => Ok(()),
        _ => Err(ApiError::forbidden("only the owner and admins add members")),
    }
}

/// May `by_role` remove a member holding `target_role`? (Leaving is separate.)
pub fn can_remove(kind: ChatKind, by_role: Role, target_role: Role) -> Result<(), ApiError> {
    if matches!(kind, ChatKind::Private | ChatKind::Public) {
        return Err(ApiError::forbidden("members of this chat cannot be changed"));
    }
    if by_role.manages() && by_role > target_role {
        Ok(())
    } else {
        Err(ApiError::forbidden("you can only remove members below your role"))
    }
}

/// May a member holding `role` leave? The owner must transfer ownership first,
/// unless they are the last member.
pub fn can_leave(kind: ChatKind, role: Role, member_count: i64) -> Result<(), ApiError> {
    match kind {
        ChatKind::Public => return Err(ApiError::forbidden("everyone stays in the public chat")),
        ChatKind::Private => return Err(ApiError::forbidden("a private chat cannot be left")),
        _ => {}
    }
    if role == Role::Owner && member_count > 1 {
        return Err(ApiError::conflict("transfer ownership before leaving"));
    }
    Ok(())
}

/// May `by_role` give `new_role` to someone? Only the owner changes roles.
pub fn can_set_role(kind: ChatKind, by_role: Role) -> Result<(), ApiError> {
    if matches!(kind, ChatKind::Private | ChatKind::Public) {
        return Err(ApiError::forbidden("roles cannot change in this chat"));
    }
    if by_role == Role::Owner {
        Ok(())
    } else {
        Err(ApiError::forbidden("only the owner changes roles"))
    }
}

/// May `role` rename or delete the chat?
pub fn can_manage(kind: ChatKind, role: Role, owner_only: bool) -> Result<(), ApiError> {
    if matches!(kind, ChatKind::Private | ChatKind::Public) {
        return Err(ApiError::forbidden("this chat cannot be renamed or deleted"));
    }
    let ok = if owner_only {
        role == Role::Owner
    } else {
        role.manages()
    };
    if ok {
        Ok(())
    } else if owner_only {
        Err(ApiError::forbidden("only the owner can do this"))
    } else {
        Err(ApiError::forbidden("only the owner and admins can do this"))
    }
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
    }

    #[test]
    fn membership_changes() {
        assert!(can_add(Group, Member).is_err());
        assert!(can_add(Group, Admin).is_ok());
        assert!(can_add(Private, Owner).is_err());
        assert!(can_remove(Group, Admin, Member).is_ok());
        assert!(can_remove(Group, Admin, Admin).is_err());
        assert!(can_remove(Group, Owner, Admin).is_ok());
        assert!(can_leave(Group, Owner, 3).is_err());
        assert!(can_leave(Group, Owner, 1).is_ok());
        assert!(can_leave(Public, Member, 5).is_err());
        assert!(can_leave(Private, Member, 2).is_err());
        assert!(can_set_role(Group, Admin).is_err());
        assert!(can_set_role(Group, Owner).is_ok());
        assert!(can_manage(Group, Admin, false).is_ok());
        assert!(can_manage(Group, Admin, true).is_err());
    }
}
