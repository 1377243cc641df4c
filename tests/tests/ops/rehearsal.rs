//! `deploy --local` on the runner (the ops fixture): a new build of every function in the
//! runner's `--code-dir`, rehearsed with the stand-in hooks, while a steady load runs on port
//! 3000: every answer from a version that was live before the rehearsal must succeed.

use redline_tests::load::{Load, Seen};
use redline_tests::ops::{
    alias, deploy_local, run, running_mark, write_build, Answer, LocalStack, AREAS, LOCAL_STACK,
};
use serde_json::Value;
use std::time::Duration;

/// The versions live before every rehearsal here, as the runner logs them.
const LIVE_BEFORE: [(&str, &str); 4] = [
    ("AuthFunction", "1"),
    ("UsersFunction", "1"),
    ("GreeterFunction", "1"),
    ("HealthFunction", "1"),
];

/// The events of one function, as `(event, version, weight)`.
fn of(events: &[Value], area: &str) -> Vec<(String, String, Option<f64>)> {
    events
        .iter()
        .filter(|e| e["function"] == area)
        .map(|e| {
            (
                e["event"].as_str().unwrap().to_string(),
                e["version"].as_str().unwrap_or_default().to_string(),
                e["weight"].as_f64(),
            )
        })
        .collect()
}

async fn rehearse(stack: &LocalStack, kind: &str) -> Answer {
    rehearse_with(stack, kind, "300ms").await.0
}

/// `deploy --local` of a new build under a steady load on every area's route: the answer, and
/// what the load saw (checked: every answer from a version live before succeeded).
async fn rehearse_with(stack: &LocalStack, kind: &str, minute: &str) -> (Answer, Seen) {
    write_build(&stack.code.0, "second");
    let paths = AREAS.map(|area| format!("/{area}/ok"));
    let paths: Vec<&str> = paths.iter().map(String::as_str).collect();
    let load = Load::start(&stack.runner, &paths, 4, Duration::from_millis(5));
    let answer = deploy_local(&stack.endpoint(), &stack.code.0, kind, minute).await;
    let seen = load.stop(&stack.runner).await;
    seen.assert_live_versions_succeeded(&LIVE_BEFORE);
    (answer, seen)
}

