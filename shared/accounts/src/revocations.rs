//! Revoked access tokens, shared by every instance until the token would have expired anyway.

use redline_core::clock::now_secs;
use redline_stores::cache::{Cache, CacheError};
use redline_tokens::Claims;

pub async fn revoke(cache: &Cache, claims: &Claims) -> Result<(), CacheError> {
    let remaining = claims.exp.saturating_sub(now_secs()).max(1);
    cache
        .query(
            redis::cmd("SET")
                .arg(cache.key(&format!("revoked:{}", claims.jti)))
                .arg(1)
                .arg("EX")
                .arg(remaining),
        )
        .await
}

pub async fn is_revoked(cache: &Cache, jti: &str) -> Result<bool, CacheError> {
    cache
        .query(redis::cmd("EXISTS").arg(cache.key(&format!("revoked:{jti}"))))
        .await
}
