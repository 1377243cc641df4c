//! The Secrets Manager rotation function, end to end: the real `rotate-secret` binary invoked
//! through the local runner's Lambda invoke API, the moto Secrets Manager emulator holding the
//! secret versions and their labels, and PostgreSQL clusters of the tests' own with SCRAM
//! authentication. Each test drives the four steps as Secrets Manager would.

use aws_sdk_secretsmanager::types::RotationRulesType;
use aws_sdk_secretsmanager::Client;
use redline_core::config::{Secret, TokenConfig};
use redline_tests::runner::{bin_dir, env_file, repo_root, workspace_bin, Runner};
use redline_tests::servers::{random_u64, MotoServer, PgCluster, PgOptions};
use redline_tokens::{KeySet, Subject, TokenKind, Tokens};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

const CURRENT: &str = "AWSCURRENT";
const PENDING: &str = "AWSPENDING";
const PREVIOUS: &str = "AWSPREVIOUS";
const STEPS: [&str; 4] = ["createSecret", "setSecret", "testSecret", "finishSecret"];

/// A rotation Lambda that moto does not know: its RotateSecret stages the new version, then
/// fails looking the function up (see [`begin_rotation`]).
const NOT_IN_MOTO: &str = "arn:aws:lambda:us-east-1:123456789012:function:not-in-moto";
/// Where the function publishes the public JWK Set (`VERIFICATION_KEYS_SECRET`).
const VERIFICATION_SECRET: &str = "redline/verification-keys";
const SUPERUSER_PASSWORD: &str = "superpw";

/// Two Ed25519 keys (PKCS#8, base64) that exist before any rotation.
const KEY_A: &str = "MC4CAQAwBQYDK2VwBCIEIG7QIsfQR3YOnbQDmTqpTt/sizLchMJFCOe+rX8Wc2o9";
const KEY_B: &str = "MC4CAQAwBQYDK2VwBCIEIHu4OnU5rBAvUpAcgkz/EsCJUyP8KBcMuNs5TZYhNwKi";

/// moto, and the runner serving the rotation function pointed at it.
struct Rig {
    moto: MotoServer,
    sm: Client,
    runner: Runner,
    http: reqwest::Client,
}

/// Every version of a secret: its labels (sorted) and value, by version id.
type Snapshot = BTreeMap<String, (Vec<String>, Option<String>)>;

impl Rig {
    async fn start() -> Rig {
        let moto = MotoServer::start();
        let sm = moto.client().await;
        let mut vars: serde_json::Map<String, Value> = moto
            .env()
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        vars.insert("REDLINE_ENV".into(), "test".into());
        vars.insert("REDLINE__DATABASE__SSLMODE".into(), "disable".into());
        vars.insert(
            "VERIFICATION_KEYS_SECRET".into(),
            VERIFICATION_SECRET.into(),
        );
        let env = env_file(&json!({ "RotateSecretFunction": vars }));
        let bins = bin_dir(&[("rotate-secret", workspace_bin("rotate-secret"))]);
        let template = repo_root().join("tests/fixtures/rotation/template.yaml");
        let runner = Runner::start(&template, &[env], &bins, &[]);
        Rig {
            moto,
            sm,
            runner,
            http: reqwest::Client::new(),
        }
    }

    /// One step through Lambda's invoke API: the function's answer, or the error message of a
    /// function error.
    async fn invoke(&self, step: &str, secret_id: &str, token: &str) -> Result<Value, String> {
        let response = self
            .http
            .post(
                self.runner
                    .invoke_url("/2015-03-31/functions/RotateSecretFunction/invocations"),
            )
            .json(&json!({"SecretId": secret_id, "ClientRequestToken": token, "Step": step}))
            .send()
            .await
            .expect("the invoke API answers");
        assert_eq!(response.status(), 200, "invoke API status");
        let function_error = response.headers().contains_key("x-amz-function-error");
        let body: Value = response.json().await.expect("a JSON answer");
        if function_error {
            Err(body["errorMessage"]
                .as_str()
                .unwrap_or_default()
                .to_string())
        } else {
            Ok(body)
        }
    }

    /// A step that must succeed; returns its outcome.
    async fn step(&self, step: &str, secret_id: &str, token: &str) -> String {
        match self.invoke(step, secret_id, token).await {
            Ok(answer) => {
                assert_eq!(answer["step"], step, "{answer}");
                answer["outcome"].as_str().unwrap_or_default().to_string()
            }
            Err(message) => panic!(
                "{step} failed: {message}\n{}",
                tail(&self.runner.log_text(), 3000)
            ),
        }
    }

    /// A whole rotation, as Secrets Manager runs it; returns the new version's id.
    async fn rotate(&self, secret_id: &str) -> String {
        let token = begin_rotation(&self.sm, secret_id).await;
        for step in STEPS {
            self.step(step, secret_id, &token).await;
        }
        token
    }

    async fn create_secret(&self, name: &str, value: &Value) -> String {
        self.moto.create_secret(name, &value.to_string()).await
    }

