//! Why a command did not do what it was asked, in one type, and the one mapping from failure to
//! exit code and stable reason. Messages say what to do next and hold names, versions and ids,
//! never credentials: an SDK error is kept as its display text, which names the call and the
//! endpoint but no key.

/// A failure: refused (exit 1), a rehearsal that ended rolled back (exit 1), or the endpoint or a
/// credential failed (exit 3). Usage errors never get here: clap exits 2 on its own.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpsError {
    #[error("the weight must be between 0 and 1, both excluded (got {weight})")]
    WeightOutOfRange { weight: f64 },
    #[error("{function} has no version {version} (published: {published})")]
    UnknownVersion {
        function: String,
        version: String,
        published: String,
    },
    #[error("version {version} of {function} is already live's primary version: give another version to shift traffic to")]
    AlreadyPrimary { function: String, version: String },
    #[error("CodeDeploy is shifting {function}:live (deployment {deployment}); only `redline-ops rollback` may change it now (StopDeployment with rollback)")]
    DeploymentInFlight {
        function: String,
        deployment: String,
    },
    #[error("no deployment is in flight: this moves {function}:live off the version CloudFormation recorded, and the next deploy of the stack then fails until live is put back. Add --force to do it anyway")]
    NeedsForce { function: String },
    #[error(
        "{function} has no successful deployment to roll back from: give the version with --to"
    )]
    NothingToRollBackTo { function: String },
    #[error("{function} has no live alias ({detail}): is --stack right? (the local runner's stack is redline-local)")]
    NoLiveAlias { function: String, detail: String },
    #[error("{function}:live changed while this command ran ({detail}): look at `redline-ops status` and run it again")]
    AliasChanged { function: String, detail: String },
    #[error("{function}:live refused the change: {detail}")]
    AliasRefused { function: String, detail: String },
    #[error("deployment {deployment} of {function} succeeded before it could be stopped: live is on version {version}; run `redline-ops rollback` again to go back")]
    FinishedBeforeStop {
        function: String,
        deployment: String,
        version: String,
    },
    #[error("deploy --local rehearses on the local runner only: set AWS_ENDPOINT_URL to its invoke port on a loopback address (now: {endpoint})")]
    NotLocal { endpoint: String },
    #[error("{step} failed: {detail}")]
    RehearsalStep { step: &'static str, detail: String },
    #[error("the deployment of {functions} rolled back")]
    RolledBack { functions: String },
    #[error("{service} {call} failed: {detail}")]
    Endpoint {
        service: &'static str,
        call: &'static str,
        detail: String,
    },
    #[error("{service} {call} failed on the credentials ({detail}): check AWS_PROFILE or the AWS_* variables")]
    Credentials {
        service: &'static str,
        call: &'static str,
        detail: String,
    },
    #[error("deployment {deployment} of {function} did not end within {seconds} s")]
    NotFinished {
        function: String,
        deployment: String,
        seconds: u64,
    },
}

impl OpsError {
    /// The process's exit code: 1 refused or rolled back, 3 the endpoint or a credential failed.
    pub fn exit_code(&self) -> u8 {
        match self {
            OpsError::Endpoint { .. } | OpsError::Credentials { .. } => 3,
            OpsError::NotFinished { .. } => 3,
            _ => 1,
        }
    }

