//! The template's environment is enough for each function to start in prod.

use super::*;

#[test]
fn data_store_functions_start_in_prod_with_only_their_template_environment() {
    let template = template();
    for id in ["AuthFunction", "UsersFunction", "HealthFunction"] {
        starts(&template, id).unwrap_or_else(|e| panic!("cold start would fail: {e}"));
    }
}

#[test]
fn greeter_and_migrate_start_in_prod_with_only_their_template_environment() {
    let template = template();
    let failures: Vec<String> = ["GreeterFunction", "MigrateFunction"]
        .into_iter()
        .filter_map(|id| starts(&template, id).err())
        .collect();
    assert!(failures.is_empty(), "cold start would fail: {failures:#?}");
}

#[test]
fn the_redis_url_comes_from_the_operators_secret_when_its_arn_is_given() {
    let template = template();
    let arn = OPERATOR_REDIS_SECRET_ARN;
    let mut params = prod_parameters();
    params.remove("RedisUrl");
    params.insert("RedisUrlSecretArn", arn.to_string());
    for id in ["AuthFunction", "UsersFunction", "HealthFunction"] {
        assert_eq!(
            resolved_environment(&template, &params, id)["REDIS_URL"],
            format!("secretsmanager:{arn}#url"),
            "{id}"
        );
        starts_with(&template, &params, id)
            .unwrap_or_else(|e| panic!("cold start would fail: {e}"));
    }
    // Without the ARN, the parameter as before.
    assert_eq!(
        resolved_environment(&template, &prod_parameters(), "AuthFunction")["REDIS_URL"],
        prod_parameters()["RedisUrl"]
    );
    // Deploying with neither is refused by a template rule, not at every cold start.
    let rule = &template["Rules"]["RedisLocation"]["Assertions"][0]["Assert"];
    for (url, secret, allowed) in [
        ("", "", false),
        ("rediss://c:6379", "", true),
        ("", arn, true),
    ] {
        let params = HashMap::from([
            ("RedisUrl", url.to_string()),
            ("RedisUrlSecretArn", secret.to_string()),
        ]);
        assert_eq!(
            deployed_resolver(&template, &params).holds(rule).unwrap(),
            allowed,
            "RedisUrl {url:?}, RedisUrlSecretArn {secret:?}"
        );
    }
}
