//! The GraphQL transport at `/graphql`: POST (and GET for queries) runs queries and
//! mutations generated from the operation registry ([`schema`]); a WebSocket upgrade
//! on the same path speaks `graphql-transport-ws` for the `events` subscription, fed
//! by an attached gateway connection (the same pushes, `since` replay and order as a
//! socket). Errors carry the registry's codes in `extensions.code`. Depth and
//! complexity are limited. A thin adapter: no operation is named here. `/graphiql`
//! serves the GraphiQL page ([`graphiql`]). Beyond the operations: Relay cursor
//! connections over the paging operations ([`connection`]) and `Chat.members`,
//! batched by a dataloader ([`loader`]).

pub mod connection;
pub mod graphiql;
pub mod loader;
mod resolve;
pub mod schema;
mod subscribe;

pub use resolve::RequestInfo;

use async_graphql::dynamic::{Object, Schema, Subscription};
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use sova_gateway::Gateway;
use sova_service::Services;
use sova_types::ApiError;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

/// Deepest selection a query may have (GraphiQL's introspection query fits).
pub const MAX_DEPTH: usize = 16;
/// Most fields one query may select.
pub const MAX_COMPLEXITY: usize = 1000;

/// The schema generated from the registry, without its server data (a test checks it
/// builds and holds every operation).
pub fn schema() -> async_graphql::dynamic::SchemaBuilder {
    let mut parts = schema::parts();
    let mut query = Object::new("Query");
    for f in parts.query.into_iter().chain(connection::fields()) {
        query = query.field(f);
    }
    // Nested fields no operation answers, resolved through the dataloader.
    if let Some(chat) = parts.objects.remove(schema::CHAT) {
        parts
            .objects
            .insert(schema::CHAT.to_owned(), chat.field(loader::members_field()));
    }
    let mut mutation = Object::new("Mutation");
    for f in parts.mutation {
        mutation = mutation.field(f);
    }
    let subscription = Subscription::new("Subscription").field(subscribe::events_field());
    let mut builder = Schema::build("Query", Some("Mutation"), Some("Subscription"))
        .register(query)
        .register(mutation)
        .register(subscription)
        .register(subscribe::event_type());
    for node in [schema::MESSAGE, schema::CHAT] {
        for o in connection::types(node) {
            builder = builder.register(o);
        }
    }
    builder = builder.register(connection::page_info());
    for s in parts.scalars {
        builder = builder.register(s);
    }
    for (_, o) in parts.objects {
        builder = builder.register(o);
    }
    for (_, i) in parts.inputs {
        builder = builder.register(i);
    }
    builder.limit_depth(MAX_DEPTH).limit_complexity(MAX_COMPLEXITY)
}

/// The schema with the services and the dataloaders that queries and mutations need
/// (subscriptions need [`build`]'s gateway too).
pub fn with_services(services: Arc<Services>) -> async_graphql::dynamic::SchemaBuilder {
    schema().data(loader::members_loader(services.clone())).data(services)
}

/// The schema with the server's data.
pub fn build(services: Arc<Services>, gateway: Arc<Gateway>, shutdown: CancellationToken) -> Result<Schema, String> {
    with_services(services)
        .data(subscribe::Feed { gateway, shutdown })
        .finish()
        .map_err(|e| e.to_string())
}

#[derive(Clone)]
struct GqlState {
    schema: Schema,
    services: Arc<Services>,
}

/// The `/graphql` route (and `/graphiql` when `GRAPHIQL` allows it: by default in
/// development only), ready to merge into the HTTP router.
pub fn routes(services: Arc<Services>, gateway: Arc<Gateway>, shutdown: CancellationToken) -> Result<Router, String> {
    let graphiql = services.config.graphiql.unwrap_or(!services.config.is_production());
    let schema = build(services.clone(), gateway, shutdown)?;
    let router = Router::new()
        .route("/graphql", get(on_get).post(on_post))
        .with_state(GqlState { schema, services });
    Ok(if graphiql {
        router.merge(graphiql::routes())
    } else {
        router
    })
}

/// The bearer token of an `Authorization` header value.
fn bearer(value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(value) = value else { return Ok(None) };
    value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .map(|t| Some(t.trim().to_owned()))
        .ok_or_else(|| ApiError::unauthorized("Authorization must be 'Bearer <token>'"))
}

fn info(
    state: &GqlState,
    peer: SocketAddr,
    headers: &HeaderMap,
    token: Result<Option<String>, ApiError>,
) -> RequestInfo {
    let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
    let ip = state.services.config.client_ip(peer.ip(), forwarded);
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map_or_else(
            || "graphql".to_owned(),
            |a| format!("graphql {}", a.chars().take(240).collect::<String>()),
        );
    RequestInfo::new(token, ip, agent)
}

