//! The `auth` area: captcha, register, login, logout, refresh, lock status, TOTP, JWKS.

use super::{account_of, as_attempt, authenticate, Input};
use crate::captcha_image;
use crate::config::CaptchaDelivery;
use crate::crypto::password::Verdict;
use crate::crypto::random;
use crate::domain::accounts::{
    Account, Accounts, CreateError, Lookup, NewAccount, Resealed, Taken,
};
use crate::domain::captcha::{CaptchaFailure, CaptchaKind, Captchas};
use crate::domain::identity::{self, Identifier};
use crate::domain::lockout::Lockout;
use crate::domain::sessions::{Rotation, Sessions};
use crate::domain::{revocations, totp};
use crate::error::ApiError;
use crate::http::response::Reply;
use crate::state::AppState;
use crate::tokens::{now_secs, Subject, TokenKind};
use base64::Engine;
use serde::Deserialize;
use serde_json::json;

fn captchas(state: &AppState) -> Result<Captchas<'_>, ApiError> {
    Ok(Captchas {
        cache: state.cache()?,
        config: &state.config.auth.captcha,
    })
}

fn lockout(state: &AppState) -> Result<Lockout<'_>, ApiError> {
    Ok(Lockout {
        cache: state.cache()?,
        config: &state.config.auth.lockout,
    })
}

