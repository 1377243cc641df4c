//! The `migrate` function: applies pending migrations when invoked by Lambda (any event), or
//! once when run as a command (`migrate` with the usual `REDLINE_*` environment).

use lambda_runtime::{service_fn, LambdaEvent};
use redline_core::config::Config;
use redline_core::invocation::{self, Invocation};
use redline_core::metrics::{self, Metric};
use redline_core::secrets::resolve;
use redline_core::startup::{start, Configured};
use redline_stores::migrator::Migrator;
use serde_json::Value;

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
    let started = start(|layered| async {
        let config = resolve(layered, redline_secrets_aws::REACH).await?;
        let migrator = Migrator::new(&config)?;
        Ok(Started { config, migrator })
    })
    .await?;
    let migrator = &started.migrator;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let report = migrator.run().await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let context = Invocation::of_event(&event.context);
        let (outcome, _) = invocation::scope(context, async {
            let outcome = migrator.run().await;
            let applied = outcome.as_ref().map_or(0, |report| report.applied.len());
            metrics::event(
                "migrate",
                outcome.is_err(),
                &[(Metric::MigrationsApplied, applied as f64)],
                &[],
            );
            outcome
        })
        .await;
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(outcome?)?)
    }))
    .await
}
