//! `GET` and `DELETE /api/v1/users/me`.

use super::{account_of, as_attempt, authenticate, Input};
use crate::crypto::password::Verdict;
use crate::domain::accounts::Accounts;
use crate::domain::identity::{mask_email, mask_phone};
use crate::domain::revocations;
use crate::error::ApiError;
use crate::http::response::Reply;
use serde::Deserialize;
use serde_json::json;

pub async fn me(state: &crate::state::AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    let claims = authenticate(state, input.incoming).await?;
    let account = account_of(state, &claims).await?;
    let email = state
        .decrypt_pii_string("email", &account.email_cipher)
        .await?;
    let phone = match account.phone_cipher.as_deref() {
        Some(cipher) => Some(state.decrypt_pii_string("phone", cipher).await?),
        None => None,
    };
    Ok(Reply::ok(json!({
        "id": account.id,
        "username": account.username,
        "email": mask_email(&email),
        "phone": phone.as_deref().map(mask_phone),
        "totp_enabled": account.totp_enabled,
        "created_at": humantime::format_rfc3339_seconds(account.created_at).to_string(),
    })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DeleteBody {
    password: String,
}

pub async fn delete(state: &crate::state::AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: DeleteBody = input.body()?;
    let claims = authenticate(state, input.incoming).await?;
    let account = account_of(state, &claims).await?;
    if body.password.is_empty() {
        return Err(ApiError::Validation {
            field: "password",
            message: "password is required",
        });
    }
    // A wrong password here counts against the account's lockout like a failed login, so the
    // route is no password oracle.
    let subject = format!("user:{}", account.id);
    as_attempt(state, &subject, async {
        match state
            .passwords
            .verify(&body.password, &account.password_hash)
            .await
        {
            Verdict::Mismatch => Err(ApiError::InvalidCredentials),
            _ => Ok(()),
        }
    })
    .await?;
    // Refresh families go with the row (ON DELETE CASCADE); access tokens fail on lookup, so
    // revoking this one too is belt and braces, and its failure must not turn success into 503.
    Accounts { db: state.db()? }.delete(account.id).await?;
    if let Err(error) = revocations::revoke(state.cache()?, &claims).await {
        tracing::warn!(error = %error, "deleted account's token not revoked");
    }
    Ok(Reply::ok(json!({ "deleted": true })))
}
