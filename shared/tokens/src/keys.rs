//! Key sets: the `auth` function's private signing keys (current first, then previous), or the
//! public JWK Set every other function verifies with.

use aws_lc_rs::signature::{
    EcdsaKeyPair, Ed25519KeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING,
};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use redline_core::config::{ConfigError, Secret};
use serde::Deserialize;
use serde_json::{json, Value};

pub struct Signer {
    pub kid: String,
    pub algorithm: Algorithm,
    pub encoding: EncodingKey,
}

pub struct Verifier {
    pub kid: String,
    pub algorithm: Algorithm,
    pub decoding: DecodingKey,
}

pub struct KeySet {
    signers: Vec<Signer>,
    verifiers: Vec<Verifier>,
    jwks: Value,
}

#[derive(Deserialize)]
struct PrivateSet {
    keys: Vec<PrivateKey>,
}

#[derive(Deserialize)]
struct PrivateKey {
    kid: String,
    alg: String,
    /// PKCS#8, as base64 DER or PEM.
    private_key: String,
}

const SIGNING: &str = "auth.tokens.signing_keys";
const VERIFYING: &str = "auth.tokens.verification_keys";

fn pkcs8_der(text: &str) -> Result<Vec<u8>, ConfigError> {
    let body: String = text
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    STANDARD
        .decode(body.trim())
        .map_err(|_| ConfigError::key(SIGNING, "a private_key is neither PEM nor base64 DER"))
}

