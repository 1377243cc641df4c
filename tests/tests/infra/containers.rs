//! The container files, checked offline (no container engine runs here): `hadolint Dockerfile` and
//! `dclint docker-compose.yml` pass without a warning, and the two files agree with each other and
//! with the workspace: every service built from this repository names a Dockerfile target that
//! exists and runs a binary, and reads paths, that target's image holds; every function has its
//! Lambda image target; the local image runs the runner as an unprivileged user; the image build
//! links like `scripts/build-lambda.sh` does. And the api service's command, mapped back from the
//! image to the repository, starts the real runner, which its healthcheck command then passes.
//! The linters come from `scripts/install-tools.sh`; the runner and the functions from
//! `cargo build --workspace --bins` (scripts/test.sh runs both).

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

const INSTALL_HINT: &str = "run scripts/install-tools.sh";
/// `LAMBDA_RUNTIME_DIR` of the Lambda base images.
const LAMBDA_RUNTIME_DIR: &str = "/var/runtime";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// A tool installed under the workspace's `.local/`; panics with the install hint when absent.
fn local_tool(relative: &str) -> PathBuf {
    let path = root().join(relative);
    assert!(path.is_file(), "{relative} is missing: {INSTALL_HINT}");
    path
}

fn run(tool: &Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(tool)
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .env("FORCE_COLOR", "0")
        .output()
        .unwrap_or_else(|error| panic!("{tool:?} could not be run ({error}): {INSTALL_HINT}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

// ---- the workspace -------------------------------------------------------------------------

struct Workspace {
    /// Every binary target of the workspace, with its package.
    bins: BTreeMap<String, String>,
    /// The binaries of the packages under functions/.
    functions: BTreeSet<String>,
    /// The packages' directories, relative to the workspace root.
    member_dirs: BTreeSet<String>,
}

fn workspace() -> Workspace {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata JSON");
    let functions_dir = root().join("functions");
    let mut workspace = Workspace {
        bins: BTreeMap::new(),
        functions: BTreeSet::new(),
        member_dirs: BTreeSet::new(),
    };
    for package in metadata["packages"].as_array().expect("packages") {
        let package_name = package["name"].as_str().expect("package name");
        let manifest = Path::new(package["manifest_path"].as_str().expect("manifest path"));
        if let Ok(dir) = manifest.parent().expect("a directory").strip_prefix(root()) {
            workspace.member_dirs.insert(dir.display().to_string());
        }
        let is_function = Path::new(package["manifest_path"].as_str().unwrap_or_default())
            .starts_with(&functions_dir);
        for target in package["targets"].as_array().expect("targets") {
            if target["kind"]
                .as_array()
                .is_some_and(|k| k.contains(&"bin".into()))
            {
                let name = target["name"].as_str().expect("target name").to_owned();
                if is_function {
                    workspace.functions.insert(name.clone());
                }
                workspace.bins.insert(name, package_name.to_owned());
            }
        }
    }
    assert!(
        !workspace.functions.is_empty(),
        "no function binaries under functions/"
    );
    workspace
}

// ---- the Dockerfile, as text -----------------------------------------------------------------

#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

#[derive(Debug)]
struct Stage {
    name: String,
    base: String,
    instructions: Vec<Instruction>,
}

struct Dockerfile {
    stages: Vec<Stage>,
}

impl Dockerfile {
    fn read() -> Self {
        let text = std::fs::read_to_string(root().join("Dockerfile")).expect("read Dockerfile");
        let mut instructions = Vec::new();
        let mut pending = String::new();
        for line in text.lines() {
            let trimmed = line.trim();
            // Comment lines end nothing and are dropped, inside a continuation too.
            if trimmed.starts_with('#') || (trimmed.is_empty() && pending.is_empty()) {
                continue;
            }
            match trimmed.strip_suffix('\\') {
                Some(part) => {
                    pending.push_str(part);
                    pending.push(' ');
                }
                None => {
                    pending.push_str(trimmed);
                    let (keyword, args) = pending
                        .split_once(char::is_whitespace)
                        .unwrap_or((&pending, ""));
                    instructions.push(Instruction {
                        keyword: keyword.to_uppercase(),
                        args: args.trim().to_owned(),
                    });
                    pending.clear();
                }
            }
        }
        let mut stages: Vec<Stage> = Vec::new();
        for instruction in instructions {
            if instruction.keyword == "FROM" {
                let words: Vec<&str> = instruction
                    .args
                    .split_whitespace()
                    .filter(|word| !word.starts_with("--"))
                    .collect();
                let name = match words.as_slice() {
                    [_, r#as, name] if r#as.eq_ignore_ascii_case("as") => name.to_string(),
                    _ => stages.len().to_string(),
                };
                stages.push(Stage {
                    name,
                    base: words[0].to_owned(),
                    instructions: Vec::new(),
                });
            } else if let Some(stage) = stages.last_mut() {
                stage.instructions.push(instruction);
            }
        }
        Dockerfile { stages }
    }

    fn stage(&self, name: &str) -> Option<&Stage> {
        self.stages.iter().find(|stage| stage.name == name)
    }

    /// The stage and the stages it is built FROM, the stage itself last.
    fn chain(&self, name: &str) -> Vec<&Stage> {
        let mut chain = Vec::new();
        let mut next = self.stage(name);
        while let Some(stage) = next {
            chain.insert(0, stage);
            next = self.stage(&stage.base);
        }
        chain
    }

    /// The external image a stage finally builds on.
    fn root_image(&self, name: &str) -> String {
        self.chain(name)
            .first()
            .map(|stage| stage.base.clone())
            .unwrap_or_default()
    }

    /// The last value of an instruction in the stage or the stages it builds on.
    fn last<'a>(&'a self, name: &str, keyword: &str) -> Option<&'a str> {
        self.chain(name)
            .into_iter()
            .flat_map(|stage| &stage.instructions)
            .filter(|instruction| instruction.keyword == keyword)
            .map(|instruction| instruction.args.as_str())
            .next_back()
    }

    /// The directories the stage's ENV PATH names (the inherited remainder, `${PATH}`, left out).
    fn path_dirs(&self, name: &str) -> Vec<String> {
        self.chain(name)
            .into_iter()
            .flat_map(|stage| &stage.instructions)
            .filter(|instruction| instruction.keyword == "ENV")
            .flat_map(|instruction| instruction.args.split_whitespace())
            .filter_map(|pair| pair.strip_prefix("PATH="))
            .flat_map(|path| path.split(':'))
            .filter(|dir| !dir.contains('$'))
            .map(str::to_owned)
            .collect()
    }

    /// The builder stage's `cargo lambda build` (`--workspace --bins`, maybe with `--exclude`).
    fn builder_build(&self) -> &str {
        self.stage("builder")
            .expect("Dockerfile has a builder stage")
            .instructions
            .iter()
            .find(|instruction| {
                instruction.keyword == "RUN" && instruction.args.contains("cargo lambda build")
            })
            .map(|instruction| instruction.args.as_str())
            .expect("the builder runs cargo lambda build")
    }

    /// The binaries the builder leaves in /out/bin: every binary of the workspace's packages but
    /// the ones it excludes.
    fn builder_bins(&self, workspace: &Workspace) -> BTreeSet<String> {
        let build = self.builder_build();
        let words: Vec<&str> = build.split_whitespace().collect();
        assert!(
            words.contains(&"--workspace") && words.contains(&"--bins"),
            "the builder no longer builds the workspace's binaries (--workspace --bins)"
        );
        let excluded: BTreeSet<&str> = words
            .windows(2)
            .filter(|pair| pair[0] == "--exclude")
            .map(|pair| pair[1])
            .collect();
        workspace
            .bins
            .iter()
            .filter(|(_, package)| !excluded.contains(package.as_str()))
            .map(|(bin, _)| bin.clone())
            .collect()
    }

    /// Every file this Dockerfile puts into the image of a stage, by absolute path, with where it
    /// comes from. The builder's `/out/bin/` holds one file per binary it builds.
    fn files(&self, name: &str, workspace: &Workspace) -> BTreeMap<String, String> {
        let builder_out: BTreeMap<String, String> = self
            .builder_bins(workspace)
            .iter()
            .map(|bin| (format!("/out/bin/{bin}"), format!("binary {bin}")))
            .collect();
        let mut files = BTreeMap::new();
        for stage in self.chain(name) {
            let mut workdir = String::from("/");
            for instruction in &stage.instructions {
                match instruction.keyword.as_str() {
                    "WORKDIR" => workdir = instruction.args.clone(),
                    "COPY" => {
                        let words: Vec<String> = instruction
                            .args
                            .replace("${LAMBDA_RUNTIME_DIR}", LAMBDA_RUNTIME_DIR)
                            .split_whitespace()
                            .map(str::to_owned)
                            .collect();
                        let from = words
                            .iter()
                            .find_map(|word| word.strip_prefix("--from="))
                            .map(str::to_owned);
                        let paths: Vec<&String> = words
                            .iter()
                            .filter(|word| !word.starts_with("--"))
                            .collect();
                        let (destination, sources) = paths.split_last().expect("COPY src dest");
                        let destination = if destination.starts_with('/') {
                            destination.to_string()
                        } else {
                            format!("{}/{destination}", workdir.trim_end_matches('/'))
                        };
                        for source in sources {
                            let copied: BTreeMap<String, String> = match &from {
                                Some(_) => builder_out
                                    .iter()
                                    .filter(|(path, _)| {
                                        *path == *source
                                            || (source.ends_with('/')
                                                && path.starts_with(source.as_str()))
                                    })
                                    .map(|(path, what)| (path.clone(), what.clone()))
                                    .collect(),
                                None => repository_files(source),
                            };
                            for (path, what) in copied {
                                let target = if destination.ends_with('/') {
                                    let relative = path
                                        .strip_prefix(source.as_str())
                                        .filter(|rest| !rest.is_empty())
                                        .unwrap_or_else(|| path.rsplit('/').next().unwrap());
                                    format!("{destination}{relative}")
                                } else {
                                    destination.clone()
                                };
                                files.insert(target, what);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        files
    }
}

/// The files of the build context a COPY source names, keyed by their path in the context.
fn repository_files(source: &str) -> BTreeMap<String, String> {
    fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) {
        for entry in std::fs::read_dir(dir)
            .expect("read a context directory")
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = format!("{prefix}{name}");
            if entry.path().is_dir() {
                walk(&entry.path(), &format!("{path}/"), out);
            } else {
                out.insert(path.clone(), format!("repository file {path}"));
            }
        }
    }
    let on_disk = root().join(source);
    let mut out = BTreeMap::new();
    if on_disk.is_dir() {
        let prefix = format!("{}/", source.trim_end_matches('/'));
        walk(&on_disk, &prefix, &mut out);
    } else if on_disk.is_file() {
        out.insert(source.to_owned(), format!("repository file {source}"));
    }
    out
}

/// A Dockerfile JSON-form argument list (`["a", "b"]`).
fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_else(|_| panic!("not a JSON-form list: {text}"))
}

// ---- docker-compose.yml, parsed by PyYAML from the tools' virtualenv ------------------------

fn compose() -> Value {
    let python = local_tool(".local/venv/bin/python");
    let script = "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), sys.stdout)";
    let output = Command::new(python)
        .args(["-c", script, "docker-compose.yml"])
        .current_dir(root())
        .output()
        .expect("python runs");
    assert!(
        output.status.success(),
        "parsing docker-compose.yml: {} ({INSTALL_HINT} if PyYAML is missing)",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the parsed compose file as JSON")
}

/// A compose `entrypoint`, `command` or healthcheck `test`: a list, or a string split as a shell
/// would split a simple command.
fn words(value: &Value) -> Option<Vec<String>> {
    match value {
        Value::Array(items) => Some(
            items
                .iter()
                .map(|item| item.as_str().expect("a string").to_owned())
                .collect(),
        ),
        Value::String(text) => Some(text.split_whitespace().map(str::to_owned).collect()),
        _ => None,
    }
}

fn services(compose: &Value) -> &serde_json::Map<String, Value> {
    compose["services"]
        .as_object()
        .expect("docker-compose.yml has services")
}

/// The services built from this repository, with the Dockerfile target each builds.
fn built_services(compose: &Value) -> Vec<(&String, &Value, String)> {
    services(compose)
        .iter()
        .filter(|(_, service)| !service["build"].is_null())
        .map(|(name, service)| {
            let build = &service["build"];
            assert!(
                build.is_object(),
                "service {name}: write build as a mapping with context and target"
            );
            assert_eq!(build["context"], ".", "service {name}: build context");
            let dockerfile = build["dockerfile"].as_str().unwrap_or("Dockerfile");
            assert_eq!(
                dockerfile, "Dockerfile",
                "service {name}: the Dockerfile at the root"
            );
            let target = build["target"]
                .as_str()
                .unwrap_or_else(|| panic!("service {name}: build names no target"))
                .to_owned();
            (name, service, target)
        })
        .collect()
}

/// What docker runs for a service: its entrypoint or the image's, then its command, or the
/// image's when the service sets neither (setting entrypoint drops the image's CMD).
fn service_argv(dockerfile: &Dockerfile, service: &Value, target: &str) -> Vec<String> {
    let image_entrypoint = dockerfile.last(target, "ENTRYPOINT").map(json_list);
    let image_cmd = dockerfile.last(target, "CMD").map(json_list);
    let entrypoint = words(&service["entrypoint"]).or(image_entrypoint);
    let command = words(&service["command"]).or(if service["entrypoint"].is_null() {
        image_cmd
    } else {
        None
    });
    entrypoint
        .into_iter()
        .flatten()
        .chain(command.into_iter().flatten())
        .collect()
}

/// The program and arguments of a service's healthcheck, if it runs one.
fn healthcheck_argv(service: &Value) -> Option<Vec<String>> {
    let test = words(&service["healthcheck"]["test"])?;
    match test.first().map(String::as_str) {
        Some("CMD") => Some(test[1..].to_vec()),
        Some("CMD-SHELL") => Some(
            test[1..]
                .join(" ")
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

// ---- the tests -------------------------------------------------------------------------------

#[test]
fn hadolint_passes_without_a_warning() {
    let hadolint = local_tool(".local/venv/bin/hadolint");
    let (ok, report) = run(&hadolint, &["Dockerfile"]);
    assert!(
        ok && report.trim().is_empty(),
        "hadolint Dockerfile:\n{report}"
    );
}

#[test]
fn dclint_passes_without_a_warning() {
    let dclint = local_tool(".local/npm/node_modules/.bin/dclint");
    let (ok, report) = run(&dclint, &["--max-warnings", "0", "docker-compose.yml"]);
    assert!(
        ok && !report.contains("warning") && !report.contains("error"),
        "dclint docker-compose.yml:\n{report}"
    );
}

#[test]
fn services_run_what_their_dockerfile_target_holds() {
    let dockerfile = Dockerfile::read();
    let workspace = workspace();
    let compose = compose();
    let built = built_services(&compose);
    assert!(
        !built.is_empty(),
        "no service builds an image from this repository"
    );
    let mut failures = Vec::new();
    for (name, service, target) in built {
        if dockerfile.stage(&target).is_none() {
            failures.push(format!("service {name}: Dockerfile has no target {target}"));
            continue;
        }
        let files = dockerfile.files(&target, &workspace);
        let path_dirs = dockerfile.path_dirs(&target);
        let resolves = |program: &str| -> bool {
            if program.starts_with('/') {
                files.contains_key(program)
            } else {
                path_dirs
                    .iter()
                    .any(|dir| files.contains_key(&format!("{dir}/{program}")))
            }
        };
        let mut commands = vec![("command", service_argv(&dockerfile, service, &target))];
        if let Some(argv) = healthcheck_argv(service) {
            commands.push(("healthcheck", argv));
        }
        for (what, argv) in commands {
            let Some(program) = argv.first() else {
                failures.push(format!("service {name}: no {what} to run"));
                continue;
            };
            if !resolves(program) {
                failures.push(format!(
                    "service {name}: {what} runs {program}, which target {target} does not hold \
                     (it holds {:?})",
                    files.keys().collect::<Vec<_>>()
                ));
            }
            for argument in &argv[1..] {
                let is_image_path = argument.starts_with("/app/") || argument.starts_with("/var/");
                if is_image_path
                    && !files.contains_key(argument)
                    && !files.keys().any(|f| f.starts_with(&format!("{argument}/")))
                {
                    failures.push(format!(
                        "service {name}: {what} reads {argument}, which target {target} does not \
                         hold (is its source missing from the repository?)"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_function_has_a_lambda_image_target() {
    let dockerfile = Dockerfile::read();
    let workspace = workspace();
    let mut failures = Vec::new();
    for function in &workspace.functions {
        if dockerfile.stage(function).is_none() {
            failures.push(format!("Dockerfile has no target {function}"));
            continue;
        }
        let base = dockerfile.root_image(function);
        let pinned = base
            .strip_prefix("public.ecr.aws/lambda/provided:al2023.")
            .is_some_and(|tag| !tag.is_empty());
        if !pinned {
            failures.push(format!(
                "target {function} builds on {base}, not on a pinned public.ecr.aws/lambda/provided:al2023.<date> tag"
            ));
        }
        let files = dockerfile.files(function, &workspace);
        let bootstrap = format!("{LAMBDA_RUNTIME_DIR}/bootstrap");
        let expected = format!("binary {function}");
        if files.get(&bootstrap) != Some(&expected) {
            failures.push(format!(
                "target {function}: {bootstrap} is {:?}, not the {function} binary",
                files.get(&bootstrap)
            ));
        }
        match dockerfile.last(function, "CMD").map(json_list) {
            Some(cmd) if cmd.len() == 1 => {}
            other => failures.push(format!(
                "target {function}: the base image's entrypoint needs a CMD of one handler name, not {other:?}"
            )),
        }
        if dockerfile.last(function, "ENTRYPOINT").is_some() {
            failures.push(format!(
                "target {function}: keep the base image's entrypoint (it starts the runtime interface emulator outside Lambda)"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn local_image_runs_the_runner_as_an_unprivileged_user() {
    let dockerfile = Dockerfile::read();
    let workspace = workspace();
    assert!(
        dockerfile.stage("local").is_some(),
        "Dockerfile has no target local"
    );
    let user = dockerfile
        .last("local", "USER")
        .expect("target local sets no USER, so it runs as root");
    let account = user.split(':').next().unwrap_or_default();
    assert!(
        !["root", "0", ""].contains(&account),
        "target local runs as {user}"
    );
    assert_eq!(
        dockerfile.last("local", "ENTRYPOINT").map(json_list),
        Some(vec!["redline-local".to_owned()]),
        "target local's entrypoint"
    );
    let files = dockerfile.files("local", &workspace);
    let expected: BTreeSet<String> = workspace
        .functions
        .iter()
        .cloned()
        .chain(["redline-local".to_owned()])
        .collect();
    for bin in &expected {
        assert!(
            files.contains_key(&format!("/app/bin/{bin}")),
            "target local lacks /app/bin/{bin}"
        );
    }
    let exposed: BTreeSet<String> = dockerfile
        .chain("local")
        .into_iter()
        .flat_map(|stage| &stage.instructions)
        .filter(|instruction| instruction.keyword == "EXPOSE")
        .flat_map(|instruction| instruction.args.split_whitespace().map(str::to_owned))
        .collect();
    // The HTTP API and the read-only metrics port; never the invoke API, which can run any
    // function (the runner binds it to loopback).
    for port in ["3000", "3002"] {
        assert!(
            exposed.contains(port),
            "target local does not expose {port}"
        );
    }
    assert!(
        !exposed.contains("3001"),
        "target local exposes the invoke API's port 3001"
    );
    // Whatever compose publishes from the local image is a port the image exposes.
    let compose = compose();
    for (name, service, target) in built_services(&compose) {
        if target != "local" {
            continue;
        }
        for mapping in service["ports"].as_array().into_iter().flatten() {
            let mapping = mapping.as_str().expect("ports as strings");
            let container = mapping.rsplit(':').next().unwrap_or_default();
            assert_ne!(
                container, "3001",
                "service {name} publishes the invoke API's port"
            );
            assert!(
                exposed.contains(container),
                "service {name} publishes {container}, which target local does not expose"
            );
        }
    }
}

#[test]
fn image_build_links_like_the_zip_build() {
    let dockerfile = Dockerfile::read();
    let read = |path: &str| std::fs::read_to_string(root().join(path)).expect(path);
    let install_tools = read("scripts/install-tools.sh");
    let build_lambda = read("scripts/build-lambda.sh");
    let pinned = install_tools
        .split('"')
        .find_map(|part| part.strip_prefix("cargo-lambda=="))
        .expect("scripts/install-tools.sh pins cargo-lambda");
    let builder = dockerfile
        .stage("builder")
        .expect("Dockerfile has a builder stage");
    let arg = builder
        .instructions
        .iter()
        .find_map(|instruction| instruction.args.strip_prefix("CARGO_LAMBDA_VERSION="))
        .expect("the builder pins CARGO_LAMBDA_VERSION");
    assert_eq!(
        arg, pinned,
        "cargo-lambda: Dockerfile and scripts/install-tools.sh differ"
    );
    let build = dockerfile.builder_build();
    for flag in [
        "--release",
        "--locked",
        "--workspace",
        "--bins",
        "--disable-optimizations",
        "--target x86_64-unknown-linux-gnu.2.34",
    ] {
        assert!(
            build.contains(flag),
            "the builder's cargo lambda build lacks {flag}"
        );
    }
    // The builder copies the workspace in by parts: every package must be among them.
    let copied: Vec<String> = builder
        .instructions
        .iter()
        .filter(|instruction| instruction.keyword == "COPY" && !instruction.args.contains("--from"))
        .flat_map(|instruction| {
            let paths: Vec<&str> = instruction.args.split_whitespace().collect();
            paths[..paths.len() - 1]
                .iter()
                .map(|path| path.trim_end_matches('/').to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    for needed in ["Cargo.toml", "Cargo.lock"] {
        assert!(
            copied.iter().any(|c| c == needed),
            "the builder does not copy {needed}"
        );
    }
    for dir in &workspace().member_dirs {
        assert!(
            copied
                .iter()
                .any(|c| dir == c || dir.starts_with(&format!("{c}/"))),
            "the builder does not copy the workspace member {dir}/ (COPY it with the others)"
        );
    }
    assert!(
        build_lambda.contains("GLIBC_MAX=2.34") && build_lambda.contains("--disable-optimizations"),
        "scripts/build-lambda.sh no longer links for glibc 2.34 with the workspace's release profile"
    );
}

#[test]
fn compose_orders_the_stack_and_keeps_to_local_credentials() {
    let compose = compose();
    let services = services(&compose);
    let condition = |service: &str, on: &str| {
        services[service]["depends_on"][on]["condition"]
            .as_str()
            .map(str::to_owned)
    };
    assert_eq!(
        condition("migrate", "postgres").as_deref(),
        Some("service_healthy")
    );
    assert_eq!(
        condition("api", "migrate").as_deref(),
        Some("service_completed_successfully")
    );
    // The emulator holds nothing until the seed step has created the dev secrets in it.
    assert_eq!(
        condition("secrets-seed", "secrets").as_deref(),
        Some("service_healthy")
    );
    assert_eq!(
        condition("api", "secrets-seed").as_deref(),
        Some("service_completed_successfully"),
        "api must start after the secrets are seeded"
    );
    assert!(
        !services["secrets"]["healthcheck"]["test"].is_null(),
        "secrets has no healthcheck"
    );
    for dependency in ["postgres", "redis"] {
        assert_eq!(
            condition("api", dependency).as_deref(),
            Some("service_healthy")
        );
        assert!(
            !services[dependency]["healthcheck"]["test"].is_null(),
            "{dependency} has no healthcheck"
        );
    }
    let declared = compose["volumes"].as_object().cloned().unwrap_or_default();
    for (name, service) in services {
        if let Some(image) = service["image"].as_str() {
            let tag = image
                .rsplit_once(':')
                .map(|(_, tag)| tag)
                .unwrap_or_default();
            assert!(
                !tag.is_empty() && tag != "latest" && !image.ends_with('/'),
                "service {name}: pin {image} to a version"
            );
        }
        for volume in service["volumes"].as_array().into_iter().flatten() {
            let source = volume
                .as_str()
                .and_then(|v| v.split(':').next())
                .unwrap_or_default();
            if !source.starts_with(['.', '/', '~']) {
                assert!(
                    declared.contains_key(source),
                    "service {name}: volume {source} is not declared"
                );
            }
        }
        for (key, value) in service["environment"].as_object().into_iter().flatten() {
            let secretive = ["PASSWORD", "SECRET", "KEY", "TOKEN"]
                .iter()
                .any(|word| key.contains(word));
            let value = value.as_str().unwrap_or_default();
            assert!(
                !secretive || value.contains("local"),
                "service {name}: {key} must be an obviously local placeholder, not {value:?}"
            );
        }
    }
}

/// The seed step's volumes: container path -> repository path, each mounted read-only.
fn seed_mounts(service: &Value) -> BTreeMap<String, PathBuf> {
    let mut mounts = BTreeMap::new();
    for volume in service["volumes"].as_array().into_iter().flatten() {
        let volume = volume.as_str().expect("short volume syntax");
        let parts: Vec<&str> = volume.split(':').collect();
        assert!(
            parts.len() == 3 && parts[2] == "ro" && parts[0].starts_with("./"),
            "secrets-seed mounts {volume}: a repository file, read-only"
        );
        mounts.insert(parts[1].to_owned(), root().join(&parts[0][2..]));
    }
    mounts
}

/// The seed service's command, run here against a moto_server of the same major version as the
/// compose image: its entrypoint with the image paths mapped back to the mounted repository
/// files, the venv's Python (with boto3) for the image's, and the service's environment with the
/// emulator's URL moved to the local one. Every secret of configs/secrets.dev.json must then be in
/// the emulator with the file's value, and a second run (a restarted stack) must succeed too.
#[tokio::test(flavor = "multi_thread")]
async fn secrets_seed_creates_every_local_secret_in_the_emulator() {
    use redline_tests::servers::MotoServer;

    let compose = compose();
    let service = &services(&compose)["secrets-seed"];
    let emulator_image = services(&compose)["secrets"]["image"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(
        service["image"].as_str(),
        Some(emulator_image),
        "secrets-seed runs the emulator's image (its Python and boto3)"
    );
    let mounts = seed_mounts(service);
    let argv = words(&service["entrypoint"]).expect("secrets-seed has an entrypoint");
    assert_eq!(argv[0], "python3", "secrets-seed runs a Python script");
    let arguments: Vec<PathBuf> = argv[1..]
        .iter()
        .map(|argument| {
            mounts
                .get(argument)
                .cloned()
                .unwrap_or_else(|| panic!("secrets-seed reads {argument}, which it does not mount"))
        })
        .collect();
    let secrets_file = root().join("configs/secrets.dev.json");
    assert!(
        arguments.contains(&secrets_file),
        "secrets-seed does not seed configs/secrets.dev.json"
    );
    let environment: BTreeMap<String, String> = service["environment"]
        .as_object()
        .expect("secrets-seed sets its environment as a mapping")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("string values").to_owned()))
        .collect();
    let endpoint_var = ["AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"]
        .into_iter()
        .find(|var| environment.contains_key(*var))
        .expect("secrets-seed sets the emulator's URL (AWS_ENDPOINT_URL[_SECRETS_MANAGER])");
    assert_eq!(
        environment[endpoint_var], "http://secrets:5000",
        "secrets-seed talks to the secrets service"
    );

    let moto = MotoServer::start();
    let python = local_tool(".local/venv/bin/python");
    for round in 1..=2 {
        let output = Command::new(&python)
            .args(&arguments)
            .env_clear()
            .envs(&environment)
            .env(endpoint_var, moto.endpoint())
            .output()
            .expect("run the seed script");
        assert!(
            output.status.success(),
            "seed run {round} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    let expected: serde_json::Map<String, Value> =
        serde_json::from_str(&std::fs::read_to_string(&secrets_file).expect("secrets.dev.json"))
            .expect("secrets.dev.json is a JSON object");
    let client = moto.client().await;
    for (id, value) in &expected {
        let stored = client
            .get_secret_value()
            .secret_id(id)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{id} was not seeded: {e:?}"));
        let text = stored.secret_string().expect("a string secret");
        match value {
            Value::String(plain) => assert_eq!(text, plain, "{id}"),
            structured => assert_eq!(
                &serde_json::from_str::<Value>(text).expect("JSON text"),
                structured,
                "{id}"
            ),
        }
    }
}

/// The dev configuration's `secretsmanager:` references (resolved against configs/secrets.dev.json,
/// or against the seeded emulator in compose) all name a secret of the file, and a `#key` one a
/// key of its JSON object. The dev values of the file are the ones prod refuses.
#[test]
fn the_local_secrets_file_holds_what_the_dev_configuration_references() {
    let file: serde_json::Map<String, Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("configs/secrets.dev.json"))
            .expect("configs/secrets.dev.json"),
    )
    .expect("configs/secrets.dev.json is a JSON object of secret id -> value");
    for (id, value) in &file {
        assert!(
            value.is_object() || value.is_string(),
            "{id}: a secret is a JSON object or a string"
        );
        assert!(
            id.starts_with("redline/dev/"),
            "{id}: development secrets are named redline/dev/..."
        );
    }
    for expected in [
        "redline/dev/signing-keys",
        "redline/dev/verification-keys",
        "redline/dev/data-keys",
        "redline/dev/blind-index-key",
    ] {
        assert!(
            file.contains_key(expected),
            "secrets.dev.json lacks {expected}"
        );
    }
    // Every string of the YAML layers, by a naive scan for the reference prefix.
    fn references(text: &str, out: &mut Vec<String>) {
        for piece in text.split("secretsmanager:").skip(1) {
            let reference: String = piece
                .chars()
                .take_while(|c| !c.is_whitespace() && !matches!(c, '"' | '\'' | '}' | ','))
                .collect();
            out.push(reference);
        }
    }
    let mut found = Vec::new();
    for layer in ["config.yaml", "config.dev.yaml"] {
        let text = std::fs::read_to_string(root().join("configs").join(layer)).expect(layer);
        let code: String = text
            .lines()
            .map(|line| line.split(" #").next().unwrap_or_default())
            .filter(|line| !line.trim_start().starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n");
        references(&code, &mut found);
    }
    for reference in found {
        let (id, key) = match reference.split_once('#') {
            Some((id, key)) => (id, Some(key)),
            None => (reference.as_str(), None),
        };
        let value = file.get(id).unwrap_or_else(|| {
            panic!("the dev configuration reads {id}, which secrets.dev.json lacks")
        });
        if let Some(key) = key {
            assert!(
                value.get(key).is_some(),
                "the dev configuration reads {id}#{key}, which secrets.dev.json lacks"
            );
        }
    }
}

/// The api service's command, run here as the container would run it: the image's paths mapped
/// back to where they come from (template.yaml and configs/ of the repository, the binaries of
/// `cargo build --workspace --bins`), loopback instead of 0.0.0.0, free ports. The runner must
/// accept every flag, find every file and resolve every template parameter, and the service's
/// healthcheck command must pass against it. The healthcheck asks /health/live instead of
/// /health/ready: ready needs the stack's postgres and redis, which only compose resolves.
#[test]
fn api_service_command_starts_the_runner_and_its_healthcheck_passes() {
    use redline_tests::runner::target_dir;
    use redline_tests::servers::{free_port, port_is_open};

    let dockerfile = Dockerfile::read();
    let workspace = workspace();
    let compose = compose();
    let (_, service, target) = built_services(&compose)
        .into_iter()
        .find(|(name, ..)| name.as_str() == "api")
        .expect("docker-compose.yml has an api service built from this repository");
    let files = dockerfile.files(&target, &workspace);
    let bins = target_dir().join("debug");
    let local = |argument: &str| -> String {
        let source = match files.get(argument).map(String::as_str) {
            Some(what) => what,
            None => {
                // A directory of the image: where its first file comes from, less the file's
                // path inside the directory (the binaries' directory for /app/bin).
                let inside = format!("{argument}/");
                let Some((file, what)) = files.iter().find(|(f, _)| f.starts_with(&inside)) else {
                    return argument.to_owned();
                };
                if what.starts_with("binary ") {
                    return bins.display().to_string();
                }
                let relative = &file[inside.len()..];
                let source = what
                    .strip_prefix("repository file ")
                    .and_then(|path| path.strip_suffix(relative))
                    .expect("a directory copied from the repository");
                return root().join(source).display().to_string();
            }
        };
        if let Some(bin) = source.strip_prefix("binary ") {
            let path = bins.join(bin);
            assert!(
                path.is_file(),
                "{} is missing: build the workspace's binaries first (cargo build --workspace \
                 --bins; scripts/test.sh does)",
                path.display()
            );
            path.display().to_string()
        } else {
            let file = source
                .strip_prefix("repository file ")
                .expect("a repository file");
            root().join(file).display().to_string()
        }
    };
    let resolve_program = |program: &str| -> String {
        if program.starts_with('/') {
            local(program)
        } else {
            let dir = dockerfile
                .path_dirs(&target)
                .into_iter()
                .find(|dir| files.contains_key(&format!("{dir}/{program}")))
                .unwrap_or_else(|| panic!("{program} is not in target {target}"));
            local(&format!("{dir}/{program}"))
        }
    };

    let argv = service_argv(&dockerfile, service, &target);
    let (port, invoke_port, metrics_port) = (free_port(), free_port(), free_port());
    let mut arguments: Vec<String> = Vec::new();
    let mut previous = "";
    for argument in &argv[1..] {
        arguments.push(match previous {
            "--host" => "127.0.0.1".to_owned(),
            "--metrics-port" => metrics_port.to_string(),
            _ => local(argument),
        });
        previous = argument;
    }
    for flag in ["--port", "--invoke-port"] {
        assert!(
            !argv.contains(&flag.to_owned()),
            "api sets {flag}; publish the default ports instead"
        );
    }
    arguments.extend([
        "--port".to_owned(),
        port.to_string(),
        "--invoke-port".to_owned(),
        invoke_port.to_string(),
    ]);
    // Both programs resolved before anything starts, so that no assertion leaves a runner behind.
    let runner_program = resolve_program(&argv[0]);
    let check_argv = healthcheck_argv(service).expect("api has a healthcheck");
    let check_program = resolve_program(&check_argv[0]);
    let check_arguments: Vec<String> = check_argv[1..]
        .iter()
        .map(|argument| {
            argument
                .replace("localhost:3000", &format!("127.0.0.1:{port}"))
                .replace("/health/ready", "/health/live")
        })
        .collect();

    let log = std::env::temp_dir().join(format!("redline-compose-api-{port}.log"));
    let log_file = std::fs::File::create(&log).expect("create the runner's log");
    let mut runner = Stopped(
        Command::new(&runner_program)
            .args(&arguments)
            .stdout(log_file.try_clone().expect("clone the log handle"))
            .stderr(log_file)
            .spawn()
            .expect("start the runner"),
    );
    let log_text = || std::fs::read_to_string(&log).unwrap_or_default();

    // Serving, or given up: exited (a refused flag, file or parameter) or a minute passed.
    let started = std::time::Instant::now();
    let serving = loop {
        if port_is_open(port) {
            break true;
        }
        let exited = runner.0.try_wait().ok().flatten().is_some();
        if exited || started.elapsed() > std::time::Duration::from_secs(60) {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let healthcheck = serving.then(|| {
        Command::new(&check_program)
            .args(&check_arguments)
            .output()
            .expect("run the healthcheck command")
    });
    // The metrics port the service publishes serves /metrics (the runner's own GET check).
    let metrics = serving.then(|| {
        Command::new(&runner_program)
            .arg("--healthcheck")
            .arg(format!("http://127.0.0.1:{metrics_port}/metrics"))
            .output()
            .expect("run redline-local --healthcheck")
    });
    drop(runner);

    assert!(
        serving,
        "the runner did not serve with api's command {argv:?}:\n{}",
        log_text()
    );
    let healthcheck = healthcheck.expect("ran");
    assert!(
        healthcheck.status.success(),
        "api's healthcheck command failed ({}): {}{}\nrunner log:\n{}",
        healthcheck.status,
        String::from_utf8_lossy(&healthcheck.stdout),
        String::from_utf8_lossy(&healthcheck.stderr),
        log_text()
    );
    let metrics = metrics.expect("ran");
    assert!(
        argv.contains(&"--metrics-port".to_owned()) && metrics.status.success(),
        "api's --metrics-port does not serve /metrics ({}): {}",
        metrics.status,
        String::from_utf8_lossy(&metrics.stderr)
    );
    let _ = std::fs::remove_file(&log);
}

/// A child process that is stopped when dropped, a failing assertion included: Ctrl-C (SIGINT),
/// as the runner expects in order to stop its function processes too, then SIGKILL after 10 s.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill")
            .args(["-INT", &self.0.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while self.0.try_wait().ok().flatten().is_none() && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
