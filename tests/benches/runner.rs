//! Local-runner benchmarks: cold start and first response per function beside a bare
//! `lambda_http` function, warm throughput and latency through the runner, binary sizes and peak
//! memory per instance. Release binaries; PostgreSQL and Redis on this machine.
//!
//! Run: `scripts/bench.sh runner` (builds the release binaries first). Prints Markdown.

use redline_tests::runner::{init_ms, repo_root, stack_env_files, target_dir, Runner};
use redline_tests::TestEnv;
use serde_json::{json, Value};
use serde_yaml_ng::Value as Yaml;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const FUNCTIONS: [(&str, &str, &str); 5] = [
    ("HelloFloorFunction", "hello_floor", "/floor"),
    ("GreeterFunction", "greeter", "/helloworld/bench"),
    ("HealthFunction", "health", "/health/live"),
    ("AuthFunction", "auth", "/.well-known/jwks.json"),
    ("UsersFunction", "users", "/api/v1/users/me"),
];
const COLD_ROUNDS: usize = 10;
const LOAD_SECONDS: u64 = 5;
const CONCURRENCY: usize = 4;

fn release_bin(name: &str) -> PathBuf {
    let path = target_dir().join("release").join(name);
    assert!(
        path.is_file(),
        "{} missing: cargo build --release --bins",
        path.display()
    );
    path
}

/// template.yaml plus the floor function on `/floor`, so everything runs in the same runner.
fn bench_template() -> PathBuf {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    let mut template: Yaml = serde_yaml_ng::from_str(&text).unwrap();
    let floor: Yaml = serde_yaml_ng::from_str(
        r#"
Type: AWS::Serverless::Function
Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: hello_floor}}
Properties:
  CodeUri: .
  MemorySize: 256
  Timeout: 10
  Events:
    Floor: {Type: HttpApi, Properties: {ApiId: !Ref HttpApi, Method: GET, Path: /floor}}
"#,
    )
    .unwrap();
    template["Resources"]
        .as_mapping_mut()
        .unwrap()
        .insert("HelloFloorFunction".into(), floor);
    let path = std::env::temp_dir().join("redline-bench-template.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&template).unwrap()).unwrap();
    path
}

fn start_runner(template: &Path, env_files: &[PathBuf]) -> Runner {
    Runner::start(
        template,
        env_files,
        &target_dir().join("release"),
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
            "--max-instances",
            "8",
        ],
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

async fn cold_starts(template: &Path, env_files: &[PathBuf], token: &str) {
    let client = reqwest::Client::new();
    let mut init: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut first: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for _ in 0..COLD_ROUNDS {
        let runner = start_runner(template, env_files);
        for (function, _, path) in FUNCTIONS {
            let started = Instant::now();
            let response = client
                .get(runner.url(path))
                .bearer_auth(token)
                .send()
                .await
                .unwrap();
            assert!(
                response.status().is_success(),
                "{path}: {}",
                response.status()
            );
            let _ = response.bytes().await;
            first.entry(function).or_default().push(started.elapsed());
        }
        let metrics = runner.metrics().await;
        for (function, _, _) in FUNCTIONS {
            init.entry(function)
                .or_default()
                .push(init_ms(&metrics, function));
        }
    }
    println!("\n### Cold start ({COLD_ROUNDS} rounds, median [min, max])\n");
    println!("| function | init: spawn to first `/next` (ms) | first response, client side (ms) |");
    println!("|---|---|---|");
    for (function, _, path) in FUNCTIONS {
        let mut i = init[function].clone();
        i.sort_by(f64::total_cmp);
        let mut f = first[function].clone();
        f.sort();
        println!(
            "| {function} (`{path}`) | {:.1} [{:.1}, {:.1}] | {} [{}, {}] |",
            i[i.len() / 2],
            i[0],
            i[i.len() - 1],
            ms(f[f.len() / 2]),
            ms(f[0]),
            ms(f[f.len() - 1])
        );
    }
}

/// A closed loop of `CONCURRENCY` clients for `LOAD_SECONDS`; `next` builds each request.
async fn load<F>(label: &str, next: Arc<F>)
where
    F: Fn(usize) -> reqwest::RequestBuilder + Send + Sync + 'static,
{
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECONDS);
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|worker| {
            let next = next.clone();
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let started = Instant::now();
                    let response = next(worker).send().await.unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                    let _ = response.bytes().await;
                    latencies.push(started.elapsed());
                }
                latencies
            })
        })
        .collect();
    report(label, workers).await;
}

