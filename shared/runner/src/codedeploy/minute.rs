//! How long one CodeDeploy minute lasts for a deployment on the runner: a runner-only request
//! header on `CreateDeployment`, `x-redline-minute: <milliseconds>`, so that a rehearsal plays
//! a 30-minute canary in seconds. AWS knows no such header; without it a minute is a minute.

use std::time::Duration;

pub const HEADER: &str = "x-redline-minute";
pub const DEFAULT: Duration = Duration::from_secs(60);
/// Below this the alarm polls (every tenth of a minute) would spin.
pub const SHORTEST_MS: u64 = 10;
/// Above an hour a minute is a typo, not a rehearsal.
pub const LONGEST_MS: u64 = 3_600_000;

/// The header's value (absent: [`DEFAULT`]), or why it is refused.
pub fn parse(value: Option<&str>) -> Result<Duration, String> {
    let Some(value) = value else {
        return Ok(DEFAULT);
    };
    match value.trim().parse::<u64>() {
        Ok(ms) if (SHORTEST_MS..=LONGEST_MS).contains(&ms) => Ok(Duration::from_millis(ms)),
        _ => Err(format!(
            "{HEADER} is a CodeDeploy minute's length in milliseconds, from {SHORTEST_MS} to {LONGEST_MS}, not {value:?}."
        )),
    }
}

/// How often the rollback alarms are asked while traffic is shifted: ten times a minute.
pub fn poll(minute: Duration) -> Duration {
    minute / 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minute_is_a_minute_unless_the_caller_says_otherwise_within_bounds() {
        assert_eq!(parse(None), Ok(Duration::from_secs(60)));
        assert_eq!(parse(Some("300")), Ok(Duration::from_millis(300)));
        assert_eq!(parse(Some(" 10 ")), Ok(Duration::from_millis(10)));
        assert_eq!(parse(Some("3600000")), Ok(Duration::from_secs(3600)));
        for bad in ["0", "9", "3600001", "-5", "1.5", "", "soon"] {
            let refused = parse(Some(bad)).unwrap_err();
            assert!(refused.contains(HEADER), "{bad}: {refused}");
        }
        assert_eq!(poll(Duration::from_millis(300)), Duration::from_millis(30));
    }
}
