//! Route handlers, one module per API area, and what they share: input and bearer checks.

mod auth;
mod greeter;
mod health;
mod users;

pub use health::{run_checks, HealthReport};

use crate::domain::accounts::{Account, Accounts, Lookup};
use crate::domain::lockout::{Attempt, Lockout};
use crate::domain::revocations;
use crate::error::ApiError;
use crate::http::request::{decode, Incoming};
use crate::http::response::Reply;
use crate::http::routes::RouteId;
use crate::state::AppState;
use crate::tokens::{Claims, TokenKind};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// A matched request: the event, its decoded JSON body and its path parameters (raw).
pub struct Input<'a> {
    pub incoming: &'a Incoming,
    pub body: Map<String, Value>,
    pub params: Vec<(String, String)>,
}

impl Input<'_> {
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        decode(&self.body)
    }

    /// The version serving this request: the alias Lambda was invoked through (`live`), else
    /// the published version.
    pub fn version(&self) -> String {
        self.incoming
            .invoked_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(7))
            .map(str::to_string)
            .unwrap_or_else(crate::telemetry::function_version)
    }

    /// A path parameter, percent-decoded (a `+` stays a `+` in a path).
    pub fn param(&self, name: &str) -> String {
        let raw = self
            .params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned()
    }
}

pub async fn call(route: RouteId, state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    match route {
        RouteId::Captcha => auth::captcha(state, input).await,
        RouteId::CaptchaVerify => auth::captcha_verify(state, input).await,
        RouteId::Register => auth::register(state, input).await,
        RouteId::Login => auth::login(state, input).await,
        RouteId::Logout => auth::logout(state, input).await,
        RouteId::Refresh => auth::refresh(state, input).await,
        RouteId::LockStatus => auth::lock_status(state, input).await,
        RouteId::TotpSetup => auth::totp_setup(state, input).await,
        RouteId::TotpEnable => auth::totp_enable(state, input).await,
        RouteId::Jwks => auth::jwks(state),
        RouteId::UsersMe => users::me(state, input).await,
        RouteId::UsersDelete => users::delete(state, input).await,
        RouteId::Hello => greeter::hello(input),
        RouteId::HealthLive => Ok(health::live()),
        RouteId::HealthReady => health::ready(state, input.version()).await,
        RouteId::HealthReport => health::ready(state, input.version()).await,
    }
}

/// The bearer checks, in the contract's order, up to revocation. The caller then loads the
/// account with [`account_of`], which turns a deleted user into `TOKEN_INVALID`.
pub async fn authenticate(state: &AppState, incoming: &Incoming) -> Result<Claims, ApiError> {
    let Some(raw) = incoming.headers.get("authorization") else {
        return Err(ApiError::TokenMissing);
    };
    // Present but not visible ASCII: not a Bearer token, whatever it is.
    let header = raw.to_str().map_err(|_| ApiError::InvalidTokenFormat)?;
    let (scheme, token) = header.trim().split_once(' ').unwrap_or((header.trim(), ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::InvalidTokenFormat);
    }
    let claims = state.verify_token(token, TokenKind::Access).await?;
    if revocations::is_revoked(state.cache()?, &claims.jti).await? {
        return Err(ApiError::TokenInvalid);
    }
    Ok(claims)
}

/// Runs a credential check as one lockout attempt on `subject`: refused while locked, counted
/// before the check (so concurrent requests share `max_attempts`), kept only when the check
/// ends in the contract's counted 401s (`INVALID_CREDENTIALS`, `TOTP_INVALID`).
pub async fn as_attempt<T>(
    state: &AppState,
    subject: &str,
    check: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let lockout = Lockout {
        cache: state.cache()?,
        config: &state.config.auth.lockout,
    };
    let attempt = match lockout.begin(subject).await? {
        Attempt::Locked { unlock_time } => return Err(ApiError::AccountLocked { unlock_time }),
        counted => counted,
    };
    let outcome = check.await;
    match &outcome {
        Ok(_) => lockout.succeeded(subject, attempt).await?,
        Err(ApiError::InvalidCredentials | ApiError::TotpInvalid) => {}
        Err(_) => {
            if let Err(error) = lockout.give_back(subject, attempt).await {
                tracing::warn!(error = %error, "could not uncount an attempt");
            }
        }
    }
    outcome
}

pub async fn account_of(state: &AppState, claims: &Claims) -> Result<Account, ApiError> {
    let id = claims.user_id().ok_or(ApiError::TokenInvalid)?;
    Accounts { db: state.db()? }
        .find(Lookup::Id(id))
        .await?
        .ok_or(ApiError::TokenInvalid)
}
