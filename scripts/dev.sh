#!/usr/bin/env bash
# Runs the API on this machine as it runs in AWS: builds the function binaries, makes sure
# PostgreSQL and Redis are there, applies the migrations, and starts the local runner on
# http://127.0.0.1:3000 (HTTP API), :3001 (Lambda invoke API, /metrics) and :3002 (/metrics
# alone) with the dev config.
# PROFILE=release builds optimised binaries (slower first build). Ctrl-C stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-debug}
ORIGINS=${ALLOWED_ORIGINS:-http://localhost:3000,http://localhost:5173}

reachable() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if ! reachable 5432 || ! reachable 6379; then
  if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
    docker compose up -d --wait postgres redis
  else
    scripts/ensure-services.sh
  fi
fi

if [ "$PROFILE" = release ]; then
  cargo build --release --locked --bins
  BIN=target/release
else
  cargo build --locked --bins
  BIN=target/debug
fi

export REDLINE_ENV=dev PGHOST=${PGHOST:-127.0.0.1} PGUSER=${PGUSER:-postgres} PGDATABASE=${PGDATABASE:-redline_dev}
if ! psql -h "$PGHOST" -U "$PGUSER" -d postgres -Atc "SELECT 1 FROM pg_database WHERE datname = '$PGDATABASE'" | grep -q 1; then
  psql -h "$PGHOST" -U "$PGUSER" -d postgres -qc "CREATE DATABASE \"$PGDATABASE\""
fi
# migrate logs in as the owner ($PGUSER) and creates the API functions' application role
# (database.app_user of configs/config.dev.yaml), as in AWS; local-env.app-role.json logs them in
# as it.
"$BIN/migrate"

# The traffic hooks call this runner's Lambda and CodeDeploy APIs (local-env.rehearsal.json), and
# new builds may be published from target/ (--code-dir): `redline-ops deploy --local` rehearses
# a deployment on this very runner.
exec "$BIN/redline-local" --template template.yaml \
  --env-vars configs/local-env.json --env-vars configs/local-env.app-role.json \
  --env-vars configs/local-env.rehearsal.json \
  --code-dir "$PWD/target" --bin-dir "$BIN" --metrics-port 3002 \
  --parameter-overrides "AllowedOrigins=$ORIGINS"
