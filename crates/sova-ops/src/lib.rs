//! The operation registry: every operation a client can call is declared here once
//! (an [`Operation`]: request type, response type, the error codes it may return,
//! whether it needs a session, its rate-limit class, and one handler). The REST routes
//! (`sova-api-http`), the socket op frames (`sova-gateway`) and the OpenAPI document
//! ([`openapi::document`]) are all derived from these declarations, so an operation
//! behaves identically on every transport and a new one appears on all of them.
//!
//! A request is one JSON object whatever the transport: REST merges its path
//! parameters, query parameters and JSON body into it (path names are the request's
//! field names, strings coerced to the field's JSON type), a socket op frame is that
//! object with `"type"` and `"id"` added.

pub mod account;
pub mod chats;
pub mod games;
pub mod messages;
pub mod openapi;
mod params;
pub mod search;
pub mod security;
pub mod tasks;
pub mod users;

use bytes::Bytes;
use futures_util::future::BoxFuture;
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use sova_service::{AuthUser, Services};
use sova_types::{ApiError, ErrorCode};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::{Arc, OnceLock};

pub use params::{ParamError, coerce_param};

/// An HTTP method of a REST route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    /// Reads; remaining fields travel in the query.
    Get,
    /// Creates or acts; remaining fields travel in the JSON body.
    Post,
    /// Sets; body.
    Put,
    /// Changes; body.
    Patch,
    /// Removes; query.
    Delete,
}

impl Method {
    /// Lower-case name, as OpenAPI spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
            Method::Put => "put",
            Method::Patch => "patch",
            Method::Delete => "delete",
        }
    }

    /// Whether the request's remaining fields travel in a JSON body (else in the query).
    pub fn has_body(self) -> bool {
        matches!(self, Method::Post | Method::Put | Method::Patch)
    }
}

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// A valid access token (REST `Authorization: Bearer`, or an authenticated socket).
    Session,
    /// Anyone; a token, when given, must be valid (the handler may also accept one in the body).
    Optional,
    /// Anyone; no token is looked at.
    Public,
}

/// The rate-limit class an operation is counted in (enforced by the services; listed
/// here so clients and the OpenAPI document know).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Limit {
    /// Only the per-connection frame limit on sockets.
    None,
    /// Login attempts per IP and per account, with lockout and reputation.
    Login,
    /// Registrations per IP.
    Register,
    /// Messages per user.
    Messages,
}

impl Limit {
    /// The OpenAPI `x-rate-limit` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Limit::None => "none",
            Limit::Login => "login",
            Limit::Register => "register",
            Limit::Messages => "messages",
        }
    }
}

/// How an operation is reached and documented.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    /// The socket frame `type` and the OpenAPI `operationId`.
    pub name: &'static str,
    /// The REST method.
    pub method: Method,
    /// The REST path; `{name}` segments are request fields.
    pub path: &'static str,
    /// One line for the OpenAPI summary.
    pub summary: &'static str,
    /// The OpenAPI tag (the domain).
    pub tag: &'static str,
    /// Who may call it.
    pub auth: Auth,
    /// The success status (200, 201 or 204; 204 answers no body, `data: null` on sockets).
    pub status: u16,
    /// Error codes the operation may answer with, besides the ones every call may get.
    pub errors: &'static [ErrorCode],
    /// The rate-limit class.
    pub limit: Limit,
    /// Whether sockets may call it as an op frame (`{"type": name, …}`).
    pub socket: bool,
}

impl Spec {
    /// A session-only socket-and-REST operation answering 200; refine with the setters.
    pub const fn new(name: &'static str, method: Method, path: &'static str, summary: &'static str) -> Spec {
        Spec {
            name,
            method,
            path,
            summary,
            tag: "",
            auth: Auth::Session,
            status: 200,
            errors: &[],
            limit: Limit::None,
            socket: true,
        }
    }
    /// The OpenAPI tag (the domain).
    pub const fn tag(mut self, tag: &'static str) -> Spec {
        self.tag = tag;
        self
    }
    /// Who may call it (default: a session).
    pub const fn auth(mut self, auth: Auth) -> Spec {
        self.auth = auth;
        self
    }
    /// The success status (default 200).
    pub const fn status(mut self, status: u16) -> Spec {
        self.status = status;
        self
    }
    /// The error codes it may answer, for the OpenAPI document.
    pub const fn errors(mut self, errors: &'static [ErrorCode]) -> Spec {
        self.errors = errors;
        self
    }
    /// The rate-limit class it is counted in.
    pub const fn limit(mut self, limit: Limit) -> Spec {
        self.limit = limit;
        self
    }
    /// REST only (e.g. the seed endpoints whose names sockets use for other frames).
    pub const fn rest_only(mut self) -> Spec {
        self.socket = false;
        self
    }
}

