//! The soak under faults (redline_tests::soak), run by `scripts/soak.sh`: one run per
//! `--clients` value, each with its own servers and runner; prints a Markdown report per run.
//!
//! Exit codes: 0 every invariant held in every run; 1 an invariant broke; 2 usage or setup error
//! (bad arguments, a server or the runner that would not start).

use redline_tests::soak::{self, Plan};
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "usage: soak [--flows N] [--clients N]... [--pg-restarts N] \
                     [--redis-restarts N] [--down-ms N]";

struct Args {
    plan: Plan,
    clients: Vec<usize>,
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut plan = Plan {
        flows: 1000,
        clients: 8,
        pg_restarts: 2,
        redis_restarts: 2,
        down_for: Duration::from_secs(2),
    };
    let mut clients = Vec::new();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        let number: usize = value
            .parse()
            .map_err(|_| format!("{flag} {value}: not a number"))?;
        match flag.as_str() {
            "--flows" => plan.flows = number,
            "--clients" => clients.push(number),
            "--pg-restarts" => plan.pg_restarts = number,
            "--redis-restarts" => plan.redis_restarts = number,
            "--down-ms" => plan.down_for = Duration::from_millis(number as u64),
            _ => return Err(format!("unknown argument {flag}")),
        }
    }
    if plan.flows == 0 || clients.contains(&0) {
        return Err("--flows and --clients must be at least 1".into());
    }
    if clients.is_empty() {
        clients.push(plan.clients);
    }
    Ok(Args { plan, clients })
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(problem) => {
            eprintln!("{problem}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    // A helper that cannot set something up panics: that is a setup error, not a verdict.
    let outcome = std::panic::catch_unwind(|| {
        let runtime = tokio::runtime::Runtime::new().expect("a tokio runtime");
        let mut held = true;
        for clients in &args.clients {
            let plan = Plan {
                clients: *clients,
                ..args.plan.clone()
            };
            let report = runtime.block_on(soak::run(&plan));
            println!("{report}");
            held &= report.violations().is_empty();
        }
        held
    });
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(_) => ExitCode::from(2),
    }
}
