//! Tier `ops`: `redline-ops` as an operator runs it, the real binary as a process, against
//! moto's Lambda alias API and against the local runner, through the standard AWS variables
//! only. Exit codes and the JSON it prints are asserted, and what it claims is checked with
//! Lambda's own `GetAlias`. Needs `cargo build --workspace --bins` first and moto
//! (scripts/install-tools.sh).

mod alarm;
mod in_flight;
mod moto;
mod rehearsal;
mod runner;
