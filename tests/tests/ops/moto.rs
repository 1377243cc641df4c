//! Against moto: a stack's four functions with versions 1 and 2 and `live` on 1, as a deploy
//! leaves them. moto's CodeDeploy lists no deployment and it has no CloudWatch in the CBOR
//! protocol: those lookups come back empty (with a note), never as a failure.

use redline_tests::ops::{alias, run, run_with, run_without_credentials, seed_moto, AREAS};
use redline_tests::servers::MotoServer;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn status_reports_every_function_live_with_no_deployment_and_no_drift() {
    let moto = MotoServer::start();
    let stack = seed_moto(&moto, 2).await;
    let answer = run(&moto.endpoint(), &["status", "--stack", &stack, "--json"]);
    assert_eq!(answer.code, 0, "{answer:?}");
    let expected: Vec<_> = AREAS
        .iter()
        .map(|area| {
            json!({"function": area, "name": format!("{stack}-{area}"),
                "live": {"version": "1", "additional_version": null, "weight": null},
                "deployment": null, "alarms": [], "drift": false})
        })
        .collect();
    assert_eq!(
        answer.json(),
        json!({"stack": stack, "functions": expected})
    );
    // moto's CloudWatch does not speak CBOR: said once, not an error.
    assert_eq!(
        answer
            .stderr
            .matches("does not serve CloudWatch DescribeAlarms")
            .count(),
        1,
        "{answer:?}"
    );
    let text = run(
        &moto.endpoint(),
        &["status", "--stack", &stack, "--function", "users"],
    );
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout
            .contains(&format!("users ({stack}-users): live → 1")),
        "{text:?}"
    );
    assert!(!text.stdout.contains("auth"), "{text:?}");
    // Without --stack, $REDLINE_STACK names it.
    let from_env = run_with(
        &moto.endpoint(),
        &[("REDLINE_STACK", stack.as_str())],
        &["status", "--function", "health", "--json"],
    );
    assert_eq!(from_env.code, 0, "{from_env:?}");
    assert_eq!(from_env.json()["stack"], stack.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn shift_then_promote_moves_live_and_status_shows_the_weight_and_drift() {
    let moto = MotoServer::start();
    let stack = seed_moto(&moto, 2).await;
    let endpoint = moto.endpoint();
    let function = format!("{stack}-auth");
    let shifted = run(
        &endpoint,
        &[
            "shift",
            "--stack",
            &stack,
            "--function",
            "auth",
            "--to",
            "2",
            "--weight",
            "0.25",
            "--json",
        ],
    );
    assert_eq!(shifted.code, 0, "{shifted:?}");
    let report = shifted.json();
    assert_eq!(report["command"], "shift");
    assert_eq!(report["functions"][0]["outcome"], "shifted");
    assert_eq!(
        report["functions"][0]["live"],
        json!({"version": "1", "additional_version": "2", "weight": 0.25})
    );
    assert_eq!(
        alias(&endpoint, &function).await,
        ("1".into(), vec![("2".into(), 0.25)])
    );

    let status = run(
        &endpoint,
        &["status", "--stack", &stack, "--function", "auth", "--json"],
    );
    assert_eq!(status.code, 0, "{status:?}");
    let auth = &status.json()["functions"][0];
    assert_eq!(
        auth["live"],
        json!({"version": "1", "additional_version": "2", "weight": 0.25})
    );
    // Weights with no deployment in flight: CloudFormation never leaves any.
    assert_eq!(auth["drift"], true);

    let promoted = run(
        &endpoint,
        &["promote", "--stack", &stack, "--function", "auth", "--json"],
    );
    assert_eq!(promoted.code, 0, "{promoted:?}");
    assert_eq!(promoted.json()["functions"][0]["outcome"], "promoted");
    assert_eq!(alias(&endpoint, &function).await, ("2".into(), vec![]));
    // Again: nothing takes extra weight, nothing changes.
    let again = run(
        &endpoint,
        &["promote", "--stack", &stack, "--function", "auth", "--json"],
    );
    assert_eq!(again.code, 0, "{again:?}");
    assert_eq!(again.json()["functions"][0]["outcome"], "unchanged");
    // The other functions were not touched.
    assert_eq!(
        alias(&endpoint, &format!("{stack}-users")).await,
        ("1".into(), vec![])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_to_a_version_moves_every_function_and_without_one_is_refused() {
    let moto = MotoServer::start();
    let stack = seed_moto(&moto, 3).await;
    let endpoint = moto.endpoint();
    let all = run(
        &endpoint,
        &[
            "rollback", "--stack", &stack, "--all", "--to", "3", "--json",
        ],
    );
    assert_eq!(all.code, 0, "{all:?}");
    let report = all.json();
    for (index, area) in AREAS.iter().enumerate() {
        let function = &report["functions"][index];
        assert_eq!(function["function"], *area);
        assert_eq!(function["outcome"], "rolled-back");
        assert_eq!(function["live"]["version"], "3");
        assert_eq!(
            alias(&endpoint, &format!("{stack}-{area}")).await,
            ("3".into(), vec![])
        );
    }
    // moto records no successful deployment: there is nothing to go back to without --to.
    let refused = run(
        &endpoint,
        &[
            "rollback",
            "--stack",
            &stack,
            "--function",
            "health",
            "--json",
        ],
    );
    assert_eq!(refused.code, 1, "{refused:?}");
    assert_eq!(
        refused.json()["functions"][0]["reason"],
        "nothing-to-roll-back-to"
    );
    assert_eq!(
        alias(&endpoint, &format!("{stack}-health")).await,
        ("3".into(), vec![])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn shift_refuses_a_weight_out_of_range_an_unknown_version_and_the_primary() {
    let moto = MotoServer::start();
    let stack = seed_moto(&moto, 2).await;
    let endpoint = moto.endpoint();
    let shift = |to: &str, weight: &str| {
        run(
            &endpoint,
            &[
                "shift",
                "--stack",
                &stack,
                "--function",
                "greeter",
                "--to",
                to,
                "--weight",
                weight,
                "--json",
            ],
        )
    };
    // moto itself would store any weight: the refusal is redline-ops' own.
    for (to, weight, reason) in [
        ("2", "0", "weight-out-of-range"),
        ("2", "1", "weight-out-of-range"),
        ("2", "1.5", "weight-out-of-range"),
        ("2", "-0.1", "weight-out-of-range"),
        ("9", "0.1", "unknown-version"),
        ("$LATEST", "0.1", "unknown-version"),
        ("1", "0.1", "already-primary"),
    ] {
        let answer = shift(to, weight);
        assert_eq!(answer.code, 1, "{to} {weight}: {answer:?}");
        let function = &answer.json()["functions"][0];
        assert_eq!(function["outcome"], "refused", "{to} {weight}");
        assert_eq!(function["reason"], reason, "{to} {weight}");
        assert!(answer.stdout.contains("message"), "{answer:?}");
    }
    assert_eq!(
        alias(&endpoint, &format!("{stack}-greeter")).await,
        ("1".into(), vec![])
    );
    // Text says the same to a person.
    let text = run(
        &endpoint,
        &[
            "shift",
            "--stack",
            &stack,
            "--function",
            "greeter",
            "--to",
            "9",
            "--weight",
            "0.1",
        ],
    );
    assert_eq!(text.code, 1);
    assert!(
        text.stdout.contains(&format!(
            "refused: {stack}-greeter has no version 9 (published: 1, 2)"
        )),
        "{text:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_stack_is_refused_a_dead_endpoint_or_no_credentials_exit_3_and_bad_usage_2() {
    let moto = MotoServer::start();
    let stack = seed_moto(&moto, 1).await;
    let wrong = run(
        &moto.endpoint(),
        &["status", "--stack", "nosuchstack", "--json"],
    );
    assert_eq!(wrong.code, 1, "{wrong:?}");
    assert_eq!(wrong.json()["error"]["reason"], "no-live-alias");
    assert!(wrong.stderr.contains("is --stack right?"), "{wrong:?}");

    let port = redline_tests::servers::free_port();
    let dead = run(
        &format!("http://127.0.0.1:{port}"),
        &["status", "--stack", &stack, "--json"],
    );
    assert_eq!(dead.code, 3, "{dead:?}");
    assert_eq!(dead.json()["error"]["reason"], "endpoint");
    assert!(dead.stderr.contains("Connection refused"), "{dead:?}");
    assert!(
        !dead.stderr.contains("testing"),
        "no credential in messages: {dead:?}"
    );

    // No credentials anywhere, against an endpoint that is not local (TEST-NET-1: the missing
    // credentials stop the call before any connection). A loopback endpoint is signed with
    // placeholder credentials instead (below).
    let anonymous = run_without_credentials(
        "http://192.0.2.1:3001",
        &["status", "--stack", &stack, "--json"],
    );
    assert_eq!(anonymous.code, 3, "{anonymous:?}");
    assert_eq!(anonymous.json()["error"]["reason"], "credentials");
    let local = run_without_credentials(&moto.endpoint(), &["status", "--stack", &stack, "--json"]);
    assert_eq!(local.code, 0, "{local:?}");

    for args in [
        &["shift", "--function", "auth", "--to", "2"][..],
        &["promote"],
        &["status", "--function", "billing"],
    ] {
        let usage = run(&moto.endpoint(), args);
        assert_eq!(usage.code, 2, "{args:?}: {usage:?}");
    }
}

/// With Lambda's endpoint not overridden the target is AWS: a manual move needs --force, and
/// is refused before Lambda is called at all (this test never reaches AWS).
#[tokio::test(flavor = "multi_thread")]
async fn against_aws_a_manual_move_needs_force() {
    let moto = MotoServer::start();
    let stack = seed_moto(&moto, 2).await;
    for args in [
        &[
            "shift",
            "--function",
            "auth",
            "--to",
            "2",
            "--weight",
            "0.1",
            "--json",
        ][..],
        &["promote", "--function", "auth", "--json"],
        &["rollback", "--function", "auth", "--to", "2", "--json"],
    ] {
        let mut command =
            std::process::Command::new(redline_tests::runner::workspace_bin("redline-ops"));
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") {
                command.env_remove(name);
            }
        }
        let output = command
            .args(args)
            .args(["--stack", &stack])
            // CodeDeploy and CloudWatch at moto, Lambda left to AWS.
            .env("AWS_ENDPOINT_URL_CODEDEPLOY", moto.endpoint())
            .env("AWS_ENDPOINT_URL_CLOUDWATCH", moto.endpoint())
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/nonexistent/redline-ops-test")
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                "/nonexistent/redline-ops-test",
            )
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stdout}");
        let report: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(report["functions"][0]["reason"], "needs-force", "{args:?}");
        let message = report["functions"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("the next deploy of the stack then fails"),
            "{message}"
        );
    }
    assert_eq!(
        alias(&moto.endpoint(), &format!("{stack}-auth")).await,
        ("1".into(), vec![])
    );
}
