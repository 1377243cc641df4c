//! The accounts domain that `auth` and `users` share: the `users` table, the identity rules,
//! lockout, revoked tokens, their state, and the bearer check every signed-in route starts with.
//!
//! Read `state` first (what the two functions build at cold start), then `accounts` and
//! `identity`, then `lockout` and `revocations`; this file holds the checks built on them.

pub mod accounts;
pub mod identity;
pub mod lockout;
pub mod revocations;
pub mod state;

pub use state::{AccountState, KeyKind, Verifying};

use accounts::{Account, Accounts, Lookup};
use lockout::{Attempt, Lockout};
use redline_core::error::ApiError;
use redline_core::http::request::Incoming;
use redline_core::metrics::{self, Metric};
use redline_crypto::password::Verdict;
use redline_tokens::{Claims, TokenKind};

/// The bearer checks, in the contract's order, up to revocation. The caller then loads the
/// account with [`account_of`], which turns a deleted user into `TOKEN_INVALID`.
pub async fn authenticate<K: KeyKind>(
    state: &AccountState<K>,
    incoming: &Incoming,
) -> Result<Claims, ApiError> {
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
    if revocations::is_revoked(state.cache(), &claims.jti).await? {
        metrics::count(Metric::TokenRejected);
        return Err(ApiError::TokenInvalid);
    }
    Ok(claims)
}

/// Runs a credential check as one lockout attempt on `subject`: refused while locked, counted
/// before the check (so concurrent requests share `max_attempts`), kept only when the check
/// ends in the contract's counted 401s (`INVALID_CREDENTIALS`, `TOTP_INVALID`).
pub async fn as_attempt<T, K: KeyKind>(
    state: &AccountState<K>,
    subject: &str,
    check: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    let lockout = Lockout {
        cache: state.cache(),
        config: &state.config.auth.lockout,
    };
    let attempt = match lockout.begin(subject).await? {
        Attempt::Locked { unlock_time } => return Err(ApiError::AccountLocked { unlock_time }),
        counted => counted,
    };
    let outcome = check.await;
    match &outcome {
        Ok(_) => lockout.succeeded(subject, attempt).await?,
        Err(ApiError::InvalidCredentials | ApiError::TotpInvalid) => {
            if let Attempt::Counted { engaged_lock: true } = attempt {
                metrics::count(Metric::AccountLocked);
            }
        }
        Err(_) => {
            if let Err(error) = lockout.give_back(subject, attempt).await {
                tracing::warn!(error = %error, "could not uncount an attempt");
            }
        }
    }
    outcome
}

pub async fn account_of<K: KeyKind>(
    state: &AccountState<K>,
    claims: &Claims,
) -> Result<Account, ApiError> {
    let id = claims.user_id().ok_or(ApiError::TokenInvalid)?;
    Accounts { db: state.db() }
        .find(Lookup::Id(id))
        .await?
        .ok_or(ApiError::TokenInvalid)
}

/// The lockout subject of an account: its username, e-mail and phone share one counter.
pub fn account_subject(account: &Account) -> String {
    format!("user:{}", account.id)
}

/// The account's own password, asked for again before a sensitive change (deleting the account,
/// the second factor): `INVALID_CREDENTIALS` when wrong. Run it inside [`as_attempt`], so the
/// route is no password oracle.
pub async fn verify_password<K: KeyKind>(
    state: &AccountState<K>,
    account: &Account,
    password: &str,
) -> Result<(), ApiError> {
    match state
        .passwords
        .verify(password, &account.password_hash)
        .await
    {
        Verdict::Match | Verdict::MatchNeedsRehash => Ok(()),
        Verdict::Mismatch => Err(ApiError::InvalidCredentials),
    }
}
