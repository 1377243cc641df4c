//! `openapi.yaml`, the API's OpenAPI document, as the tests read it.

use crate::runner::repo_root;
use serde_yaml_ng::Value;
use std::path::PathBuf;

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

pub fn path() -> PathBuf {
    repo_root().join("openapi.yaml")
}

pub fn document() -> Value {
    let text = std::fs::read_to_string(path()).expect("openapi.yaml");
    serde_yaml_ng::from_str(&text).expect("openapi.yaml is YAML")
}

/// One operation of the document.
pub struct Operation<'a> {
    /// Upper case, as the route table spells it.
    pub method: String,
    pub path: String,
    pub spec: &'a Value,
}

impl Operation<'_> {
    /// Whether the document says the operation needs the `bearerAuth` scheme.
    pub fn needs_bearer(&self) -> bool {
        self.spec["security"]
            .as_sequence()
            .is_some_and(|s| s.iter().any(|r| r.get("bearerAuth").is_some()))
    }
}

pub fn operations(doc: &Value) -> Vec<Operation<'_>> {
    let paths = doc["paths"].as_mapping().expect("openapi.yaml has paths");
    let mut found = Vec::new();
    for (path, item) in paths {
        let path = path.as_str().expect("paths are strings");
        for method in METHODS {
            if let Some(spec) = item.get(method) {
                found.push(Operation {
                    method: method.to_uppercase(),
                    path: path.to_string(),
                    spec,
                });
            }
        }
    }
    found
}

/// A response as written, or the `components/responses` entry it references.
pub fn resolve_response<'a>(doc: &'a Value, response: &'a Value) -> &'a Value {
    match response.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            &doc["components"]["responses"][name]
        }
        None => response,
    }
}
