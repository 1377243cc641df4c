//! `GET /helloworld/{name}`: the smallest example of a function.

use super::Input;
use crate::error::ApiError;
use crate::http::response::Reply;
use serde_json::json;

pub fn hello(input: &Input<'_>) -> Result<Reply, ApiError> {
    let name = input.param("name");
    if name.chars().count() > 64 {
        return Err(ApiError::Validation {
            field: "name",
            message: "name must be at most 64 characters",
        });
    }
    Ok(Reply::ok(json!({ "message": format!("Hello {name}") })))
}
