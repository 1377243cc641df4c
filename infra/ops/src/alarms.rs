//! A function's rollback alarms and their states: CloudWatch `DescribeAlarms` with the prefix
//! `<stack>-<area>-rollback-` (the template's names; at most 10 per function, one page).

use crate::aws::{lookup, Endpoints};
use crate::error::OpsError;
use crate::names;
use aws_sdk_cloudwatch::Client;
use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    pub name: String,
    /// `OK`, `ALARM` or `INSUFFICIENT_DATA`.
    pub state: String,
    pub reason: Option<String>,
}

impl Alarm {
    pub fn to_json(&self) -> Value {
        json!({"name": self.name, "state": self.state})
    }
}

pub async fn rollback_alarms(
    client: &Client,
    endpoints: &Endpoints,
    stack: &str,
    area: &str,
) -> Result<Vec<Alarm>, OpsError> {
    let answer = client
        .describe_alarms()
        .alarm_name_prefix(names::rollback_alarm_prefix(stack, area))
        .max_records(100)
        .send()
        .await;
    let answer = lookup(
        &endpoints.cloudwatch,
        "CloudWatch",
        "DescribeAlarms",
        answer.map(Some),
        || None,
    )?;
    let Some(answer) = answer else {
        return Ok(Vec::new());
    };
    let mut alarms: Vec<Alarm> = answer
        .metric_alarms()
        .iter()
        .map(|alarm| Alarm {
            name: alarm.alarm_name().unwrap_or_default().to_string(),
            state: alarm
                .state_value()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            reason: alarm.state_reason().map(str::to_string),
        })
        .collect();
    alarms.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(alarms)
}
