//! Secrets from Secrets Manager (the moto emulator), through the real function binaries under
//! the local runner: one batch fetch per cold start, the cache and its grace period, init errors,
//! refetches on an unknown `kid` and on a refused database or Redis password.

use redline_tests::runner::Runner;
use redline_tests::secrets_stack::{database_owned_by_app, Deployment, DATA_KEY_V1};
use redline_tests::servers::{PgCluster, PgOptions, RedisOptions, RedisServer};
use redline_tests::stack::StackClient;
use redline_tests::TestEnv;
use redline_tokens::{KeySet, Subject, TokenKind, Tokens};
use serde_json::{json, Value};
use std::time::Duration;

const DATA_KEY_V2: &str = "1f2e3d4c5b6a79880f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978";
/// A second Ed25519 key (PKCS#8), standing for a key the rotation made after our cache.
const NEW_PRIVATE_KEY: &str = "MC4CAQAwBQYDK2VwBCIEIHu4OnU5rBAvUpAcgkz/EsCJUyP8KBcMuNs5TZYhNwKi";

fn reason(body: &Value) -> &str {
    body["reason"].as_str().unwrap_or("")
}

/// The function error the invoke API answers for an instance whose init failed.
async fn invoke_error(runner: &Runner, function: &str) -> String {
    let event = json!({"version": "2.0", "routeKey": "GET /health/live", "rawPath": "/health/live",
        "rawQueryString": "", "headers": {}, "isBase64Encoded": false,
        "requestContext": {"http": {"method": "GET", "path": "/health/live", "sourceIp": "127.0.0.1",
            "protocol": "HTTP/1.1", "userAgent": "test"}, "requestId": "r", "stage": "$default",
            "routeKey": "GET /health/live", "timeEpoch": 0, "accountId": "1", "apiId": "a",
            "domainName": "d", "domainPrefix": "d", "time": "t"}});
    let response = reqwest::Client::new()
        .post(runner.invoke_url(&format!("/2015-03-31/functions/{function}/invocations")))
        .json(&event)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response
            .headers()
            .get("x-amz-function-error")
            .map(|v| v.to_str().unwrap().to_string()),
        Some("Unhandled".to_string()),
        "an init failure is a function error"
    );
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cold_start_fetches_every_secret_in_one_call_and_warm_requests_none() {
    let deployment = Deployment::on_shared_database().await;
    let runner = deployment.start(json!({}));
    let api = StackClient::new(&runner);

    let before = deployment.moto.request_count();
    let (status, _) = api
        .get("/api/v1/auth/captcha?captcha_type=image", None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        deployment.moto.request_count() - before,
        1,
        "the auth function's cold start fetched its four secrets in one BatchGetSecretValue"
    );
    let token = api.signed_in("sekrit", "passw0rd1").await;
    let (status, me) = api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["email"], "se***@example.com");

    let warm_from = deployment.moto.request_count();
    for _ in 0..20 {
        let (status, _) = api.get("/api/v1/users/me", Some(&token)).await;
        assert_eq!(status, 200);
    }
    assert_eq!(
        deployment.moto.request_count(),
        warm_from,
        "warm requests inside the TTL never call Secrets Manager"
    );

    let (status, report) = api.get("/health", None).await;
    assert_eq!(status, 200, "{report}");
    let secrets = &report["checks"]["secrets"];
    assert_eq!(secrets["status"], "healthy", "{report}");
    assert_eq!(secrets["required"], true);
    assert_eq!(secrets["details"]["source"], "aws");
    let text = report.to_string();
    assert!(!text.contains("unused-by-trust") && !text.contains(DATA_KEY_V1));
}

