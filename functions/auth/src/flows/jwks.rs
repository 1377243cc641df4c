//! `GET /.well-known/jwks.json`: the public half of the signing key set.

use super::State;
use redline_core::error::ApiError;
use redline_core::http::Reply;

pub(super) fn jwks(state: &State) -> Result<Reply, ApiError> {
    Ok(Reply::ok(state.tokens().keys().jwks().clone()))
}
