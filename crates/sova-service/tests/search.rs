//! Search on the service tier (SQLite): recall and precision on a generated
//! Russian + English corpus of 10,000+ messages with known answers, word forms,
//! phrases and prefixes, edits and deletes, and no plaintext in the index.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sova_bus::{EventBus, LocalBus};
use sova_config::{Config, Secret};
use sova_service::auth::{Client, LoginResult};
use sova_service::chats::UserRef;
use sova_service::search::SearchParams;
use sova_service::{AuthUser, Services};
use sova_store::{NewMessage, WriteOp};
use sova_store_sqlite::SqliteStore;
use sova_types::models::{ChatKind, SearchItem};
use sova_types::{ChatId, ErrorCode, MessageId};
use std::collections::BTreeSet;
use std::sync::Arc;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

struct Harness {
    services: Arc<Services>,
    dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        jwt_secret: Some(Secret::new("service-tier-test-secret-".repeat(2))),
        message_encryption_key: Some(Secret::new(KEY)),
        rate_limit_register_per_hour: 10_000,
        ..Config::default()
    };
    let store = SqliteStore::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let stores = store
        .with_cipher(sova_store::cipher::Cipher::new(KEY).unwrap())
        .stores();
    let bus: Arc<dyn EventBus> = Arc::new(LocalBus::new());
    let (services, _tasks) = Services::start(Arc::new(config), stores, bus).await.unwrap();
    Harness { services, dir }
}

async fn user(s: &Services, name: &str) -> AuthUser {
    let client = Client::from_ip([127, 0, 0, 1].into());
    s.auth.register(name, "correct horse battery", &client).await.unwrap();
    let LoginResult::Tokens(pair) = s.auth.login(name, "correct horse battery", &client).await.unwrap() else {
        panic!("no second factor here");
    };
    s.auth.authenticate(&pair.token).await.unwrap()
}

async fn group(s: &Services, owner: &AuthUser, members: &[&AuthUser]) -> ChatId {
    let refs: Vec<UserRef> = members.iter().map(|m| UserRef::Id(m.user_id)).collect();
    s.chats
        .create(owner.user_id, ChatKind::Group, Some("corpus"), &refs)
        .await
        .unwrap()
        .0
        .id
}

/// Runs the indexer until it has caught up.
async fn index_all(s: &Services) {
    for _ in 0..10_000 {
        if s.search.index_step(&s.files, 500).await.unwrap().caught_up {
            return;
        }
    }
    panic!("the indexer never caught up");
}

/// Every message id a query returns, following cursors to the end.
async fn all_ids(s: &Services, u: &AuthUser, q: &str) -> Vec<MessageId> {
    let mut out = Vec::new();
    let mut cursor = None;
    for _ in 0..1000 {
        let page = s
            .search
            .search(
                &s.messages,
                &s.files,
                u,
                SearchParams {
                    q: q.into(),
                    limit: Some(100),
                    cursor: cursor.take(),
                    ..SearchParams::default()
                },
            )
            .await
            .unwrap();
        for item in &page.items {
            match item {
                SearchItem::Message { message, .. } => out.push(message.id),
                SearchItem::File { message_id, .. } => out.push(*message_id),
            }
        }
        match page.cursor {
            Some(c) => cursor = Some(c),
            None => return out,
        }
    }
    panic!("pagination never ended");
}

/// A deterministic generator (SplitMix64), so the corpus is the same every run.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Lemmas with the forms the generator writes; a query is the first form.
const LEMMAS: &[&[&str]] = &[
    &["книга", "книги", "книге", "книгу", "книгой", "книгами", "книгах"],
    &["машина", "машины", "машине", "машину", "машиной", "машинами"],
    &["город", "города", "городе", "городом", "городами", "городах"],
    &["школа", "школы", "школе", "школу", "школой", "школами"],
    &["работа", "работы", "работе", "работу", "работой", "работами"],
    &["report", "reports", "reported", "reporting"],
    &["connect", "connects", "connected", "connecting"],
    &["walk", "walks", "walked", "walking"],
    &["plan", "plans", "planned", "planning"],
    &["garden", "gardens", "gardening"],
];

