//! The `migrate` function: applies pending migrations when invoked by Lambda (any event), or
//! once when run as a command (`migrate` with the usual `REDLINE_*` environment).

use lambda_runtime::{service_fn, LambdaEvent};
use redline_core::ops::migrate::Migrator;
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let config = redline_core::config::load_resolved().await?;
    redline_core::telemetry::init(&config);
    let migrator = Migrator::new(&config)?;
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        let report = migrator.run().await?;
        println!("{}", serde_json::to_string(&report)?);
        return Ok(());
    }
    let migrator = &migrator;
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| async move {
        let report = migrator.run().await?;
        Ok::<_, lambda_runtime::Error>(serde_json::to_value(report)?)
    }))
    .await
}
