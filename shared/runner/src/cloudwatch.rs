//! CloudWatch's `DescribeAlarms` on the invoke port, in the protocol the current AWS SDKs speak
//! to CloudWatch: Smithy RPC v2 CBOR (`POST /service/GraniteServiceVersion20100801/operation/
//! <Operation>`, header `smithy-protocol: rpc-v2-cbor`, CBOR bodies), query-compatible errors
//! (`x-amzn-query-error: <Code>;Sender` beside the CBOR `__type`). It shows the template's
//! rollback alarms ([`crate::alarms`]), each evaluated for its function's deploying version:
//! the target of the latest deployment in flight, else the version `live` points to. Read-only,
//! so any client may call it. [`error`] is the one place a refusal becomes CloudWatch's error.

use crate::alarms::definition::{Definition, DimensionValue, EntryKind, MetricStat, Source};
use crate::alarms::evaluate::StateValue;
use crate::alarms::{Alarms, State, Subject};
use crate::codedeploy::CodeDeploy;
use crate::functions::{Functions, LIVE};
use crate::http::{HttpRequest, HttpResponse};
use bytes::Bytes;
use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};
use std::sync::Arc;

pub const PATH_PREFIX: &str = "/service/GraniteServiceVersion20100801/operation/";
const PROTOCOL: &str = "rpc-v2-cbor";
const CONTENT_TYPE: &str = "application/cbor";
/// The Smithy namespace of CloudWatch's shapes, in an error's `__type`.
const NAMESPACE: &str = "com.amazonaws.cloudwatch";
/// `DescribeAlarms`' page when `MaxRecords` is not given (CloudWatch's), and its largest.
const DEFAULT_PAGE: usize = 50;
const LARGEST_PAGE: i64 = 100;

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

