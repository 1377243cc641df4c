//! migrate as a CloudFormation custom resource, end to end: the real `migrate` binary under the
//! local runner's invoke API, its database login in a secret of the moto emulator, a real
//! PostgreSQL database per test, and each answer PUT to a URL that botocore pre-signed for moto's
//! S3, read back from the bucket as CloudFormation reads it. Also: migrate still runs as a plain
//! invoke and as a command.

use redline_stores::db::MIGRATIONS;
use redline_tests::custom_resource::{login, MigrateRig as Rig, Signature};
use redline_tests::runner::workspace_bin;
use redline_tests::secrets_stack::database_references;
use redline_tests::servers::{random_u64, PgCluster, PgOptions, TestDatabase};
use serde_json::{json, Value};

fn number(value: &Value) -> f64 {
    value
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {value}"))
}

fn versions() -> (String, String) {
    let last = MIGRATIONS.last().unwrap().version;
    (MIGRATIONS.len().to_string(), last.to_string())
}

async fn has_table(db: &tokio_postgres::Client, table: &str) -> bool {
    db.query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .await
        .unwrap()
        .get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn create_update_delete_and_a_redelivery_answer_success_at_the_response_url() {
    let database = TestDatabase::create().await;
    let secret = login(
        database.host(),
        database.port(),
        database.name(),
        database.user(),
        "unused-by-trust",
    );
    let rig = Rig::start(&secret, json!({})).await;
    let admin = database.connect().await;

    // Delete (a rollback of a resource never created) runs nothing.
    let delete = rig.request("Delete", "1", Signature::V2);
    let deleted = rig.answer(&delete).await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(deleted.get("Data"), None);
    assert!(
        !has_table(&admin, "schema_migrations").await,
        "Delete migrated"
    );

    let create = rig.request("Create", "1", Signature::V2);
    let created = rig.answer(&create).await;
    let (all, latest) = versions();
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(
        created["Data"],
        json!({"Applied": all, "SchemaVersion": latest})
    );
    let count: i64 = admin
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count as usize, MIGRATIONS.len());

    // CloudFormation delivers the same request again: the same answer, nothing left to apply.
    let again = rig.answer(&create).await;
    assert_eq!(again["Status"], "SUCCESS", "{again}");
    assert_eq!(
        again["Data"],
        json!({"Applied": "0", "SchemaVersion": latest})
    );

    // A deploy with a new migrate build (SigV4 URL this time): the same physical id.
    let update = rig.request("Update", "2", Signature::V4);
    assert!(update.event["ResponseURL"]
        .as_str()
        .unwrap()
        .contains("X-Amz-Signature="));
    let updated = rig.answer(&update).await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(updated["Data"]["Applied"], "0");

    // Still a plain invoke too.
    let (error, report) = rig.invoke(&json!({})).await;
    assert_eq!(error, None, "{report}");
    assert_eq!(report["applied"], json!([]));
    assert_eq!(
        report["already_applied"].as_array().unwrap().len(),
        MIGRATIONS.len()
    );

    // One document per invocation, with the request type.
    let creates = rig.emf_of("Create");
    assert_eq!(creates.len(), 2, "{creates:?}");
    let applied: Vec<f64> = creates
        .iter()
        .map(|d| number(&d["MigrationsApplied"]))
        .collect();
    assert_eq!(applied, [MIGRATIONS.len() as f64, 0.0]);
    for document in creates
        .iter()
        .chain(&rig.emf_of("Delete"))
        .chain(&rig.emf_of("Update"))
    {
        assert_eq!(number(&document["Invocations"]), 1.0, "{document}");
        assert_eq!(number(&document["Failures"]), 0.0, "{document}");
    }
    assert_eq!(rig.emf_of("Delete").len(), 1);
    assert_eq!(rig.emf_of("Update").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_migration_is_reported_failed_without_secrets_and_succeeds_once_fixed() {
    // A login that works (SCRAM, a real password) on a database it does not own; like any
    // owner it may create the application role.
    let cluster = PgCluster::start(PgOptions::scram("superpw"));
    let password = format!("pw-{:016x}", random_u64());
    let admin = cluster.connect_superuser("postgres").await.unwrap();
    admin
        .batch_execute(&format!(
            "CREATE ROLE app LOGIN CREATEROLE PASSWORD '{password}'"
        ))
        .await
        .unwrap();
    let database = TestDatabase::create_at(
        cluster.host(),
        cluster.port(),
        cluster.superuser(),
        cluster.superuser_password(),
    )
    .await;
    let owner = cluster.connect_superuser(database.name()).await.unwrap();
    let secret = login(
        cluster.host(),
        cluster.port(),
        database.name(),
        "app",
        &password,
    );
    let rig = Rig::start(&secret, json!({})).await;
    let create = rig.request("Create", "1", Signature::V2);

    // app may not create the bookkeeping table in the public schema.
    let refused = rig.answer(&create).await;
    assert_eq!(refused["Status"], "FAILED", "{refused}");
    let reason = refused["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with(
            "Migrate.Bookkeeping: the migration lock or the schema_migrations table failed \
             (SQLSTATE 42501). Details in log stream "
        ),
        "{reason}"
    );
    assert_eq!(refused.get("Data"), None);

    // It may now, but a table in the way breaks migration 1.
    owner
        .batch_execute(
            "GRANT CREATE ON SCHEMA public TO app;
             CREATE TABLE users (id integer);
             ALTER TABLE users OWNER TO app;",
        )
        .await
        .unwrap();
    let broken = rig.answer(&create).await;
    assert_eq!(broken["Status"], "FAILED", "{broken}");
    let reason = broken["Reason"].as_str().unwrap();
    let first = &MIGRATIONS[0];
    assert!(
        reason.starts_with(&format!(
            "Migrate.MigrationFailed: migration {} ({}) failed (SQLSTATE 42703). ",
            first.version, first.name
        )),
        "{reason}"
    );
    // The cause (the server's message) is in the function's log, not in the reason.
    assert!(rig.runner.log_text().contains("does not exist"));
    assert!(!reason.contains("does not exist"), "{reason}");

    // Fixed: CloudFormation's next delivery of the same request succeeds.
    owner.batch_execute("DROP TABLE users").await.unwrap();
    let fixed = rig.answer(&create).await;
    assert_eq!(fixed["Status"], "SUCCESS", "{fixed}");
    assert_eq!(fixed["Data"]["Applied"], versions().0);

    for failed in [&refused, &broken] {
        let reason = failed["Reason"].as_str().unwrap();
        for secret in [password.as_str(), cluster.host(), "localhost", "127.0.0.1"] {
            assert!(
                !reason.contains(secret),
                "the reason holds {secret:?}: {reason}"
            );
        }
    }
    for (what, text) in [
        ("the function's log", rig.runner.log_text()),
        ("the metrics", rig.runner.emf_log_text()),
    ] {
        assert!(!text.contains(&password), "{what} holds the password");
    }
    let failures: Vec<f64> = rig
        .emf_of("Create")
        .iter()
        .map(|d| number(&d["Failures"]))
        .collect();
    assert_eq!(failures, [1.0, 1.0, 0.0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_configuration_failure_is_reported_failed_through_the_response_url_not_at_init() {
    let database = TestDatabase::create().await;
    let secret = login(
        database.host(),
        database.port(),
        database.name(),
        database.user(),
        "unused-by-trust",
    );
    let rig = Rig::start(
        &secret,
        json!({"REDLINE__DATABASE__CONNECT_TIMEOUT": "soon"}),
    )
    .await;

    let create = rig.request("Create", "1", Signature::V2);
    let answered = rig.answer(&create).await;
    assert_eq!(answered["Status"], "FAILED", "{answered}");
    let reason = answered["Reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Runtime.ConfigInvalid: configuration key database.connect_timeout"),
        "{reason}"
    );
    let log = rig.runner.log_text();
    assert!(
        log.contains("cold start MigrateFunction#1") && !log.contains("init error"),
        "the instance started and polled; no init error was reported:\n{log}"
    );

    // CloudFormation's rollback deletes the resource: that works with a broken configuration.
    let deleted = rig.answer(&rig.request("Delete", "1", Signature::V2)).await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");

    // A plain invoke gets the held failure as its error.
    let (error, body) = rig.invoke(&json!({})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"), "{body}");
    assert_eq!(body["errorType"], "Runtime.ConfigInvalid");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("database.connect_timeout"),
        "{body}"
    );

    // Secrets that cannot be read at cold start: the same, typed as such.
    let missing = "redline/not-seeded";
    let rig = Rig::start(&secret, Value::Object(database_references(missing))).await;
    let answered = rig.answer(&rig.request("Create", "1", Signature::V2)).await;
    assert_eq!(answered["Status"], "FAILED", "{answered}");
    assert!(
        answered["Reason"].as_str().unwrap().starts_with(&format!(
            "Runtime.SecretsUnavailable: secret {missing} does not exist"
        )),
        "{answered}"
    );
    assert!(!has_table(&database.connect().await, "schema_migrations").await);
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_still_runs_as_a_command() {
    let database = TestDatabase::create().await;
    let run = |extra: &[(&str, &str)]| {
        std::process::Command::new(workspace_bin("migrate"))
            .env_clear()
            .env("REDLINE_ENV", "test")
            .env("REDLINE__DATABASE__HOST", database.host())
            .env("REDLINE__DATABASE__PORT", database.port().to_string())
            .env("REDLINE__DATABASE__DBNAME", database.name())
            .env("REDLINE__DATABASE__USER", database.user())
            .env("REDLINE__DATABASE__APP_USER", database.app_role())
            .env("REDLINE__DATABASE__SSLMODE", "disable")
            .envs(extra.iter().copied())
            .output()
            .expect("migrate runs")
    };
    let output = run(&[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap()).unwrap();
    assert_eq!(
        report["applied"].as_array().unwrap().len(),
        MIGRATIONS.len()
    );

    let output = run(&[("REDLINE__DATABASE__CONNECT_TIMEOUT", "soon")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("database.connect_timeout"), "{stderr}");
}
