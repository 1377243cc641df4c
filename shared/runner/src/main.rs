//! `redline-local`: the template-driven local runner. See the crate documentation.

use clap::Parser;
use redline_runner::{scrape, server, Settings, Stack};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

#[derive(Parser, Debug)]
#[command(
    name = "redline-local",
    version,
    about = "Runs template.yaml's functions locally, without Docker"
)]
struct Args {
    /// The SAM template.
    #[arg(long, default_value = "template.yaml")]
    template: PathBuf,
    /// Env-vars file(s) in the shape of `sam local --env-vars`; later ones win.
    #[arg(long = "env-vars")]
    env_vars: Vec<PathBuf>,
    /// Where the function binaries are (named as the template's BuildProperties.Binary).
    #[arg(long, default_value = "target/release")]
    bin_dir: PathBuf,
    /// Address the HTTP API and the metrics port listen on (the invoke port is always loopback).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// The HTTP API port (as `sam local start-api`).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// The Lambda invoke API and /metrics port (as `sam local start-lambda`), on 127.0.0.1 only:
    /// whoever reaches it can invoke any function.
    #[arg(long, default_value_t = 3001)]
    invoke_port: u16,
    /// Also serve the read-only GET /metrics, and nothing else, on this port of --host.
    #[arg(long)]
    metrics_port: Option<u16>,
    /// Append every EMF document the functions print (folded into /metrics), one a line.
    #[arg(long)]
    emf_log: Option<PathBuf>,
    /// Template parameters, `Name=Value`.
    #[arg(long = "parameter-overrides", value_parser = parse_pair)]
    parameter_overrides: Vec<(String, String)>,
    /// Most instances of one function at once (a function's ReservedConcurrentExecutions wins).
    #[arg(long, default_value_t = 10)]
    max_instances: usize,
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// API Gateway's integration limit in seconds (30 in AWS; tests shorten it).
    #[arg(long, default_value_t = 30, hide = true)]
    integration_timeout: u64,
    /// Where published versions' snapshots of the binaries go (default: a fresh temporary
    /// directory, removed when the runner stops).
    #[arg(long)]
    versions_dir: Option<PathBuf>,
    /// A directory UpdateFunctionCode may take code from (its S3Key names a file under one);
    /// repeatable. Without one, UpdateFunctionCode is refused.
    #[arg(long = "code-dir")]
    code_dirs: Vec<PathBuf>,
    /// Seconds a CodeDeploy lifecycle hook has to report before the deployment rolls back.
    #[arg(long, default_value_t = 60.0)]
    hook_timeout: f64,
    /// Milliseconds one CloudWatch minute lasts when the rollback alarms are evaluated outside
    /// a deployment (DescribeAlarms with none in flight): a 60 s period lasts this long. A
    /// deployment's own minute wins while it runs.
    #[arg(long, default_value_t = 60_000, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
    alarm_minute: u64,
    /// Instead of running: GET this URL and exit 0 on a 2xx answer (container healthchecks).
    #[arg(long)]
    healthcheck: Option<String>,
}

/// The invoke port's address, whatever --host says.
const LOOPBACK: &str = "127.0.0.1";

fn parse_pair(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("`{text}` is not Name=Value"))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    if let Some(url) = &args.healthcheck {
        std::process::exit(healthcheck(url).await);
    }
    let started = Instant::now();
    let settings = Settings {
        template: args.template.clone(),
        env_vars: args.env_vars.clone(),
        bin_dir: args.bin_dir.clone(),
        parameter_overrides: args
            .parameter_overrides
            .iter()
            .cloned()
            .collect::<BTreeMap<_, _>>(),
        max_instances: args.max_instances.max(1),
        region: args.region.clone(),
        integration_timeout: std::time::Duration::from_secs(args.integration_timeout.max(1)),
        emf_log: args.emf_log.clone(),
        versions_dir: args.versions_dir.clone(),
        code_dirs: args.code_dirs.clone(),
        hook_timeout: std::time::Duration::from_secs_f64(args.hook_timeout.clamp(0.1, 86_400.0)),
        alarm_minute: std::time::Duration::from_millis(args.alarm_minute),
    };
    let stack = match Stack::build(&settings, args.port) {
        Ok(stack) => Arc::new(stack),
        Err(error) => {
            eprintln!("redline-local: {error}");
            std::process::exit(2);
        }
    };
    let scrape = async {
        match args.metrics_port {
            Some(port) => listen(&args.host, port).await.map(Some),
            None => Ok(None),
        }
    };
    let listeners = tokio::try_join!(
        listen(&args.host, args.port),
        listen(LOOPBACK, args.invoke_port),
        scrape,
    );
    let (api, invoke, scrape) = match listeners {
        Ok(listeners) => listeners,
        Err(error) => {
            eprintln!("redline-local: {error}");
            stack.shutdown();
            std::process::exit(2);
        }
    };
    let gateway_stack = stack.clone();
    let api_server = tokio::spawn(server::serve(
        api,
        Arc::new(move |request| {
            let stack = gateway_stack.clone();
            async move { stack.gateway.handle(request).await }
        }),
    ));
    let control_stack = stack.clone();
    let invoke_server = tokio::spawn(server::serve(
        invoke,
        Arc::new(move |request| {
            let stack = control_stack.clone();
            async move { stack.control.handle(request).await }
        }),
    ));
    let scrape_server = scrape.map(|listener| {
        let stack = stack.clone();
        tokio::spawn(server::serve(
            listener,
            Arc::new(move |request| {
                let stack = stack.clone();
                async move { scrape::handle(&stack.metrics, &request) }
            }),
        ))
    });
    let metrics_port = match args.metrics_port {
        Some(port) => format!(", /metrics also on http://{}:{port}", args.host),
        None => String::new(),
    };
    eprintln!(
        "redline-local: {} functions; HTTP API on http://{}:{}, invoke API and /metrics on http://{LOOPBACK}:{}{metrics_port} (ready in {:.1} ms)",
        stack.functions.all.len(),
        args.host,
        args.port,
        args.invoke_port,
        started.elapsed().as_secs_f64() * 1000.0
    );
    wait_for_shutdown().await;
    eprintln!("redline-local: stopping");
    api_server.abort();
    invoke_server.abort();
    if let Some(server) = scrape_server {
        server.abort();
    }
    stack.shutdown();
    // Busy instances are killed when their invocation tasks are dropped with the runtime.
}

async fn listen(host: &str, port: u16) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind((host, port))
        .await
        .map_err(|e| format!("cannot listen on {host}:{port}: {e}"))
}

async fn wait_for_shutdown() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
}

async fn healthcheck(url: &str) -> i32 {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Empty<bytes::Bytes>>();
    let Ok(uri) = url.parse::<hyper::Uri>() else {
        eprintln!("redline-local: bad URL {url}");
        return 2;
    };
    match tokio::time::timeout(std::time::Duration::from_secs(5), client.get(uri)).await {
        Ok(Ok(response)) if response.status().is_success() => 0,
        Ok(Ok(response)) => {
            eprintln!("redline-local: {url} answered {}", response.status());
            1
        }
        Ok(Err(error)) => {
            eprintln!("redline-local: {url}: {error}");
            1
        }
        Err(_) => {
            eprintln!("redline-local: {url}: no answer in 5 s");
            1
        }
    }
}
