#!/usr/bin/env bash
# Makes sure what the test suite and the dev stack need is on this machine and running:
# PostgreSQL on 127.0.0.1:5432 (trust for the postgres user), Redis on 127.0.0.1:6379, and the
# command-line tools the tests drive (initdb/pg_ctl, redis-server, openssl, tesseract,
# binutils' nm and objdump, which read the function binaries, and promtool from Debian's
# prometheus package, which checks the runner's /metrics, the Prometheus rules and the Grafana
# dashboard's queries).
# Idempotent: on a ready machine it only checks, in well under a second.
set -euo pipefail

log() { printf 'ensure-services: %s\n' "$*" >&2; }

need_packages=()
command -v openssl >/dev/null || need_packages+=(openssl)
command -v tesseract >/dev/null || need_packages+=(tesseract-ocr)
command -v nm >/dev/null && command -v objdump >/dev/null || need_packages+=(binutils)
command -v redis-server >/dev/null || need_packages+=(redis-server)
command -v pg_isready >/dev/null || need_packages+=(postgresql)
command -v runuser >/dev/null || need_packages+=(util-linux)
command -v promtool >/dev/null || need_packages+=(prometheus)

if [ ${#need_packages[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    log "missing: ${need_packages[*]} (install them with your package manager)"
    exit 1
  fi
  log "installing ${need_packages[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need_packages[@]}" >/dev/null
  # Only promtool is wanted from the prometheus package: its server would hold port 9090, which
  # the compose stack's observability profile publishes.
  if [[ " ${need_packages[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then
    systemctl disable --now prometheus >/dev/null 2>&1 || true
  fi
fi

if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  fi
  for _ in $(seq 1 50); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
  pg_isready -q -h 127.0.0.1 -p 5432 || { log "PostgreSQL is not reachable on 127.0.0.1:5432"; exit 1; }
fi

if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
  log "starting Redis"
  mkdir -p /tmp/redline-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no \
    --dir /tmp/redline-redis --logfile /tmp/redline-redis/redis.log
  for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null && break; sleep 0.1; done
fi
(exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null || { log "Redis is not reachable on 127.0.0.1:6379"; exit 1; }
log "PostgreSQL and Redis are up"
