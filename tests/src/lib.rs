//! Test support for redline: servers a test owns, real Lambda events, and isolated deployments.

pub mod events;
pub mod harness;
pub mod runner;
pub mod servers;

pub use events::{Source, TestRequest, TestResponse};
pub use harness::{invoke, Api, TestEnv, FIXED_CODE};
