//! The GraphQL schema, built at start-up from the operation registry: every operation
//! read with GET is a `Query` field, every other one a `Mutation` field, named after
//! the operation, with the request object's properties as arguments; the result type
//! comes from the response's JSON Schema. Nothing here names a single operation, so a
//! new one appears without a change in this crate.
//!
//! Mapping (JSON Schema → GraphQL): objects with properties → object types (named
//! after their Rust type; `…Input` for arguments), `int64`/`uint64` → `Int64` (a JSON
//! number), other integers → `Int`, strings and string enums → `String`, booleans,
//! numbers → `Float`, arrays → lists, everything else (free-form objects, unions) →
//! `JSON`. Output fields are nullable (the server may omit what is absent); an
//! argument is non-null when the request requires it.

use crate::resolve::{Shape, op_field, prop_field};
use async_graphql::dynamic::{Field, InputObject, InputValue, Object, Scalar, TypeRef};
use serde_json::{Map, Value};
use sova_ops::{Entry, Method};
use std::collections::{BTreeMap, HashMap};

/// The custom scalars.
pub const JSON: &str = "JSON";
/// A 64-bit integer, as a JSON number.
pub const INT64: &str = "Int64";
/// The registry's chat type (gains the nested `members` field).
pub const CHAT: &str = "Chat";
/// The registry's member type.
pub const MEMBER: &str = "Member";
/// The registry's message type (node of `messages_connection`).
pub const MESSAGE: &str = "Message";

/// A GraphQL name for a JSON property (`2fa_required` → `f_2fa_required`).
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

fn camel(name: &str) -> String {
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

fn doc(schema: &Value) -> Option<String> {
    schema
        .get("description")
        .and_then(Value::as_str)
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "))
}

fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.rsplit('/').next()
}

fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

fn is_string_enum(schema: &Value) -> bool {
    if schema.get("const").is_some_and(Value::is_string) {
        return true;
    }
    if let Some(list) = schema.get("enum").and_then(Value::as_array) {
        return list.iter().all(Value::is_string);
    }
    match schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
    {
        Some(branches) => branches.iter().all(is_string_enum),
        None => false,
    }
}

/// What the registry turns into: the types, and the operation fields by root.
pub struct Parts {
    /// Object types (outputs).
    pub objects: BTreeMap<String, Object>,
    /// Input object types (arguments).
    pub inputs: BTreeMap<String, InputObject>,
    /// `Query` fields.
    pub query: Vec<Field>,
    /// `Mutation` fields.
    pub mutation: Vec<Field>,
    /// The scalars used.
    pub scalars: Vec<Scalar>,
}

struct Builder {
    defs: Map<String, Value>,
    out_defs: HashMap<String, (TypeRef, Shape)>,
    in_defs: HashMap<String, TypeRef>,
    objects: BTreeMap<String, Object>,
    inputs: BTreeMap<String, InputObject>,
}

fn int_type(format: &str) -> &'static str {
    match format {
        "int32" | "uint32" | "int16" | "uint16" | "int8" | "uint8" => TypeRef::INT,
        _ => INT64,
    }
}

impl Builder {
    fn def(&self, name: &str) -> Value {
        self.defs.get(name).cloned().unwrap_or(Value::Bool(true))
    }

    fn props(&self, schema: &Value) -> Option<(Map<String, Value>, Vec<String>)> {
        let mut props = Map::new();
        let mut required = Vec::new();
        if let Some(name) = ref_name(schema) {
            let (p, r) = self.props(&self.def(name))?;
            props.extend(p);
            required.extend(r);
        }
        if let Some(p) = schema.get("properties").and_then(Value::as_object) {
            props.extend(p.clone());
        }
        if let Some(r) = schema.get("required").and_then(Value::as_array) {
            required.extend(r.iter().filter_map(|v| v.as_str().map(str::to_owned)));
        }
        (!props.is_empty()).then_some((props, required))
    }

