//! `POST /api/v1/auth/totp/setup`, `/enable` and `/disable`.
//!
//! A stolen access token alone must not be able to turn the second factor on (locking the owner
//! out) or off: setup and disable need the password, and replacing or removing an enabled factor
//! needs that factor. Checks run bearer token → body → lock → password → code; the password and
//! the code are one lockout attempt.

use super::State;
use crate::domain::{recovery, totp};
use redline_accounts::accounts::{Account, Accounts};
use redline_accounts::identity::require_password;
use redline_accounts::{account_of, account_subject, as_attempt, authenticate, verify_password};
use redline_core::error::ApiError;
use redline_core::http::{Input, Reply};
use serde::Deserialize;
use serde_json::json;

/// What a client offers as its second factor.
pub(super) enum SecondFactor<'a> {
    Totp(&'a str),
    Recovery(&'a str),
    Missing,
}

impl<'a> SecondFactor<'a> {
    /// Login's fields: a TOTP code when one is given, else a recovery code.
    pub(super) fn from_login(totp_code: &'a str, recovery_code: &'a str) -> Self {
        match (totp_code.trim(), recovery_code.trim()) {
            ("", "") => SecondFactor::Missing,
            ("", recovery) => SecondFactor::Recovery(recovery),
            (code, _) => SecondFactor::Totp(code),
        }
    }

    /// One field that takes either: six digits are a TOTP code, anything else a recovery code.
    fn from_either(code: &'a str) -> Self {
        match code.trim() {
            "" => SecondFactor::Missing,
            code if code.bytes().all(|b| b.is_ascii_digit()) => SecondFactor::Totp(code),
            code => SecondFactor::Recovery(code),
        }
    }
}

/// Checks the second factor of an account that has one. A TOTP code's step and a recovery code
/// are each spent on success, so neither works twice.
pub(super) async fn check_second_factor(
    state: &State,
    account: &Account,
    offered: SecondFactor<'_>,
) -> Result<(), ApiError> {
    let accepted = match offered {
        SecondFactor::Missing => return Err(ApiError::TotpRequired),
        SecondFactor::Totp(code) => {
            let cipher = account
                .totp_cipher
                .as_deref()
                .ok_or_else(|| ApiError::internal("TOTP enabled without a secret"))?;
            let secret = state.decrypt_pii("totp", cipher).await?;
            totp::verify_once(state.cache(), account.id, &secret, code).await?
        }
        SecondFactor::Recovery(typed) => match recovery::digest_typed(account.id, typed) {
            Some(digest) => {
                Accounts { db: state.db() }
                    .spend_recovery_code(account.id, &digest)
                    .await?
            }
            None => false,
        },
    };
    if accepted {
        Ok(())
    } else {
        Err(ApiError::TotpInvalid)
    }
}

/// The password (and, when the account has a second factor, that factor) as one lockout
/// attempt on the account.
async fn step_up(
    state: &State,
    account: &Account,
    password: &str,
    offered: SecondFactor<'_>,
) -> Result<(), ApiError> {
    let subject = account_subject(account);
    let check = async {
        verify_password(state, account, password).await?;
        if account.totp_enabled {
            check_second_factor(state, account, offered).await?;
        }
        Ok(())
    };
    as_attempt(state, &subject, check).await
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SetupBody {
    password: String,
    /// Only when replacing an enabled factor: a current code.
    code: String,
}

pub(super) async fn totp_setup(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let claims = authenticate(state, input.incoming).await?;
    let body: SetupBody = input.body()?;
    require_password(&body.password)?;
    let account = account_of(state, &claims).await?;
    let offered = match body.code.trim() {
        "" => SecondFactor::Missing,
        code => SecondFactor::Totp(code),
    };
    step_up(state, &account, &body.password, offered).await?;

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

/// Proves the pending secret works, then enables it with ten fresh recovery codes, shown once.
pub(super) async fn totp_enable(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let claims = authenticate(state, input.incoming).await?;
    let body: EnableBody = input.body()?;
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
    let (codes, digests) = recovery::issue(account.id);
    Accounts { db: state.db() }
        .enable_totp(
            account.id,
            &state.data_keys().encrypt("totp", &secret),
            &digests,
        )
        .await?;
    Ok(Reply::ok(
        json!({ "enabled": true, "recovery_codes": codes }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DisableBody {
    password: String,
    /// A TOTP code or a recovery code.
    code: String,
}

pub(super) async fn totp_disable(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let claims = authenticate(state, input.incoming).await?;
    let body: DisableBody = input.body()?;
    require_password(&body.password)?;
    if body.code.trim().is_empty() {
        return Err(ApiError::Validation {
            field: "code",
            message: "a TOTP code or a recovery code is required",
        });
    }
    let account = account_of(state, &claims).await?;
    if !account.totp_enabled {
        return Err(ApiError::TotpNotEnabled);
    }
    step_up(
        state,
        &account,
        &body.password,
        SecondFactor::from_either(&body.code),
    )
    .await?;
    Accounts { db: state.db() }.disable_totp(account.id).await?;
    Ok(Reply::ok(json!({ "enabled": false })))
}
