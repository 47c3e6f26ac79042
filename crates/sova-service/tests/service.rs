//! Service tier: the services on SQLite and the in-process bus, with a sink that
//! captures every published event, so each test checks exactly which typed events
//! an operation emits, to whom, and that replay returns the same ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use parking_lot::Mutex;
use sova_bus::{Audience, BusEvent, EventBus, EventSink, LocalBus};
use sova_config::{Config, Secret};
use sova_service::auth::{Client, LoginResult};
use sova_service::chats::UserRef;
use sova_service::messages::SendParams;
use sova_service::{AuthUser, Services};
use sova_store_sqlite::SqliteStore;
use sova_types::models::{ChatKind, MessageKind};
use sova_types::{ChatId, ErrorCode, Event};
use std::sync::Arc;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// Every event the bus published, in order.
#[derive(Default)]
struct Capture(Mutex<Vec<(Audience, Event)>>);

impl EventSink for Capture {
    fn deliver(&self, e: &BusEvent) {
        self.0.lock().push((e.audience, e.event.event().clone()));
    }
}

impl Capture {
    fn take(&self) -> Vec<(Audience, Event)> {
        std::mem::take(&mut *self.0.lock())
    }
}

struct Harness {
    services: Arc<Services>,
    events: Arc<Capture>,
    _dir: tempfile::TempDir,
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
    let events = Arc::new(Capture::default());
    bus.subscribe(events.clone());
    let (services, _tasks) = Services::start(Arc::new(config), stores, bus).await.unwrap();
    Harness {
        services,
        events,
        _dir: dir,
    }
}

async fn user(s: &Services, name: &str) -> AuthUser {
    let client = Client::from_ip([127, 0, 0, 1].into());
    s.auth.register(name, "correct horse battery", &client).await.unwrap();
    let LoginResult::Tokens(pair) = s.auth.login(name, "correct horse battery", &client).await.unwrap() else {
        panic!("no second factor here");
    };
    s.auth.authenticate(&pair.token).await.unwrap()
}

async fn group(h: &Harness, owner: &AuthUser, members: &[&AuthUser]) -> ChatId {
    let refs: Vec<UserRef> = members.iter().map(|m| UserRef::Id(m.user_id)).collect();
    let (chat, created) = h
        .services
        .chats
        .create(owner.user_id, ChatKind::Group, Some("team"), &refs)
        .await
        .unwrap();
    assert!(created);
    chat.id
}

fn send(chat: ChatId, text: &str) -> SendParams {
    SendParams {
        chat: Some(chat),
        text: text.into(),
        ..SendParams::default()
    }
}

