//! One evaluation of one alarm for one version, as CloudWatch evaluates: the datapoints of each
//! period (a statistic of a metric, or a metric-math expression of several), then M out of N
//! with missing data treated as `TreatMissingData` says.
//!
//! Time: a period of `Period` seconds lasts `Period / 60` minutes of the evaluation's minute, so
//! a rehearsal with a 200 ms minute sees a 60 s period in 200 ms. Periods are counted from the
//! deployment's start (`since`; before it nothing counts) or, outside a deployment, from the
//! epoch, and the newest period is the current one as it stands, so an alarm can fire within
//! the minute its errors happen. As CloudWatch does, the evaluation looks [`RANGE`] times
//! further back than `EvaluationPeriods` when datapoints are missing.

use super::datapoints::{Datapoints, SeriesKey};
use super::definition::{
    Definition, DimensionValue, EntryKind, MetricStat, Source, Stat, TreatMissing,
};
use std::collections::HashMap;
use std::time::Duration;

/// How many times `EvaluationPeriods` an evaluation looks back for real datapoints.
pub const RANGE: u64 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateValue {
    Ok,
    Alarm,
    InsufficientData,
}

impl StateValue {
    pub fn as_str(self) -> &'static str {
        match self {
            StateValue::Ok => "OK",
            StateValue::Alarm => "ALARM",
            StateValue::InsufficientData => "INSUFFICIENT_DATA",
        }
    }

    pub fn parse(text: &str) -> Option<StateValue> {
        Some(match text {
            "OK" => StateValue::Ok,
            "ALARM" => StateValue::Alarm,
            "INSUFFICIENT_DATA" => StateValue::InsufficientData,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    pub state: StateValue,
    pub reason: String,
}

/// Where the periods are: the clock now, their origin and the length of a minute.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub now_ms: u64,
    /// The deployment's start (periods before it are missing), else 0.
    pub origin_ms: u64,
    pub minute: Duration,
}

/// A statistic of one period's values; `None` when it has none.
pub fn statistic(stat: Stat, values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    Some(match stat {
        Stat::Sum => values.iter().sum(),
        Stat::Average => values.iter().sum::<f64>() / n,
        Stat::Maximum => values.iter().copied().fold(f64::MIN, f64::max),
        Stat::Minimum => values.iter().copied().fold(f64::MAX, f64::min),
        Stat::SampleCount => n,
        Stat::Percentile(p) => {
            // Nearest rank: the smallest value with at least p % of the values at or below it.
            values.sort_by(f64::total_cmp);
            let rank = ((p / 100.0) * n).ceil().max(1.0) as usize;
            values[rank.min(values.len()) - 1]
        }
    })
}

fn series(metric: &MetricStat, function: &str, version: &str) -> Result<SeriesKey, String> {
    let mut dimensions = Vec::new();
    for (name, value) in &metric.dimensions {
        let value = match value {
            DimensionValue::Fixed(value) => value.clone(),
            DimensionValue::VersionOf(of) if of == function => version.to_string(),
            DimensionValue::VersionOf(of) => {
                return Err(format!(
                    "it reads the version of {of}, not of the function it watches ({function})"
                ))
            }
        };
        dimensions.push((name.clone(), value));
    }
    Ok(SeriesKey::new(
        &metric.namespace,
        &metric.metric,
        dimensions,
    ))
}

/// The alarm's datapoint for each period of the evaluation range, oldest first (`None`:
/// missing). Errors when the definition cannot be evaluated.
pub fn datapoints(
    alarm: &Definition,
    version: &str,
    store: &Datapoints,
    window: Window,
) -> Result<Vec<Option<f64>>, String> {
    if let Some(problem) = &alarm.problem {
        return Err(problem.clone());
    }
    let length_ms = (alarm.period_s as u128 * window.minute.as_millis() / 60).max(1) as u64;
    let current = window.now_ms.saturating_sub(window.origin_ms) / length_ms;
    let periods = u64::from(alarm.evaluation_periods) * RANGE;
    let mut out = Vec::new();
    for back in (0..periods).rev() {
        let Some(index) = current.checked_sub(back) else {
            out.push(None);
            continue;
        };
        let from = window.origin_ms + index * length_ms;
        let to = from + length_ms;
        let of = |metric: &MetricStat| -> Result<Option<f64>, String> {
            let key = series(metric, &alarm.function, version)?;
            Ok(statistic(metric.stat, &mut store.values(&key, from, to)))
        };
        out.push(match &alarm.source {
            Source::Single(metric) => of(metric)?,
            Source::Math(entries) => {
                let mut values = HashMap::new();
                let mut result = None;
                for entry in entries {
                    match &entry.kind {
                        EntryKind::Metric(metric) => {
                            values.insert(entry.id.as_str(), of(metric)?);
                        }
                        EntryKind::Expression(_, Some(expr)) if entry.return_data => {
                            result = Some(expr);
                        }
                        EntryKind::Expression(..) => {}
                    }
                }
                let expr = result.ok_or("no expression returns data")?;
                expr.eval(&|id| values.get(id).copied().flatten())
            }
            Source::Unreadable => return Err("no metric to read".into()),
        });
    }
    Ok(out)
}

fn list(values: &[f64]) -> String {
    let shown: Vec<String> = values.iter().map(|v| format!("{v}")).collect();
    format!("[{}]", shown.join(", "))
}

/// M out of N on the range's datapoints (oldest first), as CloudWatch decides: with at least N
/// real datapoints the newest N decide and `TreatMissingData` plays no part; with fewer, every
/// real one counts and the missing ones fill in as the treatment says (`ignore` keeps
/// `previous` when there is no datapoint at all, `missing` goes to INSUFFICIENT_DATA).
pub fn decide(alarm: &Definition, range: &[Option<f64>], previous: StateValue) -> Evaluation {
    let (n, m) = (
        alarm.evaluation_periods as usize,
        alarm.datapoints_to_alarm as usize,
    );
    let real: Vec<f64> = range.iter().flatten().copied().collect();
    let newest = &real[real.len().saturating_sub(n)..];
    let breaching = newest
        .iter()
        .filter(|v| alarm.comparison.breaches(**v, alarm.threshold))
        .count();
    let filled = n.saturating_sub(newest.len());
    let (counted, note) = match alarm.treat_missing {
        TreatMissing::Breaching if filled > 0 => (
            breaching + filled,
            format!(" and {filled} missing, treated as breaching"),
        ),
        _ if filled > 0 => (breaching, format!(" ({filled} missing)")),
        _ => (breaching, String::new()),
    };
    if newest.is_empty() {
        match alarm.treat_missing {
            TreatMissing::Missing => {
                return Evaluation {
                    state: StateValue::InsufficientData,
                    reason: format!(
                        "Insufficient Data: no datapoint in the last {} periods.",
                        range.len()
                    ),
                }
            }
            TreatMissing::Ignore => {
                return Evaluation {
                    state: previous,
                    reason: "No datapoint: the state is kept (TreatMissingData ignore).".into(),
                }
            }
            _ => {}
        }
    }
    let state = if counted >= m {
        StateValue::Alarm
    } else {
        StateValue::Ok
    };
    let verb = if state == StateValue::Alarm {
        "Threshold Crossed"
    } else {
        "Threshold Not Crossed"
    };
    Evaluation {
        state,
        reason: format!(
            "{verb}: {counted} out of the last {n} datapoints {}{note} were {} the threshold ({}) (minimum {m} datapoints for ALARM).",
            list(newest),
            alarm.comparison.words(),
            alarm.threshold
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alarms::datapoints::Interest;
    use crate::alarms::definition::{Comparison, MathEntry};
    use crate::alarms::expression;

    fn alarm(n: u32, m: u32, missing: TreatMissing) -> Definition {
        Definition {
            name: "a".into(),
            logical_id: "A".into(),
            function: "AuthFunction".into(),
            description: None,
            source: Source::Unreadable,
            period_s: 60,
            evaluation_periods: n,
            datapoints_to_alarm: m,
            comparison: Comparison::GreaterThanThreshold,
            threshold: 5.0,
            treat_missing: missing,
            problem: None,
        }
    }

    const X: Option<f64> = Some(50.0);
    const O: Option<f64> = Some(1.0);
    const NONE: Option<f64> = None;

    fn state(alarm: &Definition, range: &[Option<f64>], previous: StateValue) -> StateValue {
        decide(alarm, range, previous).state
    }

    #[test]
    fn m_out_of_n_counts_the_newest_n_real_datapoints() {
        let two_of_three = alarm(3, 2, TreatMissing::NotBreaching);
        let ok = StateValue::Ok;
        assert_eq!(
            state(&two_of_three, &[O, O, O, X, O, X], ok),
            StateValue::Alarm
        );
        assert_eq!(
            state(&two_of_three, &[X, X, O, O, O, X], ok),
            StateValue::Ok
        );
        // Real datapoints further back count when the newest periods are missing.
        assert_eq!(
            state(&two_of_three, &[O, X, X, NONE, NONE, O], ok),
            StateValue::Alarm
        );
        let three_of_three = alarm(3, 3, TreatMissing::NotBreaching);
        assert_eq!(
            state(&three_of_three, &[O, O, O, X, X, O], ok),
            StateValue::Ok
        );
        assert_eq!(
            state(&three_of_three, &[O, O, O, X, X, X], ok),
            StateValue::Alarm
        );
        let reason = decide(&two_of_three, &[O, O, O, X, O, X], ok).reason;
        assert!(
            reason.contains("2 out of the last 3") && reason.contains("greater than"),
            "{reason}"
        );
    }

    #[test]
    fn missing_data_is_treated_as_the_alarm_says() {
        let few = [NONE, NONE, NONE, NONE, X, NONE];
        let none = [NONE; 6];
        let was = StateValue::Alarm;
        let of = |missing| alarm(3, 2, missing);
        assert_eq!(
            state(&of(TreatMissing::NotBreaching), &few, was),
            StateValue::Ok
        );
        assert_eq!(
            state(&of(TreatMissing::Breaching), &few, was),
            StateValue::Alarm
        );
        assert_eq!(state(&of(TreatMissing::Ignore), &few, was), StateValue::Ok);
        assert_eq!(state(&of(TreatMissing::Missing), &few, was), StateValue::Ok);
        assert_eq!(
            state(&of(TreatMissing::NotBreaching), &none, was),
            StateValue::Ok
        );
        assert_eq!(
            state(&of(TreatMissing::Breaching), &none, was),
            StateValue::Alarm
        );
        assert_eq!(
            state(&of(TreatMissing::Ignore), &none, was),
            StateValue::Alarm,
            "kept"
        );
        assert_eq!(
            state(&of(TreatMissing::Ignore), &none, StateValue::Ok),
            StateValue::Ok
        );
        assert_eq!(
            state(&of(TreatMissing::Missing), &none, was),
            StateValue::InsufficientData
        );
    }

    #[test]
    fn p99_is_the_nearest_rank_and_the_other_statistics_are_cloudwatchs() {
        let mut values: Vec<f64> = (1..=200).map(f64::from).collect();
        assert_eq!(statistic(Stat::Percentile(99.0), &mut values), Some(198.0));
        assert_eq!(
            statistic(Stat::Percentile(99.0), &mut [2500.0]),
            Some(2500.0)
        );
        let mut few = [3.0, 1.0, 2.0];
        assert_eq!(statistic(Stat::Sum, &mut few), Some(6.0));
        assert_eq!(statistic(Stat::Average, &mut few), Some(2.0));
        assert_eq!(statistic(Stat::Maximum, &mut few), Some(3.0));
        assert_eq!(statistic(Stat::Minimum, &mut few), Some(1.0));
        assert_eq!(statistic(Stat::SampleCount, &mut few), Some(3.0));
        assert_eq!(statistic(Stat::Sum, &mut []), None);
    }

    fn metric(name: &str, stat: Stat) -> MetricStat {
        MetricStat {
            namespace: "Redline".into(),
            metric: name.into(),
            dimensions: vec![(
                "Version".into(),
                DimensionValue::VersionOf("AuthFunction".into()),
            )],
            stat,
            stat_text: String::new(),
            period_s: 60,
        }
    }

    #[test]
    fn the_if_expression_over_periods_of_a_short_minute_trips_the_rate_alarm() {
        let mut rate = alarm(3, 2, TreatMissing::NotBreaching);
        rate.source = Source::Math(vec![
            MathEntry {
                id: "requests".into(),
                label: None,
                return_data: false,
                kind: EntryKind::Metric(metric("Requests", Stat::Sum)),
            },
            MathEntry {
                id: "errors".into(),
                label: None,
                return_data: false,
                kind: EntryKind::Metric(metric("ServerErrors", Stat::Sum)),
            },
            MathEntry {
                id: "rate".into(),
                label: None,
                return_data: true,
                kind: EntryKind::Expression(
                    String::new(),
                    Some(
                        expression::parse("IF(requests >= 10, 100 * errors / requests, 0)")
                            .unwrap(),
                    ),
                ),
            },
        ]);
        let store = Datapoints::new(
            rate.interests()
                .into_iter()
                .collect::<std::collections::BTreeSet<Interest>>(),
            rate.look_back_minutes(),
            Duration::from_millis(100),
        );
        let key = |name: &str, version: &str| {
            SeriesKey::new("Redline", name, vec![("Version".into(), version.into())])
        };
        // Deployment at 1000 ms, 100 ms minutes. Period 0: 10 requests, 1 error (10 %).
        // Period 1: 5 requests, all errors (under the guard: 0). Period 2: 20 requests, 2
        // errors (10 %). Version 2 (the old one) fails everything: not this alarm's business.
        for (period, requests, errors) in [(0u64, 10, 1), (1, 5, 5), (2, 20, 2)] {
            for i in 0..requests {
                let at = 1000 + period * 100 + i;
                store.record(key("Requests", "3"), at, &[1.0]);
                store.record(
                    key("ServerErrors", "3"),
                    at,
                    &[if i < errors { 1.0 } else { 0.0 }],
                );
                store.record(key("ServerErrors", "2"), at, &[1.0]);
            }
        }
        let at = |now_ms| Window {
            now_ms,
            origin_ms: 1000,
            minute: Duration::from_millis(100),
        };
        let range = datapoints(&rate, "3", &store, at(1150)).unwrap();
        assert_eq!(range, vec![None, None, None, None, Some(10.0), Some(0.0)]);
        assert_eq!(decide(&rate, &range, StateValue::Ok).state, StateValue::Ok);
        let range = datapoints(&rate, "3", &store, at(1250)).unwrap();
        assert_eq!(range[3..], [Some(10.0), Some(0.0), Some(10.0)]);
        assert_eq!(
            decide(&rate, &range, StateValue::Ok).state,
            StateValue::Alarm
        );
        let old = datapoints(&rate, "2", &store, at(1250)).unwrap();
        assert_eq!(old, vec![None; 6], "version 2 has no Requests");
    }

    #[test]
    fn an_unevaluable_alarm_says_why() {
        let mut broken = alarm(3, 2, TreatMissing::NotBreaching);
        broken.problem = Some("the runner has no AWS/ApiGateway metrics".into());
        let store = Datapoints::new(Default::default(), 1, Duration::from_secs(60));
        let window = Window {
            now_ms: 0,
            origin_ms: 0,
            minute: Duration::from_secs(60),
        };
        let refused = datapoints(&broken, "1", &store, window).unwrap_err();
        assert!(refused.contains("AWS/ApiGateway"), "{refused}");
        let mut other = alarm(1, 1, TreatMissing::NotBreaching);
        let mut errors = metric("Errors", Stat::Sum);
        errors.dimensions = vec![(
            "Version".into(),
            DimensionValue::VersionOf("UsersFunction".into()),
        )];
        other.source = Source::Single(errors);
        let refused = datapoints(&other, "1", &store, window).unwrap_err();
        assert!(refused.contains("UsersFunction"), "{refused}");
    }
}
