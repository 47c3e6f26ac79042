//! Protobuf ⇄ JSON for the registry's JSON dispatch. Requests become the operation's
//! JSON object: fields with presence only when set, others always (so `false` and `0`
//! reach the operation), 64-bit integers as JSON numbers, well-known types
//! (`Struct`, `Value`, `Empty`) as the JSON they stand for. Replies are parsed with
//! prost-reflect's proto3 JSON mapping, ignoring fields the contract does not carry.

use base64::Engine;
use prost_reflect::{DeserializeOptions, DynamicMessage, MapKey, MessageDescriptor, ReflectMessage, Value as PValue};
use serde_json::{Map, Number, Value};

/// The JSON object a request message stands for.
pub fn to_json(msg: &DynamicMessage) -> Map<String, Value> {
    let mut out = Map::new();
    for field in msg.descriptor().fields() {
        if field.supports_presence() && !msg.has_field(&field) {
            continue;
        }
        let value = msg.get_field(&field);
        out.insert(json_key(&field), value_json(&value));
    }
    out
}

/// The JSON property a field stands for: its name, or its explicit `json_name` when
/// the property is no proto identifier.
pub fn json_key(field: &prost_reflect::FieldDescriptor) -> String {
    if field.json_name() == crate::protogen::default_json_name(field.name()) {
        field.name().to_owned()
    } else {
        field.json_name().to_owned()
    }
}

fn number(f: f64) -> Value {
    // google.protobuf.Value carries every number as a double: whole ones go back to
    // integers, so integer fields of the operation accept them.
    if f.fract() == 0.0 && f.abs() < 9.0e15 {
        Value::Number(Number::from(f as i64))
    } else {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}

fn message_json(msg: &DynamicMessage) -> Value {
    let desc = msg.descriptor();
    let field = |name: &str| desc.get_field_by_name(name).map(|f| msg.get_field(&f).into_owned());
    match desc.full_name() {
        "google.protobuf.Struct" => match field("fields") {
            Some(PValue::Map(m)) => Value::Object(
                m.iter()
                    .filter_map(|(k, v)| match k {
                        MapKey::String(k) => Some((k.clone(), value_json(v))),
                        _ => None,
                    })
                    .collect(),
            ),
            _ => Value::Object(Map::new()),
        },
        "google.protobuf.ListValue" => match field("values") {
            Some(PValue::List(l)) => Value::Array(l.iter().map(value_json).collect()),
            _ => Value::Array(Vec::new()),
        },
        "google.protobuf.Value" => {
            let Some(oneof) = desc.oneofs().next() else {
                return Value::Null;
            };
            for f in oneof.fields() {
                if msg.has_field(&f) {
                    let v = msg.get_field(&f);
                    return match (f.name(), v.as_ref()) {
                        ("number_value", PValue::F64(n)) => number(*n),
                        ("null_value", _) => Value::Null,
                        (_, other) => value_json(other),
                    };
                }
            }
            Value::Null
        }
        "google.protobuf.Empty" => Value::Object(Map::new()),
        _ => Value::Object(to_json(msg)),
    }
}

fn value_json(v: &PValue) -> Value {
    match v {
        PValue::Bool(b) => Value::Bool(*b),
        PValue::I32(n) => Value::from(*n),
        PValue::I64(n) => Value::from(*n),
        PValue::U32(n) => Value::from(*n),
        PValue::U64(n) => Value::from(*n),
        PValue::F32(f) => number(f64::from(*f)),
        PValue::F64(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        PValue::String(s) => Value::String(s.clone()),
        PValue::Bytes(b) => Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        PValue::EnumNumber(n) => Value::from(*n),
        PValue::Message(m) => message_json(m),
        PValue::List(l) => Value::Array(l.iter().map(value_json).collect()),
        PValue::Map(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = match k {
                        MapKey::String(s) => s.clone(),
                        MapKey::Bool(b) => b.to_string(),
                        MapKey::I32(n) => n.to_string(),
                        MapKey::I64(n) => n.to_string(),
                        MapKey::U32(n) => n.to_string(),
                        MapKey::U64(n) => n.to_string(),
                    };
                    (key, value_json(v))
                })
                .collect(),
        ),
    }
}

/// The reply message `desc` for an operation's JSON response.
pub fn from_json(desc: MessageDescriptor, json: &Value) -> Result<DynamicMessage, String> {
    let options = DeserializeOptions::new().deny_unknown_fields(false);
    DynamicMessage::deserialize_with_options(desc, json, &options).map_err(|e| e.to_string())
}