fn check_event_fields(events: &[Value]) {
    for event in events {
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            ["alarm", "at", "event", "function", "reason", "version", "weight"],
            "{event}"
        );
        assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_all_at_once_rehearsal_ends_on_the_new_versions() {
    let stack = LocalStack::start("Succeeded", &[]);
    let answer = rehearse(&stack, "AllAtOnce").await;
    assert_eq!(answer.code, 0, "{answer:?}\n{}", stack.runner.log_text());
    let events = answer.lines();
    check_event_fields(&events);
    assert_eq!(
        of(&events, "migrate"),
        [("published".into(), "2".into(), None)]
    );
    for area in AREAS {
        let seen = of(&events, area);
        assert_eq!(
            seen.first(),
            Some(&("published".into(), "2".into(), None)),
            "{area}: {seen:?}"
        );
        assert_eq!(
            seen.last(),
            Some(&("succeeded".into(), "2".into(), Some(1.0))),
            "{area}: {seen:?}"
        );
        let hooks: Vec<&str> = events
            .iter()
            .filter(|e| e["function"] == area && e["event"] == "hook")
            .map(|e| e["reason"].as_str().unwrap())
            .collect();
        assert_eq!(
            hooks,
            [
                "BeforeAllowTraffic Succeeded",
                "AfterAllowTraffic Succeeded"
            ],
            "{area}"
        );
        assert!(
            seen.contains(&("shift".into(), "2".into(), Some(1.0))),
            "{area}: {seen:?}"
        );
        assert_eq!(
            alias(&stack.endpoint(), &format!("{LOCAL_STACK}-{area}")).await,
            ("2".into(), vec![])
        );
    }
    // The migrations ran on the new migrate build, whose live followed.
    assert_eq!(
        alias(&stack.endpoint(), &format!("{LOCAL_STACK}-migrate"))
            .await
            .0,
        "2"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_pretraffic_hook_rolls_every_function_back_and_exits_1() {
    let stack = LocalStack::start("Failed", &[]);
    let (answer, seen) = rehearse_with(&stack, "AllAtOnce", "300ms").await;
    assert_eq!(answer.code, 1, "{answer:?}");
    // The failed builds never answered port 3000.
    for (function, _) in LIVE_BEFORE {
        assert_eq!(
            seen.served_by(function, "2"),
            (0, 0),
            "{function}: {seen:?}"
        );
    }
    let events = answer.lines();
    check_event_fields(&events);
    for area in AREAS {
        let seen = of(&events, area);
        assert_eq!(
            seen.last(),
            Some(&("rollback".into(), "1".into(), Some(0.0))),
            "{area}: {seen:?}"
        );
        assert!(
            !seen.iter().any(|(event, ..)| event == "shift"),
            "{area}: {seen:?}"
        );
        let rollback = events
            .iter()
            .find(|e| e["function"] == area && e["event"] == "rollback")
            .unwrap();
        assert!(
            rollback["reason"].as_str().is_some_and(|r| !r.is_empty()),
            "{rollback}"
        );
        assert_eq!(
            alias(&stack.endpoint(), &format!("{LOCAL_STACK}-{area}")).await,
            ("1".into(), vec![])
        );
    }
    assert!(answer.stderr.contains("rolled back"), "{answer:?}");
    // A rebuild after the rehearsal (the bin dir rewritten) leaves the published versions alone:
    // version 2, which never ran, starts the build it was published from.
    write_build(&stack.code.0, "third");
    for area in AREAS {
        let function = format!("{LOCAL_STACK}-{area}");
        assert_eq!(
            running_mark(&stack.runner, &function, "2").await,
            "second",
            "{area}"
        );
    }
}

/// Migrations run before any API function moves: when the new migrate fails, the rehearsal
/// stops there with exit 1, naming the step, and every function is still on its old version.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_migration_stops_the_rehearsal_before_any_function_shifts() {
    // Every migrate build fails its init (the rehearsal invokes only the new one).
    let failing = serde_json::json!({"MigrateFunction": {"MISBEHAVE_INIT": "report"}});
    let stack = LocalStack::start_with("Succeeded", &[], failing);
    let (answer, _) = rehearse_with(&stack, "AllAtOnce", "300ms").await;
    assert_eq!(answer.code, 1, "{answer:?}");
    assert!(
        answer.stderr.contains("migrate") && answer.stderr.contains("Unhandled"),
        "{answer:?}"
    );
    let events = answer.lines();
    assert!(
        !events
            .iter()
            .any(|e| e["event"] == "shift" || e["event"] == "succeeded"),
        "{events:?}"
    );
    for area in AREAS {
        assert_eq!(
            alias(&stack.endpoint(), &format!("{LOCAL_STACK}-{area}")).await,
            ("1".into(), vec![]),
            "{area}"
        );
    }
}

#[test]
fn deploy_local_refuses_an_endpoint_that_is_not_loopback() {
    // Refused before any call: nothing listens there.
    let answer = run(
        "http://192.0.2.1:3001",
        &["deploy", "--local", "--type", "AllAtOnce"],
    );
    assert_eq!(answer.code, 1, "{answer:?}");
    assert!(
        answer.stderr.contains("rehearses on the local runner only"),
        "{answer:?}"
    );
}

/// After a successful deployment, a plain `rollback` goes back to the version it replaced
/// (found through `ListDeployments` with status Succeeded), and `status` then shows the drift.
#[tokio::test(flavor = "multi_thread")]
async fn rollback_after_a_rehearsal_goes_back_to_the_replaced_versions_and_shows_drift() {
    let stack = LocalStack::start("Succeeded", &[]);
    let endpoint = stack.endpoint();
    let answer = rehearse(&stack, "AllAtOnce").await;
    assert_eq!(answer.code, 0, "{answer:?}");
    let status = run(&endpoint, &["status", "--stack", LOCAL_STACK, "--json"]);
    assert_eq!(status.code, 0, "{status:?}");
    for function in status.json()["functions"].as_array().unwrap() {
        assert_eq!(function["live"]["version"], "2", "{function}");
        assert_eq!(function["drift"], false, "{function}");
    }
    let rolled_back = run(
        &endpoint,
        &["rollback", "--stack", LOCAL_STACK, "--all", "--json"],
    );
    assert_eq!(rolled_back.code, 0, "{rolled_back:?}");
    for (function, area) in rolled_back.json()["functions"]
        .as_array()
        .unwrap()
        .iter()
        .zip(AREAS)
    {
        assert_eq!(function["outcome"], "rolled-back", "{function}");
        assert_eq!(function["live"]["version"], "1", "{function}");
        assert_eq!(
            alias(&endpoint, &format!("{LOCAL_STACK}-{area}")).await,
            ("1".into(), vec![])
        );
    }
    let status = run(&endpoint, &["status", "--stack", LOCAL_STACK, "--json"]);
    for function in status.json()["functions"].as_array().unwrap() {
        assert_eq!(function["drift"], true, "{function}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn canary_and_linear_rehearsals_shift_in_steps_and_end_on_the_new_versions() {
    // A 600 ms minute: a linear step lasts long enough for a loaded machine's polls to see it.
    for kind in ["Canary10Percent5Minutes", "Linear10PercentEvery1Minute"] {
        let stack = LocalStack::start("Succeeded", &[]);
        let (answer, seen) = rehearse_with(&stack, kind, "600ms").await;
        assert_eq!(answer.code, 0, "{kind}: {answer:?}");
        // The new versions took their share while the weights moved.
        for (function, _) in LIVE_BEFORE {
            assert!(
                seen.served_by(function, "2").0 > 0,
                "{kind} {function}: {seen:?}"
            );
        }
        let events = answer.lines();
        check_event_fields(&events);
        for area in AREAS {
            let shifts: Vec<f64> = of(&events, area)
                .into_iter()
                .filter(|(event, ..)| event == "shift")
                .filter_map(|(.., weight)| weight)
                .collect();
            // The canary holds 10 % for five minutes; linear climbs by tenths.
            assert!(
                shifts.iter().any(|w| (*w - 0.1).abs() < 1e-9),
                "{kind} {area}: {shifts:?}"
            );
            if kind.starts_with("Linear") {
                assert!(shifts.len() >= 4, "{kind} {area}: {shifts:?}");
            }
            assert_eq!(shifts.last(), Some(&1.0), "{kind} {area}: {shifts:?}");
            assert!(
                shifts.windows(2).all(|w| w[0] < w[1]),
                "{kind} {area}: {shifts:?}"
            );
            assert_eq!(
                alias(&stack.endpoint(), &format!("{LOCAL_STACK}-{area}")).await,
                ("2".into(), vec![])
            );
        }
    }
}
