//! Full-text search over messages and files with a blind index (docs/search.md).
//!
//! Indexing: [`SearchService::index_step`] follows the event sequence from the
//! index's stored position, turns each sent, edited or deleted message (and the
//! name and text of its files) into blind tokens and applies them with the
//! position move in one transaction. The `search.index` job runs it every second.
//!
//! Querying: the query's tokens select postings in the caller's live chats, a
//! document must hold all of them, BM25 ranks, ties go to the newest; the message
//! is then decrypted, checked against the query (phrases and long prefixes that
//! the tokens only approximate) and its snippet highlighted.

use crate::files::{FileService, file_info};
use crate::messages::MessageService;
use crate::{AuthUser, store_err};
use base64::Engine;
use serde::{Deserialize, Serialize};
use sova_config::Config;
use sova_search::extract::{self, Kind};
use sova_search::{IndexKey, Query, QueryError, Terms, rank, snippet::snippet};
use sova_store::{MessageRow, Posting, SearchBatch, SearchDoc, SearchFilter, Stores};
use sova_types::models::{SearchItem, SearchPage};
use sova_types::{ApiError, ChatId, MessageId, UserId};
use std::collections::{BTreeMap, HashMap};

/// Changes read per indexing step.
pub const INDEX_BATCH: i64 = 500;
/// Default and largest page size.
pub const DEFAULT_LIMIT: i64 = 20;
pub const MAX_LIMIT: i64 = 100;
/// Most documents ranked per query: beyond it only the newest matches are ranked.
pub const MAX_CANDIDATES: i64 = 50_000;
/// Largest file re-read for a contents snippet at query time.
const SNIPPET_FILE_BYTES: u64 = 4 * 1024 * 1024;

/// What a search asks for (`GET /api/search`).
#[derive(Clone, Debug, Default)]
pub struct SearchParams {
    pub q: String,
    pub chat_id: Option<ChatId>,
    /// Messages by this sender.
    pub from: Option<UserId>,
    /// A message id or an RFC 3339 time.
    pub before: Option<String>,
    pub after: Option<String>,
    /// `file`: only files and messages carrying files.
    pub has: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// How far an indexing step got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IndexStep {
    /// Messages (re)indexed or removed by this step.
    pub messages: usize,
    /// The index's position after it.
    pub position: i64,
    /// Nothing was left to index.
    pub caught_up: bool,
}

/// The position of the last result of a page, and the weights its ranking used
/// (so every page of one search ranks alike even while the index grows).
#[derive(Serialize, Deserialize)]
struct Cursor {
    s: i64,
    m: i64,
    k: i64,
    w: Vec<f64>,
    a: f64,
}

/// Builds and queries the index.
pub struct SearchService {
    stores: Stores,
    key: IndexKey,
}

fn bad(field: &str, reason: &str, message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message).with_details(serde_json::json!({ "field": field, "reason": reason }))
}

fn query_err(e: QueryError) -> ApiError {
    let reason = match e {
        QueryError::Empty => "empty",
        QueryError::TooLong => "too_long",
        QueryError::TooManyTerms => "too_many_terms",
        QueryError::ShortPrefix => "short_prefix",
    };
    bad("q", reason, e.to_string())
}

/// A bound: a message id (digits) or an RFC 3339 time in Unix microseconds.
enum Bound {
    Id(MessageId),
    At(i64),
}

fn bound(field: &str, v: &str) -> Result<Bound, ApiError> {
    if let Ok(id) = v.parse::<i64>() {
        return Ok(Bound::Id(MessageId(id)));
    }
    let t = time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).map_err(|_| {
        bad(
            field,
            "format",
            format!("{field} must be a message id or an RFC 3339 time"),
        )
    })?;
    Ok(Bound::At(
        i64::try_from(t.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX),
    ))
}

/// A ranked candidate document.
struct Hit {
    score: i64,
    message_id: MessageId,
    slot: i64,
    file_id: Option<String>,
}

impl Hit {
    /// Sort order: best score, then newest, then the text before its files.
    fn key(&self) -> (std::cmp::Reverse<i64>, std::cmp::Reverse<i64>, i64) {
        (
            std::cmp::Reverse(self.score),
            std::cmp::Reverse(self.message_id.0),
            self.slot,
        )
    }
}

