//! `GET /api/v1/auth/lock-status/{identifier}`.

use super::login::resolve;
use super::{lockout, State};
use redline_core::error::ApiError;
use redline_core::http::{Input, Reply};
use serde_json::json;

pub(super) async fn lock_status(state: &State, input: &Input<'_>) -> Result<Reply, ApiError> {
    let raw = input.param("identifier");
    let subject = resolve(state, &raw).await?.subject;
    let lock = lockout(state).state(&subject).await?;
    Ok(Reply::ok(json!({
        "locked": lock.locked,
        "unlock_time": lock.unlock_time,
        "failed_attempts": lock.failed_attempts,
        "max_attempts": state.config.auth.lockout.max_attempts,
    })))
}