/// What the answers are made of; encoded with definite lengths, doubles as 64-bit floats and
/// timestamps as tag 1 over epoch seconds, as the SDKs' decoders expect.
#[derive(Debug, Clone, PartialEq)]
enum Cbor {
    Text(String),
    Int(i64),
    Double(f64),
    Bool(bool),
    Timestamp(f64),
    List(Vec<Cbor>),
    Map(Vec<(&'static str, Cbor)>),
}

impl Cbor {
    fn text(text: impl Into<String>) -> Cbor {
        Cbor::Text(text.into())
    }

    fn encode(&self, e: &mut Encoder<Vec<u8>>) {
        // Writing into a Vec cannot fail.
        let _ = match self {
            Cbor::Text(text) => e.str(text).map(|_| ()),
            Cbor::Int(n) => e.i64(*n).map(|_| ()),
            Cbor::Double(x) => e.f64(*x).map(|_| ()),
            Cbor::Bool(b) => e.bool(*b).map(|_| ()),
            Cbor::Timestamp(seconds) => {
                e.tag(Tag::new(1)).and_then(|e| e.f64(*seconds)).map(|_| ())
            }
            Cbor::List(items) => {
                let _ = e.array(items.len() as u64);
                items.iter().for_each(|item| item.encode(e));
                Ok(())
            }
            Cbor::Map(members) => {
                let _ = e.map(members.len() as u64);
                for (key, value) in members {
                    let _ = e.str(key);
                    value.encode(e);
                }
                Ok(())
            }
        };
    }
}

/// `DescribeAlarmsInput`, the members the runner looks at.
#[derive(Debug, Default, PartialEq)]
struct Input {
    alarm_names: Option<Vec<String>>,
    alarm_name_prefix: Option<String>,
    alarm_types: Option<Vec<String>>,
    children_of: Option<String>,
    parents_of: Option<String>,
    state_value: Option<String>,
    action_prefix: Option<String>,
    max_records: Option<i64>,
    next_token: Option<String>,
}

fn malformed(e: minicbor::decode::Error) -> Refusal {
    Refusal::Serialization(format!(
        "The request body is not the operation's CBOR input: {e}"
    ))
}

/// A definite or indefinite container's length, and whether the next item is its end.
fn more(d: &mut Decoder<'_>, left: &mut Option<u64>) -> Result<bool, Refusal> {
    match left {
        Some(0) => Ok(false),
        Some(n) => {
            *n -= 1;
            Ok(true)
        }
        None if d.datatype().map_err(malformed)? == Type::Break => {
            d.skip().map_err(malformed)?;
            Ok(false)
        }
        None => Ok(true),
    }
}

fn text(d: &mut Decoder<'_>) -> Result<String, Refusal> {
    let mut out = String::new();
    for part in d.str_iter().map_err(malformed)? {
        out.push_str(part.map_err(malformed)?);
    }
    Ok(out)
}

fn texts(d: &mut Decoder<'_>) -> Result<Vec<String>, Refusal> {
    let mut left = d.array().map_err(malformed)?;
    let mut out = Vec::new();
    while more(d, &mut left)? {
        out.push(text(d)?);
    }
    Ok(out)
}

fn decode_input(body: &[u8]) -> Result<Input, Refusal> {
    let mut input = Input::default();
    if body.is_empty() {
        return Ok(input);
    }
    let d = &mut Decoder::new(body);
    let mut left = d.map().map_err(malformed)?;
    while more(d, &mut left)? {
        let key = text(d)?;
        // A null member is an absent one.
        if d.datatype().map_err(malformed)? == Type::Null {
            d.skip().map_err(malformed)?;
            continue;
        }
        match key.as_str() {
            "AlarmNames" => input.alarm_names = Some(texts(d)?),
            "AlarmNamePrefix" => input.alarm_name_prefix = Some(text(d)?),
            "AlarmTypes" => input.alarm_types = Some(texts(d)?),
            "ChildrenOfAlarmName" => input.children_of = Some(text(d)?),
            "ParentsOfAlarmName" => input.parents_of = Some(text(d)?),
            "StateValue" => input.state_value = Some(text(d)?),
            "ActionPrefix" => input.action_prefix = Some(text(d)?),
            "MaxRecords" => input.max_records = Some(d.i64().map_err(malformed)?),
            "NextToken" => input.next_token = Some(text(d)?),
            _ => d.skip().map_err(malformed)?,
        }
    }
    Ok(input)
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
                decode_input(&request.body).and_then(|input| self.describe_alarms(&input))
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

    fn describe_alarms(&self, input: &Input) -> Result<Cbor, Refusal> {
        if input.alarm_names.is_some() && input.alarm_name_prefix.is_some() {
            return Err(Refusal::InvalidParameterCombination(
                "AlarmNames and AlarmNamePrefix cannot be given together.".into(),
            ));
        }
        let state_filter = match &input.state_value {
            None => None,
            Some(text) => Some(StateValue::parse(text).ok_or_else(|| {
                Refusal::InvalidParameterValue(format!(
                    "StateValue is OK, ALARM or INSUFFICIENT_DATA, not {text}."
                ))
            })?),
        };
        let page = match input.max_records {
            None => DEFAULT_PAGE,
            Some(n) if (1..=LARGEST_PAGE).contains(&n) => n as usize,
            Some(n) => {
                return Err(Refusal::InvalidParameterValue(format!(
                    "MaxRecords is from 1 to {LARGEST_PAGE}, not {n}."
                )))
            }
        };
        let start = match &input.next_token {
            None => 0,
            Some(token) => token
                .strip_prefix("alarms-from-")
                .and_then(|n| n.parse::<usize>().ok())
                .ok_or(Refusal::InvalidNextToken)?,
        };
        let types = input.alarm_types.as_deref().unwrap_or_default();
        // The runner has metric alarms only: no composite alarm has children or parents.
        let metric_alarms_asked = (types.is_empty() || types.iter().any(|t| t == "MetricAlarm"))
            && input.children_of.is_none()
            && input.parents_of.is_none()
            // No rollback alarm has actions.
            && input.action_prefix.is_none();
        let mut chosen: Vec<&Definition> = self
            .alarms
            .definitions()
            .iter()
            .filter(|_| metric_alarms_asked)
            .filter(|d| match (&input.alarm_names, &input.alarm_name_prefix) {
                (Some(names), _) => names.contains(&d.name),
                (_, Some(prefix)) => d.name.starts_with(prefix.as_str()),
                _ => true,
            })
            .collect();
        chosen.sort_by(|a, b| a.name.cmp(&b.name));
        chosen.dedup_by(|a, b| a.name == b.name);
        let mut shown = Vec::new();
        for definition in chosen {
            let subject = self.subject(&definition.function);
            let state = self.alarms.evaluate(definition, &subject);
            if state_filter.is_none_or(|wanted| wanted == state.value) {
                shown.push(self.metric_alarm(definition, &subject.version, &state));
            }
        }
        let total = shown.len();
        if start > total {
            return Err(Refusal::InvalidNextToken);
        }
        let end = (start + page).min(total);
        let mut members = vec![(
            "MetricAlarms",
            Cbor::List(shown.drain(start..end).collect()),
        )];
        if types.iter().any(|t| t == "CompositeAlarm") {
            members.push(("CompositeAlarms", Cbor::List(Vec::new())));
        }
        if end < total {
            members.push(("NextToken", Cbor::text(format!("alarms-from-{end}"))));
        }
        Ok(Cbor::Map(members))
    }

    /// `MetricAlarm`, its dimensions filled in for `version`.
    fn metric_alarm(&self, alarm: &Definition, version: &str, state: &State) -> Cbor {
        let seconds = |ms: u64| Cbor::Timestamp(ms as f64 / 1000.0);
        let mut members = vec![
            ("AlarmName", Cbor::text(&alarm.name)),
            (
                "AlarmArn",
                Cbor::text(format!(
                    "arn:aws:cloudwatch:{}:{}:alarm:{}",
                    self.region, self.account_id, alarm.name
                )),
            ),
        ];
        if let Some(description) = &alarm.description {
            members.push(("AlarmDescription", Cbor::text(description)));
        }
        members.extend([
            (
                "AlarmConfigurationUpdatedTimestamp",
                seconds(self.configured_ms),
            ),
            ("ActionsEnabled", Cbor::Bool(true)),
            ("OKActions", Cbor::List(Vec::new())),
            ("AlarmActions", Cbor::List(Vec::new())),
            ("InsufficientDataActions", Cbor::List(Vec::new())),
            ("StateValue", Cbor::text(state.value.as_str())),
            ("StateReason", Cbor::text(&state.reason)),
            ("StateUpdatedTimestamp", seconds(state.updated_ms)),
            ("StateTransitionedTimestamp", seconds(state.updated_ms)),
        ]);
        match &alarm.source {
            Source::Single(metric) => {
                members.push(("Namespace", Cbor::text(&metric.namespace)));
                members.push(("MetricName", Cbor::text(&metric.metric)));
                let stat = if metric.stat_text.starts_with('p') {
                    "ExtendedStatistic"
                } else {
                    "Statistic"
                };
                members.push((stat, Cbor::text(&metric.stat_text)));
                members.push(("Dimensions", dimensions(metric, version)));
                members.push(("Period", Cbor::Int(metric.period_s as i64)));
            }
            Source::Math(entries) => {
                let queries = entries
                    .iter()
                    .map(|entry| {
                        let mut query = vec![("Id", Cbor::text(&entry.id))];
                        match &entry.kind {
                            EntryKind::Metric(metric) => query.push((
                                "MetricStat",
                                Cbor::Map(vec![
                                    (
                                        "Metric",
                                        Cbor::Map(vec![
                                            ("Namespace", Cbor::text(&metric.namespace)),
                                            ("MetricName", Cbor::text(&metric.metric)),
                                            ("Dimensions", dimensions(metric, version)),
                                        ]),
                                    ),
                                    ("Period", Cbor::Int(metric.period_s as i64)),
                                    ("Stat", Cbor::text(&metric.stat_text)),
                                ]),
                            )),
                            EntryKind::Expression(text, _) => {
                                query.push(("Expression", Cbor::text(text)))
                            }
                        }
                        if let Some(label) = &entry.label {
                            query.push(("Label", Cbor::text(label)));
                        }
                        query.push(("ReturnData", Cbor::Bool(entry.return_data)));
                        Cbor::Map(query)
                    })
                    .collect();
                members.push(("Metrics", Cbor::List(queries)));
            }
            Source::Unreadable => {}
        }
        members.extend([
            (
                "EvaluationPeriods",
                Cbor::Int(alarm.evaluation_periods.into()),
            ),
            (
                "DatapointsToAlarm",
                Cbor::Int(alarm.datapoints_to_alarm.into()),
            ),
            ("Threshold", Cbor::Double(alarm.threshold)),
            ("ComparisonOperator", Cbor::text(alarm.comparison.as_str())),
            ("TreatMissingData", Cbor::text(alarm.treat_missing.as_str())),
        ]);
        if state.unevaluable {
            members.push(("EvaluationState", Cbor::text("EVALUATION_ERROR")));
        }
        Cbor::Map(members)
    }
}

fn dimensions(metric: &MetricStat, version: &str) -> Cbor {
    Cbor::List(
        metric
            .dimensions
            .iter()
            .map(|(name, value)| {
                let value = match value {
                    DimensionValue::Fixed(value) => value.as_str(),
                    DimensionValue::VersionOf(_) => version,
                };
                Cbor::Map(vec![
                    ("Name", Cbor::text(name)),
                    ("Value", Cbor::text(value)),
                ])
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn the_input_is_read_from_definite_and_indefinite_cbor() {
        let mut e = Encoder::new(Vec::new());
        e.begin_map().unwrap();
        e.str("AlarmNames").unwrap().begin_array().unwrap();
        e.str("a").unwrap().str("b").unwrap().end().unwrap();
        e.str("StateValue").unwrap().str("ALARM").unwrap();
        e.str("MaxRecords").unwrap().i64(7).unwrap();
        e.str("Unknown")
            .unwrap()
            .map(1)
            .unwrap()
            .str("x")
            .unwrap()
            .u32(1)
            .unwrap();
        e.str("NextToken").unwrap().null().unwrap();
        e.end().unwrap();
        let input = decode_input(&e.into_writer()).unwrap();
        assert_eq!(
            input,
            Input {
                alarm_names: Some(vec!["a".into(), "b".into()]),
                state_value: Some("ALARM".into()),
                max_records: Some(7),
                ..Input::default()
            }
        );
        assert_eq!(decode_input(&[]).unwrap(), Input::default());
        assert!(matches!(
            decode_input(b"{\"json\": 1}"),
            Err(Refusal::Serialization(_))
        ));
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

    #[test]
    fn doubles_are_64_bit_floats_and_timestamps_tag_1() {
        let mut e = Encoder::new(Vec::new());
        Cbor::Map(vec![
            ("Threshold", Cbor::Double(5.0)),
            ("At", Cbor::Timestamp(1.5)),
        ])
        .encode(&mut e);
        let bytes = e.into_writer();
        let mut d = Decoder::new(&bytes);
        d.map().unwrap();
        d.str().unwrap();
        assert_eq!(
            d.datatype().unwrap(),
            Type::F64,
            "5.0 is not shortened to an integer"
        );
        d.f64().unwrap();
        d.str().unwrap();
        assert_eq!(d.tag().unwrap(), Tag::new(1));
        assert_eq!(d.f64().unwrap(), 1.5);
    }
}
