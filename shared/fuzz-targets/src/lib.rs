//! The fuzz targets, one function per target taking the fuzzer's bytes. The libFuzzer binaries
//! in `fuzz/` call them, and `tests/replay.rs` runs every committed corpus file through them
//! under `cargo test`, so a target's body and invariants are written once, here.
//!
//! Each target panics (which libFuzzer reports as a crash) when an invariant breaks, not only
//! when the code under test panics.

pub mod body;
pub mod config;
pub mod pipeline;
pub mod runner;
pub mod shapes;
pub mod tokens;

/// A target's body: the fuzzer's bytes in, a panic when an invariant breaks.
pub type Target = fn(&[u8]);

/// Every target by the name of its fuzz binary and corpus directory.
pub const TARGETS: &[(&str, Target)] = &[
    ("pipeline", pipeline::fuzz),
    ("json_body", body::fuzz),
    ("config", config::fuzz),
    ("tokens", tokens::fuzz),
    ("runner_template", runner::fuzz),
];

/// Splits an input at its first NUL byte (`None` when it has none): one fuzz input can carry
/// two documents.
pub fn split_nul(data: &[u8]) -> (&[u8], Option<&[u8]>) {
    match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    }
}