    async fn value(&self, secret_id: &str, stage: &str) -> Value {
        let output = self
            .sm
            .get_secret_value()
            .secret_id(secret_id)
            .version_stage(stage)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{stage} of {secret_id}: {e:?}"));
        serde_json::from_str(output.secret_string().expect("a string value")).unwrap()
    }

    async fn version_value(&self, secret_id: &str, version: &str) -> Option<String> {
        let output = self
            .sm
            .get_secret_value()
            .secret_id(secret_id)
            .version_id(version)
            .send()
            .await
            .ok()?;
        output.secret_string().map(str::to_string)
    }

    async fn snapshot(&self, secret_id: &str) -> Snapshot {
        let mut snapshot = Snapshot::new();
        for (version, mut stages) in stages_of(&self.sm, secret_id).await {
            stages.sort();
            let value = self.version_value(secret_id, &version).await;
            snapshot.insert(version, (stages, value));
        }
        snapshot
    }
}

/// Starts a rotation the way Secrets Manager does before it invokes createSecret: a new,
/// value-less version with id = ClientRequestToken, labelled AWSPENDING.
///
/// moto's RotateSecret would invoke the rotation Lambda through its Docker-based Lambda
/// emulation, which cannot run here. But it stages exactly that AWSPENDING version *before* it
/// looks the Lambda up and fails with ResourceNotFoundException, so calling it with an ARN moto
/// does not know leaves the secret as real Secrets Manager would, and the tests then invoke the
/// four steps themselves.
async fn begin_rotation(sm: &Client, secret_id: &str) -> String {
    // After a completed rotation AWS accepts AWSPENDING left on the AWSCURRENT version; moto's
    // RotateSecret takes that for a rotation still in progress and refuses to start another.
    for (version, stages) in stages_of(sm, secret_id).await {
        if stages.iter().any(|s| s == PENDING) && stages.iter().any(|s| s == CURRENT) {
            sm.update_secret_version_stage()
                .secret_id(secret_id)
                .version_stage(PENDING)
                .remove_from_version_id(version)
                .send()
                .await
                .expect("clear the finished rotation's AWSPENDING label");
        }
    }
    let token = new_token();
    let error = sm
        .rotate_secret()
        .secret_id(secret_id)
        .client_request_token(&token)
        .rotation_lambda_arn(NOT_IN_MOTO)
        .rotation_rules(
            RotationRulesType::builder()
                .automatically_after_days(30)
                .build(),
        )
        .send()
        .await
        .expect_err("moto cannot invoke a Lambda it does not know");
    assert!(
        error
            .as_service_error()
            .is_some_and(|e| e.is_resource_not_found_exception()),
        "RotateSecret should fail looking up the Lambda: {error:?}"
    );
    let stages = stages_of(sm, secret_id).await;
    assert_eq!(
        stages.get(&token),
        Some(&vec![PENDING.to_string()]),
        "RotateSecret staged the new version as AWSPENDING: {stages:?}"
    );
    token
}

/// A uuid-shaped token (Secrets Manager wants 32 to 64 characters).
fn new_token() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

async fn stages_of(sm: &Client, secret_id: &str) -> HashMap<String, Vec<String>> {
    sm.describe_secret()
        .secret_id(secret_id)
        .send()
        .await
        .unwrap_or_else(|e| panic!("describe {secret_id}: {e:?}"))
        .version_ids_to_stages()
        .cloned()
        .unwrap_or_default()
}

fn version_with(stages: &HashMap<String, Vec<String>>, stage: &str) -> Option<String> {
    stages
        .iter()
        .find(|(_, labels)| labels.iter().any(|l| l == stage))
        .map(|(id, _)| id.clone())
}

fn tail(text: &str, max: usize) -> &str {
    let start = text.len().saturating_sub(max);
    let start = (start..=text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    &text[start..]
}

// ---------------------------------------------------------------------------------------------
// Signing key sets

fn token_config() -> TokenConfig {
    TokenConfig {
        access_ttl: Duration::from_secs(900),
        refresh_ttl: Duration::from_secs(3600),
        session_max: Duration::from_secs(7200),
        issuer: "redline".into(),
        audience: "redline-api".into(),
        signing_keys: None,
        verification_keys: None,
        key_rotation: None,
    }
}

fn placeholder() -> Value {
    json!({"keys": [], "bootstrap": format!("{:016x}", random_u64())})
}

fn kids(set: &Value) -> Vec<String> {
    set["keys"]
        .as_array()
        .expect("a keys array")
        .iter()
        .map(|key| key["kid"].as_str().expect("a kid").to_string())
        .collect()
}

/// `YYYY-MM-DD` (UTC) of now, as the function writes it into new kids.
fn today() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()[..10].to_string()
}

/// The kid a rotation mints: `<date>-<first 8 characters of the token>`, dated on one of the
/// days the step ran between (a rotation may straddle midnight).
fn assert_minted_kid(kid: &str, token: &str, days: &[String; 2]) {
    let expected = days.clone().map(|day| format!("{day}-{}", &token[..8]));
    assert!(
        expected.iter().any(|e| e == kid),
        "kid {kid}, expected one of {expected:?}"
    );
}

