//! redline's local runner: reads `template.yaml`, serves its HTTP API on one port (as
//! `sam local start-api`) and Lambda's, CodeDeploy's and CloudWatch's APIs plus `/metrics` on
//! another (as `sam local start-lambda`, and more), and runs the real function binaries behind
//! them through the Lambda Runtime API, each function with versions and a `live` alias. No
//! Docker. The template is read by `redline-template`; the events are built by
//! `redline-events`.
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
//! | `--invoke-port PORT` | 3001 | Lambda's and CodeDeploy's APIs and `/metrics`, always on `127.0.0.1`, whatever `--host` says: whoever reaches it can invoke any function |
//! | `--metrics-port PORT` | none | the read-only `GET /metrics` alone, on `--host` (what a Prometheus scrapes; the container publishes 3002) |
//! | `--emf-log FILE` | none | appends every EMF document folded into `/metrics`, one a line |
//! | `--parameter-overrides Name=Value` | | template parameters |
//! | `--max-instances N` | 10 | instances of one function at once (`ReservedConcurrentExecutions` wins) |
//! | `--region REGION` | `us-east-1` | |
//! | `--versions-dir DIR` | a fresh temporary directory, removed at exit | where published versions' copies of the binaries go |
//! | `--code-dir DIR` | none | a directory `UpdateFunctionCode` may take code from; repeatable |
//! | `--hook-timeout SECONDS` | 60 | how long a CodeDeploy lifecycle hook has to report |
//! | `--alarm-minute MS` | 60000 | how long one CloudWatch minute lasts when the rollback alarms are evaluated outside a deployment (a deployment's own minute wins while it runs) |
//! | `--healthcheck URL` | | instead of running: exit 0 when `GET URL` answers 2xx |
//!
//! # Versions, aliases and the invoke port
//!
//! A function ([`functions`]) starts with `$LATEST`, the `--bin-dir` binary as it is (a rebuild
//! shows there), then publishes version 1 and points a `live` alias at it, as `sam deploy` leaves
//! a function with `AutoPublishAlias: live` (every function, whatever the template says). The HTTP
//! API invokes `live`, as API Gateway invokes the alias the template names. A published version
//! is a copy of the code taken when it was published ([`code`]), in `--versions-dir`: rebuilding
//! `target/` never changes one. Each version has its own instances, with
//! `AWS_LAMBDA_FUNCTION_VERSION` its number and the invoked ARN (`Lambda-Runtime-Invoked-Function-Arn`)
//! carrying the qualifier the caller used. As in Lambda, publishing code identical to the last
//! version's publishes nothing and answers that version; versions of a function do not share
//! `ReservedConcurrentExecutions` (each has the limit).
//!
//! Port 3001 serves, in each service's own protocol (checked against botocore's models):
//!
//! | service | request | operations |
//! |---|---|---|
//! | Lambda ([`lambda_api`]) | REST-JSON, `/2015-03-31/functions/{FunctionName}/…` | `Invoke` (`POST …/invocations`, `?Qualifier=`, `X-Amz-Client-Context`, `X-Amz-Invocation-Type` `RequestResponse`, `Event` or `DryRun`), `PublishVersion` (`POST …/versions`), `ListVersionsByFunction` (`GET …/versions`), `GetAlias` / `UpdateAlias` (`GET` / `PUT …/aliases/{Name}`), `UpdateFunctionCode` (`PUT …/code`) |
//! | CodeDeploy ([`codedeploy`]) | awsJson1.1, `POST /`, `X-Amz-Target: CodeDeploy_20141006.<Operation>` | `CreateDeployment` (every Lambda type; runner-only header `x-redline-minute`), `GetDeployment`, `ListDeployments`, `StopDeployment`, `ListApplications`, `ListDeploymentGroups`, `GetDeploymentGroup`, `ListDeploymentTargets`, `GetDeploymentTarget`, `PutLifecycleEventHookExecutionStatus` |
//! | CloudWatch ([`cloudwatch`]) | Smithy RPC v2 CBOR, `POST /service/GraniteServiceVersion20100801/operation/<Operation>`, `smithy-protocol: rpc-v2-cbor`, CBOR bodies, query-compatible errors (`x-amzn-query-error`) | `DescribeAlarms` (filters `AlarmNames`, `AlarmNamePrefix`, `StateValue`, `AlarmTypes`, `MaxRecords`/`NextToken`) |
//!
//! - `{FunctionName}` is a logical id, a function name (`redline-local-auth`) or an ARN, with an
//!   optional `:qualifier`; a qualifier in the name and another in `?Qualifier=` are refused.
//! - The client context is base64 JSON (at most 3583 bytes), handed to the function as Lambda
//!   does: the JSON in the Runtime API's `Lambda-Runtime-Client-Context` header. The HTTP API
//!   never sets one. An `Event` invocation is answered 202 at once and never retried;
//!   `X-Amz-Log-Type: Tail` is ignored (no `X-Amz-Log-Result`).
//! - `UpdateAlias` checks the versions exist, one additional version at most, its weight in
//!   (0, 1), not on `$LATEST`, and `RevisionId`. The weights are applied as Lambda applies
//!   them: each invocation of the alias (the HTTP API's, and `Invoke` with it as qualifier) is
//!   drawn on its own, the additional version taking its weight's share; `X-Amz-Executed-Version`
//!   says which ran. The HTTP API logs one line per routed request naming that version:
//!   `redline-local: answered <route key> with <status> from <LogicalId> version <N> in <ms> ms`
//!   (the route key, `GET /helloworld/{name}`, never the path, which may carry a user's
//!   identifier).
//! - `UpdateFunctionCode` takes `S3Key` (a relative path searched in each `--code-dir` in turn,
//!   or an absolute one inside one; `S3Bucket` is not looked at), resolved through symbolic links
//!   and `..` before the check, and copies the file as `$LATEST`'s code (`Publish: true` also
//!   publishes it). `ZipFile` and `ImageUri` are refused: the runner never runs bytes a request
//!   carried, and without a `--code-dir` it takes code from nowhere.
//! - Calls that run or change code (all but `GetAlias`, `ListVersionsByFunction`,
//!   `GetDeployment`, `ListDeployments`, `ListApplications`, `ListDeploymentGroups`,
//!   `GetDeploymentGroup`, `ListDeploymentTargets`, `GetDeploymentTarget`, `DescribeAlarms` and
//!   `/metrics`) are answered only to a loopback peer, whatever the binding: others get
//!   `AccessDeniedException` (403).
//!
//! `CreateDeployment` takes a Lambda AppSpec in `revision.appSpecContent.content` (or
//! `revision.string.content`), YAML or JSON: one `AWS::Lambda::Function` resource with `Name`,
//! `Alias`, `CurrentVersion` and `TargetVersion`, and `Hooks` `BeforeAllowTraffic` /
//! `AfterAllowTraffic`. The alias must point at `CurrentVersion`, and one deployment of an alias
//! runs at a time. It answers `d-XXXXXXXXX` and plays the type's schedule
//! ([`codedeploy::schedule`]) in the background: the `BeforeAllowTraffic` hook is invoked
//! asynchronously with `{"DeploymentId", "LifecycleEventHookExecutionId"}` and the deployment
//! waits for that execution's `PutLifecycleEventHookExecutionStatus` (at most `--hook-timeout`);
//! then the traffic moves (`AllowTraffic`): `AllAtOnce` (the default) points the alias at the
//! target version; `Canary10Percent<N>Minutes` sends 10 % to it (`RoutingConfig` on the alias),
//! waits N minutes and moves the rest; `Linear10PercentEvery<N>Minute(s)` adds 10 % every N
//! minutes until all of it; then the `AfterAllowTraffic` hook. The runner logs each move
//! (`deployment <id>: <function>:<alias> sends <P> % to version <V>`). `GetDeploymentTarget`'s
//! `lambdaFunctionInfo.targetVersionWeight` is the share the target has (0 to 1), and its
//! lifecycle events their progress.
//!
//! - **Deployment groups.** The runner knows one group per function with a
//!   `DeploymentPreference` ([`codedeploy::groups`]): application
//!   `redline-local-ServerlessDeploymentApplication`, group
//!   `redline-local-<LogicalId>DeploymentGroup` (`redline-local-AuthFunctionDeploymentGroup`),
//!   CloudFormation's names without their random suffix (`ListApplications` and
//!   `ListDeploymentGroups` list them, so a caller can find a group by prefix on AWS and here
//!   alike). `GetDeploymentGroup` shows its
//!   `deploymentConfigName` (the preference's `Type`, `DeploymentType` as the runner's parameters
//!   resolve it), its `alarmConfiguration` (the `Alarms`, each `!Ref` resolved to the alarm's
//!   `AlarmName`), SAM's `autoRollbackConfiguration`, `BLUE_GREEN` / `WITH_TRAFFIC_CONTROL`, and
//!   its last attempted and successful deployments. `CreateDeployment` with those names takes the
//!   group's configuration unless it names one, and watches the group's alarms; any other
//!   application and group name is accepted too, with no alarms.
//! - **A minute** lasts what the caller asks: `x-redline-minute: <milliseconds>` on
//!   `CreateDeployment` (10 to 3 600 000; default 60 000; anything else is
//!   `InvalidInputException`). A runner-only extension: AWS knows no such header.
//! - **Rollback alarms.** From the first shift on, right after each shift and every tenth of a
//!   minute while waiting or running `AfterAllowTraffic`, the deployment asks a
//!   [`codedeploy::watch::RollbackWatch`] about the group's alarms for the target version. An
//!   alarm in ALARM stops the deployment (`Stopped`, `ALARM_ACTIVE`, the message naming the
//!   alarm); an alarm that cannot be evaluated fails it (`Failed`, `ALARM_CONFIG`, the message
//!   naming the alarm and why). The watch is [`alarms::Alarms`] (below).
//! - **Rollback.** A hook reporting `Failed` (`HOOK_EXECUTION_FAILURE`) or nothing in time
//!   (`TIMEOUT`), or an alarm, points the alias back at `CurrentVersion` with no weights,
//!   `rollbackInfo.rollbackMessage` says so, pending events are `Skipped` and the one in progress
//!   `Failed`. `StopDeployment` does the same at once (`Stopped`, `MANUAL_STOP`), unless
//!   `autoRollbackEnabled` is `false`, which leaves the alias as it is; it answers
//!   `{"status": "Succeeded", "statusMessage"}`; a deployment already over is
//!   `DeploymentAlreadyCompletedException`.
//! - `ListDeployments` lists newest first, all deployments or one application's group's (both
//!   names or neither), filtered by `includeOnlyStatuses` and `createTimeRange`. Every list is
//!   one page: `nextToken` is ignored and never answered.
//!
//! # Rollback alarms ([`alarms`])
//!
//! The `AWS::CloudWatch::Alarm` resources a function's `DeploymentPreference.Alarms` names are
//! evaluated as CloudWatch evaluates them, on what each version emitted: the EMF documents the
//! runner folds (every dimension set of each directive its own metric, values in the document's
//! unit, at its `_aws.Timestamp`) and the runner's stand-in for Lambda's `AWS/Lambda`
//! `Invocations` and `Errors` (by `FunctionName`; `FunctionName` and `Resource`, the name with
//! the qualifier invoked; and, through an alias, `ExecutedVersion`; a function error, crash,
//! timeout or init failure is an error, a throttle neither). Single-metric alarms (`Statistic`
//! Sum/Average/Maximum/Minimum/SampleCount or `ExtendedStatistic` pNN) and metric math
//! (`MetricStat` entries and one expression: arithmetic, comparisons, `&&`, `||`, `IF`);
//! `EvaluationPeriods`, `DatapointsToAlarm`, `ComparisonOperator`, `Threshold`,
//! `TreatMissingData`. `!Ref <Fn>` and `!Sub "${<Fn>}:live"` resolve to the function's name,
//! `!GetAtt <Fn>.Version.Version` to the version evaluated. A 60 s `Period` lasts one minute:
//! the deployment's (`x-redline-minute`), else `--alarm-minute`. An alarm the runner cannot
//! evaluate (another AWS namespace, a metric no function emits, another function, anomaly
//! detection, a period not a whole number of minutes, an expression function other than `IF`)
//! is named with its reason: a deployment stops on it (`Verdict::Unevaluable`) and
//! `DescribeAlarms` shows it `INSUFFICIENT_DATA` with `EvaluationState: EVALUATION_ERROR`.
//! `DescribeAlarms` shows each alarm's state for its function's deploying version: the target
//! of its latest deployment in flight, else `live`'s version. Datapoints are kept only for the
//! series some alarm reads, for as long as the longest look-back at the longest minute in use,
//! and at most 50 000 per series.
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
//! [`Stack`] reads the template into one [`functions::Function`] per function (its `$LATEST`
//! and versions each a [`pool::FunctionPool`], their code in a [`code::CodeStore`]); [`gateway`]
//! serves the HTTP API (events through [`http`]), [`control`] the invoke port ([`lambda_api`],
//! [`codedeploy`], [`cloudwatch`] over [`alarms`], and [`scrape`] `/metrics`); [`runtime_api`]
//! is the Runtime API each instance polls; [`series`] renders Prometheus text.

