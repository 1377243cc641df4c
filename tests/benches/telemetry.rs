//! Per-request telemetry cost in process: the same in-process request (lambda_http's event
//! parsing and response serialisation included) with no subscriber (the floor), with the
//! functions' own formatter (the `request` line plus the EMF document), and with
//! `tracing-subscriber`'s JSON layer as the functions used before it (one line, no EMF). Lines go
//! to `io::sink`, so what is measured is formatting, not the terminal.
//!
//! Needs PostgreSQL and Redis (`scripts/ensure-services.sh`). Run: `scripts/bench.sh telemetry`.

use criterion::{criterion_group, criterion_main, Criterion};
use redline_core::telemetry::{self, LogFormat};
use redline_tests::{invoke, TestEnv, TestRequest};
use std::time::Duration;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;

fn requests(c: &mut Criterion) {
    // One thread: the thread's default subscriber is the one the handler sees.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let env = rt.block_on(TestEnv::new());
    let api = env.api();
    let (access, _) = rt.block_on(api.signed_in("telemetry"));
    let cases = [
        ("greeter", TestRequest::get("/helloworld/Ada")),
        (
            "users_me",
            TestRequest::get("/api/v1/users/me").bearer(&access),
        ),
    ];
    let mut group = c.benchmark_group("telemetry_per_request");
    group.measurement_time(Duration::from_secs(4));
    for (name, request) in &cases {
        let app = if *name == "greeter" {
            &api.greeter
        } else {
            &api.users
        };
        let mut run = |label: &str| {
            group.bench_function(format!("{name}/{label}"), |b| {
                b.iter(|| rt.block_on(invoke(app, request)))
            });
        };
        {
            let _floor = tracing::subscriber::set_default(tracing::subscriber::NoSubscriber::new());
            run("floor_no_subscriber");
        }
        {
            let product = tracing_subscriber::registry()
                .with(
                    Targets::new()
                        .with_default(LevelFilter::INFO)
                        .with_target(redline_core::metrics::EMF_TARGET, LevelFilter::INFO),
                )
                .with(telemetry::layer(std::io::sink, LogFormat::Json));
            let _product = tracing::subscriber::set_default(product);
            run("lambda_json_and_emf");
        }
        {
            // As before this change: one JSON line per request, no EMF document (filtered out,
            // so none is built).
            let before = tracing_subscriber::registry()
                .with(
                    Targets::new()
                        .with_default(LevelFilter::INFO)
                        .with_target(redline_core::metrics::EMF_TARGET, LevelFilter::OFF),
                )
                .with(
                    tracing_subscriber::fmt::layer()
                        .json()
                        .with_current_span(false)
                        .with_span_list(false)
                        .with_target(false)
                        .without_time()
                        .with_writer(std::io::sink),
                );
            let _before = tracing::subscriber::set_default(before);
            run("before_tracing_subscriber_json");
        }
    }
    group.finish();
}

criterion_group!(benches, requests);
criterion_main!(benches);
