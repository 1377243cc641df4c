//! The template's rollback alarms, evaluated on the runner as CloudWatch would evaluate them on
//! the metrics each version emits. Read in this order: [`definition`] reads the alarms from the
//! template, [`datapoints`] keeps what the functions emitted (EMF documents and the runner's
//! Lambda `Invocations`/`Errors`), [`expression`] is metric math, [`evaluate`] turns an alarm's
//! datapoints into a state. This file remembers each alarm's state per version (for
//! `StateUpdatedTimestamp` and `TreatMissingData: ignore`) and answers the deployments'
//! question ([`crate::codedeploy::watch::RollbackWatch`]); `crate::cloudwatch` shows the
//! states on the wire.

pub mod datapoints;
pub mod definition;
pub mod evaluate;
pub mod expression;

use crate::codedeploy::watch::{Question, RollbackWatch, Verdict};
use datapoints::Datapoints;
use definition::Definition;
use evaluate::{StateValue, Window};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// An alarm's state for one version, as `DescribeAlarms` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub value: StateValue,
    pub reason: String,
    /// When the value last changed, epoch milliseconds.
    pub updated_ms: u64,
    /// The alarm cannot be evaluated locally (`reason` says why).
    pub unevaluable: bool,
}

/// What to evaluate an alarm for: a version, since when, at which minute.
#[derive(Debug, Clone)]
pub struct Subject {
    pub version: String,
    /// The deployment's start; `None` outside a deployment.
    pub since: Option<SystemTime>,
    pub minute: Duration,
}

pub struct Alarms {
    definitions: Vec<Definition>,
    pub datapoints: Arc<Datapoints>,
    /// By alarm name and version.
    states: Mutex<HashMap<(String, String), State>>,
    /// The minute each function's latest deployment asked with, and for which version.
    asked: Mutex<HashMap<String, (String, Duration)>>,
    /// A minute's length outside a deployment (`--alarm-minute`).
    pub default_minute: Duration,
}

