#!/usr/bin/env bash
# Benchmarks (release build) against the local PostgreSQL and Redis: `scripts/bench.sh` for all,
# `scripts/bench.sh runner` for the local runner, `scripts/bench.sh secrets` for Secrets Manager, `scripts/bench.sh <filter>` for criterion ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-services.sh
case "${1:-all}" in
  runner)
    # The runner benchmark drives release binaries: build them all first.
    cargo build --release --workspace --bins --locked
    cargo bench -p redline-tests --bench runner --locked ;;
  secrets)
    # Cold starts with secrets from the moto emulator against plain values: release binaries.
    scripts/install-tools.sh
    cargo build --release --workspace --bins --locked
    cargo bench -p redline-tests --bench secrets --locked ;;
  all)
    scripts/install-tools.sh
    cargo build --release --workspace --bins --locked
    cargo bench -p redline-tests --bench core --locked
    cargo bench -p redline-tests --bench runner --locked
    cargo bench -p redline-tests --bench secrets --locked ;;
  *)
    cargo bench -p redline-tests --bench core --locked -- "$@" ;;
esac