impl SearchService {
    /// The service with the index key derived from `MESSAGE_ENCRYPTION_KEY`.
    pub fn new(config: &Config, stores: Stores) -> Result<SearchService, ApiError> {
        let keys = config
            .message_encryption_key
            .as_ref()
            .ok_or_else(|| ApiError::unavailable("search needs MESSAGE_ENCRYPTION_KEY"))?;
        let key = IndexKey::from_fernet_keys(keys.expose()).map_err(ApiError::unavailable)?;
        Ok(SearchService { stores, key })
    }

    /// Empties the index; the next steps rebuild it from the first message.
    pub async fn reset(&self) -> Result<(), ApiError> {
        self.stores
            .search
            .reset_search(self.key.fingerprint())
            .await
            .map_err(store_err)
    }

    /// (messages indexed, all messages) for progress reports.
    pub async fn progress(&self) -> Result<(i64, i64), ApiError> {
        let state = self.stores.search.search_state().await.map_err(store_err)?;
        self.stores
            .search
            .search_progress(state.position)
            .await
            .map_err(store_err)
    }

    /// Indexes up to `batch` changes after the stored position. An index built with
    /// another key (after `MESSAGE_ENCRYPTION_KEY` rotated) is emptied and rebuilt.
    /// Safe to run from several places at once: a step whose range another
    /// indexer already applied writes nothing.
    pub async fn index_step(&self, files: &FileService, batch: i64) -> Result<IndexStep, ApiError> {
        let s = &self.stores.search;
        let mut state = s.search_state().await.map_err(store_err)?;
        if state.key != self.key.fingerprint() {
            tracing::info!("search index key changed: rebuilding the index");
            self.reset().await?;
            state = s.search_state().await.map_err(store_err)?;
        }
        let changes = s.search_changes(state.position, batch).await.map_err(store_err)?;
        if changes.position == state.position {
            return Ok(IndexStep {
                messages: 0,
                position: state.position,
                caught_up: true,
            });
        }
        let mut out = SearchBatch {
            from: state.position,
            to: changes.position,
            key: self.key.fingerprint(),
            ..SearchBatch::default()
        };
        let mut file_terms: HashMap<String, Terms> = HashMap::new();
        for m in &changes.messages {
            out.replace.push(m.id);
            if m.deleted_at.is_none() {
                self.docs(files, m, &mut file_terms, &mut out.docs).await;
            }
        }
        let applied = s.apply_search(&out).await.map_err(store_err)?;
        Ok(IndexStep {
            messages: if applied { changes.messages.len() } else { 0 },
            position: if applied { changes.position } else { state.position },
            caught_up: false,
        })
    }

    /// The documents of one live message: its text and each attached file.
    async fn docs(
        &self,
        files: &FileService,
        m: &MessageRow,
        cache: &mut HashMap<String, Terms>,
        out: &mut Vec<SearchDoc>,
    ) {
        let has_files = !m.attachments.is_empty();
        let doc = |slot: i64, file_id: Option<String>, terms: &Terms| SearchDoc {
            message_id: m.id,
            slot,
            chat_id: m.chat_id,
            sender_id: m.sender_id,
            file_id,
            created_at: m.created_at,
            has_files,
            length: terms.length,
            tokens: terms.counts.iter().map(|(t, n)| (t.to_vec(), *n)).collect(),
        };
        let text = sova_search::document_terms(&self.key, &m.text);
        if !text.is_empty() {
            out.push(doc(0, None, &text));
        }
        for (i, a) in m.attachments.iter().enumerate() {
            if !cache.contains_key(&a.file_id) {
                let mut terms = sova_search::document_terms(&self.key, &a.name);
                if let Some(body) = self.file_text(files, &a.file_id).await {
                    terms.add(&self.key, &body);
                }
                cache.insert(a.file_id.clone(), terms);
            }
            if let Some(terms) = cache.get(&a.file_id).filter(|t| !t.is_empty()) {
                out.push(doc(i as i64 + 1, Some(a.file_id.clone()), terms));
            }
        }
    }

    /// The extracted text of a stored file, if it is a document type within limits.
    async fn file_text(&self, files: &FileService, id: &str) -> Option<String> {
        self.file_text_capped(files, id, extract::MAX_INPUT_BYTES).await
    }

