//! The `live` alias's weights, applied: with version 2 at weight 0.3 beside version 1, requests
//! on the HTTP API and `Invoke` with qualifier `live` are answered by both versions in a
//! proportion a binomial bound accepts, the runner logs the version that answered each gateway
//! request, and clearing the weights sends everything to the alias's version again.

use super::runner_versions::{context, deploy_runner, marked_bins, write_marked, FUNCTION};
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use futures_util::future::join_all;
use redline_tests::runner::Runner;
use serde_json::json;
use std::collections::BTreeMap;

/// `n` draws with probability `p`: the counts within 6 standard deviations of the mean (a
/// false failure about once in a billion runs).
fn binomial_bounds(n: usize, p: f64) -> std::ops::RangeInclusive<usize> {
    let mean = n as f64 * p;
    let spread = 6.0 * (n as f64 * p * (1.0 - p)).sqrt();
    ((mean - spread).max(1.0).ceil() as usize)..=((mean + spread).floor() as usize)
}

/// `n` requests to the HTTP API, ten at a time: how many each version answered.
async fn gateway_versions(runner: &Runner, n: usize) -> BTreeMap<String, usize> {
    let client = reqwest::Client::new();
    let mut counts = BTreeMap::new();
    for _ in 0..n / 10 {
        let calls = (0..10).map(|_| {
            runner.call(
                &client,
                reqwest::Method::GET,
                "/misbehave/context",
                None,
                None,
            )
        });
        for (status, body) in join_all(calls).await {
            assert_eq!(status, 200, "{body}");
            let version = body["version"].as_str().unwrap().to_string();
            *counts.entry(version).or_default() += 1;
        }
    }
    counts
}

/// The runner's per-request lines for the misbehave route: how many each version answered.
fn logged_versions(runner: &Runner) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for line in runner.log_text().lines() {
        let Some(rest) = line.strip_prefix(
            "redline-local: answered GET /misbehave/{action} with 200 from MisbehaveFunction version ",
        ) else {
            continue;
        };
        let version = rest.split_whitespace().next().unwrap().to_string();
        *counts.entry(version).or_default() += 1;
    }
    counts
}

async fn set_live(runner: &Runner, weights: &[(&str, f64)]) {
    let mut config = AliasRoutingConfiguration::builder();
    for (version, weight) in weights {
        config = config.additional_version_weights(*version, *weight);
    }
    runner
        .lambda()
        .update_alias()
        .function_name(FUNCTION)
        .name("live")
        .function_version("1")
        .routing_config(config.build())
        .send()
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn live_splits_requests_by_its_weights_and_logs_the_version_that_answered() {
    let (bins, binary) = marked_bins("A");
    let runner = deploy_runner(&bins, json!({}), &[]);
    write_marked(&binary, "B");
    let published = runner
        .lambda()
        .publish_version()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap();
    assert_eq!(published.version(), Some("2"));
    set_live(&runner, &[("2", 0.3)]).await;

    let n = 200;
    let answered = gateway_versions(&runner, n).await;
    let on_2 = answered.get("2").copied().unwrap_or(0);
    assert_eq!(answered.values().sum::<usize>(), n);
    assert_eq!(
        answered.keys().collect::<Vec<_>>(),
        ["1", "2"],
        "only the alias's two versions answer"
    );
    assert!(
        binomial_bounds(n, 0.3).contains(&on_2),
        "{on_2} of {n} on version 2 at weight 0.3: {answered:?}"
    );
    assert_eq!(
        logged_versions(&runner),
        answered,
        "one log line per request, naming the version that answered"
    );

    // Invoke with qualifier live is split too, and says which version ran it.
    let lambda = runner.lambda();
    let mut invoked: BTreeMap<String, usize> = BTreeMap::new();
    let m = 100;
    for _ in 0..m {
        let (executed, body) = context(&lambda, FUNCTION, Some("live")).await;
        assert_eq!(body["version"], json!(executed));
        assert!(body["invoked_arn"].as_str().unwrap().ends_with(":live"));
        *invoked.entry(executed).or_default() += 1;
    }
    let on_2 = invoked.get("2").copied().unwrap_or(0);
    assert!(
        binomial_bounds(m, 0.3).contains(&on_2),
        "{on_2} of {m} invocations on version 2: {invoked:?}"
    );

    // Weights cleared: the alias's version takes everything.
    set_live(&runner, &[]).await;
    let alias = lambda
        .get_alias()
        .function_name(FUNCTION)
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(alias.routing_config(), None);
    let after = gateway_versions(&runner, 50).await;
    assert_eq!(after, BTreeMap::from([("1".to_string(), 50)]));
}

#[test]
fn the_binomial_bounds_are_six_standard_deviations() {
    // n = 200, p = 0.3: mean 60, standard deviation 6.48.
    assert_eq!(binomial_bounds(200, 0.3), 22..=98);
}