/// Hex of a blind index: how Redis keys and captcha bindings name personal data.
fn index_hex(state: &AppState, kind: &str, value: &str) -> Result<String, ApiError> {
    Ok(state
        .blind_index()?
        .index(kind, value)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

// ---------------------------------------------------------------- captcha

pub async fn captcha(state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    let incoming = input.incoming;
    let kind = incoming
        .query_param("captcha_type")
        .and_then(CaptchaKind::parse)
        .ok_or(ApiError::Validation {
            field: "captcha_type",
            message: "captcha_type must be image, sms or email",
        })?;
    let captchas = captchas(state)?;
    if kind == CaptchaKind::Image {
        let issued = captchas.issue(kind, None).await?;
        let png = captcha_image::render_png(&issued.code, random::bytes::<32>());
        let data = base64::engine::general_purpose::STANDARD.encode(png);
        return Ok(Reply::ok(json!({
            "captcha_id": issued.id,
            "image_data": format!("data:image/png;base64,{data}"),
        })));
    }
    if state.config.auth.captcha.delivery == CaptchaDelivery::Disabled {
        return Err(ApiError::Validation {
            field: "captcha_type",
            message: "no delivery channel is configured for this captcha type",
        });
    }
    let raw_target = incoming.query_param("target").unwrap_or("");
    let (target, index_kind) = match kind {
        CaptchaKind::Sms => (identity::normalise_phone(raw_target), "phone"),
        _ => (identity::normalise_email(raw_target), "email"),
    };
    let target = target.ok_or(ApiError::Validation {
        field: "target",
        message: "target must be a valid phone number (sms) or e-mail address (email)",
    })?;
    let binding = index_hex(state, index_kind, &target)?;
    let issued = captchas.issue(kind, Some(&binding)).await?;
    captchas.deliver_to_outbox(kind, &target, &issued).await?;
    Ok(Reply::ok(
        json!({ "captcha_id": issued.id, "image_data": "" }),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VerifyBody {
    captcha_id: String,
    captcha_code: String,
}

pub async fn captcha_verify(state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: VerifyBody = input.body()?;
    if body.captcha_id.is_empty() {
        return Err(ApiError::CaptchaIdRequired);
    }
    if body.captcha_code.is_empty() {
        return Err(ApiError::CaptchaCodeRequired);
    }
    match captchas(state)?
        .check(&body.captcha_id, &body.captcha_code, None)
        .await?
    {
        Ok(()) => Ok(Reply::ok(json!({ "success": true }))),
        Err(CaptchaFailure::WrongCode) => Ok(Reply::ok(json!({ "success": false }))),
        Err(CaptchaFailure::Expired) => Err(ApiError::CaptchaExpired),
        Err(CaptchaFailure::Invalid) => Err(ApiError::CaptchaInvalid),
    }
}

/// The captcha step of register and login. An sms/email captcha is bound to its target: it
/// passes only if that target (as a blind index) is among `allowed_targets`.
async fn pass_captcha(
    state: &AppState,
    id: &str,
    code: &str,
    allowed_targets: &[&str],
) -> Result<(), ApiError> {
    if !state.config.auth.captcha.enabled {
        return Ok(());
    }
    if id.is_empty() || code.is_empty() {
        return Err(ApiError::CaptchaRequired);
    }
    match captchas(state)?
        .check(id, code, Some(allowed_targets))
        .await?
    {
        Ok(()) => Ok(()),
        Err(CaptchaFailure::Expired) => Err(ApiError::CaptchaExpired),
        Err(_) => Err(ApiError::CaptchaInvalid),
    }
}

// ---------------------------------------------------------------- register

#[derive(Deserialize, Default)]
#[serde(default)]
struct RegisterBody {
    username: String,
    password: String,
    email: String,
    phone: Option<String>,
    captcha_id: String,
    captcha_code: String,
}

pub async fn register(state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: RegisterBody = input.body()?;
    let email = identity::normalise_email(&body.email);
    let phone_raw = body
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let phone = phone_raw.and_then(identity::normalise_phone);

    // An email captcha must be for this e-mail, an sms captcha for this phone.
    let mut bindings = Vec::new();
    if let Some(email) = &email {
        bindings.push(index_hex(state, "email", email)?);
    }
    if let Some(phone) = &phone {
        bindings.push(index_hex(state, "phone", phone)?);
    }
    let allowed: Vec<&str> = bindings.iter().map(String::as_str).collect();
    pass_captcha(state, &body.captcha_id, &body.captcha_code, &allowed).await?;

    identity::check_username(&body.username)?;
    identity::check_password(&body.password, &body.username)?;
    let email = email.ok_or(ApiError::Validation {
        field: "email",
        message: "email must be a valid address",
    })?;
    if phone_raw.is_some() && phone.is_none() {
        return Err(ApiError::Validation {
            field: "phone",
            message: "phone must be E.164 (+ then 8 to 15 digits)",
        });
    }

    let index = state.blind_index()?;
    let email_index = index.index("email", &email);
    let phone_index = phone.as_deref().map(|p| index.index("phone", p));
    let accounts = Accounts { db: state.db()? };
    let username_lower = body.username.to_lowercase();
    if let Some(taken) = accounts
        .first_taken(&username_lower, &email_index, phone_index.as_deref())
        .await?
    {
        return Err(taken_error(taken));
    }
    let password_hash = state
        .passwords
        .hash(&body.password)
        .await
        .map_err(ApiError::internal)?;
    let keys = state.data_keys()?;
    let created = accounts
        .create(NewAccount {
            username: &body.username,
            password_hash: &password_hash,
            email_cipher: keys.encrypt("email", email.as_bytes()),
            email_index: &email_index,
            phone_cipher: phone
                .as_deref()
                .map(|p| keys.encrypt("phone", p.as_bytes())),
            phone_index: phone_index.as_deref(),
        })
        .await;
    match created {
        Ok(_) => Ok(Reply::ok(json!({ "message": "registered" }))),
        // A concurrent winner: report in the contract's order, not the index PostgreSQL hit.
        Err(CreateError::Taken(taken)) => {
            let first = accounts
                .first_taken(&username_lower, &email_index, phone_index.as_deref())
                .await?;
            Err(taken_error(first.unwrap_or(taken)))
        }
        Err(CreateError::Db(error)) => Err(error.into()),
    }
}

fn taken_error(taken: Taken) -> ApiError {
    match taken {
        Taken::Username => ApiError::UserExists,
        Taken::Email => ApiError::EmailExists,
        Taken::Phone => ApiError::PhoneExists,
    }
}

// ---------------------------------------------------------------- login

#[derive(Deserialize, Default)]
#[serde(default)]
struct LoginBody {
    username: String,
    password: String,
    captcha_id: String,
    captcha_code: String,
    totp_code: String,
}

/// The account an identifier names, and the lockout subject it counts against: the account
/// itself, or (no account) the identifier's blind index, so unknown names behave alike.
async fn resolve(
    state: &AppState,
    raw: &str,
) -> Result<(Identifier, Option<Account>, String), ApiError> {
    let identifier = Identifier::parse(raw);
    let (kind, value) = identifier.index_parts();
    let accounts = Accounts { db: state.db()? };
    let account = match &identifier {
        // A name no account could have (bad characters, NUL) is unknown without asking.
        Identifier::Username(name) if identity::check_username(name).is_err() => None,
        Identifier::Email(email) if identity::normalise_email(email).is_none() => None,
        Identifier::Username(name) => accounts.find(Lookup::UsernameLower(name)).await?,
        Identifier::Email(_) | Identifier::Phone(_) => {
            let index = state.blind_index()?.index(kind, value);
            let lookup = if kind == "email" {
                Lookup::EmailIndex(&index)
            } else {
                Lookup::PhoneIndex(&index)
            };
            accounts.find(lookup).await?
        }
    };
    let subject = match &account {
        Some(account) => format!("user:{}", account.id),
        None => format!("name:{}", index_hex(state, kind, value)?),
    };
    Ok((identifier, account, subject))
}

pub async fn login(state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
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
    let (identifier, account, subject) = resolve(state, &body.username).await?;
    let lockout = lockout(state)?;
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
            Some(index_hex(state, kind, value)?)
        }
    };
    let allowed: Vec<&str> = binding.as_deref().into_iter().collect();
    pass_captcha(state, &body.captcha_id, &body.captcha_code, &allowed).await?;

    let (account, verdict) =
        as_attempt(state, &subject, check_credentials(state, account, &body)).await?;
    refresh_stored_credentials(state, &account, &body.password, verdict).await?;
    let pair = start_session(state, &account).await?;
    Ok(Reply::ok(pair))
}

/// Password, then TOTP. Unknown identifiers cost the same as known ones (a dummy hash).
async fn check_credentials(
    state: &AppState,
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
        check_login_totp(state, &account, &body.totp_code).await?;
    }
    Ok((account, verdict))
}

async fn check_login_totp(state: &AppState, account: &Account, code: &str) -> Result<(), ApiError> {
    if code.trim().is_empty() {
        return Err(ApiError::TotpRequired);
    }
    let cipher = account
        .totp_cipher
        .as_deref()
        .ok_or_else(|| ApiError::internal("TOTP enabled without a secret"))?;
    let secret = state.decrypt_pii("totp", cipher).await?;
    if !totp::verify_once(state.cache()?, account.id, &secret, code).await? {
        return Err(ApiError::TotpInvalid);
    }
    Ok(())
}

/// After a successful login: a bcrypt or outdated hash is replaced and personal data sealed
/// under an old key is re-encrypted under the current one.
async fn refresh_stored_credentials(
    state: &AppState,
    account: &Account,
    password: &str,
    verdict: Verdict,
) -> Result<(), ApiError> {
    let keys = state.data_keys()?;
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
    let reseal = |field: &str, cipher: &[u8]| -> Result<Option<Vec<u8>>, ApiError> {
        if !keys.is_stale(cipher) {
            return Ok(None);
        }
        let plain = keys.decrypt(field, cipher).map_err(ApiError::internal)?;
        Ok(Some(keys.encrypt(field, &plain)))
    };
    let optional = |field: &str, cipher: Option<&[u8]>| match cipher {
        Some(cipher) => reseal(field, cipher),
        None => Ok(None),
    };
    let resealed = Resealed {
        password_hash: new_hash,
        email: reseal("email", &account.email_cipher)?,
        phone: optional("phone", account.phone_cipher.as_deref())?,
        totp: optional("totp", account.totp_cipher.as_deref())?,
        totp_pending: optional("totp", account.totp_pending.as_deref())?,
    };
    if resealed.is_empty() {
        return Ok(());
    }
    Accounts { db: state.db()? }
        .refresh_credentials(account.id, &resealed)
        .await?;
    Ok(())
}

/// A new refresh family and its first token pair.
async fn start_session(state: &AppState, account: &Account) -> Result<serde_json::Value, ApiError> {
    let tokens = state.tokens()?;
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
    Sessions { db: state.db()? }
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

fn token_pair(access: &str, refresh: &str, expires_in: u64) -> serde_json::Value {
    json!({
        "access_token": access,
        "refresh_token": refresh,
        "token_type": "Bearer",
        "expires_in": expires_in,
    })
}

// ---------------------------------------------------------------- logout and refresh

pub async fn logout(state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    let claims = authenticate(state, input.incoming).await?;
    let account = account_of(state, &claims).await?;
    Sessions { db: state.db()? }.revoke_all(account.id).await?;
    revocations::revoke(state.cache()?, &claims).await?;
    Ok(Reply::ok(json!({ "success": true })))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RefreshBody {
    refresh_token: String,
}

/// Needs no Redis: the family row in PostgreSQL is the whole truth of a session.
pub async fn refresh(state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: RefreshBody = input.body()?;
    let presented = body.refresh_token.trim();
    if presented.is_empty() {
        return Err(ApiError::RefreshTokenRequired);
    }
    let claims = state.verify_token(presented, TokenKind::Refresh).await?;
    let tokens = state.tokens()?;
    let family = claims.fam.as_deref().ok_or(ApiError::TokenInvalid)?;
    let subject = Subject {
        user_id: claims.user_id().ok_or(ApiError::TokenInvalid)?,
        username: &claims.username,
    };
    // The swap of jti in PostgreSQL is the one decisive step; the token is signed after it.
    let next_jti = random::id128();
    let rotation = Sessions { db: state.db()? }
        .rotate(family, &claims.jti, &next_jti)
        .await?;
    let family_expires = match rotation {
        Rotation::Rotated { family_expires } => family_expires,
        Rotation::Expired => return Err(ApiError::TokenExpired),
        Rotation::Revoked => return Err(ApiError::TokenInvalid),
        Rotation::Reused => return Err(ApiError::RefreshTokenReused),
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

// ---------------------------------------------------------------- lock status

pub async fn lock_status(state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    let raw = input.param("identifier");
    let (_, _, subject) = resolve(state, &raw).await?;
    let lock = lockout(state)?.state(&subject).await?;
    Ok(Reply::ok(json!({
        "locked": lock.locked,
        "unlock_time": lock.unlock_time,
        "failed_attempts": lock.failed_attempts,
        "max_attempts": state.config.auth.lockout.max_attempts,
    })))
}

// ---------------------------------------------------------------- TOTP

#[derive(Deserialize, Default)]
#[serde(default)]
struct SetupBody {
    code: String,
}

pub async fn totp_setup(state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
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
    let cipher = state.data_keys()?.encrypt("totp", &secret);
    Accounts { db: state.db()? }
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

pub async fn totp_enable(state: &AppState, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: EnableBody = input.body()?;
    let claims = authenticate(state, input.incoming).await?;
    let account = account_of(state, &claims).await?;
    let Some(pending) = account.totp_pending.as_deref() else {
        return Err(ApiError::TotpSetupInvalid);
    };
    let secret = state.decrypt_pii("totp", pending).await?;
    if body.code.trim().is_empty()
        || !totp::verify_once(state.cache()?, account.id, &secret, &body.code).await?
    {
        return Err(ApiError::TotpSetupInvalid);
    }
    Accounts { db: state.db()? }
        .enable_totp(account.id, &state.data_keys()?.encrypt("totp", &secret))
        .await?;
    Ok(Reply::ok(json!({ "enabled": true })))
}

// ---------------------------------------------------------------- JWKS

pub fn jwks(state: &AppState) -> Result<Reply, ApiError> {
    Ok(Reply::ok(state.tokens()?.keys().jwks().clone()))
}
