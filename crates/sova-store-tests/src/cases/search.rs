//! The search index port: changes after a position (sends, edits, deletes), the
//! compare-and-set that applies a batch once, postings scoped by membership and
//! filters, and the statistics BM25 needs.

use super::*;
use sova_store::{SearchBatch, SearchDoc, SearchFilter};

fn doc(m: &sova_store::MessageRow, token: u8, tf: i64, length: i64) -> SearchDoc {
    SearchDoc {
        message_id: m.id,
        slot: 0,
        chat_id: m.chat_id,
        sender_id: m.sender_id,
        file_id: None,
        created_at: m.created_at,
        has_files: false,
        length,
        tokens: vec![(vec![token; 12], tf), (vec![9; 12], 1)],
    }
}

fn only(user: UserId) -> SearchFilter {
    SearchFilter {
        user,
        chat: None,
        sender: None,
        before_id: None,
        after_id: None,
        before_at: None,
        after_at: None,
        has_files: false,
        max_rows: 1000,
    }
}

pub async fn search_index_follows_changes_once_and_by_membership(s: &Stores) {
    let (c1, c2) = (chat(s, "c1").await, chat(s, "c2").await);
    let a = user(s, "x1", &[c1]).await;
    let b = user(s, "x2", &[c2]).await;
    let out = append(
        s,
        &[
            msg(c1, a.id, "one", None),
            msg(c2, b.id, "two", None),
            msg(c1, a.id, "three", None),
        ],
    )
    .await;
    let (m1, m2, m3) = (
        new_row(&out[0]).clone(),
        new_row(&out[1]).clone(),
        new_row(&out[2]).clone(),
    );
    let ix = &s.search;
    assert_eq!(ix.search_state().await.unwrap().key, 0, "never built");
    ix.reset_search(42).await.unwrap();

    let ch = ix.search_changes(0, 2).await.unwrap();
    assert_eq!(ch.position, m2.id.0);
    assert_eq!(ch.messages.iter().map(|m| m.id).collect::<Vec<_>>(), [m1.id, m2.id]);
    assert_eq!(ch.messages[0].text, "one", "rows come decrypted");
    let batch = SearchBatch {
        from: 0,
        to: ch.position,
        key: 42,
        replace: vec![m1.id, m2.id],
        docs: vec![doc(&m1, 1, 2, 3), doc(&m2, 1, 1, 5)],
    };
    assert!(ix.apply_search(&batch).await.unwrap());
    assert!(!ix.apply_search(&batch).await.unwrap(), "a range is applied once");
    let wrong_key = SearchBatch {
        from: ch.position,
        to: ch.position + 1,
        key: 7,
        ..SearchBatch::default()
    };
    assert!(
        !ix.apply_search(&wrong_key).await.unwrap(),
        "tokens of another key are refused"
    );
    let st = ix.search_state().await.unwrap();
    assert_eq!((st.position, st.key, st.docs, st.words), (m2.id.0, 42, 2, 8));

    let t1 = vec![vec![1u8; 12]];
    let for_a = ix.search_postings(&t1, &only(a.id)).await.unwrap();
    assert_eq!(
        for_a.iter().map(|p| (p.message_id, p.tf, p.length)).collect::<Vec<_>>(),
        [(m1.id, 2, 3)]
    );
    let for_b = ix.search_postings(&t1, &only(b.id)).await.unwrap();
    assert_eq!(for_b.iter().map(|p| p.message_id).collect::<Vec<_>>(), [m2.id]);
    let mut f = only(a.id);
    f.sender = Some(b.id);
    assert!(ix.search_postings(&t1, &f).await.unwrap().is_empty());
    f = only(a.id);
    f.before_id = Some(m1.id);
    assert!(ix.search_postings(&t1, &f).await.unwrap().is_empty());
    assert_eq!(ix.token_frequencies(&[vec![1; 12], vec![2; 12]]).await.unwrap(), [2, 0]);

    // An edit and a delete are changes of their messages, after the position.
    commit(
        s,
        vec![
            WriteOp::Edit {
                chat: c1,
                message: m1.id,
                user: a.id,
                text: "uno".into(),
                at: T0 + 1,
            },
            WriteOp::Delete {
                chat: c1,
                message: m3.id,
                user: a.id,
                at: T0 + 2,
            },
        ],
    )
    .await;
    let ch = ix.search_changes(st.position, 100).await.unwrap();
    assert!(ch.position > m3.id.0);
    let got: Vec<(MessageId, bool, String)> = ch
        .messages
        .iter()
        .map(|m| (m.id, m.deleted_at.is_some(), m.text.clone()))
        .collect();
    assert_eq!(got, [(m1.id, false, "uno".into()), (m3.id, true, String::new())]);
    let batch = SearchBatch {
        from: st.position,
        to: ch.position,
        key: 42,
        replace: vec![m1.id, m3.id],
        docs: vec![],
    };
    assert!(ix.apply_search(&batch).await.unwrap());
    assert!(
        ix.search_postings(&t1, &only(a.id)).await.unwrap().is_empty(),
        "replaced documents are gone"
    );
    let st = ix.search_state().await.unwrap();
    assert_eq!((st.docs, st.words), (1, 5));
    assert_eq!(ix.search_progress(m2.id.0).await.unwrap(), (2, 3));
    assert_eq!(ix.messages_by_ids(&[m3.id, m2.id]).await.unwrap().len(), 2);
    assert!(ix.file_by_id("nope").await.unwrap().is_none());
    ix.reset_search(43).await.unwrap();
    let st = ix.search_state().await.unwrap();
    assert_eq!((st.position, st.key, st.docs), (0, 43, 0));
    assert!(ix.search_postings(&t1, &only(b.id)).await.unwrap().is_empty());
}
