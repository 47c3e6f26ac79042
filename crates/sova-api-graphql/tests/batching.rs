//! The GraphQL schema on the real services (SQLite), with the chat store wrapped in
//! a counter: `chats { members … last_message … }` costs the same number of chat-store
//! calls for 1 chat as for 20 (the dataloader batches `Chat.members`), and the cursor
//! connections page forward and backward without gaps or overlaps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_graphql::dynamic::Schema;
use serde_json::{Value, json};
use sova_api_graphql::RequestInfo;
use sova_bus::{EventBus, LocalBus};
use sova_config::{Config, Secret};
use sova_service::Services;
use sova_service::auth::{Client, LoginResult};
use sova_service::chats::UserRef;
use sova_service::messages::SendParams;
use sova_store::{ChatKind, ChatRow, ChatStore, InviteRow, MemberRow, MyChat, StoreResult};
use sova_types::{ChatId, UserId};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

/// A chat store that counts every call before passing it on.
struct Counting {
    inner: Arc<dyn ChatStore>,
    calls: Arc<AtomicUsize>,
}

impl Counting {
    fn tick(&self) -> &dyn ChatStore {
        self.calls.fetch_add(1, Ordering::SeqCst);
        &*self.inner
    }
}

#[async_trait::async_trait]
impl ChatStore for Counting {
    async fn ensure_chat(&self, slug: &str, kind: ChatKind, name: &str, now: i64) -> StoreResult<ChatRow> {
        self.tick().ensure_chat(slug, kind, name, now).await
    }
    async fn chat(&self, id: ChatId) -> StoreResult<Option<ChatRow>> {
        self.tick().chat(id).await
    }
    async fn add_member(&self, chat: ChatId, user: UserId, role: &str, now: i64) -> StoreResult<()> {
        self.tick().add_member(chat, user, role, now).await
    }
    async fn set_muted(&self, chat: ChatId, user: UserId, muted: bool) -> StoreResult<bool> {
        self.tick().set_muted(chat, user, muted).await
    }
    async fn is_member(&self, chat: ChatId, user: UserId) -> StoreResult<bool> {
        self.tick().is_member(chat, user).await
    }
    async fn member(&self, chat: ChatId, user: UserId) -> StoreResult<Option<MemberRow>> {
        self.tick().member(chat, user).await
    }
    async fn chats_of(&self, user: UserId) -> StoreResult<Vec<ChatId>> {
        self.tick().chats_of(user).await
    }
    async fn small_chats_of(&self, user: UserId, max_members: i64) -> StoreResult<Vec<ChatId>> {
        self.tick().small_chats_of(user, max_members).await
    }
    async fn my_chats(&self, user: UserId, before: Option<(i64, ChatId)>, limit: i64) -> StoreResult<Vec<MyChat>> {
        self.tick().my_chats(user, before, limit).await
    }
    async fn members(&self, chat: ChatId, after: Option<UserId>, limit: i64) -> StoreResult<Vec<MemberRow>> {
        self.tick().members(chat, after, limit).await
    }
    async fn members_of_chats(
        &self,
        user: UserId,
        chats: &[ChatId],
        per_chat: i64,
    ) -> StoreResult<Vec<(MemberRow, i64)>> {
        self.tick().members_of_chats(user, chats, per_chat).await
    }
    async fn create_invite(&self, invite: InviteRow) -> StoreResult<()> {
        self.tick().create_invite(invite).await
    }
    async fn invite(&self, code: &str) -> StoreResult<Option<InviteRow>> {
        self.tick().invite(code).await
    }
    async fn invites(&self, chat: ChatId) -> StoreResult<Vec<InviteRow>> {
        self.tick().invites(chat).await
    }
    async fn revoke_invite(&self, chat: ChatId, code: &str, now: i64) -> StoreResult<bool> {
        self.tick().revoke_invite(chat, code, now).await
    }
}

struct Harness {
    services: Arc<Services>,
    schema: Schema,
    calls: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().join("data"),
        jwt_secret: Some(Secret::new("graphql-batching-test-secret-".repeat(2))),
        message_encryption_key: Some(Secret::new(KEY)),
        rate_limit_register_per_hour: 10_000,
        rate_limit_login_per_min: 10_000,
        ..Config::default()
    };
    let store = sova_store_sqlite::SqliteStore::connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let mut stores = store
        .with_cipher(sova_store::cipher::Cipher::new(KEY).unwrap())
        .stores();
    let calls = Arc::new(AtomicUsize::new(0));
    stores.chats = Arc::new(Counting {
        inner: stores.chats.clone(),
        calls: calls.clone(),
    });
    let bus: Arc<dyn EventBus> = Arc::new(LocalBus::new());
    let (services, _tasks) = Services::start(Arc::new(config), stores, bus).await.unwrap();
    let schema = sova_api_graphql::with_services(services.clone()).finish().unwrap();
    Harness {
        services,
        schema,
        calls,
        _dir: dir,
    }
}