/// The published JWK Set holds public members only.
fn assert_public_only(jwks: &Value) {
    for key in jwks["keys"].as_array().expect("a keys array") {
        for private in ["d", "private_key", "k", "p", "q"] {
            assert!(key.get(private).is_none(), "{private} published: {key}");
        }
    }
}

fn signer(set: &Value) -> Tokens {
    let keys = KeySet::from_signing(&Secret::new(set.to_string())).expect("a valid signing set");
    Tokens::new(keys, &token_config())
}

fn public_verifier(jwks: &Value) -> Tokens {
    let keys = KeySet::from_public(&jwks.to_string()).expect("a valid public JWK Set");
    Tokens::new(keys, &token_config())
}

const ALICE: Subject<'static> = Subject {
    user_id: 7,
    username: "alice",
};

#[tokio::test(flavor = "multi_thread")]
async fn a_signing_key_set_rotates_from_the_deployment_placeholder() {
    let rig = Rig::start().await;
    rig.create_secret(VERIFICATION_SECRET, &placeholder()).await;
    let initial = placeholder();
    let id = rig.create_secret("redline/signing-keys", &initial).await;

    let token = begin_rotation(&rig.sm, &id).await;
    let day_before = today();
    assert_eq!(rig.step("createSecret", &id, &token).await, "created");
    let pending = rig.value(&id, PENDING).await;
    let minted = kids(&pending);
    assert_eq!(minted.len(), 1, "one new key, nothing from the placeholder");
    assert_minted_kid(&minted[0], &token, &[day_before, today()]);
    assert!(pending.get("bootstrap").is_none());
    for step in &STEPS[1..] {
        rig.step(step, &id, &token).await;
    }

    assert_eq!(rig.value(&id, CURRENT).await, pending);
    assert_eq!(rig.value(&id, PREVIOUS).await, initial);
    let published = rig.value(VERIFICATION_SECRET, CURRENT).await;
    assert_public_only(&published);
    assert_eq!(kids(&published), kids(&pending));
    let issued = signer(&pending)
        .issue(TokenKind::Access, &ALICE, None, None)
        .unwrap();
    public_verifier(&published)
        .verify(&issued.token, TokenKind::Access)
        .expect("the published keys verify the new key's tokens");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signing_key_set_keeps_the_current_key_as_previous_and_publishes_both() {
    let rig = Rig::start().await;
    rig.create_secret(VERIFICATION_SECRET, &placeholder()).await;
    let initial = json!({"keys": [
        {"kid": "current-key", "alg": "EdDSA", "private_key": KEY_A},
        {"kid": "older-key", "alg": "EdDSA", "private_key": KEY_B},
    ]});
    let id = rig.create_secret("redline/signing-keys", &initial).await;
    // Signed before the rotation, with the key that is current now.
    let old_token = signer(&initial)
        .issue(TokenKind::Access, &ALICE, None, None)
        .unwrap()
        .token;

    let day_before = today();
    let token = rig.rotate(&id).await;

    let current = rig.value(&id, CURRENT).await;
    let new_kid = kids(&current)[0].clone();
    assert_minted_kid(&new_kid, &token, &[day_before, today()]);
    assert_eq!(
        kids(&current),
        [new_kid.as_str(), "current-key"],
        "the new key first, the replaced key behind it, the older key gone"
    );
    assert_eq!(current["keys"][1]["private_key"], KEY_A);
    assert_eq!(rig.value(&id, PREVIOUS).await, initial);
    let stages = stages_of(&rig.sm, &id).await;
    assert_eq!(version_with(&stages, CURRENT), Some(token));

    let published = rig.value(VERIFICATION_SECRET, CURRENT).await;
    assert_public_only(&published);
    assert_eq!(kids(&published), [new_kid.as_str(), "current-key"]);
    let expected = KeySet::from_signing(&Secret::new(current.to_string())).unwrap();
    assert_eq!(
        &published,
        expected.jwks(),
        "exactly the new set's public half"
    );

    let verifier = public_verifier(&published);
    verifier
        .verify(&old_token, TokenKind::Access)
        .expect("a token signed with the old key still verifies");
    let new_token = signer(&current)
        .issue(TokenKind::Access, &ALICE, None, None)
        .unwrap()
        .token;
    verifier
        .verify(&new_token, TokenKind::Access)
        .expect("a token signed with the new key verifies");
    let older_token = signer(&json!({"keys": [initial["keys"][1].clone()]}))
        .issue(TokenKind::Access, &ALICE, None, None)
        .unwrap()
        .token;
    assert!(
        verifier.verify(&older_token, TokenKind::Access).is_err(),
        "the dropped key is no longer trusted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_step_of_a_signing_key_rotation_can_be_retried() {
    let rig = Rig::start().await;
    rig.create_secret(VERIFICATION_SECRET, &placeholder()).await;
    let initial = json!({"keys": [{"kid": "current-key", "alg": "EdDSA", "private_key": KEY_A}]});
    let id = rig.create_secret("redline/signing-keys", &initial).await;
    let token = begin_rotation(&rig.sm, &id).await;

    let expected_retry = [
        ("createSecret", "created", "already_created"),
        ("setSecret", "set", "set"),
        ("testSecret", "tested", "tested"),
        ("finishSecret", "finished", "already_current"),
    ];
    for (step, first, second) in expected_retry {
        assert_eq!(rig.step(step, &id, &token).await, first, "{step}");
        let secret = rig.snapshot(&id).await;
        let published = rig.snapshot(VERIFICATION_SECRET).await;
        assert_eq!(rig.step(step, &id, &token).await, second, "{step} again");
        assert_eq!(
            rig.snapshot(&id).await,
            secret,
            "{step} again changed the secret"
        );
        assert_eq!(
            rig.snapshot(VERIFICATION_SECRET).await,
            published,
            "{step} again changed the published keys"
        );
    }
    assert_eq!(
        kids(&rig.value(&id, CURRENT).await)[1],
        "current-key",
        "one new key in front of the old one: no second key was generated"
    );
    assert_eq!(
        rig.value(&id, CURRENT).await["keys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_that_is_neither_pending_nor_current_is_refused_and_changes_nothing() {
    let rig = Rig::start().await;
    rig.create_secret(VERIFICATION_SECRET, &placeholder()).await;
    let id = rig
        .create_secret(
            "redline/signing-keys",
            &json!({"keys": [{"kid": "current-key", "alg": "EdDSA", "private_key": KEY_A}]}),
        )
        .await;
    rig.rotate(&id).await;
    // A rotation in progress, so AWSPENDING exists on another version than the refused ones.
    let pending_token = begin_rotation(&rig.sm, &id).await;
    rig.step("createSecret", &id, &pending_token).await;
    // A version carrying a label of its own only.
    let labelled = new_token();
    rig.sm
        .put_secret_value()
        .secret_id(&id)
        .client_request_token(&labelled)
        .secret_string(r#"{"keys": []}"#)
        .version_stages("OPERATOR")
        .send()
        .await
        .unwrap();
    let stages = stages_of(&rig.sm, &id).await;
    let previous = version_with(&stages, PREVIOUS).expect("an AWSPREVIOUS version");

    let before = (
        rig.snapshot(&id).await,
        rig.snapshot(VERIFICATION_SECRET).await,
    );
    for token in [new_token(), previous, labelled] {
        for step in STEPS {
            let message = rig
                .invoke(step, &id, &token)
                .await
                .expect_err("a function error");
            assert!(
                message.contains(step) && message.contains("not pending for rotation"),
                "{message}"
            );
            assert!(message.contains(&token), "{message}");
        }
    }
    let after = (
        rig.snapshot(&id).await,
        rig.snapshot(VERIFICATION_SECRET).await,
    );
    assert_eq!(after, before, "a refused step changed something");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_key_set_is_not_rotated_directly() {
    let rig = Rig::start().await;
    let initial = json!({"keys": [{"kid": "current-key", "alg": "EdDSA", "private_key": KEY_A}]});
    let public = KeySet::from_signing(&Secret::new(initial.to_string()))
        .unwrap()
        .jwks()
        .clone();
    let id = rig.create_secret(VERIFICATION_SECRET, &public).await;
    let token = begin_rotation(&rig.sm, &id).await;
    let before = rig.snapshot(&id).await;
    let message = rig
        .invoke("createSecret", &id, &token)
        .await
        .expect_err("a function error");
    assert!(message.contains("public JWK Set"), "{message}");
    assert_eq!(rig.snapshot(&id).await, before);
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

/// A cluster of the test's own with SCRAM authentication and one login role, `app`.
async fn cluster_with_app_user(app_password: &str) -> PgCluster {
    let cluster = PgCluster::start(PgOptions::scram(SUPERUSER_PASSWORD));
    let admin = cluster.connect_superuser("postgres").await.unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE app LOGIN PASSWORD '{app_password}';
             CREATE TABLE notes (id int PRIMARY KEY, body text);
             INSERT INTO notes VALUES (1, 'readable by app');
             GRANT SELECT ON notes TO app;"
        ))
        .await
        .unwrap();
    cluster
}

fn db_secret(cluster: &PgCluster, username: &str, password: &str) -> Value {
    json!({
        "engine": "postgres",
        "host": cluster.host(),
        "port": cluster.port(),
        "dbname": "postgres",
        "username": username,
        "password": password,
    })
}

/// Logs in the way a client of the secret does: with whatever the value says.
async fn login_with(value: &Value) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(value["host"].as_str().unwrap())
        .port(value["port"].as_u64().unwrap() as u16)
        .dbname(value["dbname"].as_str().unwrap())
        .user(value["username"].as_str().unwrap())
        .password(value["password"].as_str().unwrap())
        .connect_timeout(Duration::from_secs(5));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

async fn can_log_in(value: &Value) -> bool {
    login_with(value).await.is_ok()
}

/// Logs in with the value and reads the table the base user was granted.
async fn reads_notes(value: &Value) -> Result<String, String> {
    let client = login_with(value).await.map_err(|e| e.to_string())?;
    let row = client
        .query_one("SELECT body FROM notes WHERE id = 1", &[])
        .await
        .map_err(|e| e.to_string())?;
    Ok(row.get(0))
}

/// The stored SCRAM verifier of a role: it changes whenever the password is set again.
async fn verifier_of(cluster: &PgCluster, role: &str) -> Option<String> {
    let admin = cluster.connect_superuser("postgres").await.unwrap();
    admin
        .query_opt(
            "SELECT rolpassword FROM pg_authid WHERE rolname = $1",
            &[&role],
        )
        .await
        .unwrap()
        .and_then(|row| row.get(0))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_single_user_password_changes_at_set_secret_and_never_reaches_the_server_log() {
    let rig = Rig::start().await;
    let cluster = cluster_with_app_user("old-password-1").await;
    // Every statement of app's sessions goes to the server log (from the next login on): the
    // new password must not be among them.
    let admin = cluster.connect_superuser("postgres").await.unwrap();
    admin
        .batch_execute("ALTER ROLE app SET log_statement = 'all'")
        .await
        .unwrap();
    let initial = db_secret(&cluster, "app", "old-password-1");
    let id = rig.create_secret("redline/database", &initial).await;

    let token = begin_rotation(&rig.sm, &id).await;
    rig.step("createSecret", &id, &token).await;
    let pending = rig.value(&id, PENDING).await;
    let new_password = pending["password"].as_str().unwrap().to_string();
    assert_eq!(new_password.len(), 32);
    assert!(new_password.bytes().all(|b| b.is_ascii_alphanumeric()));
    let mut expected = initial.clone();
    expected["password"] = json!(new_password);
    assert_eq!(pending, expected, "only the password changes");
    assert!(
        can_log_in(&initial).await,
        "before setSecret the old password works"
    );
    assert!(!can_log_in(&pending).await, "and the new one does not");

    rig.step("setSecret", &id, &token).await;
    assert!(
        !can_log_in(&initial).await,
        "after setSecret the old password fails"
    );
    assert!(can_log_in(&pending).await, "and the new one works");
    rig.step("testSecret", &id, &token).await;
    rig.step("finishSecret", &id, &token).await;

    assert_eq!(rig.value(&id, CURRENT).await, pending);
    assert_eq!(rig.value(&id, PREVIOUS).await, initial);
    assert_eq!(
        version_with(&stages_of(&rig.sm, &id).await, CURRENT),
        Some(token)
    );
    let log = std::fs::read_to_string(cluster.log_file()).unwrap();
    assert!(
        log.contains("ALTER ROLE \"app\" PASSWORD 'SCRAM-SHA-256$"),
        "statement logging is on"
    );
    assert!(
        !log.contains(&new_password),
        "the password reached the server log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn every_step_of_a_single_user_rotation_can_be_retried() {
    let rig = Rig::start().await;
    let cluster = cluster_with_app_user("old-password-1").await;
    let id = rig
        .create_secret(
            "redline/database",
            &db_secret(&cluster, "app", "old-password-1"),
        )
        .await;
    let token = begin_rotation(&rig.sm, &id).await;
    let expected_retry = [
        ("createSecret", "created", "already_created"),
        ("setSecret", "set", "already_set"),
        ("testSecret", "tested", "tested"),
        ("finishSecret", "finished", "already_current"),
    ];
    for (step, first, second) in expected_retry {
        assert_eq!(rig.step(step, &id, &token).await, first, "{step}");
        let secret = rig.snapshot(&id).await;
        let verifier = verifier_of(&cluster, "app").await;
        assert_eq!(rig.step(step, &id, &token).await, second, "{step} again");
        assert_eq!(
            rig.snapshot(&id).await,
            secret,
            "{step} again changed the secret"
        );
        assert_eq!(
            verifier_of(&cluster, "app").await,
            verifier,
            "{step} again set the password again"
        );
    }
    assert!(can_log_in(&rig.value(&id, CURRENT).await).await);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_set_secret_leaves_the_current_login_working_and_a_retry_completes() {
    let rig = Rig::start().await;
    let mut cluster = cluster_with_app_user("old-password-1").await;
    let initial = db_secret(&cluster, "app", "old-password-1");
    let id = rig.create_secret("redline/database", &initial).await;
    let token = begin_rotation(&rig.sm, &id).await;
    rig.step("createSecret", &id, &token).await;
    let pending = rig.value(&id, PENDING).await;
    let before = rig.snapshot(&id).await;

    cluster.stop();
    let message = rig
        .invoke("setSecret", &id, &token)
        .await
        .expect_err("setSecret fails while the database is down");
    assert!(
        message.contains("setSecret") && message.contains(&id),
        "{message}"
    );
    assert!(
        !message.contains(pending["password"].as_str().unwrap())
            && !message.contains("old-password-1"),
        "a password in the error: {message}"
    );
    assert_eq!(rig.snapshot(&id).await, before, "the secret is untouched");
    cluster.start_again();
    assert_eq!(rig.value(&id, CURRENT).await, initial);
    assert!(can_log_in(&initial).await, "AWSCURRENT still logs in");
    assert!(!can_log_in(&pending).await);

    assert_eq!(rig.step("setSecret", &id, &token).await, "set");
    rig.step("testSecret", &id, &token).await;
    rig.step("finishSecret", &id, &token).await;
    let current = rig.value(&id, CURRENT).await;
    assert_eq!(current, pending);
    assert!(can_log_in(&current).await);
}

/// The superuser's secret and a user secret pointing at it through `masterarn`.
async fn alternating_secrets(
    rig: &Rig,
    cluster: &PgCluster,
    master_password: &str,
) -> (String, String) {
    let master = rig
        .create_secret(
            "redline/database-master",
            &db_secret(cluster, cluster.superuser(), master_password),
        )
        .await;
    let mut user = db_secret(cluster, "app", "app-password-1");
    user["masterarn"] = json!(master);
    let id = rig.create_secret("redline/database-app", &user).await;
    (master, id)
}

/// A client of the secret: logs in with AWSCURRENT, whatever it says now, and reads its data.
async fn current_login_works(rig: &Rig, id: &str, moment: &str) -> Value {
    let current = rig.value(id, CURRENT).await;
    if let Err(error) = reads_notes(&current).await {
        panic!(
            "{moment}: AWSCURRENT ({}) cannot log in and read: {error}",
            current["username"]
        );
    }
    current
}

#[tokio::test(flavor = "multi_thread")]
async fn alternating_users_keep_the_current_login_working_through_two_rotations() {
    let rig = Rig::start().await;
    let cluster = cluster_with_app_user("app-password-1").await;
    let (_, id) = alternating_secrets(&rig, &cluster, SUPERUSER_PASSWORD).await;
    let original = current_login_works(&rig, &id, "before rotating").await;

    let mut users = Vec::new();
    for round in 1..=2 {
        let token = begin_rotation(&rig.sm, &id).await;
        let before = current_login_works(&rig, &id, &format!("round {round} begun")).await;
        for step in STEPS {
            rig.step(step, &id, &token).await;
            current_login_works(&rig, &id, &format!("round {round} after {step}")).await;
        }
        let current = rig.value(&id, CURRENT).await;
        assert_eq!(rig.value(&id, PREVIOUS).await, before);
        assert_ne!(current["password"], before["password"]);
        assert_eq!(current["masterarn"], before["masterarn"]);
        assert!(
            reads_notes(&before).await.is_ok(),
            "round {round}: the user that was current is untouched"
        );
        users.push(current["username"].as_str().unwrap().to_string());
    }
    assert_eq!(users, ["app_clone", "app"], "user → user_clone → user");
    assert_ne!(
        rig.value(&id, CURRENT).await["password"],
        original["password"]
    );
    assert_eq!(
        reads_notes(&rig.value(&id, PREVIOUS).await)
            .await
            .as_deref(),
        Ok("readable by app"),
        "the clone reads what the base user can"
    );
    let admin = cluster.connect_superuser("postgres").await.unwrap();
    let member = admin
        .query_one("SELECT pg_has_role('app_clone', 'app', 'MEMBER')", &[])
        .await
        .unwrap();
    assert!(member.get::<_, bool>(0), "app_clone is a member of app");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wrong_superuser_password_fails_set_secret_until_it_is_fixed() {
    let rig = Rig::start().await;
    let cluster = cluster_with_app_user("app-password-1").await;
    let (master, id) = alternating_secrets(&rig, &cluster, "not-the-superuser-password").await;
    let token = begin_rotation(&rig.sm, &id).await;
    rig.step("createSecret", &id, &token).await;
    let pending = rig.value(&id, PENDING).await;
    assert_eq!(pending["username"], "app_clone");
    let before = rig.snapshot(&id).await;

    let message = rig
        .invoke("setSecret", &id, &token)
        .await
        .expect_err("setSecret fails with a wrong superuser password");
    assert!(
        message.contains("setSecret") && message.contains(&id),
        "{message}"
    );
    for password in [
        "not-the-superuser-password",
        "app-password-1",
        pending["password"].as_str().unwrap(),
    ] {
        assert!(
            !message.contains(password),
            "a password in the error: {message}"
        );
    }
    assert_eq!(rig.snapshot(&id).await, before, "the secret is untouched");
    current_login_works(&rig, &id, "after the failed setSecret").await;
    assert!(
        verifier_of(&cluster, "app_clone").await.is_none(),
        "no role was created"
    );

    // The operator fixes the superuser's secret; Secrets Manager retries the step.
    rig.moto
        .put_secret(
            &master,
            &db_secret(&cluster, cluster.superuser(), SUPERUSER_PASSWORD).to_string(),
        )
        .await;
    assert_eq!(rig.step("setSecret", &id, &token).await, "set");
    current_login_works(&rig, &id, "after setSecret").await;
    rig.step("testSecret", &id, &token).await;
    rig.step("finishSecret", &id, &token).await;
    let current = current_login_works(&rig, &id, "after finishSecret").await;
    assert_eq!(current, pending);
}

/// The auth function, served by the runner on the real template, logging in users through an
/// alternating-users rotation: its database credentials are the rotated secret.
#[tokio::test(flavor = "multi_thread")]
async fn api_logins_keep_working_while_the_auth_functions_database_user_alternates() {
    use redline_tests::runner::{stack_env_files, target_dir};
    use redline_tests::secrets_stack::{database_owned_by_app, database_references};
    use redline_tests::stack::StackClient;
    use redline_tests::TestEnv;

    let rig = Rig::start().await;
    let cluster = PgCluster::start(PgOptions::scram(SUPERUSER_PASSWORD));
    let admin = cluster.connect_superuser("postgres").await.unwrap();
    let db = database_owned_by_app(&cluster, "app-password-1").await;
    // The schema is app's (migrated as app), so app_clone, a member of app, may use it too.
    let env = TestEnv::on(
        db,
        &[
            ("DATABASE__USER", "app"),
            ("DATABASE__PASSWORD", "app-password-1"),
        ],
    )
    .await;
    let master = rig
        .create_secret(
            "redline/api-master",
            &json!({"engine": "postgres", "host": cluster.host(), "port": cluster.port(),
                    "dbname": env.db.name(), "username": cluster.superuser(),
                    "password": SUPERUSER_PASSWORD}),
        )
        .await;
    let id = rig
        .create_secret(
            "redline/api-database",
            &json!({"engine": "postgres", "host": cluster.host(), "port": cluster.port(),
                    "dbname": env.db.name(), "username": "app",
                    "password": "app-password-1", "masterarn": master}),
        )
        .await;

    let mut common: serde_json::Map<String, Value> = rig
        .moto
        .env()
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    // Short TTL, so the function adopts each new AWSCURRENT within the test.
    common.insert("REDLINE__SECRETS__TTL".into(), "1s".into());
    let auth = database_references(&id);
    let mut files = stack_env_files(&env, Value::Object(common));
    files.push(env_file(&json!({ "AuthFunction": auth })));
    let runner = Runner::start(
        &repo_root().join("template.yaml"),
        &files,
        &target_dir().join("debug"),
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
        ],
    );
    let api = StackClient::new(&runner);
    let (status, body) = api.register("alt", "passw0rd1", "alt@example.com").await;
    assert_eq!(status, 200, "{body}");
    let database_users = || async {
        let rows = admin
            .query(
                "SELECT DISTINCT usename::text FROM pg_stat_activity \
                 WHERE application_name = 'redline'",
                &[],
            )
            .await
            .unwrap();
        rows.iter()
            .map(|row| row.get::<_, String>(0))
            .collect::<Vec<_>>()
    };
    api_login(&api, &runner, "before rotating").await;
    assert_eq!(database_users().await, ["app"]);

    for (round, next_user) in [(1, "app_clone"), (2, "app")] {
        let token = begin_rotation(&rig.sm, &id).await;
        for step in STEPS {
            rig.step(step, &id, &token).await;
            api_login(&api, &runner, &format!("round {round} after {step}")).await;
        }
        complete_rotation(&rig.sm, &id, &token).await;
        // Past the TTL the function refreshes and logs in as the new user for new connections.
        tokio::time::sleep(Duration::from_millis(1100)).await;
        admin
            .batch_execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = 'redline'",
            )
            .await
            .unwrap();
        let mut answers = Vec::new();
        for _ in 0..3 {
            let (status, _) = api.login("alt", "passw0rd1").await;
            answers.push(status);
            if status == 200 {
                break;
            }
        }
        assert_eq!(answers.last(), Some(&200), "round {round}: {answers:?}");
        assert_eq!(database_users().await, [next_user], "round {round}");
    }
}

async fn api_login(api: &redline_tests::stack::StackClient, runner: &Runner, moment: &str) {
    let (status, body) = api.login("alt", "passw0rd1").await;
    assert_eq!(
        status,
        200,
        "{moment}: {body}\n{}",
        tail(&runner.log_text(), 3000)
    );
}

/// What Secrets Manager does when a rotation function has finished, and moto does not: the new
/// version is what a read without a stage returns. moto answers GetSecretValue and
/// BatchGetSecretValue without a stage from the version last *written*, not from the one
/// labelled AWSCURRENT, so a label move alone leaves it serving the old value. Writing the same
/// value again under the rotation's token with AWSCURRENT (a no-op in AWS) moves moto's default.
async fn complete_rotation(sm: &Client, secret_id: &str, token: &str) {
    let value = sm
        .get_secret_value()
        .secret_id(secret_id)
        .version_id(token)
        .send()
        .await
        .expect("the rotated version")
        .secret_string()
        .expect("a string secret")
        .to_string();
    sm.put_secret_value()
        .secret_id(secret_id)
        .client_request_token(token)
        .secret_string(value)
        .version_stages(CURRENT)
        .send()
        .await
        .expect("moto's default version follows AWSCURRENT");
    assert_eq!(
        version_with(&stages_of(sm, secret_id).await, CURRENT).as_deref(),
        Some(token)
    );
}

/// The stack's two database secrets, rotated on a server where the owner is no superuser: the
/// owner's by itself (single user), the application role's with the owner's secret as master
/// (alternating users). The application role is the one migrate created; its clone inherits its
/// grants, not more.
#[tokio::test(flavor = "multi_thread")]
async fn both_database_secrets_rotate_with_the_owner_as_the_application_roles_master() {
    use redline_tests::roles::{assert_reads_and_writes, assert_refused_schema_changes};
    use redline_tests::secrets_stack::database_owned_by_app;
    use redline_tests::TestEnv;

    let rig = Rig::start().await;
    let cluster = PgCluster::start(PgOptions::scram(SUPERUSER_PASSWORD));
    // `app` here is the schema owner: it owns the database and may create roles.
    let db = database_owned_by_app(&cluster, "owner-password-1").await;
    let env = TestEnv::on(
        db,
        &[
            ("DATABASE__USER", "app"),
            ("DATABASE__PASSWORD", "owner-password-1"),
        ],
    )
    .await;
    let app = env.app_config().unwrap().database;
    let login = |username: &str, password: &str| {
        json!({"engine": "postgres", "host": cluster.host(), "port": cluster.port(),
               "dbname": env.db.name(), "username": username, "password": password})
    };
    let owner_id = rig
        .create_secret("redline/database", &login("app", "owner-password-1"))
        .await;
    let mut app_secret = login(&app.user, app.password.expose());
    app_secret["masterarn"] = json!(owner_id);
    let app_id = rig.create_secret("redline/database-app", &app_secret).await;

    let app_login_is_confined = |moment: &'static str| {
        let rig = &rig;
        let app_id = app_id.clone();
        async move {
            let current = rig.value(&app_id, CURRENT).await;
            let user = format!("{} ({moment})", current["username"]);
            let mut client = login_with(&current)
                .await
                .unwrap_or_else(|e| panic!("{user} cannot log in: {e}"));
            assert_reads_and_writes(&mut client, &user).await;
            assert_refused_schema_changes(&client, &user).await;
            current
        }
    };
    app_login_is_confined("before rotating").await;

    rig.rotate(&app_id).await;
    let rotated = app_login_is_confined("after its rotation").await;
    assert_eq!(rotated["username"], format!("{}_clone", app.user));

    rig.rotate(&owner_id).await;
    let owner = rig.value(&owner_id, CURRENT).await;
    assert_ne!(owner["password"], "owner-password-1");
    assert!(can_log_in(&owner).await, "the owner's new password works");
    assert!(
        !can_log_in(&login("app", "owner-password-1")).await,
        "the owner's old password is gone"
    );

    // The next rotation of the application secret logs in with the owner's new password.
    rig.rotate(&app_id).await;
    let back = app_login_is_confined("after the owner's rotation").await;
    assert_eq!(back["username"], app.user);
    assert_ne!(back["password"], app_secret["password"]);
}

/// The owner's secret itself alternating (the operator's superuser as its master): migrate and
/// the application secret's rotation may log in as the owner's clone, and still act as the owner
/// (what they create is the owner's; the owner's CREATEROLE applies).
#[tokio::test(flavor = "multi_thread")]
async fn an_alternating_owners_clone_migrates_and_rotates_as_the_owner() {
    use redline_tests::roles::{assert_reads_and_writes, assert_refused_schema_changes};
    use redline_tests::secrets_stack::database_owned_by_app;
    use redline_tests::servers::TestDatabase;
    use redline_tests::TestEnv;

    let rig = Rig::start().await;
    let cluster = PgCluster::start(PgOptions::scram(SUPERUSER_PASSWORD));
    let db: TestDatabase = database_owned_by_app(&cluster, "owner-password-1").await;
    let dbname = db.name().to_string();
    let login = |username: &str, password: &str| {
        json!({"engine": "postgres", "host": cluster.host(), "port": cluster.port(),
               "dbname": dbname, "username": username, "password": password})
    };
    let master = rig
        .create_secret(
            "redline/database-master",
            &login(cluster.superuser(), SUPERUSER_PASSWORD),
        )
        .await;
    let mut owner_secret = login("app", "owner-password-1");
    owner_secret["masterarn"] = json!(master);
    let owner_id = rig.create_secret("redline/database", &owner_secret).await;
    rig.rotate(&owner_id).await;
    let owner = rig.value(&owner_id, CURRENT).await;
    assert_eq!(owner["username"], "app_clone");

    let env = TestEnv::on(
        db,
        &[
            ("DATABASE__USER", "app_clone"),
            ("DATABASE__PASSWORD", owner["password"].as_str().unwrap()),
        ],
    )
    .await;
    let superuser = cluster.connect_superuser(env.db.name()).await.unwrap();
    let owners: Vec<String> = superuser
        .query(
            "SELECT DISTINCT tableowner::text FROM pg_tables WHERE schemaname = 'public'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(owners, ["app"], "the clone migrated as the owner");

    let app = env.app_config().unwrap().database;
    let mut app_secret = login(&app.user, app.password.expose());
    app_secret["masterarn"] = json!(owner_id);
    let app_id = rig.create_secret("redline/database-app", &app_secret).await;
    rig.rotate(&app_id).await;
    let current = rig.value(&app_id, CURRENT).await;
    assert_eq!(current["username"], format!("{}_clone", app.user));
    let mut client = login_with(&current).await.unwrap();
    assert_reads_and_writes(&mut client, "the application role's clone").await;
    assert_refused_schema_changes(&client, "the application role's clone").await;
}
