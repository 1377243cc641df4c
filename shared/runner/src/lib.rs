//! redline's local runner: reads `template.yaml`, serves its HTTP API on one port (as
//! `sam local start-api`) and a Lambda invoke API plus `/metrics` on another (as
//! `sam local start-lambda`), and runs the real function binaries behind them through the
//! Lambda Runtime API. No Docker. The template is read by `redline-template`; the events are
//! built by `redline-events`.
//!
//! # Flags (`redline-local --help`)
//!
//! | flag | default | what |
//! |---|---|---|
//! | `--template FILE` | `template.yaml` | the SAM template |
//! | `--env-vars FILE` | none | env-vars files in the shape of `sam local --env-vars`; later ones win |
//! | `--bin-dir DIR` | `target/release` | the function binaries, named as `BuildProperties.Binary` |
//! | `--host ADDR` | `127.0.0.1` | where the HTTP API and the metrics port listen |
//! | `--port PORT` | 3000 | the HTTP API |
//! | `--invoke-port PORT` | 3001 | Lambda's Invoke API and `/metrics`, always on `127.0.0.1`, whatever `--host` says: whoever reaches it can invoke any function |
//! | `--metrics-port PORT` | none | the read-only `GET /metrics` alone, on `--host` (what a Prometheus scrapes; the container publishes 3002) |
//! | `--emf-log FILE` | none | appends every EMF document folded into `/metrics`, one a line |
//! | `--parameter-overrides Name=Value` | | template parameters |
//! | `--max-instances N` | 10 | instances of one function at once (`ReservedConcurrentExecutions` wins) |
//! | `--region REGION` | `us-east-1` | |
//! | `--healthcheck URL` | | instead of running: exit 0 when `GET URL` answers 2xx |
//!
//! # Logs and metrics, as Lambda and CloudWatch would have them
//!
//! Each instance gets `AWS_LAMBDA_LOG_FORMAT` (`JSON` or `Text`) and, in JSON format,
//! `AWS_LAMBDA_LOG_LEVEL` from the function's `LoggingConfig` ([`pool`]). Its stdout and
//! stderr are read line by line ([`output`]): Lambda's log-level filter applies first
//! ([`log_filter`]: in JSON format a line below `ApplicationLogLevel` is dropped, and a line
//! without a valid `level` and `timestamp`, EMF documents included, counts as INFO); then an EMF
//! document is folded into Prometheus series ([`emf`], [`metrics`]) instead of being printed,
//! and every other line goes to the runner's stdout unchanged.
//!
//! Folding: per document and `CloudWatchMetrics` directive, one observation per metric, labelled
//! with the union of the directive's dimension keys in snake case (`service`, `function`,
//! `version`, `route`), so `sum()` never counts a request once per dimension set. Series are
//! named by `redline_core::metrics::prometheus::series_name`: a `Count` metric is a counter
//! `<namespace>_<metric>_total`; a `Milliseconds` metric a histogram `<namespace>_<metric>_seconds`
//! (values divided by 1000); any other unit (or none) a gauge `<namespace>_<metric>` holding the
//! last value. A metric valued with a list is observed once per value. A document that is not
//! valid EMF, or would clash with a series of another type, is printed as it came and counted in
//! `redline_local_emf_rejected_total`.
//!
//! Every histogram, the folded ones and the runner's own, has the same buckets, in seconds
//! (`redline_core::metrics::prometheus::BUCKETS_SECONDS`): 0.001, 0.0025, 0.005, 0.01, 0.025,
//! 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, and `+Inf`. 2 s is an edge because the latency alerts are
//! at 2 s.
//!
//! The runner's own series ([`OWN_SERIES`]), each labelled with the template's logical id as
//! `function`: `redline_local_invocations_total` (and `outcome`), `redline_local_cold_starts_total`,
//! the histograms `redline_local_init_duration_seconds` and
//! `redline_local_invocation_duration_seconds`, the gauges `redline_local_instances`,
//! `redline_local_instance_max_rss_bytes` (the highest peak resident memory, `VmHWM`, of the
//! function's instances so far, read after every invocation and when an instance is retired)
//! and `redline_local_memory_size_bytes` (`MemorySize` × 1 MiB, to compare it with), and the
//! counters `redline_local_emf_documents_total`, `redline_local_emf_rejected_total` and
//! `redline_local_log_lines_filtered_total`. [`exposed_series`] names everything `/metrics` can
//! show. `promtool check metrics` finds nothing to say about it.
//!
//! Invocations get a sampled X-Ray header, `Root=1-<time>-<id>;Parent=<id>;Sampled=1`
//! ([`trace`]), continuing the Root of an incoming `X-Amzn-Trace-Id` as API Gateway does, which
//! also puts `Root=...` in the event's `x-amzn-trace-id` header.
//!
//! # Layout
//!
//! [`Stack`] reads the template into one [`pool::FunctionPool`] per function; [`gateway`] serves
//! the HTTP API (events through [`http`]), [`control`] the invoke port, [`scrape`] `/metrics`;
//! [`runtime_api`] is the Runtime API each instance polls; [`series`] renders Prometheus text.

