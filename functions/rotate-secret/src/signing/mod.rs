//! Rotation of the token signing key set. setSecret publishes the public half to the
//! verification-keys secret before the private keys become current, so every verifier knows the
//! new kid before the first token signed with it exists.

mod set;

use crate::error::Failure;
use crate::outcome::Outcome;
use crate::secrets::{SecretStore, Version};
use crate::stages::{CURRENT, PENDING};
use redline_core::config::{Secret, TokenConfig};
use redline_tokens::{KeySet, Subject, TokenKind, Tokens};
use set::{generate_ed25519, kid_for, SigningSet};
use std::time::SystemTime;

pub struct SigningKeys<'a> {
    pub store: &'a SecretStore,
    /// Id of the secret holding the public JWK Set (`VERIFICATION_KEYS_SECRET`).
    pub verification_secret: Option<&'a str>,
    /// Issuer and audience for the test token.
    pub tokens: &'a TokenConfig,
}

/// The pending value: a new key in front of the current one.
pub fn create(current: &Secret, token: &str) -> Result<String, Failure> {
    let current = SigningSet::parse(current.expose(), CURRENT)?;
    if !current.keys.is_empty() {
        // A broken current key must not be carried on as the previous key.
        current.key_set()?;
    }
    let pending = current.rotated(generate_ed25519(kid_for(SystemTime::now(), token))?);
    pending.key_set()?;
    Ok(pending.to_json())
}

impl SigningKeys<'_> {
    /// Publishes the pending set's public keys as the verification secret's current value.
    pub async fn set(&self, pending: &Secret, token: &str) -> Result<Outcome, Failure> {
        let jwks = SigningSet::parse(pending.expose(), PENDING)?
            .key_set()?
            .jwks()
            .to_string();
        let Some(verification_secret) = self.verification_secret else {
            tracing::warn!(
                "VERIFICATION_KEYS_SECRET is not set: the public keys are not published anywhere"
            );
            return Ok(Outcome::NothingToSet);
        };
        // The rotation token as the version id: a retry with the same value is a no-op.
        self.store
            .put(verification_secret, token, &jwks, CURRENT)
            .await?;
        Ok(Outcome::Set)
    }

    /// The pending set signs, and the published keys verify what it signs.
    pub async fn test(&self, pending: &Secret) -> Result<Outcome, Failure> {
        let set = SigningSet::parse(pending.expose(), PENDING)?;
        let keys = set.key_set()?;
        let published = match self.verification_secret {
            Some(id) => self
                .store
                .required_value(id, Version::Stage(CURRENT))
                .await?
                .expose()
                .to_string(),
            None => keys.jwks().to_string(),
        };
        let public = KeySet::from_public(&published)
            .map_err(|e| Failure::Test(format!("the published keys do not parse: {e}")))?;
        if let Some(missing) = set.kids().find(|kid| public.verifier(kid).is_none()) {
            return Err(Failure::Test(format!(
                "the published keys lack key {missing}"
            )));
        }
        let subject = Subject {
            user_id: 0,
            username: "rotation-test",
        };
        let issued = Tokens::new(keys, self.tokens)
            .issue(TokenKind::Access, &subject, None, None)
            .map_err(|e| Failure::Test(format!("the new key cannot sign: {e}")))?;
        Tokens::new(public, self.tokens)
            .verify(&issued.token, TokenKind::Access)
            .map_err(|e| {
                Failure::Test(format!(
                    "a token signed with the new key does not verify against the published keys: {e}"
                ))
            })?;
        Ok(Outcome::Tested)
    }
}
