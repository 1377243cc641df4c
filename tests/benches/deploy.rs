//! A deployment on the runner with the real traffic hooks, per API function: how long the
//! PreTraffic and PostTraffic hooks take (the runner's own invocation histogram for the two hook
//! functions) and the whole AllAtOnce deployment (CreateDeployment to Succeeded), beside one
//! direct `Invoke` of the function's new version measured in the same run (the floor: what a
//! single smoke request costs). Release binaries; 5 deployments per function.
//!
//! Needs PostgreSQL and Redis. Run: `scripts/bench.sh deploy`.

use aws_sdk_codedeploy::types::DeploymentStatus;
use aws_sdk_lambda::primitives::Blob;
use redline_tests::deploy::{deploy, runner, STACK};
use redline_tests::runner::Runner;
use redline_tests::{TestEnv, TestRequest};
use std::time::Instant;

const ROUNDS: usize = 5;

/// `<name>_sum` and `_count` of a runner histogram for `function`, in milliseconds per call.
fn mean_ms(metrics: &str, name: &str, function: &str) -> f64 {
    let value = |suffix: &str| -> f64 {
        let prefix = format!("{name}_{suffix}{{function=\"{function}\"");
        metrics
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    };
    1000.0 * value("sum") / value("count")
}

/// One direct invoke of `area`'s version 2 with a health-like request, in milliseconds.
async fn floor_ms(runner: &Runner, area: &str, path: &str) -> f64 {
    let event = TestRequest::get(path).to_event("bench");
    let started = Instant::now();
    runner
        .lambda()
        .invoke()
        .function_name(format!("{STACK}-{area}"))
        .qualifier("2")
        .payload(Blob::new(event.to_string()))
        .send()
        .await
        .unwrap();
    started.elapsed().as_secs_f64() * 1000.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    println!("| function | PreTraffic hook (ms) | PostTraffic hook (ms) | deployment (ms) | floor: one warm invoke of the new version (ms) |");
    println!("|---|---|---|---|---|");
    for (area, logical_id, path) in [
        ("greeter", "GreeterFunction", "/helloworld/bench"),
        ("health", "HealthFunction", "/health/live"),
        ("users", "UsersFunction", "/health/live"),
        ("auth", "AuthFunction", "/.well-known/jwks.json"),
    ] {
        let (mut pre, mut post, mut whole, mut floor) = (vec![], vec![], vec![], vec![]);
        for _ in 0..ROUNDS {
            let env = TestEnv::new().await;
            let runner = runner(&env, logical_id, area, "");
            let started = Instant::now();
            assert_eq!(deploy(&runner, area).await, DeploymentStatus::Succeeded);
            whole.push(started.elapsed().as_secs_f64() * 1000.0);
            let metrics = runner.metrics().await;
            let name = "redline_local_invocation_duration_seconds";
            pre.push(mean_ms(&metrics, name, "PreTrafficHookFunction"));
            post.push(mean_ms(&metrics, name, "PostTrafficHookFunction"));
            floor.push(floor_ms(&runner, area, path).await);
        }
        println!(
            "| {area} | {:.1} | {:.1} | {:.1} | {:.2} |",
            median(pre),
            median(post),
            median(whole),
            median(floor)
        );
    }
}
