//! Conformance cases for messages: appending, history, replay, edits, deletes,
//! reactions, pins, read state, events, mentions, replies and forwards.

use super::*;

pub async fn append_assigns_ids_and_chat_seq(s: &Stores) {
    let (c1, c2) = (chat(s, "c1").await, chat(s, "c2").await);
    let u = user(s, "m1", &[c1, c2]).await;
    assert_eq!(s.messages.last_message_id().await.unwrap(), 0);
    let out = append(
        s,
        &[
            msg(c1, u.id, "a", None),
            msg(c2, u.id, "b", None),
            msg(c1, u.id, "c", None),
        ],
    )
    .await;
    let rows: Vec<_> = out.iter().map(new_row).collect();
    assert_eq!(rows.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(rows.iter().map(|r| r.chat_seq).collect::<Vec<_>>(), vec![1, 1, 2]);
    assert_eq!(rows[0].sender_name, "m1");
    assert_eq!(rows[2].text, "c");
    let out = append(s, &[msg(c1, u.id, "d", None)]).await;
    let d = new_row(&out[0]);
    assert_eq!((d.id.0, d.chat_seq), (4, 3));
    assert_eq!(s.messages.last_message_id().await.unwrap(), 4);
    assert_eq!(s.chats.chat(c1).await.unwrap().unwrap().last_seq, 3);
    assert!(append(s, &[]).await.is_empty());
}

pub async fn append_is_idempotent_by_client_msg_id(s: &Stores) {
    let c = chat(s, "c").await;
    let u = user(s, "m2", &[c]).await;
    let v = user(s, "m3", &[c]).await;
    let first = append(s, &[msg(c, u.id, "hello", Some("k1"))]).await;
    let first = new_row(&first[0]).clone();
    assert_eq!(first.client_msg_id.as_deref(), Some("k1"));
    let out = append(
        s,
        &[
            msg(c, u.id, "hello again", Some("k1")),
            msg(c, u.id, "x", Some("k2")),
            msg(c, u.id, "x again", Some("k2")),
            msg(c, v.id, "same key, other sender", Some("k1")),
        ],
    )
    .await;
    assert_eq!(out[0], Outcome::Duplicate(first.clone()));
    let k2 = new_row(&out[1]).clone();
    assert_eq!(out[2], Outcome::Duplicate(k2.clone()));
    let other = new_row(&out[3]);
    assert_ne!(other.id, first.id);
    // Only three rows exist, with gap-free chat_seq.
    let hist = s.messages.history(c, None, None, 10, false).await.unwrap();
    assert_eq!(hist.len(), 3);
    assert_eq!(hist.iter().map(|r| r.chat_seq).collect::<Vec<_>>(), vec![3, 2, 1]);
    assert_eq!(s.messages.last_message_id().await.unwrap(), 3);
}

pub async fn append_to_missing_chat(s: &Stores) {
    let c = chat(s, "c").await;
    let u = user(s, "m4", &[c]).await;
    let out = append(
        s,
        &[msg(ChatId(c.0 + 50), u.id, "lost", None), msg(c, u.id, "kept", None)],
    )
    .await;
    assert!(matches!(out[0], Outcome::Rejected(_)), "{:?}", out[0]);
    assert_eq!(new_row(&out[1]).id, MessageId(1));
}

pub async fn history_pages_without_overlap(s: &Stores) {
    let c = chat(s, "c").await;
    let other = chat(s, "other").await;
    let u = user(s, "h1", &[c, other]).await;
    let batch: Vec<_> = (0..25)
        .flat_map(|i| [msg(c, u.id, &format!("m{i}"), None), msg(other, u.id, "noise", None)])
        .collect();
    append(s, &batch).await;
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = s.messages.history(c, before, None, 10, false).await.unwrap();
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
    let out = append(
        s,
        &[
            msg(c1, a.id, "for a", None),
            msg(c2, b.id, "for b", None),
            msg(c1, a.id, "a2", None),
        ],
    )
    .await;
    let ids: Vec<i64> = out.iter().map(|o| new_row(o).id.0).collect();
    let for_a = s.messages.messages_since(a.id, 0, 100).await.unwrap();
    assert_eq!(for_a.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![ids[0], ids[2]]);
    let for_b = s.messages.messages_since(b.id, 0, 100).await.unwrap();
    assert_eq!(for_b.len(), 1);
    assert_eq!(for_b[0].text, "for b");
    let after = s.messages.messages_since(a.id, ids[0], 100).await.unwrap();
    assert_eq!(after.iter().map(|r| r.id.0).collect::<Vec<_>>(), vec![ids[2]]);
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
                    .map(|i| msg(if i % 2 == 0 { c1 } else { c2 }, u.id, &format!("{t}-{b}-{i}"), None))
                    .collect();
                append(&s, &batch).await;
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
    append(s, &batch).await;
    let hist = s.messages.history(c, None, None, 10, false).await.unwrap();
    let mut texts: Vec<_> = hist.into_iter().map(|r| r.text).collect();
    texts.reverse();
    assert_eq!(texts, payloads);
    assert!(
        s.users.user_by_name("x1").await.unwrap().is_some(),
        "users table intact"
    );
}

pub async fn edit_delete_and_versions(s: &Stores) {
    let c = chat(s, "c").await;
    let a = user(s, "ed_a", &[c]).await;
    let b = user(s, "ed_b", &[c]).await;
    let m = new_row(&append(s, &[msg(c, a.id, "first", None)]).await[0]).clone();
    let edit = |user: UserId, text: &str| WriteOp::Edit {
        chat: c,
        message: m.id,
        user,
        text: text.into(),
        at: T0 + 5,
    };
    let out = commit(s, vec![edit(b.id, "hijack"), edit(a.id, "second"), edit(a.id, "third")]).await;
    assert_eq!(rejected(&out[0]), RejectionKind::Forbidden);
    assert_eq!(new_row(&out[2].outcome).text, "third");
    let f = frames(&out[1]);
    assert_eq!(f[0]["type"], "message_edited");
    assert_eq!(f[0]["text"], "second");
    assert!(out[2].events[0].seq > out[1].events[0].seq);
    let versions = s.messages.versions(m.id).await.unwrap();
    assert_eq!(
        versions.iter().map(|v| v.1.as_str()).collect::<Vec<_>>(),
        vec!["first", "second"]
    );
    let stored = s.messages.message(c, m.id).await.unwrap().unwrap();
    assert_eq!((stored.text.as_str(), stored.edited_at), ("third", Some(T0 + 5)));
    // Delete: not by another member; by the author it leaves a tombstone.
    let del = |user: UserId| WriteOp::Delete {
        chat: c,
        message: m.id,
        user,
        at: T0 + 9,
    };
    let out = commit(s, vec![del(b.id), del(a.id), del(a.id)]).await;
    assert_eq!(rejected(&out[0]), RejectionKind::Forbidden);
    assert_eq!(frames(&out[1])[0]["type"], "message_deleted");
    assert!(out[2].events.is_empty(), "deleting twice emits nothing");
    let stored = s.messages.message(c, m.id).await.unwrap().unwrap();
    assert_eq!((stored.text.as_str(), stored.deleted_at), ("", Some(T0 + 9)));
    assert!(
        s.messages.versions(m.id).await.unwrap().is_empty(),
        "old versions go with it"
    );
    let replay = s.messages.events_since(b.id, 0, 100).await.unwrap();
    assert!(
        replay
            .iter()
            .map(|e| String::from_utf8(e.to_json().to_vec()).unwrap())
            .all(|f| !f.contains("second") && !f.contains("third")),
        "no stored event keeps the text: {replay:?}"
    );
    assert!(
        replay
            .iter()
            .any(|e| matches!(e, sova_types::Event::MessageDeleted { .. }))
    );
    assert_eq!(
        rejected(&commit(s, vec![edit(a.id, "zombie")]).await[0]),
        RejectionKind::NotFound
    );
}

pub async fn reactions_and_pins(s: &Stores) {
    let o = user(s, "rp_o", &[]).await;
    let m = user(s, "rp_m", &[]).await;
    let outsider = user(s, "rp_x", &[]).await;
    let g = chat_of(&commit(s, vec![create(ChatKind::Group, "g", o.id, &[m.id])]).await[0]).id;
    let msg_row = new_row(&append(s, &[msg(g, m.id, "react to me", None)]).await[0]).clone();
    let react = |user: UserId, emoji: &str, add: bool| WriteOp::React {
        chat: g,
        message: msg_row.id,
        user,
        emoji: emoji.into(),
        add,
        at: T0,
    };
    let out = commit(
        s,
        vec![
            react(o.id, "👍", true),
            react(m.id, "👍", true),
            react(m.id, "👍", true),
            react(o.id, "🎉", true),
            react(outsider.id, "👍", true),
        ],
    )
    .await;
    assert_eq!(frames(&out[1])[0]["count"], 2);
    assert!(out[2].events.is_empty(), "one per user per emoji");
    assert_eq!(rejected(&out[4]), RejectionKind::NotFound);
    let counts = s.messages.reactions(&[msg_row.id], m.id).await.unwrap();
    // Same time: ordered by bytes (👍 U+1F44D sorts after 🎉 U+1F389).
    assert_eq!(
        counts,
        vec![
            (msg_row.id, "🎉".to_owned(), 1, false),
            (msg_row.id, "👍".to_owned(), 2, true)
        ]
    );
    let out = commit(s, vec![react(m.id, "👍", false)]).await;
    let f = frames(&out[0]);
    assert_eq!(
        (f[0]["type"].as_str(), f[0]["count"].as_i64()),
        (Some("reaction_removed"), Some(1))
    );
    // Pins: admins only in a group.
    let pin = |user: UserId, on: bool| WriteOp::Pin {
        chat: g,
        message: msg_row.id,
        user,
        pin: on,
        at: T0 + 1,
    };
    let out = commit(s, vec![pin(m.id, true), pin(o.id, true), pin(o.id, true)]).await;
    assert_eq!(rejected(&out[0]), RejectionKind::Forbidden);
    assert_eq!(frames(&out[1])[0]["pinned"], true);
    assert!(out[2].events.is_empty());
    assert_eq!(
        s.messages
            .pins(g)
            .await
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect::<Vec<_>>(),
        vec![msg_row.id]
    );
    commit(s, vec![pin(o.id, false)]).await;
    assert!(s.messages.pins(g).await.unwrap().is_empty());
}

pub async fn read_state_and_receipts(s: &Stores) {
    let c = chat(s, "c").await;
    let a = user(s, "rd_a", &[c]).await;
    let b = user(s, "rd_b", &[c]).await;
    append(
        s,
        &[
            msg(c, a.id, "1", None),
            msg(c, a.id, "2", None),
            msg(c, a.id, "3", None),
        ],
    )
    .await;
    assert_eq!(
        s.chats.member(c, a.id).await.unwrap().unwrap().last_read_seq,
        3,
        "sending marks read"
    );
    assert_eq!(s.chats.member(c, b.id).await.unwrap().unwrap().last_read_seq, 0);
    let read = |up_to: i64, receipts: i64| WriteOp::Read {
        chat: c,
        user: b.id,
        up_to,
        at: T0,
        receipts_max_members: receipts,
    };
    let out = commit(s, vec![read(2, 100), read(1, 100), read(99, 1)]).await;
    assert_eq!(out[0].events[0].chat_id, Some(c), "small chat: a receipt for everyone");
    assert!(out[1].events.is_empty(), "never backwards");
    assert_eq!(
        out[2].events[0].target_user,
        Some(b.id),
        "big chat: only the reader's devices"
    );
    assert_eq!(frames(&out[2])[0]["up_to"], 3, "clamped to the last message");
    assert_eq!(s.chats.member(c, b.id).await.unwrap().unwrap().last_read_seq, 3);
    let mine = s.chats.my_chats(b.id, None, 10).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!((mine[0].chat.last_seq, mine[0].last_read_seq), (3, 3));
    assert_eq!(mine[0].last_message.as_ref().unwrap().text, "3");
}

pub async fn events_are_scoped_and_ordered(s: &Stores) {
    let (c1, c2) = (chat(s, "c1").await, chat(s, "c2").await);
    let a = user(s, "ev_a", &[c1]).await;
    let b = user(s, "ev_b", &[c2]).await;
    let m1 = new_row(&append(s, &[msg(c1, a.id, "a1", None)]).await[0]).clone();
    let m2 = new_row(&append(s, &[msg(c2, b.id, "b1", None)]).await[0]).clone();
    let out = commit(
        s,
        vec![
            WriteOp::Edit {
                chat: c1,
                message: m1.id,
                user: a.id,
                text: "a1'".into(),
                at: T0,
            },
            WriteOp::Edit {
                chat: c2,
                message: m2.id,
                user: b.id,
                text: "b1'".into(),
                at: T0,
            },
            WriteOp::Send(msg(c1, a.id, "after", None)),
        ],
    )
    .await;
    // Messages and events share one sequence, in op order.
    let seqs: Vec<i64> = out.iter().flat_map(|c| c.events.iter().map(|e| e.seq)).collect();
    assert_eq!(seqs, vec![m2.id.0 + 1, m2.id.0 + 2, m2.id.0 + 3]);
    let for_a = s.messages.events_since(a.id, 0, 100).await.unwrap();
    assert_eq!(for_a.len(), 1);
    assert!(matches!(&for_a[0], sova_types::Event::MessageEdited { text, .. } if text == "a1'"));
    assert!(
        s.messages
            .events_since(a.id, for_a[0].seq(), 100)
            .await
            .unwrap()
            .is_empty()
    );
    let for_b = s.messages.events_since(b.id, 0, 100).await.unwrap();
    assert_eq!(for_b.len(), 1);
    assert!(matches!(&for_b[0], sova_types::Event::MessageEdited { text, .. } if text == "b1'"));
    assert_eq!(s.messages.last_message_id().await.unwrap(), m2.id.0 + 3);
}

pub async fn mentions_replies_and_forwards(s: &Stores) {
    let c = chat(s, "c").await;
    let other = chat(s, "other").await;
    let a = user(s, "mr_a", &[c, other]).await;
    let b = user(s, "mr_b", &[c]).await;
    let outsider = user(s, "mr_out", &[other]).await;
    let first = new_row(&append(s, &[msg(c, b.id, "original", None)]).await[0]).clone();
    let mut m = msg(c, a.id, "hi @mr_b and @mr_out and @nobody", None);
    m.mentions = vec!["mr_b".into(), "mr_out".into(), "nobody".into(), "mr_a".into()];
    m.reply_to = Some(first.id);
    let out = commit(s, vec![WriteOp::Send(m)]).await;
    let row = new_row(&out[0].outcome).clone();
    assert_eq!(row.mentions, vec![b.id], "only other members are mentioned");
    assert_eq!(row.reply_to, Some(first.id));
    let mention: Vec<_> = out[0].events.iter().filter(|e| e.target_user.is_some()).collect();
    assert_eq!(mention.len(), 1);
    assert_eq!(mention[0].target_user, Some(b.id));
    assert!(matches!(mention[0].event, sova_types::Event::Mention { .. }));
    // A reply must point into the same chat.
    let mut bad = msg(other, a.id, "x", None);
    bad.reply_to = Some(first.id);
    let out = append(s, &[bad]).await;
    assert!(matches!(&out[0], Outcome::Rejected(e) if e.kind() == RejectionKind::BadRequest));
    // Forward into `other`: the origin is kept; an outsider cannot forward what they cannot see.
    let mut fwd = NewMessage::text(other, a.id, "", T0);
    fwd.forward_of = Some(first.id);
    let mut sneaky = NewMessage::text(other, outsider.id, "", T0);
    sneaky.forward_of = Some(first.id);
    let out = append(s, &[fwd, sneaky]).await;
    let f = new_row(&out[0]);
    assert_eq!(f.text, "original");
    let origin = f.forward.as_ref().unwrap();
    assert_eq!(
        (origin.chat_id, origin.message_id, origin.user.as_str()),
        (c, first.id, "mr_b")
    );
    assert!(matches!(&out[1], Outcome::Rejected(e) if e.kind() == RejectionKind::NotFound));
    let stored = s.messages.message(other, f.id).await.unwrap().unwrap();
    assert_eq!(stored.forward, f.forward);
}
