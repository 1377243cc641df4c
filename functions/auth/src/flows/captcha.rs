//! `GET /api/v1/auth/captcha` and `POST /api/v1/auth/captcha/verify`, and the captcha step of register and login.

use super::{captchas, index_hex, State};
use crate::domain::captcha::{CaptchaFailure, CaptchaKind};
use base64::Engine;
use redline_accounts::identity::{self};
use redline_core::config::CaptchaDelivery;
use redline_core::error::ApiError;
use redline_core::http::{Input, Reply};
use redline_crypto::random;
use serde::Deserialize;
use serde_json::json;

pub(super) async fn captcha(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let incoming = input.incoming;
    let kind = incoming
        .query_param("captcha_type")
        .and_then(CaptchaKind::parse)
        .ok_or(ApiError::Validation {
            field: "captcha_type",
            message: "captcha_type must be image, sms or email",
        })?;
    let captchas = captchas(state);
    if kind == CaptchaKind::Image {
        let issued = captchas.issue(kind, None).await?;
        let png = redline_captcha::render_png(&issued.code, random::bytes::<32>());
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
    let binding = index_hex(state, index_kind, &target);
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

pub(super) async fn captcha_verify(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let body: VerifyBody = input.body()?;
    if body.captcha_id.is_empty() {
        return Err(ApiError::CaptchaIdRequired);
    }
    if body.captcha_code.is_empty() {
        return Err(ApiError::CaptchaCodeRequired);
    }
    match captchas(state)
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
pub(super) async fn pass_captcha(
    state: &State,
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
    match captchas(state)
        .check(id, code, Some(allowed_targets))
        .await?
    {
        Ok(()) => Ok(()),
        Err(CaptchaFailure::Expired) => Err(ApiError::CaptchaExpired),
        Err(_) => Err(ApiError::CaptchaInvalid),
    }
}
