//! The local runner as a black box: started as a process with a template, env-vars files and a
//! directory of function binaries, driven over HTTP, stopped with Ctrl-C (SIGINT). Every runner
//! a test starts also serves `--metrics-port` and writes the EMF documents it folds to
//! `--emf-log`, for the tests to read, and keeps its published versions' snapshots in a
//! `--versions-dir` of its own, removed when the runner is dropped.

use crate::servers::free_port;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The workspace's target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary of the workspace, built by `cargo build --workspace --bins` (scripts/test.sh does);
/// the release one for benchmarks (`REDLINE_RUNNER_PROFILE=release`, as for the runner).
pub fn workspace_bin(name: &str) -> PathBuf {
    let profile = std::env::var("REDLINE_RUNNER_PROFILE").unwrap_or_else(|_| "debug".into());
    let path = target_dir().join(profile).join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace's binaries first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// A directory holding links to the given binaries, as the runner's `--bin-dir`.
pub fn bin_dir(binaries: &[(&str, PathBuf)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redline-bins-{}", crate::servers::unique_token()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, path) in binaries {
        std::os::unix::fs::symlink(path, dir.join(name)).unwrap();
    }
    dir
}

/// Writes an env-vars file (the shape of `sam local --env-vars`) and returns its path.
pub fn env_file(vars: &serde_json::Value) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "redline-env-{}.json",
        crate::servers::unique_token()
    ));
    std::fs::write(&path, vars.to_string()).unwrap();
    path
}

/// The env-vars files that point the real template's functions at a test deployment.
pub fn stack_env_files(env: &crate::TestEnv, extra: serde_json::Value) -> Vec<PathBuf> {
    let mut vars = env.runner_variables();
    if let (Some(vars), Some(extra)) = (vars.as_object_mut(), extra.as_object()) {
        vars.extend(extra.clone());
    }
    let mut sections = env.runner_app_logins();
    sections.insert("Parameters".into(), vars);
    vec![
        repo_root().join("configs/local-env.json"),
        env_file(&serde_json::Value::Object(sections)),
    ]
}

pub struct Runner {
    child: Option<Child>,
    pub port: u16,
    pub invoke_port: u16,
    /// The read-only `/metrics` port.
    pub metrics_port: u16,
    /// The runner's stdout and stderr: its own lines and the functions' log lines.
    pub log: PathBuf,
    /// `--emf-log`: every EMF document the runner folded, one a line.
    pub emf_log: PathBuf,
    /// From spawn to the HTTP API port accepting connections.
    pub startup: Duration,
    /// `--versions-dir`: the snapshots of the published versions.
    pub versions_dir: PathBuf,
    invalid_emf_expected: bool,
    /// Directories only this runner used (a code directory), removed with it.
    scratch: Vec<PathBuf>,
}

impl Runner {
    pub fn command(template: &Path, env_files: &[PathBuf], bin_dir: &Path) -> (Command, u16, u16) {
        let (port, invoke_port) = (free_port(), free_port());
        // Benchmarks run the release runner; tests the debug one.
        let profile = std::env::var("REDLINE_RUNNER_PROFILE").unwrap_or_else(|_| "debug".into());
        let runner = target_dir().join(&profile).join("redline-local");
        assert!(
            runner.is_file(),
            "{} is missing: build the workspace's binaries",
            runner.display()
        );
        let mut command = Command::new(runner);
        command
            .arg("--template")
            .arg(template)
            .arg("--bin-dir")
            .arg(bin_dir)
            .arg("--port")
            .arg(port.to_string())
            .arg("--invoke-port")
            .arg(invoke_port.to_string());
        for file in env_files {
            command.arg("--env-vars").arg(file);
        }
        (command, port, invoke_port)
    }

    /// Starts the runner and waits until it serves; panics with its log if it does not.
    pub fn start(template: &Path, env_files: &[PathBuf], bin_dir: &Path, extra: &[&str]) -> Runner {
        Self::start_with(template, &|_| env_files.to_vec(), bin_dir, extra)
    }

    /// As `start`, with env-vars files made once the invoke port is chosen (functions that
    /// call the runner's own Lambda and CodeDeploy APIs get it as `AWS_ENDPOINT_URL`).
    pub fn start_with(
        template: &Path,
        env_files: &dyn Fn(u16) -> Vec<PathBuf>,
        bin_dir: &Path,
        extra: &[&str],
    ) -> Runner {
        // A free port can be taken by another process before the runner binds it (parallel
        // tests start many listeners): a runner that could not listen is retried on new ports.
        let mut last_log = String::new();
        for _ in 0..5 {
            match Self::try_start(template, env_files, bin_dir, extra) {
                Ok(runner) => return runner,
                Err(log) if log.contains("cannot listen") => last_log = log,
                Err(log) => panic!("redline-local did not start:\n{log}"),
            }
        }
        panic!("redline-local found no free ports:\n{last_log}");
    }

