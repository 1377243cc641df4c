//! `shift --function F --to V --weight W`: `live` keeps its version and sends `W` of its
//! traffic to `V`. Refused: `W` outside (0, 1), a version never published, `V` already primary,
//! an alias CodeDeploy is shifting; against AWS without `--force`.

use super::{check_published, each, may_move, Context, Done, Report};
use crate::codedeploy;
use crate::error::OpsError;
use crate::lambda;
use crate::names::Area;

pub async fn run(
    context: &Context,
    area: Area,
    to: &str,
    weight: f64,
    force: bool,
) -> Result<Report, OpsError> {
    each("shift", context, &[area], |_, name| async move {
        // No call is worth making for a weight Lambda would refuse (and moto would keep).
        if !(weight > 0.0 && weight < 1.0) {
            return Err(OpsError::WeightOutOfRange { weight });
        }
        let aws = &context.aws;
        // Whether the alias may move at all is settled before it is read.
        let in_flight = codedeploy::in_flight(&aws.codedeploy, &aws.endpoints).await?;
        let warning = may_move(context, &name, &in_flight, force)?;
        let (live, published) = tokio::join!(
            lambda::live(&aws.lambda, &name),
            lambda::versions(&aws.lambda, &name)
        );
        let (live, published) = (live?, published?);
        check_published(&name, to, &published)?;
        if live.version == to {
            return Err(OpsError::AlreadyPrimary {
                function: name,
                version: to.to_string(),
            });
        }
        let version = live.version.clone();
        let live = lambda::point(&aws.lambda, &name, &live, &version, Some((to, weight))).await?;
        Ok(Done {
            action: "shifted",
            live,
            deployment: None,
            warning,
        })
    })
    .await
}