pub mod alarms;
pub mod cloudwatch;
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
    /// `--alarm-minute`: a CloudWatch minute's length outside a deployment.
    pub alarm_minute: Duration,
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
        // The YAML once: the model reads it, the deployment groups and the rollback alarms
        // look up alarm resources.
        let text = std::fs::read_to_string(&settings.template)
            .map_err(|e| format!("cannot read {}: {e}", settings.template.display()))?;
        let root: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&text).map_err(|e| format!("template: not YAML: {e}"))?;
        let template = Template::from_document(&root).map_err(|e| e.to_string())?;
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
        // Before anything that needs cleaning up: a type or alarm that does not resolve stops
        // the runner here.
        let groups =
            codedeploy::groups::DeploymentGroups::from_template(&root, &template, &resolver)?;
        let names = template
            .functions
            .iter()
            .map(|spec| (spec.logical_id.clone(), function_name(spec, &resolver)))
            .collect();
        let alarms = Arc::new(alarms::Alarms::new(
            alarms::definition::rollback_alarms(&root, &template, &resolver, &names),
            settings.alarm_minute,
        ));
        let metrics = Arc::new(Metrics::with_datapoints(alarms.datapoints.clone()));
        let emf_log = match &settings.emf_log {
            Some(path) => Some(Arc::new(EmfLog::open(path)?)),
            None => None,
        };
        let store = Arc::new(CodeStore::new(
            settings.versions_dir.as_deref(),
            &settings.code_dirs,
        )?);
        let stack = Self::assemble(
            settings,
            port,
            template,
            groups,
            resolver,
            files,
            metrics,
            alarms,
            emf_log,
            store.clone(),
        );
        if stack.is_err() {
            store.cleanup();
        }
        stack
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        settings: &Settings,
        port: u16,
        template: Template,
        groups: codedeploy::groups::DeploymentGroups,
        resolver: Resolver,
        files: EnvVarsFile,
        metrics: Arc<Metrics>,
        alarms: Arc<alarms::Alarms>,
        emf_log: Option<Arc<EmfLog>>,
        store: Arc<CodeStore>,
    ) -> Result<Stack, String> {
        let mut all = Vec::new();
        for spec in &template.functions {
            let environment = env::function_environment(spec, &resolver, &files)?;
            let logging = spec
                .logging()
                .resolve(&resolver)
                .map_err(|e| format!("{}: {e}", spec.logical_id))?;
            let name = function_name(spec, &resolver);
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
            groups,
            alarms.clone(),
        ));
        let cloudwatch = cloudwatch::CloudWatch {
            alarms,
            functions: functions.clone(),
            codedeploy: codedeploy.clone(),
            region: settings.region.clone(),
            account_id: resolver.account_id.clone(),
            configured_ms: ids::now_ms(),
        };
        let control = control::Control::new(lambda, codedeploy, cloudwatch, metrics.clone());
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

/// A function's name: its `FunctionName` resolved, else its logical id.
fn function_name(spec: &redline_template::FunctionSpec, resolver: &Resolver) -> String {
    resolver
        .resolve(&spec.name)
        .unwrap_or_else(|_| spec.logical_id.clone())
}
