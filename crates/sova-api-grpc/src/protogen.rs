//! Generates the protobuf contract (`proto/sova/v1/sova.proto`) from the operation
//! registry: one unary RPC per operation, its request message from the request's
//! JSON Schema, its reply from the response's, and the two streams (`Events`,
//! `Send`). The committed file is compared with this output by a test (bless with
//! `SOVA_BLESS=1 cargo test -p sova-api-grpc`), and `build.rs` compiles the committed
//! file, so a new operation reaches gRPC without a change in this crate.
//!
//! Mapping (JSON Schema → proto3): integers by `format` (int64 by default), strings,
//! booleans, doubles; `T | null` and non-required scalars → `optional`; arrays →
//! `repeated`; objects with properties → messages (named after their Rust type, or
//! after the field for inline ones); free-form objects → `google.protobuf.Struct`;
//! string enums → `string` (the allowed values are in the field comment); a union of
//! objects whose shared fields agree → one message with every field optional;
//! anything else → `google.protobuf.Value`. Field numbers follow the property order
//! of the schema (alphabetical).

use schemars::SchemaGenerator;
use serde_json::{Map, Value};
use sova_ops::Entry;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write;

/// The protobuf package.
pub const PACKAGE: &str = "sova.v1";
/// The service name inside the package.
pub const SERVICE: &str = "Sova";
/// Where the file lives under `proto/` (and its name in the descriptor pool).
pub const PROTO_FILE: &str = "sova/v1/sova.proto";
/// The streaming RPC names, which unary operations never take.
pub const STREAMS: [&str; 2] = ["Events", "Send"];

/// How an operation's JSON response becomes its reply message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The JSON object is the message.
    Direct,
    /// A JSON array, wrapped as `{"items": [...]}`.
    Items,
    /// Any other JSON, wrapped as `{"value": ...}` (a `google.protobuf.Value`).
    Value,
    /// No body (204): `google.protobuf.Empty`.
    Empty,
}

/// One unary RPC and the operation it calls.
#[derive(Clone)]
pub struct Rpc {
    /// The RPC's name in the service (`CreateChat`).
    pub method: String,
    /// The registry operation it runs.
    pub entry: &'static Entry,
    /// Fully qualified request message name.
    pub request: String,
    /// Fully qualified reply message name.
    pub response: String,
    /// How the JSON response is shaped into the reply.
    pub reply: Reply,
}

/// The generated contract: the proto source and the RPC table the server uses.
pub struct Model {
    /// The unary RPCs, in registry order.
    pub rpcs: Vec<Rpc>,
    /// The request message of `Send` (the `send` operation's request).
    pub send_request: String,
    /// The `.proto` source text.
    pub proto: String,
}

/// A proto identifier for a JSON property name (`2fa_required` → `f_2fa_required`).
pub fn identifier(name: &str) -> String {
    let mut id: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' })
        .collect();
    if !id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        id.insert_str(0, "f_");
    }
    id
}

