//! Function instances: real processes of the function's binary, kept warm between invocations,
//! one in-flight invocation each; another is started when requests overlap. An instance that
//! times out or crashes is killed and replaced by the next request. Their output goes through
//! `output` (Lambda's log pipeline); their peak memory is read after each invocation.

use crate::ids;
use crate::log_filter::LogFilter;
use crate::memory::peak_rss_bytes;
use crate::metrics::Metrics;
use crate::output::{say, Capture, EmfLog, Lines};
use crate::runtime_api::{Invocation, Reply, RuntimeApi, Started};
use crate::trace::Trace;
use bytes::Bytes;
use redline_template::{LogFormat, Logging};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::oneshot;

/// Lambda's init phase limit.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Everything needed to start an instance of one function.
#[derive(Debug, Clone)]
pub struct FunctionConfig {
    pub logical_id: String,
    pub name: String,
    /// What this pool runs: the `--bin-dir` binary for `$LATEST`, a snapshot for a version.
    pub binary: PathBuf,
    /// `$LATEST` or the version number, as `AWS_LAMBDA_FUNCTION_VERSION` says it.
    pub version: String,
    pub memory_mb: u64,
    pub timeout: Duration,
    pub environment: BTreeMap<String, String>,
    pub max_instances: usize,
    pub region: String,
    pub account_id: String,
    /// The template's `LoggingConfig`, resolved.
    pub logging: Logging,
}

impl FunctionConfig {
    pub fn arn(&self) -> String {
        format!(
            "arn:aws:lambda:{}:{}:function:{}",
            self.region, self.account_id, self.name
        )
    }
}

/// What the caller adds to an invocation: the ARN it invoked (with its qualifier, as the
/// Runtime API's `Lambda-Runtime-Invoked-Function-Arn` tells the function) and the client
/// context (the decoded JSON of `X-Amz-Client-Context`).
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub invoked_arn: Option<String>,
    pub client_context: Option<String>,
    /// The request id, when the caller already answered with it (an `Event` invocation).
    pub request_id: Option<String>,
}

/// How an invocation ended, from the platform's point of view.
#[derive(Debug)]
pub enum Outcome {
    Success {
        body: Bytes,
        request_id: String,
    },
    FunctionError {
        body: Bytes,
        request_id: String,
    },
    Timeout {
        request_id: String,
    },
    Crashed {
        request_id: String,
    },
    InitFailed {
        request_id: String,
        reason: String,
    },
    /// Every allowed instance is busy.
    Throttled,
}

impl Outcome {
    /// How Lambda's `Invocations` and `Errors` count it: every failure the platform sees
    /// (function error, crash, timeout, init failure) is an error; a throttle is neither.
    pub fn as_invocation(&self) -> crate::alarms::datapoints::Invocation {
        use crate::alarms::datapoints::Invocation;
        match self {
            Outcome::Success { .. } => Invocation::Succeeded,
            Outcome::FunctionError { .. }
            | Outcome::Timeout { .. }
            | Outcome::Crashed { .. }
            | Outcome::InitFailed { .. } => Invocation::Failed,
            Outcome::Throttled => Invocation::Throttled,
        }
    }

    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Success { .. } => "success",
            Outcome::FunctionError { .. } => "function_error",
            Outcome::Timeout { .. } => "timeout",
            Outcome::Crashed { .. } => "crashed",
            Outcome::InitFailed { .. } => "init_failed",
            Outcome::Throttled => "throttled",
        }
    }
}

struct Instance {
    number: u64,
    child: Child,
    api: RuntimeApi,
    capture: Capture,
}

pub struct FunctionPool {
    pub config: FunctionConfig,
    idle: Mutex<Vec<Instance>>,
    live: AtomicUsize,
    started: AtomicU64,
    metrics: Arc<Metrics>,
    lines: Arc<Lines>,
}

/// Lambda's own variables, as a `provided.al2023` function sees them.
fn lambda_environment(
    config: &FunctionConfig,
    runtime_api: &str,
    number: u64,
) -> Vec<(String, String)> {
    let name = &config.name;
    let log_group = config
        .logging
        .log_group
        .clone()
        .unwrap_or_else(|| format!("/aws/lambda/{name}"));
    let mut variables = vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_string()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.clone()),
        (
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            config.memory_mb.to_string(),
        ),
        ("AWS_LAMBDA_FUNCTION_VERSION", config.version.clone()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", log_group),
        (
            "AWS_LAMBDA_LOG_FORMAT",
            config.logging.format.as_str().to_string(),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            format!("local/[{}]{number:032x}", config.version),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_string()),
        ("AWS_REGION", config.region.clone()),
        ("AWS_DEFAULT_REGION", config.region.clone()),
        (
            "AWS_EXECUTION_ENV",
            "AWS_Lambda_provided.al2023".to_string(),
        ),
        ("_HANDLER", "bootstrap".to_string()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_string()),
        ("LAMBDA_RUNTIME_DIR", "/var/runtime".to_string()),
        ("TZ", ":UTC".to_string()),
        ("LANG", "en_US.UTF-8".to_string()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_string()),
    ];
    // In JSON format Lambda tells the function the level it filters at.
    if let (LogFormat::Json, Some(level)) =
        (config.logging.format, config.logging.application_level)
    {
        variables.push(("AWS_LAMBDA_LOG_LEVEL", level.as_str().to_string()));
    }
    variables
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