pub mod code;
pub mod codedeploy;
pub mod control;
pub mod emf;
pub mod env;
pub mod functions;
pub mod gateway;
pub mod http;
pub mod ids;
pub mod lambda_api;
pub mod log_filter;
pub mod memory;
pub mod metrics;
pub mod output;
pub mod pool;
pub mod runtime_api;
pub mod scrape;
pub mod series;
pub mod server;
pub mod trace;

pub use metrics::{exposed_series, OWN_SERIES};

use code::CodeStore;
use env::EnvVarsFile;
use functions::{Function, Functions};
use metrics::Metrics;
use output::EmfLog;
use pool::FunctionConfig;
use redline_template::{Resolver, Template};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What the runner is asked to run.
#[derive(Debug, Clone)]
pub struct Settings {
    pub template: PathBuf,
    pub env_vars: Vec<PathBuf>,
    pub bin_dir: PathBuf,
    pub parameter_overrides: BTreeMap<String, String>,
    pub max_instances: usize,
    pub region: String,
    pub integration_timeout: Duration,
    /// `--emf-log`: where every folded EMF document is appended.
    pub emf_log: Option<PathBuf>,
    /// `--versions-dir`: where published versions' snapshots go (else a temporary directory).
    pub versions_dir: Option<PathBuf>,
    /// `--code-dir`: the only places `UpdateFunctionCode` takes code from.
    pub code_dirs: Vec<PathBuf>,
    /// `--hook-timeout`: how long a CodeDeploy hook has to report.
    pub hook_timeout: Duration,
}

/// Everything resolved from the template: the functions (their versions and aliases), the
/// routes and CORS, the invoke port's APIs.
pub struct Stack {
    pub functions: Arc<Functions>,
    pub store: Arc<CodeStore>,
    pub gateway: gateway::Gateway,
    pub control: control::Control,
    pub metrics: Arc<Metrics>,
}

impl Stack {
    /// Reads and resolves everything up front, so a bad template, an unresolved variable or a
    /// missing binary stops the runner before it serves anything.
    pub fn build(settings: &Settings, port: u16) -> Result<Stack, String> {
        let template = Template::load(&settings.template).map_err(|e| e.to_string())?;
        let files = EnvVarsFile::load(&settings.env_vars)?;
        let mut parameters = template.parameters.clone();
        for (name, value) in &settings.parameter_overrides {
            parameters.insert(name.clone(), Some(value.clone()));
        }
        let resolver = Resolver {
            parameters,
            conditions: template.conditions.clone(),
            region: settings.region.clone(),
            account_id: "123456789012".into(),
            stack_name: "redline-local".into(),
        };
        let metrics = Arc::new(Metrics::default());
        let emf_log = match &settings.emf_log {
            Some(path) => Some(Arc::new(EmfLog::open(path)?)),
            None => None,
        };
        let store = Arc::new(CodeStore::new(
            settings.versions_dir.as_deref(),
            &settings.code_dirs,
        )?);
        let mut all = Vec::new();
        for spec in &template.functions {
            let environment = env::function_environment(spec, &resolver, &files)?;
            let logging = spec
                .logging()
                .resolve(&resolver)
                .map_err(|e| format!("{}: {e}", spec.logical_id))?;
            let name = resolver
                .resolve(&spec.name)
                .unwrap_or_else(|_| spec.logical_id.clone());
            let binary = settings.bin_dir.join(&spec.binary);
            if !binary.is_file() {
                return Err(format!(
                    "{}: binary {} not found (build it: cargo build --release --bins)",
                    spec.logical_id,
                    binary.display()
                ));
            }
            let config = FunctionConfig {
                logical_id: spec.logical_id.clone(),
                name,
                binary,
                version: functions::LATEST.into(),
                memory_mb: spec.memory_mb,
                timeout: Duration::from_secs(spec.timeout_s),
                environment,
                max_instances: spec
                    .reserved_concurrency
                    .map(|n| n as usize)
                    .unwrap_or(settings.max_instances)
                    .max(1),
                region: settings.region.clone(),
                account_id: resolver.account_id.clone(),
                logging,
            };
            all.push(Function::start(
                config,
                metrics.clone(),
                emf_log.clone(),
                store.clone(),
            )?);
        }
        let functions = Arc::new(Functions::new(all));
        let cors = match &template.cors {
            Some(spec) => Some(gateway::Cors {
                origins: resolver
                    .list(&spec.allow_origins)
                    .map_err(|e| format!("CorsConfiguration.AllowOrigins is unresolved ({e})"))?,
                methods: spec.allow_methods.clone(),
                headers: spec.allow_headers.clone(),
                expose: spec.expose_headers.clone(),
                max_age: spec.max_age,
                credentials: spec.allow_credentials,
            }),
            None => None,
        };
        let gateway = gateway::Gateway::new(
            template.routes.clone(),
            functions.clone(),
            cors,
            port,
            settings.integration_timeout,
        )?;
        let lambda = lambda_api::LambdaApi {
            functions: functions.clone(),
            store: store.clone(),
        };
        let codedeploy = Arc::new(codedeploy::CodeDeploy::new(
            functions.clone(),
            settings.hook_timeout,
        ));
        let control = control::Control::new(lambda, codedeploy, metrics.clone());
        Ok(Stack {
            functions,
            store,
            gateway,
            control,
            metrics,
        })
    }

    pub fn shutdown(&self) {
        self.functions.shutdown();
        self.store.cleanup();
    }
}
