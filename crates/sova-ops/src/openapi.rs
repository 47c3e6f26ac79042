//! The OpenAPI 3.1 document, generated from the registry: one entry per operation
//! (path and query parameters, JSON body, success and error responses, security,
//! `x-socket` and `x-rate-limit`), plus the few routes that are not JSON operations
//! (health, metrics, this document, the 2FA QR image) and the schema of every push
//! event (`components.schemas.Event`). Nothing here is written by hand per route.

use crate::{Auth, Entry, Limit, Method, all};
use schemars::generate::SchemaSettings;
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{Map, Value, json};
use sova_types::ErrorCode;
use std::collections::BTreeMap;

/// A schema generator whose `$ref`s point into `#/components/schemas`;
/// `serialize` describes what the server writes (responses), else what it reads.
pub fn generator(serialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.definitions_path = "/components/schemas".into();
        s.meta_schema = None;
    });
    let settings = if serialize {
        settings.for_serialize()
    } else {
        settings.for_deserialize()
    };
    settings.into_generator()
}

/// The `{name}` segments of a route.
pub fn path_params(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

/// Errors every operation of this kind may answer, besides its own.
fn common_errors(entry: &Entry) -> Vec<ErrorCode> {
    let mut codes = vec![ErrorCode::BadRequest, ErrorCode::Unavailable, ErrorCode::Internal];
    if entry.spec.auth != Auth::Public {
        codes.push(ErrorCode::Unauthorized);
    }
    if entry.spec.limit != Limit::None {
        codes.push(ErrorCode::RateLimited);
    }
    if entry.spec.method.has_body() {
        codes.push(ErrorCode::TooLarge);
    }
    codes
}

fn error_responses(codes: &[ErrorCode]) -> Map<String, Value> {
    let mut by_status: BTreeMap<u16, Vec<&'static str>> = BTreeMap::new();
    for code in codes {
        let list = by_status.entry(code.http_status()).or_default();
        if !list.contains(&code.as_str()) {
            list.push(code.as_str());
        }
    }
    by_status
        .into_iter()
        .map(|(status, names)| {
            (
                status.to_string(),
                json!({
                    "description": format!("error code: {}", names.join(" | ")),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
                }),
            )
        })
        .collect()
}

fn operation(entry: &Entry, requests: &mut SchemaGenerator, responses: &mut SchemaGenerator) -> Value {
    let spec = &entry.spec;
    let request = entry.request_schema(requests);
    let props = request
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let required: Vec<String> = request
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let in_path = path_params(spec.path);
    let mut parameters = Vec::new();
    let mut body = Map::new();
    for (name, schema) in &props {
        let is_required = required.contains(name);
        if in_path.contains(&name.as_str()) {
            parameters.push(json!({"name": name, "in": "path", "required": true, "schema": schema}));
        } else if spec.method.has_body() {
            body.insert(name.clone(), schema.clone());
        } else {
            parameters.push(json!({"name": name, "in": "query", "required": is_required, "schema": schema}));
        }
    }
    let mut op = json!({
        "operationId": spec.name,
        "summary": spec.summary,
        "tags": [spec.tag],
        "x-socket": spec.socket,
        "x-rate-limit": spec.limit.as_str(),
    });
    if !parameters.is_empty() {
        op["parameters"] = Value::Array(parameters);
    }
    if !body.is_empty() {
        let body_required: Vec<&String> = required.iter().filter(|r| body.contains_key(*r)).collect();
        op["requestBody"] = json!({
            "required": !body_required.is_empty(),
            "content": {"application/json": {"schema": {
                "type": "object",
                "properties": body,
                "required": body_required,
            }}},
        });
    }
    let mut codes = common_errors(entry);
    codes.extend_from_slice(spec.errors);
    let mut resp = error_responses(&codes);
    let ok = if spec.status == 204 {
        json!({"description": "done; no body (`data: null` on sockets)"})
    } else {
        json!({
            "description": "success",
            "content": {"application/json": {"schema": entry.response_schema(responses)}},
        })
    };
    resp.insert(spec.status.to_string(), ok);
    if spec.name == "create_chat" {
        // An existing private chat answers 200 instead of 201.
        resp.insert("200".into(), resp["201"].clone());
    }
    op["responses"] = Value::Object(resp);
    op["x-error-codes"] = codes.iter().map(|c| c.as_str()).collect();
    op["security"] = match spec.auth {
        Auth::Session => json!([{"bearerAuth": []}]),
        Auth::Optional => json!([{"bearerAuth": []}, {}]),
        Auth::Public => json!([]),
    };
    op
}

/// A JSON error response listing its codes.
fn err(codes: &str) -> Value {
    json!({"description": format!("error code: {codes}"), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}})
}

