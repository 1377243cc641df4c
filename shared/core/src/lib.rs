//! redline core: the bottom of every function. Nothing here knows an API area's handlers, a
//! data store or Secrets Manager; the areas' crates build on it and each function's binary
//! links only its own area.
//!
//! Layout, bottom-up (nothing imports from a module below it in this list):
//!
//! ```text
//! clock, area, needs   wall-clock seconds; the API areas; which function needs what
//! config/              layered YAML, REDLINE__ overrides, ${VAR:default}, secret references, validation
//! error                every failure a request can meet, mapped to the contract's envelope in one place
//! secrets/             the secret store: one batch fetch, TTL cache, grace, refetch (backends plug in)
//! init_error           a failed cold start, typed for the Runtime API
//! telemetry            JSON logs, started first and re-filtered once configured
//! startup              one start-up for every function kind
//! http/                routes → request/input → response → pipeline (the `Function` trait)
//! ```
//!
//! The path of one request: `lambda_http` hands an event to [`http::App::handle`], which turns it
//! into an [`http::request::Incoming`], matches it in [`http::routes::ROUTES`], lets the area
//! refresh its secrets and count the rate limit, checks the content type and JSON, and calls the
//! area's [`http::Function::call`]; the reply or error becomes the response in
//! [`http::response::finish`] (errors through [`error::ApiError::envelope`]), and one `request`
//! log line records it.

pub mod area;
pub mod clock;
pub mod config;
pub mod error;
pub mod http;
pub mod init_error;
pub mod invocation;
pub mod metrics;
pub mod needs;
pub mod secrets;
pub mod startup;
pub mod telemetry;

pub use area::Area;
