//! redline's local runner: reads `template.yaml`, serves its HTTP API on one port (as
//! `sam local start-api`) and a Lambda invoke API plus `/metrics` on another (as
//! `sam local start-lambda`), and runs the real function binaries behind them through the
//! Lambda Runtime API. No Docker. The template is read by `redline-template`; the events are
//! built by `redline-events`.

pub mod control;
pub mod emf;
pub mod env;
pub mod gateway;
pub mod http;
pub mod ids;
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

use env::EnvVarsFile;
use metrics::Metrics;
use output::EmfLog;
use pool::{FunctionConfig, FunctionPool};
use redline_template::{Resolver, Template};
use std::collections::{BTreeMap, HashMap};
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
}

/// Everything resolved from the template: one pool per function, the routes and CORS.
pub struct Stack {
    pub pools: HashMap<String, Arc<FunctionPool>>,
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
        let mut pools = HashMap::new();
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
            pools.insert(
                spec.logical_id.clone(),
                Arc::new(FunctionPool::new(config, metrics.clone(), emf_log.clone())),
            );
        }
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
            pools.clone(),
            cors,
            port,
            settings.integration_timeout,
        )?;
        let control = control::Control::new(&pools, metrics.clone());
        Ok(Stack {
            pools,
            gateway,
            control,
            metrics,
        })
    }

    pub fn shutdown(&self) {
        for pool in self.pools.values() {
            pool.shutdown();
        }
    }
}