/// Registers `name`: (user id, access token).
async fn user(s: &Services, name: &str) -> (UserId, String) {
    let client = Client::from_ip([127, 0, 0, 1].into());
    s.auth.register(name, "correct horse battery", &client).await.unwrap();
    let LoginResult::Tokens(pair) = s.auth.login(name, "correct horse battery", &client).await.unwrap() else {
        panic!("no second factor here");
    };
    (s.auth.authenticate(&pair.token).await.unwrap().user_id, pair.token)
}

/// Runs `query` as the holder of `token`: (data, errors).
async fn run(h: &Harness, token: &str, query: &str) -> (Value, Value) {
    let info = RequestInfo::new(Ok(Some(token.to_owned())), [127, 0, 0, 1].into(), "test".into());
    let r = h.schema.execute(async_graphql::Request::new(query).data(info)).await;
    let out = serde_json::to_value(&r).unwrap();
    (out["data"].clone(), out.get("errors").cloned().unwrap_or(Value::Null))
}

const LIST: &str = "{ chats(limit: 100) { id name last_message { text } members { username role } } }";

/// Chat-store calls of the chat list with members for someone in `groups` groups.
async fn list_cost(groups: usize) -> usize {
    let h = harness().await;
    let (a, token) = user(&h.services, &format!("own{groups}")).await;
    let (b, _) = user(&h.services, &format!("mem{groups}")).await;
    for i in 0..groups {
        h.services
            .chats
            .create(a, ChatKind::Group, Some(&format!("g{i}")), &[UserRef::Id(b)])
            .await
            .unwrap();
    }
    // Warm the token check so that only the list itself is counted.
    run(&h, &token, "{ me { username } }").await;
    h.calls.store(0, Ordering::SeqCst);
    let (data, errors) = run(&h, &token, LIST).await;
    let cost = h.calls.load(Ordering::SeqCst);
    assert!(errors.is_null(), "{errors}");
    let chats = data["chats"].as_array().unwrap();
    // Every group plus `General`, each with its members read.
    assert_eq!(chats.len(), groups + 1, "{data}");
    for c in chats.iter().filter(|c| c["name"] != "General") {
        let names: Vec<&str> = c["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["username"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec![format!("own{groups}"), format!("mem{groups}")], "{c}");
        assert!(c["last_message"]["text"].is_string(), "{c}");
    }
    cost
}

// One thread: the loader's batch task cannot start before every `Chat.members` of the
// list has registered its key (they do so in one poll), so the count is exact.
#[tokio::test(flavor = "current_thread")]
async fn chat_members_cost_the_same_store_calls_for_1_and_20_chats() {
    let one = list_cost(1).await;
    let twenty = list_cost(20).await;
    // The chat list (1) and one batched member read (1); not one per chat.
    assert_eq!(one, twenty, "1 chat: {one} calls, 20 chats: {twenty}");
    assert!(one <= 2, "{one} chat-store calls for one chat list");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_of_a_chat_the_caller_left_are_refused() {
    let h = harness().await;
    let (_, a_token) = user(&h.services, "lefta").await;
    let (b, b_token) = user(&h.services, "leftb").await;
    let a = h.services.auth.authenticate(&a_token).await.unwrap();
    let (chat, _) = h
        .services
        .chats
        .create(a.user_id, ChatKind::Group, Some("left"), &[UserRef::Id(b)])
        .await
        .unwrap();
    // b sees the members while in the chat …
    let q = format!("{{ get_chat(chat_id: {}) {{ id members {{ username }} }} }}", chat.id.0);
    let (data, errors) = run(&h, &b_token, &q).await;
    assert!(errors.is_null(), "{errors}");
    assert_eq!(data["get_chat"]["members"].as_array().unwrap().len(), 2);
    // … and not after leaving (the loader's own membership check is the store's, tested
    // in `members_of_many_chats_in_one_query` and the service tests).
    h.services.chats.remove_member(b, chat.id, b).await.unwrap();
    let (data, errors) = run(&h, &b_token, &q).await;
    assert_eq!(errors[0]["extensions"]["code"], "not_found", "{errors}");
    assert!(data["get_chat"].is_null(), "{data}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_connection_pages_both_ways() {
    let h = harness().await;
    let (_, token) = user(&h.services, "pager").await;
    let me = h.services.auth.authenticate(&token).await.unwrap();
    let (chat, _) = h
        .services
        .chats
        .create(me.user_id, ChatKind::Group, Some("pages"), &[])
        .await
        .unwrap();
    // The group opens with one system message; then seven texts.
    for i in 0..7 {
        let p = SendParams {
            chat: Some(chat.id),
            text: format!("t{i}"),
            ..SendParams::default()
        };
        h.services.messages.send_with(&me, p).await.unwrap();
    }
    let page = |args: String| {
        format!(
            "{{ messages_connection(chat_id: {}{args}) {{ edges {{ cursor node {{ id text }} }} \
             pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }} }} }}",
            chat.id.0
        )
    };
    let texts = |d: &Value| -> Vec<String> {
        d["messages_connection"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["text"].as_str().unwrap_or("").to_owned())
            .collect()
    };
    // Forward from the start, three at a time.
    let mut seen = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let (d, errors) = run(&h, &token, &page(format!(", first: 3{after}"))).await;
        assert!(errors.is_null(), "{errors}");
        let info = d["messages_connection"]["pageInfo"].clone();
        assert_eq!(info["hasPreviousPage"], json!(pages > 0), "{info}");
        seen.extend(texts(&d));
        pages += 1;
        if info["hasNextPage"] == json!(false) {
            break;
        }
        after = format!(", after: {}", info["endCursor"]);
    }
    let all: Vec<String> = (0..7).map(|i| format!("t{i}")).collect();
    assert_eq!(pages, 3);
    assert_eq!(seen[1..], all[..], "{seen:?}");
    // Backward from the newest.
    let (d, _) = run(&h, &token, &page(", last: 5".into())).await;
    assert_eq!(texts(&d), all[2..].to_vec());
    let info = &d["messages_connection"]["pageInfo"];
    assert_eq!(
        (info["hasPreviousPage"].clone(), info["hasNextPage"].clone()),
        (json!(true), json!(false))
    );
    let (d, _) = run(&h, &token, &page(format!(", last: 5, before: {}", info["startCursor"]))).await;
    assert_eq!(texts(&d)[1..], all[..2]);
    assert_eq!(d["messages_connection"]["pageInfo"]["hasPreviousPage"], json!(false));
    assert_eq!(d["messages_connection"]["pageInfo"]["hasNextPage"], json!(true));
    // Cursors are opaque: anything else is refused as bad input.
    let (_, errors) = run(&h, &token, &page(", first: 2, after: \"bm90IGEgY3Vyc29y\"".into())).await;
    assert_eq!(errors[0]["extensions"]["code"], "bad_request", "{errors}");
    let (_, errors) = run(&h, &token, &page(", first: 2, last: 2".into())).await;
    assert_eq!(errors[0]["extensions"]["code"], "bad_request", "{errors}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_connection_pages_every_chat_once() {
    let h = harness().await;
    let (_, token) = user(&h.services, "chatpager").await;
    let me = h.services.auth.authenticate(&token).await.unwrap();
    for i in 0..4 {
        h.services
            .chats
            .create(me.user_id, ChatKind::Group, Some(&format!("c{i}")), &[])
            .await
            .unwrap();
    }
    let mut names = Vec::new();
    let mut after = String::new();
    loop {
        let q = format!(
            "{{ chats_connection(first: 2{after}) {{ edges {{ node {{ name members {{ username }} }} }} \
             pageInfo {{ hasNextPage endCursor }} }} }}"
        );
        let (d, errors) = run(&h, &token, &q).await;
        assert!(errors.is_null(), "{errors}");
        let c = &d["chats_connection"];
        for e in c["edges"].as_array().unwrap() {
            names.push(e["node"]["name"].as_str().unwrap().to_owned());
            assert!(!e["node"]["members"].as_array().unwrap().is_empty());
        }
        if c["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = format!(", after: {}", c["pageInfo"]["endCursor"]);
    }
    // Most recently active first: the newest group first, `General` last.
    assert_eq!(names, vec!["c3", "c2", "c1", "c0", "General"]);
}
