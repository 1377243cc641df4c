//! Tier `blackbox`: the built binaries as Lambda runs them, through the Runtime API: under the
//! local runner (`redline-local`) and under the real AWS Lambda Runtime Interface Emulator, with
//! secrets in the moto emulator and rotation against PostgreSQL clusters the tests own. Needs
//! `cargo build --workspace --bins` first (scripts/test.sh does it).

mod fixtures_replay;
mod local_runner;
mod local_stack;
mod log_format;
mod metrics;
mod migrate_custom_resource;
mod openapi;
mod redaction;
mod rie_fidelity;
mod rotation;
mod runner_alarms;
mod runner_alarms_deploy;
mod runner_codedeploy;
mod runner_metrics;
mod runner_traffic;
mod runner_versions;
mod runner_weights;
mod runner_wire;
mod secrets;
mod soak;
mod startup;
mod traffic_hook;