fn epoch_ms(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Alarms {
    /// The alarms and the store sized for them: it keeps only the series they read, for as
    /// long as the longest of them looks back.
    pub fn new(definitions: Vec<Definition>, default_minute: Duration) -> Alarms {
        let interests = definitions.iter().flat_map(Definition::interests).collect();
        let horizon = definitions
            .iter()
            .map(Definition::look_back_minutes)
            .max()
            .unwrap_or(1);
        Alarms {
            datapoints: Arc::new(Datapoints::new(interests, horizon, default_minute)),
            definitions,
            states: Mutex::new(HashMap::new()),
            asked: Mutex::new(HashMap::new()),
            default_minute,
        }
    }

    pub fn definitions(&self) -> &[Definition] {
        &self.definitions
    }

    pub fn definition(&self, name: &str) -> Option<&Definition> {
        self.definitions.iter().find(|d| d.name == name)
    }

    /// The minute to evaluate a function's version with: its deployment's, when one asked
    /// about this version, else the runner's.
    pub fn minute_for(&self, function: &str, version: &str) -> Duration {
        match self.asked.lock().expect("not poisoned").get(function) {
            Some((asked, minute)) if asked == version => *minute,
            _ => self.default_minute,
        }
    }

    /// Evaluates an alarm for a subject now, and remembers the state.
    pub fn evaluate(&self, alarm: &Definition, subject: &Subject) -> State {
        self.datapoints.minute_in_use(subject.minute);
        let now_ms = crate::ids::now_ms();
        self.datapoints.prune(now_ms);
        let window = Window {
            now_ms,
            origin_ms: subject.since.map(epoch_ms).unwrap_or(0),
            minute: subject.minute,
        };
        let key = (alarm.name.clone(), subject.version.clone());
        let mut states = self.states.lock().expect("not poisoned");
        let previous = states.get(&key).cloned();
        let previous_value = previous
            .as_ref()
            .map(|s| s.value)
            .unwrap_or(StateValue::InsufficientData);
        let (value, reason, unevaluable) =
            match evaluate::datapoints(alarm, &subject.version, &self.datapoints, window) {
                Ok(range) => {
                    let evaluation = evaluate::decide(alarm, &range, previous_value);
                    (evaluation.state, evaluation.reason, false)
                }
                Err(reason) => (
                    StateValue::InsufficientData,
                    format!("The local runner cannot evaluate this alarm: {reason}."),
                    true,
                ),
            };
        let updated_ms = match previous {
            Some(previous) if previous.value == value => previous.updated_ms,
            _ => now_ms,
        };
        let state = State {
            value,
            reason,
            updated_ms,
            unevaluable,
        };
        states.insert(key, state.clone());
        state
    }
}

impl RollbackWatch for Alarms {
    /// Every alarm the deployment names is evaluated; one that cannot be is the answer (never
    /// skipped), else the first in ALARM, else quiet.
    fn check(&self, question: &Question<'_>) -> Verdict {
        self.asked.lock().expect("not poisoned").insert(
            question.function.to_string(),
            (question.version.to_string(), question.minute),
        );
        let subject = Subject {
            version: question.version.to_string(),
            since: Some(question.since),
            minute: question.minute,
        };
        let mut alarmed = None;
        for name in question.alarms {
            let Some(alarm) = self.definition(name) else {
                return Verdict::Unevaluable {
                    alarm: name.clone(),
                    reason: "it is not one of the template's rollback alarms".into(),
                };
            };
            let state = self.evaluate(alarm, &subject);
            if state.unevaluable {
                return Verdict::Unevaluable {
                    alarm: name.clone(),
                    reason: alarm.problem.clone().unwrap_or(state.reason),
                };
            }
            if state.value == StateValue::Alarm && alarmed.is_none() {
                alarmed = Some(name.clone());
            }
        }
        match alarmed {
            Some(name) => Verdict::Alarm(name),
            None => Verdict::Quiet,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use definition::{Comparison, DimensionValue, MetricStat, Source, Stat, TreatMissing};

    fn errors_alarm(name: &str, problem: Option<&str>) -> Definition {
        Definition {
            name: name.into(),
            logical_id: "E".into(),
            function: "AuthFunction".into(),
            description: None,
            source: Source::Single(MetricStat {
                namespace: "AWS/Lambda".into(),
                metric: "Errors".into(),
                dimensions: vec![
                    ("FunctionName".into(), DimensionValue::Fixed("f".into())),
                    ("Resource".into(), DimensionValue::Fixed("f:live".into())),
                    (
                        "ExecutedVersion".into(),
                        DimensionValue::VersionOf("AuthFunction".into()),
                    ),
                ],
                stat: Stat::Sum,
                stat_text: "Sum".into(),
                period_s: 60,
            }),
            period_s: 60,
            evaluation_periods: 3,
            datapoints_to_alarm: 1,
            comparison: Comparison::GreaterThanThreshold,
            threshold: 0.0,
            treat_missing: TreatMissing::NotBreaching,
            problem: problem.map(String::from),
        }
    }

    fn question<'a>(alarms: &'a [String]) -> Question<'a> {
        Question {
            function: "AuthFunction",
            version: "2",
            alarms,
            since: SystemTime::now() - Duration::from_millis(50),
            minute: Duration::from_millis(200),
        }
    }

    #[test]
    fn a_deployment_hears_alarm_for_its_version_only_and_unevaluable_alarms_by_name() {
        let alarms = Alarms::new(
            vec![
                errors_alarm("errors", None),
                errors_alarm("broken", Some("the runner has no AWS/ApiGateway metrics")),
            ],
            Duration::from_secs(60),
        );
        let names = ["errors".to_string()];
        assert_eq!(alarms.check(&question(&names)), Verdict::Quiet);
        let now = crate::ids::now_ms();
        alarms.datapoints.record_invocation(
            "f",
            Some("live"),
            "1",
            datapoints::Invocation::Failed,
            now,
        );
        assert_eq!(
            alarms.check(&question(&names)),
            Verdict::Quiet,
            "version 1 is not deployed"
        );
        alarms.datapoints.record_invocation(
            "f",
            Some("live"),
            "2",
            datapoints::Invocation::Failed,
            now,
        );
        assert_eq!(
            alarms.check(&question(&names)),
            Verdict::Alarm("errors".into())
        );
        assert_eq!(
            alarms.minute_for("AuthFunction", "2"),
            Duration::from_millis(200)
        );
        assert_eq!(
            alarms.minute_for("AuthFunction", "1"),
            Duration::from_secs(60)
        );

        let with_broken = ["errors".to_string(), "broken".to_string()];
        match alarms.check(&question(&with_broken)) {
            Verdict::Unevaluable { alarm, reason } => {
                assert_eq!(alarm, "broken");
                assert!(reason.contains("AWS/ApiGateway"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let unknown = ["nowhere".to_string()];
        assert!(matches!(
            alarms.check(&question(&unknown)),
            Verdict::Unevaluable { alarm, .. } if alarm == "nowhere"
        ));
    }
}
