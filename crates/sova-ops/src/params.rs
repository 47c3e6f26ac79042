//! Path and query parameters arrive as strings; requests are typed JSON. Each
//! parameter is converted to the JSON type its request field declares (read once
//! from the request's JSON Schema), so `/api/chats/5` and `{"chat_id":5}` decode the
//! same way and a malformed number is a clear `bad_request`.

use crate::{Entry, all, openapi};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// The JSON type a parameter must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Integer,
    Number,
    Boolean,
    String,
}

/// A parameter that is not of its field's type.
#[derive(Debug, PartialEq, Eq)]
pub struct ParamError {
    pub name: String,
    pub expected: &'static str,
}

impl std::fmt::Display for ParamError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` must be {}", self.name, self.expected)
    }
}

fn classes() -> &'static HashMap<&'static str, HashMap<String, Class>> {
    static CLASSES: OnceLock<HashMap<&'static str, HashMap<String, Class>>> = OnceLock::new();
    CLASSES.get_or_init(|| {
        let mut generator = openapi::generator(false);
        let mut out = HashMap::new();
        for entry in all() {
            let schema = entry.request_schema(&mut generator);
            let defs = generator.definitions().clone();
            let mut fields = HashMap::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (name, prop) in props {
                    fields.insert(name.clone(), class_of(prop, &defs, 0));
                }
            }
            out.insert(entry.spec.name, fields);
        }
        out
    })
}

/// Follows `$ref`s and nullable unions to the underlying scalar type.
fn class_of(schema: &Value, defs: &serde_json::Map<String, Value>, depth: u8) -> Class {
    if depth > 8 {
        return Class::String;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or_default();
        return defs.get(name).map_or(Class::String, |d| class_of(d, defs, depth + 1));
    }
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"integer") {
        return Class::Integer;
    }
    if types.contains(&"number") {
        return Class::Number;
    }
    if types.contains(&"boolean") {
        return Class::Boolean;
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(alts) = schema.get(key).and_then(Value::as_array) {
            // `Option<T>` is `T | null`; a mixed union stays a string.
            let non_null: Vec<&Value> = alts
                .iter()
                .filter(|a| a.get("type") != Some(&Value::from("null")))
                .collect();
            if let [only] = non_null.as_slice() {
                return class_of(only, defs, depth + 1);
            }
        }
    }
    Class::String
}

/// Converts parameter `name` of operation `entry` from its string form.
pub fn coerce_param(entry: &Entry, name: &str, raw: &str) -> Result<Value, ParamError> {
    let class = classes()
        .get(entry.spec.name)
        .and_then(|f| f.get(name))
        .copied()
        .unwrap_or(Class::String);
    let err = |expected| ParamError {
        name: name.to_owned(),
        expected,
    };
    match class {
        Class::Integer => raw
            .trim()
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| err("an integer")),
        Class::Number => raw
            .trim()
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| err("a number")),
        Class::Boolean => match raw.trim() {
            "true" | "1" => Ok(Value::Bool(true)),
            "false" | "0" => Ok(Value::Bool(false)),
            _ => Err(err("true or false")),
        },
        Class::String => Ok(Value::String(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(name: &str) -> &'static Entry {
        all().iter().find(|e| e.spec.name == name).unwrap()
    }

    #[test]
    fn parameters_take_their_field_types() {
        let get = op("get_message");
        assert_eq!(coerce_param(get, "chat_id", "5"), Ok(Value::from(5)));
        assert_eq!(coerce_param(get, "message_id", "7"), Ok(Value::from(7)));
        assert_eq!(
            coerce_param(get, "chat_id", "five").unwrap_err().to_string(),
            "`chat_id` must be an integer"
        );
        let page = op("messages");
        assert_eq!(coerce_param(page, "limit", "20"), Ok(Value::from(20)));
        assert_eq!(coerce_param(page, "before", "3"), Ok(Value::from(3)));
        // Strings stay strings, even when they look like numbers.
        assert_eq!(coerce_param(op("join"), "code", "12345"), Ok(Value::from("12345")));
        assert_eq!(coerce_param(op("react"), "emoji", "👍"), Ok(Value::from("👍")));
        assert_eq!(coerce_param(op("chats"), "cursor", "9:2"), Ok(Value::from("9:2")));
    }
}
