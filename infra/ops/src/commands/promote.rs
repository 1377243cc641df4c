//! `promote`: `live` → the version taking the extra weight, weights cleared. A function with no
//! extra weight is left as it is (`unchanged`), so promoting twice is harmless.

use super::{each, may_move, Context, Done, Report};
use crate::codedeploy;
use crate::error::OpsError;
use crate::lambda;
use crate::names::Area;

pub async fn run(context: &Context, areas: &[Area], force: bool) -> Result<Report, OpsError> {
    let aws = &context.aws;
    // One listing of the deployments in flight serves every function.
    let in_flight = &codedeploy::in_flight(&aws.codedeploy, &aws.endpoints).await?;
    each("promote", context, areas, |_, name| async move {
        // Settled before the alias is read: while CodeDeploy moves it even "unchanged" would
        // be a claim about a moving target.
        let warning = may_move(context, &name, in_flight, force)?;
        let live = lambda::live(&aws.lambda, &name).await?;
        let Some((extra, _)) = live.additional.clone() else {
            return Ok(Done {
                action: "unchanged",
                live,
                deployment: None,
                warning: None,
            });
        };
        let live = lambda::point(&aws.lambda, &name, &live, &extra, None).await?;
        Ok(Done {
            action: "promoted",
            live,
            deployment: None,
            warning,
        })
    })
    .await
}
