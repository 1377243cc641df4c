//! The local rehearsal, measured: `redline-ops deploy --local` of a new build of every API
//! function and migrate (each release binary with a few bytes appended: new code, same
//! behaviour) on the runner with the real template and the real traffic hooks, under a steady
//! load on port 3000 (4 clients, 5 ms apart, asking health, greeter and auth's JWKS). Per
//! deployment type at a 1 s minute: the whole command's duration, and the answers by the version
//! that served them and their status. Then the latency of each `redline-ops` command against the
//! runner (median of 15), beside the floor measured in the same run: `redline-ops --version`, a
//! process start that makes no call.
//!
//! Needs PostgreSQL and Redis. Run: `scripts/bench.sh rehearsal`.

use redline_tests::deploy::{deployment_runner, template_bins, STACK};
use redline_tests::load::Load;
use redline_tests::ops::{deploy_local, run, Scratch};
use redline_tests::runner::{workspace_bin, Runner};
use redline_tests::TestEnv;
use serde_json::json;
use std::time::{Duration, Instant};

const MINUTE: &str = "1s";
const ROUNDS: usize = 15;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The runner on the real template with the release binaries, and a code directory holding a
/// new build (`mark` appended to each API function and migrate).
fn stack(env: &TestEnv, mark: &str) -> (Runner, Scratch, Scratch) {
    let bins = Scratch(template_bins());
    let code = Scratch::new("rehearsal-bench");
    for name in ["auth", "users", "greeter", "health", "migrate"] {
        let mut bytes = std::fs::read(workspace_bin(name)).unwrap();
        bytes.extend_from_slice(format!("REDLINE-BENCH-BUILD={mark}").as_bytes());
        let path = code.0.join(name);
        std::fs::write(&path, bytes).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let runner = deployment_runner(env, &bins.0, &code.0, json!({}), 30);
    (runner, code, bins)
}

async fn rehearsal(kind: &str) {
    let env = TestEnv::new().await;
    let (runner, code, _bins) = stack(&env, kind);
    let load = Load::start(
        &runner,
        &[
            "/health/live",
            "/helloworld/bench",
            "/.well-known/jwks.json",
        ],
        4,
        Duration::from_millis(5),
    );
    let started = Instant::now();
    let answer = deploy_local(&runner.endpoint(), &code.0, kind, MINUTE).await;
    let took = started.elapsed().as_secs_f64();
    let seen = load.stop(&runner).await;
    assert_eq!(answer.code, 0, "{answer:?}");
    let by_version: Vec<String> = seen
        .by_version
        .iter()
        .map(|(((function, version), status), count)| {
            format!("{function} v{version} {status}: {count}")
        })
        .collect();
    println!(
        "| {kind} | {took:.1} | {} | {} |",
        seen.total(),
        by_version.join("; ")
    );
}

fn timed(endpoint: &str, args: &[&str]) -> f64 {
    let started = Instant::now();
    let answer = run(endpoint, args);
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(answer.code, 0, "{args:?}: {answer:?}");
    ms
}

async fn command_latency() {
    let env = TestEnv::new().await;
    let (runner, _code, _bins) = stack(&env, "commands");
    let endpoint = runner.endpoint();
    // Version 2 of greeter to shift to: the build in the code directory.
    let published = runner
        .lambda()
        .update_function_code()
        .function_name(format!("{STACK}-greeter"))
        .s3_key("greeter")
        .publish(true)
        .send()
        .await
        .unwrap();
    assert_eq!(published.version(), Some("2"));
    let commands: [(&str, Vec<&str>); 5] = [
        ("floor: `redline-ops --version`", vec!["--version"]),
        (
            "`status --json` (4 functions)",
            vec!["status", "--stack", STACK, "--json"],
        ),
        (
            "`shift --function greeter --to 2 --weight 0.1`",
            vec![
                "shift",
                "--stack",
                STACK,
                "--function",
                "greeter",
                "--to",
                "2",
                "--weight",
                "0.1",
            ],
        ),
        (
            "`promote --function greeter`",
            vec!["promote", "--stack", STACK, "--function", "greeter"],
        ),
        (
            "`rollback --function greeter --to 1`",
            vec![
                "rollback",
                "--stack",
                STACK,
                "--function",
                "greeter",
                "--to",
                "1",
            ],
        ),
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); commands.len()];
    for _ in 0..ROUNDS {
        for (index, (_, args)) in commands.iter().enumerate() {
            samples[index].push(timed(&endpoint, args));
        }
    }
    println!();
    println!("| command against the runner | median of {ROUNDS} (ms) |");
    println!("|---|---|");
    for ((label, _), values) in commands.iter().zip(samples) {
        println!("| {label} | {:.1} |", median(values));
    }
}

#[tokio::main]
async fn main() {
    println!("| type (minute {MINUTE}) | `deploy --local` (s) | requests on port 3000 | answers by version and status |");
    println!("|---|---|---|---|");
    for kind in [
        "AllAtOnce",
        "Canary10Percent5Minutes",
        "Linear10PercentEvery1Minute",
    ] {
        rehearsal(kind).await;
    }
    command_latency().await;
}
