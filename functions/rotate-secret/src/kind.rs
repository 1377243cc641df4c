//! Which kind of secret is being rotated, told from the JSON shape of its current value.

use crate::error::Failure;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretKind {
    /// `{"keys": [{"kid", "alg", "private_key"}, ...]}`: the auth function's signing keys (or the
    /// `{"keys": [], ...}` placeholder a deployment starts with).
    SigningKeys,
    /// RDS shape without `masterarn`: the user changes its own password.
    PostgresSingleUser,
    /// RDS shape with `masterarn`: a superuser switches between `<user>` and `<user>_clone`.
    PostgresAlternatingUsers,
}

/// Parses a secret value as JSON without ever quoting it (serde's messages can).
pub fn parse_json(text: &str, version: &str) -> Result<Value, Failure> {
    serde_json::from_str(text).map_err(|_| Failure::shape(version, "not JSON"))
}

pub fn classify(value: &Value, version: &str) -> Result<SecretKind, Failure> {
    let Some(object) = value.as_object() else {
        return Err(Failure::shape(version, "not a JSON object"));
    };
    if let Some(keys) = object.get("keys") {
        let Some(keys) = keys.as_array() else {
            return Err(Failure::shape(version, "`keys` is not an array"));
        };
        let public_only = keys.iter().any(|key| key.get("private_key").is_none());
        if public_only {
            return Err(Failure::shape(
                version,
                "a key set without private keys (a public JWK Set) is derived from the signing \
                 key set and published by its rotation, not rotated itself",
            ));
        }
        return Ok(SecretKind::SigningKeys);
    }
    match object.get("engine").and_then(Value::as_str) {
        Some("postgres") if object.contains_key("masterarn") => {
            Ok(SecretKind::PostgresAlternatingUsers)
        }
        Some("postgres") => Ok(SecretKind::PostgresSingleUser),
        Some(other) => Err(Failure::shape(
            version,
            format!("engine {other} is not supported (postgres only)"),
        )),
        None => Err(Failure::shape(
            version,
            "neither a signing key set (`keys`) nor a database secret (`engine`)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tells_the_kinds_apart() {
        let kind = |v: Value| classify(&v, "AWSCURRENT");
        assert_eq!(
            kind(json!({"keys": [], "bootstrap": "x"})).unwrap(),
            SecretKind::SigningKeys
        );
        assert_eq!(
            kind(json!({"keys": [{"kid": "a", "alg": "EdDSA", "private_key": "k"}]})).unwrap(),
            SecretKind::SigningKeys
        );
        let db = json!({"engine": "postgres", "host": "h", "username": "u", "password": "p"});
        assert_eq!(kind(db.clone()).unwrap(), SecretKind::PostgresSingleUser);
        let mut multi = db;
        multi["masterarn"] = json!("arn:master");
        assert_eq!(kind(multi).unwrap(), SecretKind::PostgresAlternatingUsers);
    }

    #[test]
    fn refuses_public_sets_other_engines_and_strangers() {
        let refused = [
            json!({"keys": [{"kty": "OKP", "kid": "a", "x": "abc"}]}),
            json!({"engine": "mysql", "password": "p"}),
            json!({"password": "hunter2"}),
            json!("hunter2"),
        ];
        for value in refused {
            let error = classify(&value, "AWSCURRENT").unwrap_err().to_string();
            assert!(!error.contains("hunter2"), "{error}");
        }
        let error = parse_json("{\"password\": \"hunter2\"", "AWSCURRENT").unwrap_err();
        assert!(!error.to_string().contains("hunter2"));
    }
}
