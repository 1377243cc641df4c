//! Deployment types and the schedule each plays. The nine Lambda configurations SAM's
//! `DeploymentPreference.Type` maps to are known by name; a type's schedule is a list of steps
//! (hooks, traffic shifts, waits counted in CodeDeploy minutes, whose length the deployment
//! decides), so adding one is adding its steps. `AllAtOnce` moves everything at once; a canary
//! moves its percentage, waits its minutes and moves the rest; a linear type moves its percentage
//! more every interval until all of it.

/// One step of a deployment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step {
    /// Invoke the `BeforeAllowTraffic` hook and wait for its report.
    BeforeAllowTraffic,
    /// Send this share of the alias's traffic to the target version (1.0: all of it, which
    /// points the alias at it).
    Shift(f64),
    /// Wait this many CodeDeploy minutes, with the traffic as it is (a canary's or a linear
    /// step's interval), watching the rollback alarms.
    Wait { minutes: u32 },
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

    /// The steps the runner plays for this type.
    pub fn steps(self) -> Vec<Step> {
        let mut steps = vec![Step::BeforeAllowTraffic];
        match self {
            DeploymentType::AllAtOnce => {}
            DeploymentType::Canary { percent, minutes } => {
                steps.push(Step::Shift(f64::from(percent) / 100.0));
                steps.push(Step::Wait { minutes });
            }
            DeploymentType::Linear {
                percent,
                every_minutes,
            } => {
                // Whole percentages, so that 3 × 10 % is 0.3 and not 0.30000000000000004.
                let mut share = percent;
                while share < 100 {
                    steps.push(Step::Shift(f64::from(share) / 100.0));
                    steps.push(Step::Wait {
                        minutes: every_minutes,
                    });
                    share += percent;
                }
            }
        }
        steps.push(Step::Shift(1.0));
        steps.push(Step::AfterAllowTraffic);
        steps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nine_lambda_configurations_are_known_by_name() {
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
            vec![
                Step::BeforeAllowTraffic,
                Step::Shift(1.0),
                Step::AfterAllowTraffic
            ]
        );
    }

    #[test]
    fn a_canary_moves_ten_percent_waits_then_moves_the_rest() {
        let canary =
            DeploymentType::from_config_name("CodeDeployDefault.LambdaCanary10Percent15Minutes");
        assert_eq!(
            canary.unwrap().steps(),
            vec![
                Step::BeforeAllowTraffic,
                Step::Shift(0.1),
                Step::Wait { minutes: 15 },
                Step::Shift(1.0),
                Step::AfterAllowTraffic
            ]
        );
    }

    #[test]
    fn a_linear_type_moves_ten_percent_more_every_interval() {
        let linear = DeploymentType::from_config_name(
            "CodeDeployDefault.LambdaLinear10PercentEvery3Minutes",
        )
        .unwrap();
        let steps = linear.steps();
        let shifts: Vec<f64> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Shift(w) => Some(*w),
                _ => None,
            })
            .collect();
        assert_eq!(
            shifts,
            vec![0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]
        );
        let waits = steps
            .iter()
            .filter(|s| **s == Step::Wait { minutes: 3 })
            .count();
        assert_eq!(waits, 9, "a wait after every partial shift");
        assert_eq!(steps.first(), Some(&Step::BeforeAllowTraffic));
        assert_eq!(steps.last(), Some(&Step::AfterAllowTraffic));
        assert_eq!(steps[steps.len() - 2], Step::Shift(1.0));
    }
}