#[tokio::test]
async fn creating_a_group_tells_each_member_and_posts_one_system_message() {
    let h = harness().await;
    let (alice, bob) = (user(&h.services, "alice").await, user(&h.services, "bob").await);
    h.events.take();
    let g = group(&h, &alice, &[&bob]).await;
    let events = h.events.take();
    let added: Vec<_> = events
        .iter()
        .filter_map(|(a, e)| match e {
            Event::ChatAdded { chat, .. } if chat.id == g => Some(*a),
            _ => None,
        })
        .collect();
    assert_eq!(added.len(), 2, "{events:?}");
    assert!(added.contains(&Audience::User(alice.user_id)) && added.contains(&Audience::User(bob.user_id)));
    let system: Vec<_> = events
        .iter()
        .filter_map(|(a, e)| match e {
            Event::NewMessage(m) if m.kind == MessageKind::System => Some((*a, m.text.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        system,
        vec![(Audience::Chat(g), "alice created the group «team»".to_owned())]
    );
}

#[tokio::test]
async fn a_send_publishes_one_new_message_and_a_targeted_mention() {
    let h = harness().await;
    let (alice, bob) = (user(&h.services, "alice").await, user(&h.services, "bob").await);
    let g = group(&h, &alice, &[&bob]).await;
    h.events.take();
    let m = h.services.messages.send_with(&alice, send(g, "hi @bob")).await.unwrap();
    let events = h.events.take();
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(
        matches!(&events[0], (Audience::Chat(c), Event::NewMessage(x)) if *c == g && x.id == m.id && x.text == "hi @bob")
    );
    assert!(
        matches!(&events[1], (Audience::User(u), Event::Mention { message_id, .. }) if *u == bob.user_id && *message_id == m.id)
    );
    assert!(events[0].1.seq() < events[1].1.seq(), "one sequence, in order");
}

#[tokio::test]
async fn edits_reactions_and_deletes_emit_their_events_and_replay_returns_the_same() {
    let h = harness().await;
    let (alice, bob) = (user(&h.services, "alice").await, user(&h.services, "bob").await);
    let g = group(&h, &alice, &[&bob]).await;
    let m = h.services.messages.send_with(&alice, send(g, "draft")).await.unwrap();
    let since = m.seq;
    h.events.take();
    let msgs = &h.services.messages;
    msgs.edit(&alice, g, m.id, "final".into()).await.unwrap();
    msgs.react(&bob, g, m.id, "👍", true).await.unwrap();
    msgs.delete(&alice, g, m.id).await.unwrap();
    let live: Vec<Event> = h.events.take().into_iter().map(|(_, e)| e).collect();
    assert!(matches!(&live[0], Event::MessageEdited { text, .. } if text == "final"));
    assert!(matches!(&live[1], Event::ReactionAdded { emoji, count: 1, .. } if emoji == "👍"));
    assert!(matches!(&live[2], Event::MessageDeleted { deleted_by, .. } if *deleted_by == alice.user_id));
    assert!(live.windows(2).all(|w| w[0].seq() < w[1].seq()));
    // A member who missed them gets the same events from storage, except the edit,
    // whose text went with the deleted message.
    let replay = msgs.since(&bob, since, 100).await.unwrap();
    let kinds: Vec<i64> = replay.iter().map(Event::seq).collect();
    assert_eq!(kinds, vec![live[1].seq(), live[2].seq()], "{replay:?}");
    assert_eq!(replay[0], live[1]);
    assert_eq!(replay[1], live[2]);
}

#[tokio::test]
async fn typing_is_ephemeral_and_outsiders_are_refused() {
    let h = harness().await;
    let (alice, bob, eve) = (
        user(&h.services, "alice").await,
        user(&h.services, "bob").await,
        user(&h.services, "eve").await,
    );
    let g = group(&h, &alice, &[&bob]).await;
    let before = h.services.messages.last_seq().await.unwrap();
    h.events.take();
    h.services.messages.typing(&bob, g).await.unwrap();
    let events = h.events.take();
    assert!(matches!(&events[..], [(Audience::Chat(c), Event::Typing { user, .. })] if *c == g && user == "bob"));
    assert_eq!(events[0].1.seq(), 0);
    assert_eq!(h.services.messages.last_seq().await.unwrap(), before, "nothing stored");
    let err = h.services.messages.typing(&eve, g).await.unwrap_err();
    assert_eq!(err.code, sova_types::ErrorCode::NotFound);
    assert!(h.events.take().is_empty(), "a refused request publishes nothing");
}

#[tokio::test]
async fn abandoned_uploads_are_purged_with_their_bytes_and_open_uploads_are_capped() {
    use sova_service::uploads::{MAX_OPEN_UPLOADS, NewResumable};
    let h = harness().await;
    let u = user(&h.services, "uploader").await;
    let files = &h.services.files;
    let new = || NewResumable {
        name: "a.bin".into(),
        mime: None,
        length: 10,
    };
    let (id, p) = files.create_upload(&u, new()).await.unwrap();
    assert_eq!((p.offset, p.length), (0, 10));
    let partial = h._dir.path().join("data/files/partial").join(&id);
    assert!(partial.exists(), "sealed bytes live in the unfinished area");
    let now = sova_types::time::now_micros();
    assert_eq!(
        files.purge_abandoned_uploads(now - 3_600_000_000).await.unwrap(),
        0,
        "not stale yet"
    );
    assert_eq!(files.upload_progress(u.user_id, &id).await.unwrap().offset, 0);
    assert_eq!(files.purge_abandoned_uploads(now + 1).await.unwrap(), 1);
    assert_eq!(
        files.upload_progress(u.user_id, &id).await.unwrap_err().code,
        ErrorCode::NotFound
    );
    assert!(!partial.exists(), "its bytes went too");

    for _ in 0..MAX_OPEN_UPLOADS {
        files.create_upload(&u, new()).await.unwrap();
    }
    let e = files.create_upload(&u, new()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Conflict, "{e}");
}

#[tokio::test]
async fn members_of_chats_shows_only_the_callers_chats() {
    let h = harness().await;
    let (a, b, c) = (
        user(&h.services, "moa").await,
        user(&h.services, "mob").await,
        user(&h.services, "moc").await,
    );
    let ab = group(&h, &a, &[&b]).await;
    let bc = group(&h, &b, &[&c]).await;
    let found = h
        .services
        .chats
        .members_of_chats(a.user_id, &[ab, bc], 50)
        .await
        .unwrap();
    // a is not in bc: its members stay hidden from a.
    assert_eq!(found.keys().copied().collect::<Vec<_>>(), vec![ab]);
    let names: Vec<&str> = found[&ab].iter().map(|m| m.username.as_str()).collect();
    assert_eq!(names, vec!["moa", "mob"]);
    // Small chats show read positions, as the `members` operation does.
    assert!(found[&ab].iter().all(|m| m.last_read_seq.is_some()));
    let single = h.services.chats.members(a.user_id, ab, None, 50).await.unwrap();
    assert_eq!(single, found[&ab]);
    assert_eq!(
        h.services
            .chats
            .members_of_chats(a.user_id, &[ab], 0)
            .await
            .unwrap_err()
            .code
            .as_str(),
        "bad_request"
    );
}

#[tokio::test]
async fn games_publish_public_updates_to_the_chat_and_achievements_to_the_winner() {
    let h = harness().await;
    let (alice, bob) = (user(&h.services, "alice").await, user(&h.services, "bob").await);
    let g = group(&h, &alice, &[&bob]).await;
    h.events.take();
    let games = &h.services.games;
    // A hangman game: the chat gets the public view, which never holds the word.
    let hangman = games.create(alice.user_id, g, "hangman", &[], None).await.unwrap();
    let events = h.events.take();
    assert_eq!(events.len(), 1, "{events:?}");
    let (Audience::Chat(c), Event::GameUpdated { game, .. }) = &events[0] else {
        panic!("game_updated to the chat expected: {events:?}")
    };
    assert_eq!((*c, game.id, game.version), (g, hangman.id, 1));
    assert_eq!(game.state["word"], serde_json::Value::Null);
    let stored = h.services.stores.games.game(hangman.id).await.unwrap().unwrap();
    let sova_core::games::GameState::Hangman(secret) = stored.game_state().unwrap() else {
        panic!("a hangman game expected")
    };
    assert!(
        !serde_json::to_string(&game.state)
            .unwrap()
            .contains(&format!("\"{}\"", secret.word()))
    );

    // Tic-tac-toe to the end: one update per move, achievements only to their holders.
    let ttt = games
        .create(alice.user_id, g, "tictactoe", &[bob.user_id], None)
        .await
        .unwrap();
    let since = h.events.take().last().unwrap().1.seq();
    for (who, cell) in [(&alice, 0), (&bob, 3), (&alice, 1), (&bob, 4), (&alice, 2)] {
        games
            .play(who.user_id, ttt.id, &serde_json::json!({"cell": cell}))
            .await
            .unwrap();
    }
    let events = h.events.take();
    let updates = events
        .iter()
        .filter(|(a, e)| *a == Audience::Chat(g) && matches!(e, Event::GameUpdated { .. }))
        .count();
    assert_eq!(updates, 5, "{events:?}");
    let unlocked: Vec<(Audience, String)> = events
        .iter()
        .filter_map(|(a, e)| match e {
            Event::AchievementUnlocked { achievement, .. } => Some((*a, achievement.clone())),
            _ => None,
        })
        .collect();
    assert!(unlocked.contains(&(Audience::User(alice.user_id), "first_win".to_owned())));
    assert!(!unlocked.contains(&(Audience::User(bob.user_id), "first_win".to_owned())));
    assert!(unlocked.contains(&(Audience::User(bob.user_id), "first_game".to_owned())));
    // Replay: alice gets her own achievements and every update, in the same order.
    let replay = h.services.messages.since(&alice, since, 100).await.unwrap();
    let live: Vec<Event> = events
        .into_iter()
        .filter(|(a, _)| *a != Audience::User(bob.user_id))
        .map(|(_, e)| e)
        .collect();
    assert_eq!(replay, live);
    // A wrong move is refused with the engine's code and publishes nothing.
    let err = games
        .play(bob.user_id, ttt.id, &serde_json::json!({"cell": 8}))
        .await
        .unwrap_err();
    assert_eq!(err.code, ErrorCode::Conflict);
    assert!(h.events.take().is_empty());
}
#[path = "service_tasks/mod.rs"]
mod service_tasks;
