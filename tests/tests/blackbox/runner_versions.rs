//! The runner's function versions, black box, driven with the Rust AWS SDK's Lambda client (the
//! one the traffic hook uses): version 1 and `live` at start, `PublishVersion` snapshots that a
//! rebuilt binary does not change, `Invoke` routed by qualifier with a client context,
//! `UpdateAlias` checks, `UpdateFunctionCode` only from a `--code-dir`, and calls that run or
//! change code refused to a non-loopback client.

use aws_sdk_lambda::primitives::Blob;
use base64::Engine;
use redline_tests::runner::{bin_dir, env_file, repo_root, Runner};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const FUNCTION: &str = "redline-local-misbehave";
pub const PRE_HOOK: &str = "CodeDeployHook_redline-local-PreTraffic";

fn misbehave() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_misbehave"))
}

/// Writes the misbehave binary with `MISBEHAVE-MARK=<mark>` appended (it reports the mark), in
/// place when it can: the same file rewritten, which a copy-free "snapshot" (a hard link) would
/// not survive. A file an instance is running cannot be written (`ETXTBSY`): that one is
/// replaced, as a rebuild replaces it.
pub fn write_marked(path: &Path, mark: &str) {
    use std::os::unix::fs::PermissionsExt;
    let mut bytes = std::fs::read(misbehave()).unwrap();
    bytes.extend_from_slice(format!("MISBEHAVE-MARK={mark}").as_bytes());
    if let Err(error) = std::fs::write(path, &bytes) {
        assert_eq!(
            error.raw_os_error(),
            Some(libc::ETXTBSY),
            "{}: {error}",
            path.display()
        );
        let fresh = path.with_extension("new");
        std::fs::write(&fresh, &bytes).unwrap();
        std::fs::set_permissions(&fresh, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::rename(&fresh, path).unwrap();
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A directory of copied binaries, removed when dropped.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new(kind: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "redline-{kind}-{}",
            redline_tests::servers::unique_token()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A `--bin-dir` whose misbehave is a real copy marked `mark` (tests overwrite it), beside the
/// hook stub.
pub fn marked_bins(mark: &str) -> (Scratch, PathBuf) {
    let dir = Scratch(bin_dir(&[(
        "hook_stub",
        PathBuf::from(env!("CARGO_BIN_EXE_hook_stub")),
    )]));
    let binary = dir.join("misbehave");
    write_marked(&binary, mark);
    (dir, binary)
}

/// The runner on the deployment fixture; `hooks` are the env-vars sections of the two hooks
/// (their endpoint is added).
pub fn deploy_runner(bins: &Path, hooks: Value, extra: &[&str]) -> Runner {
    let template = repo_root().join("tests/fixtures/runner/deploy.yaml");
    Runner::start_with(
        &template,
        &|port| {
            let endpoint = format!("http://127.0.0.1:{port}");
            let mut vars = json!({
                "PreTrafficHook": {"AWS_ENDPOINT_URL": endpoint},
                "PostTrafficHook": {"AWS_ENDPOINT_URL": endpoint},
            });
            for (hook, settings) in hooks.as_object().into_iter().flatten() {
                for (name, value) in settings.as_object().into_iter().flatten() {
                    vars[hook][name] = value.clone();
                }
            }
            vec![env_file(&vars)]
        },
        bins,
        extra,
    )
}

/// Invokes through the SDK: the executed version and the misbehave `context` answer's body.
pub async fn context(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    qualifier: Option<&str>,
) -> (String, Value) {
    let output = lambda
        .invoke()
        .function_name(function)
        .set_qualifier(qualifier.map(str::to_string))
        .payload(Blob::new(r#"{"action":"context"}"#))
        .send()
        .await
        .unwrap_or_else(|e| panic!("invoke {function} {qualifier:?}: {e:?}"));
    assert_eq!(output.status_code(), 200);
    assert_eq!(output.function_error(), None);
    let answer: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
    let body = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    (
        output.executed_version().unwrap_or_default().to_string(),
        body,
    )
}

fn error_code<E: aws_sdk_lambda::error::ProvideErrorMetadata>(error: &E) -> String {
    error.code().unwrap_or("none").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn published_versions_are_snapshots_a_rebuild_does_not_change() {
    let (bins, binary) = marked_bins("A");
    let runner = deploy_runner(&bins, json!({}), &[]);
    let lambda = runner.lambda();
    // At start: $LATEST and version 1, with live on 1.
    let versions = lambda
        .list_versions_by_function()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap();
    let listed: Vec<&str> = versions
        .versions()
        .iter()
        .filter_map(|v| v.version())
        .collect();
    assert_eq!(listed, ["$LATEST", "1"]);
    let live = lambda
        .get_alias()
        .function_name(FUNCTION)
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(live.function_version(), Some("1"));
    // "Rebuild": the --bin-dir binary is overwritten before version 1 ever ran.
    write_marked(&binary, "B");
    let (executed, body) = context(&lambda, FUNCTION, Some("1")).await;
    assert_eq!(
        (executed.as_str(), &body["mark"]),
        ("1", &json!("A")),
        "{body}"
    );
    assert_eq!(body["version"], "1", "AWS_LAMBDA_FUNCTION_VERSION");
    assert!(body["invoked_arn"]
        .as_str()
        .unwrap()
        .ends_with(":function:redline-local-misbehave:1"));
    let (executed, body) = context(&lambda, FUNCTION, None).await;
    assert_eq!((executed.as_str(), &body["mark"]), ("$LATEST", &json!("B")));
    assert_eq!(body["version"], "$LATEST");
    assert!(body["invoked_arn"]
        .as_str()
        .unwrap()
        .ends_with(":function:redline-local-misbehave"));
    // Publishing snapshots B as version 2; publishing unchanged code makes no version 3.
    let published = lambda
        .publish_version()
        .function_name(FUNCTION)
        .description("B")
        .send()
        .await
        .unwrap();
    assert_eq!(published.version(), Some("2"));
    assert!(published
        .function_arn()
        .unwrap()
        .ends_with(":redline-local-misbehave:2"));
    let code_sha = published.code_sha256().unwrap().to_string();
    let again = lambda
        .publish_version()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap();
    assert_eq!(again.version(), Some("2"));
    let refused = lambda
        .publish_version()
        .function_name(FUNCTION)
        .code_sha256("not-the-code")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused), "InvalidParameterValueException");
    write_marked(&binary, "C");
    let (executed, body) = context(&lambda, FUNCTION, Some("2")).await;
    assert_eq!(
        (executed.as_str(), &body["mark"]),
        ("2", &json!("B")),
        "{body}"
    );
    let versions = lambda
        .list_versions_by_function()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap();
    let two = versions
        .versions()
        .iter()
        .find(|v| v.version() == Some("2"))
        .unwrap();
    assert_eq!(
        two.code_sha256(),
        Some(code_sha.as_str()),
        "a version's code never changes"
    );
    assert_eq!(two.description(), Some("B"));
    let latest = versions
        .versions()
        .iter()
        .find(|v| v.version() == Some("$LATEST"))
        .unwrap();
    assert_ne!(
        latest.code_sha256(),
        Some(code_sha.as_str()),
        "$LATEST follows the --bin-dir"
    );
    // The HTTP API invokes live (version 1, A) until live moves.
    let (status, body) = runner
        .call(
            &reqwest::Client::new(),
            reqwest::Method::GET,
            "/misbehave/context",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status.as_u16(), &body["version"], &body["mark"]),
        (200, &json!("1"), &json!("A")),
        "{body}"
    );
    assert!(body["invoked_arn"]
        .as_str()
        .unwrap()
        .ends_with(":redline-local-misbehave:live"));
    lambda
        .update_alias()
        .function_name(FUNCTION)
        .name("live")
        .function_version("2")
        .send()
        .await
        .unwrap();
    let (_, body) = runner
        .call(
            &reqwest::Client::new(),
            reqwest::Method::GET,
            "/misbehave/context",
            None,
            None,
        )
        .await;
    assert_eq!(
        (&body["version"], &body["mark"]),
        (&json!("2"), &json!("B")),
        "{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn invoke_honours_qualifiers_in_every_spelling() {
    let (bins, binary) = marked_bins("A");
    let runner = deploy_runner(&bins, json!({}), &[]);
    let lambda = runner.lambda();
    write_marked(&binary, "B");
    lambda
        .publish_version()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap();
    let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}");
    for (function, qualifier, version) in [
        (FUNCTION.to_string(), Some("2"), "2"),
        (FUNCTION.to_string(), Some("live"), "1"),
        (FUNCTION.to_string(), Some("$LATEST"), "$LATEST"),
        (format!("{FUNCTION}:2"), None, "2"),
        (format!("{arn}:live"), None, "1"),
        (format!("{arn}:2"), Some("2"), "2"),
        (arn.clone(), Some("1"), "1"),
        ("MisbehaveFunction".to_string(), Some("2"), "2"),
    ] {
        let (executed, body) = context(&lambda, &function, qualifier).await;
        assert_eq!(
            (executed.as_str(), body["version"].as_str()),
            (version, Some(version)),
            "{function} {qualifier:?}"
        );
    }
    for (function, qualifier, code) in [
        (FUNCTION.to_string(), Some("3"), "ResourceNotFoundException"),
        (
            FUNCTION.to_string(),
            Some("canary"),
            "ResourceNotFoundException",
        ),
        (
            format!("{FUNCTION}:1"),
            Some("2"),
            "InvalidParameterValueException",
        ),
        (
            "redline-local-nothing".to_string(),
            None,
            "ResourceNotFoundException",
        ),
    ] {
        let refused = lambda
            .invoke()
            .function_name(&function)
            .set_qualifier(qualifier.map(str::to_string))
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&refused), code, "{function} {qualifier:?}");
    }
    // UpdateAlias: weights are checked as Lambda checks them (runner_weights applies them).
    let weights = |version: &str, weight: f64| {
        aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
            .additional_version_weights(version, weight)
            .build()
    };
    let updated = lambda
        .update_alias()
        .function_name(FUNCTION)
        .name("live")
        .function_version("1")
        .routing_config(weights("2", 0.25))
        .send()
        .await
        .unwrap();
    let stored = updated
        .routing_config()
        .and_then(|r| r.additional_version_weights());
    assert_eq!(stored.and_then(|w| w.get("2")), Some(&0.25));
    let alias = lambda
        .get_alias()
        .function_name(FUNCTION)
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(alias.routing_config(), updated.routing_config());
    assert_eq!(alias.revision_id(), updated.revision_id());
    for (version, weight, code) in [
        ("2", 1.5, "InvalidParameterValueException"),
        ("2", 0.0, "InvalidParameterValueException"),
        ("9", 0.5, "ResourceNotFoundException"),
    ] {
        let refused = lambda
            .update_alias()
            .function_name(FUNCTION)
            .name("live")
            .routing_config(weights(version, weight))
            .send()
            .await
            .unwrap_err();
        assert_eq!(error_code(&refused), code, "{version} {weight}");
    }
    let stale = lambda
        .update_alias()
        .function_name(FUNCTION)
        .name("live")
        .function_version("2")
        .revision_id("stale")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&stale), "PreconditionFailedException");
    let missing = lambda
        .get_alias()
        .function_name(FUNCTION)
        .name("canary")
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&missing), "ResourceNotFoundException");
}

