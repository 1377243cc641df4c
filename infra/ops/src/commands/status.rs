//! `status [--function F]`: the lookups of [`crate::status`], printed.

use super::Context;
use crate::error::OpsError;
use crate::names::Area;
use crate::status;

/// The rendered status: the JSON document or the text.
pub async fn run(context: &Context, areas: &[Area], json: bool) -> Result<String, OpsError> {
    let functions = status::gather(&context.aws, &context.stack, areas).await?;
    Ok(if json {
        status::document(&context.stack, &functions).to_string()
    } else {
        status::text(&context.stack, &functions)
    })
}
