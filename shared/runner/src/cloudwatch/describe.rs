//! `DescribeAlarms`: its input, the filters (`AlarmNames` or `AlarmNamePrefix`, `StateValue`,
//! `AlarmTypes`, `ActionPrefix`, `MaxRecords` and `NextToken`), and each alarm as a
//! `MetricAlarm`, its state evaluated for its function's deploying version.

use super::cbor::{malformed, more, text, texts, Cbor};
use super::{CloudWatch, Refusal};
use crate::alarms::definition::{Definition, DimensionValue, EntryKind, MetricStat, Source};
use crate::alarms::evaluate::StateValue;
use crate::alarms::State;
use minicbor::data::Type;
use minicbor::Decoder;

/// `DescribeAlarms`' page when `MaxRecords` is not given (CloudWatch's), and its largest.
const DEFAULT_PAGE: usize = 50;
const LARGEST_PAGE: i64 = 100;

/// `DescribeAlarmsInput`, the members the runner looks at.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Input {
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

pub(super) fn decode_input(body: &[u8]) -> Result<Input, Refusal> {
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

impl CloudWatch {
    pub(super) fn describe_alarms(&self, input: &Input) -> Result<Cbor, Refusal> {
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
    use minicbor::Encoder;

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
}