    async fn file_text_capped(&self, files: &FileService, id: &str, cap: u64) -> Option<String> {
        let row = self.stores.search.file_by_id(id).await.ok()??;
        let kind: Kind = extract::kind(&row.mime, &row.name)?;
        let bytes = match files.plaintext(&row, cap).await {
            Ok(b) => b?,
            Err(e) => {
                tracing::warn!(file = id, error = %e.message, "search: cannot read file");
                return None;
            }
        };
        tokio::task::spawn_blocking(move || extract::extract(kind, &bytes))
            .await
            .ok()
            .flatten()
    }

    /// One page of results for `user`.
    pub async fn search(
        &self,
        messages: &MessageService,
        files: &FileService,
        user: &AuthUser,
        p: SearchParams,
    ) -> Result<SearchPage, ApiError> {
        let query = Query::parse(&p.q).map_err(query_err)?;
        let limit = p.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(bad("limit", "range", format!("limit must be 1-{MAX_LIMIT}")));
        }
        let mut filter = SearchFilter {
            user: user.user_id,
            chat: p.chat_id,
            sender: p.from,
            before_id: None,
            after_id: None,
            before_at: None,
            after_at: None,
            has_files: false,
            max_rows: 0,
        };
        match p.has.as_deref() {
            None | Some("") => {}
            Some("file") => filter.has_files = true,
            Some(_) => return Err(bad("has", "value", "has must be file")),
        }
        for (field, value) in [("before", &p.before), ("after", &p.after)] {
            let Some(v) = value.as_deref().filter(|v| !v.is_empty()) else {
                continue;
            };
            match (field, bound(field, v)?) {
                ("before", Bound::Id(id)) => filter.before_id = Some(id),
                ("before", Bound::At(at)) => filter.before_at = Some(at),
                (_, Bound::Id(id)) => filter.after_id = Some(id),
                (_, Bound::At(at)) => filter.after_at = Some(at),
            }
        }
        if let Some(chat) = p.chat_id
            && !self
                .stores
                .chats
                .is_member(chat, user.user_id)
                .await
                .map_err(store_err)?
        {
            return Err(ApiError::not_found("no such chat"));
        }
        let cursor = match p.cursor.as_deref().filter(|c| !c.is_empty()) {
            Some(c) => Some(decode_cursor(c)?),
            None => None,
        };
        let required: Vec<Vec<u8>> = query.required(&self.key).iter().map(|t| t.to_vec()).collect();
        let scored: Vec<Vec<u8>> = query.scored(&self.key).iter().map(|t| t.to_vec()).collect();
        let (weights, avg) = match &cursor {
            Some(c) if c.w.len() == scored.len() => (c.w.clone(), c.a),
            Some(_) => return Err(bad("cursor", "mismatch", "cursor belongs to another query")),
            None => self.weights(&scored).await?,
        };
        filter.max_rows = MAX_CANDIDATES * required.len() as i64;
        let postings = self
            .stores
            .search
            .search_postings(&required, &filter)
            .await
            .map_err(store_err)?;
        let mut hits = rank_hits(postings, &required, &scored, &weights, avg);
        if let Some(c) = &cursor {
            let after = (std::cmp::Reverse(c.s), std::cmp::Reverse(c.m), c.k);
            hits.retain(|h| h.key() > after);
        }
        let mut items = Vec::new();
        let mut last: Option<&Hit> = None;
        let mut examined = 0;
        'pages: for chunk in hits.chunks(usize::try_from(limit).unwrap_or(20) * 2) {
            let mut ids: Vec<MessageId> = chunk.iter().map(|h| h.message_id).collect();
            ids.dedup();
            let rows = self.stores.search.messages_by_ids(&ids).await.map_err(store_err)?;
            let rows: BTreeMap<MessageId, MessageRow> = rows.into_iter().map(|r| (r.id, r)).collect();
            for h in chunk {
                examined += 1;
                last = Some(h);
                if let Some(item) = self
                    .item(messages, files, user, &query, h, rows.get(&h.message_id))
                    .await?
                {
                    items.push(item);
                    if items.len() as i64 == limit {
                        break 'pages;
                    }
                }
            }
        }
        let cursor = match last {
            Some(h) if examined < hits.len() => Some(encode_cursor(&Cursor {
                s: h.score,
                m: h.message_id.0,
                k: h.slot,
                w: weights,
                a: avg,
            })),
            _ => None,
        };
        Ok(SearchPage { items, cursor })
    }

    /// idf weights of the scored tokens and the average document length.
    async fn weights(&self, scored: &[Vec<u8>]) -> Result<(Vec<f64>, f64), ApiError> {
        let state = self.stores.search.search_state().await.map_err(store_err)?;
        let df = self.stores.search.token_frequencies(scored).await.map_err(store_err)?;
        let avg = if state.docs > 0 {
            state.words as f64 / state.docs as f64
        } else {
            1.0
        };
        Ok((df.iter().map(|&d| rank::idf(state.docs, d)).collect(), avg))
    }

    /// The result for a hit, after decryption; `None` when the index is behind
    /// (message deleted or edited since) or the text does not really match.
    async fn item(
        &self,
        messages: &MessageService,
        files: &FileService,
        user: &AuthUser,
        query: &Query,
        h: &Hit,
        row: Option<&MessageRow>,
    ) -> Result<Option<SearchItem>, ApiError> {
        let Some(row) = row.filter(|r| r.deleted_at.is_none()) else {
            return Ok(None);
        };
        if h.slot == 0 {
            if !query.matches(&row.text) {
                return Ok(None);
            }
            let snippet = snippet(&row.text, query);
            let message = messages.with_reactions(user, vec![row.clone()]).await?.remove(0);
            return Ok(Some(SearchItem::Message { message, snippet }));
        }
        let attached = usize::try_from(h.slot - 1).ok().and_then(|i| row.attachments.get(i));
        let Some(a) = attached.filter(|a| Some(&a.file_id) == h.file_id.as_ref()) else {
            return Ok(None);
        };
        let Some(file) = self.stores.search.file_by_id(&a.file_id).await.map_err(store_err)? else {
            return Ok(None);
        };
        let snippet = if query.matches(&file.name) {
            snippet(&file.name, query)
        } else {
            match self.file_text_capped(files, &file.id, SNIPPET_FILE_BYTES).await {
                Some(text) => snippet(&text, query),
                None => snippet(&file.name, query),
            }
        };
        Ok(Some(SearchItem::File {
            file: file_info(&file),
            chat_id: row.chat_id,
            message_id: row.id,
            snippet,
        }))
    }
}