/// The streamed file endpoints (served outside the registry; see docs/files.md).
fn file_routes() -> Value {
    let file = json!({"application/json": {"schema": {"$ref": "#/components/schemas/FileInfo"}}});
    let id = json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}]);
    json!({
        "/api/files": {"post": {
            "operationId": "upload_file",
            "summary": "Upload a file: the raw body (`Content-Type`, `X-Filename` percent-encoded UTF-8) or `multipart/form-data` with one part named `file`",
            "tags": ["files"], "security": [{"bearerAuth": []}],
            "parameters": [{"name": "X-Filename", "in": "header", "required": false, "schema": {"type": "string"},
                "description": "The file's name, percent-encoded UTF-8 (raw uploads)"}],
            "requestBody": {"required": true, "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {"schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}, "required": ["file"]}}
            }},
            "responses": {
                "201": {"description": "stored", "content": file},
                "400": err("bad_request"), "401": err("unauthorized"),
                "413": err("too_large | quota_exceeded"),
                "415": err("unsupported_media_type"),
                "500": err("internal"), "503": err("unavailable")
            },
            "x-error-codes": ["bad_request", "unauthorized", "too_large", "quota_exceeded", "unsupported_media_type", "internal", "unavailable"]
        }},
        "/api/files/{id}": {
            "get": {
                "operationId": "download_file",
                "summary": "A file's contents (uploader, or a member of a chat it was posted in): `Range` (206), `ETag`/`If-None-Match` (304), `Content-Disposition`",
                "tags": ["files"], "security": [{"bearerAuth": []}],
                "parameters": id.clone(),
                "responses": {
                    "200": {"description": "the contents, as the stored type", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
                    "206": {"description": "the requested byte range", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}},
                    "304": {"description": "not modified (ETag matches)"},
                    "401": err("unauthorized"), "404": err("not_found"),
                    "416": err("bad_request (range not satisfiable)"),
                    "500": err("internal"), "503": err("unavailable")
                },
                "x-error-codes": ["unauthorized", "not_found", "bad_request", "internal", "unavailable"]
            },
            "delete": {
                "operationId": "delete_file",
                "summary": "Delete one of your uploads: its contents go, and messages carrying it show it as unavailable",
                "tags": ["files"], "security": [{"bearerAuth": []}],
                "parameters": id,
                "responses": {
                    "204": {"description": "deleted"},
                    "401": err("unauthorized"), "404": err("not_found"),
                    "500": err("internal"), "503": err("unavailable")
                },
                "x-error-codes": ["unauthorized", "not_found", "internal", "unavailable"]
            }
        },
        "/api/files/{id}/thumbnail": {
            "get": {
                "operationId": "file_thumbnail",
                "summary": "An image's JPEG preview (longest side 320 px, EXIF orientation applied, no metadata), made by the `files.media` job; same access as the file; 404 for non-images and until it is ready (`blurhash` appears on the file then)",
                "tags": ["files"], "security": [{"bearerAuth": []}],
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "responses": {
                    "200": {"description": "the thumbnail", "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}}},
                    "304": {"description": "not modified (ETag matches)"},
                    "401": err("unauthorized"), "404": err("not_found"),
                    "500": err("internal"), "503": err("unavailable")
                },
                "x-error-codes": ["unauthorized", "not_found", "internal", "unavailable"]
            }
        }
    })
}

