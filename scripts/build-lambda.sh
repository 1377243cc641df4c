#!/usr/bin/env bash
# Builds every function of the workspace (the binaries of the packages under functions/, the
# traffic hooks' traffic-hook included: one binary for two functions of the template) as the
# `bootstrap` of an AWS Lambda zip for the provided.al2023 runtime, x86_64:
#
#   target/lambda/<function>/bootstrap
#
# ready to zip, or to hand to SAM/CDK as prebuilt code. cargo-lambda (pinned, installed into
# .local/ by scripts/install-tools.sh) drives cargo-zigbuild: zig links against glibc 2.34 stubs,
# the glibc of provided.al2023, whatever the glibc of this machine (Debian bookworm: 2.36). The
# workspace's [profile.release] is used as written: --disable-optimizations stops cargo-lambda
# from adding its own defaults (panic = "abort", which would turn a caught handler panic into a
# crash, and -C target-cpu=haswell). Afterwards every bootstrap is checked: an x86-64 ELF whose
# highest GLIBC_ symbol version is at most 2.34 (read with objdump -T).
#
# Idempotent and incremental: with nothing changed a second run takes seconds.
#
# usage: scripts/build-lambda.sh [--compiler zig|cargo] [--target-dir DIR] [--profile NAME]
#                                [--function NAME | --resource LOGICAL_ID] [--artifacts-dir DIR]
#   --compiler zig     the default: cargo-zigbuild, glibc target pinned to 2.34
#   --compiler cargo   fallback when zig fails: the host's cc links the binaries; accepted only
#                      if the check below still finds no GLIBC_ version above 2.34
#   --target-dir DIR   build under DIR instead of the workspace's target/ (as CARGO_TARGET_DIR)
#   --profile NAME     a cargo profile other than release (the test suite's `lambda-check`
#                      links the same way without LTO, to check the artefacts in minutes less)
#   --function NAME    build (and check) only this function's binary
#   --resource ID      the same, naming the function's logical id in template.yaml (its
#                      Metadata.BuildProperties.Binary is the binary)
#   --artifacts-dir DIR  then copy its bootstrap into DIR: what `sam build` runs through the
#                      Makefile (BuildMethod: makefile) with SAM's ARTIFACTS_DIR
# environment: REDLINE_LAMBDA_COMPILER (zig|cargo), REDLINE_LAMBDA_PROFILE, CARGO_TARGET_DIR
set -euo pipefail
cd "$(dirname "$0")/.."

GLIBC_MAX=2.34                          # provided.al2023
TRIPLE=x86_64-unknown-linux-gnu
compiler=${REDLINE_LAMBDA_COMPILER:-zig}
profile=${REDLINE_LAMBDA_PROFILE:-release}
only=
resource=
artifacts_dir=

log() { printf 'build-lambda: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

while [ $# -gt 0 ]; do
  case "$1" in
    --compiler) [ $# -ge 2 ] || die "--compiler needs zig or cargo"; compiler=$2; shift 2 ;;
    --compiler=*) compiler=${1#*=}; shift ;;
    --target-dir) [ $# -ge 2 ] || die "--target-dir needs a directory"; export CARGO_TARGET_DIR=$2; shift 2 ;;
    --target-dir=*) export CARGO_TARGET_DIR=${1#*=}; shift ;;
    --profile) [ $# -ge 2 ] || die "--profile needs a name"; profile=$2; shift 2 ;;
    --profile=*) profile=${1#*=}; shift ;;
    --function) [ $# -ge 2 ] || die "--function needs a name"; only=$2; shift 2 ;;
    --function=*) only=${1#*=}; shift ;;
    --resource) [ $# -ge 2 ] || die "--resource needs a logical id"; resource=$2; shift 2 ;;
    --resource=*) resource=${1#*=}; shift ;;
    --artifacts-dir) [ $# -ge 2 ] || die "--artifacts-dir needs a directory"; artifacts_dir=$2; shift 2 ;;
    --artifacts-dir=*) artifacts_dir=${1#*=}; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
case "$compiler" in
  zig) lambda_args=(--compiler cargo-zigbuild --target "$TRIPLE.$GLIBC_MAX") ;;
  cargo) lambda_args=(--compiler cargo --target "$TRIPLE") ;;
  *) die "unknown compiler '$compiler' (zig or cargo)" ;;
esac