/// Documents holding every required token, scored and sorted best first.
fn rank_hits(postings: Vec<Posting>, required: &[Vec<u8>], scored: &[Vec<u8>], weights: &[f64], avg: f64) -> Vec<Hit> {
    struct Doc {
        file_id: Option<String>,
        length: i64,
        tfs: HashMap<Vec<u8>, i64>,
    }
    let mut docs: HashMap<(i64, i64), Doc> = HashMap::new();
    for p in postings {
        let d = docs.entry((p.message_id.0, p.slot)).or_insert_with(|| Doc {
            file_id: p.file_id.clone(),
            length: p.length,
            tfs: HashMap::new(),
        });
        d.tfs.insert(p.token, p.tf);
    }
    let mut hits: Vec<Hit> = docs
        .into_iter()
        .filter(|(_, d)| required.iter().all(|t| d.tfs.contains_key(t)))
        .map(|((m, slot), d)| {
            let tfs: Vec<i64> = scored.iter().map(|t| d.tfs.get(t).copied().unwrap_or(0)).collect();
            Hit {
                score: rank::score(weights, &tfs, d.length, avg),
                message_id: MessageId(m),
                slot,
                file_id: d.file_id,
            }
        })
        .collect();
    hits.sort_by_key(Hit::key);
    hits
}

fn encode_cursor(c: &Cursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(c).unwrap_or_default())
}

fn decode_cursor(s: &str) -> Result<Cursor, ApiError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
        .and_then(|b| serde_json::from_slice::<Cursor>(&b).ok())
        .filter(|c| c.w.iter().all(|w| w.is_finite()) && c.a.is_finite())
        .ok_or_else(|| bad("cursor", "invalid", "cursor is not one this server returned"))
}