#[tokio::test(flavor = "multi_thread")]
async fn unreachable_secrets_at_cold_start_are_an_init_error_naming_the_secret() {
    let mut deployment = Deployment::on_shared_database().await;
    deployment.moto.stop();
    let runner = deployment.start(json!({"REDLINE__SECRETS__TIMEOUT": "1s"}));

    let error = invoke_error(&runner, "AuthFunction").await;
    assert!(error.contains("Runtime.SecretsUnavailable"), "{error}");
    assert!(
        error.contains(&deployment.database),
        "names the secret: {error}"
    );
    assert!(!error.contains(DATA_KEY_V1) && !error.contains("unused-by-trust"));

    // Over HTTP no request is served: the API answers its own 500-class error.
    let api = StackClient::new(&runner);
    let (status, _) = api
        .get("/api/v1/auth/captcha?captcha_type=image", None)
        .await;
    assert!(status >= 500, "no request served: {status}");
    let log = runner.log_text();
    assert!(!log.contains(DATA_KEY_V1) && !log.contains("unused-by-trust"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_secret_missing_a_key_is_a_startup_error_naming_the_key() {
    let env = TestEnv::new().await;
    let mut database = Deployment::shared_database(&env);
    database.as_object_mut().unwrap().remove("password");
    let deployment = Deployment::new(env, database).await;
    let runner = deployment.start(json!({}));

    let error = invoke_error(&runner, "HealthFunction").await;
    assert!(error.contains("Runtime.ConfigInvalid"), "{error}");
    assert!(
        error.contains("database.password"),
        "names the key: {error}"
    );
    assert!(error.contains("`password`"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_store_outage_is_served_from_cache_within_the_grace_period_then_refused() {
    let env = TestEnv::new().await;
    let database = Deployment::shared_database(&env);
    let mut deployment = Deployment::by_name(env, database).await;
    // Secrets go stale after 1 s; cached values serve 4 s more; retries at most every 500 ms.
    let runner = deployment.start(json!({
        "REDLINE__SECRETS__TTL": "1s", "REDLINE__SECRETS__GRACE": "4s",
        "REDLINE__SECRETS__REFETCH_INTERVAL": "500ms", "REDLINE__SECRETS__TIMEOUT": "1s",
    }));
    let api = StackClient::new(&runner);
    let token = api.signed_in("outage", "passw0rd1").await;
    let (status, _) = api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(status, 200, "every function has fetched its secrets once");
    let (status, report) = api.get("/health", None).await;
    assert_eq!(
        (status, &report["checks"]["secrets"]["status"]),
        (200, &json!("healthy"))
    );

    deployment.moto.stop();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let (status, me) = api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(
        status,
        200,
        "served from cache inside the grace period: {me}\n{}",
        runner.log_text()
    );
    let (status, report) = api.get("/health", None).await;
    assert_eq!(status, 200, "degraded is still ready: {report}");
    assert_eq!(report["status"], "degraded", "{report}");
    assert_eq!(
        report["checks"]["secrets"]["status"], "degraded",
        "{report}"
    );

    // Past TTL + grace: the secrets check is unhealthy and API requests get a 503.
    tokio::time::sleep(Duration::from_millis(4000)).await;
    let (status, report) = api.get("/health", None).await;
    assert_eq!(status, 503, "{report}");
    assert_eq!(
        report["checks"]["secrets"]["status"], "unhealthy",
        "{report}"
    );
    let (status, body) = api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(
        (status, reason(&body)),
        (503, "SERVICE_UNAVAILABLE"),
        "{body}"
    );

    let (status, _) = api.get("/health/live", None).await;
    assert_eq!(status, 200, "liveness never depends on secrets");

    // The store comes back (moto keeps nothing, so the secrets are created again): after the
    // retry interval the next request refreshes and is served.
    deployment.moto.start_again();
    deployment.reseed().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (status, me) = api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(status, 200, "recovered: {me}");
    let (status, report) = api.get("/health", None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["checks"]["secrets"]["status"], "healthy", "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_with_an_unknown_kid_refetches_the_key_set_once_and_forged_kids_do_not_hammer() {
    let deployment = Deployment::on_shared_database().await;
    let runner = deployment.start(json!({"REDLINE__SECRETS__REFETCH_INTERVAL": "1h"}));
    let api = StackClient::new(&runner);
    let token = api.signed_in("rotator", "passw0rd1").await;
    let (status, me) = api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(status, 200, "{me}");
    let user_id = me["id"].as_i64().unwrap();

    // The rotation published a new public key; the signer already uses it.
    let config = deployment.env.config().unwrap();
    let new_set = format!(
        r#"{{"keys":[{{"kid":"rotated-2","alg":"EdDSA","private_key":"{NEW_PRIVATE_KEY}"}}]}}"#
    );
    let new_keys = KeySet::from_signing(&redline_core::config::Secret::new(&new_set)).unwrap();
    let old_public: Value =
        serde_json::from_str(config.auth.tokens.verification_keys.as_ref().unwrap()).unwrap();
    let mut published = new_keys.jwks().clone();
    published["keys"]
        .as_array_mut()
        .unwrap()
        .extend(old_public["keys"].as_array().unwrap().iter().cloned());
    deployment
        .moto
        .put_secret(&deployment.verification, &published.to_string())
        .await;
    let signer = Tokens::new(new_keys, &config.auth.tokens);
    let subject = Subject {
        user_id,
        username: "rotator",
    };
    let fresh = signer
        .issue(TokenKind::Access, &subject, None, None)
        .unwrap()
        .token;

    let before = deployment.moto.request_count();
    let (status, me) = api.get("/api/v1/users/me", Some(&fresh)).await;
    assert_eq!(status, 200, "the unknown kid was fetched: {me}");
    assert_eq!(deployment.moto.request_count() - before, 1, "one refetch");
    let (status, _) = api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(status, 200, "tokens of the previous key still verify");

    // Forged kids: each is refused, and the refetch budget is spent: no call at all.
    let forged_from = deployment.moto.request_count();
    for n in 0..20 {
        let forged_set = format!(
            r#"{{"keys":[{{"kid":"forged-{n}","alg":"EdDSA","private_key":"{NEW_PRIVATE_KEY}"}}]}}"#
        );
        let forger = Tokens::new(
            KeySet::from_signing(&redline_core::config::Secret::new(&forged_set)).unwrap(),
            &config.auth.tokens,
        );
        let forged = forger
            .issue(TokenKind::Access, &subject, None, None)
            .unwrap()
            .token;
        let (status, body) = api.get("/api/v1/users/me", Some(&forged)).await;
        assert_eq!((status, reason(&body)), (401, "TOKEN_INVALID"), "{body}");
    }
    assert_eq!(
        deployment.moto.request_count(),
        forged_from,
        "forged kids inside the refetch interval never reach Secrets Manager"
    );
}

/// After a login was rotated behind the function's back: asks `/health/ready` up to three
/// times (a dead pooled connection may fail the first, with `check` unhealthy), expecting it
/// to end ready after exactly one Secrets Manager call.
async fn ready_after_one_refetch(deployment: &Deployment, runner: &Runner, check: &str) {
    let api = StackClient::new(runner);
    let before = deployment.moto.request_count();
    let mut answers = Vec::new();
    for _ in 0..3 {
        let (status, report) = api.get("/health/ready", None).await;
        answers.push(status);
        if status == 200 {
            break;
        }
        assert_eq!(report["checks"][check]["status"], "unhealthy", "{report}");
    }
    assert_eq!(
        answers.last(),
        Some(&200),
        "reconnected with the refetched password: {answers:?}\n{}",
        runner.log_text()
    );
    assert_eq!(deployment.moto.request_count() - before, 1, "one refetch");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_database_password_refetches_the_credentials_and_reconnects() {
    let cluster = PgCluster::start(PgOptions::scram("superpw"));
    let admin = cluster.connect_superuser("postgres").await.unwrap();
    let db = database_owned_by_app(&cluster, "first-password").await;
    let env = TestEnv::on(db, &[("DATABASE__PASSWORD", "superpw")]).await;
    let dbname = env.db.name().to_string();
    let credentials = |password: &str| {
        json!({"engine": "postgres", "host": cluster.host(), "port": cluster.port(),
               "dbname": dbname, "username": "app", "password": password})
    };
    let first = credentials("first-password");
    let deployment = Deployment::new(env, first).await;
    let runner = deployment.start(json!({}));
    let api = StackClient::new(&runner);
    let (status, report) = api.get("/health/ready", None).await;
    assert_eq!(status, 200, "{report}");

    // Rotated behind the function's back: new password in the database and in the secret,
    // and the pooled session is gone, so the next request must log in again.
    admin
        .batch_execute("ALTER ROLE app PASSWORD 'second-password'")
        .await
        .unwrap();
    deployment
        .moto
        .put_secret(
            &deployment.database,
            &credentials("second-password").to_string(),
        )
        .await;
    admin
        .batch_execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app'",
        )
        .await
        .unwrap();
    // The pooled session may still look open for a moment (its first use then fails as a
    // closed connection, which drops it); the next login is refused and must refetch.
    ready_after_one_refetch(&deployment, &runner, "database").await;
}

/// A deployment whose functions read the Redis URL from a secret of its own (as the template
/// does with `RedisUrlSecretArn`); returns the secret's ARN.
async fn with_redis_secret(url: &str) -> (Deployment, String) {
    let deployment = Deployment::on_shared_database().await;
    let secret = deployment
        .moto
        .create_secret(
            &format!("{}-redis", deployment.database),
            &json!({ "url": url }).to_string(),
        )
        .await;
    (deployment, secret)
}

/// Runs one command on its own connection (the test's view of the server, not the function's).
async fn redis_admin(url: &str, command: &redis::Cmd) -> redis::RedisResult<redis::Value> {
    let client = redis::Client::open(url)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    command.query_async(&mut conn).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_redis_password_refetches_the_url_and_reconnects() {
    let redis = RedisServer::start(RedisOptions::default().with_password("first-redis-pw"));
    let url = |password: &str| format!("redis://:{password}@127.0.0.1:{}/", redis.port());
    let (deployment, redis_secret) = with_redis_secret(&url("first-redis-pw")).await;
    let runner =
        deployment.start(json!({"REDIS_URL": format!("secretsmanager:{redis_secret}#url")}));
    let api = StackClient::new(&runner);
    let (status, report) = api.get("/health/ready", None).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["checks"]["cache"]["status"], "healthy", "{report}");

    // Rotated behind the function's back: a new password on the server and in the secret, and
    // every open connection closed, so the function's reconnect is refused.
    redis_admin(
        &url("first-redis-pw"),
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("requirepass")
            .arg("second-redis-pw"),
    )
    .await
    .unwrap();
    deployment
        .moto
        .put_secret(
            &redis_secret,
            &json!({"url": url("second-redis-pw")}).to_string(),
        )
        .await;
    let _ = redis_admin(
        &url("second-redis-pw"),
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal"),
    )
    .await;
    ready_after_one_refetch(&deployment, &runner, "cache").await;
    let logs = runner.log_text();
    for password in ["first-redis-pw", "second-redis-pw"] {
        assert!(
            !logs.contains(password),
            "a Redis password reached the logs"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_redis_login_with_no_newer_secret_is_a_503_and_refetches_once() {
    let redis = RedisServer::start(RedisOptions::default().with_password("kept-redis-pw"));
    let url = |password: &str| format!("redis://:{password}@127.0.0.1:{}/", redis.port());
    let (deployment, redis_secret) = with_redis_secret(&url("kept-redis-pw")).await;
    let runner = deployment.start(json!({
        "REDIS_URL": format!("secretsmanager:{redis_secret}#url"),
        "REDLINE__SECRETS__REFETCH_INTERVAL": "1h",
    }));
    let api = StackClient::new(&runner);
    let (status, report) = api.get("/health/ready", None).await;
    assert_eq!(status, 200, "{report}");

    // The server's password changes and the secret does not follow: nothing newer to find.
    redis_admin(
        &url("kept-redis-pw"),
        redis::cmd("CONFIG")
            .arg("SET")
            .arg("requirepass")
            .arg("unknown-redis-pw"),
    )
    .await
    .unwrap();
    let _ = redis_admin(
        &url("unknown-redis-pw"),
        redis::cmd("CLIENT").arg("KILL").arg("TYPE").arg("normal"),
    )
    .await;
    let before = deployment.moto.request_count();
    for _ in 0..3 {
        let (status, report) = api.get("/health/ready", None).await;
        assert_eq!(status, 503, "{report}");
        assert_eq!(report["checks"]["cache"]["status"], "unhealthy", "{report}");
    }
    assert_eq!(
        deployment.moto.request_count() - before,
        1,
        "one refetch, then the rate limit"
    );
    // The API answers the same way (auth cold-starts here: its own fetch and refetch).
    let (status, body) = api
        .get("/api/v1/auth/captcha?captcha_type=image", None)
        .await;
    assert_eq!(
        (status, reason(&body)),
        (503, "SERVICE_UNAVAILABLE"),
        "{body}"
    );
    let logs = runner.log_text();
    for password in ["kept-redis-pw", "unknown-redis-pw"] {
        assert!(
            !logs.contains(password),
            "a Redis password reached the logs"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redis_url_changed_in_its_secret_is_adopted_on_the_next_refresh() {
    let mut old = RedisServer::start(RedisOptions::default().with_password("old-redis-pw"));
    let new = RedisServer::start(RedisOptions::default().with_password("new-redis-pw"));
    let (deployment, redis_secret) = with_redis_secret(&old.url()).await;
    let runner = deployment.start(json!({
        "REDIS_URL": format!("secretsmanager:{redis_secret}#url"),
        "REDLINE__SECRETS__TTL": "1s",
    }));
    let api = StackClient::new(&runner);
    let (status, report) = api.get("/health/ready", None).await;
    assert_eq!(status, 200, "{report}");

    // Moved to another server: the old one is gone, so only the refreshed URL can answer.
    deployment
        .moto
        .put_secret(&redis_secret, &json!({"url": new.url()}).to_string())
        .await;
    old.stop();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (status, report) = api.get("/health/ready", None).await;
    assert_eq!(status, 200, "{report}\n{}", runner.log_text());
    assert_eq!(report["checks"]["cache"]["status"], "healthy", "{report}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_data_key_version_is_picked_up_and_older_data_is_resealed_on_login() {
    let deployment = Deployment::on_shared_database().await;
    let runner = deployment.start(json!({"REDLINE__SECRETS__TTL": "1s"}));
    let api = StackClient::new(&runner);
    let token = api.signed_in("resealed", "passw0rd1").await;
    let version_of_email = || async {
        let row = deployment
            .env
            .db
            .connect()
            .await
            .query_one(
                "SELECT email_cipher FROM users WHERE username = 'resealed'",
                &[],
            )
            .await
            .unwrap();
        let cipher: Vec<u8> = row.get(0);
        u32::from_be_bytes(cipher[..4].try_into().unwrap())
    };
    assert_eq!(version_of_email().await, 1);

    // A new version becomes current; version 1 stays for what it sealed.
    deployment
        .moto
        .put_secret(
            &deployment.data_keys,
            &json!({"current": 2, "1": DATA_KEY_V1, "2": DATA_KEY_V2}).to_string(),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (status, me) = api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!(status, 200, "version 1 data still reads: {me}");
    assert_eq!(me["email"], "re***@example.com");
    let (status, body) = api.login("resealed", "passw0rd1").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        version_of_email().await,
        2,
        "re-encrypted under the new version"
    );
    let (status, me) = api.get("/api/v1/users/me", Some(&token)).await;
    assert_eq!((status, &me["email"]), (200, &json!("re***@example.com")));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_referenced_secret_that_does_not_exist_is_an_init_error_naming_it() {
    let deployment = Deployment::on_shared_database().await;
    deployment
        .moto
        .client()
        .await
        .delete_secret()
        .secret_id(&deployment.blind_index)
        .force_delete_without_recovery(true)
        .send()
        .await
        .unwrap();
    let runner = deployment.start(json!({}));

    // The batch reports the missing one among the found; it is asked again on its own.
    let error = invoke_error(&runner, "AuthFunction").await;
    assert!(error.contains("Runtime.SecretsUnavailable"), "{error}");
    assert!(
        error.contains(&format!("secret {} does not exist", deployment.blind_index)),
        "{error}"
    );
    assert!(!error.contains(DATA_KEY_V1), "{error}");
}
