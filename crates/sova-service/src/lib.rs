//! The application layer: one service per domain, built once at start-up into
//! `Services` and shared (as `Arc<Services>`) by every transport. Services check
//! permissions, call the stores, publish committed events on the bus, and return
//! `ApiError`s; they never know which transport or database they run on.

pub mod abuse;
pub mod auth;
pub mod chats;
pub mod files;
pub mod games;
pub mod hashing;
pub mod media;
pub mod messages;
pub mod order;
pub mod presence;
pub mod search;
pub mod sessions;
pub mod settings;
pub mod tasks;
pub mod telemetry;
pub mod twofa;
pub mod uploads;
pub mod users;
pub mod writer;

use sova_bus::EventBus;
use sova_config::Config;
use sova_core::{Rejection, RejectionKind};
use sova_store::{StoreError, Stores};
use sova_types::ApiError;
use std::sync::Arc;
use tokio::task::JoinHandle;

pub use auth::{AuthService, AuthUser};
pub use chats::ChatService;
pub use messages::MessageService;
pub use writer::Writer;

/// Every service, shared by the transports.
pub struct Services {
    pub config: Arc<Config>,
    pub stores: Stores,
    pub bus: Arc<dyn EventBus>,
    pub auth: AuthService,
    pub chats: ChatService,
    pub messages: MessageService,
    /// Uploaded files.
    pub files: files::FileService,
    pub presence: presence::PresenceService,
    /// Full-text search and its indexer.
    pub search: search::SearchService,
    /// Client settings that follow the user.
    pub settings: settings::SettingsService,
    /// The user directory.
    pub users: users::UserService,
    /// Games played in chats, ratings, statistics and achievements.
    pub games: games::GameService,
    /// Tasks and kanban boards.
    pub tasks: tasks::TaskService,
    /// Abuse counters shared by every service and transport.
    pub limits: Arc<dyn sova_limits::Limits>,
    /// Renders `/metrics`.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

/// Background tasks owned by the services; awaited at shutdown after the last
/// `Services` handle is dropped (so pending writes are committed first).
pub struct ServiceTasks {
    pub writer: JoinHandle<()>,
}

impl Services {
    /// Builds the services: ensures the `general` chat exists and starts the message writer.
    /// `config` must have its secrets prepared.
    pub async fn start(
        config: Arc<Config>,
        stores: Stores,
        bus: Arc<dyn EventBus>,
    ) -> Result<(Arc<Services>, ServiceTasks), ApiError> {
        if !bus.distributed() {
            // One publisher: everything committed so far counts as published, so a
            // later switch to several instances does not replay history.
            let last = stores.messages.last_message_id().await.map_err(store_err)?;
            stores.messages.mark_published(last).await.map_err(store_err)?;
        }
        let (write, writer) = Writer::start(stores.clone(), bus.clone());
        let chats = ChatService::start(&config, stores.clone(), write.clone()).await?;
        let limits: Arc<dyn sova_limits::Limits> = match &config.redis_url {
            Some(url) => Arc::new(
                sova_limits::RedisLimits::connect(url.expose(), &config.redis_prefix)
                    .await
                    .map_err(|e| ApiError::unavailable(format!("rate limits: {e}")))?,
            ),
            None => Arc::new(sova_limits::LocalLimits::default()),
        };
        let auth = AuthService::new(&config, stores.clone(), chats.general(), limits.clone(), bus.clone())?;
        let games = games::GameService::new(stores.clone(), write.clone());
        let tasks = tasks::TaskService::new(stores.clone(), write.clone());
        let messages = MessageService::new(
            &config,
            stores.clone(),
            bus.clone(),
            chats.clone(),
            write,
            limits.clone(),
        );
        let counts: Arc<dyn sova_bus::presence::PresenceStore> = match &config.redis_url {
            Some(url) => Arc::new(
                sova_bus::presence::RedisPresence::connect(url.expose(), &config.redis_prefix)
                    .await
                    .map_err(|e| ApiError::unavailable(format!("presence: {e}")))?,
            ),
            None => Arc::new(sova_bus::presence::LocalPresence::default()),
        };
        let audience = i64::try_from(config.receipts_max_members).unwrap_or(0);
        let presence = presence::PresenceService::new(counts, stores.clone(), bus.clone(), audience);
        let settings = settings::SettingsService::new(stores.clone(), bus.clone());
        let files = files::FileService::start(&config, stores.clone()).await?;
        let search = search::SearchService::new(&config, stores.clone())?;
        let users = users::UserService::new(stores.clone());
        let services = Arc::new(Services {
            config,
            stores,
            bus,
            auth,
            chats,
            messages,
            files,
            presence,
            search,
            settings,
            users,
            games,
            tasks,
            limits,
            metrics: telemetry::install(),
        });
        Ok((services, ServiceTasks { writer }))
    }
}

/// Turns a rejected op into its error.
pub(crate) fn outcome_err(outcome: &sova_store::Outcome) -> Option<ApiError> {
    match outcome {
        sova_store::Outcome::Rejected(r) => Some(rejection_err(r)),
        _ => None,
    }
}

/// The client-facing error for a domain rejection: the one place that gives
/// each `sova_core::Rejection` its code and text.
pub(crate) fn rejection_err(r: &Rejection) -> ApiError {
    let message = match r {
        Rejection::Game(e) => return games::game_err(e),
        Rejection::NoSuchGame => "no such game".to_owned(),
        Rejection::NoSuchChat => "no such chat".to_owned(),
        Rejection::NoSuchMessage => "no such message".to_owned(),
        Rejection::NoSuchForwardSource => "no such message to forward".to_owned(),
        Rejection::NoSuchFile => "no such file among your uploads".to_owned(),
        Rejection::NoSuchUser(u) => format!("no such user: {u}"),
        Rejection::NotAMember => "not a member of this chat".to_owned(),
        Rejection::InvalidInvite => "invite is invalid, expired, revoked or used up".to_owned(),
        Rejection::ChannelPostersOnly => "only the owner and admins post in a channel".to_owned(),
        Rejection::DeleteNotAllowed => "only the author or a chat admin can delete this message".to_owned(),
        Rejection::EditNotAllowed => "only the author can edit a message".to_owned(),
        Rejection::PinNotAllowed => "only chat admins can pin messages".to_owned(),
        Rejection::MembersFixed => "members of this chat cannot be changed".to_owned(),
        Rejection::AddNotAllowed => "only the owner and admins add members".to_owned(),
        Rejection::RemoveNotAllowed => "you can only remove members below your role".to_owned(),
        Rejection::PublicChatStays => "everyone stays in the public chat".to_owned(),
        Rejection::PrivateChatStays => "a private chat cannot be left".to_owned(),
        Rejection::OwnerMustTransfer => "transfer ownership before leaving".to_owned(),
        Rejection::RolesFixed => "roles cannot change in this chat".to_owned(),
        Rejection::RoleChangeNotAllowed => "only the owner changes roles".to_owned(),
        Rejection::OwnRoleChange => "transfer ownership to another member instead".to_owned(),
        Rejection::ChatFixed => "this chat cannot be renamed or deleted".to_owned(),
        Rejection::OwnerOnly => "only the owner can do this".to_owned(),
        Rejection::ManagersOnly => "only the owner and admins can do this".to_owned(),
        Rejection::ReplyOutsideChat => "reply_to must be a message of this chat".to_owned(),
        Rejection::PrivateChatPair => "a private chat has exactly one other member".to_owned(),
        Rejection::UncreatableKind => "type must be private, group or channel".to_owned(),
        Rejection::GroupFull { max } => format!("a group holds at most {max} members"),
        Rejection::NoSuchTask => "no such task".to_owned(),
        Rejection::NoSuchBoard => "no such board".to_owned(),
        Rejection::NoSuchColumn => "no such column on a board of this chat".to_owned(),
        Rejection::AssigneeNotMember(_) => "assignees must be members of this chat".to_owned(),
        Rejection::MessageOutsideChat => "message_id must be a message of this chat".to_owned(),
        Rejection::AfterNotInColumn => "after must be another task in the target column".to_owned(),
        Rejection::StaleVersion { current } => format!("the task changed: it is at version {current}"),
        Rejection::TaskDeleteNotAllowed => "only the task's creator or a chat admin can delete it".to_owned(),
    };
    match r.kind() {
        RejectionKind::NotFound => ApiError::not_found(message),
        RejectionKind::Forbidden => ApiError::forbidden(message),
        RejectionKind::Conflict => ApiError::conflict(message),
        RejectionKind::BadRequest => ApiError::bad_request(message),
    }
}

/// Maps a storage failure to a client-safe error, logging the cause.
pub(crate) fn store_err(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => ApiError::conflict("already exists"),
        StoreError::NotFound => ApiError::not_found("not found"),
        StoreError::Unavailable(cause) => {
            tracing::warn!(%cause, "database unavailable");
            ApiError::unavailable("the database is busy; retry shortly")
        }
        StoreError::Other(cause) => {
            tracing::error!(%cause, "database error");
            ApiError::internal()
        }
    }
}
