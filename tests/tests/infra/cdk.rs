//! `infra/cdk`, the CDK twin of `template.yaml`: the app installs from its lockfile, `cdk synth`
//! runs offline, and its node tests (`infra/cdk/test`) prove it deploys what SAM's transform of
//! the template deploys, resource by resource, catch a break of either side in every category,
//! and hold what parity cannot show (`aws-cdk-lib/assertions`, cfn-lint). Needs node and npm,
//! and the tools of `scripts/install-tools.sh`; the network only for the first `npm ci`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::LazyLock;

/// The parameters both templates are made with: every one without a default, and the
/// deployment type off its default so a parameter visibly flows through both.
const PARAMETERS: &str = r#"{"AllowedOrigins":["https://app.example.com","https://admin.example.com"],"DatabaseHost":"db.internal","RedisUrl":"rediss://cache.internal:6379","DeploymentType":"Linear10PercentEvery1Minute"}"#;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

fn app() -> PathBuf {
    root().join("infra/cdk")
}

/// Runs a command in `infra/cdk` with a dead proxy: no network call can pass unnoticed.
fn run(program: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    let output = Command::new(program)
        .args(args)
        .current_dir(app())
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "")
        .env("CDK_DISABLE_CLI_TELEMETRY", "true")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(envs.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (node and npm are needed): {e}"));
    assert!(
        output.status.success(),
        "{program} {} failed ({}):\n{}\n{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `npm ci` once per lockfile: a copy of the lockfile it installed marks node_modules as current,
/// so later runs touch neither npm nor the network.
fn install() {
    let lock = std::fs::read(app().join("package-lock.json")).expect("infra/cdk/package-lock.json");
    let stamp = app().join("node_modules/.redline-installed-lock.json");
    if std::fs::read(&stamp).ok().as_deref() == Some(&lock[..]) {
        return;
    }
    Command::new("npm")
        .args([
            "ci",
            "--prefer-offline",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
        ])
        .current_dir(app())
        .status()
        .ok()
        .filter(|s| s.success())
        .expect("npm ci in infra/cdk (the first run needs the npm registry)");
    std::fs::write(&stamp, &lock).expect("the install stamp");
}

/// Type-checks and compiles the app, the parity check and the tests into `build/`, unless
/// nothing changed since the last compile: tsc parses all of aws-cdk-lib's types (over 10 s)
/// even when its incremental build has nothing to do.
fn compile() {
    let stamp = app().join("build/.redline-compiled");
    let compiled = std::fs::metadata(&stamp).and_then(|m| m.modified()).ok();
    let mut inputs = vec![app().join("tsconfig.json"), app().join("package-lock.json")];
    for dir in ["bin", "lib", "parity", "test"] {
        collect_sources(&app().join(dir), &mut inputs);
    }
    let newest = inputs
        .iter()
        .filter_map(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok())
        .max();
    if compiled.is_some() && newest <= compiled {
        return;
    }
    run(
        "node",
        &["node_modules/typescript/bin/tsc", "-p", "tsconfig.json"],
        &[],
    );
    std::fs::write(&stamp, "").expect("the compile stamp");
}

fn collect_sources(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_sources(&path, into);
        } else if path.extension().is_some_and(|e| e == "ts") {
            into.push(path);
        }
    }
}

/// What the node tests compare: `cdk synth`'s template and SAM's transform of template.yaml.
struct Templates {
    cdk: PathBuf,
    sam: PathBuf,
}

static TEMPLATES: LazyLock<Templates> = LazyLock::new(|| {
    install();
    compile();

    // Cargo's scratch space for integration tests, emptied by each run.
    let scratch = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cdk");
    let _ = std::fs::remove_dir_all(&scratch);
    // Placeholder artefacts: synthesis hashes and copies target/lambda/<binary>; no release
    // build here (scripts/build-lambda.sh makes the real ones).
    let lambda = scratch.join("lambda");
    for needs in redline_core::needs::FUNCTIONS {
        let dir = lambda.join(needs.binary);
        std::fs::create_dir_all(&dir).expect("artefact placeholder");
        std::fs::write(dir.join("bootstrap"), needs.binary).expect("placeholder bootstrap");
    }
    let out = scratch.join("cdk.out");
    run(
        "node",
        &[
            "node_modules/aws-cdk/bin/cdk",
            "synth",
            // compile() built it: cdk.json's app would run tsc again.
            "--app",
            "node build/bin/app.js",
            "--quiet",
            "--no-notices",
            "--no-version-reporting",
            "--output",
            out.to_str().expect("utf-8 path"),
        ],
        &[
            ("REDLINE_LAMBDA_DIR", lambda.to_str().expect("utf-8 path")),
            // cfn-lint checks the template (cfn-lint.test.ts): skip the CDK's slower copy of it.
            ("CDK_VALIDATION", "false"),
        ],
    );

    let transformed = Command::new(root().join(".local/venv/bin/python"))
        .args(["scripts/sam-transform.py", "template.yaml", PARAMETERS])
        .current_dir(root())
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .output()
        .expect("run scripts/install-tools.sh once: SAM's translator lives in .local/venv");
    assert!(
        transformed.status.success(),
        "SAM's transform: {}",
        String::from_utf8_lossy(&transformed.stderr)
    );
    let sam = scratch.join("sam.json");
    std::fs::write(&sam, &transformed.stdout).expect("sam.json");
    Templates {
        cdk: out.join("Redline.template.json"),
        sam,
    }
});

/// Runs node test files of `infra/cdk/build/test` against the two templates; prints their report.
fn node_tests(files: &[&str]) {
    let templates = &*TEMPLATES;
    let paths: Vec<String> = files
        .iter()
        .map(|f| format!("build/test/{f}.test.js"))
        .collect();
    let mut args = vec!["--test"];
    args.extend(paths.iter().map(String::as_str));
    let output = run(
        "node",
        &args,
        &[
            (
                "REDLINE_CDK_TEMPLATE",
                templates.cdk.to_str().expect("utf-8"),
            ),
            (
                "REDLINE_SAM_TEMPLATE",
                templates.sam.to_str().expect("utf-8"),
            ),
            ("REDLINE_PARITY_PARAMETERS", PARAMETERS),
        ],
    );
    println!("{}", String::from_utf8_lossy(&output.stdout));
}

#[test]
fn cdk_synth_runs_offline_and_makes_one_stack_from_needs_json() {
    let template: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&TEMPLATES.cdk).expect("cdk synth's template"))
            .expect("JSON");
    let resources = template["Resources"].as_object().expect("Resources");
    for needs in redline_core::needs::FUNCTIONS {
        assert_eq!(
            resources[needs.logical_id]["Type"], "AWS::Lambda::Function",
            "{}: a function of the CDK stack",
            needs.logical_id
        );
    }
}

#[test]
fn cdk_twin_deploys_what_sams_transform_of_the_template_deploys() {
    node_tests(&["parity"]);
}

#[test]
fn cdk_parity_check_catches_a_break_of_either_side_in_every_category() {
    node_tests(&["break-one-side"]);
}

#[test]
fn cdk_stack_holds_what_parity_cannot_show_and_passes_cfn_lint() {
    node_tests(&["assertions", "cfn-lint"]);
}