# Tools: cargo-lambda and zig (pinned, in .local/venv); objdump (binutils) for the check below;
# the OpenSSL headers and library that postgres-native-tls links (libssl-dev).
scripts/install-tools.sh
need_packages=()
command -v objdump >/dev/null || need_packages+=(binutils)
[ -e /usr/include/openssl/ssl.h ] || need_packages+=(libssl-dev)
if [ ${#need_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    die "missing: ${need_packages[*]} (install them with your package manager)"
  fi
  log "installing ${need_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
fi
VENV=$PWD/.local/venv
export PATH="$VENV/bin:$PATH"

# The function binaries and the target directory, as cargo resolves them.
read -r target_dir functions < <(
  cargo metadata --no-deps --format-version 1 --locked | "$VENV/bin/python" -c '
import json, os, sys
meta = json.load(sys.stdin)
root = os.path.join(meta["workspace_root"], "functions") + os.sep
bins = [t["name"] for p in meta["packages"] if p["manifest_path"].startswith(root)
        for t in p["targets"] if "bin" in t["kind"]]
print(meta["target_directory"], " ".join(sorted(bins)))'
)
[ -n "${functions:-}" ] || die "no function binaries found under functions/"
read -r -a functions <<<"$functions"
if [ -n "$resource" ]; then
  # The template's tags (!Ref, !Sub, ...) are read as plain values: only Metadata matters here.
  only=$("$VENV/bin/python" - "$resource" <<'PY'
import sys, yaml
class Loader(yaml.SafeLoader):
    pass
Loader.add_multi_constructor("!", lambda loader, tag, node: None)
resources = yaml.load(open("template.yaml"), Loader=Loader).get("Resources", {})
binary = ((resources.get(sys.argv[1]) or {}).get("Metadata") or {}).get("BuildProperties", {}).get("Binary")
print(binary or "")
PY
)
  [ -n "$only" ] || die "template.yaml has no function $resource with Metadata.BuildProperties.Binary"
fi
if [ -n "$only" ]; then
  case " ${functions[*]} " in
    *" $only "*) functions=("$only") ;;
    *) die "no function binary named '$only' (there are: ${functions[*]})" ;;
  esac
fi
[ -z "$artifacts_dir" ] || [ -n "$only" ] || die "--artifacts-dir needs --function or --resource"

# postgres-native-tls links the system OpenSSL (libssl.so.3, which provided.al2023 ships). zig
# neither searches Debian's multiarch directories (/usr/include/x86_64-linux-gnu holds
# openssl/opensslconf.h, /usr/lib/x86_64-linux-gnu libssl.so) nor should it see the host's
# other headers and libraries: a directory of links to libssl-dev's files alone is handed to
# openssl-sys, everything else comes from zig's glibc 2.34.
if [ "$compiler" = zig ] && [ -d /usr/include/x86_64-linux-gnu/openssl ]; then
  [ -e /usr/lib/x86_64-linux-gnu/libssl.so ] || die "libssl-dev is missing: apt-get install libssl-dev"
  openssl=$target_dir/lambda-openssl
  mkdir -p "$openssl/include/openssl" "$openssl/lib"
  for h in /usr/include/openssl/* /usr/include/x86_64-linux-gnu/openssl/*; do
    [ -e "$openssl/include/openssl/${h##*/}" ] || ln -s "$h" "$openssl/include/openssl/"
  done
  for l in libssl.so libcrypto.so; do
    [ -e "$openssl/lib/$l" ] || ln -s "/usr/lib/x86_64-linux-gnu/$l" "$openssl/lib/$l"
  done
  export X86_64_UNKNOWN_LINUX_GNU_OPENSSL_INCLUDE_DIR=$openssl/include
  export X86_64_UNKNOWN_LINUX_GNU_OPENSSL_LIB_DIR=$openssl/lib
fi

bin_args=()
for f in "${functions[@]}"; do bin_args+=(--bin "$f"); done

log "building ${functions[*]} for provided.al2023 ($compiler, profile $profile) into $target_dir/lambda"
start=$SECONDS
cargo lambda build --profile "$profile" --locked --disable-optimizations "${lambda_args[@]}" "${bin_args[@]}"
log "cargo lambda build took $((SECONDS - start)) s"

# Check what was produced: present, x86-64 ELF, glibc needs within provided.al2023's.
status=0
for f in "${functions[@]}"; do
  bootstrap=$target_dir/lambda/$f/bootstrap
  if [ ! -x "$bootstrap" ]; then
    log "$f: $bootstrap is missing"; status=1; continue
  fi
  if ! objdump -f "$bootstrap" | grep -q 'file format elf64-x86-64'; then
    log "$f: $bootstrap is not an x86-64 ELF"; status=1; continue
  fi
  glibc=$(objdump -T "$bootstrap" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -u -V | tail -n 1)
  if [ -n "$glibc" ] && [ "$(printf '%s\n%s\n' "$glibc" "$GLIBC_MAX" | sort -V | tail -n 1)" != "$GLIBC_MAX" ]; then
    log "$f: needs GLIBC_$glibc, provided.al2023 has $GLIBC_MAX"; status=1; continue
  fi
  printf '%-13s %10s bytes  GLIBC_%s  %s\n' "$f" "$(stat -c %s "$bootstrap")" "${glibc:-none}" "$bootstrap"
done
if [ $status -eq 0 ] && [ -n "$artifacts_dir" ]; then
  mkdir -p "$artifacts_dir"
  cp "$target_dir/lambda/$only/bootstrap" "$artifacts_dir/bootstrap"
  log "$only: bootstrap copied to $artifacts_dir"
fi
exit $status
