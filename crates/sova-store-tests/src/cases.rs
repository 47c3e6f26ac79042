//! The conformance cases. Each takes a freshly migrated, empty backend.

use sova_store::{
    Appended, ChatKind, NewMessage, NewRefreshToken, NewUser, RotateOutcome, StoreError, Stores,
    UserRow,
};
use sova_types::{ChatId, MessageId, UserId};
use std::collections::{HashMap, HashSet};

const T0: i64 = 1_700_000_000_000_000;

async fn user(s: &Stores, name: &str, join: &[ChatId]) -> UserRow {
    s.users
        .create_user(
            NewUser {
                username: name.to_owned(),
                username_lower: name.to_lowercase(),
                password_hash: format!("hash-of-{name}"),
                created_at: T0,
            },
            join,
        )
        .await
        .expect("create user")
}

async fn chat(s: &Stores, slug: &str) -> ChatId {
    s.chats
        .ensure_chat(slug, ChatKind::Group, slug, T0)
        .await
        .expect("chat")
        .id
}

fn msg(chat: ChatId, sender: UserId, text: &str, cmid: Option<&str>) -> NewMessage {
    NewMessage {
        chat_id: chat,
        sender_id: sender,
        text: text.to_owned(),
        client_msg_id: cmid.map(str::to_owned),
        created_at: T0,
    }
}

fn new_row(a: &Appended) -> &sova_store::MessageRow {
    match a {
        Appended::New(r) => r,
        other => panic!("expected a new row, got {other:?}"),
    }
}

fn token(hash: u8, user: UserId, family: u8, expires_at: i64) -> NewRefreshToken {
    NewRefreshToken {
        token_hash: vec![hash; 32],
        user_id: user,
        family_id: vec![family; 16],
        created_at: T0,
        expires_at,
    }
}

pub async fn user_create_and_lookup(s: &Stores) {
    let a = user(s, "Alice", &[]).await;
    assert!(a.id.0 > 0);
    let by_name = s
        .users
        .user_by_name("alice")
        .await
        .unwrap()
        .expect("by name");
    assert_eq!(by_name, a);
    assert_eq!(by_name.username, "Alice", "display case is kept");
    assert_eq!(s.users.user_by_id(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(s.users.user_by_name("bob").await.unwrap(), None);
    assert_eq!(
        s.users.user_by_id(UserId(a.id.0 + 1000)).await.unwrap(),
        None
    );
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
    s.chats
        .add_member(general.id, b.id, "member", T0)
        .await
        .unwrap();
    s.chats
        .add_member(general.id, b.id, "member", T0)
        .await
        .unwrap();
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
    s.tokens
        .insert_refresh(token(1, u.id, 9, far))
        .await
        .unwrap();
    let r = s
        .tokens
        .rotate_refresh(&[1; 32], token(2, u.id, 0, far), T0)
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Rotated { user_id: u.id });
    // Token 2 works once.
    let r = s
        .tokens
        .rotate_refresh(&[2; 32], token(3, u.id, 0, far), T0)
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Rotated { user_id: u.id });
    // Reusing token 1 is theft: the family (including live token 3) dies.
    let r = s
        .tokens
        .rotate_refresh(&[1; 32], token(4, u.id, 0, far), T0)
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Reused { user_id: u.id });
    let r = s
        .tokens
        .rotate_refresh(&[3; 32], token(5, u.id, 0, far), T0)
        .await
        .unwrap();
    assert_eq!(r, RotateOutcome::Invalid);
}

pub async fn refresh_invalid_cases(s: &Stores) {
    let u = user(s, "r2", &[]).await;
    s.tokens
        .insert_refresh(token(1, u.id, 1, T0 + 10))
        .await
        .unwrap();
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
    s.tokens
        .insert_refresh(token(1, u.id, 1, far))
        .await
        .unwrap();
    s.tokens
        .insert_refresh(token(8, u.id, 2, far))
        .await
        .unwrap();
    assert!(
        !s.tokens
            .revoke_refresh_family(&[1; 32], v.id, T0)
            .await
            .unwrap(),
        "another user's token"
    );
    assert!(
        s.tokens
            .revoke_refresh_family(&[1; 32], u.id, T0)
            .await
            .unwrap()
    );
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
    assert_eq!(r, RotateOutcome::Rotated { user_id: u.id });
}