    /// Starts the runner and waits for its "ready" line (written once both ports listen).
    fn try_start(
        template: &Path,
        env_files: &dyn Fn(u16) -> Vec<PathBuf>,
        bin_dir: &Path,
        extra: &[&str],
    ) -> Result<Runner, String> {
        let (mut command, port, invoke_port) = Self::command(template, &[], bin_dir);
        for file in env_files(invoke_port) {
            command.arg("--env-vars").arg(file);
        }
        let metrics_port = free_port();
        let token = crate::servers::unique_token();
        let log = std::env::temp_dir().join(format!("redline-local-{token}.log"));
        let emf_log = std::env::temp_dir().join(format!("redline-local-{token}.emf.jsonl"));
        let versions_dir = std::env::temp_dir().join(format!("redline-local-{token}.versions"));
        command
            .arg("--metrics-port")
            .arg(metrics_port.to_string())
            .arg("--emf-log")
            .arg(&emf_log)
            .arg("--versions-dir")
            .arg(&versions_dir)
            .args(extra);
        let file = std::fs::File::create(&log).unwrap();
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("redline-local starts");
        let mut runner = Runner {
            child: Some(child),
            port,
            invoke_port,
            metrics_port,
            log,
            emf_log,
            startup: Duration::ZERO,
            versions_dir,
            invalid_emf_expected: false,
            scratch: Vec::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if runner.log_text().contains("ready in") {
                runner.startup = started.elapsed();
                return Ok(runner);
            }
            let exited = runner
                .child
                .as_mut()
                .and_then(|child| child.try_wait().ok().flatten());
            if exited.is_some() {
                return Err(runner.log_text());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(format!("not ready within 10 s:\n{}", runner.log_text()))
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// One request to the HTTP API: the status and the body (JSON, or the text as a string).
    pub async fn call(
        &self,
        client: &reqwest::Client,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<serde_json::Value>,
    ) -> (reqwest::StatusCode, serde_json::Value) {
        let mut request = client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the runner answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
        (status, body)
    }

    pub fn invoke_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.invoke_port)
    }

    /// The invoke port as an AWS endpoint (`AWS_ENDPOINT_URL`): Lambda and CodeDeploy.
    pub fn endpoint(&self) -> String {
        self.invoke_url("")
    }

    /// The Rust SDK's Lambda client, pointed at the runner.
    pub fn lambda(&self) -> aws_sdk_lambda::Client {
        let config = aws_sdk_lambda::Config::builder()
            .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
            .region(aws_sdk_lambda::config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_lambda::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "redline-local",
            ))
            .build();
        aws_sdk_lambda::Client::from_conf(config)
    }