/// Who is calling, as every transport knows it.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The authenticated user (always set for `Auth::Session` operations).
    pub user: Option<AuthUser>,
    /// The client address (behind trusted proxies, the forwarded one).
    pub ip: IpAddr,
    /// What the transport knows of the client software (User-Agent, or "tcp").
    pub agent: String,
}

impl Caller {
    /// The authenticated user, or `unauthorized`.
    pub fn user(&self) -> Result<&AuthUser, ApiError> {
        self.user
            .as_ref()
            .ok_or_else(|| ApiError::unauthorized("missing bearer token"))
    }

    /// Session metadata for a login by this caller.
    pub fn client(
        &self,
        device_id: Option<String>,
        captcha: Option<sova_types::models::CaptchaSolution>,
    ) -> sova_service::auth::Client {
        sova_service::auth::Client {
            ip: self.ip,
            device_id: device_id.unwrap_or_default(),
            user_agent: self.agent.clone(),
            captcha,
        }
    }
}

/// One operation: its declaration and its handler.
pub trait Operation: 'static {
    /// Every input, from path, query, body or frame alike.
    type Request: DeserializeOwned + JsonSchema + Send + 'static;
    /// The REST response body, and `data` of the socket `result` frame.
    type Response: Serialize + JsonSchema + Send + 'static;
    /// How it is reached and documented.
    const SPEC: Spec;
    /// Does the work; a typed error becomes the transport's error answer.
    fn handle(
        s: &Services,
        c: &Caller,
        req: Self::Request,
    ) -> impl Future<Output = Result<Self::Response, ApiError>> + Send;
    /// The success status for this response (default: `SPEC.status`).
    fn status(_response: &Self::Response) -> u16 {
        Self::SPEC.status
    }
}

/// A finished call: the status and the JSON body (none for 204).
#[derive(Clone, Debug)]
pub struct Output {
    /// The HTTP status (sockets answer `result` for any success).
    pub status: u16,
    /// The JSON body; `None` for 204.
    pub body: Option<Bytes>,
}

type CallFn = fn(Arc<Services>, Caller, Map<String, Value>) -> BoxFuture<'static, Result<Output, ApiError>>;
type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// An operation with its types erased, as transports use it.
#[derive(Clone, Copy)]
pub struct Entry {
    /// How the operation is reached and documented.
    pub spec: Spec,
    call: CallFn,
    request_schema: SchemaFn,
    response_schema: SchemaFn,
}

impl Entry {
    /// The entry of operation `O`.
    pub const fn of<O: Operation>() -> Entry {
        Entry {
            spec: O::SPEC,
            call: call::<O>,
            request_schema: sub_schema::<O::Request>,
            response_schema: sub_schema::<O::Response>,
        }
    }

    /// Runs the operation on `request` (one JSON object) for `caller`. The transport
    /// has already authenticated the caller when `spec.auth` is `Session`.
    pub fn call(
        &self,
        services: Arc<Services>,
        caller: Caller,
        request: Map<String, Value>,
    ) -> BoxFuture<'static, Result<Output, ApiError>> {
        (self.call)(services, caller, request)
    }

    /// The request's JSON Schema, resolved to its object schema (nested types stay
    /// `$ref`s into `generator`'s definitions).
    pub fn request_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        let schema = (self.request_schema)(generator);
        let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.rsplit('/').next())
        else {
            return schema;
        };
        generator
            .definitions()
            .get(name)
            .cloned()
            .and_then(|v| Schema::try_from(v).ok())
            .unwrap_or(schema)
    }

    /// The response's JSON Schema (a `$ref` for named types).
    pub fn response_schema(&self, generator: &mut SchemaGenerator) -> Schema {
        (self.response_schema)(generator)
    }
}

fn sub_schema<T: JsonSchema>(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<T>()
}

