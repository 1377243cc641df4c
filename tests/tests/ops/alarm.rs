//! Rehearsals on the real template with the real traffic hooks, where the new auth build is bad
//! (the test-only `broken_area`, so no fault switch ships), while a steady load asks port 3000
//! for the JWKS:
//! - a build that passes its smoke test (captcha, login, refresh, logout) but answers 500 on
//!   `GET /.well-known/jwks.json` is deployed as a canary. Its server-error-rate rollback alarm
//!   goes to ALARM on the new version's metrics, the runner rolls back, and `deploy --local` says
//!   so: an `alarm` event, then `rollback`, exit 1, `live` on the old version;
//! - a build failing the PreTraffic smoke test (its login answers 500) is rolled back before any
//!   traffic moves: the load never reaches it.
//!
//! In both, every answer from the version that was already live succeeded.

use redline_tests::deploy::{deployment_runner, template_bins, STACK};
use redline_tests::load::Load;
use redline_tests::ops::{alias, deploy_local, Answer, Scratch};
use redline_tests::runner::{workspace_bin, Runner};
use redline_tests::TestEnv;
use serde_json::{json, Value};
use std::time::Duration;

/// The runner on the real template, with a new build in its code directory in which auth is
/// `broken_area` failing `broken_route`; the other files are those the runner runs, which it
/// publishes as nothing new (no deployment for them).
struct BadAuthBuild {
    runner: Runner,
    code: Scratch,
    _bins: Scratch,
    _env: TestEnv,
}

impl BadAuthBuild {
    async fn start(broken_route: &str) -> BadAuthBuild {
        let env = TestEnv::new().await;
        let bins = Scratch(template_bins());
        let code = Scratch::new("bad-auth");
        for name in ["users", "greeter", "health", "migrate"] {
            std::fs::copy(workspace_bin(name), code.0.join(name)).unwrap();
        }
        std::fs::copy(workspace_bin("broken_area"), code.0.join("auth")).unwrap();
        let broken = json!({"AuthFunction": {
            "BROKEN_AREA": "auth",
            "BROKEN_ROUTE": broken_route,
        }});
        let runner = deployment_runner(&env, &bins.0, &code.0, broken, 60);
        BadAuthBuild {
            runner,
            code,
            _bins: bins,
            _env: env,
        }
    }

    /// `deploy --local` of the new build under a steady load on the JWKS: the answer, and what
    /// the load saw.
    async fn rehearse(&self, kind: &str, minute: &str) -> (Answer, redline_tests::load::Seen) {
        let load = Load::start(
            &self.runner,
            &["/.well-known/jwks.json"],
            4,
            Duration::from_millis(5),
        );
        let answer = deploy_local(&self.runner.endpoint(), &self.code.0, kind, minute).await;
        let seen = load.stop(&self.runner).await;
        (answer, seen)
    }

    fn auth_events(answer: &Answer) -> Vec<Value> {
        answer
            .lines()
            .into_iter()
            .filter(|e| e["function"] == "auth")
            .collect()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_answering_5xx_under_load_trips_its_alarm_and_rolls_back() {
    let stack = BadAuthBuild::start("GET /.well-known/jwks.json").await;
    let (answer, seen) = stack.rehearse("Canary10Percent5Minutes", "2s").await;

    assert_eq!(answer.code, 1, "{answer:?}\n{}", stack.runner.log_text());
    let events = BadAuthBuild::auth_events(&answer);
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let alarm = kinds
        .iter()
        .position(|k| *k == "alarm")
        .unwrap_or_else(|| panic!("no alarm event: {events:?}\n{seen:?}"));
    let rollback = kinds
        .iter()
        .position(|k| *k == "rollback")
        .expect("a rollback event");
    assert!(alarm < rollback, "{kinds:?}");
    assert_eq!(
        events[alarm]["alarm"],
        format!("{STACK}-auth-rollback-server-error-rate")
    );
    assert_eq!(events[rollback]["version"], "1");
    assert_eq!(
        alias(&stack.runner.endpoint(), &format!("{STACK}-auth")).await,
        ("1".into(), vec![])
    );
    // Only the canary failed: the old version answered every one of its requests.
    seen.assert_live_versions_succeeded(&[("AuthFunction", "1")]);
    let (_, failed) = seen.served_by("AuthFunction", "2");
    assert!(failed > 0, "the canary failed nothing: {seen:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_failing_its_pretraffic_smoke_test_never_answers_port_3000() {
    let stack = BadAuthBuild::start("POST /api/v1/auth/login").await;
    let (answer, seen) = stack.rehearse("AllAtOnce", "1s").await;

    assert_eq!(answer.code, 1, "{answer:?}\n{}", stack.runner.log_text());
    let events = BadAuthBuild::auth_events(&answer);
    let hook = events
        .iter()
        .find(|e| e["event"] == "hook")
        .unwrap_or_else(|| panic!("a hook event: {events:?}"));
    assert!(
        hook["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("BeforeAllowTraffic Failed")),
        "{events:?}"
    );
    assert!(
        !events.iter().any(|e| e["event"] == "shift"),
        "traffic moved: {events:?}"
    );
    assert_eq!(events.last().unwrap()["event"], "rollback", "{events:?}");
    assert_eq!(
        alias(&stack.runner.endpoint(), &format!("{STACK}-auth")).await,
        ("1".into(), vec![])
    );
    seen.assert_live_versions_succeeded(&[("AuthFunction", "1")]);
    assert_eq!(
        seen.served_by("AuthFunction", "2"),
        (0, 0),
        "the failed build answered port 3000: {seen:?}"
    );
}
