//! Test support for redline: servers a test owns, real Lambda events, and isolated deployments.

pub mod areas;
pub mod custom_resource;
pub mod deploy;
pub mod emf;
pub mod events;
pub mod harness;
pub mod load;
pub mod openapi;
pub mod ops;
pub mod rie;
pub mod roles;
pub mod runner;
pub mod secrets_stack;
pub mod servers;
pub mod soak;
pub mod stack;
pub mod totp;

pub use events::{Source, TestRequest, TestResponse};
pub use harness::{invoke, Api, TestEnv, FIXED_CODE};
