//! The Lambda artefacts: `scripts/build-lambda.sh` builds every function (each binary of a package
//! under `functions/`) as `<target>/lambda/<function>/bootstrap` for the `provided.al2023` runtime
//! on x86_64. Each must be an x86-64 ELF that the runtime can load: no `GLIBC_` symbol version
//! above 2.34 (Amazon Linux 2023's glibc; this machine's is newer, so a natively linked binary
//! could need more) and no shared library the runtime lacks.
//!
//! The test runs the script, which is incremental: with nothing changed it takes about a second;
//! after a change to the shared crate the release rebuild takes about three and a half minutes on
//! two cores, a clean build about six and a half.
//! `REDLINE_LAMBDA_PREBUILT=1` checks the artefacts an earlier run of the script left, without
//! building (for a CI step that ran the script already). The target directory is the one cargo
//! resolves, so `CARGO_TARGET_DIR` moves both the build and the check.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// glibc of Amazon Linux 2023, the `provided.al2023` runtime.
const GLIBC_MAX: &[u32] = &[2, 34];
/// OpenSSL symbol versions Amazon Linux 2023's `openssl-libs` (3.0 or later) provides.
const OPENSSL_MAX: &[u32] = &[3, 0, 0];
/// Shared libraries a bootstrap may need: glibc's and OpenSSL 3's, which `provided.al2023`
/// ships (`openssl-libs` is part of the Amazon Linux 2023 minimal image it is built from).
const RUNTIME_LIBRARIES: &[&str] = &[
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "librt.so.1",
    "libpthread.so.0",
    "libutil.so.1",
    "libgcc_s.so.1",
    "ld-linux-x86-64.so.2",
    "libssl.so.3",
    "libcrypto.so.3",
];

struct Artefacts {
    /// (function, path of its bootstrap)
    bootstraps: Vec<(String, PathBuf)>,
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// The function binaries and the target directory, as cargo resolves them (the script asks the
/// same question).
fn functions_and_target_dir(root: &Path) -> (Vec<String>, PathBuf) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let functions_dir = root.join("functions");
    let mut functions: Vec<String> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter(|package| {
            Path::new(package["manifest_path"].as_str().unwrap_or_default())
                .starts_with(&functions_dir)
        })
        .flat_map(|package| package["targets"].as_array().cloned().unwrap_or_default())
        .filter(|target| {
            target["kind"]
                .as_array()
                .is_some_and(|k| k.contains(&"bin".into()))
        })
        .map(|target| target["name"].as_str().expect("target name").to_owned())
        .collect();
    functions.sort();
    assert!(
        !functions.is_empty(),
        "no function binaries under {functions_dir:?}"
    );
    let target_dir = PathBuf::from(metadata["target_directory"].as_str().expect("target dir"));
    (functions, target_dir)
}

