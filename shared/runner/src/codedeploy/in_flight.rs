//! Which version each function is being deployed to, for CloudWatch's `DescribeAlarms` on the
//! invoke port: a rollback alarm shows its state for the target of the function's latest
//! deployment in flight.

use super::watch::InFlight;
use super::CodeDeploy;
use std::time::{Duration, UNIX_EPOCH};

impl CodeDeploy {
    /// The latest deployment of the function (a logical id) still in flight, if any.
    pub fn in_flight(&self, function: &str) -> Option<InFlight> {
        let deployments = self.deployments.lock().expect("not poisoned");
        deployments
            .iter()
            .rev()
            .find(|d| d.in_flight() && d.function.template.logical_id == function)
            .map(|d| InFlight {
                version: d.appspec.target_version.clone(),
                since: UNIX_EPOCH + Duration::from_secs_f64(d.created),
            })
    }
}
