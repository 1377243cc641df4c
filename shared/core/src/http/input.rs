//! A matched request as a handler sees it: the event, its decoded JSON body, its path parameters.

use super::request::{decode, Incoming};
use crate::error::ApiError;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub struct Input<'a> {
    pub incoming: &'a Incoming,
    pub body: Map<String, Value>,
    pub params: Vec<(String, String)>,
}

impl Input<'_> {
    pub fn body<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        decode(&self.body)
    }

    /// The version serving this request: the alias Lambda was invoked through (`live`), else
    /// the published version.
    pub fn version(&self) -> String {
        self.incoming
            .invoked_arn
            .as_deref()
            .and_then(|arn| arn.split(':').nth(7))
            .map(str::to_string)
            .unwrap_or_else(crate::telemetry::function_version)
    }

    /// A path parameter, percent-decoded (a `+` stays a `+` in a path).
    pub fn param(&self, name: &str) -> String {
        let raw = self
            .params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        percent_encoding::percent_decode_str(raw)
            .decode_utf8_lossy()
            .into_owned()
    }
}