    /// The Rust SDK's CodeDeploy client, pointed at the runner.
    pub fn codedeploy(&self) -> aws_sdk_codedeploy::Client {
        let config = aws_sdk_codedeploy::Config::builder()
            .behavior_version(aws_sdk_codedeploy::config::BehaviorVersion::latest())
            .region(aws_sdk_codedeploy::config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_codedeploy::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "redline-local",
            ))
            .build();
        aws_sdk_codedeploy::Client::from_conf(config)
    }

    /// The Rust SDK's CloudWatch client (Smithy RPC v2 CBOR), pointed at the runner.
    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        let config = aws_sdk_cloudwatch::Config::builder()
            .behavior_version(aws_sdk_cloudwatch::config::BehaviorVersion::latest())
            .region(aws_sdk_cloudwatch::config::Region::new("us-east-1"))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new(
                "local",
                "local",
                None,
                None,
                "redline-local",
            ))
            .build();
        aws_sdk_cloudwatch::Client::from_conf(config)
    }

    /// The runner's Prometheus metrics (`/metrics` on the invoke port).
    pub async fn metrics(&self) -> String {
        reqwest::get(self.invoke_url("/metrics"))
            .await
            .expect("the invoke API answers")
            .text()
            .await
            .expect("metrics text")
    }

    pub fn metrics_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.metrics_port)
    }

    /// `/metrics` as a Prometheus server scrapes it: from the metrics port.
    pub async fn scrape(&self) -> String {
        reqwest::get(self.metrics_url("/metrics"))
            .await
            .expect("the metrics port answers")
            .text()
            .await
            .expect("metrics text")
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The EMF log: every document the runner folded into `/metrics`, one a line.
    pub fn emf_log_text(&self) -> String {
        std::fs::read_to_string(&self.emf_log).unwrap_or_default()
    }

    /// Every EMF document the functions printed so far: those the runner folded (its
    /// `--emf-log`) and any it refused as not valid EMF, which it prints to its log as they came.
    pub fn emf_documents(&self) -> Vec<serde_json::Value> {
        let mut documents = crate::emf::documents_in(&self.emf_log_text());
        documents.extend(crate::emf::documents_in(&self.log_text()));
        documents
    }

    /// For a test that makes a function print a malformed EMF document on purpose: the check
    /// when the runner stops is skipped.
    /// Removes `dir` when the runner goes (a directory only it reads, such as its code dir).
    pub fn owns(&mut self, dir: PathBuf) {
        self.scratch.push(dir);
    }

    pub fn expect_invalid_emf(&mut self) {
        self.invalid_emf_expected = true;
    }

    /// Validates every EMF document the functions printed against AWS's schema and the rules it
    /// cannot express; a line that mentions `_aws` but is no document fails too.
    pub fn check_emf(&self) {
        let (folded, log) = (self.emf_log_text(), self.log_text());
        let printed = log.lines().filter(|l| l.contains("\"_aws\""));
        for line in folded.lines().chain(printed) {
            let document: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("an EMF line that is not JSON ({e}): {line}"));
            if let Err(problems) = crate::emf::validate(&document) {
                panic!("invalid EMF document {line}:\n{}", problems.join("\n"));
            }
        }
    }

    /// Processes running `binary`: from its own path (`$LATEST`) or from one of this runner's
    /// snapshots of it (published versions, which the HTTP API invokes through `live`).
    pub fn instance_pids(&self, binary: &Path) -> Vec<u32> {
        let mut pids = pids_of(binary);
        let suffix = format!(
            "-{}",
            binary.file_name().unwrap_or_default().to_string_lossy()
        );
        for entry in std::fs::read_dir(&self.versions_dir)
            .into_iter()
            .flatten()
            .flatten()
        {
            if entry.file_name().to_string_lossy().ends_with(&suffix) {
                pids.extend(pids_of(&entry.path()));
            }
        }
        pids
    }

    /// Whether the runner process is still running (it has not exited on its own).
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Ctrl-C, then waits (bounded) for the runner to exit.
    pub fn interrupt(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Runner {
    /// Stops the runner, then holds every black-box test to valid EMF: each document the
    /// functions printed is validated (unless the test failed already).
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.versions_dir);
        for dir in &self.scratch {
            let _ = std::fs::remove_dir_all(dir);
        }
        if std::thread::panicking() {
            // The logs stay for whoever reads the failure.
            return;
        }
        if !self.invalid_emf_expected {
            self.check_emf();
        }
        let _ = std::fs::remove_file(&self.log);
        let _ = std::fs::remove_file(&self.emf_log);
    }
}

/// Process ids whose executable is `path` (Linux /proc), to see instances come and go.
pub fn pids_of(path: &Path) -> Vec<u32> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            (exe == target).then_some(pid)
        })
        .collect()
}

/// The value of one series (`name{labels}` exactly as the runner writes it) in a metrics text.
pub fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

/// `promtool check metrics` on a metrics text: what it said, empty when it found nothing
/// (Debian's `prometheus` package; scripts/ensure-services.sh installs it).
pub fn promtool_check_metrics(metrics: &str) -> String {
    use std::io::Write;
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus; scripts/ensure-services.sh installs it)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(metrics.as_bytes())
        .expect("promtool reads the metrics");
    let output = promtool.wait_with_output().expect("promtool runs");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        said.trim().to_string()
    } else {
        format!("({}) {said}", output.status)
    }
}

/// Total init time of a function's instances in milliseconds, from the runner's metrics text
/// (`redline_local_init_duration_seconds_sum`); NaN when it has none.
pub fn init_ms(metrics: &str, function: &str) -> f64 {
    let prefix = format!("redline_local_init_duration_seconds_sum{{function=\"{function}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|value| value.parse::<f64>().ok())
        .map(|seconds| seconds * 1000.0)
        .unwrap_or(f64::NAN)
}
