//! redline's reader of AWS SAM / CloudFormation templates, for the local runner, the tests, the
//! ops command and the CDK parity check: one model of `template.yaml`, read one way.
//!
//! Read in this order:
//! - [`model`]: the resource model the runner serves (functions, routes, CORS, parameters,
//!   conditions), built from a template's YAML;
//! - [`globals`]: SAM's `Globals` rule, the one way a function's properties are merged;
//! - [`intrinsics`]: intrinsic functions in either form, and the [`Resolver`] that evaluates
//!   them (and the `Conditions`) for given parameters;
//! - [`logging`]: a function's `LoggingConfig`, resolved with Lambda's defaults (the format and
//!   the log levels the runner filters by and hands to the function);
//! - [`json`]: a template value in CloudFormation's JSON form, to compare with what SAM's
//!   transform (`scripts/sam-transform.py`) or the CDK produce.

pub mod globals;
pub mod intrinsics;
pub mod json;
pub mod logging;
pub mod model;

pub use globals::{effective_properties, Globals};
pub use intrinsics::{intrinsic, Resolver, Unresolved};
pub use logging::{LogFormat, LogLevel, Logging, LoggingSpec};
pub use model::{
    scalar_string, ApiKind, CorsSpec, FunctionSpec, RouteSpec, Template, TemplateError,
};
