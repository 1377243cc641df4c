//! Operational functions: handlers that take plain Lambda events rather than HTTP.

pub mod migrate;
