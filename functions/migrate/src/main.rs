//! The `migrate` function: applies pending migrations. Three ways in:
//!
//! - **CloudFormation custom resource** (an event with a `ResponseURL`): the stack runs it once
//!   per deploy, before any alias moves. Create and Update migrate, Delete does nothing, and the
//!   answer is a PUT to the pre-signed `ResponseURL` (`custom_resource`, `callback`). A failure
//!   is answered `FAILED` with a reason from `error`; the invocation itself fails only when the
//!   answer could not be delivered.
//! - **Plain invoke** (any other event): migrates and returns the report, or the typed error.
//! - **Command** (no `AWS_LAMBDA_RUNTIME_API`): migrates once with the usual `REDLINE_*`
//!   environment, prints the report, and exits non-zero on a failure.
//!
//! A configuration or secrets failure at cold start is held (`start_or_hold`), not sent as an
//! init error: CloudFormation would wait an hour for an answer that never comes. Each event
//! reports it instead, through the `ResponseURL` or as the invocation's error.
//!
//! Every invocation writes one EMF document: `Invocations`, `Failures`, `MigrationsApplied`,
//! and `requestType` for a custom resource.

mod callback;
mod custom_resource;
mod error;

use callback::Callback;
use custom_resource::Request;
use error::Failure;
use lambda_runtime::{service_fn, LambdaEvent};
use redline_core::config::Config;
use redline_core::init_error::{self, InitError};
use redline_core::invocation::{self, Invocation};
use redline_core::metrics::{self, Metric};
use redline_core::secrets::resolve;
use redline_core::startup::{start_or_hold, Configured};
use redline_stores::migrator::Migrator;
use serde_json::{json, Value};

/// What the function builds at cold start.
struct Started {
    config: Config,
    migrator: Migrator,
}

impl Configured for Started {
    fn config(&self) -> &Config {
        &self.config
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = start_or_hold(|layered| async {
        let config = resolve(layered, redline_secrets_aws::REACH).await?;
        let migrator = Migrator::new(&config)?;
        Ok(Started { config, migrator })
    })
    .await;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return command(started).await;
    }
    let callback = Callback::new();
    let (started, callback) = (&started, &callback);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let context = Invocation::of_event(&event.context);
        let log_stream = event.context.env_config.log_stream.clone();
        let (outcome, _) = invocation::scope(context, async {
            let migrator = started
                .as_ref()
                .map(|started| &started.migrator)
                .map_err(Failure::held);
            match Request::of(&event.payload) {
                Some(request) => custom_resource(&request, migrator, callback, &log_stream).await,
                None => plain(migrator).await,
            }
        })
        .await;
        outcome
    }))
    .await
}

/// Run as a command: once, the report on stdout, a failure as the exit status.
async fn command(started: Result<Started, InitError>) -> Result<(), lambda_runtime::Error> {
    let started = match started {
        Ok(started) => started,
        Err(error) => {
            init_error::report(&error).await;
            return Err(error.into());
        }
    };
    let report = started.migrator.run().await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// A plain invoke: the report, or the failure as the invocation's error.
async fn plain(migrator: Result<&Migrator, Failure>) -> Result<Value, Failure> {
    let outcome = async { Ok(migrator?.run().await?) }.await;
    let applied = outcome.as_ref().map_or(0, |report| report.applied.len());
    metrics::event(
        "migrate",
        outcome.is_err(),
        &[(Metric::MigrationsApplied, applied as f64)],
        &[],
    );
    let report = outcome.inspect_err(log_failure)?;
    Ok(json!(report))
}

/// A CloudFormation request: run it, answer at its `ResponseURL`, and return the answer; an
/// error only when the answer could not be delivered.
async fn custom_resource(
    request: &Request,
    migrator: Result<&Migrator, Failure>,
    callback: &Callback,
    log_stream: &str,
) -> Result<Value, Failure> {
    let outcome = request.run(migrator).await;
    if let Err(failure) = &outcome {
        log_failure(failure);
    }
    let response = request.response(&outcome, log_stream);
    let body = json!(response);
    let delivered = callback.put(&request.response_url, &body.to_string()).await;
    tracing::info!(
        requestType = request.request_type.as_str(),
        logicalResourceId = request.logical_resource_id.as_str(),
        stackId = request.stack_id.as_str(),
        migrateVersion = request.migrate_version.as_str(),
        status = response.status,
        reason = response.reason.as_str(),
        delivered = delivered.is_ok(),
        "custom resource answered"
    );
    let applied = match &outcome {
        Ok(Some(report)) => report.applied.len(),
        _ => 0,
    };
    metrics::event(
        "migrate",
        outcome.is_err() || delivered.is_err(),
        &[(Metric::MigrationsApplied, applied as f64)],
        &[("requestType", request.request_type.as_str())],
    );
    delivered.map_err(Failure::Undelivered)?;
    Ok(body)
}

fn log_failure(failure: &Failure) {
    tracing::error!(errorType = failure.error_type(), error = %failure, "migrations failed");
}
