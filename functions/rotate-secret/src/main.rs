//! The `rotate-secret` function: Secrets Manager invokes it four times per rotation
//! (createSecret, setSecret, testSecret, finishSecret) for the token signing key set and for
//! PostgreSQL credentials (single user, or alternating users). Every step is safe to retry.

mod error;
mod event;
mod kind;
mod outcome;
mod postgres;
mod rotation;
mod secrets;
mod signing;
mod stages;

use event::RotationEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use redline_core::config::Config;
use redline_core::invocation::{self, Invocation};
use redline_core::metrics::{self, Metric};
use redline_core::startup::{start, Configured};
use rotation::Rotator;
use secrets::SecretStore;
use serde_json::{json, Value};

/// The secret that receives the public JWK Set when the signing key set rotates.
const VERIFICATION_KEYS_SECRET: &str = "VERIFICATION_KEYS_SECRET";

/// What the function builds at cold start.
struct Started {
    config: Config,
    rotator: Rotator,
}

impl Configured for Started {
    fn config(&self) -> &Config {
        &self.config
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    let started = start(|layered| async move {
        // Its configuration holds plain values: the secrets it rotates arrive in each event.
        let config = layered.plain()?;
        let verification_secret = std::env::var(VERIFICATION_KEYS_SECRET)
            .ok()
            .filter(|id| !id.trim().is_empty());
        let rotator = Rotator::new(
            SecretStore::from_environment().await,
            &config,
            verification_secret,
        );
        Ok(Started { config, rotator })
    })
    .await?;
    let rotator = &started.rotator;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<RotationEvent>| async move {
            let context = Invocation::of_event(&event.context);
            let event = event.payload;
            let (outcome, _) = invocation::scope(context, async {
                let outcome = rotator.handle(&event).await;
                metrics::event(
                    "rotate-secret",
                    outcome.is_err(),
                    &[(Metric::RotationStep, 1.0)],
                    &[("step", event.step.name())],
                );
                log_step(&event, &outcome);
                outcome
            })
            .await;
            let outcome = outcome?;
            Ok::<Value, error::StepError>(json!({ "step": event.step.name(), "outcome": outcome }))
        },
    ))
    .await
}

/// The step's log line, inside the invocation (so it carries the request id).
fn log_step(event: &RotationEvent, outcome: &Result<outcome::Outcome, error::StepError>) {
    match outcome {
        Ok(outcome) => tracing::info!(
            secretId = event.secret_id.as_str(),
            step = %event.step,
            versionId = event.token.as_str(),
            ?outcome,
            "rotation step done"
        ),
        Err(failure) => tracing::error!(
            secretId = event.secret_id.as_str(),
            versionId = event.token.as_str(),
            error = %failure,
            "rotation step failed"
        ),
    }
}
