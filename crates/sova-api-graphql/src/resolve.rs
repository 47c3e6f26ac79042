//! Resolvers: an operation field gathers its arguments into the operation's JSON
//! request object, authenticates the caller once per request, runs the registry's
//! JSON dispatch, and hands the JSON answer to the generic field resolvers (each
//! object field reads its property from the parent JSON). A typed error becomes a
//! GraphQL error with `extensions.code` (and `retry_after`, `details`).

use async_graphql::dynamic::{Field, FieldFuture, FieldValue, InputValue, TypeRef};
use async_graphql::{ErrorExtensions, Value as GqlValue};
use serde_json::{Map, Value};
use sova_ops::{Auth, Caller, Entry};
use sova_service::{AuthUser, Services};
use sova_types::ApiError;
use std::net::IpAddr;
use std::sync::Arc;
use tokio::sync::OnceCell;

/// How a JSON value becomes a field value.
#[derive(Clone, Debug)]
pub enum Shape {
    /// A scalar (including `JSON`).
    Scalar,
    /// An object type: its fields read the JSON object.
    Object,
    /// A list of the inner shape.
    List(Box<Shape>),
    /// No body: `true`.
    Done,
}

/// The JSON `value` as a field value of `shape` (`None` for null or absent).
pub fn to_field(value: Option<&Value>, shape: &Shape) -> Option<FieldValue<'static>> {
    let value = value.filter(|v| !v.is_null())?;
    match shape {
        Shape::Scalar => Some(FieldValue::value(
            GqlValue::from_json(value.clone()).unwrap_or(GqlValue::Null),
        )),
        Shape::Object => Some(FieldValue::owned_any(value.clone())),
        Shape::List(inner) => value.as_array().map(|items| {
            FieldValue::list(
                items
                    .iter()
                    .map(|v| to_field(Some(v), inner).unwrap_or(FieldValue::NULL)),
            )
        }),
        Shape::Done => Some(FieldValue::value(true)),
    }
}

/// The field `prop` of an object type: reads that property of the parent JSON.
pub fn prop_field(prop: &str, ty: TypeRef, shape: Shape) -> Field {
    let key = prop.to_owned();
    Field::new(crate::schema::identifier(prop), ty, move |ctx| {
        let key = key.clone();
        let shape = shape.clone();
        FieldFuture::new(async move {
            let parent = ctx.parent_value.try_downcast_ref::<Value>()?;
            Ok(to_field(parent.get(&key), &shape))
        })
    })
}

/// A typed error as a GraphQL error: the message, and the code in `extensions.code`.
pub fn gql_error(e: ApiError) -> async_graphql::Error {
    let ApiError {
        code,
        message,
        retry_after,
        details,
    } = e;
    async_graphql::Error::new(message).extend_with(move |_, ext| {
        ext.set("code", code.as_str());
        if let Some(r) = retry_after {
            ext.set("retry_after", r);
        }
        if let Some(d) = details.clone()
            && let Ok(v) = GqlValue::from_json(d)
        {
            ext.set("details", v);
        }
    })
}

/// Who sent this GraphQL request (HTTP or WebSocket): set per request.
pub struct RequestInfo {
    /// The bearer token, if any (a malformed header is an error here).
    pub token: Result<Option<String>, ApiError>,
    /// The client address (behind trusted proxies, the forwarded one).
    pub ip: IpAddr,
    /// The client software (User-Agent).
    pub agent: String,
    user: OnceCell<Result<AuthUser, ApiError>>,
}

impl RequestInfo {
    /// The caller's request data.
    pub fn new(token: Result<Option<String>, ApiError>, ip: IpAddr, agent: String) -> RequestInfo {
        RequestInfo {
            token,
            ip,
            agent,
            user: OnceCell::new(),
        }
    }

    /// The caller as an operation with `auth` sees it; the token is checked at most
    /// once per request.
    pub async fn caller(&self, auth: Auth, services: &Services) -> Result<Caller, ApiError> {
        let user = match auth {
            Auth::Public => None,
            Auth::Session | Auth::Optional => match self.token.clone()? {
                Some(token) => Some(
                    self.user
                        .get_or_init(|| async { services.auth.authenticate(&token).await })
                        .await
                        .clone()?,
                ),
                None if auth == Auth::Session => return Err(ApiError::unauthorized("missing bearer token")),
                None => None,
            },
        };
        Ok(Caller {
            user,
            ip: self.ip,
            agent: self.agent.clone(),
        })
    }
}

/// The field of operation `entry`: arguments are the request's properties (JSON name,
/// argument); the answer is shaped by `shape`.
pub fn op_field(entry: &'static Entry, ty: TypeRef, shape: Shape, args: Vec<(String, InputValue)>) -> Field {
    let names: Vec<(String, String)> = args
        .iter()
        .map(|(json, _)| (crate::schema::identifier(json), json.clone()))
        .collect();
    let mut field = Field::new(crate::schema::identifier(entry.spec.name), ty, move |ctx| {
        let shape = shape.clone();
        let names = names.clone();
        FieldFuture::new(async move {
            let services = ctx.data::<Arc<Services>>()?.clone();
            let info = ctx.data::<RequestInfo>()?;
            let mut request = Map::new();
            for (name, value) in ctx.args.iter() {
                let key = names
                    .iter()
                    .find(|(gql, _)| gql.as_str() == name.as_str())
                    .map_or_else(|| name.to_string(), |(_, json)| json.clone());
                let json = value
                    .as_value()
                    .clone()
                    .into_json()
                    .map_err(|e| gql_error(ApiError::bad_request(format!("argument {key}: {e}"))))?;
                request.insert(key, json);
            }
            let caller = info.caller(entry.spec.auth, &services).await.map_err(gql_error)?;
            let out = entry.call(services, caller, request).await.map_err(gql_error)?;
            let body: Value = match &out.body {
                Some(bytes) => serde_json::from_slice(bytes).map_err(|_| gql_error(ApiError::internal()))?,
                None => Value::Bool(true),
            };
            Ok(to_field(Some(&body), &shape))
        })
    })
    .description(format!(
        "{} ({} {}; op `{}`)",
        entry.spec.summary,
        entry.spec.method.as_str().to_uppercase(),
        entry.spec.path,
        entry.spec.name
    ));
    for (_, arg) in args {
        field = field.argument(arg);
    }
    field
}
