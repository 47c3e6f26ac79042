//! A gRPC client for the end-to-end tests, built only from the compiled contract
//! (dynamic messages over a tonic channel): calls an operation by its registry name
//! with the same JSON request object the other transports take, and answers the reply
//! in the REST body's shape.

use prost_reflect::{DescriptorPool, DynamicMessage};
use serde_json::{Map, Value, json};
use sova_api_grpc::codec::DynCodec;
use sova_api_grpc::convert::{from_json, to_json};
use sova_api_grpc::protogen::{Model, Reply, Rpc};
use tonic::transport::Channel;
use tonic_types::StatusExt;

pub struct GrpcClient {
    grpc: tonic::client::Grpc<Channel>,
    pub pool: DescriptorPool,
    pub model: Model,
}

impl GrpcClient {
    pub async fn connect(url: &str) -> GrpcClient {
        let channel = tonic::transport::Endpoint::from_shared(url.to_owned())
            .unwrap()
            .connect()
            .await
            .unwrap();
        GrpcClient {
            grpc: tonic::client::Grpc::new(channel),
            pool: sova_api_grpc::pool().unwrap(),
            model: sova_api_grpc::protogen::model(),
        }
    }

    pub fn rpc(&self, op: &str) -> Rpc {
        self.model
            .rpcs
            .iter()
            .find(|r| r.entry.spec.name == op)
            .cloned()
            .unwrap_or_else(|| panic!("no RPC for {op}"))
    }

    /// Calls `op` with `request`; the reply in the REST body's shape (null for none).
    pub async fn call(&mut self, op: &str, request: &Value, token: Option<&str>) -> Result<Value, tonic::Status> {
        let rpc = self.rpc(op);
        let req_desc = self.pool.get_message_by_name(&rpc.request).unwrap();
        let resp_desc = self.pool.get_message_by_name(&rpc.response).unwrap();
        let msg = from_json(req_desc, request).unwrap_or_else(|e| panic!("{op}: request does not fit: {e}"));
        let mut req = tonic::Request::new(msg);
        if let Some(t) = token {
            req.metadata_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        self.grpc.ready().await.unwrap();
        let path = format!("/sova.v1.Sova/{}", rpc.method).parse().unwrap();
        let reply: DynamicMessage = self.grpc.unary(req, path, DynCodec::new(resp_desc)).await?.into_inner();
        Ok(unshape(rpc.reply, &reply))
    }

    /// Opens the `Events` stream of the holder of `token`, replaying after `since`.
    pub async fn events(
        &mut self,
        since: Option<i64>,
        token: &str,
    ) -> Result<tonic::Streaming<DynamicMessage>, tonic::Status> {
        let req_desc = self.pool.get_message_by_name("sova.v1.EventsRequest").unwrap();
        let event = self.pool.get_message_by_name("sova.v1.Event").unwrap();
        let request = since.map_or_else(|| json!({}), |s| json!({ "since": s }));
        let msg = from_json(req_desc, &request).unwrap();
        let mut req = tonic::Request::new(msg);
        req.metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        self.grpc.ready().await.unwrap();
        let path = "/sova.v1.Sova/Events".parse().unwrap();
        Ok(self
            .grpc
            .server_streaming(req, path, DynCodec::new(event))
            .await?
            .into_inner())
    }

    /// A REST body as gRPC carries it: through the reply message and back.
    pub fn project(&self, op: &str, body: &Value) -> Value {
        let rpc = self.rpc(op);
        let desc = self.pool.get_message_by_name(&rpc.response).unwrap();
        let shaped = match rpc.reply {
            Reply::Empty => return Value::Null,
            Reply::Direct => body.clone(),
            Reply::Items => json!({ "items": body }),
            Reply::Value => json!({ "value": body }),
        };
        let msg = from_json(desc, &shaped).unwrap_or_else(|e| panic!("{op}: REST body does not fit the reply: {e}"));
        unshape(rpc.reply, &msg)
    }
}

fn unshape(reply: Reply, msg: &DynamicMessage) -> Value {
    let mut json = to_json(msg);
    match reply {
        Reply::Empty => Value::Null,
        Reply::Direct => Value::Object(json),
        Reply::Items => json.remove("items").unwrap_or(Value::Null),
        Reply::Value => json.remove("value").unwrap_or(Value::Null),
    }
}

/// `[code, message, details]` of a status, details as ErrorInfo's string map.
pub fn status_error(s: &tonic::Status) -> Value {
    let info = s
        .get_details_error_info()
        .unwrap_or_else(|| panic!("no ErrorInfo in {s:?}"));
    assert_eq!(info.domain, "sova");
    let details: Map<String, Value> = info.metadata.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
    json!([
        info.reason,
        s.message(),
        if details.is_empty() {
            Value::Null
        } else {
            Value::Object(details)
        }
    ])
}

/// REST `details` as ErrorInfo carries them (values as strings).
pub fn details_as_metadata(details: &Value) -> Value {
    match details {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let s = match v {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (k.clone(), Value::String(s))
                })
                .collect(),
        ),
        Value::Null => Value::Null,
        other => json!({ "details": other.to_string() }),
    }
}
