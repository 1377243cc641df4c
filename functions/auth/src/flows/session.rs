//! `POST /api/v1/auth/logout` and `POST /api/v1/auth/refresh`.

use super::login::token_pair;
use super::State;
use crate::domain::sessions::{Rotation, Sessions};
use redline_accounts::{account_of, authenticate, revocations};
use redline_core::error::ApiError;
use redline_core::http::{Input, Reply};
use redline_core::metrics::{self, Metric};
use redline_crypto::random;
use redline_tokens::{Subject, TokenKind};
use serde::Deserialize;
use serde_json::json;

pub(super) async fn logout(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let claims = authenticate(state, input.incoming).await?;
    let account = account_of(state, &claims).await?;
    Sessions { db: state.db() }.revoke_all(account.id).await?;
    revocations::revoke(state.cache(), &claims).await?;
    Ok(Reply::ok(json!({ "success": true })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RefreshBody {
    refresh_token: String,
}

/// Needs no Redis: the family row in PostgreSQL is the whole truth of a session.
pub(super) async fn refresh(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: RefreshBody = input.body()?;
    let presented = body.refresh_token.trim();
    if presented.is_empty() {
        return Err(ApiError::RefreshTokenRequired);
    }
    let claims = state.verify_token(presented, TokenKind::Refresh).await?;
    let tokens = state.tokens();
    let family = claims.fam.as_deref().ok_or(ApiError::TokenInvalid)?;
    let subject = Subject {
        user_id: claims.user_id().ok_or(ApiError::TokenInvalid)?,
        username: &claims.username,
    };
    // The swap of jti in PostgreSQL is the one decisive step; the token is signed after it.
    let next_jti = random::id128();
    let rotation = Sessions { db: state.db() }
        .rotate(family, &claims.jti, &next_jti)
        .await?;
    let family_expires = match rotation {
        Rotation::Rotated { family_expires } => family_expires,
        Rotation::Expired => {
            metrics::count(Metric::TokenRejected);
            return Err(ApiError::TokenExpired);
        }
        Rotation::Revoked => {
            metrics::count(Metric::TokenRejected);
            return Err(ApiError::TokenInvalid);
        }
        Rotation::Reused => {
            metrics::count(Metric::RefreshReuseDetected);
            return Err(ApiError::RefreshTokenReused);
        }
    };
    let refresh = tokens
        .issue_with_id(
            TokenKind::Refresh,
            &subject,
            Some(family),
            next_jti,
            Some(family_expires),
        )
        .map_err(ApiError::internal)?;
    let access = tokens
        .issue(TokenKind::Access, &subject, None, Some(family_expires))
        .map_err(ApiError::internal)?;
    Ok(Reply::ok(token_pair(
        &access.token,
        &refresh.token,
        access.claims.exp - access.claims.iat,
    )))
}