/// Filler words (checked below not to share a stem with any lemma).
const FILLER: &[&str] = &[
    "утро",
    "вечер",
    "солнце",
    "ветер",
    "река",
    "море",
    "лес",
    "поле",
    "небо",
    "снег",
    "дождь",
    "окно",
    "дверь",
    "стол",
    "стул",
    "чай",
    "кофе",
    "хлеб",
    "молоко",
    "сыр",
    "яблоко",
    "груша",
    "кошка",
    "собака",
    "птица",
    "рыба",
    "зеленый",
    "синий",
    "красный",
    "быстро",
    "медленно",
    "тихо",
    "громко",
    "сегодня",
    "завтра",
    "вчера",
    "всегда",
    "никогда",
    "очень",
    "почти",
    "коллега",
    "проект",
    "встреча",
    "письмо",
    "звонок",
    "вопрос",
    "ответ",
    "идея",
    "morning",
    "evening",
    "river",
    "forest",
    "window",
    "table",
    "coffee",
    "bread",
    "cheese",
    "apple",
    "yellow",
    "purple",
    "quickly",
    "slowly",
    "quietly",
    "today",
    "tomorrow",
    "always",
    "never",
    "very",
    "almost",
    "colleague",
    "meeting",
    "letter",
    "question",
    "answer",
    "idea",
    "weather",
    "sunny",
    "cloudy",
    "music",
    "guitar",
    "piano",
    "movie",
    "ticket",
    "station",
    "airport",
    "bridge",
    "tower",
    "castle",
    "island",
    "mountain",
    "valley",
    "ocean",
];

#[tokio::test]
async fn recall_and_precision_on_a_generated_russian_and_english_corpus() {
    let h = harness().await;
    let s = &h.services;
    let (alice, bob) = (user(s, "alice").await, user(s, "bob").await);
    let chat = group(s, &alice, &[&bob]).await;
    let lemma_stems: Vec<BTreeSet<String>> = LEMMAS
        .iter()
        .map(|forms| forms.iter().map(|f| sova_search::text::stem(f)).collect())
        .collect();
    let filler: Vec<&str> = FILLER
        .iter()
        .copied()
        .filter(|w| {
            let st = sova_search::text::stem(w);
            lemma_stems.iter().all(|set| !set.contains(&st))
        })
        .collect();
    assert!(filler.len() > 80, "the filler list must stay large");

    const N: usize = 10_000;
    let mut rng = Rng(0x5EED);
    // answers[l] = indexes of the messages that contain a form of lemma l.
    let mut answers: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); LEMMAS.len()];
    let mut texts = Vec::with_capacity(N);
    for i in 0..N {
        let len = 6 + rng.below(7);
        let mut words: Vec<&str> = (0..len).map(|_| filler[rng.below(filler.len())]).collect();
        for _ in 0..1 + rng.below(2) {
            let l = rng.below(LEMMAS.len() * 4);
            if l < LEMMAS.len() {
                let form = LEMMAS[l][rng.below(LEMMAS[l].len())];
                let at = rng.below(words.len() + 1);
                words.insert(at, form);
                answers[l].insert(i);
            }
        }
        texts.push(words.join(" "));
    }
    let started = std::time::Instant::now();
    let now = sova_types::time::now_micros();
    let mut ids = Vec::with_capacity(N);
    for (b, chunk) in texts.chunks(500).enumerate() {
        let ops: Vec<WriteOp> = chunk
            .iter()
            .enumerate()
            .map(|(j, t)| {
                let sender = if (b + j) % 2 == 0 { alice.user_id } else { bob.user_id };
                WriteOp::Send(NewMessage::text(chat, sender, t.clone(), now + (b * 500 + j) as i64))
            })
            .collect();
        for c in s.stores.messages.commit(&ops).await.unwrap() {
            match c.outcome {
                sova_store::Outcome::Message(m) => ids.push(m.id),
                other => panic!("not sent: {other:?}"),
            }
        }
    }
    assert_eq!(ids.len(), N);
    let inserted = started.elapsed();
    index_all(s).await;
    let indexed = started.elapsed() - inserted;

    let (mut hits, mut returned, mut relevant) = (0usize, 0usize, 0usize);
    let searched = std::time::Instant::now();
    for (l, forms) in LEMMAS.iter().enumerate() {
        let expected: BTreeSet<MessageId> = answers[l].iter().map(|&i| ids[i]).collect();
        let got_list = all_ids(s, &bob, forms[0]).await;
        let got: BTreeSet<MessageId> = got_list.iter().copied().collect();
        assert_eq!(got.len(), got_list.len(), "{}: pages repeated a result", forms[0]);
        let right = got.intersection(&expected).count();
        println!(
            "{:<10} expected {:>5} returned {:>5} correct {:>5}",
            forms[0],
            expected.len(),
            got.len(),
            right
        );
        hits += right;
        returned += got.len();
        relevant += expected.len();
    }
    let recall = hits as f64 / relevant as f64;
    let precision = hits as f64 / returned.max(1) as f64;
    println!(
        "corpus {N} messages: recall {recall:.4}, precision {precision:.4}; \
         insert {inserted:?}, index {indexed:?}, {} queries (all pages) {:?}",
        LEMMAS.len(),
        searched.elapsed()
    );
    assert!(relevant > 1000, "the corpus must exercise the queries");
    assert!(recall >= 0.95, "recall {recall}");
    assert!(precision >= 0.9, "precision {precision}");
}

