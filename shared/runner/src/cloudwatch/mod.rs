//! CloudWatch's `DescribeAlarms` on the invoke port, in the protocol the current AWS SDKs speak
//! to CloudWatch: Smithy RPC v2 CBOR (`POST /service/GraniteServiceVersion20100801/operation/
//! <Operation>`, header `smithy-protocol: rpc-v2-cbor`, CBOR bodies), query-compatible errors
//! (`x-amzn-query-error: <Code>;Sender` beside the CBOR `__type`). It shows the template's
//! rollback alarms ([`crate::alarms`]), each evaluated for its function's deploying version:
//! the target of the latest deployment in flight, else the version `live` points to. Read-only,
//! so any client may call it. [`error`] is the one place a refusal becomes CloudWatch's error.
//!
//! Layout: this file routes a call and maps every refusal to CloudWatch's error ([`error`]);
//! [`cbor`] is the codec; [`describe`] is `DescribeAlarms`.

pub mod cbor;
pub mod describe;

use crate::alarms::{Alarms, Subject};
use crate::codedeploy::CodeDeploy;
use crate::functions::{Functions, LIVE};
use crate::http::{HttpRequest, HttpResponse};
use bytes::Bytes;
use cbor::Cbor;
use minicbor::Encoder;
use std::sync::Arc;

pub const PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";
const PROTOCOL: &str = "rpc-v2-cbor";
const CONTENT_TYPE: &str = "application/cbor";
/// The Smithy namespace of CloudWatch's shapes, in an error's `__type`.
const NAMESPACE: &str = "com.amazonaws.cloudwatch";

/// The operation an RPC v2 CBOR request names, or `None` when the path is not CloudWatch's.
pub fn operation(request: &HttpRequest) -> Option<String> {
    if request.method != "POST" {
        return None;
    }
    request
        .path
        .strip_prefix(PATH_PREFIX)
        .filter(|op| !op.is_empty() && !op.contains('/'))
        .map(str::to_string)
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Not `smithy-protocol: rpc-v2-cbor`, or a body that is not a CBOR map of the input.
    Serialization(String),
    UnknownOperation(String),
    InvalidNextToken,
    InvalidParameterCombination(String),
    InvalidParameterValue(String),
}

/// The answer for a refusal: its shape in `__type`, the query-compatible code in
/// `x-amzn-query-error`, the status its shape declares, the message.
pub fn error(refusal: Refusal) -> HttpResponse {
    let (shape, code, status, message) = match refusal {
        Refusal::Serialization(message) => (
            "SerializationException",
            "SerializationException",
            400,
            message,
        ),
        Refusal::UnknownOperation(operation) => (
            "UnknownOperationException",
            "UnknownOperationException",
            404,
            format!("The local runner does not serve CloudWatch's {operation}."),
        ),
        Refusal::InvalidNextToken => (
            "InvalidNextToken",
            "InvalidNextToken",
            400,
            "The next token specified is invalid.".to_string(),
        ),
        Refusal::InvalidParameterCombination(message) => (
            "InvalidParameterCombinationException",
            "InvalidParameterCombination",
            400,
            message,
        ),
        Refusal::InvalidParameterValue(message) => (
            "InvalidParameterValueException",
            "InvalidParameterValue",
            400,
            message,
        ),
    };
    let body = Cbor::Map(vec![
        ("__type", Cbor::text(format!("{NAMESPACE}#{shape}"))),
        ("message", Cbor::text(message)),
    ]);
    let mut response = answer(status, &body);
    response
        .headers
        .push(("x-amzn-query-error".into(), format!("{code};Sender")));
    response
}

fn answer(status: u16, body: &Cbor) -> HttpResponse {
    let mut encoder = Encoder::new(Vec::new());
    body.encode(&mut encoder);
    HttpResponse {
        status,
        headers: vec![
            ("content-type".into(), CONTENT_TYPE.into()),
            ("smithy-protocol".into(), PROTOCOL.into()),
            ("x-amzn-requestid".into(), crate::ids::uuid()),
        ],
        body: Bytes::from(encoder.into_writer()),
    }
}

pub struct CloudWatch {
    pub alarms: Arc<Alarms>,
    pub functions: Arc<Functions>,
    pub codedeploy: Arc<CodeDeploy>,
    pub region: String,
    pub account_id: String,
    /// When the runner read the template: the alarms' `AlarmConfigurationUpdatedTimestamp`.
    pub configured_ms: u64,
}

impl CloudWatch {
    /// One RPC v2 CBOR call.
    pub fn serve(&self, operation: &str, request: &HttpRequest) -> HttpResponse {
        let protocol = redline_events::request::header(&request.headers, "smithy-protocol");
        if protocol != Some(PROTOCOL) {
            return error(Refusal::Serialization(format!(
                "A Smithy RPC v2 CBOR request carries smithy-protocol: {PROTOCOL}."
            )));
        }
        let answered = match operation {
            "DescribeAlarms" => {
                describe::decode_input(&request.body).and_then(|input| self.describe_alarms(&input))
            }
            other => Err(Refusal::UnknownOperation(other.to_string())),
        };
        match answered {
            Ok(body) => answer(200, &body),
            Err(refusal) => error(refusal),
        }
    }

    /// What a function's rollback alarms are evaluated for now.
    fn subject(&self, function: &str) -> Subject {
        if let Some(flight) = self.codedeploy.in_flight(function) {
            return Subject {
                minute: self.alarms.minute_for(function, &flight.version),
                version: flight.version,
                since: Some(flight.since),
            };
        }
        let version = self
            .functions
            .by_logical_id(function)
            .and_then(|f| f.alias(LIVE).ok())
            .map(|alias| alias.version)
            .unwrap_or_else(|| crate::functions::LATEST.to_string());
        Subject {
            minute: self.alarms.default_minute,
            version,
            since: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use minicbor::Decoder;

    fn request(path: &str) -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            path: path.into(),
            query: String::new(),
            headers: vec![],
            body: Bytes::new(),
            source_ip: "192.0.2.2".into(),
        }
    }

    #[test]
    fn operations_are_named_by_the_rpc_v2_path() {
        let describe = request("/service/GraniteServiceVersion20100801/operation/DescribeAlarms");
        assert_eq!(operation(&describe).as_deref(), Some("DescribeAlarms"));
        assert_eq!(
            operation(&request(
                "/service/GraniteServiceVersion20100801/operation/"
            )),
            None
        );
        assert_eq!(operation(&request("/")), None);
        let mut get = describe.clone();
        get.method = "GET".into();
        assert_eq!(operation(&get), None);
    }

    #[test]
    fn errors_carry_the_shape_the_query_code_and_the_protocol() {
        let response = error(Refusal::InvalidParameterCombination("both".into()));
        assert_eq!(response.status, 400);
        for (name, value) in [
            ("smithy-protocol", "rpc-v2-cbor"),
            ("content-type", "application/cbor"),
            ("x-amzn-query-error", "InvalidParameterCombination;Sender"),
        ] {
            assert!(
                response.headers.contains(&(name.into(), value.into())),
                "{name}: {:?}",
                response.headers
            );
        }
        let mut d = Decoder::new(&response.body);
        assert_eq!(d.map().unwrap(), Some(2));
        assert_eq!(d.str().unwrap(), "__type");
        assert_eq!(
            d.str().unwrap(),
            "com.amazonaws.cloudwatch#InvalidParameterCombinationException"
        );
        assert_eq!(
            error(Refusal::UnknownOperation("PutMetricAlarm".into())).status,
            404
        );
    }
}
