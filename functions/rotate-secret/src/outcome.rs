//! What a step did, for the log and the invocation's answer (never a value).

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The version is already AWSCURRENT: a late retry, nothing to do.
    AlreadyCurrent,
    /// createSecret stored the new value as AWSPENDING.
    Created,
    /// createSecret found the AWSPENDING value of an earlier attempt.
    AlreadyCreated,
    /// setSecret changed the outside world (database password, published keys).
    Set,
    /// setSecret found the pending value already in force.
    AlreadySet,
    /// setSecret had nothing to publish to (no verification-keys secret configured).
    NothingToSet,
    Tested,
    /// finishSecret moved AWSCURRENT to the new version.
    Finished,
}