fn call<O: Operation>(
    services: Arc<Services>,
    caller: Caller,
    request: Map<String, Value>,
) -> BoxFuture<'static, Result<Output, ApiError>> {
    Box::pin(async move {
        let req: O::Request = serde_json::from_value(Value::Object(request))
            .map_err(|e| ApiError::bad_request(format!("invalid request: {e}")))?;
        if O::SPEC.auth == Auth::Session {
            caller.user()?;
        }
        let response = O::handle(&services, &caller, req).await?;
        let status = O::status(&response);
        let body = if status == 204 {
            None
        } else {
            Some(Bytes::from(serde_json::to_vec(&response).map_err(|e| {
                tracing::error!(op = O::SPEC.name, error = %e, "response does not serialize");
                ApiError::internal()
            })?))
        };
        Ok(Output { status, body })
    })
}

/// Every operation, in declaration order.
pub fn all() -> &'static [Entry] {
    static ALL: OnceLock<Vec<Entry>> = OnceLock::new();
    ALL.get_or_init(|| {
        [
            account::OPS,
            security::OPS,
            chats::OPS,
            messages::OPS,
            users::OPS,
            games::OPS,
            search::OPS,
            tasks::OPS,
        ]
        .concat()
    })
}

/// The operation a socket op frame names (`None` for unknown and REST-only names).
pub fn socket_op(name: &str) -> Option<&'static Entry> {
    static BY_NAME: OnceLock<HashMap<&'static str, &'static Entry>> = OnceLock::new();
    BY_NAME
        .get_or_init(|| {
            all()
                .iter()
                .filter(|e| e.spec.socket)
                .map(|e| (e.spec.name, e))
                .collect()
        })
        .get(name)
        .copied()
}

/// Serializes as `T`; `created` picks the status (201 when new, 200 when it existed).
pub struct Created<T> {
    /// The body.
    pub value: T,
    /// Whether it was created now (201) rather than found (200).
    pub created: bool,
}

impl<T: Serialize> Serialize for Created<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.value.serialize(serializer)
    }
}

impl<T: JsonSchema> JsonSchema for Created<T> {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        T::schema_name()
    }
    fn schema_id() -> std::borrow::Cow<'static, str> {
        T::schema_id()
    }
    fn inline_schema() -> bool {
        T::inline_schema()
    }
    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// `{"revoked": n}`.
#[derive(Serialize, JsonSchema)]
pub struct Revoked {
    /// How many sessions were revoked.
    pub revoked: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_and_routes_are_unique_and_paths_name_request_fields() {
        let mut names = HashSet::new();
        let mut routes = HashSet::new();
        let mut generator = openapi::generator(false);
        for e in all() {
            assert!(names.insert(e.spec.name), "duplicate operation {}", e.spec.name);
            assert!(
                routes.insert((e.spec.method, e.spec.path)),
                "duplicate route {:?} {}",
                e.spec.method,
                e.spec.path
            );
            assert!(
                !e.spec.tag.is_empty() && !e.spec.summary.is_empty(),
                "{} is undocumented",
                e.spec.name
            );
            assert!(matches!(e.spec.status, 200 | 201 | 204), "{}", e.spec.name);
            let schema = e.request_schema(&mut generator);
            for param in openapi::path_params(e.spec.path) {
                assert!(
                    schema.pointer(&format!("/properties/{param}")).is_some(),
                    "{}: path parameter {param} is not a request field",
                    e.spec.name
                );
            }
        }
        assert!(all().len() >= 50, "{} operations", all().len());
    }

    #[test]
    fn socket_names_keep_the_existing_op_frames() {
        for name in [
            "create_chat",
            "chats",
            "get_chat",
            "update_chat",
            "delete_chat",
            "members",
            "add_members",
            "remove_member",
            "leave",
            "set_role",
            "create_invite",
            "invites",
            "revoke_invite",
            "join",
            "send",
            "messages",
            "get_message",
            "edit",
            "delete",
            "versions",
            "react",
            "unreact",
            "pin",
            "unpin",
            "pins",
            "read",
            "typing",
            "presence",
            "mute",
            "unmute",
        ] {
            assert!(socket_op(name).is_some(), "{name} is no longer a socket op");
        }
        for seed in ["auth", "auth_2fa", "message", "sync", "history", "ping"] {
            assert!(socket_op(seed).is_none(), "{seed} is a seed frame, not an op");
        }
    }
}
