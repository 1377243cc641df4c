//! Personal data at rest: AES-256-GCM with versioned keys, and keyed blind indexes.
//!
//! Ciphertext layout: version (4 bytes, big-endian) | nonce (12) | ciphertext and tag.
//! The field name is the associated data, so an e-mail ciphertext cannot pose as a phone.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use base64::Engine;
use redline_core::config::{ConfigError, Secret};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum PiiError {
    #[error("ciphertext is malformed")]
    Malformed,
    #[error("no data key with version {0}")]
    UnknownVersion(u32),
    #[error("ciphertext failed authentication")]
    Authentication,
}

pub struct DataKeys {
    current: u32,
    keys: BTreeMap<u32, LessSafeKey>,
}

/// `{"current": N, "keys": {"N": key}}`, or flat `{"current": N, "N": key, ...}` (the shape
/// Secrets Manager can generate: one generated key beside a template's `current`).
#[derive(serde::Deserialize)]
struct DataKeysJson {
    current: u32,
    #[serde(default)]
    keys: BTreeMap<String, String>,
    #[serde(flatten)]
    flat: BTreeMap<String, serde_json::Value>,
}

impl DataKeysJson {
    fn versions(self) -> Option<BTreeMap<String, String>> {
        let mut all = self.keys;
        for (version, value) in self.flat {
            all.insert(version, value.as_str()?.to_string());
        }
        Some(all)
    }
}

/// 32 bytes written as 64 hex digits (what Secrets Manager's generator can make) or as base64.
fn decode_key(key: &str, text: &str) -> Result<Vec<u8>, ConfigError> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).expect("hex digits"))
            .collect()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| ConfigError::key(key, "is neither 64 hex digits nor base64"))?
    };
    if bytes.len() != 32 {
        return Err(ConfigError::key(key, "must decode to exactly 32 bytes"));
    }
    Ok(bytes)
}

impl DataKeys {
    pub fn from_config(secret: Option<&Secret>) -> Result<Self, ConfigError> {
        const KEY: &str = "crypto.data_keys";
        let secret = secret.ok_or_else(|| ConfigError::key(KEY, "is required"))?;
        let shape = || {
            ConfigError::key(
                KEY,
                r#"must be JSON {"current": N, "N": "<key>", ...} or {"current": N, "keys": {"N": "<key>"}}"#,
            )
        };
        let parsed: DataKeysJson = serde_json::from_str(secret.expose()).map_err(|_| shape())?;
        let current = parsed.current;
        let versions = parsed.versions().ok_or_else(shape)?;
        let mut keys = BTreeMap::new();
        for (version, text) in &versions {
            let version: u32 = version
                .parse()
                .map_err(|_| ConfigError::key(KEY, "key versions must be whole numbers"))?;
            let bytes = decode_key(KEY, text)?;
            let unbound = UnboundKey::new(&AES_256_GCM, &bytes)
                .map_err(|_| ConfigError::key(KEY, "is not an AES-256 key"))?;
            keys.insert(version, LessSafeKey::new(unbound));
        }
        if !keys.contains_key(&current) {
            return Err(ConfigError::key(KEY, "has no key for its current version"));
        }
        Ok(DataKeys { current, keys })
    }

    pub fn current_version(&self) -> u32 {
        self.current
    }

    pub fn encrypt(&self, field: &str, plaintext: &[u8]) -> Vec<u8> {
        let key = &self.keys[&self.current];
        let nonce = super::random::bytes::<NONCE_LEN>();
        let mut sealed = plaintext.to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(field.as_bytes()),
            &mut sealed,
        )
        .expect("AES-GCM sealing of a small buffer cannot fail");
        let mut out = Vec::with_capacity(4 + NONCE_LEN + sealed.len());
        out.extend_from_slice(&self.current.to_be_bytes());
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        out
    }

    pub fn decrypt(&self, field: &str, ciphertext: &[u8]) -> Result<Vec<u8>, PiiError> {
        if ciphertext.len() < 4 + NONCE_LEN + 16 {
            return Err(PiiError::Malformed);
        }
        let version = u32::from_be_bytes(ciphertext[..4].try_into().expect("4 bytes"));
        let key = self
            .keys
            .get(&version)
            .ok_or(PiiError::UnknownVersion(version))?;
        let nonce: [u8; NONCE_LEN] = ciphertext[4..4 + NONCE_LEN].try_into().expect("12 bytes");
        let mut buffer = ciphertext[4 + NONCE_LEN..].to_vec();
        let plain = key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(field.as_bytes()),
                &mut buffer,
            )
            .map_err(|_| PiiError::Authentication)?;
        Ok(plain.to_vec())
    }

    pub fn decrypt_string(&self, field: &str, ciphertext: &[u8]) -> Result<String, PiiError> {
        String::from_utf8(self.decrypt(field, ciphertext)?).map_err(|_| PiiError::Malformed)
    }

    /// True when the ciphertext was sealed under an older key and should be re-encrypted (a
    /// newer one, sealed by an instance that refreshed first, is left alone).
    pub fn is_stale(&self, ciphertext: &[u8]) -> bool {
        ciphertext.len() >= 4
            && u32::from_be_bytes(ciphertext[..4].try_into().expect("4 bytes")) < self.current
    }
}