fn header_token(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    match headers.get(header::AUTHORIZATION) {
        None => Ok(None),
        Some(v) => bearer(Some(
            v.to_str()
                .map_err(|_| ApiError::unauthorized("malformed Authorization header"))?,
        )),
    }
}

async fn on_post(
    State(state): State<GqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    req: GraphQLRequest,
) -> GraphQLResponse {
    let data = info(&state, peer, &headers, header_token(&headers));
    state.schema.execute(req.into_inner().data(data)).await.into()
}

/// GET: a WebSocket upgrade for subscriptions, else a query in the URL (mutations
/// only by POST, so a link cannot change anything).
async fn on_get(
    State(state): State<GqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
    protocol: Result<GraphQLProtocol, StatusCode>,
    req: Result<GraphQLRequest, async_graphql_axum::rejection::GraphQLRejection>,
) -> Response {
    if let Ok(upgrade) = upgrade {
        let Ok(protocol) = protocol else {
            return (
                StatusCode::BAD_REQUEST,
                "Sec-WebSocket-Protocol must be graphql-transport-ws or graphql-ws",
            )
                .into_response();
        };
        let header_token = header_token(&headers);
        let schema = state.schema.clone();
        let state = state.clone();
        // A subscribe message is a query: the request size limit applies to it too.
        let limit = state.services.config.max_frame_bytes;
        return upgrade
            .max_message_size(limit)
            .max_frame_size(limit)
            .protocols(ALL_WEBSOCKET_PROTOCOLS)
            .on_upgrade(move |socket| {
                GraphQLWebSocket::new(socket, schema, protocol)
                    .on_connection_init(move |payload| async move {
                        // The token may come in connection_init (browsers cannot set
                        // headers on a WebSocket) or on the upgrade request.
                        let from_payload = ["authorization", "Authorization"]
                            .iter()
                            .find_map(|k| payload.get(*k).and_then(|v| v.as_str()).map(str::to_owned));
                        let token = match (from_payload, payload.get("token").and_then(|v| v.as_str())) {
                            (Some(h), _) => bearer(Some(&h)),
                            (None, Some(t)) => Ok(Some(t.to_owned())),
                            (None, None) => header_token,
                        };
                        let mut data = async_graphql::Data::default();
                        data.insert(info(&state, peer, &headers, token));
                        Ok(data)
                    })
                    .serve()
            })
            .into_response();
    }
    let req = match req {
        Ok(r) => r.into_inner(),
        Err(e) => return e.into_response(),
    };
    if !query_only(&req.query) {
        let body = serde_json::json!({"errors": [{"message": "mutations need POST", "extensions": {"code": "method_not_allowed"}}]});
        return (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
    }
    let data = info(&state, peer, &headers, header_token(&headers));
    GraphQLResponse::from(state.schema.execute(req.data(data)).await).into_response()
}

/// Whether a document has only query operations (unparsable ones go on to report
/// their syntax error).
fn query_only(document: &str) -> bool {
    use async_graphql::parser::types::OperationType;
    match async_graphql::parser::parse_query(document) {
        Ok(doc) => doc.operations.iter().all(|(_, op)| op.node.ty == OperationType::Query),
        Err(_) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_operation_is_a_query_or_mutation_field() {
        let parts = schema::parts();
        assert_eq!(parts.query.len() + parts.mutation.len(), sova_ops::all().len());
        let sdl = schema().finish().unwrap().sdl();
        for e in sova_ops::all() {
            let root = if schema::is_query(e) {
                "type Query"
            } else {
                "type Mutation"
            };
            let start = sdl.find(root).unwrap();
            let body = &sdl[start..start + sdl[start..].find("\n}").unwrap()];
            assert!(
                body.contains(&format!("\t{}", schema::identifier(e.spec.name)))
                    || body.contains(&format!("  {}", schema::identifier(e.spec.name))),
                "{} is not a {root} field",
                e.spec.name
            );
        }
        let sub = &sdl[sdl.find("type Subscription").unwrap()..];
        assert!(sub.contains("\tevents(") && sub.contains("since: Int64") && sub.contains("): Event!"));
    }

    #[test]
    fn get_refuses_mutations() {
        assert!(query_only("{ me { username } }"));
        assert!(query_only("query Q { chats { id } }"));
        assert!(!query_only("mutation { logout }"));
    }

    #[test]
    fn identifiers_are_graphql_names() {
        assert_eq!(schema::identifier("2fa_required"), "f_2fa_required");
        assert_eq!(schema::identifier("chat_id"), "chat_id");
    }
}
