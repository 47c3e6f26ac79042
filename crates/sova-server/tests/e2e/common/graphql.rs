//! A GraphQL client for the end-to-end tests that knows no operation: it introspects
//! the served schema, calls an operation's field with the request object as argument
//! literals and selects every field of the result (to a fixed depth), and projects a
//! REST body onto the same selection so the two can be compared.

use serde_json::{Map, Value, json};

const INTROSPECTION: &str =
    "{ __schema { queryType { name } mutationType { name } types { name kind fields { name args { name } type { ...T } } } } }
fragment T on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } }";

/// How deep selections go (the schema's real nesting is shallower).
const DEPTH: usize = 4;

pub struct GraphqlClient {
    url: String,
    http: reqwest::Client,
    /// Type name → (field name → type ref).
    types: Map<String, Value>,
    query: String,
    mutation: String,
}

/// The named type under NON_NULL and LIST wrappers, with whether a list wraps it.
fn named(t: &Value) -> (String, bool) {
    match t["kind"].as_str() {
        Some("NON_NULL") => named(&t["ofType"]),
        Some("LIST") => (named(&t["ofType"]).0, true),
        _ => (t["name"].as_str().unwrap_or_default().to_owned(), false),
    }
}

/// The GraphQL literal of a JSON value.
fn literal(v: &Value) -> String {
    match v {
        Value::Object(o) => {
            let fields: Vec<String> = o.iter().map(|(k, v)| format!("{k}: {}", literal(v))).collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(a) => format!("[{}]", a.iter().map(literal).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// The JSON property behind a GraphQL field name (`f_2fa_required` → `2fa_required`).
fn json_name(field: &str) -> &str {
    match field.strip_prefix("f_") {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => field,
    }
}

impl GraphqlClient {
    pub async fn connect(http_base: &str) -> GraphqlClient {
        let url = format!("{http_base}/graphql");
        let http = reqwest::Client::new();
        let r: Value = http
            .post(&url)
            .json(&json!({"query": INTROSPECTION}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let schema = &r["data"]["__schema"];
        let mut types = Map::new();
        for t in schema["types"].as_array().unwrap() {
            // Fields with arguments on result types (`Chat.members(first)`) are nested
            // resolvers, not part of an operation's answer: the selection leaves them out.
            let fields: Map<String, Value> = t["fields"]
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .filter(|f| {
                            f["args"].as_array().is_none_or(Vec::is_empty)
                                || ["Query", "Mutation"].contains(&t["name"].as_str().unwrap_or(""))
                        })
                        .map(|f| (f["name"].as_str().unwrap().to_owned(), f["type"].clone()))
                        .collect()
                })
                .unwrap_or_default();
            types.insert(
                t["name"].as_str().unwrap().to_owned(),
                json!({"kind": t["kind"], "fields": fields}),
            );
        }
        GraphqlClient {
            url,
            http,
            types,
            query: schema["queryType"]["name"].as_str().unwrap().to_owned(),
            mutation: schema["mutationType"]["name"].as_str().unwrap().to_owned(),
        }
    }

    /// The root (query or mutation) and result type of an operation's field.
    fn field(&self, op: &str) -> (&'static str, String) {
        for (root, keyword) in [(&self.query, "query"), (&self.mutation, "mutation")] {
            if let Some(t) = self.types[root.as_str()]["fields"].get(op) {
                return (keyword, named(t).0);
            }
        }
        panic!("no GraphQL field for operation {op}")
    }

    fn selection(&self, type_name: &str, depth: usize) -> String {
        let t = &self.types[type_name];
        if t["kind"] != "OBJECT" || depth == 0 {
            return String::new();
        }
        let mut parts = Vec::new();
        for (name, ty) in t["fields"].as_object().unwrap() {
            let (inner, _) = named(ty);
            if self.types[inner.as_str()]["kind"] == "OBJECT" {
                if depth > 1 {
                    parts.push(format!("{name} {}", self.selection(&inner, depth - 1)));
                }
            } else {
                parts.push(name.clone());
            }
        }
        format!("{{ {} }}", parts.join(" "))
    }

    /// Calls `op` with `request` as arguments: `{"data": …}` or `{"error": [code, message, details]}`.
    pub async fn call(&self, op: &str, request: &Map<String, Value>, token: &str) -> Value {
        let (keyword, result) = self.field(op);
        let args: Vec<String> = request.iter().map(|(k, v)| format!("{k}: {}", literal(v))).collect();
        let args = if args.is_empty() {
            String::new()
        } else {
            format!("({})", args.join(", "))
        };
        let query = format!("{keyword} {{ {op}{args} {} }}", self.selection(&result, DEPTH));
        let r: Value = self
            .http
            .post(&self.url)
            .bearer_auth(token)
            .json(&json!({"query": query}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match r["errors"].get(0) {
            Some(e) => {
                let ext = &e["extensions"];
                assert!(
                    ext["code"].is_string(),
                    "{op}: an error without extensions.code: {r}\n{query}"
                );
                json!({"error": [ext["code"], e["message"], ext.get("details").cloned().unwrap_or(Value::Null)]})
            }
            None => json!({"data": r["data"][op]}),
        }
    }

    /// A REST body as this client's selection of `op` sees it.
    pub fn project(&self, op: &str, body: &Value) -> Value {
        let (_, result) = self.field(op);
        if result == "Boolean" && body.is_null() {
            return Value::Bool(true);
        }
        self.project_type(&result, body, DEPTH)
    }

    fn project_type(&self, type_name: &str, v: &Value, depth: usize) -> Value {
        if v.is_null() {
            return Value::Null;
        }
        if let Value::Array(items) = v
            && self.types[type_name]["kind"] == "OBJECT"
        {
            return items.iter().map(|x| self.project_type(type_name, x, depth)).collect();
        }
        let t = &self.types[type_name];
        if t["kind"] != "OBJECT" {
            return v.clone();
        }
        let mut out = Map::new();
        for (name, ty) in t["fields"].as_object().unwrap() {
            let (inner, _) = named(ty);
            let nested = self.types[inner.as_str()]["kind"] == "OBJECT";
            if nested && depth <= 1 {
                continue;
            }
            let x = v.get(json_name(name)).cloned().unwrap_or(Value::Null);
            let x = if nested {
                self.project_type(&inner, &x, depth - 1)
            } else {
                x
            };
            out.insert(name.clone(), x);
        }
        Value::Object(out)
    }
}
