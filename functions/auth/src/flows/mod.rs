//! The `auth` area's routes, one module per flow: captcha, register, login, session (logout and
//! refresh), lock status, TOTP and JWKS. The rules they share live in `crate::domain` and in
//! `redline-accounts`; this module dispatches routes and holds the small helpers every flow uses.

mod captcha;
mod jwks;
mod lock_status;
mod login;
mod register;
mod session;
mod totp;

use crate::domain::captcha::Captchas;
use crate::domain::rate_limit;
use crate::Auth;
use redline_accounts::lockout::Lockout;
use redline_core::error::ApiError;
use redline_core::http::request::Incoming;
use redline_core::http::routes::{RateGroup, RouteId};
use redline_core::http::{Function, Input, RateDecision, Reply};
use redline_core::metrics::{self, Metric};
use redline_core::secrets::Freshness;
use redline_core::Area;

pub use crate::State;

impl Function for Auth {
    const AREA: Area = Area::Auth;

    async fn sync_secrets(&self) -> Freshness {
        self.0.sync_secrets().await
    }

    async fn rate_limit(
        &self,
        group: RateGroup,
        incoming: &Incoming,
    ) -> Result<Option<RateDecision>, ApiError> {
        // A traffic hook's signed invocation is not counted (it never comes from the internet).
        if self.smoke_signed(incoming).is_some() {
            return Ok(None);
        }
        let client_ip = incoming.client_ip.as_str();
        let limit = self.0.config.rate_limits.per_minute(group);
        let decision = rate_limit::check(self.0.cache(), group.name(), client_ip, limit).await;
        match (group, decision) {
            // Refresh needs only PostgreSQL under the contract: its limit must not make Redis a
            // dependency, so it fails open (and says so) while Redis is down.
            (RateGroup::Refresh, Err(error)) => {
                tracing::warn!(error = %error, "refresh rate limit skipped: cache unavailable");
                Ok(None)
            }
            (_, decision) => Ok(Some(decision?)),
        }
    }

    async fn call(&self, route: RouteId, input: &Input<'_>) -> Result<Reply, ApiError> {
        let state = &self.0;
        match route {
            RouteId::Captcha => captcha::captcha(state, input).await,
            RouteId::CaptchaVerify => captcha::captcha_verify(state, input).await,
            RouteId::Register => {
                register::register(state, input, self.smoke_signed(input.incoming)).await
            }
            RouteId::Login => {
                counted_login(login::login(state, input, self.smoke_signed(input.incoming)).await)
            }
            RouteId::Logout => session::logout(state, input).await,
            RouteId::Refresh => session::refresh(state, input).await,
            RouteId::LockStatus => lock_status::lock_status(state, input).await,
            RouteId::TotpSetup => totp::totp_setup(state, input).await,
            RouteId::TotpEnable => totp::totp_enable(state, input).await,
            RouteId::TotpDisable => totp::totp_disable(state, input).await,
            RouteId::Jwks => jwks::jwks(state),
            _ => Err(ApiError::NotFound),
        }
    }
}

/// `LoginSucceeded` for a session started; `LoginFailed` for a refused credential check.
fn counted_login(outcome: Result<Reply, ApiError>) -> Result<Reply, ApiError> {
    match &outcome {
        Ok(_) => metrics::count(Metric::LoginSucceeded),
        Err(ApiError::InvalidCredentials | ApiError::TotpInvalid | ApiError::TotpRequired) => {
            metrics::count(Metric::LoginFailed)
        }
        Err(_) => {}
    }
    outcome
}

fn captchas(state: &State) -> Captchas<'_> {
    Captchas {
        cache: state.cache(),
        config: &state.config.auth.captcha,
    }
}

fn lockout(state: &State) -> Lockout<'_> {
    Lockout {
        cache: state.cache(),
        config: &state.config.auth.lockout,
    }
}

/// Hex of a blind index: how Redis keys and captcha bindings name personal data.
fn index_hex(state: &State, kind: &str, value: &str) -> String {
    crate::domain::login::hex(&state.blind_index().index(kind, value))
}
