//! HTTP glue: the route table, request parsing, responses and the request pipeline. Read
//! `routes` (what exists), then `request` and `input` (what a handler gets), `response` (what it
//! gives back), and `pipeline` (the order of checks, and the [`Function`] an area implements).

pub mod event;
pub mod input;
pub mod pipeline;
pub mod rate;
pub mod request;
pub mod response;
pub mod routes;

pub use input::Input;
pub use pipeline::{App, Function};
pub use rate::RateDecision;
pub use response::Reply;
