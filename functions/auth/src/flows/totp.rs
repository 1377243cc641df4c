//! `POST /api/v1/auth/totp/setup` and `POST /api/v1/auth/totp/enable`.

use super::login::check_login_totp;
use super::State;
use crate::domain::totp;
use redline_accounts::accounts::Accounts;
use redline_accounts::{account_of, as_attempt, authenticate};
use redline_core::error::ApiError;
use redline_core::http::{Input, Reply};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, Default)]
#[serde(default)]
struct SetupBody {
    code: String,
}

pub(super) async fn totp_setup(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: SetupBody = input.body()?;
    let claims = authenticate(state, input.incoming).await?;
    let account = account_of(state, &claims).await?;
    // Replacing an enabled second factor needs that factor: a stolen access token alone must
    // not be able to lock the owner out.
    if account.totp_enabled {
        let subject = format!("user:{}", account.id);
        as_attempt(
            state,
            &subject,
            check_login_totp(state, &account, &body.code),
        )
        .await?;
    }
    let secret = totp::new_secret();
    let issuer = &state.config.auth.totp.issuer;
    let url = totp::otpauth_url(&secret, issuer, &account.username)
        .ok_or_else(|| ApiError::internal("could not build the otpauth URL"))?;
    let cipher = state.data_keys().encrypt("totp", &secret);
    Accounts { db: state.db() }
        .set_totp_pending(account.id, &cipher)
        .await?;
    Ok(Reply::ok(
        json!({ "secret": totp::base32(&secret), "otpauth_url": url }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct EnableBody {
    code: String,
}

pub(super) async fn totp_enable(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: EnableBody = input.body()?;
    let claims = authenticate(state, input.incoming).await?;
    let account = account_of(state, &claims).await?;
    let Some(pending) = account.totp_pending.as_deref() else {
        return Err(ApiError::TotpSetupInvalid);
    };
    let secret = state.decrypt_pii("totp", pending).await?;
    if body.code.trim().is_empty()
        || !totp::verify_once(state.cache(), account.id, &secret, &body.code).await?
    {
        return Err(ApiError::TotpSetupInvalid);
    }
    Accounts { db: state.db() }
        .enable_totp(account.id, &state.data_keys().encrypt("totp", &secret))
        .await?;
    Ok(Reply::ok(json!({ "enabled": true })))
}