/// The json_name protobuf derives from a field name (`chat_id` → `chatId`).
pub fn default_json_name(name: &str) -> String {
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// `create_chat` → `CreateChat`.
pub fn camel(name: &str) -> String {
    name.split(['_', '-', '.'])
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The RPC name of an operation (streams keep theirs: `send` is `SendUnary`).
pub fn rpc_name(op: &str) -> String {
    let name = camel(op);
    if STREAMS.contains(&name.as_str()) {
        format!("{name}Unary")
    } else {
        name
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Ty {
    Scalar(&'static str),
    Message(String),
    Repeated(Box<Ty>),
    Map(Box<Ty>),
}

impl Ty {
    fn render(&self) -> String {
        match self {
            Ty::Scalar(s) => (*s).to_owned(),
            Ty::Message(m) => m.clone(),
            Ty::Repeated(t) => format!("repeated {}", t.render()),
            Ty::Map(t) => format!("map<string, {}>", t.render()),
        }
    }
    fn value() -> Ty {
        Ty::Message("google.protobuf.Value".into())
    }
    fn list_safe(&self) -> bool {
        !matches!(self, Ty::Repeated(_) | Ty::Map(_))
    }
}

struct Gen {
    defs: Map<String, Value>,
    /// Def name → its proto type (a message name once generated).
    def_types: HashMap<String, (Ty, bool)>,
    /// Message name → rendered body.
    messages: BTreeMap<String, String>,
    /// Names taken by operation messages and the fixed ones.
    reserved: BTreeSet<String>,
}

fn doc(schema: &Value) -> Option<String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The string values a string enum allows, if `schema` is one.
fn string_enum(schema: &Value) -> Option<Vec<String>> {
    if let Some(c) = schema.get("const").and_then(Value::as_str) {
        return Some(vec![c.to_owned()]);
    }
    if let Some(list) = schema.get("enum").and_then(Value::as_array) {
        return list.iter().map(|v| v.as_str().map(str::to_owned)).collect();
    }
    let branches = schema.get("oneOf").or_else(|| schema.get("anyOf"))?.as_array()?;
    let mut out = Vec::new();
    for b in branches {
        out.extend(string_enum(b)?);
    }
    Some(out)
}

fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.rsplit('/').next()
}

fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// The shape of a schema for comparing union branches: no docs, consts as strings.
fn shape(schema: &Value) -> Value {
    match schema {
        Value::Object(m) => {
            if m.contains_key("const") || m.contains_key("enum") {
                return Value::String("string".into());
            }
            Value::Object(
                m.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "description" | "default" | "examples" | "title"))
                    .map(|(k, v)| (k.clone(), shape(v)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        other => other.clone(),
    }
}

impl Gen {
    fn def(&self, name: &str) -> Value {
        self.defs.get(name).cloned().unwrap_or(Value::Bool(true))
    }

    /// The properties and required names of an object schema (following one `$ref`).
    fn object_props(&self, schema: &Value) -> Option<(Map<String, Value>, Vec<String>)> {
        let mut props = Map::new();
        let mut required = Vec::new();
        if let Some(name) = ref_name(schema) {
            let (p, r) = self.object_props(&self.def(name))?;
            props.extend(p);
            required.extend(r);
        }
        if let Some(p) = schema.get("properties").and_then(Value::as_object) {
            props.extend(p.clone());
        }
        if let Some(r) = schema.get("required").and_then(Value::as_array) {
            required.extend(r.iter().filter_map(|v| v.as_str().map(str::to_owned)));
        }
        if props.is_empty() {
            return None;
        }
        Some((props, required))
    }

    /// One message holding every field of `branches` (all optional), when the
    /// branches are objects and agree on the fields they share.
    fn merged(&self, branches: &[&Value]) -> Option<Map<String, Value>> {
        let mut props = Map::new();
        for b in branches {
            let (p, _) = self.object_props(b)?;
            for (k, v) in p {
                match props.get(&k) {
                    Some(existing) if shape(existing) != shape(&v) => return None,
                    Some(_) => {}
                    None => {
                        props.insert(k, v);
                    }
                }
            }
        }
        Some(props)
    }

    fn def_message_name(&self, def: &str) -> String {
        let mut name = camel(def);
        while self.reserved.contains(&name) {
            name.push_str("Data");
        }
        name
    }

    fn def_type(&mut self, name: &str) -> (Ty, bool) {
        if let Some(t) = self.def_types.get(name) {
            return t.clone();
        }
        let schema = self.def(name);
        let msg = self.def_message_name(name);
        // Registered first so recursive types refer to the message by name.
        self.def_types
            .insert(name.to_owned(), (Ty::Message(msg.clone()), false));
        let t = self.ty(&schema, &msg);
        self.def_types.insert(name.to_owned(), t.clone());
        t
    }

    /// The proto type of `schema` and whether it may be null; `ctx` names a message
    /// made for an inline object.
    fn ty(&mut self, schema: &Value, ctx: &str) -> (Ty, bool) {
        let Some(obj) = schema.as_object() else {
            return (Ty::value(), true);
        };
        if let Some(name) = ref_name(schema)
            && !obj.contains_key("properties")
        {
            let name = name.to_owned();
            return self.def_type(&name);
        }
        if let Some(branches) = obj.get("anyOf").or_else(|| obj.get("oneOf")).and_then(Value::as_array) {
            let nullable = branches.iter().any(is_null);
            let rest: Vec<&Value> = branches.iter().filter(|b| !is_null(b)).collect();
            if let [one] = rest.as_slice() {
                let (t, n) = self.ty(one, ctx);
                return (t, n || nullable);
            }
            if rest.iter().all(|b| string_enum(b).is_some()) {
                return (Ty::Scalar("string"), nullable);
            }
            if let Some(props) = self.merged(&rest) {
                self.message(ctx, &props, &[], doc(schema));
                return (Ty::Message(ctx.to_owned()), nullable);
            }
            return (Ty::value(), true);
        }
        if string_enum(schema).is_some() {
            return (Ty::Scalar("string"), false);
        }
        let (kind, nullable) = match obj.get("type") {
            Some(Value::String(t)) => (t.as_str(), false),
            Some(Value::Array(list)) => {
                let kinds: Vec<&str> = list.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect();
                match kinds.as_slice() {
                    [one] => (*one, kinds.len() < list.len()),
                    _ => return (Ty::value(), true),
                }
            }
            _ if obj.contains_key("properties") => ("object", false),
            _ => return (Ty::value(), true),
        };
        let format = obj.get("format").and_then(Value::as_str).unwrap_or("");
        let t = match kind {
            "string" => Ty::Scalar("string"),
            "boolean" => Ty::Scalar("bool"),
            "number" => Ty::Scalar("double"),
            "integer" => Ty::Scalar(match format {
                "uint64" => "uint64",
                "uint32" | "uint16" | "uint8" => "uint32",
                "int32" | "int16" | "int8" => "int32",
                _ => "int64",
            }),
            "array" => {
                let item = obj.get("items").cloned().unwrap_or(Value::Bool(true));
                let (inner, n) = self.ty(&item, ctx);
                if n || !inner.list_safe() {
                    Ty::Repeated(Box::new(Ty::value()))
                } else {
                    Ty::Repeated(Box::new(inner))
                }
            }
            "object" => match self.object_props(schema) {
                Some((props, required)) => {
                    self.message(ctx, &props, &required, doc(schema));
                    Ty::Message(ctx.to_owned())
                }
                None => match obj.get("additionalProperties") {
                    Some(ap @ Value::Object(_)) => {
                        let (inner, n) = self.ty(ap, &format!("{ctx}Value"));
                        if n || !inner.list_safe() {
                            Ty::Message("google.protobuf.Struct".into())
                        } else {
                            Ty::Map(Box::new(inner))
                        }
                    }
                    _ => Ty::Message("google.protobuf.Struct".into()),
                },
            },
            _ => Ty::value(),
        };
        (t, nullable)
    }

    /// Renders message `name` with `props` (field numbers in property order).
    fn message(&mut self, name: &str, props: &Map<String, Value>, required: &[String], comment: Option<String>) {
        if self.messages.contains_key(name) {
            return;
        }
        // Placeholder first: a recursive reference must not render it twice.
        self.messages.insert(name.to_owned(), String::new());
        let mut body = String::new();
        if let Some(c) = comment {
            let _ = writeln!(body, "// {c}");
        }
        let _ = writeln!(body, "message {name} {{");
        for (i, (field, schema)) in props.iter().enumerate() {
            let (t, nullable) = self.ty(schema, &format!("{name}{}", camel(field)));
            let optional = matches!(t, Ty::Scalar(_)) && (nullable || !required.contains(field));
            let mut note = doc(schema).unwrap_or_default();
            if let Some(values) =
                string_enum(schema).or_else(|| ref_name(schema).map(|r| self.def(r)).and_then(|d| string_enum(&d)))
            {
                let _ = write!(note, " One of: {}.", values.join(", "));
            }
            if !note.trim().is_empty() {
                let _ = writeln!(body, "  // {}", note.trim());
            }
            let label = if optional { "optional " } else { "" };
            // A JSON name that is no proto identifier keeps its spelling as json_name.
            let ident = identifier(field);
            let json_name = if ident == *field {
                String::new()
            } else {
                format!(" [json_name = \"{field}\"]")
            };
            let _ = writeln!(body, "  {label}{} {ident} = {}{json_name};", t.render(), i + 1);
        }
        body.push_str("}\n");
        self.messages.insert(name.to_owned(), body);
    }
}

/// Builds the contract from the registry.
pub fn model() -> Model {
    let mut generator: SchemaGenerator = sova_ops::openapi::generator(false);
    let entries = sova_ops::all();
    let mut schemas = Vec::new();
    for e in entries {
        let request = e.request_schema(&mut generator).to_value();
        let response = e.response_schema(&mut generator).to_value();
        schemas.push((e, request, response));
    }
    let mut reserved: BTreeSet<String> = ["Event", "EventsRequest", "SendAck", "SendError"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    for e in entries {
        reserved.insert(format!("{}Request", camel(e.spec.name)));
        reserved.insert(format!("{}Response", camel(e.spec.name)));
    }
    let mut g = Gen {
        defs: generator.definitions().clone(),
        def_types: HashMap::new(),
        messages: BTreeMap::new(),
        reserved,
    };
    let mut rpcs = Vec::new();
    for (entry, request, response) in &schemas {
        let base = camel(entry.spec.name);
        let req_name = format!("{base}Request");
        let (props, required) = g.object_props(request).unwrap_or_default();
        g.message(&req_name, &props, &required, doc(request));
        let (resp_name, reply) = if entry.spec.status == 204 {
            ("google.protobuf.Empty".to_owned(), Reply::Empty)
        } else {
            let wrapped = format!("{base}Response");
            match g.ty(response, &wrapped) {
                (Ty::Message(m), false) if !m.starts_with("google.") => (m, Reply::Direct),
                (Ty::Repeated(item), _) => {
                    let body = format!(
                        "message {wrapped} {{\n  {} items = 1;\n}}\n",
                        Ty::Repeated(item).render()
                    );
                    g.messages.insert(wrapped.clone(), body);
                    (wrapped, Reply::Items)
                }
                _ => {
                    let body = format!("message {wrapped} {{\n  google.protobuf.Value value = 1;\n}}\n");
                    g.messages.insert(wrapped.clone(), body);
                    (wrapped, Reply::Value)
                }
            }
        };
        let qualify = |m: &str| {
            if m.starts_with("google.") {
                m.to_owned()
            } else {
                format!("{PACKAGE}.{m}")
            }
        };
        rpcs.push(Rpc {
            method: rpc_name(entry.spec.name),
            entry,
            request: qualify(&req_name),
            response: qualify(&resp_name),
            reply,
        });
    }
    let send = rpcs.iter().find(|r| r.entry.spec.name == "send");
    let send_request = send.map_or_else(|| format!("{PACKAGE}.SendRequest"), |r| r.request.clone());
    let ack_message = send
        .map(|r| r.response.trim_start_matches(&format!("{PACKAGE}.")).to_owned())
        .unwrap_or_else(|| "google.protobuf.Struct".into());
    g.messages.insert(
        "EventsRequest".into(),
        "// Resume: events with a seq above `since` are replayed first (then one `synced`).\n\
         message EventsRequest {\n  optional int64 since = 1;\n}\n"
            .into(),
    );
    g.messages.insert(
        "Event".into(),
        "// One push, exactly as the socket transports write it: `json` is the frame\n\
         // (`{\"type\":\"new_message\",…}`), `type` its type, `seq` its position (0 for\n\
         // ephemeral events). After a replay one `synced` event marks the live point.\n\
         message Event {\n  int64 seq = 1;\n  string type = 2;\n  string json = 3;\n}\n"
            .into(),
    );
    g.messages.insert(
        "SendError".into(),
        "// A refused send; the stream goes on.\n\
         message SendError {\n  string code = 1;\n  string message = 2;\n  optional uint64 retry_after = 3;\n  google.protobuf.Struct details = 4;\n}\n"
            .into(),
    );
    g.messages.insert(
        "SendAck".into(),
        format!(
            "// The answer to one SendRequest, in request order: the stored message or the error.\n\
             message SendAck {{\n  {ack_message} message = 1;\n  SendError error = 2;\n}}\n"
        ),
    );
    let proto = render(&rpcs, &send_request, &g.messages);
    Model {
        rpcs,
        send_request,
        proto,
    }
}

fn render(rpcs: &[Rpc], send_request: &str, messages: &BTreeMap<String, String>) -> String {
    let mut out = String::new();
    out.push_str(
        "// GENERATED from the operation registry (sova-ops) by sova-api-grpc; do not edit.\n\
         // Regenerate: SOVA_BLESS=1 cargo test -p sova-api-grpc\n\
         //\n\
         // One unary RPC per operation: the request message carries the same fields as the\n\
         // REST request object (path, query and body together), the reply is the REST body\n\
         // (arrays as `items`, other non-objects as `value`, no body as Empty). Errors are\n\
         // gRPC statuses with a google.rpc.ErrorInfo (reason = the error code, domain \"sova\").\n\
         // Authentication: `authorization: Bearer <token>` metadata.\n\n",
    );
    let _ = writeln!(out, "syntax = \"proto3\";\n\npackage {PACKAGE};\n");
    let all: String = messages.values().cloned().collect();
    let uses = |t: &str| all.contains(t) || rpcs.iter().any(|r| r.response.contains(t));
    if uses("google.protobuf.Empty") {
        out.push_str("import \"google/protobuf/empty.proto\";\n");
    }
    if uses("google.protobuf.Struct") || uses("google.protobuf.Value") {
        out.push_str("import \"google/protobuf/struct.proto\";\n");
    }
    let _ = writeln!(out, "\nservice {SERVICE} {{");
    for r in rpcs {
        let s = &r.entry.spec;
        let _ = writeln!(
            out,
            "  // {} ({} {}; op `{}`)",
            s.summary,
            s.method.as_str().to_uppercase(),
            s.path,
            s.name
        );
        let _ = writeln!(
            out,
            "  rpc {}({}) returns ({});",
            r.method,
            short(&r.request),
            short(&r.response)
        );
    }
    out.push_str(
        "  // Every event of the caller (its chats and itself), live; with `since`, replayed first.\n  \
         rpc Events(EventsRequest) returns (stream Event);\n",
    );
    let _ = writeln!(
        out,
        "  // High-rate sending: one SendAck per request, in order; a refusal does not end the stream.\n  \
         rpc Send(stream {}) returns (stream SendAck);\n}}",
        short(send_request)
    );
    for body in messages.values() {
        out.push('\n');
        out.push_str(body);
    }
    out
}

fn short(name: &str) -> &str {
    name.strip_prefix(&format!("{PACKAGE}.")).unwrap_or(name)
}
