//! Conformance cases for chats: private pairs, groups, roles and membership,
//! channels, invites.

use super::*;

pub async fn private_chat_is_unique_per_pair(s: &Stores) {
    let a = user(s, "pa", &[]).await;
    let b = user(s, "pb", &[]).await;
    let first = commit(s, vec![create(ChatKind::Private, "", a.id, &[b.id])]).await;
    let chat = chat_of(&first[0]);
    assert_eq!(chat.kind, ChatKind::Private);
    assert_eq!(chat.member_count, 2);
    assert_eq!(chat.name, "pa & pb");
    // Both get a targeted chat_added event.
    let targets: Vec<_> = first[0].events.iter().filter_map(|e| e.target_user).collect();
    assert_eq!(targets, vec![a.id, b.id]);
    assert!(frames(&first[0]).iter().all(|f| f["type"] == "chat_added"));
    // Again, from either side: the same chat, no events.
    let again = commit(s, vec![create(ChatKind::Private, "", b.id, &[a.id])]).await;
    assert!(matches!(again[0].outcome, Outcome::ExistingChat(ref c) if c.id == chat.id));
    assert!(again[0].events.is_empty());
    let bad = commit(
        s,
        vec![
            create(ChatKind::Private, "", a.id, &[]),
            create(ChatKind::Private, "", a.id, &[UserId(9999)]),
        ],
    )
    .await;
    assert_eq!(rejected(&bad[0]), RejectionKind::BadRequest);
    assert_eq!(rejected(&bad[1]), RejectionKind::NotFound);
    // Nobody leaves a private chat (it stays one per pair).
    let leave = commit(
        s,
        vec![WriteOp::RemoveMember {
            chat: chat.id,
            by: a.id,
            user: a.id,
            at: T0,
        }],
    )
    .await;
    assert_eq!(rejected(&leave[0]), RejectionKind::Forbidden);
    // Members of a private chat cannot change.
    let c = commit(
        s,
        vec![WriteOp::AddMembers {
            chat: chat.id,
            by: a.id,
            users: vec![UserId(1)],
            invite: None,
            at: T0,
            max_members: 10,
        }],
    )
    .await;
    assert_eq!(rejected(&c[0]), RejectionKind::Forbidden);
}

