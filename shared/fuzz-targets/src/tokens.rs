//! Token verification: any string, against the test configuration's verification keys, as
//! either kind. Without the private key nothing can verify, so every answer must be a refusal
//! (`Invalid`, or `UnknownKey` for a `kid` the set lacks): never claims, never `Expired` (which
//! is only reached past the signature). Input: one byte choosing the kind, then the token.

use redline_core::config::{load_from, ConfigSource};
use redline_tokens::{KeySet, TokenError, TokenKind, Tokens};
use std::collections::HashMap;
use std::sync::OnceLock;

fn verifier() -> &'static Tokens {
    static TOKENS: OnceLock<Tokens> = OnceLock::new();
    TOKENS.get_or_init(|| {
        let vars = HashMap::from([("REDLINE_ENV".to_string(), "test".to_string())]);
        let config = load_from(&ConfigSource::Embedded, &vars).expect("the test configuration");
        let jwks = config
            .auth
            .tokens
            .verification_keys
            .as_deref()
            .expect("the test configuration has verification keys");
        let keys = KeySet::from_public(jwks).expect("the test verification keys parse");
        Tokens::new(keys, &config.auth.tokens)
    })
}

pub fn fuzz(data: &[u8]) {
    let Some((&selector, token)) = data.split_first() else {
        return;
    };
    let kind = if selector % 2 == 0 {
        TokenKind::Access
    } else {
        TokenKind::Refresh
    };
    let token = String::from_utf8_lossy(token);
    match verifier().verify(&token, kind) {
        Err(TokenError::Invalid | TokenError::UnknownKey) => {}
        other => panic!("a token nobody could sign was not refused: {other:?}"),
    }
}