    /// The scalar kind of a schema (`None` for objects, arrays and unions).
    fn scalar(schema: &Value) -> Option<&'static str> {
        if is_string_enum(schema) {
            return Some(TypeRef::STRING);
        }
        let kind = match schema.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(list)) => {
                let kinds: Vec<&str> = list.iter().filter_map(Value::as_str).filter(|t| *t != "null").collect();
                match kinds.as_slice() {
                    [one] => *one,
                    _ => return Some(JSON),
                }
            }
            _ => return None,
        };
        let format = schema.get("format").and_then(Value::as_str).unwrap_or("");
        match kind {
            "string" => Some(TypeRef::STRING),
            "boolean" => Some(TypeRef::BOOLEAN),
            "number" => Some(TypeRef::FLOAT),
            "integer" => Some(int_type(format)),
            _ => None,
        }
    }

    /// The output type of `schema`; `ctx` names an inline object's type.
    fn out(&mut self, schema: &Value, ctx: &str) -> (TypeRef, Shape) {
        let json = || (TypeRef::named(JSON), Shape::Scalar);
        if !schema.is_object() {
            return json();
        }
        if let Some(name) = ref_name(schema)
            && schema.get("properties").is_none()
        {
            let name = name.to_owned();
            return self.out_def(&name);
        }
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            let rest: Vec<&Value> = branches.iter().filter(|b| !is_null(b)).collect();
            if let [one] = rest.as_slice() {
                return self.out(one, ctx);
            }
            if rest.iter().all(|b| is_string_enum(b)) {
                return (TypeRef::named(TypeRef::STRING), Shape::Scalar);
            }
            return json();
        }
        if let Some(s) = Self::scalar(schema) {
            return (TypeRef::named(s), Shape::Scalar);
        }
        let kind = match schema.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(list)) => list
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or(""),
            _ if schema.get("properties").is_some() => "object",
            _ => "",
        };
        match kind {
            "array" => {
                let item = schema.get("items").cloned().unwrap_or(Value::Bool(true));
                let (t, s) = self.out(&item, ctx);
                (TypeRef::List(Box::new(t)), Shape::List(Box::new(s)))
            }
            "object" => match self.props(schema) {
                Some((props, _)) => {
                    self.object(ctx, &props, doc(schema));
                    (TypeRef::named(ctx), Shape::Object)
                }
                None => json(),
            },
            _ => json(),
        }
    }

    fn out_def(&mut self, name: &str) -> (TypeRef, Shape) {
        if let Some(t) = self.out_defs.get(name) {
            return t.clone();
        }
        let type_name = camel(name);
        // Registered first: recursive types refer to themselves by name.
        self.out_defs
            .insert(name.to_owned(), (TypeRef::named(&type_name), Shape::Object));
        let schema = self.def(name);
        let t = self.out(&schema, &type_name);
        self.out_defs.insert(name.to_owned(), t.clone());
        t
    }

    fn object(&mut self, name: &str, props: &Map<String, Value>, description: Option<String>) {
        if self.objects.contains_key(name) {
            return;
        }
        self.objects.insert(name.to_owned(), Object::new(name));
        let mut object = Object::new(name);
        if let Some(d) = description {
            object = object.description(d);
        }
        for (prop, schema) in props {
            let (ty, shape) = self.out(schema, &format!("{name}{}", camel(prop)));
            let mut field = prop_field(prop, ty, shape);
            if let Some(d) = doc(schema) {
                field = field.description(d);
            }
            object = object.field(field);
        }
        self.objects.insert(name.to_owned(), object);
    }

    /// The (nullable) input type of `schema`.
    fn input(&mut self, schema: &Value, ctx: &str) -> TypeRef {
        if !schema.is_object() {
            return TypeRef::named(JSON);
        }
        if let Some(name) = ref_name(schema)
            && schema.get("properties").is_none()
        {
            let name = name.to_owned();
            if let Some(t) = self.in_defs.get(&name) {
                return t.clone();
            }
            let type_name = format!("{}Input", camel(&name));
            self.in_defs.insert(name.clone(), TypeRef::named(&type_name));
            let t = self.input(&self.def(&name), &type_name);
            self.in_defs.insert(name, t.clone());
            return t;
        }
        if let Some(branches) = schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
        {
            let rest: Vec<&Value> = branches.iter().filter(|b| !is_null(b)).collect();
            if let [one] = rest.as_slice() {
                return self.input(one, ctx);
            }
            if rest.iter().all(|b| is_string_enum(b)) {
                return TypeRef::named(TypeRef::STRING);
            }
            return TypeRef::named(JSON);
        }
        if let Some(s) = Self::scalar(schema) {
            return TypeRef::named(s);
        }
        let kind = schema.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "array" => {
                let item = schema.get("items").cloned().unwrap_or(Value::Bool(true));
                TypeRef::List(Box::new(self.input(&item, ctx)))
            }
            "object" => match self.props(schema) {
                Some((props, required)) => {
                    let name = if ctx.ends_with("Input") {
                        ctx.to_owned()
                    } else {
                        format!("{ctx}Input")
                    };
                    if !self.inputs.contains_key(&name) {
                        self.inputs.insert(name.clone(), InputObject::new(&name));
                        let mut object = InputObject::new(&name);
                        for (prop, s) in &props {
                            let t = self.input(s, &format!("{}{}", name.trim_end_matches("Input"), camel(prop)));
                            let t = if required.contains(prop) && !nullable(s) {
                                TypeRef::NonNull(Box::new(t))
                            } else {
                                t
                            };
                            object = object.field(InputValue::new(identifier(prop), t));
                        }
                        self.inputs.insert(name.clone(), object);
                    }
                    TypeRef::named(name)
                }
                None => TypeRef::named(JSON),
            },
            _ => TypeRef::named(JSON),
        }
    }
}