pub async fn group_roles_and_membership_rules(s: &Stores) {
    let o = user(s, "owner", &[]).await;
    let m = user(s, "member", &[]).await;
    let x = user(s, "extra", &[]).await;
    let g = chat_of(&commit(s, vec![create(ChatKind::Group, "team", o.id, &[m.id])]).await[0]);
    assert_eq!(g.member_count, 2);
    assert_eq!(g.last_seq, 1, "a system message announces the group");
    let owner = s.chats.member(g.id, o.id).await.unwrap().unwrap();
    assert_eq!(owner.role, sova_store::Role::Owner);
    let add = |by: UserId| WriteOp::AddMembers {
        chat: g.id,
        by,
        users: vec![x.id],
        invite: None,
        at: T0,
        max_members: 3,
    };
    assert_eq!(rejected(&commit(s, vec![add(m.id)]).await[0]), RejectionKind::Forbidden);
    let added = commit(s, vec![add(o.id)]).await;
    assert_eq!(chat_of(&added[0]).member_count, 3);
    let f = frames(&added[0]);
    // chat_added first (it subscribes the new member), then the system message, then
    // the new member count for everyone.
    assert_eq!(f[0]["type"], "chat_added");
    assert_eq!(f[0]["chat"]["unread"], 0, "history counts as read for a new member");
    assert_eq!(added[0].events[0].target_user, Some(x.id));
    assert_eq!(
        added[0].events[0].membership(),
        Some(sova_store::Membership::Joined(g.id))
    );
    assert_eq!(
        (f[1]["type"].as_str(), f[1]["kind"].as_str()),
        (Some("new_message"), Some("system"))
    );
    assert_eq!(
        (f[2]["type"].as_str(), f[2]["chat"]["member_count"].as_i64()),
        (Some("chat_updated"), Some(3))
    );
    // The member limit (3) holds.
    let y = user(s, "yet", &[]).await;
    let over = commit(
        s,
        vec![WriteOp::AddMembers {
            chat: g.id,
            by: o.id,
            users: vec![y.id],
            invite: None,
            at: T0,
            max_members: 3,
        }],
    )
    .await;
    assert_eq!(rejected(&over[0]), RejectionKind::Conflict);
    // Member cannot remove; owner promotes m to admin; admin removes x; admin cannot remove owner.
    let rm = |by: UserId, user: UserId| WriteOp::RemoveMember {
        chat: g.id,
        by,
        user,
        at: T0,
    };
    assert_eq!(
        rejected(&commit(s, vec![rm(m.id, x.id)]).await[0]),
        RejectionKind::Forbidden
    );
    let promote = commit(
        s,
        vec![WriteOp::SetRole {
            chat: g.id,
            by: o.id,
            user: m.id,
            role: sova_store::Role::Admin,
            at: T0,
        }],
    )
    .await;
    assert_eq!(frames(&promote[0])[0]["type"], "member_updated");
    let removed = commit(s, vec![rm(m.id, x.id), rm(m.id, o.id)]).await;
    assert!(matches!(removed[0].outcome, Outcome::Done));
    assert!(
        removed[0]
            .events
            .iter()
            .any(|e| e.target_user == Some(x.id) && e.membership() == Some(sova_store::Membership::Left(g.id)))
    );
    assert_eq!(rejected(&removed[1]), RejectionKind::Forbidden);
    assert!(!s.chats.is_member(g.id, x.id).await.unwrap());
    // The owner cannot leave while others remain; after transferring, they can.
    assert_eq!(
        rejected(&commit(s, vec![rm(o.id, o.id)]).await[0]),
        RejectionKind::Conflict
    );
    commit(
        s,
        vec![WriteOp::SetRole {
            chat: g.id,
            by: o.id,
            user: m.id,
            role: sova_store::Role::Owner,
            at: T0,
        }],
    )
    .await;
    assert_eq!(
        s.chats.member(g.id, m.id).await.unwrap().unwrap().role,
        sova_store::Role::Owner
    );
    assert_eq!(
        s.chats.member(g.id, o.id).await.unwrap().unwrap().role,
        sova_store::Role::Admin
    );
    assert!(matches!(
        commit(s, vec![rm(o.id, o.id)]).await[0].outcome,
        Outcome::Done
    ));
    assert_eq!(s.chats.chat(g.id).await.unwrap().unwrap().member_count, 1);
    // Rename and delete: only managers / the owner.
    let renamed = commit(
        s,
        vec![WriteOp::Rename {
            chat: g.id,
            by: m.id,
            name: "renamed".into(),
            at: T0,
        }],
    )
    .await;
    assert_eq!(chat_of(&renamed[0]).name, "renamed");
    assert_eq!(s.chats.chat(g.id).await.unwrap().unwrap().name, "renamed");
    let del = commit(
        s,
        vec![WriteOp::DeleteChat {
            chat: g.id,
            by: m.id,
            at: T0,
        }],
    )
    .await;
    assert!(matches!(del[0].outcome, Outcome::Done));
    assert_eq!(s.chats.chat(g.id).await.unwrap(), None);
    assert!(s.chats.chats_of(m.id).await.unwrap().is_empty());
}

pub async fn channel_only_admins_post(s: &Stores) {
    let o = user(s, "chan_o", &[]).await;
    let r = user(s, "chan_r", &[]).await;
    let c = chat_of(&commit(s, vec![create(ChatKind::Channel, "news", o.id, &[r.id])]).await[0]);
    let out = append(
        s,
        &[
            msg(c.id, r.id, "reader speaks", None),
            msg(c.id, o.id, "owner posts", None),
        ],
    )
    .await;
    assert!(matches!(&out[0], Outcome::Rejected(e) if e.kind() == RejectionKind::Forbidden));
    assert_eq!(new_row(&out[1]).text, "owner posts");
}