    /// A short, stable reason, for `--json` readers and the JSON-lines events.
    pub fn reason(&self) -> &'static str {
        match self {
            OpsError::WeightOutOfRange { .. } => "weight-out-of-range",
            OpsError::UnknownVersion { .. } => "unknown-version",
            OpsError::AlreadyPrimary { .. } => "already-primary",
            OpsError::DeploymentInFlight { .. } => "deployment-in-flight",
            OpsError::NeedsForce { .. } => "needs-force",
            OpsError::NothingToRollBackTo { .. } => "nothing-to-roll-back-to",
            OpsError::NoLiveAlias { .. } => "no-live-alias",
            OpsError::AliasChanged { .. } => "alias-changed",
            OpsError::AliasRefused { .. } => "alias-refused",
            OpsError::FinishedBeforeStop { .. } => "finished-before-stop",
            OpsError::NotLocal { .. } => "not-local",
            OpsError::RehearsalStep { .. } => "rehearsal-step",
            OpsError::RolledBack { .. } => "rolled-back",
            OpsError::Endpoint { .. } => "endpoint",
            OpsError::Credentials { .. } => "credentials",
            OpsError::NotFinished { .. } => "not-finished",
        }
    }

    /// Whether the whole command must stop (the endpoint is not to be trusted for the next
    /// function either), rather than report this function refused and go on.
    pub fn aborts(&self) -> bool {
        self.exit_code() == 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f() -> String {
        "redline-auth".into()
    }

    #[test]
    fn every_failure_has_its_exit_code_reason_and_message() {
        let cases: Vec<(OpsError, u8, &str, &str)> = vec![
            (
                OpsError::WeightOutOfRange { weight: 1.5 },
                1,
                "weight-out-of-range",
                "the weight must be between 0 and 1, both excluded (got 1.5)",
            ),
            (
                OpsError::UnknownVersion {
                    function: f(),
                    version: "9".into(),
                    published: "1, 2".into(),
                },
                1,
                "unknown-version",
                "redline-auth has no version 9 (published: 1, 2)",
            ),
            (
                OpsError::AlreadyPrimary {
                    function: f(),
                    version: "2".into(),
                },
                1,
                "already-primary",
                "version 2 of redline-auth is already live's primary version: give another version to shift traffic to",
            ),
            (
                OpsError::DeploymentInFlight {
                    function: f(),
                    deployment: "d-1".into(),
                },
                1,
                "deployment-in-flight",
                "CodeDeploy is shifting redline-auth:live (deployment d-1); only `redline-ops rollback` may change it now (StopDeployment with rollback)",
            ),
            (
                OpsError::NeedsForce { function: f() },
                1,
                "needs-force",
                "no deployment is in flight: this moves redline-auth:live off the version CloudFormation recorded, and the next deploy of the stack then fails until live is put back. Add --force to do it anyway",
            ),
            (
                OpsError::NothingToRollBackTo { function: f() },
                1,
                "nothing-to-roll-back-to",
                "redline-auth has no successful deployment to roll back from: give the version with --to",
            ),
            (
                OpsError::NoLiveAlias {
                    function: f(),
                    detail: "ResourceNotFoundException".into(),
                },
                1,
                "no-live-alias",
                "redline-auth has no live alias (ResourceNotFoundException): is --stack right? (the local runner's stack is redline-local)",
            ),
            (
                OpsError::AliasChanged {
                    function: f(),
                    detail: "PreconditionFailedException".into(),
                },
                1,
                "alias-changed",
                "redline-auth:live changed while this command ran (PreconditionFailedException): look at `redline-ops status` and run it again",
            ),
            (
                OpsError::AliasRefused {
                    function: f(),
                    detail: "bad".into(),
                },
                1,
                "alias-refused",
                "redline-auth:live refused the change: bad",
            ),
            (
                OpsError::FinishedBeforeStop {
                    function: f(),
                    deployment: "d-1".into(),
                    version: "3".into(),
                },
                1,
                "finished-before-stop",
                "deployment d-1 of redline-auth succeeded before it could be stopped: live is on version 3; run `redline-ops rollback` again to go back",
            ),
            (
                OpsError::NotLocal {
                    endpoint: "none (AWS)".into(),
                },
                1,
                "not-local",
                "deploy --local rehearses on the local runner only: set AWS_ENDPOINT_URL to its invoke port on a loopback address (now: none (AWS))",
            ),
            (
                OpsError::RehearsalStep {
                    step: "migrate",
                    detail: "x".into(),
                },
                1,
                "rehearsal-step",
                "migrate failed: x",
            ),
            (
                OpsError::RolledBack {
                    functions: "redline-auth".into(),
                },
                1,
                "rolled-back",
                "the deployment of redline-auth rolled back",
            ),
            (
                OpsError::Endpoint {
                    service: "Lambda",
                    call: "GetAlias",
                    detail: "connection refused".into(),
                },
                3,
                "endpoint",
                "Lambda GetAlias failed: connection refused",
            ),
            (
                OpsError::Credentials {
                    service: "Lambda",
                    call: "GetAlias",
                    detail: "UnrecognizedClientException".into(),
                },
                3,
                "credentials",
                "Lambda GetAlias failed on the credentials (UnrecognizedClientException): check AWS_PROFILE or the AWS_* variables",
            ),
            (
                OpsError::NotFinished {
                    function: f(),
                    deployment: "d-1".into(),
                    seconds: 60,
                },
                3,
                "not-finished",
                "deployment d-1 of redline-auth did not end within 60 s",
            ),
        ];
        for (error, code, reason, message) in cases {
            assert_eq!(error.exit_code(), code, "{error}");
            assert_eq!(error.reason(), reason, "{error}");
            assert_eq!(error.to_string(), message);
            assert_eq!(error.aborts(), code == 3);
        }
    }
}
