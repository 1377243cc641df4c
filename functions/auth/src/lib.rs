//! The `auth` area: captcha, register, login, logout, refresh, lock status, TOTP and JWKS. Only
//! this function holds the private signing key set and links the captcha renderer.
//!
//! Read `flows` (one module per route family) after `domain` (captchas, login rules, refresh
//! families, TOTP, rate limits); the accounts rules shared with `users` are `redline-accounts`.

pub mod domain;
mod flows;

use redline_accounts::state::required;
use redline_accounts::{AccountState, KeyKind};
use redline_core::config::{Config, ConfigError, Layered, TokenConfig};
use redline_core::http::request::Incoming;
use redline_core::init_error::InitError;
use redline_core::secrets::Reach;
use redline_core::startup::Configured;
use redline_core::Area;
use redline_crypto::smoke::SmokeAccount;
use redline_tokens::KeySet;

/// The private key set: signs tokens (and verifies them with every key it holds).
pub enum Signing {}

impl KeyKind for Signing {
    const AREA: Area = Area::Auth;

    fn key_set(config: &TokenConfig) -> Result<KeySet, ConfigError> {
        let secret = config
            .signing_keys
            .as_ref()
            .ok_or_else(|| required("auth.tokens.signing_keys"))?;
        KeySet::from_signing(secret)
    }
}

pub type State = AccountState<Signing>;

/// The auth function: the accounts state with the signing key set, and the traffic hooks'
/// smoke account when the configuration has its secret.
pub struct Auth(pub State, Option<SmokeAccount>);

impl Auth {
    /// Warms the password hasher's dummy hash off the request path (see `PasswordHasherConfig`).
    pub fn new(state: State) -> Self {
        state.passwords.warm_up();
        let smoke = state
            .config
            .smoke
            .secret
            .as_ref()
            .map(|secret| SmokeAccount::derive(secret.expose()));
        Auth(state, smoke)
    }

    /// The smoke account, when this request is a traffic hook's invocation signed with its key:
    /// only then may the account skip the captcha and the rate limit. Through API Gateway there
    /// is never a client context, hence never a signature.
    pub fn smoke_signed(&self, incoming: &Incoming) -> Option<&SmokeAccount> {
        let account = self.1.as_ref()?;
        let signature = incoming.smoke_signature.as_deref()?;
        let now = redline_core::clock::now_secs();
        account
            .verify(
                signature,
                now,
                &incoming.method,
                &incoming.path,
                &incoming.body,
            )
            .then_some(account)
    }

    /// From a configuration of plain values (tests).
    pub fn build(config: Config) -> Result<Self, ConfigError> {
        Ok(Self::new(State::build(config)?))
    }

    /// Cold start: fetches its secrets (one batch) and builds the state.
    pub async fn open(layered: Layered, reach: Reach) -> Result<Self, InitError> {
        Ok(Self::new(State::open(layered, reach).await?))
    }
}

impl Configured for Auth {
    fn config(&self) -> &Config {
        &self.0.config
    }
}
