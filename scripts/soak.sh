#!/usr/bin/env bash
# The soak under faults: full auth flows (captcha, register, login, two concurrent refreshes,
# users/me, logout) through the local runner on the real template, 1,000 at 8 and then at 64
# concurrent clients, while the soak's own PostgreSQL cluster and Redis server are each stopped
# and restarted twice per run. Prints one Markdown report per run (docs/reliability.md).
#
#   scripts/soak.sh                      # the full soak: --flows 1000 --clients 8 --clients 64
#   scripts/soak.sh --flows 200 --clients 16 [--pg-restarts N] [--redis-restarts N] [--down-ms N]
#
# Debug binaries (a release build takes too long here); the functions hash with the test
# configuration's Argon2id parameters.
#
# Exit codes: 0 every invariant held; 1 an invariant broke (the report says which);
# 2 usage or setup error (bad arguments, missing services, a failed build, a server or the
# runner that would not start).
set -uo pipefail
cd "$(dirname "$0")/.."

scripts/ensure-services.sh || exit 2
cargo build --workspace --bins --locked || exit 2

args=("$@")
[ $# -eq 0 ] && args=(--flows 1000 --clients 8 --clients 64)
exec "${CARGO_TARGET_DIR:-target}/debug/soak" "${args[@]}"
