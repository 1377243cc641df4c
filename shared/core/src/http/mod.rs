//! HTTP glue: the route table, request parsing, responses and the request pipeline.

pub mod pipeline;
pub mod request;
pub mod response;
pub mod routes;

pub use pipeline::App;