impl FunctionPool {
    pub fn new(
        config: FunctionConfig,
        metrics: Arc<Metrics>,
        emf_log: Option<Arc<EmfLog>>,
    ) -> Self {
        metrics.function(&config.logical_id, config.memory_mb);
        let lines = Arc::new(Lines {
            function: config.logical_id.clone(),
            filter: LogFilter::of(&config.logging),
            metrics: metrics.clone(),
            emf_log,
        });
        FunctionPool {
            config,
            idle: Mutex::new(Vec::new()),
            live: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            metrics,
            lines,
        }
    }

    /// Records the instance's peak memory so far (nothing once it has exited).
    fn record_peak(&self, instance: &Instance) {
        if let Some(bytes) = instance.child.id().and_then(peak_rss_bytes) {
            self.metrics.peak_rss(&self.config.logical_id, bytes);
        }
    }

    pub fn live_instances(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Starts an instance and waits for its first poll of `/next` (its init phase).
    async fn start_instance(&self) -> Result<Instance, String> {
        let number = self.started.fetch_add(1, Ordering::SeqCst) + 1;
        let api = RuntimeApi::start()
            .await
            .map_err(|e| format!("runtime API: {e}"))?;
        let spawned_at = Instant::now();
        let mut command = Command::new(&self.config.binary);
        command
            .env_clear()
            .envs(&self.config.environment)
            .envs(lambda_environment(
                &self.config,
                &api.address.to_string(),
                number,
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = spawn(&mut command)
            .await
            .map_err(|e| format!("cannot start {}: {e}", self.config.binary.display()))?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err("no pipes to the instance's output".to_string());
        };
        let capture = Capture::start(stdout, stderr, self.lines.clone());
        let mut instance = Instance {
            number,
            child,
            api,
            capture,
        };
        let (_, placeholder) = oneshot::channel();
        let started = std::mem::replace(&mut instance.api.started, placeholder);
        // Biased: a function that reported its init error and then exited has both ready by the
        // time the exit is seen; the report, sent first, is what Lambda shows.
        let outcome = tokio::select! {
            biased;
            signal = started => match signal {
                Ok(Started::Polling) => Ok(()),
                Ok(Started::InitError(body)) => Err(format!("init error: {}", String::from_utf8_lossy(&body))),
                Err(_) => Err("runtime API stopped".to_string()),
            },
            status = instance.child.wait() => Err(format!("exited during init ({})", status.map(|s| s.to_string()).unwrap_or_default())),
            _ = tokio::time::sleep(INIT_TIMEOUT) => Err("init timed out".to_string()),
        };
        let init = spawned_at.elapsed();
        if let Err(reason) = outcome {
            // What the instance printed before it failed is shown before the failure.
            instance.capture.drain().await;
            return Err(reason);
        }
        self.metrics.cold_start(&self.config.logical_id, init);
        self.record_peak(&instance);
        say(&format!(
            "cold start {}#{} (version {}) init {:.1} ms",
            self.config.logical_id,
            number,
            self.config.version,
            init.as_secs_f64() * 1000.0
        ));
        Ok(instance)
    }

    /// Hands `payload` to a warm instance, or a new one, under `trace`; the answer or the
    /// platform failure.
    pub async fn invoke(
        self: &Arc<Self>,
        payload: Bytes,
        trace: &Trace,
        caller: Caller,
    ) -> Outcome {
        let request_id = caller.request_id.clone().unwrap_or_else(ids::uuid);
        let started = Instant::now();
        // Lambda's `Resource` dimension: the name with the qualifier the caller invoked.
        let qualifier = caller
            .invoked_arn
            .as_deref()
            .and_then(|arn| crate::functions::Reference::parse(arn).qualifier)
            .map(str::to_string);
        let outcome = self.invoke_with(payload, request_id, trace, caller).await;
        self.metrics
            .invocation(&self.config.logical_id, outcome.label(), started.elapsed());
        self.metrics.invoked(
            &self.config.name,
            qualifier.as_deref(),
            &self.config.version,
            outcome.as_invocation(),
        );
        outcome
    }

    async fn acquire(&self, request_id: &str) -> Result<Instance, Outcome> {
        if let Some(instance) = self.idle.lock().expect("not poisoned").pop() {
            return Ok(instance);
        }
        let reserved = self
            .live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < self.config.max_instances).then_some(n + 1)
            })
            .is_ok();
        if !reserved {
            return Err(Outcome::Throttled);
        }
        match self.start_instance().await {
            Ok(instance) => {
                self.metrics.instances(&self.config.logical_id, 1);
                Ok(instance)
            }
            Err(reason) => {
                self.live.fetch_sub(1, Ordering::SeqCst);
                say(&format!(
                    "{} (version {}) failed to start: {reason}",
                    self.config.logical_id, self.config.version
                ));
                Err(Outcome::InitFailed {
                    request_id: request_id.to_string(),
                    reason,
                })
            }
        }
    }

    async fn retire(&self, instance: Instance, why: &str) {
        self.record_peak(&instance);
        instance.capture.drain().await;
        say(&format!(
            "{}#{} (version {}) {why}; it is replaced on the next request",
            self.config.logical_id, instance.number, self.config.version
        ));
        drop(instance); // kill_on_drop
        self.live.fetch_sub(1, Ordering::SeqCst);
        self.metrics.instances(&self.config.logical_id, -1);
    }

    async fn invoke_with(
        &self,
        payload: Bytes,
        request_id: String,
        trace: &Trace,
        caller: Caller,
    ) -> Outcome {
        let mut instance = match self.acquire(&request_id).await {
            Ok(instance) => instance,
            Err(outcome) => return outcome,
        };
        let (reply, answer) = oneshot::channel();
        let invocation = Invocation {
            request_id: request_id.clone(),
            payload,
            deadline_ms: ids::now_ms() + self.config.timeout.as_millis() as u64,
            function_arn: caller.invoked_arn.unwrap_or_else(|| self.config.arn()),
            trace_id: trace.runtime_header(),
            client_context: caller.client_context,
            reply,
        };
        if instance.api.invocations.send(invocation).await.is_err() {
            self.retire(instance, "lost its runtime API").await;
            return Outcome::Crashed { request_id };
        }
        tokio::select! {
            answer = answer => match answer {
                Ok(reply) => {
                    // Its log lines and EMF document are handled before the answer is.
                    instance.capture.drain().await;
                    self.record_peak(&instance);
                    self.idle.lock().expect("not poisoned").push(instance);
                    match reply {
                        Reply::Success(body) => Outcome::Success { body, request_id },
                        Reply::FunctionError(body) => Outcome::FunctionError { body, request_id },
                    }
                }
                Err(_) => {
                    self.retire(instance, "dropped its invocation").await;
                    Outcome::Crashed { request_id }
                }
            },
            status = instance.child.wait() => {
                let status = status.map(|s| s.to_string()).unwrap_or_default();
                self.retire(instance, &format!("exited mid-invocation ({status})")).await;
                Outcome::Crashed { request_id }
            }
            _ = tokio::time::sleep(self.config.timeout) => {
                self.retire(instance, &format!("timed out after {} s", self.config.timeout.as_secs_f64())).await;
                Outcome::Timeout { request_id }
            }
        }
    }

    /// Kills every idle instance (busy ones die with their invocation tasks).
    pub fn shutdown(&self) {
        let idle: Vec<Instance> = self.idle.lock().expect("not poisoned").drain(..).collect();
        drop(idle);
    }
}

