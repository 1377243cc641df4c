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
pub mod ops;
pub mod state;
pub mod telemetry;
pub mod tokens;

pub use http::routes::Area;

/// Loads configuration, sets up logging and builds the state of the function for `area`.
/// An error here is an init error: Lambda reports it and serves no request.
pub fn bootstrap(area: Area) -> Result<http::App, config::ConfigError> {
    let config = config::load()?;
    telemetry::init(&config);
    let state = state::AppState::build(config, area)?;
    Ok(http::App::new(state))
}
