//! Why a hook run failed, in one type: the log line and the metrics carry its reason; CodeDeploy
//! only learns `Failed`. Messages hold names and statuses, never tokens or passwords.

#[derive(Debug, thiserror::Error)]
pub enum HookFailure {
    /// The configuration or the smoke secret could not be loaded at cold start (held, not an
    /// init error, so that CodeDeploy hears `Failed` instead of waiting an hour).
    #[error("the hook could not start ({error_type}): {message}")]
    Init {
        error_type: &'static str,
        message: String,
    },
    #[error("CodeDeploy {call} failed: {message}")]
    CodeDeploy { call: &'static str, message: String },
    #[error("the deployment has no Lambda function target")]
    NoTarget,
    #[error("{function} is not one of this stack's API functions")]
    UnknownFunction { function: String },
    #[error("the smoke account is locked")]
    SmokeAccountLocked,
    #[error("step {step} failed: {problem}")]
    Step { step: &'static str, problem: String },
}

impl HookFailure {
    /// A short, stable reason: what the `failedStep` property and the alarms' readers see.
    pub fn reason(&self) -> String {
        match self {
            HookFailure::Init { error_type, .. } => (*error_type).to_string(),
            HookFailure::CodeDeploy { .. } => "codedeploy".into(),
            HookFailure::NoTarget => "no-target".into(),
            HookFailure::UnknownFunction { .. } => "unknown-function".into(),
            HookFailure::SmokeAccountLocked => "smoke-account-locked".into(),
            HookFailure::Step { step, .. } => (*step).to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_failure_has_its_reason() {
        let cases = [
            (
                HookFailure::Init {
                    error_type: "Runtime.SecretsUnavailable",
                    message: "x".into(),
                },
                "Runtime.SecretsUnavailable",
            ),
            (
                HookFailure::CodeDeploy {
                    call: "GetDeployment",
                    message: "x".into(),
                },
                "codedeploy",
            ),
            (HookFailure::NoTarget, "no-target"),
            (
                HookFailure::UnknownFunction {
                    function: "x".into(),
                },
                "unknown-function",
            ),
            (HookFailure::SmokeAccountLocked, "smoke-account-locked"),
            (
                HookFailure::Step {
                    step: "auth-login",
                    problem: "401".into(),
                },
                "auth-login",
            ),
        ];
        for (failure, reason) in cases {
            assert_eq!(failure.reason(), reason, "{failure}");
        }
    }
}
