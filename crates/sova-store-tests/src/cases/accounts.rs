//! Conformance cases for users, refresh tokens and the blacklist.

use super::*;

pub async fn user_create_and_lookup(s: &Stores) {
    let a = user(s, "Alice", &[]).await;
    assert!(a.id.0 > 0);
    let by_name = s.users.user_by_name("alice").await.unwrap().expect("by name");
    assert_eq!(by_name, a);
    assert_eq!(by_name.username, "Alice", "display case is kept");
    assert_eq!(s.users.user_by_id(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.users.user_by_name("bob").await.unwrap(), None);
    assert_eq!(s.users.user_by_id(UserId(a.id.0 + 1000)).await.unwrap(), None);
}

pub async fn users_by_prefix_page_in_order(s: &Stores) {
    for name in ["Bob", "bobby", "Boris", "alice", "b_x", "bZx", "Борис"] {
        user(s, name, &[]).await;
    }
    let names = |rows: Vec<UserRow>| rows.into_iter().map(|u| u.username).collect::<Vec<_>>();
    let bo = s.users.search_users("bo", None, 10).await.unwrap();
    assert_eq!(
        names(bo),
        ["Bob", "bobby", "Boris"],
        "prefix, case-insensitive, by lower-cased name"
    );
    // `_` is a character here, not a LIKE wildcard.
    assert_eq!(names(s.users.search_users("b_", None, 10).await.unwrap()), ["b_x"]);
    assert_eq!(names(s.users.search_users("бо", None, 10).await.unwrap()), ["Борис"]);
    // Pages of two never overlap and end.
    let first = s.users.search_users("b", None, 2).await.unwrap();
    let last = first.last().unwrap().username.to_lowercase();
    let second = s.users.search_users("b", Some(&last), 2).await.unwrap();
    let third = s
        .users
        .search_users("b", Some(&second.last().unwrap().username.to_lowercase()), 2)
        .await
        .unwrap();
    let mut all = names(first);
    all.extend(names(second));
    all.extend(names(third));
    all.sort();
    let mut expected = vec!["Bob", "bobby", "Boris", "b_x", "bZx"];
    expected.sort();
    assert_eq!(all, expected, "every b-user once over the pages");
    assert_eq!(
        s.users.search_users("", None, 100).await.unwrap().len(),
        7,
        "empty prefix: everyone"
    );
    assert!(s.users.search_users("nobody", None, 10).await.unwrap().is_empty());
}

pub async fn username_conflict_is_case_insensitive(s: &Stores) {
    user(s, "Alice", &[]).await;
    let again = s
        .users
        .create_user(
            NewUser {
                username: "ALICE".into(),
                username_lower: "alice".into(),
                password_hash: "x".into(),
                created_at: T0,
            },
            &[],
        )
        .await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}

pub async fn registration_auto_joins(s: &Stores) {
    let general = s
        .chats
        .ensure_chat("general", ChatKind::Public, "General", T0)
        .await
        .unwrap();
    let a = user(s, "a1", &[general.id]).await;
    let b = user(s, "b1", &[]).await;
    assert!(s.chats.is_member(general.id, a.id).await.unwrap());
    assert!(!s.chats.is_member(general.id, b.id).await.unwrap());
    assert_eq!(s.chats.chats_of(a.id).await.unwrap(), vec![general.id]);
    assert!(s.chats.chats_of(b.id).await.unwrap().is_empty());
    s.chats.add_member(general.id, b.id, "member", T0).await.unwrap();
    s.chats.add_member(general.id, b.id, "member", T0).await.unwrap();
    assert!(s.chats.is_member(general.id, b.id).await.unwrap());
}

pub async fn ensure_chat_is_idempotent_under_races(s: &Stores) {
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.chats
                .ensure_chat("general", ChatKind::Public, "General", T0)
                .await
                .unwrap()
        }));
    }
    let mut ids = HashSet::new();
    for t in tasks {
        let c = t.await.unwrap();
        assert_eq!(c.kind, ChatKind::Public);
        assert_eq!(c.slug.as_deref(), Some("general"));
        ids.insert(c.id);
    }
    assert_eq!(ids.len(), 1);
    let id = *ids.iter().next().unwrap();
    assert_eq!(s.chats.chat(id).await.unwrap().unwrap().name, "General");
    assert_eq!(s.chats.chat(ChatId(id.0 + 99)).await.unwrap(), None);
}

