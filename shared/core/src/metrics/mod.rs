//! Metrics in CloudWatch's Embedded Metric Format: one JSON document per line on stdout, which
//! CloudWatch Logs turns into metrics (and the local runner into Prometheus series).

pub mod catalogue;
pub mod prometheus;

pub use catalogue::{Metric, Unit};