/// Gathers the workers' latencies and prints one table row.
async fn report(label: &str, workers: Vec<tokio::task::JoinHandle<Vec<Duration>>>) {
    let mut all = Vec::new();
    for worker in workers {
        all.extend(worker.await.unwrap());
    }
    all.sort();
    println!(
        "| {label} | {:.0} | {} | {} | {} |",
        all.len() as f64 / LOAD_SECONDS as f64,
        ms(percentile(&all, 0.5)),
        ms(percentile(&all, 0.99)),
        all.len()
    );
}

#[tokio::main]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // cargo bench probes harness=false targets with --list
    }
    std::env::set_var("REDLINE_RUNNER_PROFILE", "release");
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, _) = api.signed_in("bencher").await;
    let template = bench_template();
    let env_files = stack_env_files(&env, json!({"REDLINE__LOG__LEVEL": "warn"}));

    println!("## Local runner benchmarks\n");
    println!("Release binaries, `{CONCURRENCY}` concurrent clients, this 2-core machine.");
    cold_starts(&template, &env_files, &access).await;

    let runner = start_runner(&template, &env_files);
    let client = reqwest::Client::new();
    // Warm every function, and log in once per worker for independent refresh chains.
    let mut refresh_tokens = Vec::new();
    for worker in 0..CONCURRENCY {
        let response = api.login("bencher", "passw0rd!").await;
        let _ = worker;
        refresh_tokens.push(response.body["refresh_token"].as_str().unwrap().to_string());
    }
    let chains: Arc<Vec<std::sync::Mutex<String>>> = Arc::new(
        refresh_tokens
            .into_iter()
            .map(std::sync::Mutex::new)
            .collect(),
    );
    println!("\n### Warm requests through the runner ({LOAD_SECONDS} s each)\n");
    println!("| route | requests/s | p50 (ms) | p99 (ms) | requests |");
    println!("|---|---|---|---|---|");
    let base = runner.url("");
    let c = client.clone();
    let b = base.clone();
    load(
        "GET /floor (bare lambda_http)",
        Arc::new(move |_| c.get(format!("{b}/floor"))),
    )
    .await;
    let c = client.clone();
    let b = base.clone();
    load(
        "GET /health/live",
        Arc::new(move |_| c.get(format!("{b}/health/live"))),
    )
    .await;
    let c = client.clone();
    let b = base.clone();
    let token = access.clone();
    load(
        "GET /api/v1/users/me",
        Arc::new(move |_| c.get(format!("{b}/api/v1/users/me")).bearer_auth(&token)),
    )
    .await;
    // Refresh: each worker rotates its own family; the answer's token is the next request's.
    let refresh_url = format!("{base}/api/v1/auth/refresh");
    let deadline = Instant::now() + Duration::from_secs(LOAD_SECONDS);
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|worker| {
            let (client, url, chains) = (client.clone(), refresh_url.clone(), chains.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                while Instant::now() < deadline {
                    let token = chains[worker].lock().unwrap().clone();
                    let started = Instant::now();
                    let response = client
                        .post(&url)
                        .json(&json!({"refresh_token": token}))
                        .send()
                        .await
                        .unwrap();
                    assert!(response.status().is_success(), "{}", response.status());
                    let body: Value = response.json().await.unwrap();
                    latencies.push(started.elapsed());
                    *chains[worker].lock().unwrap() =
                        body["refresh_token"].as_str().unwrap().to_string();
                }
                latencies
            })
        })
        .collect();
    report("POST /api/v1/auth/refresh", workers).await;

    println!("\n### Release binaries and peak memory per instance (after the load)\n");
    println!("| binary | size (MB) | instances | peak RSS per instance, max (MB) |");
    println!("|---|---|---|---|");
    for name in [
        "hello_floor",
        "auth",
        "users",
        "greeter",
        "health",
        "migrate",
        "redline-local",
    ] {
        let path = release_bin(name);
        let size = std::fs::metadata(&path).unwrap().len() as f64 / 1_048_576.0;
        let pids = runner.instance_pids(&path);
        let peak = pids
            .iter()
            .filter_map(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
            .filter_map(|status| {
                status
                    .lines()
                    .find(|l| l.starts_with("VmHWM:"))
                    .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
            })
            .fold(0.0_f64, f64::max);
        println!(
            "| {name} | {size:.1} | {} | {:.1} |",
            pids.len(),
            peak / 1024.0
        );
    }
    drop(runner);
}
