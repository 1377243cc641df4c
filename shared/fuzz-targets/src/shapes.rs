//! Stand-ins for the request bodies the handlers decode, one per route with a body, of the same
//! field names and types (the areas' own structs are private to them). Every field has a default,
//! as in the areas, so a missing field is empty and a field of the wrong type is `CODEC`.

use redline_core::error::ApiError;
use redline_core::http::routes::RouteId;
use redline_core::http::Input;
use serde::Deserialize;

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Captcha {
    pub captcha_id: String,
    pub captcha_code: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Register {
    pub username: String,
    pub password: String,
    pub email: String,
    pub phone: Option<String>,
    pub captcha_id: String,
    pub captcha_code: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Login {
    pub username: String,
    pub password: String,
    pub captcha_id: String,
    pub captcha_code: String,
    pub totp_code: String,
    pub recovery_code: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Refresh {
    pub refresh_token: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Totp {
    pub password: String,
    pub code: String,
}

#[derive(Debug, Deserialize, Default)]
#[serde(default)]
pub struct Delete {
    pub password: String,
}

/// Decodes the body `route` takes; how many of its string fields are non-empty (routes without
/// a body: 0).
pub fn decode(route: RouteId, input: &Input<'_>) -> Result<usize, ApiError> {
    let filled = |fields: &[&str]| fields.iter().filter(|f| !f.is_empty()).count();
    Ok(match route {
        RouteId::CaptchaVerify => {
            let b: Captcha = input.body()?;
            filled(&[&b.captcha_id, &b.captcha_code])
        }
        RouteId::Register => {
            let b: Register = input.body()?;
            let phone = b.phone.as_deref().unwrap_or("");
            filled(&[
                &b.username,
                &b.password,
                &b.email,
                phone,
                &b.captcha_id,
                &b.captcha_code,
            ])
        }
        RouteId::Login => {
            let b: Login = input.body()?;
            filled(&[
                &b.username,
                &b.password,
                &b.captcha_id,
                &b.captcha_code,
                &b.totp_code,
                &b.recovery_code,
            ])
        }
        RouteId::Logout | RouteId::Refresh => {
            let b: Refresh = input.body()?;
            filled(&[&b.refresh_token])
        }
        RouteId::TotpSetup | RouteId::TotpEnable | RouteId::TotpDisable => {
            let b: Totp = input.body()?;
            filled(&[&b.password, &b.code])
        }
        RouteId::UsersDelete => {
            let b: Delete = input.body()?;
            filled(&[&b.password])
        }
        _ => 0,
    })
}
