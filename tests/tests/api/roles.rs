//! The two database logins: migrate as the schema owner, the API functions as the application
//! role it creates, which reads and writes the tables and cannot change the schema. On a cluster
//! of the test's own with SCRAM authentication, so every login is a real password check.

use redline_tests::roles::{assert_reads_and_writes, assert_refused_schema_changes};
use redline_tests::secrets_stack::database_owned_by_app;
use redline_tests::servers::{PgCluster, PgOptions};
use redline_tests::{TestEnv, TestRequest};
use std::time::Duration;
use tokio_postgres::error::SqlState;

const OWNER: &str = "app"; // database_owned_by_app's role: owns the database, may create roles
const OWNER_PASSWORD: &str = "owner-password-1";

/// A deployment on a database of `cluster` that the owner role owns, migrated as that owner.
async fn owner_env(cluster: &PgCluster) -> TestEnv {
    let db = database_owned_by_app(cluster, OWNER_PASSWORD).await;
    TestEnv::on(
        db,
        &[
            ("DATABASE__USER", OWNER),
            ("DATABASE__PASSWORD", OWNER_PASSWORD),
        ],
    )
    .await
}

async fn log_in(
    cluster: &PgCluster,
    dbname: &str,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let mut config = tokio_postgres::Config::new();
    config
        .host(cluster.host())
        .port(cluster.port())
        .dbname(dbname)
        .user(user)
        .password(password)
        .connect_timeout(Duration::from_secs(5));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_works_as_the_application_role_which_cannot_drop_alter_or_create() {
    let cluster = PgCluster::start(PgOptions::scram("superpw"));
    let env = owner_env(&cluster).await;
    let app = env.app_config().unwrap().database;
    assert_eq!(app.user, env.db.app_role());
    let dbname = env.db.name();

    // End to end through the functions, logged in as the application role.
    let api = env.api();
    let (access, _) = api.signed_in("roles").await;
    api.send(TestRequest::get("/api/v1/users/me").bearer(&access))
        .await
        .expect(200, "");
    api.send(TestRequest::get("/health/ready"))
        .await
        .expect(200, "");
    let superuser = cluster.connect_superuser(dbname).await.unwrap();
    let logins: Vec<String> = superuser
        .query(
            "SELECT DISTINCT usename::text FROM pg_stat_activity \
             WHERE application_name = 'redline' AND datname = $1",
            &[&dbname],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(
        logins,
        std::slice::from_ref(&app.user),
        "the functions' sessions"
    );

    // A real login with its password (a wrong one is refused), then each schema change.
    let wrong = log_in(&cluster, dbname, &app.user, "not-its-password").await;
    assert!(wrong.is_err(), "SCRAM checks the password");
    let mut client = log_in(&cluster, dbname, &app.user, app.password.expose())
        .await
        .expect("the application role logs in with its password");
    assert_refused_schema_changes(&client, &app.user).await;
    assert_reads_and_writes(&mut client, &app.user).await;
    let owned: i64 = superuser
        .query_one(
            "SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = $1)",
            &[&app.user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(owned, 0, "the application role owns nothing");

    // A table of a later migration (the owner's) is granted by the default privileges.
    let owner = log_in(&cluster, dbname, OWNER, OWNER_PASSWORD)
        .await
        .unwrap();
    owner
        .batch_execute("CREATE TABLE later (id INT); INSERT INTO later VALUES (1)")
        .await
        .unwrap();
    client
        .execute("UPDATE later SET id = 2", &[])
        .await
        .expect("a later table is read and written");
    let error = client.batch_execute("DROP TABLE later").await.unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE));
}

#[tokio::test(flavor = "multi_thread")]
async fn migrate_creates_the_application_role_once_and_leaves_its_password_alone() {
    let cluster = PgCluster::start(PgOptions::scram("superpw"));
    let env = owner_env(&cluster).await;
    let app = env.app_config().unwrap().database;
    let superuser = cluster.connect_superuser("postgres").await.unwrap();
    // The rotation's job from here on: a new password, which migrating again keeps.
    superuser
        .batch_execute(&format!(
            "ALTER ROLE \"{}\" PASSWORD 'rotated-password-2'",
            app.user
        ))
        .await
        .unwrap();
    env.migrate().await;
    log_in(&cluster, env.db.name(), &app.user, "rotated-password-2")
        .await
        .expect("the rotated password still works");

    // An owner without CREATEROLE cannot create a missing role: a typed failure, no password.
    let mut env = env;
    env.set("DATABASE__APP_USER", &format!("{}_other", env.db.name()));
    superuser
        .batch_execute(&format!("ALTER ROLE {OWNER} NOCREATEROLE"))
        .await
        .unwrap();
    let error = redline_stores::migrator::Migrator::new(&env.config().unwrap())
        .unwrap()
        .run()
        .await
        .unwrap_err();
    match &error {
        redline_stores::db::MigrateError::AppRole { sqlstate, .. } => {
            assert_eq!(sqlstate.as_deref(), Some("42501"), "{error}")
        }
        other => panic!("not an AppRole failure: {other}"),
    }
    assert!(!error.to_string().contains("test-app-password"), "{error}");
}
