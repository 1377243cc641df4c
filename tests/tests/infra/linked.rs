//! Each function binary links only what its area uses. Checked on the binaries as the project
//! builds them (`cargo build --workspace --bins`, which unifies features across the workspace),
//! by the crates named in their symbol tables: a feature-gated core would pass a `-p` build and
//! fail here.

use redline_tests::runner::workspace_bin;
use std::collections::BTreeSet;
use std::process::Command;

/// Crates (as they appear in mangled symbols) that stand for a capability.
const AWS_SDK: &[&str] = &["aws_sdk_secretsmanager", "aws_config", "aws_smithy_runtime"];
const POSTGRES: &[&str] = &["tokio_postgres", "postgres_native_tls", "deadpool_postgres"];
const REDIS: &[&str] = &["redis"];
const ARGON2: &[&str] = &["argon2"];
const CAPTCHA: &[&str] = &["redline_captcha", "png"];

/// The signing half of the token code (the verifying half is every token reader's).
const SIGNING: &[&str] = &[
    "redline_tokens::Tokens::issue",
    "redline_tokens::keys::KeySet::from_signing",
];

/// Every symbol name in a binary's symbol table, demangled and raw.
fn symbols(binary: &str) -> (Vec<String>, Vec<String>) {
    let path = workspace_bin(binary);
    let run = |demangle: bool| {
        let mut command = Command::new("nm");
        if demangle {
            command.arg("--demangle");
        }
        let output = command.arg(&path).output().expect("nm (binutils) runs");
        assert!(output.status.success(), "nm {}", path.display());
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| line.split_whitespace().nth(2).map(str::to_string))
            .collect::<Vec<_>>()
    };
    (run(false), run(true))
}

/// Whether a legacy-mangled path component `<len><name>` (not part of a longer name) occurs.
fn mentions_crate(symbol: &str, name: &str) -> bool {
    let needle = format!("{}{name}", name.len());
    symbol.match_indices(&needle).any(|(at, _)| {
        let before = symbol[..at].chars().last();
        let after = symbol[at + needle.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_digit())
            && after.is_some_and(|c| c.is_ascii_digit() || c == 'E')
    })
}

/// The crates of `crates` whose code the binary links.
fn linked(binary: &str, crates: &[&str]) -> BTreeSet<String> {
    let (raw, _) = symbols(binary);
    crates
        .iter()
        .filter(|name| raw.iter().any(|symbol| mentions_crate(symbol, name)))
        .map(|name| name.to_string())
        .collect()
}

fn links_signing(binary: &str) -> Vec<String> {
    let (_, demangled) = symbols(binary);
    SIGNING
        .iter()
        .filter(|path| demangled.iter().any(|symbol| symbol.contains(*path)))
        .map(|path| path.to_string())
        .collect()
}

#[test]
fn the_greeter_links_no_sdk_no_data_store_no_hasher_and_no_renderer() {
    let unwanted: Vec<&str> = [AWS_SDK, POSTGRES, REDIS, ARGON2, CAPTCHA].concat();
    assert_eq!(
        linked("greeter", &unwanted),
        BTreeSet::new(),
        "the greeter links code of these crates"
    );
    assert_eq!(links_signing("greeter"), Vec::<String>::new());
}

#[test]
fn only_auth_links_the_captcha_renderer_and_token_signing() {
    for binary in ["users", "health", "greeter", "migrate", "traffic-hook"] {
        assert_eq!(
            linked(binary, CAPTCHA),
            BTreeSet::new(),
            "{binary} links the captcha renderer"
        );
        assert_eq!(
            links_signing(binary),
            Vec::<String>::new(),
            "{binary} links token-signing code"
        );
    }
    // The control: the check sees what auth really links.
    assert_eq!(
        linked("auth", CAPTCHA),
        CAPTCHA
            .iter()
            .map(|s| s.to_string())
            .collect::<BTreeSet<_>>()
    );
    assert_eq!(links_signing("auth").len(), SIGNING.len());
}

#[test]
fn the_data_store_functions_link_what_they_use() {
    for binary in ["auth", "users", "health"] {
        let uses: Vec<&str> = [AWS_SDK, POSTGRES, REDIS].concat();
        assert_eq!(
            linked(binary, &uses).len(),
            uses.len(),
            "{binary}: the control for the absence checks"
        );
    }
    assert_eq!(
        linked("health", ARGON2),
        BTreeSet::new(),
        "health hashes nothing"
    );
    assert_eq!(
        linked("migrate", REDIS),
        BTreeSet::new(),
        "migrate uses no Redis"
    );
    // The traffic hook talks to AWS only: it reaches the data stores through the functions.
    assert_eq!(
        linked("traffic-hook", &[POSTGRES, REDIS, ARGON2].concat()),
        BTreeSet::new(),
        "the traffic hook links a data store or a hasher"
    );
}

#[test]
fn the_symbol_matcher_needs_a_whole_crate_name() {
    assert!(mentions_crate("_ZN5redis3cmd17h0E", "redis"));
    assert!(!mentions_crate("_ZN15redis_cluster3cmdE", "redis"));
    assert!(!mentions_crate(
        "_ZN12redline_core6config8validate12check_argon2E",
        "argon2"
    ));
}
