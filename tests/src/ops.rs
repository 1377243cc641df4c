//! `redline-ops` as an operator runs it: the real binary as a process, pointed by the standard
//! AWS variables at a moto server or a local runner, and the stacks it works on: four API
//! functions with versions and a `live` alias in moto (seeded with the Lambda SDK, as
//! CloudFormation would leave them), or the runner on `tests/fixtures/runner/ops.yaml` with a
//! `--code-dir` to publish new builds from.

use crate::runner::{bin_dir, env_file, repo_root, workspace_bin, Runner};
use crate::servers::{unique_token, MotoServer};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The template's API functions, as `--function` names them.
pub const AREAS: [&str; 4] = ["auth", "users", "greeter", "health"];

/// What one run of `redline-ops` answered.
#[derive(Debug)]
pub struct Answer {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Answer {
    /// stdout as the one JSON document `--json` promises.
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{self:?}"))
    }

    /// stdout as JSON lines (`deploy`).
    pub fn lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}\n{self:?}"))
            })
            .collect()
    }
}

/// Runs `redline-ops` against `endpoint` (every service) with dummy credentials; nothing of the
/// caller's own AWS configuration leaks in.
pub fn run(endpoint: &str, args: &[&str]) -> Answer {
    let mut command = command(endpoint);
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    answer(command.args(args))
}

/// `redline-ops deploy --local` of the build in `bin_dir` on the runner at `endpoint` (stack
/// `redline-local`), off the async threads so that a load on the runner keeps running.
pub async fn deploy_local(endpoint: &str, bin_dir: &Path, kind: &str, minute: &str) -> Answer {
    let endpoint = endpoint.to_string();
    let args: Vec<String> = ["deploy", "--local", "--stack", LOCAL_STACK, "--bin-dir"]
        .iter()
        .map(|a| a.to_string())
        .chain([bin_dir.to_string_lossy().into_owned()])
        .chain([
            "--type".into(),
            kind.into(),
            "--minute".into(),
            minute.into(),
        ])
        .collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&endpoint, &args)
    })
    .await
    .expect("redline-ops ran")
}

/// As [`run`], with more variables (`REDLINE_STACK`).
pub fn run_with(endpoint: &str, vars: &[(&str, &str)], args: &[&str]) -> Answer {
    let mut command = command(endpoint);
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .envs(vars.iter().copied());
    answer(command.args(args))
}

/// As [`run`], with no credentials anywhere (no variables, no profile, no instance metadata).
pub fn run_without_credentials(endpoint: &str, args: &[&str]) -> Answer {
    answer(command(endpoint).args(args))
}

fn command(endpoint: &str) -> Command {
    let mut command = Command::new(workspace_bin("redline-ops"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name == "REDLINE_STACK" {
            command.env_remove(name);
        }
    }
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/redline-ops-test")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/redline-ops-test",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null());
    command
}

fn answer(command: &mut Command) -> Answer {
    let output = command
        .output()
        .expect("redline-ops runs (cargo build --workspace --bins)");
    Answer {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn lambda_client(endpoint: &str) -> aws_sdk_lambda::Client {
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(aws_sdk_lambda::config::BehaviorVersion::latest())
        .region(aws_sdk_lambda::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_lambda::config::Credentials::new(
            "testing", "testing", None, None, "test",
        ))
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

/// An empty zip archive (its end record alone) whose comment is `mark`: different marks are
/// different code, so moto publishes a new version for each.
fn zip(mark: &str) -> Vec<u8> {
    let mut bytes = b"PK\x05\x06".to_vec();
    bytes.extend_from_slice(&[0u8; 16]);
    bytes.extend_from_slice(&(mark.len() as u16).to_le_bytes());
    bytes.extend_from_slice(mark.as_bytes());
    bytes
}

/// A stack in moto: `<stack>-<area>` for each area with versions 1..=`versions` and `live` on
/// 1, as a deploy leaves them. Returns the stack name (unique, so tests may share a server).
pub async fn seed_moto(moto: &MotoServer, versions: u32) -> String {
    let stack = format!("ops{}", unique_token().replace('_', ""));
    let role = format!("{stack}-role");
    // moto's CreateFunction wants an existing role; IAM is one query-protocol call, and moto
    // tells services apart by the credential scope of the Authorization header it never checks.
    let created = reqwest::Client::new()
        .post(moto.endpoint())
        .header(
            "authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0",
        )
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "Action=CreateRole&Version=2010-05-08&RoleName={role}&AssumeRolePolicyDocument=%7B%7D"
        ))
        .send()
        .await
        .expect("moto answers IAM");
    assert!(created.status().is_success(), "CreateRole: {created:?}");
    let lambda = lambda_client(&moto.endpoint());
    for area in AREAS {
        let name = format!("{stack}-{area}");
        lambda
            .create_function()
            .function_name(&name)
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .role(format!("arn:aws:iam::123456789012:role/{role}"))
            .handler("bootstrap")
            .code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(aws_sdk_lambda::primitives::Blob::new(zip("v0")))
                    .build(),
            )
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateFunction {name}: {e:?}"));
        for version in 1..=versions {
            lambda
                .update_function_code()
                .function_name(&name)
                .zip_file(aws_sdk_lambda::primitives::Blob::new(zip(&format!(
                    "v{version}"
                ))))
                .send()
                .await
                .unwrap_or_else(|e| panic!("UpdateFunctionCode {name}: {e:?}"));
            let published = lambda
                .publish_version()
                .function_name(&name)
                .send()
                .await
                .unwrap_or_else(|e| panic!("PublishVersion {name}: {e:?}"));
            assert_eq!(published.version(), Some(version.to_string().as_str()));
        }
        lambda
            .create_alias()
            .function_name(&name)
            .name("live")
            .function_version("1")
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateAlias {name}: {e:?}"));
    }
    stack
}