/// Resumable uploads: tus 1.0 core + creation (see docs/files.md).
fn upload_routes() -> Value {
    let tus = json!({"name": "Tus-Resumable", "in": "header", "required": true, "schema": {"const": "1.0.0"}});
    let id = json!({"name": "id", "in": "path", "required": true, "schema": {"type": "string"}});
    let view = json!({"application/json": {"schema": {"type": "object", "required": ["id", "offset", "length"], "properties": {
        "id": {"type": "string"}, "offset": {"type": "integer"}, "length": {"type": "integer"},
        "file": {"$ref": "#/components/schemas/FileInfo"}}}}});
    let offsets = "`Upload-Offset`, `Upload-Length`, `Tus-Resumable`; `X-File-Id` once complete";
    json!({
        "/api/uploads": {
            "post": {
                "operationId": "create_upload",
                "summary": "Start a resumable upload (tus creation): `Upload-Length` (required), `Upload-Metadata` (`filename`, `filetype`, base64)",
                "tags": ["files"], "security": [{"bearerAuth": []}],
                "parameters": [tus.clone(),
                    {"name": "Upload-Length", "in": "header", "required": true, "schema": {"type": "integer", "minimum": 0}},
                    {"name": "Upload-Metadata", "in": "header", "required": false, "schema": {"type": "string"}}],
                "responses": {
                    "201": {"description": format!("created: `Location: /api/uploads/{{id}}`, {offsets}"), "content": view.clone()},
                    "400": err("bad_request"), "401": err("unauthorized"), "412": err("bad_request (Tus-Resumable missing)"),
                    "413": err("too_large | quota_exceeded"), "500": err("internal"), "503": err("unavailable")
                },
                "x-error-codes": ["bad_request", "unauthorized", "too_large", "quota_exceeded", "internal", "unavailable"]
            }
        },
        "/api/uploads/{id}": {
            "head": {
                "operationId": "upload_offset", "summary": "Where one's upload stands (tus HEAD)",
                "tags": ["files"], "security": [{"bearerAuth": []}], "parameters": [id.clone()],
                "responses": {"200": {"description": offsets}, "401": {"description": "unauthorized"}, "404": {"description": "no such upload"}}
            },
            "get": {
                "operationId": "upload_status", "summary": "One's upload as JSON; `file` once complete",
                "tags": ["files"], "security": [{"bearerAuth": []}], "parameters": [id.clone()],
                "responses": {"200": {"description": "the upload", "content": view}, "401": err("unauthorized"), "404": err("not_found")},
                "x-error-codes": ["unauthorized", "not_found"]
            },
            "patch": {
                "operationId": "append_upload",
                "summary": "Append bytes at `Upload-Offset` (tus PATCH, `application/offset+octet-stream`); whole 64 KiB chunks are kept if the request breaks off; the last byte turns the upload into a file",
                "tags": ["files"], "security": [{"bearerAuth": []}],
                "parameters": [id, tus, {"name": "Upload-Offset", "in": "header", "required": true, "schema": {"type": "integer", "minimum": 0}}],
                "requestBody": {"required": true, "content": {"application/offset+octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                "responses": {
                    "204": {"description": format!("appended: {offsets}")},
                    "400": err("bad_request"), "401": err("unauthorized"), "404": err("not_found"),
                    "409": err("conflict (`details.offset`: where the upload stands)"),
                    "412": err("bad_request (Tus-Resumable missing)"),
                    "413": err("quota_exceeded"), "415": err("unsupported_media_type"),
                    "500": err("internal"), "503": err("unavailable")
                },
                "x-error-codes": ["bad_request", "unauthorized", "not_found", "conflict", "quota_exceeded", "unsupported_media_type", "internal", "unavailable"]
            }
        }
    })
}

/// Routes served outside the registry (not JSON operations).
fn raw_routes() -> Value {
    let mut routes = fixed_routes();
    if let Some(all) = routes.as_object_mut() {
        for extra in [file_routes(), upload_routes()] {
            if let Some(more) = extra.as_object() {
                all.extend(more.clone());
            }
        }
    }
    routes
}

/// The meta routes and the 2FA QR image.
fn fixed_routes() -> Value {
    json!({
        "/health": {"get": {
            "operationId": "health", "summary": "Health check: 200 when the database answers",
            "tags": ["meta"], "security": [],
            "responses": {
                "200": {"description": "healthy", "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"status": {"type": "string"}}}}}},
                "503": {"description": "error code: unavailable", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}}
            }
        }},
        "/metrics": {"get": {
            "operationId": "metrics", "summary": "Prometheus metrics (text exposition format)",
            "tags": ["meta"], "security": [],
            "responses": {"200": {"description": "metrics", "content": {"text/plain": {"schema": {"type": "string"}}}}}
        }},
        "/api/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document", "tags": ["meta"], "security": [],
            "responses": {"200": {"description": "the OpenAPI 3.1 document", "content": {"application/json": {"schema": {"type": "object"}}}}}
        }},
        "/api/2fa/qr.png": {"get": {
            "operationId": "totp_qr", "summary": "The pending (or active) TOTP secret as a PNG QR code",
            "tags": ["security"], "security": [{"bearerAuth": []}],
            "responses": {
                "200": {"description": "PNG image", "content": {"image/png": {"schema": {"type": "string", "format": "binary"}}}},
                "401": {"description": "error code: unauthorized", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}},
                "404": {"description": "error code: not_found", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}}
            }
        }}
    })
}

