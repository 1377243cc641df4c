#!/usr/bin/env bash
# Benchmarks (release build) against the local PostgreSQL and Redis; results in target/criterion.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-services.sh
cargo bench -p redline-tests --bench core --locked -- "$@"
