//! The staging labels of a secret's versions, and the check every step starts with.

use crate::error::Failure;
use std::collections::HashMap;

pub const CURRENT: &str = "AWSCURRENT";
pub const PENDING: &str = "AWSPENDING";
pub const PREVIOUS: &str = "AWSPREVIOUS";

/// Version id → its staging labels (DescribeSecret's `VersionIdsToStages`).
pub type VersionStages = HashMap<String, Vec<String>>;

/// Where the rotated version stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenState {
    /// Already AWSCURRENT: the rotation is over, every step is a no-op (a late retry).
    Current,
    /// AWSPENDING: the step has work to do.
    Pending,
}

/// AWSCURRENT wins over AWSPENDING (after finishSecret a version can carry both); anything else
/// is refused, so a stray or stale token can never change the secret.
pub fn token_state(versions: &VersionStages, token: &str) -> Result<TokenState, Failure> {
    let stages = versions.get(token).map(Vec::as_slice).unwrap_or_default();
    let has = |label: &str| stages.iter().any(|stage| stage == label);
    if has(CURRENT) {
        Ok(TokenState::Current)
    } else if has(PENDING) {
        Ok(TokenState::Pending)
    } else {
        Err(Failure::NotPending {
            token: token.to_string(),
        })
    }
}

/// The version that holds AWSCURRENT, if any.
pub fn current_version(versions: &VersionStages) -> Option<&str> {
    versions
        .iter()
        .find(|(_, stages)| stages.iter().any(|stage| stage == CURRENT))
        .map(|(id, _)| id.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn versions(entries: &[(&str, &[&str])]) -> VersionStages {
        entries
            .iter()
            .map(|(id, stages)| {
                (
                    id.to_string(),
                    stages.iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn pending_current_and_refused_tokens() {
        let v = versions(&[
            ("old", &[PREVIOUS]),
            ("cur", &[CURRENT]),
            ("new", &[PENDING]),
            ("done", &[PENDING, CURRENT]),
        ]);
        assert_eq!(token_state(&v, "new").unwrap(), TokenState::Pending);
        assert_eq!(token_state(&v, "cur").unwrap(), TokenState::Current);
        assert_eq!(token_state(&v, "done").unwrap(), TokenState::Current);
        for refused in ["old", "unknown"] {
            let error = token_state(&v, refused).unwrap_err();
            assert!(error.to_string().contains("not pending for rotation"));
        }
    }

    #[test]
    fn finds_the_current_version() {
        let v = versions(&[("a", &[PREVIOUS]), ("b", &[CURRENT])]);
        assert_eq!(current_version(&v), Some("b"));
        assert_eq!(current_version(&versions(&[("a", &[PENDING])])), None);
    }
}
