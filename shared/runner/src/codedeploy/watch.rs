//! What a deployment asks while it shifts traffic: is one of its rollback alarms in ALARM? The
//! deployment (in [`super::deployment`]) asks; the alarm evaluator (CloudWatch on the invoke port)
//! answers. The two meet only here.

use std::time::{Duration, SystemTime};

/// What the deploying version's rollback alarms say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// None of the alarms is in ALARM.
    Quiet,
    /// This alarm (its name) is in ALARM: roll back.
    Alarm(String),
    /// This alarm (its name) cannot be evaluated locally, and why. Never skipped: the deployment
    /// stops and names it.
    Unevaluable { alarm: String, reason: String },
}

/// The question a deployment asks of its rollback alarms.
pub struct Question<'a> {
    /// The function's logical id in the template (`AuthFunction`).
    pub function: &'a str,
    /// The version being deployed (the target of the AppSpec).
    pub version: &'a str,
    /// The deployment group's alarm names (`alarmConfiguration.alarms[].name`).
    pub alarms: &'a [String],
    /// When the deployment started: datapoints before it are not evaluated.
    pub since: SystemTime,
    /// How long one CloudWatch minute lasts for this deployment (a 60 s period lasts this long).
    pub minute: Duration,
}

pub trait RollbackWatch: Send + Sync {
    fn check(&self, question: &Question<'_>) -> Verdict;
}

/// No alarms to watch (a deployment group without an alarm configuration).
pub struct NoAlarms;

impl RollbackWatch for NoAlarms {
    fn check(&self, _: &Question<'_>) -> Verdict {
        Verdict::Quiet
    }
}

/// A function's deployment in flight, as `DescribeAlarms` needs it: the version its rollback
/// alarms are about and when the deployment started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    pub version: String,
    pub since: SystemTime,
}