async fn find(s: &Services, u: &AuthUser, q: &str) -> Vec<(MessageId, String)> {
    s.search
        .search(
            &s.messages,
            &s.files,
            u,
            SearchParams {
                q: q.into(),
                ..SearchParams::default()
            },
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|i| match i {
            SearchItem::Message { message, snippet } => (message.id, snippet),
            SearchItem::File {
                message_id, snippet, ..
            } => (message_id, snippet),
        })
        .collect()
}

#[tokio::test]
async fn forms_phrases_prefixes_edits_deletes_and_no_plaintext_in_the_index() {
    let h = harness().await;
    let s = &h.services;
    let (alice, bob, eve) = (user(s, "alice").await, user(s, "bob").await, user(s, "eve").await);
    let chat = group(s, &alice, &[&bob]).await;
    let send = |text: &str| sova_service::messages::SendParams {
        chat: Some(chat),
        text: text.into(),
        ..Default::default()
    };
    let m1 = s
        .messages
        .send_with(&alice, send("Я читал эти книгами zanzibarite"))
        .await
        .unwrap();
    let m2 = s
        .messages
        .send_with(&alice, send("the quick brown fox jumps"))
        .await
        .unwrap();
    let m3 = s
        .messages
        .send_with(&bob, send("a brown quick fox <script>"))
        .await
        .unwrap();
    index_all(s).await;

    let got = find(s, &bob, "книга").await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0, m1.id);
    assert_eq!(got[0].1, "Я читал эти <mark>книгами</mark> zanzibarite");
    assert!(find(s, &eve, "книга").await.is_empty(), "a non-member sees nothing");
    let phrase: Vec<MessageId> = find(s, &bob, "\"quick brown\"")
        .await
        .into_iter()
        .map(|x| x.0)
        .collect();
    assert_eq!(phrase, [m2.id]);
    let both: BTreeSet<MessageId> = find(s, &bob, "fox quick").await.into_iter().map(|x| x.0).collect();
    assert_eq!(both, BTreeSet::from([m2.id, m3.id]));
    assert_eq!(find(s, &bob, "zanzib*").await.len(), 1);
    assert_eq!(
        find(s, &bob, "script").await[0].1,
        "a brown quick fox &lt;<mark>script</mark>&gt;"
    );

    // Edits replace the indexed text, deletes remove it.
    s.messages
        .edit(&alice, chat, m1.id, "теперь про машины".into())
        .await
        .unwrap();
    s.messages.delete(&alice, chat, m2.id).await.unwrap();
    index_all(s).await;
    assert!(find(s, &bob, "книга").await.is_empty());
    assert_eq!(find(s, &bob, "машина").await[0].0, m1.id);
    assert_eq!(
        find(s, &bob, "fox").await.into_iter().map(|x| x.0).collect::<Vec<_>>(),
        [m3.id]
    );

    // Typed refusals.
    for (q, reason) in [("", "empty"), ("  !! ", "empty"), ("ab*", "short_prefix")] {
        let e = s
            .search
            .search(
                &s.messages,
                &s.files,
                &bob,
                SearchParams {
                    q: q.into(),
                    ..Default::default()
                },
            )
            .await
            .unwrap_err();
        assert_eq!(e.code, ErrorCode::BadRequest);
        assert_eq!(e.details.as_ref().unwrap()["reason"], reason, "{q}");
    }
    let long = "x".repeat(300);
    let e = s
        .search
        .search(
            &s.messages,
            &s.files,
            &bob,
            SearchParams {
                q: long,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.details.as_ref().unwrap()["reason"], "too_long");

    // The database file holds no plaintext of indexed words.
    let mut disk = std::fs::read(h.dir.path().join("t.db")).unwrap();
    disk.extend(std::fs::read(h.dir.path().join("t.db-wal")).unwrap_or_default());
    for word in ["zanzibarite", "машины", "quick", "brown"] {
        let needle = word.as_bytes();
        assert!(
            !disk.windows(needle.len()).any(|w| w == needle),
            "{word} is readable in the database file"
        );
    }
}
