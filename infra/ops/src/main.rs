//! `redline-ops`: one command for a stack's `live` aliases, against AWS or the local runner,
//! through the AWS SDK's standard configuration (`AWS_ENDPOINT_URL` points it at the runner's
//! invoke port). operations.md, "Operations command", is the contract.
//!
//! Read `cli` (the arguments), `names` (what the template names), `aws` (the clients and where
//! they point), then the lookups `lambda`, `codedeploy` and `alarms`, `status`, the `commands`,
//! and `deploy_local` (the rehearsal). `error` maps every failure to its message and exit code.

mod alarms;
mod aws;
mod cli;
mod codedeploy;
mod commands;
mod deploy_local;
mod error;
mod lambda;
mod names;
mod status;
mod time;

use clap::Parser;
use cli::{Cli, Command};
use commands::Context;
use error::OpsError;
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints usage errors and exits 2 itself.
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime starts");
    let json = cli.json;
    match runtime.block_on(run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(error) => {
            if json {
                let document = serde_json::json!({"error": {
                    "reason": error.reason(), "message": error.to_string()}});
                println!("{document}");
            }
            eprintln!("redline-ops: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// Runs the command, prints what it did, and answers the exit code.
async fn run(cli: Cli) -> Result<u8, OpsError> {
    let context = Context {
        aws: aws::Aws::load().await,
        stack: cli.stack,
    };
    let report = match cli.command {
        Command::Status { function } => {
            let areas = cli::areas(function.as_deref());
            let rendered = commands::status::run(&context, &areas, cli.json).await?;
            println!("{}", rendered.trim_end());
            return Ok(0);
        }
        Command::Shift {
            function,
            to,
            weight,
            force,
        } => {
            let area = names::area(&function).expect("clap checked the area name");
            commands::shift::run(&context, area, &to, weight, force).await?
        }
        Command::Promote { which, force } => {
            commands::promote::run(&context, &which.areas(), force).await?
        }
        Command::Rollback { which, to, force } => {
            commands::rollback::run(&context, &which.areas(), to.as_deref(), force).await?
        }
        Command::Deploy {
            local: _,
            bin_dir,
            kind,
            minute,
        } => {
            let plan = deploy_local::Plan {
                bin_dir,
                kind,
                minute,
            };
            deploy_local::run(&context, &plan).await?;
            return Ok(0);
        }
    };
    for warning in report.warnings() {
        eprintln!("{warning}");
    }
    if cli.json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(report.exit_code())
}
