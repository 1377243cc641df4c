#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests against a real PostgreSQL
# and Redis (and servers the tests start and stop themselves). Installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-services.sh
scripts/install-tools.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# The black-box tests drive the real function binaries and the runner: build them first.
cargo build --workspace --bins --locked
cargo test --workspace --locked "$@"
