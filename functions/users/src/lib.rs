//! The `users` area: `GET` and `DELETE /api/v1/users/me`. It verifies tokens with the public key
//! set and never links signing code.

use redline_accounts::accounts::Accounts;
use redline_accounts::identity::{mask_email, mask_phone, require_password};
use redline_accounts::{
    account_of, account_subject, as_attempt, authenticate, revocations, verify_password,
};
use redline_accounts::{AccountState, Verifying};
use redline_core::config::{Config, ConfigError, Layered};
use redline_core::error::ApiError;
use redline_core::http::routes::RouteId;
use redline_core::http::{Function, Input, Reply};
use redline_core::init_error::InitError;
use redline_core::secrets::{Freshness, Reach};
use redline_core::startup::Configured;
use redline_core::Area;
use serde::Deserialize;
use serde_json::json;

/// The users function: the accounts state with the public key set.
pub struct Users(pub AccountState<Verifying>);

pub type State = AccountState<Verifying>;

impl Users {
    /// From a configuration of plain values (tests).
    pub fn build(config: Config) -> Result<Self, ConfigError> {
        Ok(Users(State::build(config)?))
    }

    /// Cold start: fetches its secrets (one batch) and builds the state.
    pub async fn open(layered: Layered, reach: Reach) -> Result<Self, InitError> {
        Ok(Users(State::open(layered, reach).await?))
    }
}

impl Function for Users {
    const AREA: Area = Area::Users;

    async fn sync_secrets(&self) -> Freshness {
        self.0.sync_secrets().await
    }

    async fn call(&self, route: RouteId, input: &Input<'_>) -> Result<Reply, ApiError> {
        match route {
            RouteId::UsersMe => me(&self.0, input).await,
            RouteId::UsersDelete => delete(&self.0, input).await,
            _ => Err(ApiError::NotFound),
        }
    }
}

impl Configured for Users {
    fn config(&self) -> &Config {
        &self.0.config
    }
}

pub async fn me(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
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

pub async fn delete(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: DeleteBody = input.body()?;
    let claims = authenticate(state, input.incoming).await?;
    let account = account_of(state, &claims).await?;
    require_password(&body.password)?;
    // A wrong password here counts against the account's lockout like a failed login, so the
    // route is no password oracle.
    let subject = account_subject(&account);
    as_attempt(
        state,
        &subject,
        verify_password(state, &account, &body.password),
    )
    .await?;
    // Refresh families go with the row (ON DELETE CASCADE); access tokens fail on lookup, so
    // revoking this one too is belt and braces, and its failure must not turn success into 503.
    Accounts { db: state.db() }.delete(account.id).await?;
    if let Err(error) = revocations::revoke(state.cache(), &claims).await {
        tracing::warn!(error = %error, "deleted account's token not revoked");
    }
    Ok(Reply::ok(json!({ "deleted": true })))
}