fn encode(text: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(text)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_client_context_reaches_the_function_and_event_invocations_run_in_the_background() {
    let (bins, _) = marked_bins("A");
    let runner = deploy_runner(&bins, json!({}), &[]);
    let lambda = runner.lambda();
    let sent =
        json!({"custom": {"signature": "abc", "who": "smoke"}, "environment": {"stage": "pre"}});
    let output = lambda
        .invoke()
        .function_name(FUNCTION)
        .qualifier("1")
        .client_context(encode(&sent.to_string()))
        .payload(Blob::new(r#"{"action":"context"}"#))
        .send()
        .await
        .unwrap();
    let answer: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
    let body: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["client_context"]["custom"], sent["custom"], "{body}");
    assert_eq!(body["client_context"]["environment"], sent["environment"]);
    // Without one, the function sees none; the HTTP API can never send one.
    let (_, body) = context(&lambda, FUNCTION, Some("1")).await;
    assert_eq!(body["client_context"], Value::Null);
    let (_, body) = runner
        .call(
            &reqwest::Client::new(),
            reqwest::Method::GET,
            "/misbehave/context",
            None,
            None,
        )
        .await;
    assert_eq!(body["client_context"], Value::Null);
    for bad in [
        "not base64!".to_string(),
        encode("[1, 2]"),
        encode("not json"),
    ] {
        let refused = lambda
            .invoke()
            .function_name(FUNCTION)
            .client_context(bad.clone())
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_code(&refused),
            "InvalidRequestContentException",
            "{bad}"
        );
    }
    // Event: 202 at once, the invocation runs on (its log lines arrive later). The first sleeps
    // for a minute (its 3 s timeout ends it): the answer does not wait for it.
    let started = std::time::Instant::now();
    let output = lambda
        .invoke()
        .function_name(FUNCTION)
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(Blob::new(r#"{"action":"sleep"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(output.status_code(), 202);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let output = lambda
        .invoke()
        .function_name(FUNCTION)
        .invocation_type(aws_sdk_lambda::types::InvocationType::Event)
        .payload(Blob::new(r#"{"action":"emf"}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(output.status_code(), 202);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    for ran in ["misbehave INFO line", "timed out after 3 s"] {
        while !runner.log_text().contains(ran) {
            assert!(
                std::time::Instant::now() < deadline,
                "{ran}: {}",
                runner.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn update_function_code_takes_code_only_from_a_code_dir() {
    let (bins, _) = marked_bins("A");
    let code_dir = Scratch::new("code");
    let outside = Scratch::new("outside");
    write_marked(&code_dir.join("misbehave-d"), "D");
    write_marked(&outside.join("misbehave-x"), "X");
    std::os::unix::fs::symlink(outside.join("misbehave-x"), code_dir.join("escape")).unwrap();
    let dir_arg = code_dir.to_str().unwrap().to_string();
    let runner = deploy_runner(&bins, json!({}), &["--code-dir", &dir_arg]);
    let lambda = runner.lambda();
    let outside_file = outside.join("misbehave-x").to_string_lossy().into_owned();
    let relative_escape = format!(
        "../{}/misbehave-x",
        outside.file_name().unwrap().to_str().unwrap()
    );
    for key in [
        outside_file.as_str(),
        relative_escape.as_str(),
        "escape",
        "missing",
    ] {
        let refused = lambda
            .update_function_code()
            .function_name(FUNCTION)
            .s3_bucket("local")
            .s3_key(key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            error_code(&refused),
            "InvalidParameterValueException",
            "{key}"
        );
    }
    let uploaded = lambda
        .update_function_code()
        .function_name(FUNCTION)
        .zip_file(Blob::new(b"PK\x03\x04 any uploaded bytes".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&uploaded), "InvalidParameterValueException");
    let (_, body) = context(&lambda, FUNCTION, None).await;
    assert_eq!(body["mark"], "A", "nothing refused was installed");
    let updated = lambda
        .update_function_code()
        .function_name(FUNCTION)
        .s3_bucket("local")
        .s3_key("misbehave-d")
        .publish(true)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.version(), Some("2"));
    write_marked(&code_dir.join("misbehave-d"), "E");
    let (_, body) = context(&lambda, FUNCTION, None).await;
    assert_eq!(body["mark"], "D", "$LATEST runs the code as it was taken");
    let (_, body) = context(&lambda, FUNCTION, Some("2")).await;
    assert_eq!(
        (&body["mark"], &body["version"]),
        (&json!("D"), &json!("2"))
    );
    // A runner given no --code-dir takes code from nowhere.
    let (bins, _) = marked_bins("A");
    let plain = deploy_runner(&bins, json!({}), &[]);
    let refused = plain
        .lambda()
        .update_function_code()
        .function_name(FUNCTION)
        .s3_bucket("local")
        .s3_key(code_dir.join("misbehave-d").to_string_lossy())
        .send()
        .await
        .unwrap_err();
    assert_eq!(error_code(&refused), "InvalidParameterValueException");
}

/// This machine's first non-loopback IPv4 address, if it has one.
fn non_loopback_address() -> Option<std::net::Ipv4Addr> {
    let mut found = None;
    unsafe {
        let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
        if libc::getifaddrs(&mut list) != 0 {
            return None;
        }
        let mut entry = list;
        while !entry.is_null() {
            let address = (*entry).ifa_addr;
            if !address.is_null() && i32::from((*address).sa_family) == libc::AF_INET {
                let v4 = &*(address as *const libc::sockaddr_in);
                let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                if !ip.is_loopback() && found.is_none() {
                    found = Some(ip);
                }
            }
            entry = (*entry).ifa_next;
        }
        libc::freeifaddrs(list);
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn calls_that_run_or_change_code_answer_only_loopback_clients() {
    let Some(address) = non_loopback_address() else {
        eprintln!("skipped: this machine has no non-loopback IPv4 address to call from (control::is_loopback is unit-tested)");
        return;
    };
    let (bins, _) = marked_bins("A");
    let runner = deploy_runner(&bins, json!({}), &[]);
    // The port binds 127.0.0.1; a client whose source is the machine's own other address
    // still reaches it, as a forwarded container port would.
    let remote = reqwest::Client::builder()
        .local_address(std::net::IpAddr::V4(address))
        .build()
        .unwrap();
    let local = reqwest::Client::new();
    let functions = format!("/2015-03-31/functions/{FUNCTION}");
    let target = |op: &str| format!("CodeDeploy_20141006.{op}");
    let calls: Vec<(reqwest::Method, String, Option<String>, &str)> = vec![
        (
            reqwest::Method::POST,
            format!("{functions}/invocations"),
            None,
            "{}",
        ),
        (
            reqwest::Method::POST,
            format!("{functions}/versions"),
            None,
            "{}",
        ),
        (
            reqwest::Method::PUT,
            format!("{functions}/aliases/live"),
            None,
            r#"{"FunctionVersion":"1"}"#,
        ),
        (
            reqwest::Method::PUT,
            format!("{functions}/code"),
            None,
            r#"{"S3Key":"x"}"#,
        ),
        (
            reqwest::Method::POST,
            "/".into(),
            Some(target("CreateDeployment")),
            r#"{"applicationName":"a"}"#,
        ),
        (
            reqwest::Method::POST,
            "/".into(),
            Some(target("PutLifecycleEventHookExecutionStatus")),
            r#"{"deploymentId":"d-1"}"#,
        ),
    ];
    for (method, path, target, body) in calls {
        let send = |client: &reqwest::Client| {
            let mut request = client
                .request(method.clone(), runner.invoke_url(&path))
                .body(body.to_string());
            if let Some(target) = &target {
                request = request
                    .header("x-amz-target", target)
                    .header("content-type", "application/x-amz-json-1.1");
            }
            request.send()
        };
        let refused = send(&remote).await.unwrap();
        assert_eq!(refused.status(), 403, "{method} {path} {target:?}");
        assert_eq!(
            refused.headers()["x-amzn-errortype"],
            "AccessDeniedException"
        );
        let answered = send(&local).await.unwrap();
        assert_ne!(
            answered.status(),
            403,
            "{method} {path} {target:?} from loopback"
        );
    }
    // Reads are answered to anyone who reaches the port.
    let read = remote
        .get(runner.invoke_url(&format!("{functions}/aliases/live")))
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    let live = lambda_alias(&runner).await;
    assert_eq!(live, "1", "nothing moved");
}

async fn lambda_alias(runner: &Runner) -> String {
    let alias = runner
        .lambda()
        .get_alias()
        .function_name(FUNCTION)
        .name("live")
        .send()
        .await
        .unwrap();
    alias.function_version().unwrap_or_default().to_string()
}

/// The real health function on the real template: `GET /health` invoked through the Lambda API
/// answers the version that ran it (from the invoked ARN, as Lambda gives it), and the HTTP API
/// goes through `live`.
#[tokio::test(flavor = "multi_thread")]
async fn the_health_function_answers_with_the_version_invoked() {
    let env = redline_tests::TestEnv::new().await;
    let code_dir = Scratch::new("health-code");
    let mut code = std::fs::read(redline_tests::runner::workspace_bin("health")).unwrap();
    code.extend_from_slice(b"another build");
    std::fs::write(code_dir.join("health"), code).unwrap();
    let dir_arg = code_dir.to_string_lossy().into_owned();
    let runner = Runner::start(
        &repo_root().join("template.yaml"),
        &redline_tests::runner::stack_env_files(&env, json!({})),
        &redline_tests::runner::target_dir().join("debug"),
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
            "--code-dir",
            &dir_arg,
        ],
    );
    let lambda = runner.lambda();
    let health = "redline-local-health";
    let published = lambda
        .update_function_code()
        .function_name(health)
        .s3_key("health")
        .publish(true)
        .send()
        .await
        .unwrap();
    assert_eq!(published.version(), Some("2"));
    let event = redline_tests::TestRequest::get("/health").to_event("health-version");
    for (qualifier, executed, reported) in [
        ("1", "1", "1"),
        ("2", "2", "2"),
        ("$LATEST", "$LATEST", "$LATEST"),
        ("live", "1", "live"),
    ] {
        let output = lambda
            .invoke()
            .function_name(health)
            .qualifier(qualifier)
            .payload(Blob::new(event.to_string()))
            .send()
            .await
            .unwrap();
        assert_eq!(output.executed_version(), Some(executed), "{qualifier}");
        let raw: Value = serde_json::from_slice(output.payload().unwrap().as_ref()).unwrap();
        let answer = redline_tests::TestResponse::from_lambda_json(raw);
        assert_eq!(answer.status, 200, "{qualifier}: {:?}", answer.raw);
        assert_eq!(
            answer.body["version"], reported,
            "{qualifier}: {}",
            answer.body
        );
    }
    let (status, body) = runner
        .call(
            &reqwest::Client::new(),
            reqwest::Method::GET,
            "/health",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status.as_u16(), &body["version"]),
        (200, &json!("live")),
        "{body}"
    );
    // The EMF documents name the executing version, whatever the alias.
    let versions: std::collections::BTreeSet<String> = runner
        .emf_documents()
        .iter()
        .filter(|d| d["Function"] == "health")
        .filter_map(|d| d["Version"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        versions,
        ["$LATEST", "1", "2"]
            .map(String::from)
            .into_iter()
            .collect()
    );
}
