//! Secrets benchmark: cold start of the auth and users functions with their secrets fetched
//! from Secrets Manager (the moto emulator on this machine) beside the same functions configured
//! from plain values, and Secrets Manager calls per cold start and per 1,000 warm requests.
//! Release binaries under the local runner; PostgreSQL and Redis on this machine.
//!
//! Run: `scripts/bench.sh secrets` (builds the release binaries first). Prints Markdown.

use redline_tests::runner::{init_ms, target_dir, Runner};
use redline_tests::secrets_stack::Deployment;
use redline_tests::stack::StackClient;
use serde_json::json;
use std::time::{Duration, Instant};

const COLD_ROUNDS: usize = 10;
const WARM_REQUESTS: usize = 1000;
const FUNCTIONS: [(&str, &str); 2] = [
    ("AuthFunction", "/.well-known/jwks.json"),
    ("UsersFunction", "/api/v1/users/me"),
];

fn median_range(mut values: Vec<f64>) -> String {
    values.sort_by(f64::total_cmp);
    format!(
        "{:.1} [{:.1}, {:.1}]",
        values[values.len() / 2],
        values[0],
        values[values.len() - 1]
    )
}

/// One cold start per function per round; init times and, with secrets, moto calls per start.
async fn cold_starts(
    start: impl Fn() -> Runner,
    token: &str,
    moto_calls: Option<&dyn Fn() -> usize>,
) -> (Vec<Vec<f64>>, Vec<usize>) {
    let client = reqwest::Client::new();
    let mut init = vec![Vec::new(); FUNCTIONS.len()];
    let mut calls = Vec::new();
    for _ in 0..COLD_ROUNDS {
        let runner = start();
        for (function, path) in FUNCTIONS {
            let before = moto_calls.map(|count| count());
            let response = client
                .get(runner.url(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            assert!(
                status.is_success(),
                "{function}: {status} {body}\n{}",
                runner.log_text()
            );
            if let (Some(before), Some(count)) = (before, moto_calls) {
                calls.push(count() - before);
            }
        }
        let metrics = runner.metrics().await;
        for (i, (function, _)) in FUNCTIONS.iter().enumerate() {
            init[i].push(init_ms(&metrics, function));
        }
    }
    (init, calls)
}

/// Moto calls made while `WARM_REQUESTS` requests are served, and how long they took.
async fn warm_calls(
    runner: &Runner,
    token: &str,
    moto_calls: &dyn Fn() -> usize,
) -> (usize, Duration) {
    let api = StackClient::new(runner);
    let (status, _) = api.get("/api/v1/users/me", Some(token)).await;
    assert_eq!(status, 200);
    let before = moto_calls();
    let started = Instant::now();
    for _ in 0..WARM_REQUESTS {
        let (status, _) = api.get("/api/v1/users/me", Some(token)).await;
        assert_eq!(status, 200);
    }
    (moto_calls() - before, started.elapsed())
}

#[tokio::main]
async fn main() {
    let bin_dir = target_dir().join("release");
    let deployment = Deployment::on_shared_database().await;
    let count = || deployment.moto.request_count();

    // A user and a token, through a throwaway runner.
    let token = {
        let runner = deployment.start_in(&bin_dir, json!({}));
        StackClient::new(&runner)
            .signed_in("bencher", "passw0rd1")
            .await
    };

    let plain_files = deployment.plain_env_files();
    let plain = || {
        Runner::start(
            &redline_tests::runner::repo_root().join("template.yaml"),
            &plain_files,
            &bin_dir,
            &[
                "--parameter-overrides",
                "AllowedOrigins=http://localhost:5173",
            ],
        )
    };
    let (plain_init, _) = cold_starts(plain, &token, None).await;
    let with_secrets = || deployment.start_in(&bin_dir, json!({}));
    let (secret_init, per_cold_start) = cold_starts(with_secrets, &token, Some(&count)).await;

    println!("\n### Cold start with secrets ({COLD_ROUNDS} rounds, median [min, max])\n");
    println!(
        "Init = spawn to first `/next` (the runner's `redline_local_init_duration_seconds`).\n"
    );
    println!("| function | plain values: init (ms) | from Secrets Manager (moto): init (ms) |");
    println!("|---|---|---|");
    for (i, (function, _)) in FUNCTIONS.iter().enumerate() {
        println!(
            "| {function} | {} | {} |",
            median_range(plain_init[i].clone()),
            median_range(secret_init[i].clone())
        );
    }

    let runner = deployment.start_in(&bin_dir, json!({}));
    let (default_ttl, took) = warm_calls(&runner, &token, &count).await;
    drop(runner);
    let runner = deployment.start_in(&bin_dir, json!({"REDLINE__SECRETS__TTL": "1s"}));
    let (short_ttl, took_short) = warm_calls(&runner, &token, &count).await;
    println!("\n### Secrets Manager calls\n");
    println!("| what | calls |");
    println!("|---|---|");
    println!(
        "| per cold start (each of {} cold starts) | {}..={} |",
        per_cold_start.len(),
        per_cold_start.iter().min().unwrap(),
        per_cold_start.iter().max().unwrap()
    );
    println!(
        "| per {WARM_REQUESTS} warm requests, default TTL 5m ({:.1} s of traffic) | {default_ttl} |",
        took.as_secs_f64()
    );
    println!(
        "| per {WARM_REQUESTS} warm requests, TTL 1s ({:.1} s of traffic) | {short_ttl} |",
        took_short.as_secs_f64()
    );
}