pub async fn blacklist_and_purge(s: &Stores) {
    let u = user(s, "b2", &[]).await;
    s.tokens.blacklist_jti("jti-1", T0 + 10).await.unwrap();
    s.tokens.blacklist_jti("jti-1", T0 + 10).await.unwrap();
    s.tokens.blacklist_jti("jti-2", T0 + 1000).await.unwrap();
    s.tokens
        .insert_refresh(token(1, u.id, 1, T0 + 10))
        .await
        .unwrap();
    assert!(s.tokens.is_blacklisted("jti-1").await.unwrap());
    assert!(!s.tokens.is_blacklisted("jti-3").await.unwrap());
    let purged = s.tokens.purge_expired(T0 + 10).await.unwrap();
    assert_eq!(purged, 2);
    assert!(!s.tokens.is_blacklisted("jti-1").await.unwrap());
    assert!(s.tokens.is_blacklisted("jti-2").await.unwrap());
}

pub async fn append_assigns_ids_and_chat_seq(s: &Stores) {
    let (c1, c2) = (chat(s, "c1").await, chat(s, "c2").await);
    let u = user(s, "m1", &[c1, c2]).await;
    assert_eq!(s.messages.last_message_id().await.unwrap(), 0);
    let out = s
        .messages
        .append_batch(&[
            msg(c1, u.id, "a", None),
            msg(c2, u.id, "b", None),
            msg(c1, u.id, "c", None),
        ])
        .await
        .unwrap();
    let rows: Vec<_> = out.iter().map(new_row).collect();
    assert_eq!(
        rows.iter().map(|r| r.id.0).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(
        rows.iter().map(|r| r.chat_seq).collect::<Vec<_>>(),
        vec![1, 1, 2]
    );
    assert_eq!(rows[0].sender_name, "m1");
    assert_eq!(rows[2].text, "c");
    let out = s
        .messages
        .append_batch(&[msg(c1, u.id, "d", None)])
        .await
        .unwrap();
    let d = new_row(&out[0]);
    assert_eq!((d.id.0, d.chat_seq), (4, 3));
    assert_eq!(s.messages.last_message_id().await.unwrap(), 4);
    assert_eq!(s.chats.chat(c1).await.unwrap().unwrap().last_seq, 3);
    assert!(s.messages.append_batch(&[]).await.unwrap().is_empty());
}

pub async fn append_is_idempotent_by_client_msg_id(s: &Stores) {
    let c = chat(s, "c").await;
    let u = user(s, "m2", &[c]).await;
    let v = user(s, "m3", &[c]).await;
    let first = s
        .messages
        .append_batch(&[msg(c, u.id, "hello", Some("k1"))])
        .await
        .unwrap();
    let first = new_row(&first[0]).clone();
    assert_eq!(first.client_msg_id.as_deref(), Some("k1"));
    let out = s
        .messages
        .append_batch(&[
            msg(c, u.id, "hello again", Some("k1")),
            msg(c, u.id, "x", Some("k2")),
            msg(c, u.id, "x again", Some("k2")),
            msg(c, v.id, "same key, other sender", Some("k1")),
        ])
        .await
        .unwrap();
    assert_eq!(out[0], Appended::Duplicate(first.clone()));
    let k2 = new_row(&out[1]).clone();
    assert_eq!(out[2], Appended::Duplicate(k2.clone()));
    let other = new_row(&out[3]);
    assert_ne!(other.id, first.id);
    // Only three rows exist, with gap-free chat_seq.
    let hist = s.messages.history(c, None, 10).await.unwrap();
    assert_eq!(hist.len(), 3);
    assert_eq!(
        hist.iter().map(|r| r.chat_seq).collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    assert_eq!(s.messages.last_message_id().await.unwrap(), 3);
}

pub async fn append_to_missing_chat(s: &Stores) {
    let c = chat(s, "c").await;
    let u = user(s, "m4", &[c]).await;
    let out = s
        .messages
        .append_batch(&[
            msg(ChatId(c.0 + 50), u.id, "lost", None),
            msg(c, u.id, "kept", None),
        ])
        .await
        .unwrap();
    assert_eq!(out[0], Appended::NoSuchChat);
    assert_eq!(new_row(&out[1]).id, MessageId(1));
}

pub async fn history_pages_without_overlap(s: &Stores) {
    let c = chat(s, "c").await;
    let other = chat(s, "other").await;
    let u = user(s, "h1", &[c, other]).await;
    let batch: Vec<_> = (0..25)
        .flat_map(|i| {
            [
                msg(c, u.id, &format!("m{i}"), None),
                msg(other, u.id, "noise", None),
            ]
        })
        .collect();
    s.messages.append_batch(&batch).await.unwrap();
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = s.messages.history(c, before, 10).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.windows(2).all(|w| w[0].id > w[1].id), "newest first");
        assert!(page.iter().all(|r| r.chat_id == c));
        before = page.last().map(|r| r.id);
        seen.extend(page.into_iter().map(|r| r.text));
    }
    let expected: Vec<_> = (0..25).rev().map(|i| format!("m{i}")).collect();
    assert_eq!(seen, expected);
}