/// Runs objdump; panics with what to install when it is missing.
fn objdump(flag: &str, file: &Path) -> String {
    let output = Command::new("objdump")
        .arg(flag)
        .arg(file)
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "objdump (GNU binutils) is needed to read the bootstraps' symbol versions and could \
                 not be run ({error}): run scripts/build-lambda.sh, which installs it, or \
                 `apt-get install binutils`"
            )
        });
    assert!(
        output.status.success(),
        "objdump {flag} {file:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Builds (unless REDLINE_LAMBDA_PREBUILT=1) once per test process, and lists the bootstraps.
fn artefacts() -> &'static Artefacts {
    static ARTEFACTS: OnceLock<Artefacts> = OnceLock::new();
    ARTEFACTS.get_or_init(|| {
        let root = workspace_root();
        // Fail on a missing objdump before spending minutes on a build.
        Command::new("objdump")
            .arg("--version")
            .output()
            .unwrap_or_else(|_| {
                panic!(
                    "objdump (GNU binutils) is not installed: run scripts/build-lambda.sh, which \
                 installs it, or `apt-get install binutils`"
                )
            });
        if std::env::var("REDLINE_LAMBDA_PREBUILT").as_deref() != Ok("1") {
            let started = std::time::Instant::now();
            let output = Command::new("bash")
                .arg(root.join("scripts/build-lambda.sh"))
                .args(["--profile", "lambda-check"])
                .current_dir(&root)
                .output()
                .expect("bash runs scripts/build-lambda.sh");
            assert!(
                output.status.success(),
                "scripts/build-lambda.sh failed ({}):\n{}\n{}",
                output.status,
                tail(&String::from_utf8_lossy(&output.stdout), 40),
                tail(&String::from_utf8_lossy(&output.stderr), 80),
            );
            eprintln!(
                "scripts/build-lambda.sh: {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        let (functions, target_dir) = functions_and_target_dir(&root);
        let bootstraps = functions
            .into_iter()
            .map(|function| {
                let bootstrap = target_dir.join("lambda").join(&function).join("bootstrap");
                assert!(
                    bootstrap.is_file(),
                    "{function}: {bootstrap:?} is missing; scripts/build-lambda.sh builds it"
                );
                (function, bootstrap)
            })
            .collect();
        Artefacts { bootstraps }
    })
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// `1.2.3` as numbers; None for anything else (`GLIBC_PRIVATE`, a symbol name).
fn version(text: &str) -> Option<Vec<u32>> {
    text.split('.').map(|part| part.parse().ok()).collect()
}

/// The highest version of `prefix` (`GLIBC_`, `OPENSSL_`) among the dynamic symbols objdump -T
/// lists, as text; None when there is none.
fn highest_version(dynamic_symbols: &str, prefix: &str) -> Option<(Vec<u32>, String)> {
    dynamic_symbols
        .lines()
        .flat_map(|line| line.split_whitespace())
        .map(|word| word.trim_matches(|c| c == '(' || c == ')'))
        .filter_map(|word| word.strip_prefix(prefix))
        .filter_map(|rest| version(rest).map(|numbers| (numbers, format!("{prefix}{rest}"))))
        .max()
}

#[test]
fn every_function_is_an_x86_64_elf_within_glibc_2_34() {
    let mut failures = Vec::new();
    for (function, bootstrap) in &artefacts().bootstraps {
        let bytes = std::fs::read(bootstrap).expect("read the bootstrap");
        // ELF magic, 64-bit class, little-endian, executable or PIE, e_machine 62 = x86-64.
        let is_x86_64_elf = bytes.len() > 20
            && bytes[..4] == *b"\x7fELF"
            && bytes[4] == 2
            && bytes[5] == 1
            && matches!(u16::from_le_bytes([bytes[16], bytes[17]]), 2 | 3)
            && u16::from_le_bytes([bytes[18], bytes[19]]) == 62;
        let header = objdump("-f", bootstrap);
        if !is_x86_64_elf || !header.contains("file format elf64-x86-64") {
            failures.push(format!(
                "{function}: {bootstrap:?} is not an x86-64 ELF executable"
            ));
            continue;
        }
        let symbols = objdump("-T", bootstrap);
        let glibc = highest_version(&symbols, "GLIBC_");
        println!(
            "{function:<10} {:>10} bytes  highest {}",
            bytes.len(),
            glibc.as_ref().map_or("GLIBC_ none", |(_, text)| text)
        );
        match glibc {
            Some((numbers, text)) if numbers.as_slice() > GLIBC_MAX => failures.push(format!(
                "{function}: needs {text}; provided.al2023 has glibc 2.34 and would refuse to \
                 start it (build it with scripts/build-lambda.sh, which links with zig against \
                 glibc 2.34)"
            )),
            Some(_) => {}
            None => assert!(
                !header.contains("DYNAMIC"),
                "{function}: dynamically linked but no GLIBC_ symbol versions found"
            ),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_function_needs_only_libraries_provided_al2023_ships() {
    let mut failures = Vec::new();
    for (function, bootstrap) in &artefacts().bootstraps {
        let needed: Vec<String> = objdump("-p", bootstrap)
            .lines()
            .filter_map(|line| line.trim().strip_prefix("NEEDED"))
            .map(|library| library.trim().to_owned())
            .collect();
        for library in &needed {
            if !RUNTIME_LIBRARIES.contains(&library.as_str()) {
                failures.push(format!(
                    "{function}: needs {library}, which provided.al2023 does not ship (link it \
                     statically, or add it to the zip and to this list)"
                ));
            }
        }
        if let Some((numbers, text)) = highest_version(&objdump("-T", bootstrap), "OPENSSL_") {
            if numbers.as_slice() > OPENSSL_MAX {
                failures.push(format!(
                    "{function}: needs {text}; it was linked against an OpenSSL newer than the \
                     3.0 Amazon Linux 2023 is known to ship"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
