//! The event Secrets Manager sends a rotation function, once per step.

use serde::Deserialize;
use std::fmt;

/// `{"SecretId", "ClientRequestToken", "Step"}`; other fields (such as `RotationToken`) are
/// ignored.
#[derive(Debug, Clone, Deserialize)]
pub struct RotationEvent {
    #[serde(rename = "SecretId")]
    pub secret_id: String,
    /// The id of the version being rotated in (the AWSPENDING version).
    #[serde(rename = "ClientRequestToken")]
    pub token: String,
    #[serde(rename = "Step")]
    pub step: Step,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Step {
    #[serde(rename = "createSecret")]
    Create,
    #[serde(rename = "setSecret")]
    Set,
    #[serde(rename = "testSecret")]
    Test,
    #[serde(rename = "finishSecret")]
    Finish,
}

impl Step {
    pub fn name(self) -> &'static str {
        match self {
            Step::Create => "createSecret",
            Step::Set => "setSecret",
            Step::Test => "testSecret",
            Step::Finish => "finishSecret",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_secrets_manager_event_and_ignores_extra_fields() {
        let event: RotationEvent = serde_json::from_str(
            r#"{"SecretId":"arn:x","ClientRequestToken":"t1","Step":"testSecret","RotationToken":"r"}"#,
        )
        .unwrap();
        assert_eq!(event.secret_id, "arn:x");
        assert_eq!(event.token, "t1");
        assert_eq!(event.step, Step::Test);
        assert_eq!(event.step.to_string(), "testSecret");
    }

    #[test]
    fn refuses_an_unknown_step() {
        let parsed = serde_json::from_str::<RotationEvent>(
            r#"{"SecretId":"a","ClientRequestToken":"t","Step":"dropSecret"}"#,
        );
        assert!(parsed.is_err());
    }
}
