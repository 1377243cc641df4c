//! redline core: everything the Lambda functions share. A function's `main` builds an
//! [`AppState`](state::AppState) once per execution environment and hands an
//! [`App`](http::App) to the runtime; all logic lives here and is testable without Lambda.

pub mod cache;
pub mod captcha_image;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod http;
pub mod init_error;
pub mod ops;
pub mod secrets;
pub mod state;
pub mod telemetry;
pub mod tokens;

pub use http::routes::Area;

/// Loads configuration, fetches its secrets, sets up logging and builds the state of the
/// function for `area`. An error here is an init error: it is reported to the Runtime API
/// (when there is one) and no request is served.
pub async fn bootstrap(area: Area) -> Result<http::App, config::ConfigError> {
    let started = std::time::Instant::now();
    let outcome = async {
        let layered = config::layered_from_env()?;
        state::AppState::open(layered, area).await
    }
    .await;
    match outcome {
        Ok(state) => {
            telemetry::init(&state.config);
            tracing::info!(
                init_ms = started.elapsed().as_secs_f64() * 1000.0,
                "function initialised"
            );
            Ok(http::App::new(state))
        }
        Err(error) => {
            init_error::report(&error).await;
            Err(error)
        }
    }
}
