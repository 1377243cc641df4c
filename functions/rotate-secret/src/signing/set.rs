//! The signing key set as stored in Secrets Manager, and how a rotation changes it: a fresh
//! Ed25519 key in front, the key it replaces behind it (so tokens it signed keep verifying until
//! they expire), nothing older.

use crate::error::Failure;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::Ed25519KeyPair;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use redline_core::config::Secret;
use redline_tokens::KeySet;
use serde::{Deserialize, Serialize};
use std::time::SystemTime;

/// One private key; the `KeySet::from_signing` format.
#[derive(Clone, Serialize, Deserialize)]
pub struct SigningKey {
    pub kid: String,
    pub alg: String,
    /// Base64 PKCS#8 DER.
    pub private_key: String,
}

/// Current key first. Other members of the stored value (the placeholder's `bootstrap`) are
/// dropped on rotation.
#[derive(Clone, Serialize, Deserialize)]
pub struct SigningSet {
    pub keys: Vec<SigningKey>,
}

impl SigningSet {
    pub fn parse(text: &str, version: &str) -> Result<Self, Failure> {
        serde_json::from_str(text).map_err(|_| {
            Failure::shape(
                version,
                r#"a signing key set must be {"keys": [{"kid", "alg", "private_key"}]}"#,
            )
        })
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a key set serialises")
    }

    /// Parses the keys the way the auth function will: a set it refuses must never go live.
    pub fn key_set(&self) -> Result<KeySet, Failure> {
        KeySet::from_signing(&Secret::new(self.to_json())).map_err(|e| Failure::Keys(e.to_string()))
    }

    /// `[new, current key]`: the current key becomes the previous one, older keys go.
    pub fn rotated(&self, new: SigningKey) -> SigningSet {
        let mut keys = vec![new];
        keys.extend(self.keys.first().cloned());
        SigningSet { keys }
    }

    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().map(|key| key.kid.as_str())
    }
}

/// A fresh Ed25519 key from aws-lc's CSPRNG.
pub fn generate_ed25519(kid: String) -> Result<SigningKey, Failure> {
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
        .map_err(|_| Failure::Keys("cannot generate an Ed25519 key".into()))?;
    Ok(SigningKey {
        kid,
        alg: "EdDSA".into(),
        private_key: STANDARD.encode(pkcs8.as_ref()),
    })
}

/// `<YYYY-MM-DD>-<first 8 characters of the token>`: sortable by date, and tied to the
/// rotation that made it, so a retried createSecret could never mint a second kid for one day.
pub fn kid_for(now: SystemTime, token: &str) -> String {
    let date = humantime::format_rfc3339_seconds(now).to_string();
    let prefix: String = token.chars().take(8).collect();
    format!("{}-{prefix}", &date[..10])
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn kids_carry_the_date_and_the_token() {
        let day = UNIX_EPOCH + Duration::from_secs(1_795_478_400 + 3_600); // 2026-11-24T01:00Z
        assert_eq!(kid_for(day, "0123456789abcdef"), "2026-11-24-01234567");
        assert_eq!(kid_for(day, "abc"), "2026-11-24-abc");
    }

    #[test]
    fn rotation_keeps_the_current_key_as_previous_and_drops_older_ones() {
        let placeholder = SigningSet::parse(r#"{"keys":[],"bootstrap":"x"}"#, "c").unwrap();
        let first = placeholder.rotated(generate_ed25519("k1".into()).unwrap());
        assert_eq!(first.kids().collect::<Vec<_>>(), ["k1"]);
        assert!(!first.to_json().contains("bootstrap"));
        let second = first.rotated(generate_ed25519("k2".into()).unwrap());
        let third = second.rotated(generate_ed25519("k3".into()).unwrap());
        assert_eq!(third.kids().collect::<Vec<_>>(), ["k3", "k2"]);
        let keys = third.key_set().unwrap();
        assert_eq!(keys.current_signer().unwrap().kid, "k3");
        assert!(keys.verifier("k2").is_some());
    }

    #[test]
    fn generated_keys_differ() {
        let a = generate_ed25519("a".into()).unwrap();
        let b = generate_ed25519("b".into()).unwrap();
        assert_ne!(a.private_key, b.private_key);
    }
}