pub async fn invites_and_join(s: &Stores) {
    let o = user(s, "in_o", &[]).await;
    let j = user(s, "in_j", &[]).await;
    let k = user(s, "in_k", &[]).await;
    let g = chat_of(&commit(s, vec![create(ChatKind::Group, "open", o.id, &[])]).await[0]).id;
    let inv = |code: &str, expires_at: Option<i64>, max_uses: Option<i64>| sova_store::InviteRow {
        code: code.into(),
        chat_id: g,
        created_by: o.id,
        created_at: T0,
        expires_at,
        max_uses,
        uses: 0,
        revoked_at: None,
    };
    s.chats.create_invite(inv("once", None, Some(1))).await.unwrap();
    s.chats.create_invite(inv("old", Some(T0 + 1), None)).await.unwrap();
    let join = |user: UserId, code: &str| WriteOp::AddMembers {
        chat: g,
        by: user,
        users: vec![user],
        invite: Some(code.into()),
        at: T0 + 10,
        max_members: 100,
    };
    let out = commit(
        s,
        vec![
            join(j.id, "once"),
            join(j.id, "once"),
            join(k.id, "once"),
            join(k.id, "old"),
            join(k.id, "nope"),
        ],
    )
    .await;
    assert!(out[1].events.is_empty(), "joining again is a no-op");
    let out: Vec<_> = [&out[0], &out[2], &out[3], &out[4]].into_iter().cloned().collect();
    assert_eq!(chat_of(&out[0]).member_count, 2);
    assert!(
        frames(&out[0])
            .iter()
            .any(|f| f["kind"] == "system" && f["text"].as_str().unwrap().ends_with("joined"))
    );
    for c in &out[1..] {
        assert_eq!(rejected(c), RejectionKind::NotFound);
    }
    assert_eq!(s.chats.invite("once").await.unwrap().unwrap().uses, 1);
    assert!(s.chats.revoke_invite(g, "old", T0).await.unwrap());
    assert!(!s.chats.revoke_invite(g, "old", T0).await.unwrap());
    assert_eq!(s.chats.invites(g).await.unwrap().len(), 2);
    let members = s.chats.members(g, None, 10).await.unwrap();
    assert_eq!(members.iter().map(|m| m.user_id).collect::<Vec<_>>(), vec![o.id, j.id]);
}

pub async fn members_of_many_chats_in_one_query(s: &Stores) {
    let a = user(s, "mba", &[]).await;
    let b = user(s, "mbb", &[]).await;
    let c = user(s, "mbc", &[]).await;
    let ab = chat_of(&commit(s, vec![create(ChatKind::Group, "ab", a.id, &[b.id])]).await[0]);
    let abc = chat_of(&commit(s, vec![create(ChatKind::Group, "abc", a.id, &[b.id, c.id])]).await[0]);
    let bc = chat_of(&commit(s, vec![create(ChatKind::Group, "bc", b.id, &[c.id])]).await[0]);
    let found = s
        .chats
        .members_of_chats(a.id, &[ab.id, abc.id, bc.id, ChatId(987_654)], 10)
        .await
        .unwrap();
    let pairs: Vec<(ChatId, UserId, i64)> = found.iter().map(|(m, n)| (m.chat_id, m.user_id, *n)).collect();
    // `bc` is not a's chat and the unknown id is no chat: neither shows.
    assert_eq!(
        pairs,
        vec![
            (ab.id, a.id, 2),
            (ab.id, b.id, 2),
            (abc.id, a.id, 3),
            (abc.id, b.id, 3),
            (abc.id, c.id, 3)
        ]
    );
    assert_eq!(found[0].0.username, "mba");
    // The per-chat cap keeps the first members of each chat by user id.
    let capped = s.chats.members_of_chats(b.id, &[abc.id, bc.id], 1).await.unwrap();
    let capped: Vec<(ChatId, UserId)> = capped.iter().map(|(m, _)| (m.chat_id, m.user_id)).collect();
    assert_eq!(capped, vec![(abc.id, a.id), (bc.id, b.id)]);
    assert!(s.chats.members_of_chats(a.id, &[], 10).await.unwrap().is_empty());
    // A deleted chat has no members to show.
    let del = commit(
        s,
        vec![WriteOp::DeleteChat {
            chat: ab.id,
            by: a.id,
            at: T0,
        }],
    )
    .await;
    assert!(!matches!(del[0].outcome, Outcome::Rejected(..)));
    let after = s.chats.members_of_chats(a.id, &[ab.id], 10).await.unwrap();
    assert!(after.is_empty(), "{after:?}");
}
