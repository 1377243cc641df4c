//! `rollback`: a deployment in flight is stopped through CodeDeploy (`StopDeployment` with
//! `autoRollbackEnabled`), which points `live` back itself; with none in flight, `live` goes back
//! to the version the last successful deployment replaced, or to `--to V`. `--to` while
//! CodeDeploy is shifting is refused (only CodeDeploy may move it then).

use super::{check_published, drift_warning, each, may_move, Context, Done, Report};
use crate::codedeploy::{self, Deployment};
use crate::error::OpsError;
use crate::lambda;
use crate::names::Area;
use std::time::{Duration, Instant};

/// How long a stopped deployment has to end (the runner takes milliseconds; CodeDeploy seconds).
const STOP_TIMEOUT: Duration = Duration::from_secs(60);

pub async fn run(
    context: &Context,
    areas: &[Area],
    to: Option<&str>,
    force: bool,
) -> Result<Report, OpsError> {
    let aws = &context.aws;
    let in_flight = &codedeploy::in_flight(&aws.codedeploy, &aws.endpoints).await?;
    each("rollback", context, areas, |_, name| async move {
        if let (Some(deployment), None) = (in_flight.get(&name), to) {
            return stop(context, &name, deployment).await;
        }
        let warning = match to {
            Some(_) => may_move(context, &name, in_flight, force)?,
            // Back to what the last deployment replaced: no --force (the spec asks it of
            // `--to` only), but it leaves CloudFormation's record all the same: say so.
            None => context
                .aws
                .endpoints
                .against_aws()
                .then(|| drift_warning(&name)),
        };
        let (live, published) = tokio::join!(
            lambda::live(&aws.lambda, &name),
            lambda::versions(&aws.lambda, &name)
        );
        let (live, published) = (live?, published?);
        let target = match to {
            Some(version) => version.to_string(),
            None => {
                let last = codedeploy::last_succeeded(
                    &aws.codedeploy,
                    &aws.endpoints,
                    std::slice::from_ref(&name),
                )
                .await?;
                last.get(&name)
                    .map(|d| d.current_version.clone())
                    .ok_or_else(|| OpsError::NothingToRollBackTo {
                        function: name.clone(),
                    })?
            }
        };
        check_published(&name, &target, &published)?;
        if live.version == target && live.additional.is_none() {
            return Ok(Done {
                action: "unchanged",
                live,
                deployment: None,
                warning: None,
            });
        }
        let live = lambda::point(&aws.lambda, &name, &live, &target, None).await?;
        Ok(Done {
            action: "rolled-back",
            live,
            deployment: None,
            warning,
        })
    })
    .await
}

/// Stops the deployment with rollback and waits until CodeDeploy says it ended.
async fn stop(context: &Context, name: &str, deployment: &Deployment) -> Result<Done, OpsError> {
    let aws = &context.aws;
    codedeploy::stop_with_rollback(&aws.codedeploy, &deployment.id).await?;
    let started = Instant::now();
    let ended = loop {
        let now = codedeploy::get(&aws.codedeploy, &deployment.id).await?;
        match now {
            Some(d) if codedeploy::ended(&d.state) => break d,
            _ if started.elapsed() > STOP_TIMEOUT => {
                return Err(OpsError::NotFinished {
                    function: name.to_string(),
                    deployment: deployment.id.clone(),
                    seconds: STOP_TIMEOUT.as_secs(),
                })
            }
            _ => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    let live = lambda::live(&aws.lambda, name).await?;
    if ended.state == "Succeeded" {
        return Err(OpsError::FinishedBeforeStop {
            function: name.to_string(),
            deployment: deployment.id.clone(),
            version: live.version,
        });
    }
    Ok(Done {
        action: "rolled-back",
        live,
        deployment: Some(deployment.id.clone()),
        warning: None,
    })
}
