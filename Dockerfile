# syntax=docker/dockerfile:1
#
# redline's images, all from one compile:
#
#   auth, users, greeter, health,           Lambda container images on provided.al2023, the function
#   migrate, rotate-secret, traffic-hook    as ${LAMBDA_RUNTIME_DIR}/bootstrap. `docker run -p
#                                           9000:8080 IMAGE` answers POST /2015-03-31/functions/
#                                           function/invocations through the base image's runtime
#                                           interface emulator; in Lambda the same image runs as is.
#   local                                   the local stack (docker-compose.yml): every function,
#                                           the runner redline-local, template.yaml and configs/
#
#   docker build --target auth -t redline-auth .     (users, greeter, health, migrate, rotate-secret,
#                                                     traffic-hook alike)
#   docker build --target local -t redline-local .
#
# glibc. provided.al2023 has glibc 2.34; the official Rust image is Debian bookworm with 2.36, and a
# binary its linker produces may need symbols 2.34 lacks ("version `GLIBC_2.3x' not found" at cold
# start). The builder keeps the official Rust toolchain but links with zig against glibc 2.34
# (cargo-lambda driving cargo-zigbuild, target x86_64-unknown-linux-gnu.2.34), exactly what
# scripts/build-lambda.sh does for the zip artefacts, whose test checks the result with objdump.
# The binaries then run on Amazon Linux 2023 and on any newer glibc, so one compile serves the
# Lambda images and the local image alike, and the local image runs on the very base the
# functions run on in Lambda. OpenSSL (postgres-native-tls) links dynamically against libssl.so.3,
# which provided.al2023 ships.

ARG RUST_VERSION=1.95.0

# ---- builder: every binary of the workspace, release, linked against glibc 2.34 ----
FROM rust:${RUST_VERSION}-bookworm AS builder
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# cargo-lambda from PyPI brings zig (the ziglang wheel); the same pinned version as
# scripts/install-tools.sh. python3-venv is the one package the Rust image lacks for it.
ARG CARGO_LAMBDA_VERSION=1.9.2
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-venv=3.11.2-1+b1 \
    && rm -rf /var/lib/apt/lists/* \
    && python3 -m venv /opt/cargo-lambda \
    && /opt/cargo-lambda/bin/pip install --no-cache-dir "cargo-lambda==${CARGO_LAMBDA_VERSION}"
ENV PATH=/opt/cargo-lambda/bin:${PATH}

# zig does not search Debian's multiarch directories, where libssl-dev keeps
# openssl/opensslconf.h and libssl.so: hand openssl-sys a directory of links to those files alone,
# so that every other header and library still comes from zig's glibc 2.34.
RUN mkdir -p /opt/openssl/include/openssl /opt/openssl/lib \
    && ln -s /usr/include/openssl/* /usr/include/x86_64-linux-gnu/openssl/* /opt/openssl/include/openssl/ \
    && ln -s /usr/lib/x86_64-linux-gnu/libssl.so /usr/lib/x86_64-linux-gnu/libcrypto.so /opt/openssl/lib/
ENV X86_64_UNKNOWN_LINUX_GNU_OPENSSL_INCLUDE_DIR=/opt/openssl/include \
    X86_64_UNKNOWN_LINUX_GNU_OPENSSL_LIB_DIR=/opt/openssl/lib

WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY configs/ configs/
COPY shared/ shared/
COPY functions/ functions/
COPY infra/ops/ infra/ops/
COPY tests/ tests/

# One compile for every image: `cargo build --release --locked --workspace --bins` through
# cargo-lambda's zig linker, less the test crate's helper binaries. --disable-optimizations keeps
# Cargo.toml's [profile.release] as written (cargo-lambda would add panic = "abort" and -C
# target-cpu=haswell). The registry, target/ and zig's caches are BuildKit cache mounts, so a
# rebuild after a change recompiles only what changed; the binaries leave the cache as
# /out/bin/<binary>.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    --mount=type=cache,target=/root/.cache,sharing=locked \
    cargo lambda build --release --locked --workspace --exclude redline-tests --bins \
        --disable-optimizations \
        --compiler cargo-zigbuild --target x86_64-unknown-linux-gnu.2.34 --lambda-dir /out/lambda \
    && mkdir -p /out/bin \
    && for dir in /out/lambda/*/; do cp "${dir}bootstrap" "/out/bin/$(basename "$dir")"; done

# ---- lambda: the base of the function images ----
# The base image's entrypoint starts ${LAMBDA_RUNTIME_DIR}/bootstrap: directly under Lambda, behind
# the runtime interface emulator (port 8080) under `docker run`. It requires one argument, the
# handler name, which the Rust runtime does not use.
FROM public.ecr.aws/lambda/provided:al2023.2026.02.27.21 AS lambda
CMD ["bootstrap"]

# One named stage per function, so that `--target <function>` and docker-compose can name it; a
# stage is two lines, and a test checks that every function under functions/ has one.
FROM lambda AS auth
COPY --from=builder /out/bin/auth ${LAMBDA_RUNTIME_DIR}/bootstrap

FROM lambda AS users
COPY --from=builder /out/bin/users ${LAMBDA_RUNTIME_DIR}/bootstrap

FROM lambda AS greeter
COPY --from=builder /out/bin/greeter ${LAMBDA_RUNTIME_DIR}/bootstrap

FROM lambda AS health
COPY --from=builder /out/bin/health ${LAMBDA_RUNTIME_DIR}/bootstrap

FROM lambda AS migrate
COPY --from=builder /out/bin/migrate ${LAMBDA_RUNTIME_DIR}/bootstrap

FROM lambda AS rotate-secret
COPY --from=builder /out/bin/rotate-secret ${LAMBDA_RUNTIME_DIR}/bootstrap

FROM lambda AS traffic-hook
COPY --from=builder /out/bin/traffic-hook ${LAMBDA_RUNTIME_DIR}/bootstrap

# ---- local: the local stack's image ----
# The runner serves template.yaml's HTTP API on 3000 and the read-only /metrics on 3002, and runs
# the function binaries of /app/bin through the Lambda Runtime API, each with the template's
# variables under the env-vars files (not this image's environment, as in Lambda). Its Lambda
# invoke API (3001) binds the container's loopback only and is not exposed: whoever reaches it
# can invoke any function, migrate included. Same
# base as the function images, so the functions meet the libraries they meet in Lambda. Files
# owned by root, read-only to the unprivileged user the processes run as.
FROM lambda AS local
WORKDIR /app
COPY --from=builder /out/bin/ /app/bin/
COPY template.yaml /app/template.yaml
COPY configs/ /app/configs/
ENV PATH=/app/bin:${PATH}
USER 10001:10001
EXPOSE 3000 3002
# The runner refuses to start with a template parameter unresolved: AllowedOrigins has no default.
ENTRYPOINT ["redline-local"]
CMD ["--template", "/app/template.yaml", "--env-vars", "/app/configs/local-env.json", "--env-vars", "/app/configs/local-env.app-role.json", "--bin-dir", "/app/bin", "--host", "0.0.0.0", "--metrics-port", "3002", "--parameter-overrides", "AllowedOrigins=http://localhost:3000,http://localhost:5173"]
