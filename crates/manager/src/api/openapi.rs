//! `GET /v1/openapi.json`: the API described in OpenAPI 3.1. The document is written by
//! hand (`openapi.json` beside this file: the handlers build their answers as JSON
//! values, so there are no types for a derive to read); the tests below hold it to the
//! router and to the model's serde types so the two cannot drift apart.

use axum::http::header;
use axum::response::IntoResponse;
use std::sync::LazyLock;

/// The document as written.
const DOCUMENT: &str = include_str!("openapi.json");

/// The document with this build's version in `info.version`.
static SERVED: LazyLock<String> = LazyLock::new(|| {
    // The tests check the document parses; should it not, it is served as written
    // rather than not at all.
    let Ok(mut doc) = serde_json::from_str::<serde_json::Value>(DOCUMENT) else {
        return DOCUMENT.to_string();
    };
    doc["info"]["version"] = env!("CARGO_PKG_VERSION").into();
    doc.to_string()
});

/// GET /v1/openapi.json: needs no authentication (the document holds nothing secret).
pub async fn get() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        SERVED.as_str(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use std::collections::BTreeSet;

    const METHODS: [&str; 8] = [
        "get", "put", "post", "delete", "patch", "head", "options", "trace",
    ];

    fn document() -> Value {
        serde_json::from_str(DOCUMENT).expect("openapi.json is JSON")
    }

    /// The index just past the parenthesis closing the one open before `text`.
    fn closing(text: &str) -> usize {
        let mut depth = 1;
        for (i, c) in text.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        return i;
                    }
                }
                _ => {}
            }
        }
        panic!("unbalanced parentheses in router()");
    }

    /// Every (method, path) `router()` serves, read from its source: axum cannot list a
    /// router's routes, and reading the source catches a route added without its entry
    /// in the document.
    fn router_routes() -> BTreeSet<(String, String)> {
        let src = include_str!("mod.rs");
        let body = src
            .split_once("pub fn router(")
            .expect("router() in mod.rs")
            .1;
        let body = &body[..body.find("\n}\n").expect("router() ends")];
        let mut routes = BTreeSet::new();
        for (at, _) in body.match_indices(".route(") {
            let call = &body[at + ".route(".len()..];
            let call = &call[..closing(call)];
            let path = call
                .split('"')
                .nth(1)
                .expect("a route's path is a string literal");
            let handlers = &call[call.find(',').expect("a route has handlers")..];
            let mut found = false;
            for m in METHODS {
                let token = format!("{m}(");
                let named = handlers.match_indices(&token).any(|(i, _)| {
                    !handlers[..i]
                        .chars()
                        .next_back()
                        .is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if named {
                    routes.insert((m.to_string(), path.to_string()));
                    found = true;
                }
            }
            assert!(found, "no method read for route {path}");
        }
        assert!(routes.len() > 10, "router() read: {routes:?}");
        routes
    }

    fn document_routes(doc: &Value) -> BTreeSet<(String, String)> {
        let mut routes = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for m in METHODS {
                if item.get(m).is_some() {
                    routes.insert((m.to_string(), path.clone()));
                }
            }
        }
        routes
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let served = router_routes();
        let documented = document_routes(&document());
        let missing: Vec<_> = served.difference(&documented).collect();
        let extra: Vec<_> = documented.difference(&served).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "routes not in openapi.json: {missing:?}; documented but not routed: {extra:?}"
        );
    }

    /// Every `$ref` in `v` (recursively).
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = document();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        assert!(!found.is_empty());
        for r in found {
            let pointer = r.strip_prefix('#').expect("local references only");
            assert!(doc.pointer(pointer).is_some(), "{r} does not resolve");
        }
    }

    #[test]
    fn operations_authenticate_declare_their_parameters_and_errors() {
        let doc = document();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["security"][0]["basicAuth"], serde_json::json!([]));
        assert_eq!(
            doc["components"]["securitySchemes"]["basicAuth"]["scheme"],
            "basic"
        );
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            let templated: BTreeSet<&str> = path
                .split('/')
                .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
                .collect();
            for m in METHODS {
                let Some(op) = item.get(m) else { continue };
                let id = op["operationId"].as_str().expect("operationId");
                assert!(ids.insert(id.to_string()), "operationId {id} twice");
                let params: Vec<&Value> = item["parameters"]
                    .as_array()
                    .into_iter()
                    .chain(op["parameters"].as_array())
                    .flatten()
                    .filter(|p| p["in"] == "path")
                    .collect();
                let declared: BTreeSet<&str> =
                    params.iter().filter_map(|p| p["name"].as_str()).collect();
                assert_eq!(templated, declared, "{m} {path}: path parameters");
                assert!(params.iter().all(|p| p["required"] == true));
                let responses = op["responses"].as_object().expect("responses");
                assert!(responses.contains_key("200"), "{m} {path}: no 200");
                // Only these need no credentials: the document, and the login.
                let open = ["/v1/openapi.json", "/v1/users/authorize"].contains(&path.as_str());
                if path == "/v1/openapi.json" || op.get("security").is_some() {
                    assert!(open, "{m} {path}: security");
                    assert_eq!(op["security"], serde_json::json!([]), "{m} {path}");
                } else {
                    for code in ["401", "408", "500", "503"] {
                        assert!(responses.contains_key(code), "{m} {path}: no {code}");
                    }
                }
                for (code, r) in responses {
                    if code.starts_with('2') {
                        continue;
                    }
                    let target = r["$ref"].as_str().and_then(|p| doc.pointer(&p[1..]));
                    let schema = &target.unwrap_or(r)["content"]["application/json"]["schema"];
                    assert_eq!(
                        schema["$ref"], "#/components/schemas/Error",
                        "{m} {path} {code}: the JSON error"
                    );
                }
            }
        }
    }

    /// The property names of schema `name`, which refuses unknown fields (as the
    /// model's types do with `deny_unknown_fields`, and as answers are kept from leaking
    /// fields unseen).
    fn closed_properties(doc: &Value, name: &str) -> BTreeSet<String> {
        let schema = &doc["components"]["schemas"][name];
        assert_eq!(schema["additionalProperties"], false, "{name} is closed");
        schema["properties"]
            .as_object()
            .expect("properties")
            .keys()
            .cloned()
            .collect()
    }

    /// A deserializer that only records the field names a derived `Deserialize` of a
    /// struct asks for: every field, optional or not (serializing would skip the ones
    /// left empty).
    struct FieldNames<'a>(&'a mut &'static [&'static str]);

    impl<'de> serde::Deserializer<'de> for FieldNames<'_> {
        type Error = serde::de::value::Error;

        fn deserialize_struct<V: serde::de::Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(serde::de::Error::custom("only the field names were wanted"))
        }

        fn deserialize_any<V: serde::de::Visitor<'de>>(
            self,
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            Err(serde::de::Error::custom("not a struct"))
        }

        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }

    /// Every field name of struct `T` as serde reads it.
    fn fields_of<T: serde::de::DeserializeOwned>() -> BTreeSet<String> {
        let mut fields: &'static [&'static str] = &[];
        let _ = T::deserialize(FieldNames(&mut fields));
        assert!(
            !fields.is_empty(),
            "{} is a struct",
            std::any::type_name::<T>()
        );
        fields.iter().map(|f| f.to_string()).collect()
    }

    /// The schemas of the model's types name exactly the fields serde reads and writes: a
    /// field added to a type without its schema (or the reverse) fails here.
    #[test]
    fn schemas_match_the_model_types() {
        use crate::model::*;
        let doc = document();
        for (schema, fields) in [
            ("Crdb", fields_of::<Crdb>()),
            ("DbConfig", fields_of::<DbConfig>()),
            ("RemovedInstance", fields_of::<RemovedInstance>()),
            ("InstanceInfo", fields_of::<InstanceInfo>()),
            ("DbConfigOverride", fields_of::<DbConfigOverride>()),
            ("ClusterRef", fields_of::<ClusterRef>()),
            ("Credentials", fields_of::<Credentials>()),
            ("DbCa", fields_of::<DbCa>()),
            ("Task", fields_of::<Task>()),
        ] {
            assert_eq!(closed_properties(&doc, schema), fields, "{schema}");
        }
        let mut change = closed_properties(&doc, "DbConfigChange");
        change.insert("port".into());
        assert_eq!(change, fields_of::<DbConfig>(), "DbConfigChange");
    }

    #[test]
    fn the_served_document_carries_the_version() {
        let served: Value = serde_json::from_str(&SERVED).expect("JSON");
        assert_eq!(served["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert_eq!(served["paths"], document()["paths"]);
    }
}
