//! `POST /api/v1/auth/register`.

use super::captcha::pass_captcha;
use super::{index_hex, State};
use redline_accounts::accounts::{Accounts, CreateError, NewAccount, Taken};
use redline_accounts::identity::{self};
use redline_core::error::ApiError;
use redline_core::http::{Input, Reply};
use redline_crypto::smoke::SmokeAccount;
use serde::Deserialize;
use serde_json::json;

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

pub(super) async fn register(
    state: &State,
    input: &Input<'_>,
    smoke: Option<&SmokeAccount>,
) -> Result<Reply, ApiError> {
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
        bindings.push(index_hex(state, "email", email));
    }
    if let Some(phone) = &phone {
        bindings.push(index_hex(state, "phone", phone));
    }
    let allowed: Vec<&str> = bindings.iter().map(String::as_str).collect();
    // The smoke account, signed by a traffic hook, registers without a captcha.
    if smoke.is_none_or(|account| account.username != body.username) {
        pass_captcha(state, &body.captcha_id, &body.captcha_code, &allowed).await?;
    }

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

    let index = state.blind_index();
    let email_index = index.index("email", &email);
    let phone_index = phone.as_deref().map(|p| index.index("phone", p));
    let accounts = Accounts { db: state.db() };
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
    let keys = state.data_keys();
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
