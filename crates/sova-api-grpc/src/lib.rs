//! The gRPC transport (`sova.v1` on `GRPC_PORT`): one unary RPC per registry
//! operation, `Events` (server streaming, resumable with `since`) and `Send`
//! (bidirectional, in-order acks), plus the standard health (`grpc.health.v1`) and
//! reflection (v1 and v1alpha) services. A thin adapter: the contract is generated
//! from the registry ([`protogen`]), compiled from `proto/` at build time, and served
//! with dynamic messages, so a new operation needs no change here.

pub mod codec;
pub mod convert;
pub mod protogen;
mod service;
pub mod status;

pub use service::SovaService;

use prost_reflect::DescriptorPool;
use sova_gateway::Gateway;
use sova_service::Services;
use std::sync::Arc;
use tokio_util::sync::CancellationToken;
use tonic::server::NamedService;

/// The compiled `proto/` files (an encoded `FileDescriptorSet`, imports included).
pub const DESCRIPTOR: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/sova_descriptor.bin"));

/// The descriptor pool of the compiled contract.
pub fn pool() -> Result<DescriptorPool, String> {
    DescriptorPool::decode(DESCRIPTOR).map_err(|e| format!("the compiled proto does not load: {e}"))
}

/// Everything served on the gRPC port, as an axum router (HTTP/2). Health reports
/// SERVING for `""` and `sova.v1.Sova` until `shutdown` fires, then NOT_SERVING.
pub async fn router(
    services: Arc<Services>,
    gateway: Arc<Gateway>,
    shutdown: CancellationToken,
) -> Result<axum::Router, String> {
    let model = protogen::model();
    let pool = pool()?;
    let sova = SovaService::new(&model, &pool, services, gateway, shutdown.clone())?;
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<SovaService>().await;
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    tokio::spawn(async move {
        shutdown.cancelled().await;
        reporter.set_not_serving::<SovaService>().await;
        reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    });
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(DESCRIPTOR)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .build_v1()
        .map_err(|e| e.to_string())?;
    let reflection_alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(DESCRIPTOR)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .map_err(|e| e.to_string())?;
    tracing::debug!(
        service = SovaService::NAME,
        rpcs = model.rpcs.len(),
        "gRPC contract loaded"
    );
    Ok(tonic::service::Routes::new(health)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(sova)
        .into_axum_router())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn proto_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../proto")
            .join(protogen::PROTO_FILE)
    }

    #[test]
    fn committed_proto_is_the_registry_contract() {
        let generated = protogen::model().proto;
        let path = proto_path();
        if std::env::var_os("SOVA_BLESS").is_some() {
            std::fs::write(&path, &generated).unwrap();
            return;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is stale: an operation changed; run SOVA_BLESS=1 cargo test -p sova-api-grpc",
            path.display()
        );
    }

    #[test]
    fn every_operation_is_a_compiled_rpc_with_its_messages() {
        let model = protogen::model();
        let pool = pool().unwrap();
        let service = pool.get_service_by_name("sova.v1.Sova").unwrap();
        assert_eq!(model.rpcs.len(), sova_ops::all().len());
        for entry in sova_ops::all() {
            let name = protogen::rpc_name(entry.spec.name);
            let method = service
                .methods()
                .find(|m| m.name() == name)
                .unwrap_or_else(|| panic!("no RPC for operation {}", entry.spec.name));
            assert!(!method.is_client_streaming() && !method.is_server_streaming());
        }
        let events = service.methods().find(|m| m.name() == "Events").unwrap();
        assert!(events.is_server_streaming() && !events.is_client_streaming());
        let send = service.methods().find(|m| m.name() == "Send").unwrap();
        assert!(send.is_server_streaming() && send.is_client_streaming());
        assert_eq!(send.input().full_name(), model.send_request);
    }

    #[test]
    fn rpc_names_avoid_the_streams() {
        assert_eq!(protogen::rpc_name("create_chat"), "CreateChat");
        assert_eq!(protogen::rpc_name("send"), "SendUnary");
        assert_eq!(protogen::rpc_name("events"), "EventsUnary");
    }

    #[test]
    fn request_json_keeps_zero_values_and_integers() {
        let pool = pool().unwrap();
        let desc = pool.get_message_by_name("sova.v1.SendRequest").unwrap();
        let msg = convert::from_json(desc, &serde_json::json!({"chat_id": 7, "text": "hi"})).unwrap();
        let json = convert::to_json(&msg);
        assert_eq!(json["chat_id"], serde_json::json!(7));
        assert_eq!(json["text"], serde_json::json!("hi"));
        assert!(
            !json.contains_key("reply_to"),
            "unset optional fields stay absent: {json:?}"
        );
    }

    #[test]
    fn error_codes_map_to_status_codes_with_error_info() {
        use tonic_types::StatusExt;
        let e = sova_types::ApiError::rate_limited("slow down", 7);
        let s = status::status(&e);
        assert_eq!(s.code(), tonic::Code::ResourceExhausted);
        let info = s.get_details_error_info().unwrap();
        assert_eq!(info.reason, "rate_limited");
        assert_eq!(info.domain, "sova");
        assert_eq!(
            s.get_details_retry_info().unwrap().retry_delay,
            Some(std::time::Duration::from_secs(7))
        );
        assert_eq!(
            status::status(&sova_types::ApiError::unauthorized("x")).code(),
            tonic::Code::Unauthenticated
        );
    }
}
