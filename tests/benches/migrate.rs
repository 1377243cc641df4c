//! migrate as a CloudFormation custom resource on the runner: how long CloudFormation waits for
//! each request (the invoke, which returns once the response is stored at the pre-signed
//! ResponseURL in moto's S3; the response is read back and checked outside the timing), per
//! request type, beside a plain invoke of the same warm function measured in the same run (the
//! floor: the report without the PUT). The first request (Delete, a no-op) includes the cold
//! start: the process, the configuration and the database secret from moto. Release binaries;
//! a fresh database per round.
//!
//! Needs PostgreSQL. Run: `scripts/bench.sh migrate`.

use redline_tests::custom_resource::{login, MigrateRig, Signature};
use redline_tests::servers::TestDatabase;
use serde_json::json;
use std::time::Instant;

const ROUNDS: usize = 7;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

#[tokio::main]
async fn main() {
    let labels = [
        "Delete, cold start (nothing to run)",
        "Create on an empty database (every migration)",
        "Create delivered again (nothing to apply)",
        "Update with a new MigrateVersion (nothing to apply)",
        "floor: plain invoke, warm (nothing to apply, no PUT)",
    ];
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); labels.len()];
    for _ in 0..ROUNDS {
        let database = TestDatabase::create().await;
        let secret = login(
            database.host(),
            database.port(),
            database.name(),
            database.user(),
            "unused-by-trust",
        );
        let rig = MigrateRig::start(&secret, json!({})).await;
        let create = rig.request("Create", "1", Signature::V4);
        let requests = [
            rig.request("Delete", "1", Signature::V4),
            create.clone(),
            create,
            rig.request("Update", "2", Signature::V4),
        ];
        for (index, request) in requests.iter().enumerate() {
            let started = Instant::now();
            let (error, _) = rig.invoke(&request.event).await;
            samples[index].push(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(error, None);
            let stored = rig.bucket.read(&request.key).expect("a response was PUT");
            assert_eq!(stored.response["Status"], "SUCCESS", "{}", stored.body);
        }
        let started = Instant::now();
        let (error, report) = rig.invoke(&json!({})).await;
        samples[4].push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(error, None, "{report}");
    }
    println!("| request | median of {ROUNDS} (ms) |");
    println!("|---|---|");
    for (label, values) in labels.iter().zip(samples) {
        println!("| {label} | {:.1} |", median(values));
    }
}