/// Spawns an instance. A snapshot copied a moment ago can still be open for writing in a child
/// another thread is forking (until that child execs): `ETXTBSY`, which passes; retried briefly.
async fn spawn(command: &mut Command) -> std::io::Result<Child> {
    let mut tries = 0;
    loop {
        match command.spawn() {
            Err(error) if error.raw_os_error() == Some(26) && tries < 20 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_template::LogLevel;

    fn config(logging: Logging) -> FunctionConfig {
        FunctionConfig {
            logical_id: "AuthFunction".into(),
            name: "redline-local-auth".into(),
            binary: PathBuf::from("/bin/true"),
            version: "$LATEST".into(),
            memory_mb: 256,
            timeout: Duration::from_secs(3),
            environment: BTreeMap::new(),
            max_instances: 1,
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            logging,
        }
    }

    fn environment(logging: Logging) -> BTreeMap<String, String> {
        lambda_environment(&config(logging), "127.0.0.1:9001", 1)
            .into_iter()
            .collect()
    }

    #[test]
    fn logging_config_reaches_the_environment_as_lambda_sets_it() {
        let json = environment(Logging {
            format: LogFormat::Json,
            application_level: Some(LogLevel::Warn),
            system_level: Some(LogLevel::Info),
            log_group: Some("/custom/auth".into()),
        });
        assert_eq!(json["AWS_LAMBDA_LOG_FORMAT"], "JSON");
        assert_eq!(json["AWS_LAMBDA_LOG_LEVEL"], "WARN");
        assert_eq!(json["AWS_LAMBDA_LOG_GROUP_NAME"], "/custom/auth");
        let text = environment(Logging::default());
        assert_eq!(text["AWS_LAMBDA_LOG_FORMAT"], "Text");
        assert!(!text.contains_key("AWS_LAMBDA_LOG_LEVEL"));
        assert_eq!(
            text["AWS_LAMBDA_LOG_GROUP_NAME"],
            "/aws/lambda/redline-local-auth"
        );
    }
}
