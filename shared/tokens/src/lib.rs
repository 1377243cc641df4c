//! JWT access and refresh tokens signed with an asymmetric key set (EdDSA or ES256). Every
//! function that reads tokens verifies them; only `auth` holds a signing key set and signs.

mod claims;
mod keys;

pub use claims::{Claims, TokenKind};
pub use keys::KeySet;

use jsonwebtoken::{Header, Validation};
use redline_core::config::TokenConfig;
use std::time::Duration;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a JWT, unknown `kid`, bad signature, wrong algorithm, `iss`, `aud` or `type`.
    #[error("token invalid")]
    Invalid,
    #[error("token expired")]
    Expired,
    /// Signed with a `kid` this key set does not hold: perhaps a key newer than our cache.
    #[error("token signed with an unknown key")]
    UnknownKey,
    /// Only the `auth` function holds private keys.
    #[error("this function cannot sign tokens")]
    NoSigningKey,
}

pub use redline_core::clock::now_secs;

pub struct Tokens {
    keys: KeySet,
    issuer: String,
    audience: String,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    pub session_max: Duration,
}

/// Whom a token is for.
pub struct Subject<'a> {
    pub user_id: i64,
    pub username: &'a str,
}

/// A signed token and the claims it carries.
pub struct Issued {
    pub token: String,
    pub claims: Claims,
}

impl Tokens {
    pub fn new(keys: KeySet, config: &TokenConfig) -> Self {
        Tokens {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
            session_max: config.session_max,
        }
    }

    pub fn keys(&self) -> &KeySet {
        &self.keys
    }

    /// Signs a token of `kind`; its lifetime is the configured one, capped at `not_after`.
    pub fn issue(
        &self,
        kind: TokenKind,
        subject: &Subject<'_>,
        family: Option<&str>,
        not_after: Option<u64>,
    ) -> Result<Issued, TokenError> {
        self.issue_with_id(
            kind,
            subject,
            family,
            redline_crypto::random::id128(),
            not_after,
        )
    }

    /// As [`Tokens::issue`], with a `jti` chosen by the caller (refresh rotation stores it first).
    pub fn issue_with_id(
        &self,
        kind: TokenKind,
        subject: &Subject<'_>,
        family: Option<&str>,
        jti: String,
        not_after: Option<u64>,
    ) -> Result<Issued, TokenError> {
        let signer = self.keys.current_signer().ok_or(TokenError::NoSigningKey)?;
        let iat = now_secs();
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let mut exp = iat + ttl.as_secs();
        if let Some(cap) = not_after {
            exp = exp.min(cap);
        }
        let claims = Claims {
            sub: subject.user_id.to_string(),
            username: subject.username.to_string(),
            kind,
            iat,
            exp,
            jti,
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            fam: family.map(str::to_string),
        };
        let mut header = Header::new(signer.algorithm);
        header.kid = Some(signer.kid.clone());
        let token = jsonwebtoken::encode(&header, &claims, &signer.encoding)
            .map_err(|_| TokenError::Invalid)?;
        Ok(Issued { token, claims })
    }

    /// Checks in the contract's order: shape, key, signature, `iss`/`aud`/`type`, then `exp`.
    pub fn verify(&self, token: &str, kind: TokenKind) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        let kid = header.kid.as_deref().ok_or(TokenError::Invalid)?;
        let verifier = self.keys.verifier(kid).ok_or(TokenError::UnknownKey)?;
        if header.alg != verifier.algorithm {
            return Err(TokenError::Invalid);
        }
        let mut validation = Validation::new(verifier.algorithm);
        validation.validate_exp = false;
        validation.leeway = 0;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        let data = jsonwebtoken::decode::<Claims>(token, &verifier.decoding, &validation)
            .map_err(|_| TokenError::Invalid)?;
        let claims = data.claims;
        if claims.kind != kind || (kind == TokenKind::Refresh && claims.fam.is_none()) {
            return Err(TokenError::Invalid);
        }
        if now_secs() >= claims.exp {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_core::config::Secret;

    const DEV_KEYS: &str = r#"{"keys":[{"kid":"k1","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEIG7QIsfQR3YOnbQDmTqpTt/sizLchMJFCOe+rX8Wc2o9"}]}"#;
    const OTHER_KEYS: &str = r#"{"keys":[{"kid":"k1","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEIHu4OnU5rBAvUpAcgkz/EsCJUyP8KBcMuNs5TZYhNwKi"}]}"#;

    const ALICE: Subject<'static> = Subject {
        user_id: 7,
        username: "alice",
    };

    fn config(access: u64) -> TokenConfig {
        TokenConfig {
            access_ttl: Duration::from_secs(access),
            refresh_ttl: Duration::from_secs(3600),
            session_max: Duration::from_secs(7200),
            issuer: "redline".into(),
            audience: "redline-api".into(),
            signing_keys: None,
            verification_keys: None,
            key_rotation: None,
        }
    }

    fn tokens(keys: &str, access: u64) -> Tokens {
        Tokens::new(
            KeySet::from_signing(&Secret::new(keys)).unwrap(),
            &config(access),
        )
    }

    #[test]
    fn issued_tokens_verify_and_differ() {
        let tokens = tokens(DEV_KEYS, 900);
        let a = tokens.issue(TokenKind::Access, &ALICE, None, None).unwrap();
        let b = tokens.issue(TokenKind::Access, &ALICE, None, None).unwrap();
        assert_ne!(a.token, b.token, "jti makes every token unique");
        let claims = tokens.verify(&a.token, TokenKind::Access).unwrap();
        assert_eq!(claims.sub, "7");
        assert_eq!(claims.exp - claims.iat, 900);
        assert_eq!(
            tokens.verify(&a.token, TokenKind::Refresh),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn cap_limits_lifetime() {
        let tokens = tokens(DEV_KEYS, 900);
        let capped = tokens
            .issue(TokenKind::Access, &ALICE, None, Some(now_secs() + 10))
            .unwrap();
        assert!(capped.claims.exp - capped.claims.iat <= 10);
    }

    #[test]
    fn foreign_signature_and_garbage_are_invalid() {
        let ours = tokens(DEV_KEYS, 900);
        let theirs = tokens(OTHER_KEYS, 900);
        let forged = theirs.issue(TokenKind::Access, &ALICE, None, None).unwrap();
        assert_eq!(
            ours.verify(&forged.token, TokenKind::Access),
            Err(TokenError::Invalid)
        );
        assert_eq!(
            ours.verify("not.a.jwt", TokenKind::Access),
            Err(TokenError::Invalid)
        );
        assert_eq!(ours.verify("", TokenKind::Access), Err(TokenError::Invalid));
    }

    #[test]
    fn expired_is_reported_after_validity_checks() {
        let tokens = tokens(DEV_KEYS, 900);
        let expired = tokens
            .issue(TokenKind::Access, &ALICE, None, Some(now_secs()))
            .unwrap();
        assert_eq!(
            tokens.verify(&expired.token, TokenKind::Access),
            Err(TokenError::Expired)
        );
    }
}