/// `live` as Lambda reports it: the version and the additional weights.
pub async fn alias(endpoint: &str, function: &str) -> (String, Vec<(String, f64)>) {
    let alias = lambda_client(endpoint)
        .get_alias()
        .function_name(function)
        .name("live")
        .send()
        .await
        .unwrap_or_else(|e| panic!("GetAlias {function}: {e:?}"));
    let weights = alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default();
    (
        alias.function_version().unwrap_or_default().to_string(),
        weights,
    )
}

/// A directory removed when dropped.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(kind: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("redline-ops-{kind}-{}", unique_token()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a copy of the misbehaving test function with `mark` appended, as `dir/name`: each
/// mark is different code, hence a new version when published, and the function reports the
/// mark it runs with (its `context` action).
pub fn marked_copy(dir: &Path, name: &str, mark: &str) {
    use std::os::unix::fs::PermissionsExt;
    let mut bytes = std::fs::read(workspace_bin("misbehave")).unwrap();
    bytes.extend_from_slice(format!("MISBEHAVE-MARK={mark}").as_bytes());
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The binaries a build of the stack consists of (the API functions and migrate), marked.
pub fn write_build(dir: &Path, mark: &str) {
    for name in AREAS.iter().chain(&["migrate"]) {
        marked_copy(dir, name, mark);
    }
}

/// The runner on the ops fixture (stack `redline-local`), started from a build marked `first`;
/// `code` is its `--code-dir`, where new builds go. `pre_hook` is what the PreTraffic stand-in
/// reports (`Succeeded`, `Failed` or `silent`).
pub struct LocalStack {
    pub runner: Runner,
    pub code: Scratch,
    _bins: Scratch,
}

pub const LOCAL_STACK: &str = "redline-local";

impl LocalStack {
    pub fn start(pre_hook: &str, extra: &[&str]) -> LocalStack {
        Self::start_with(pre_hook, extra, json!({}))
    }

    /// As [`LocalStack::start`], with more variables for some functions (`{"MigrateFunction":
    /// {...}}`), merged over the hooks' own.
    pub fn start_with(pre_hook: &str, extra: &[&str], sections: serde_json::Value) -> LocalStack {
        let bins = Scratch(bin_dir(&[("hook_stub", workspace_bin("hook_stub"))]));
        write_build(&bins.0, "first");
        let code = Scratch::new("code");
        let code_dir = code.0.to_string_lossy().into_owned();
        // Longer than the hooks' own 30 s timeout (the fixture's), so a slow hook fails as a hook.
        let mut args = vec!["--code-dir", code_dir.as_str(), "--hook-timeout", "40"];
        args.extend_from_slice(extra);
        let pre_hook = pre_hook.to_string();
        let runner = Runner::start_with(
            &repo_root().join("tests/fixtures/runner/ops.yaml"),
            &|port| {
                let endpoint = format!("http://127.0.0.1:{port}");
                vec![
                    env_file(&json!({
                        "PreTrafficHookFunction": {"AWS_ENDPOINT_URL": endpoint, "HOOK_STUB_OUTCOME": pre_hook},
                        "PostTrafficHookFunction": {"AWS_ENDPOINT_URL": endpoint},
                    })),
                    env_file(&sections),
                ]
            },
            &bins.0,
            &args,
        );
        LocalStack {
            runner,
            code,
            _bins: bins,
        }
    }

    pub fn endpoint(&self) -> String {
        self.runner.endpoint()
    }

    /// Publishes a new build of `area` (a copy marked `mark` in the code directory).
    pub async fn publish(&self, area: &str, mark: &str) -> String {
        let file = format!("{area}-{mark}");
        marked_copy(&self.code.0, &file, mark);
        let published = self
            .runner
            .lambda()
            .update_function_code()
            .function_name(format!("{LOCAL_STACK}-{area}"))
            .s3_key(&file)
            .publish(true)
            .send()
            .await
            .unwrap_or_else(|e| panic!("publish {area}: {e:?}"));
        published.version().unwrap_or_default().to_string()
    }
}

/// The mark of the code `qualifier` of `function` runs, from a cold start: a warm instance is
/// crashed first (its `crash` action), so the next invocation starts the version's code anew.
pub async fn running_mark(runner: &Runner, function: &str, qualifier: &str) -> Value {
    let lambda = runner.lambda();
    let crashed = lambda
        .invoke()
        .function_name(function)
        .qualifier(qualifier)
        .payload(aws_sdk_lambda::primitives::Blob::new(
            r#"{"action":"crash"}"#,
        ))
        .send()
        .await
        .unwrap_or_else(|e| panic!("invoke {function}:{qualifier}: {e:?}"));
    assert!(
        crashed.function_error().is_some(),
        "the crash did not crash"
    );
    let output = lambda
        .invoke()
        .function_name(function)
        .qualifier(qualifier)
        .payload(aws_sdk_lambda::primitives::Blob::new(
            r#"{"action":"context"}"#,
        ))
        .send()
        .await
        .unwrap_or_else(|e| panic!("invoke {function}:{qualifier}: {e:?}"));
    assert_eq!(output.function_error(), None);
    let answer: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    body["mark"].clone()
}