fn add_schema<T: JsonSchema>(generator: &mut SchemaGenerator) {
    generator.subschema_for::<T>();
}

/// The whole document.
pub fn document() -> Value {
    let mut requests = generator(false);
    let mut responses = generator(true);
    let mut paths = raw_routes().as_object().cloned().unwrap_or_default();
    for entry in all() {
        let item = paths
            .entry(entry.spec.path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        item[entry.spec.method.as_str()] = operation(entry, &mut requests, &mut responses);
    }
    add_schema::<sova_types::ApiError>(&mut responses);
    add_schema::<sova_types::Event>(&mut responses);
    add_schema::<sova_types::models::FileInfo>(&mut responses);
    let mut schemas = responses.take_definitions(true);
    for (name, schema) in requests.take_definitions(true) {
        schemas.entry(name).or_insert(schema);
    }
    let mut tags: Vec<&str> = all().iter().map(|e| e.spec.tag).collect();
    tags.insert(0, "meta");
    tags.push("files");
    tags.dedup();
    let mut seen = std::collections::HashSet::new();
    tags.retain(|t| seen.insert(*t));
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Sova",
            "version": "1",
            "description": "Sova messenger REST API, generated from the operation registry. Every \
                operation with `x-socket: true` is also a socket op frame: `{\"type\": operationId, \
                \"id\"?, …fields}` answered by `{\"type\":\"result\",\"re\",\"data\"}` with the same \
                body. Errors are `{\"code\",\"message\",\"details\"?}` with the matching status. \
                Non-members get 404 for every chat resource. Push events are \
                `components.schemas.Event`. See docs/protocol.md."
        },
        "servers": [{"url": "http://localhost:8080"}],
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    })
}

/// The document as pretty JSON (what `/api/openapi.json` serves and `docs/openapi.json` holds).
pub fn document_json() -> String {
    serde_json::to_string_pretty(&document()).unwrap_or_default()
}

/// Method names as `(method, path)` pairs of every documented route.
pub fn routes(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            for m in [Method::Get, Method::Post, Method::Put, Method::Patch, Method::Delete] {
                if item.get(m.as_str()).is_some() {
                    out.push((m.as_str().to_owned(), path.clone()));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.json` (what clients and the web client's drift check read) is
    /// exactly what the server serves; `SOVA_BLESS=1 cargo test -p sova-ops` rewrites it.
    #[test]
    fn committed_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let fresh = document_json() + "\n";
        if std::env::var_os("SOVA_BLESS").is_some() {
            std::fs::write(path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == fresh,
            "docs/openapi.json is stale: run `SOVA_BLESS=1 cargo test -p sova-ops` and commit it"
        );
    }

    #[test]
    fn every_operation_is_documented_with_its_parameters() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        for e in all() {
            let op = &doc["paths"][e.spec.path][e.spec.method.as_str()];
            assert_eq!(op["operationId"], e.spec.name);
            assert!(
                op["responses"][e.spec.status.to_string()].is_object(),
                "{}",
                e.spec.name
            );
            for p in path_params(e.spec.path) {
                let params = op["parameters"].as_array().unwrap();
                assert!(
                    params.iter().any(|x| x["name"] == p && x["in"] == "path"),
                    "{} {p}",
                    e.spec.name
                );
            }
        }
        // Every $ref resolves.
        let text = doc.to_string();
        for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = r.split('"').next().unwrap();
            assert!(doc["components"]["schemas"][name].is_object(), "dangling $ref {name}");
        }
        let send = &doc["paths"]["/api/chats/{chat_id}/messages"]["post"];
        assert_eq!(
            send["requestBody"]["content"]["application/json"]["schema"]["properties"]["text"]["type"][0],
            "string"
        );
        let page = &doc["paths"]["/api/chats/{chat_id}/messages"]["get"];
        assert!(
            page["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["name"] == "before" && p["in"] == "query")
        );
        assert!(doc["components"]["schemas"]["Event"].is_object());
    }
}
