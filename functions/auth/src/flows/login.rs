//! `POST /api/v1/auth/login`: captcha, lockout, password, TOTP, then a new session.

use super::captcha::pass_captcha;
use super::totp::{check_second_factor, SecondFactor};
use super::{index_hex, lockout, State};
use crate::domain::login::{self, LoginSubject};
use crate::domain::sessions::Sessions;
use redline_accounts::accounts::{Account, Accounts};
use redline_accounts::as_attempt;
use redline_accounts::identity::Identifier;
use redline_core::clock::now_secs;
use redline_core::error::ApiError;
use redline_core::http::{Input, Reply};
use redline_crypto::password::Verdict;
use redline_crypto::random;
use redline_crypto::smoke::SmokeAccount;
use redline_tokens::{Subject, TokenKind};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginBody {
    username: String,
    password: String,
    captcha_id: String,
    captcha_code: String,
    totp_code: String,
    /// In place of `totp_code`: one of the codes handed out when TOTP was enabled.
    recovery_code: String,
}

/// The account an identifier names and the lockout subject it counts against.
pub(super) async fn resolve(state: &State, raw: &str) -> Result<LoginSubject, ApiError> {
    let accounts = Accounts { db: state.db() };
    Ok(login::resolve(&accounts, &state.blind_index(), raw).await?)
}

pub(super) async fn login(
    state: &State,
    input: &Input<'_>,
    smoke: Option<&SmokeAccount>,
) -> Result<Reply, ApiError> {
    let body: LoginBody = input.body()?;
    if body.username.trim().is_empty() {
        return Err(ApiError::Validation {
            field: "username",
            message: "username is required",
        });
    }
    if body.password.is_empty() {
        return Err(ApiError::Validation {
            field: "password",
            message: "password is required",
        });
    }
    let LoginSubject {
        identifier,
        account,
        subject,
    } = resolve(state, &body.username).await?;
    let lockout = lockout(state);
    let lock = lockout.state(&subject).await?;
    if lock.locked {
        return Err(ApiError::AccountLocked {
            unlock_time: lock.unlock_time,
        });
    }

    // A bound captcha logs in by its own e-mail or phone only, never by a username.
    let binding = match &identifier {
        Identifier::Username(_) => None,
        other => {
            let (kind, value) = other.index_parts();
            Some(index_hex(state, kind, value))
        }
    };
    let allowed: Vec<&str> = binding.as_deref().into_iter().collect();
    // The smoke account, signed by a traffic hook, logs in without a captcha.
    if smoke.is_none_or(|account| account.username != body.username) {
        pass_captcha(state, &body.captcha_id, &body.captcha_code, &allowed).await?;
    }

    let (account, verdict) =
        as_attempt(state, &subject, check_credentials(state, account, &body)).await?;
    refresh_stored_credentials(state, &account, &body.password, verdict).await?;
    let pair = start_session(state, &account).await?;
    Ok(Reply::ok(pair))
}

/// Password, then the second factor (a TOTP code or a recovery code). Unknown identifiers cost the same as known ones (a dummy hash).
async fn check_credentials(
    state: &State,
    account: Option<Account>,
    body: &LoginBody,
) -> Result<(Account, Verdict), ApiError> {
    let verdict = match &account {
        Some(account) => {
            state
                .passwords
                .verify(&body.password, &account.password_hash)
                .await
        }
        None => {
            state.passwords.verify_dummy(&body.password).await;
            Verdict::Mismatch
        }
    };
    let account = match (account, verdict) {
        (Some(account), Verdict::Match | Verdict::MatchNeedsRehash) => account,
        _ => return Err(ApiError::InvalidCredentials),
    };
    if account.totp_enabled {
        let offered = SecondFactor::from_login(&body.totp_code, &body.recovery_code);
        check_second_factor(state, &account, offered).await?;
    }
    Ok((account, verdict))
}

/// After a successful login: a bcrypt or outdated hash is replaced and personal data sealed
/// under an old key is re-encrypted under the current one.
async fn refresh_stored_credentials(
    state: &State,
    account: &Account,
    password: &str,
    verdict: Verdict,
) -> Result<(), ApiError> {
    let keys = state.data_keys();
    let new_hash = if verdict == Verdict::MatchNeedsRehash {
        Some(
            state
                .passwords
                .hash(password)
                .await
                .map_err(ApiError::internal)?,
        )
    } else {
        None
    };
    let resealed = login::resealed(&keys, account, new_hash).map_err(ApiError::internal)?;
    if resealed.is_empty() {
        return Ok(());
    }
    Accounts { db: state.db() }
        .refresh_credentials(account.id, &resealed)
        .await?;
    Ok(())
}

/// A new refresh family and its first token pair.
async fn start_session(state: &State, account: &Account) -> Result<serde_json::Value, ApiError> {
    let tokens = state.tokens();
    let family = random::id128();
    let family_expires = now_secs() + tokens.session_max.as_secs();
    let subject = Subject {
        user_id: account.id,
        username: &account.username,
    };
    let refresh = tokens
        .issue(
            TokenKind::Refresh,
            &subject,
            Some(&family),
            Some(family_expires),
        )
        .map_err(ApiError::internal)?;
    Sessions { db: state.db() }
        .start(&family, account.id, &refresh.claims.jti, family_expires)
        .await?;
    let access = tokens
        .issue(TokenKind::Access, &subject, None, Some(family_expires))
        .map_err(ApiError::internal)?;
    Ok(token_pair(
        &access.token,
        &refresh.token,
        access.claims.exp - access.claims.iat,
    ))
}

pub(super) fn token_pair(access: &str, refresh: &str, expires_in: u64) -> serde_json::Value {
    json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": expires_in,
    })
}
