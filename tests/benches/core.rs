//! Core benchmarks: tokens, password hashing with the shipped Argon2id parameters, and one
//! in-process request through the router beside a bare `lambda_http` handler (the floor), all
//! through lambda_http's own event parsing and response serialisation.
//!
//! Needs PostgreSQL and Redis (`scripts/ensure-services.sh`). Run: `scripts/bench.sh`.

use criterion::{criterion_group, criterion_main, Criterion};
use lambda_http::{Body, Request, Response};
use redline_core::config::{PasswordConfig, Secret, TokenConfig};
use redline_crypto::password::PasswordHasherConfig;
use redline_tests::harness::invoke_handler;
use redline_tests::{invoke, TestEnv, TestRequest};
use redline_tokens::{KeySet, Subject, TokenKind, Tokens};
use serde_json::json;
use std::time::{Duration, Instant};

const DEV_KEYS: &str = r#"{"keys":[{"kid":"bench","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEIG7QIsfQR3YOnbQDmTqpTt/sizLchMJFCOe+rX8Wc2o9"}]}"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn tokens(c: &mut Criterion) {
    let config = TokenConfig {
        access_ttl: Duration::from_secs(900),
        refresh_ttl: Duration::from_secs(604_800),
        session_max: Duration::from_secs(2_592_000),
        issuer: "redline".into(),
        audience: "redline-api".into(),
        signing_keys: None,
        verification_keys: None,
        key_rotation: None,
    };
    let tokens = Tokens::new(
        KeySet::from_signing(&Secret::new(DEV_KEYS)).unwrap(),
        &config,
    );
    let subject = Subject {
        user_id: 42,
        username: "alice",
    };
    let mut group = c.benchmark_group("tokens");
    group.bench_function("issue_access_eddsa", |b| {
        b.iter(|| {
            tokens
                .issue(TokenKind::Access, &subject, None, None)
                .unwrap()
        })
    });
    let token = tokens
        .issue(TokenKind::Access, &subject, None, None)
        .unwrap()
        .token;
    group.bench_function("verify_access_eddsa", |b| {
        b.iter(|| tokens.verify(&token, TokenKind::Access).unwrap())
    });
    group.finish();
}

fn passwords(c: &mut Criterion) {
    let rt = runtime();
    // The shipped production parameters (configs/config.yaml): m = 19 MiB, t = 2, p = 1.
    let hasher = PasswordHasherConfig::new(&PasswordConfig {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    });
    let mut group = c.benchmark_group("password_argon2id_m19456_t2_p1");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(6));
    group.bench_function("hash", |b| {
        b.to_async(&rt).iter(|| hasher.hash("correct horse 1"))
    });
    let stored = rt.block_on(hasher.hash("correct horse 1")).unwrap();
    group.bench_function("verify", |b| {
        b.to_async(&rt)
            .iter(|| hasher.verify("correct horse 1", &stored))
    });
    group.finish();
}

async fn constant(_request: Request) -> Response<Body> {
    let mut response = Response::new(Body::Text(r#"{"status":"healthy"}"#.into()));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

fn requests(c: &mut Criterion) {
    let rt = runtime();
    let env = rt.block_on(TestEnv::new());
    let api = env.api();
    let (access, refresh) = rt.block_on(api.signed_in("bencher"));
    let live = TestRequest::get("/health/live");
    let me = TestRequest::get("/api/v1/users/me").bearer(&access);

    let mut group = c.benchmark_group("request_in_process");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("floor_bare_lambda_http_constant", |b| {
        b.to_async(&rt)
            .iter(|| invoke_handler(constant, live.to_event("bench"), "bench"))
    });
    group.bench_function("health_live", |b| {
        b.to_async(&rt).iter(|| invoke(&api.health, &live))
    });
    group.bench_function("users_me", |b| {
        b.to_async(&rt).iter(|| invoke(&api.users, &me))
    });
    // Each refresh uses up its token: chain them, one rotation per iteration.
    let mut current = refresh;
    group.bench_function("refresh", |b| {
        b.iter_custom(|iterations| {
            rt.block_on(async {
                let started = Instant::now();
                for _ in 0..iterations {
                    let request = TestRequest::post("/api/v1/auth/refresh")
                        .json(json!({"refresh_token": current}));
                    let response = invoke(&api.auth, &request).await;
                    assert_eq!(response.status, 200);
                    current = response.body["refresh_token"].as_str().unwrap().to_string();
                }
                started.elapsed()
            })
        })
    });
    group.finish();
    drop(api);
    rt.block_on(async move { drop(env) });
}

criterion_group!(benches, tokens, passwords, requests);
criterion_main!(benches);
