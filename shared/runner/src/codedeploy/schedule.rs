//! Deployment types and the schedule each plays. The nine Lambda configurations SAM's
//! `DeploymentPreference.Type` maps to are known by name; a type's schedule is a list of steps
//! (hooks, traffic shifts, waits), so adding one is adding its steps. The runner plays
//! `AllAtOnce` (blue-green); canary and linear schedules come with issue 10, part 2.

use std::time::Duration;

/// One step of a deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Invoke the `BeforeAllowTraffic` hook and wait for its report.
    BeforeAllowTraffic,
    /// Send this share of the alias's traffic to the target version (1.0: all of it, which
    /// points the alias at it).
    Shift(f64),
    /// Wait, with the traffic as it is (a canary's or a linear step's interval).
    Wait(Duration),
    /// Invoke the `AfterAllowTraffic` hook and wait for its report.
    AfterAllowTraffic,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentType {
    AllAtOnce,
    Canary { percent: u32, minutes: u32 },
    Linear { percent: u32, every_minutes: u32 },
}

/// The configuration CodeDeploy applies when `CreateDeployment` names none.
pub const DEFAULT_CONFIG: &str = "CodeDeployDefault.LambdaAllAtOnce";

impl DeploymentType {
    /// The type a `deploymentConfigName` names (`CodeDeployDefault.Lambda<Type>`).
    pub fn from_config_name(name: &str) -> Option<DeploymentType> {
        let kind = name.strip_prefix("CodeDeployDefault.Lambda")?;
        Some(match kind {
            "AllAtOnce" => DeploymentType::AllAtOnce,
            "Canary10Percent5Minutes" => Self::canary(5),
            "Canary10Percent10Minutes" => Self::canary(10),
            "Canary10Percent15Minutes" => Self::canary(15),
            "Canary10Percent30Minutes" => Self::canary(30),
            "Linear10PercentEvery1Minute" => Self::linear(1),
            "Linear10PercentEvery2Minutes" => Self::linear(2),
            "Linear10PercentEvery3Minutes" => Self::linear(3),
            "Linear10PercentEvery10Minutes" => Self::linear(10),
            _ => return None,
        })
    }

    fn canary(minutes: u32) -> DeploymentType {
        DeploymentType::Canary {
            percent: 10,
            minutes,
        }
    }

    fn linear(every_minutes: u32) -> DeploymentType {
        DeploymentType::Linear {
            percent: 10,
            every_minutes,
        }
    }

    /// The steps the runner plays for this type, or `None` when it cannot play it yet.
    pub fn steps(self) -> Option<Vec<Step>> {
        match self {
            DeploymentType::AllAtOnce => Some(vec![
                Step::BeforeAllowTraffic,
                Step::Shift(1.0),
                Step::AfterAllowTraffic,
            ]),
            DeploymentType::Canary { .. } | DeploymentType::Linear { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nine_lambda_configurations_are_known_and_all_at_once_is_played() {
        let names = [
            "AllAtOnce",
            "Canary10Percent5Minutes",
            "Canary10Percent10Minutes",
            "Canary10Percent15Minutes",
            "Canary10Percent30Minutes",
            "Linear10PercentEvery1Minute",
            "Linear10PercentEvery2Minutes",
            "Linear10PercentEvery3Minutes",
            "Linear10PercentEvery10Minutes",
        ];
        for name in names {
            let config = format!("CodeDeployDefault.Lambda{name}");
            assert!(
                DeploymentType::from_config_name(&config).is_some(),
                "{name}"
            );
        }
        assert_eq!(
            DeploymentType::from_config_name("CodeDeployDefault.LambdaCanary10Percent45Minutes"),
            None
        );
        let all_at_once = DeploymentType::from_config_name(DEFAULT_CONFIG).unwrap();
        assert_eq!(
            all_at_once.steps(),
            Some(vec![
                Step::BeforeAllowTraffic,
                Step::Shift(1.0),
                Step::AfterAllowTraffic
            ])
        );
        assert_eq!(DeploymentType::canary(5).steps(), None);
    }
}