/// Keyed HMAC-SHA-256 over normalised values: equality lookups without storing plaintext.
pub struct BlindIndex {
    key: hmac::Key,
}

impl BlindIndex {
    pub fn from_config(secret: Option<&Secret>) -> Result<Self, ConfigError> {
        const KEY: &str = "crypto.blind_index_key";
        let secret = secret.ok_or_else(|| ConfigError::key(KEY, "is required"))?;
        let bytes = decode_key(KEY, secret.expose())?;
        Ok(BlindIndex {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    /// `kind` separates domains, so an e-mail and a phone never share an index value.
    pub fn index(&self, kind: &str, normalised: &str) -> Vec<u8> {
        let mut context = hmac::Context::with_key(&self.key);
        context.update(kind.as_bytes());
        context.update(&[0]);
        context.update(normalised.as_bytes());
        context.sign().as_ref().to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "1XCtt3HeVOFdM0LJlcf9FNe3KGAXwF+OMaH+NXFKLNY=";
    const K2: &str = "UT1eYph+o3hPEkBTRPMLNnnjxrkakrNeMTh8wMq8WjM=";

    fn keys(json: String) -> DataKeys {
        DataKeys::from_config(Some(&Secret::new(json))).unwrap()
    }

    #[test]
    fn round_trip_and_field_binding() {
        let keys = keys(format!(r#"{{"current":1,"keys":{{"1":"{K1}"}}}}"#));
        let sealed = keys.encrypt("email", b"a@example.com");
        assert_eq!(keys.decrypt("email", &sealed).unwrap(), b"a@example.com");
        assert!(matches!(
            keys.decrypt("phone", &sealed),
            Err(PiiError::Authentication)
        ));
        assert_ne!(
            sealed,
            keys.encrypt("email", b"a@example.com"),
            "random nonce"
        );
    }

    #[test]
    fn older_versions_stay_readable_and_are_flagged_stale() {
        let old = keys(format!(r#"{{"current":1,"keys":{{"1":"{K1}"}}}}"#));
        let sealed = old.encrypt("email", b"x@example.com");
        let rotated = keys(format!(
            r#"{{"current":2,"keys":{{"1":"{K1}","2":"{K2}"}}}}"#
        ));
        assert_eq!(rotated.decrypt("email", &sealed).unwrap(), b"x@example.com");
        assert!(rotated.is_stale(&sealed));
        assert!(!rotated.is_stale(&rotated.encrypt("email", b"x")));
        let dropped = keys(format!(r#"{{"current":2,"keys":{{"2":"{K2}"}}}}"#));
        assert!(matches!(
            dropped.decrypt("email", &sealed),
            Err(PiiError::UnknownVersion(1))
        ));
    }

    #[test]
    fn flat_hex_keys_as_secrets_manager_generates_them() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let old = keys(
            r#"{"current":1,"keys":{"1":"1XCtt3HeVOFdM0LJlcf9FNe3KGAXwF+OMaH+NXFKLNY="}}"#.into(),
        );
        let sealed = old.encrypt("email", b"a@example.com");
        let flat = keys(format!(
            r#"{{"current":2,"1":"1XCtt3HeVOFdM0LJlcf9FNe3KGAXwF+OMaH+NXFKLNY=","2":"{hex}"}}"#
        ));
        assert_eq!(flat.current_version(), 2);
        assert_eq!(flat.decrypt("email", &sealed).unwrap(), b"a@example.com");
        assert!(flat.is_stale(&sealed));
        // Sealed by an instance that already has version 2: not "stale" to one still on 1.
        assert!(!old.is_stale(&flat.encrypt("email", b"x")));
        assert!(matches!(
            old.decrypt("email", &flat.encrypt("email", b"x")),
            Err(PiiError::UnknownVersion(2))
        ));
        assert!(BlindIndex::from_config(Some(&Secret::new(hex))).is_ok());
    }

    #[test]
    fn bad_key_material_names_the_key() {
        let error = DataKeys::from_config(Some(&Secret::new(
            r#"{"current":1,"keys":{"1":"c2hvcnQ="}}"#,
        )))
        .err()
        .unwrap();
        assert!(error.to_string().contains("crypto.data_keys"));
        let error = BlindIndex::from_config(None).err().unwrap();
        assert!(error.to_string().contains("crypto.blind_index_key"));
    }

    #[test]
    fn blind_index_is_keyed_and_domain_separated() {
        let index = BlindIndex::from_config(Some(&Secret::new(K1))).unwrap();
        let other = BlindIndex::from_config(Some(&Secret::new(K2))).unwrap();
        assert_eq!(index.index("email", "a@b.c"), index.index("email", "a@b.c"));
        assert_ne!(index.index("email", "a@b.c"), index.index("phone", "a@b.c"));
        assert_ne!(index.index("email", "a@b.c"), other.index("email", "a@b.c"));
    }
}
