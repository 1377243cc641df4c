//! `secretsmanager:<secret-id>` and `secretsmanager:<secret-id>#<json-key>` in configuration
//! strings: finding them in the layered tree and putting the fetched values in their place.

use super::{ConfigError, Secret};
use serde_json::Value;
use std::collections::HashMap;

/// One secret as fetched: its text (a JSON secret's JSON) and its version id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretValue {
    pub text: Secret,
    pub version: String,
}

const PREFIX: &str = "secretsmanager:";

/// One secret, or one key of a JSON secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub secret_id: String,
    pub json_key: Option<String>,
}

impl Reference {
    /// `None` when the string is a plain value. The secret id may be a name or an ARN (whose
    /// colons are part of it); the key follows the last `#`.
    pub fn parse(text: &str) -> Option<Result<Reference, String>> {
        let rest = text.strip_prefix(PREFIX)?;
        let (secret_id, json_key) = match rest.rsplit_once('#') {
            Some((id, key)) => (id, Some(key)),
            None => (rest, None),
        };
        if secret_id.is_empty() {
            return Some(Err(format!("`{text}` names no secret")));
        }
        if json_key.is_some_and(str::is_empty) {
            return Some(Err(format!("`{text}` has an empty key after `#`")));
        }
        Some(Ok(Reference {
            secret_id: secret_id.to_string(),
            json_key: json_key.map(str::to_string),
        }))
    }
}

/// A configuration key whose value is a reference.
#[derive(Debug, Clone)]
pub struct Binding {
    pub key: String,
    pub reference: Reference,
}

/// Every reference in the tree, with the key it sits at.
pub fn collect(tree: &Value) -> Result<Vec<Binding>, ConfigError> {
    let mut found = Vec::new();
    walk(tree, String::new(), &mut |key, text| {
        if let Some(parsed) = Reference::parse(text) {
            let reference = parsed.map_err(|reason| ConfigError::key(&key, reason))?;
            found.push(Binding { key, reference });
        }
        Ok(())
    })?;
    Ok(found)
}

fn walk(
    value: &Value,
    key: String,
    visit: &mut dyn FnMut(String, &str) -> Result<(), ConfigError>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => visit(key, text),
        Value::Object(map) => map.iter().try_for_each(|(name, child)| {
            let child_key = if key.is_empty() {
                name.clone()
            } else {
                format!("{key}.{name}")
            };
            walk(child, child_key, visit)
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, child)| walk(child, format!("{key}[{i}]"), visit)),
        _ => Ok(()),
    }
}

/// The tree with every reference replaced by its value. A JSON key that is a string gives the
/// string; a number or boolean its text; an object or array its JSON text.
pub fn substitute(
    tree: &Value,
    values: &HashMap<String, SecretValue>,
) -> Result<Value, ConfigError> {
    let mut resolved = tree.clone();
    replace(&mut resolved, "", values)?;
    Ok(resolved)
}

fn replace(
    value: &mut Value,
    key: &str,
    values: &HashMap<String, SecretValue>,
) -> Result<(), ConfigError> {
    match value {
        Value::String(text) => {
            if let Some(parsed) = Reference::parse(text) {
                let reference = parsed.map_err(|reason| ConfigError::key(key, reason))?;
                *text = lookup(&reference, key, values)?;
            }
            Ok(())
        }
        Value::Object(map) => map.iter_mut().try_for_each(|(name, child)| {
            let child_key = if key.is_empty() {
                name.clone()
            } else {
                format!("{key}.{name}")
            };
            replace(child, &child_key, values)
        }),
        Value::Array(items) => items
            .iter_mut()
            .enumerate()
            .try_for_each(|(i, child)| replace(child, &format!("{key}[{i}]"), values)),
        _ => Ok(()),
    }
}

fn lookup(
    reference: &Reference,
    key: &str,
    values: &HashMap<String, SecretValue>,
) -> Result<String, ConfigError> {
    let id = &reference.secret_id;
    let secret = values
        .get(id)
        .ok_or_else(|| ConfigError::key(key, format!("secret {id} was not fetched")))?;
    let Some(json_key) = &reference.json_key else {
        return Ok(secret.text.expose().to_string());
    };
    // The parse error would quote the value: say only what is wrong.
    let document: Value = serde_json::from_str(secret.text.expose()).map_err(|_| {
        ConfigError::key(
            key,
            format!("secret {id} is not a JSON object, so it has no key `{json_key}`"),
        )
    })?;
    match document.get(json_key) {
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Null) | None => Err(ConfigError::key(
            key,
            format!("secret {id} has no key `{json_key}`"),
        )),
        Some(other) => Ok(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn value(text: &str) -> SecretValue {
        SecretValue {
            text: Secret::new(text),
            version: "v1".into(),
        }
    }

    #[test]
    fn parses_names_arns_and_keys() {
        let arn = "secretsmanager:arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf#password";
        let parsed = Reference::parse(arn).unwrap().unwrap();
        assert_eq!(
            parsed.secret_id,
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-AbCdEf"
        );
        assert_eq!(parsed.json_key.as_deref(), Some("password"));
        let whole = Reference::parse("secretsmanager:redline/keys")
            .unwrap()
            .unwrap();
        assert_eq!(whole.secret_id, "redline/keys");
        assert_eq!(whole.json_key, None);
        assert!(Reference::parse("plain value").is_none());
        assert!(Reference::parse("secretsmanager:").unwrap().is_err());
        assert!(Reference::parse("secretsmanager:db#").unwrap().is_err());
    }

    #[test]
    fn substitutes_strings_numbers_and_objects() {
        let tree = json!({
            "database": {"host": "secretsmanager:db#host", "port": "secretsmanager:db#port", "user": "app"},
            "crypto": {"data_keys": "secretsmanager:pii#data", "blind": "secretsmanager:blind"}
        });
        let bindings = collect(&tree).unwrap();
        assert_eq!(bindings.len(), 4);
        assert!(bindings.iter().any(|b| b.key == "database.port"));
        let values = HashMap::from([
            ("db".to_string(), value(r#"{"host":"h","port":5432}"#)),
            ("pii".to_string(), value(r#"{"data":{"current":1}}"#)),
            ("blind".to_string(), value("c2VjcmV0")),
        ]);
        let resolved = substitute(&tree, &values).unwrap();
        assert_eq!(resolved["database"]["host"], "h");
        assert_eq!(resolved["database"]["port"], "5432");
        assert_eq!(resolved["database"]["user"], "app");
        assert_eq!(resolved["crypto"]["data_keys"], r#"{"current":1}"#);
        assert_eq!(resolved["crypto"]["blind"], "c2VjcmV0");
    }

    #[test]
    fn a_missing_key_names_the_configuration_key_and_never_the_value() {
        let tree = json!({"database": {"password": "secretsmanager:db#password"}});
        let values = HashMap::from([("db".to_string(), value(r#"{"pass":"hunter2"}"#))]);
        let error = substitute(&tree, &values).unwrap_err().to_string();
        assert!(error.contains("database.password"), "{error}");
        assert!(error.contains("`password`"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        let values = HashMap::from([("db".to_string(), value("hunter2"))]);
        let error = substitute(&tree, &values).unwrap_err().to_string();
        assert!(!error.contains("hunter2"), "{error}");
    }
}
