#!/usr/bin/env bash
# Benchmarks (release build) against the local PostgreSQL and Redis: `scripts/bench.sh` for all,
# `scripts/bench.sh runner` for the local runner, `scripts/bench.sh secrets` for Secrets Manager,
# `scripts/bench.sh deploy` for the traffic hooks' and a deployment's duration on the runner,
# `scripts/bench.sh migrate` for migrate's duration as a custom resource on the runner,
# `scripts/bench.sh rehearsal` for `redline-ops deploy --local` and the redline-ops commands on the runner,
# `scripts/bench.sh telemetry` for the per-request cost of logs and metrics,
# `scripts/bench.sh init [BASE_TARGET_DIR]` for each function's size and cold-start init beside the
# bare lambda_http floor (and beside another build's binaries, e.g. an older commit's),
# `scripts/bench.sh <filter>` for criterion ones.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/ensure-services.sh
case "${1:-all}" in
  runner)
    # The runner benchmark drives release binaries: build them all first.
    cargo build --release --workspace --bins --locked
    cargo bench -p redline-tests --bench runner --locked ;;
  init)
    cargo build --release --workspace --bins --locked
    new=target/release
    bins=(floor="$new/hello_floor")
    for f in greeter health users auth migrate rotate-secret; do
      [ -n "${2:-}" ] && bins+=("$f-before=$2/release/$f")
      bins+=("$f=$new/$f")
    done
    scripts/bench-init.py --rounds 15 "${bins[@]}" ;;
  deploy)
    # A deployment with the real traffic hooks on the runner: release binaries, the test-only
    # bad build included.
    cargo build --release --workspace --bins --locked
    REDLINE_RUNNER_PROFILE=release cargo bench -p redline-tests --bench deploy --locked ;;
  migrate)
    # migrate as a CloudFormation custom resource on the runner: release binaries, moto's S3.
    scripts/install-tools.sh
    cargo build --release --workspace --bins --locked
    REDLINE_RUNNER_PROFILE=release cargo bench -p redline-tests --bench migrate --locked ;;
  rehearsal)
    # The local rehearsal under load, and each redline-ops command's latency: release binaries.
    cargo build --release --workspace --bins --locked
    REDLINE_RUNNER_PROFILE=release cargo bench -p redline-tests --bench rehearsal --locked ;;
  telemetry)
    # Per-request telemetry cost in process: no subscriber, the functions' formatter, the old one.
    cargo bench -p redline-tests --bench telemetry --locked ;;
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
    cargo bench -p redline-tests --bench secrets --locked
    cargo bench -p redline-tests --bench telemetry --locked
    REDLINE_RUNNER_PROFILE=release cargo bench -p redline-tests --bench deploy --locked
    REDLINE_RUNNER_PROFILE=release cargo bench -p redline-tests --bench migrate --locked
    REDLINE_RUNNER_PROFILE=release cargo bench -p redline-tests --bench rehearsal --locked ;;
  *)
    cargo bench -p redline-tests --bench core --locked -- "$@" ;;
esac