pub async fn refresh_rotation_and_reuse(s: &Stores) {
    let u = user(s, "r1", &[]).await;
    let far = T0 + 1_000_000_000;
    s.tokens.insert_refresh(token(1, u.id, 9, far)).await.unwrap();
    let r = s
        .tokens
        .rotate_refresh(&[1; 32], token(2, u.id, 0, far), T0)
        .await
        .unwrap();
    assert!(
        matches!(r, RotateOutcome::Rotated { user_id, .. } if user_id == u.id),
        "{r:?}"
    );
    // Token 2 works once.
    let r = s
        .tokens
        .rotate_refresh(&[2; 32], token(3, u.id, 0, far), T0)
        .await
        .unwrap();
    assert!(
        matches!(r, RotateOutcome::Rotated { user_id, .. } if user_id == u.id),
        "{r:?}"
    );
    // Reusing token 1 is theft: the family (including live token 3) dies.
    let r = s
        .tokens
        .rotate_refresh(&[1; 32], token(4, u.id, 0, far), T0)
        .await
        .unwrap();
    assert!(
        matches!(r, RotateOutcome::Reused { user_id, .. } if user_id == u.id),
        "{r:?}"
    );
    let r = s
        .tokens
        .rotate_refresh(&[3; 32], token(5, u.id, 0, far), T0)
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Invalid);
}

pub async fn refresh_invalid_cases(s: &Stores) {
    let u = user(s, "r2", &[]).await;
    s.tokens.insert_refresh(token(1, u.id, 1, T0 + 10)).await.unwrap();
    let expired = s
        .tokens
        .rotate_refresh(&[1; 32], token(2, u.id, 0, T0 + 100), T0 + 10)
        .await
        .unwrap();
    assert_eq!(expired, RotateOutcome::Invalid);
    let unknown = s
        .tokens
        .rotate_refresh(&[7; 32], token(3, u.id, 0, T0 + 100), T0)
        .await
        .unwrap();
    assert_eq!(unknown, RotateOutcome::Invalid);
    // Nothing was stored for the failed rotations.
    let none = s
        .tokens
        .rotate_refresh(&[2; 32], token(4, u.id, 0, T0 + 100), T0)
        .await
        .unwrap();
    assert_eq!(none, RotateOutcome::Invalid);
}

pub async fn refresh_family_revocation(s: &Stores) {
    let u = user(s, "r3", &[]).await;
    let v = user(s, "r4", &[]).await;
    let far = T0 + 1_000_000_000;
    s.tokens.insert_refresh(token(1, u.id, 1, far)).await.unwrap();
    s.tokens.insert_refresh(token(8, u.id, 2, far)).await.unwrap();
    assert!(
        !s.tokens.revoke_refresh_family(&[1; 32], v.id, T0).await.unwrap(),
        "another user's token"
    );
    assert!(s.tokens.revoke_refresh_family(&[1; 32], u.id, T0).await.unwrap());
    let r = s
        .tokens
        .rotate_refresh(&[1; 32], token(2, u.id, 0, far), T0)
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Invalid);
    // The other family (another device) is untouched.
    let r = s
        .tokens
        .rotate_refresh(&[8; 32], token(9, u.id, 0, far), T0)
        .await
        .unwrap();
    assert!(
        matches!(r, RotateOutcome::Rotated { user_id, .. } if user_id == u.id),
        "{r:?}"
    );
}

pub async fn blacklist_and_purge(s: &Stores) {
    let u = user(s, "b2", &[]).await;
    s.tokens.blacklist_jti("jti-1", T0 + 10).await.unwrap();
    s.tokens.blacklist_jti("jti-1", T0 + 10).await.unwrap();
    s.tokens.blacklist_jti("jti-2", T0 + 1000).await.unwrap();
    s.tokens.insert_refresh(token(1, u.id, 1, T0 + 10)).await.unwrap();
    assert!(s.tokens.is_blacklisted("jti-1").await.unwrap());
    assert!(!s.tokens.is_blacklisted("jti-3").await.unwrap());
    let purged = s.tokens.purge_expired(T0 + 10).await.unwrap();
    assert_eq!(purged, 2);
    assert!(!s.tokens.is_blacklisted("jti-1").await.unwrap());
    assert!(s.tokens.is_blacklisted("jti-2").await.unwrap());
}