fn nullable(schema: &Value) -> bool {
    match schema.get("type") {
        Some(Value::Array(list)) => list.iter().any(|t| t == "null"),
        _ => schema
            .get("anyOf")
            .or_else(|| schema.get("oneOf"))
            .and_then(Value::as_array)
            .is_some_and(|b| b.iter().any(is_null)),
    }
}

/// Whether an operation is a query (a read) rather than a mutation.
pub fn is_query(entry: &Entry) -> bool {
    entry.spec.method == Method::Get
}

/// Builds every type and operation field from the registry.
pub fn parts() -> Parts {
    let mut generator = sova_ops::openapi::generator(false);
    let mut schemas = Vec::new();
    for e in sova_ops::all() {
        let request = e.request_schema(&mut generator).to_value();
        let response = e.response_schema(&mut generator).to_value();
        schemas.push((e, request, response));
    }
    let mut b = Builder {
        defs: generator.definitions().clone(),
        out_defs: HashMap::new(),
        in_defs: HashMap::new(),
        objects: BTreeMap::new(),
        inputs: BTreeMap::new(),
    };
    let (mut query, mut mutation) = (Vec::new(), Vec::new());
    for (entry, request, response) in schemas {
        let base = camel(entry.spec.name);
        let (ty, shape) = if entry.spec.status == 204 {
            (TypeRef::named(TypeRef::BOOLEAN), Shape::Done)
        } else {
            b.out(&response, &format!("{base}Result"))
        };
        let mut args = Vec::new();
        if let Some((props, required)) = b.props(&request) {
            for (prop, schema) in &props {
                let t = b.input(schema, &format!("{base}{}", camel(prop)));
                let t = if required.contains(prop) && !nullable(schema) {
                    TypeRef::NonNull(Box::new(t))
                } else {
                    t
                };
                let mut arg = InputValue::new(identifier(prop), t);
                if let Some(d) = doc(schema) {
                    arg = arg.description(d);
                }
                args.push((prop.clone(), arg));
            }
        }
        let field = op_field(entry, ty, shape, args);
        if is_query(entry) {
            query.push(field);
        } else {
            mutation.push(field);
        }
    }
    Parts {
        objects: b.objects,
        inputs: b.inputs,
        query,
        mutation,
        scalars: vec![
            Scalar::new(JSON).description("Any JSON value."),
            Scalar::new(INT64)
                .description("A 64-bit integer (ids, sequence numbers), as a JSON number.")
                .validator(|v| matches!(v, async_graphql::Value::Number(n) if n.is_i64() || n.is_u64())),
        ],
    }
}
