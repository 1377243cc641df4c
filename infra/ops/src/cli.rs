//! The command line, as operations.md's table has it. clap answers `--help` and exits 2 on a
//! usage error by itself; what is checked here is only the shape of the arguments (an area
//! name, a deployment type, a duration). Checks against the stack (a weight in range, a version
//! that exists) are refusals, made by the commands.

use crate::names;
use clap::builder::PossibleValuesParser;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

/// The live aliases, deployments and rollback alarms of a redline stack, against AWS or the
/// local runner (standard AWS configuration; AWS_ENDPOINT_URL points it at the runner's 3001).
#[derive(Debug, Parser)]
#[command(name = "redline-ops", version)]
pub struct Cli {
    /// The stack: function names are <stack>-<area> (the local runner's is redline-local).
    #[arg(long, global = true, env = "REDLINE_STACK", default_value = "redline")]
    pub stack: String,
    /// One JSON document on stdout instead of text (deploy always writes JSON lines).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Per function: live's versions and weight, the deployment in flight, the rollback
    /// alarms, and drift.
    Status {
        #[arg(long, value_parser = area_parser())]
        function: Option<String>,
    },
    /// Sends a fraction of live's traffic to another version.
    Shift {
        #[arg(long, value_parser = area_parser())]
        function: String,
        /// The version taking the extra weight.
        #[arg(long)]
        to: String,
        /// The fraction of traffic it takes, 0 < W < 1.
        #[arg(long, allow_negative_numbers = true)]
        weight: f64,
        /// Against AWS, move live although no deployment is in flight (drift).
        #[arg(long)]
        force: bool,
    },
    /// Points live at the version taking the extra weight, weights cleared.
    Promote {
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        force: bool,
    },
    /// Stops a deployment in flight with rollback; otherwise points live back at the version
    /// the last successful deployment replaced (or --to).
    Rollback {
        #[command(flatten)]
        which: Which,
        #[arg(long)]
        to: Option<String>,
        #[arg(long)]
        force: bool,
    },
    /// Rehearses a deployment on the local runner.
    Deploy {
        /// Required: the rehearsal runs only against the local runner.
        #[arg(long, required = true)]
        local: bool,
        /// Where the new binaries are (named as the template's BuildProperties.Binary); the
        /// runner must have been started with a --code-dir containing it.
        #[arg(long, default_value = "target/release")]
        bin_dir: PathBuf,
        /// SAM's deployment type.
        #[arg(long = "type", value_parser = PossibleValuesParser::new(names::DEPLOYMENT_TYPES), default_value = "Canary10Percent5Minutes")]
        kind: String,
        /// How long one of CodeDeploy's minutes lasts (500ms, 2s, 1m).
        #[arg(long, value_parser = parse_duration, default_value = "60s")]
        minute: Duration,
    },
}

/// `--function F` or `--all`, exactly one.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct Which {
    #[arg(long, value_parser = area_parser())]
    pub function: Option<String>,
    #[arg(long)]
    pub all: bool,
}

impl Which {
    /// The areas named: one, or all of them.
    pub fn areas(&self) -> Vec<names::Area> {
        areas(self.function.as_deref())
    }
}

/// The areas `--function` names, or every one without it.
pub fn areas(function: Option<&str>) -> Vec<names::Area> {
    match function.and_then(names::area) {
        Some(area) => vec![area],
        None => names::AREAS.to_vec(),
    }
}

fn area_parser() -> PossibleValuesParser {
    PossibleValuesParser::new(names::area_names())
}

/// `500ms`, `2s`, `1m`, or a number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (500ms, 2s, 1m)"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("`{unit}` is not a unit: ms, s or m")),
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err("a duration must be more than zero".into());
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("redline-ops").chain(args.iter().copied()))
    }

    #[test]
    fn commands_parse_as_the_table_has_them() {
        let cli = parse(&["--stack", "s", "status", "--json"]).unwrap();
        assert_eq!(cli.stack, "s");
        assert!(cli.json);
        assert!(matches!(cli.command, Command::Status { function: None }));
        let cli = parse(&[
            "shift",
            "--function",
            "auth",
            "--to",
            "3",
            "--weight",
            "0.1",
        ])
        .unwrap();
        match cli.command {
            Command::Shift {
                function,
                to,
                weight,
                force,
            } => {
                assert_eq!(
                    (function.as_str(), to.as_str(), weight, force),
                    ("auth", "3", 0.1, false)
                );
            }
            other => panic!("{other:?}"),
        }
        let cli = parse(&["promote", "--all", "--force"]).unwrap();
        match cli.command {
            Command::Promote { which, force } => {
                assert!(which.all && force);
                assert_eq!(which.areas().len(), 4);
            }
            other => panic!("{other:?}"),
        }
        let cli = parse(&["rollback", "--function", "users", "--to", "2"]).unwrap();
        match cli.command {
            Command::Rollback { which, to, .. } => {
                assert_eq!(which.areas(), vec![names::area("users").unwrap()]);
                assert_eq!(to.as_deref(), Some("2"));
            }
            other => panic!("{other:?}"),
        }
        let cli = parse(&[
            "deploy",
            "--local",
            "--type",
            "AllAtOnce",
            "--minute",
            "500ms",
        ])
        .unwrap();
        match cli.command {
            Command::Deploy {
                local,
                kind,
                minute,
                bin_dir,
            } => {
                assert!(local);
                assert_eq!(kind, "AllAtOnce");
                assert_eq!(minute, Duration::from_millis(500));
                assert_eq!(bin_dir, PathBuf::from("target/release"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn usage_errors_exit_2() {
        for args in [
            &["status", "--function", "billing"][..],
            &["shift", "--function", "auth", "--to", "2"],
            &[
                "shift",
                "--function",
                "auth",
                "--to",
                "2",
                "--weight",
                "lots",
            ],
            &["promote"],
            &["promote", "--all", "--function", "auth"],
            &["rollback"],
            &["deploy"],
            &["deploy", "--local", "--type", "Canary50Percent1Minute"],
            &["deploy", "--local", "--minute", "soon"],
            &["frobnicate"],
        ] {
            let error = parse(args).expect_err(&format!("{args:?} parses"));
            assert_eq!(error.exit_code(), 2, "{args:?}");
        }
    }

    #[test]
    fn a_weight_out_of_range_parses_and_is_refused_later() {
        // Refusing it is the command's job (exit 1), not a usage error.
        for weight in ["1.5", "-0.2", "0", "1"] {
            assert!(parse(&[
                "shift",
                "--function",
                "auth",
                "--to",
                "2",
                "--weight",
                weight
            ])
            .is_ok());
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_secs(60)));
        for bad in ["", "0s", "x", "5h", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