pub async fn messages_since_is_scoped_by_membership(s: &Stores) {
    let (c1, c2) = (chat(s, "c1").await, chat(s, "c2").await);
    let a = user(s, "s1", &[c1]).await;
    let b = user(s, "s2", &[c2]).await;
    let out = s
        .messages
        .append_batch(&[
            msg(c1, a.id, "for a", None),
            msg(c2, b.id, "for b", None),
            msg(c1, a.id, "a2", None),
        ])
        .await
        .unwrap();
    let ids: Vec<i64> = out.iter().map(|o| new_row(o).id.0).collect();
    let for_a = s.messages.messages_since(a.id, 0, 100).await.unwrap();
    assert_eq!(
        for_a.iter().map(|r| r.id.0).collect::<Vec<_>>(),
        vec![ids[0], ids[2]]
    );
    let for_b = s.messages.messages_since(b.id, 0, 100).await.unwrap();
    assert_eq!(for_b.len(), 1);
    assert_eq!(for_b[0].text, "for b");
    let after = s.messages.messages_since(a.id, ids[0], 100).await.unwrap();
    assert_eq!(
        after.iter().map(|r| r.id.0).collect::<Vec<_>>(),
        vec![ids[2]]
    );
    let limited = s.messages.messages_since(a.id, 0, 1).await.unwrap();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].id.0, ids[0]);
}

pub async fn concurrent_appends_stay_ordered(s: &Stores) {
    let (c1, c2) = (chat(s, "c1").await, chat(s, "c2").await);
    let u = user(s, "w1", &[c1, c2]).await;
    let mut tasks = Vec::new();
    for t in 0..6 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for b in 0..5 {
                let batch: Vec<_> = (0..10)
                    .map(|i| {
                        msg(
                            if i % 2 == 0 { c1 } else { c2 },
                            u.id,
                            &format!("{t}-{b}-{i}"),
                            None,
                        )
                    })
                    .collect();
                s.messages.append_batch(&batch).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(s.messages.last_message_id().await.unwrap(), 300);
    let all = s.messages.messages_since(u.id, 0, 1000).await.unwrap();
    assert_eq!(all.len(), 300);
    assert_eq!(
        all.iter().map(|r| r.id.0).collect::<Vec<_>>(),
        (1..=300).collect::<Vec<_>>()
    );
    let mut per_chat: HashMap<ChatId, Vec<i64>> = HashMap::new();
    for r in &all {
        per_chat.entry(r.chat_id).or_default().push(r.chat_seq);
    }
    for seqs in per_chat.values() {
        assert_eq!(
            seqs,
            &(1..=150).collect::<Vec<_>>(),
            "chat_seq follows id order without gaps"
        );
    }
}

pub async fn hostile_text_is_stored_inertly(s: &Stores) {
    let c = chat(s, "c").await;
    let u = user(s, "x1", &[c]).await;
    let payloads = [
        "'; DROP TABLE users; --",
        "<script>alert(1)</script>",
        "Привет, мир! 👋 \u{202e}rtl",
        "\\\" OR 1=1 --",
    ];
    let batch: Vec<_> = payloads.iter().map(|p| msg(c, u.id, p, Some(p))).collect();
    s.messages.append_batch(&batch).await.unwrap();
    let hist = s.messages.history(c, None, 10).await.unwrap();
    let mut texts: Vec<_> = hist.into_iter().map(|r| r.text).collect();
    texts.reverse();
    assert_eq!(texts, payloads);
    assert!(
        s.users.user_by_name("x1").await.unwrap().is_some(),
        "users table intact"
    );
}
