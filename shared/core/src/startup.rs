//! One start-up for every function kind, HTTP and event alike: telemetry first, then the
//! configuration, then secrets and clients (inside the area's `open`), each phase timed in one
//! `init` log line. A
//! failure is an init error reported to the Runtime API with a typed `errorType` ([`start`]),
//! or, for functions whose caller waits for a callback (a CloudFormation custom resource, a
//! CodeDeploy hook), held and handed to the first event's handler ([`start_or_hold`]).

use crate::config::{self, Config, Layered};
use crate::init_error::{self, InitError};
use crate::{metrics, telemetry};
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
    let telemetry_ms = elapsed_ms(started);
    let outcome = async {
        let layered = config::layered_from_env()?;
        let config_ms = elapsed_ms(started) - telemetry_ms;
        let opening = Instant::now();
        let built = open(layered).await?;
        Ok::<_, InitError>((built, config_ms, elapsed_ms(opening)))
    }
    .await;
    match outcome {
        Ok((built, config_ms, open_ms)) => {
            let config = built.config();
            telemetry::refilter(&config.log.level);
            metrics::configure(&config.metrics.namespace, &config.service.name);
            tracing::info!(
                function = telemetry::function_name(),
                version = telemetry::function_version().as_str(),
                telemetryMs = telemetry_ms,
                configMs = config_ms,
                openMs = open_ms,
                initMs = elapsed_ms(started),
                "init"
            );
            Ok(built)
        }
        Err(error) => {
            tracing::error!(
                function = telemetry::function_name(),
                errorType = error.error_type(),
                error = %error,
                initMs = elapsed_ms(started),
                "init failed"
            );
            Err(error)
        }
    }
}

fn elapsed_ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigError;
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::time::Duration;

    /// What reached a stand-in Runtime API within a short wait: the request lines received.
    fn requests_to(listener: &TcpListener) -> Vec<String> {
        listener.set_nonblocking(true).unwrap();
        let mut seen = Vec::new();
        let deadline = Instant::now() + Duration::from_millis(500);
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    stream.set_nonblocking(false).unwrap();
                    stream
                        .set_read_timeout(Some(Duration::from_millis(200)))
                        .unwrap();
                    let mut buffer = [0u8; 4096];
                    let read = stream.read(&mut buffer).unwrap_or(0);
                    let text = String::from_utf8_lossy(&buffer[..read]).to_string();
                    seen.push(text.lines().next().unwrap_or_default().to_string());
                    let _ = stream.write_all(b"HTTP/1.1 202 Accepted\r\ncontent-length: 0\r\n\r\n");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        seen
    }

    async fn failing(_: Layered) -> Result<Config, InitError> {
        Err(ConfigError::key("auth.captcha.ttl", "is not a duration").into())
    }

    /// Runs `start` or `start_or_hold` against a stand-in Runtime API; gives its error and the
    /// requests the stand-in received.
    async fn against_runtime_api<F, Fut>(run: F) -> (InitError, Vec<String>)
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Config, InitError>>,
    {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        std::env::set_var(
            "AWS_LAMBDA_RUNTIME_API",
            listener.local_addr().unwrap().to_string(),
        );
        // Inside "Lambda" the configuration needs its environment named.
        std::env::set_var("REDLINE_ENV", "dev");
        let seen = std::thread::spawn(move || requests_to(&listener));
        let error = run().await.unwrap_err();
        std::env::remove_var("AWS_LAMBDA_RUNTIME_API");
        std::env::remove_var("REDLINE_ENV");
        (error, seen.join().unwrap())
    }

    // One test, because both halves point the process's AWS_LAMBDA_RUNTIME_API somewhere.
    #[tokio::test]
    async fn start_reports_an_init_error_and_start_or_hold_keeps_it_for_the_first_event() {
        let (held, seen) = against_runtime_api(|| start_or_hold(failing)).await;
        assert_eq!(held.error_type(), "Runtime.ConfigInvalid");
        assert!(held.to_string().contains("auth.captcha.ttl"), "{held}");
        assert_eq!(seen, Vec::<String>::new(), "nothing reported");

        let (reported, seen) = against_runtime_api(|| start(failing)).await;
        assert_eq!(reported.error_type(), "Runtime.ConfigInvalid");
        assert_eq!(
            seen,
            vec!["POST /2018-06-01/runtime/init/error HTTP/1.1".to_string()]
        );
    }
}
