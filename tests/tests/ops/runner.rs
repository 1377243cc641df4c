//! Against the local runner (the ops fixture: the four API functions and migrate, each on
//! version 1 with `live` at start): the same commands, through `AWS_ENDPOINT_URL` alone.

use redline_tests::ops::{alias, run, LocalStack, AREAS, LOCAL_STACK};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn status_on_the_runner_reports_every_function_on_version_1() {
    let stack = LocalStack::start("Succeeded", &[]);
    let started = std::time::Instant::now();
    let answer = run(
        &stack.endpoint(),
        &["status", "--stack", LOCAL_STACK, "--json"],
    );
    // The spec: every command answers in under a second against the runner.
    assert!(
        started.elapsed().as_secs_f64() < 1.0,
        "{:?}",
        started.elapsed()
    );
    assert_eq!(answer.code, 0, "{answer:?}");
    let document = answer.json();
    assert_eq!(document["stack"], LOCAL_STACK);
    let functions = document["functions"].as_array().unwrap();
    assert_eq!(functions.len(), 4);
    for (function, area) in functions.iter().zip(AREAS) {
        assert_eq!(function["function"], area);
        assert_eq!(function["name"], format!("{LOCAL_STACK}-{area}"));
        assert_eq!(
            function["live"],
            json!({"version": "1", "additional_version": null, "weight": null})
        );
        assert_eq!(function["deployment"], json!(null));
        assert_eq!(function["drift"], false);
        assert!(function["alarms"].is_array());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn shift_promote_and_rollback_to_move_live_on_the_runner() {
    let stack = LocalStack::start("Succeeded", &[]);
    let endpoint = stack.endpoint();
    let function = format!("{LOCAL_STACK}-users");
    assert_eq!(stack.publish("users", "second").await, "2");

    let shifted = run(
        &endpoint,
        &[
            "shift",
            "--stack",
            LOCAL_STACK,
            "--function",
            "users",
            "--to",
            "2",
            "--weight",
            "0.1",
            "--json",
        ],
    );
    assert_eq!(shifted.code, 0, "{shifted:?}");
    assert_eq!(
        alias(&endpoint, &function).await,
        ("1".into(), vec![("2".into(), 0.1)])
    );
    let status = run(
        &endpoint,
        &[
            "status",
            "--stack",
            LOCAL_STACK,
            "--function",
            "users",
            "--json",
        ],
    );
    assert_eq!(status.code, 0, "{status:?}");
    let users = &status.json()["functions"][0];
    assert_eq!(
        users["live"],
        json!({"version": "1", "additional_version": "2", "weight": 0.1})
    );
    assert_eq!(users["drift"], true);

    let promoted = run(
        &endpoint,
        &["promote", "--stack", LOCAL_STACK, "--function", "users"],
    );
    assert_eq!(promoted.code, 0, "{promoted:?}");
    assert!(
        promoted
            .stdout
            .contains("users (redline-local-users): promoted: live → 2"),
        "{promoted:?}"
    );
    assert_eq!(alias(&endpoint, &function).await, ("2".into(), vec![]));

    let rolled_back = run(
        &endpoint,
        &[
            "rollback",
            "--stack",
            LOCAL_STACK,
            "--function",
            "users",
            "--to",
            "1",
            "--json",
        ],
    );
    assert_eq!(rolled_back.code, 0, "{rolled_back:?}");
    assert_eq!(rolled_back.json()["functions"][0]["outcome"], "rolled-back");
    assert_eq!(alias(&endpoint, &function).await, ("1".into(), vec![]));
}

#[tokio::test(flavor = "multi_thread")]
async fn shift_refusals_on_the_runner_leave_live_alone() {
    let stack = LocalStack::start("Succeeded", &[]);
    let endpoint = stack.endpoint();
    assert_eq!(stack.publish("health", "second").await, "2");
    for (to, weight, reason) in [
        ("2", "1", "weight-out-of-range"),
        ("2", "0", "weight-out-of-range"),
        ("3", "0.5", "unknown-version"),
        ("1", "0.5", "already-primary"),
    ] {
        let answer = run(
            &endpoint,
            &[
                "shift",
                "--stack",
                LOCAL_STACK,
                "--function",
                "health",
                "--to",
                to,
                "--weight",
                weight,
                "--json",
            ],
        );
        assert_eq!(answer.code, 1, "{to} {weight}: {answer:?}");
        assert_eq!(
            answer.json()["functions"][0]["reason"],
            reason,
            "{to} {weight}"
        );
    }
    assert_eq!(
        alias(&endpoint, &format!("{LOCAL_STACK}-health")).await,
        ("1".into(), vec![])
    );
}
