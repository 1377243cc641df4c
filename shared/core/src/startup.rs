//! One start-up for every function kind, HTTP and event alike: telemetry first, then the
//! configuration, then secrets (inside the area's `open`), each phase timed in the logs. A
//! failure is an init error reported to the Runtime API with a typed `errorType` ([`start`]),
//! or, for functions whose caller waits for a callback (a CloudFormation custom resource, a
//! CodeDeploy hook), held and handed to the first event's handler ([`start_or_hold`]).

use crate::config::{self, Config, Layered};
use crate::init_error::{self, InitError};
use crate::telemetry;
use std::future::Future;
use std::time::Instant;

/// What a function built at cold start; its configuration sets the log filter.
pub trait Configured {
    fn config(&self) -> &Config;
}

impl Configured for Config {
    fn config(&self) -> &Config {
        self
    }
}

/// Starts a function: any failure is reported as its init error and returned (the process then
/// exits, as Lambda expects).
pub async fn start<T, F, Fut>(open: F) -> Result<T, InitError>
where
    T: Configured,
    F: FnOnce(Layered) -> Fut,
    Fut: Future<Output = Result<T, InitError>>,
{
    let outcome = start_or_hold(open).await;
    if let Err(error) = &outcome {
        init_error::report(error).await;
    }
    outcome
}

/// Starts a function whose caller waits for a callback: a failure is logged and returned for
/// the first event to report, never sent as an init error (which would leave the caller
/// waiting until its own timeout).
pub async fn start_or_hold<T, F, Fut>(open: F) -> Result<T, InitError>
where
    T: Configured,
    F: FnOnce(Layered) -> Fut,
    Fut: Future<Output = Result<T, InitError>>,
{
    let started = Instant::now();
    telemetry::start();
    let outcome = async {
        let layered = config::layered_from_env()?;
        let config_ms = elapsed_ms(started);
        let built = open(layered).await?;
        Ok::<_, InitError>((built, config_ms))
    }
    .await;
    match outcome {
        Ok((built, config_ms)) => {
            telemetry::refilter(&built.config().log.level);
            tracing::info!(
                init_ms = elapsed_ms(started),
                config_ms,
                "function initialised"
            );
            Ok(built)
        }
        Err(error) => {
            tracing::error!(
                error_type = error.error_type(),
                error = %error,
                init_ms = elapsed_ms(started),
                "init failed"
            );
            Err(error)
        }
    }
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}