impl KeySet {
    /// Parses the private key set and derives its public half (served as the JWKS).
    pub fn from_signing(secret: &Secret) -> Result<Self, ConfigError> {
        let set: PrivateSet = serde_json::from_str(secret.expose()).map_err(|_| {
            ConfigError::key(
                SIGNING,
                r#"must be JSON {"keys": [{"kid", "alg", "private_key"}]}"#,
            )
        })?;
        if set.keys.is_empty() {
            return Err(ConfigError::key(SIGNING, "holds no key"));
        }
        let mut signers = Vec::new();
        let mut verifiers = Vec::new();
        let mut jwks = Vec::new();
        for key in set.keys {
            let der = pkcs8_der(&key.private_key)?;
            let (algorithm, jwk, decoding) = match key.alg.as_str() {
                "EdDSA" => {
                    let pair = Ed25519KeyPair::from_pkcs8(&der).map_err(|_| {
                        ConfigError::key(
                            SIGNING,
                            format!("key {} is not an Ed25519 PKCS#8 key", key.kid),
                        )
                    })?;
                    let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
                    let decoding = DecodingKey::from_ed_components(&x)
                        .map_err(|_| ConfigError::key(SIGNING, "bad Ed25519 public key"))?;
                    let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": x, "kid": key.kid, "alg": "EdDSA", "use": "sig"});
                    (Algorithm::EdDSA, jwk, decoding)
                }
                "ES256" => {
                    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der)
                        .map_err(|_| {
                            ConfigError::key(
                                SIGNING,
                                format!("key {} is not a P-256 PKCS#8 key", key.kid),
                            )
                        })?;
                    let point = pair.public_key().as_ref();
                    // Uncompressed SEC1 point: 0x04 | x (32) | y (32).
                    let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
                    let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
                    let decoding = DecodingKey::from_ec_components(&x, &y)
                        .map_err(|_| ConfigError::key(SIGNING, "bad P-256 public key"))?;
                    let jwk = json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": key.kid, "alg": "ES256", "use": "sig"});
                    (Algorithm::ES256, jwk, decoding)
                }
                other => {
                    return Err(ConfigError::key(
                        SIGNING,
                        format!("algorithm {other} is not supported (EdDSA or ES256)"),
                    ))
                }
            };
            let encoding = match algorithm {
                Algorithm::EdDSA => EncodingKey::from_ed_der(&der),
                _ => EncodingKey::from_ec_der(&der),
            };
            signers.push(Signer {
                kid: key.kid.clone(),
                algorithm,
                encoding,
            });
            verifiers.push(Verifier {
                kid: key.kid,
                algorithm,
                decoding,
            });
            jwks.push(jwk);
        }
        Ok(KeySet {
            signers,
            verifiers,
            jwks: json!({ "keys": jwks }),
        })
    }

    /// Parses a public JWK Set; private or symmetric keys are refused.
    pub fn from_public(jwks_text: &str) -> Result<Self, ConfigError> {
        let raw: Value = serde_json::from_str(jwks_text)
            .map_err(|_| ConfigError::key(VERIFYING, "must be a JWK Set (JSON)"))?;
        let private_member = raw["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|k| k.get("d").is_some() || k.get("k").is_some());
        if private_member {
            return Err(ConfigError::key(VERIFYING, "must hold public keys only"));
        }
        let set: JwkSet = serde_json::from_value(raw.clone())
            .map_err(|_| ConfigError::key(VERIFYING, "must be a JWK Set"))?;
        let mut verifiers = Vec::new();
        for jwk in &set.keys {
            let kid = jwk
                .common
                .key_id
                .clone()
                .ok_or_else(|| ConfigError::key(VERIFYING, "every key needs a kid"))?;
            let algorithm = match &jwk.algorithm {
                jsonwebtoken::jwk::AlgorithmParameters::OctetKeyPair(_) => Algorithm::EdDSA,
                jsonwebtoken::jwk::AlgorithmParameters::EllipticCurve(_) => Algorithm::ES256,
                _ => {
                    return Err(ConfigError::key(
                        VERIFYING,
                        format!("key {kid} is neither Ed25519 nor P-256"),
                    ))
                }
            };
            let decoding = DecodingKey::from_jwk(jwk)
                .map_err(|_| ConfigError::key(VERIFYING, format!("key {kid} is malformed")))?;
            verifiers.push(Verifier {
                kid,
                algorithm,
                decoding,
            });
        }
        if verifiers.is_empty() {
            // The deployment's placeholder before the first rotation publishes a key: start, and
            // let the first token's unknown kid refetch the set.
            tracing::warn!(
                "{VERIFYING} holds no key yet: no token verifies until one is published"
            );
        }
        Ok(KeySet {
            signers: Vec::new(),
            verifiers,
            jwks: raw,
        })
    }

    pub fn current_signer(&self) -> Option<&Signer> {
        self.signers.first()
    }

    pub fn verifier(&self, kid: &str) -> Option<&Verifier> {
        self.verifiers.iter().find(|v| v.kid == kid)
    }

    /// The public keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> &Value {
        &self.jwks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_public_jwks_without_private_material() {
        let set = KeySet::from_signing(&Secret::new(
            r#"{"keys":[{"kid":"a","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEIG7QIsfQR3YOnbQDmTqpTt/sizLchMJFCOe+rX8Wc2o9"}]}"#,
        ))
        .unwrap();
        let jwks = set.jwks().to_string();
        assert!(jwks.contains(r#""x":"FKT6WqI7XygQ-_DQC65ULdug3Ix-G1QfvRk6SorZggw""#));
        assert!(!jwks.contains("\"d\""));
        let public = KeySet::from_public(&jwks).unwrap();
        assert!(public.verifier("a").is_some());
        assert!(public.current_signer().is_none());
    }

    #[test]
    fn an_empty_public_set_starts_and_verifies_nothing() {
        let set = KeySet::from_public(r#"{"keys":[],"bootstrap":"x7Yq"}"#).unwrap();
        assert!(set.verifier("anything").is_none());
        assert!(KeySet::from_signing(&Secret::new(r#"{"keys":[],"bootstrap":"x7Yq"}"#)).is_err());
    }

    #[test]
    fn refuses_private_members_in_the_public_set() {
        let error = KeySet::from_public(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"x"}]}"#)
            .err()
            .unwrap();
        assert!(error.to_string().contains(VERIFYING));
    }
}
