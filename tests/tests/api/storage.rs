//! Storage plumbing: PostgreSQL TLS modes, Redis TLS and AUTH, migrations, statement timeouts,
//! the pool and the key prefix.

use redline_core::config::SslMode;
use redline_stores::db::{self, Db, DbError};
use redline_tests::servers::{PgCluster, PgOptions, RedisOptions, RedisServer, TestDatabase};
use redline_tests::{TestEnv, TestRequest};

async fn ssl_of_our_connections(db: &TestDatabase) -> Vec<bool> {
    let admin = db.connect().await;
    admin
        .query(
            "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.application_name = 'redline' AND a.datname = current_database()",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_and_require_connect_over_tls() {
    let cluster = PgCluster::start(PgOptions::trust().with_tls());
    let ca = cluster.ca_cert_path().unwrap().display().to_string();
    for (mode, ca_file) in [("verify-full", Some(ca.as_str())), ("require", None)] {
        let db = TestDatabase::create_at(cluster.host(), cluster.port(), cluster.superuser(), None)
            .await;
        let mut overrides = vec![("DATABASE__SSLMODE", mode)];
        if let Some(ca_file) = ca_file {
            overrides.push(("DATABASE__CA_FILE", ca_file));
        }
        let env = TestEnv::on(db, &overrides).await;
        let api = env.api();
        api.signed_in("tls_user").await;
        let ssl = ssl_of_our_connections(&env.db).await;
        assert!(!ssl.is_empty() && ssl.iter().all(|s| *s), "{mode}: {ssl:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_full_refuses_an_untrusted_certificate_and_disable_refuses_tls_only_servers() {
    let cluster = PgCluster::start(PgOptions::trust().ssl_only());
    let mut config = TestEnv::new().await.config().unwrap().database;
    config.host = cluster.host().to_string();
    config.port = cluster.port();
    config.user = cluster.superuser().to_string();
    config.dbname = "postgres".into();
    config.connect_timeout = std::time::Duration::from_secs(2);

    config.sslmode = SslMode::VerifyFull; // system roots do not know the test CA
    assert!(matches!(
        Db::new(&config).unwrap().ping().await,
        Err(DbError::Unavailable(_))
    ));
    config.sslmode = SslMode::Disable;
    assert!(matches!(
        Db::new(&config).unwrap().ping().await,
        Err(DbError::Unavailable(_))
    ));
    config.sslmode = SslMode::VerifyFull;
    config.ca_file = Some(cluster.ca_cert_path().unwrap().display().to_string());
    Db::new(&config)
        .unwrap()
        .ping()
        .await
        .expect("trusted CA connects");
    // A CA file that is not there is a configuration error naming the key.
    config.ca_file = Some("/nonexistent/ca.pem".into());
    let error = Db::new(&config).err().unwrap();
    assert!(error.to_string().contains("database.ca_file"));
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_over_tls_with_auth() {
    let redis = RedisServer::start(
        RedisOptions::default()
            .with_tls()
            .with_password("s3cret-pw"),
    );
    let mut env = TestEnv::new().await;
    env.set("REDIS__URL", &redis.url());
    env.set(
        "REDIS__CA_FILE",
        &redis.ca_cert_path().unwrap().display().to_string(),
    );
    let api = env.api();
    api.send(TestRequest::get("/api/v1/auth/captcha").query("captcha_type", "image"))
        .await
        .expect(200, "");
    api.send(TestRequest::get("/health/ready"))
        .await
        .expect(200, "");

    env.set("REDIS__URL", &redis.url().replace("s3cret-pw", "wrong-pw"));
    let api = env.api();
    let response = api
        .send(TestRequest::get("/api/v1/auth/captcha").query("captcha_type", "image"))
        .await;
    response.expect(503, "SERVICE_UNAVAILABLE");
    assert!(!response.body.to_string().contains("wrong-pw"));
}

#[tokio::test(flavor = "multi_thread")]
async fn migrations_are_safe_twice_and_concurrently() {
    let env = TestEnv::new().await; // already migrated once
    let config = env.config().unwrap();
    let migrator = redline_stores::migrator::Migrator::new(&config).unwrap();
    let again = migrator.run().await.unwrap();
    assert!(again.applied.is_empty());
    assert_eq!(again.already_applied.len(), db::MIGRATIONS.len());

    let fresh = TestDatabase::create().await;
    let mut config = config.clone();
    config.database.dbname = fresh.name().to_string();
    let runs: Vec<_> = (0..4)
        .map(|_| {
            let config = config.clone();
            tokio::spawn(async move {
                redline_stores::migrator::Migrator::new(&config)
                    .unwrap()
                    .run()
                    .await
            })
        })
        .collect();
    let mut applied = Vec::new();
    for run in runs {
        applied.extend(
            run.await
                .unwrap()
                .expect("every concurrent run succeeds")
                .applied,
        );
    }
    applied.sort();
    let expected: Vec<i32> = db::MIGRATIONS.iter().map(|m| m.version).collect();
    assert_eq!(applied, expected, "each migration applied exactly once");
    let admin = fresh.connect().await;
    let count: i64 = admin
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count as usize, db::MIGRATIONS.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn statements_are_bounded_by_the_statement_timeout() {
    let env = TestEnv::new().await;
    let mut config = env.config().unwrap().database;
    config.statement_timeout = std::time::Duration::from_millis(200);
    let db = Db::new(&config).unwrap();
    let client = db.client().await.unwrap();
    let error = client.simple_query("SELECT pg_sleep(3)").await.unwrap_err();
    assert!(matches!(DbError::from(error), DbError::Unavailable(_)));
    client
        .simple_query("SELECT 1")
        .await
        .expect("the connection survives");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_pool_stays_small_and_is_reused() {
    let env = TestEnv::with(&[("DATABASE__POOL_SIZE", "2")]).await;
    let api = env.api();
    let (access, _) = api.signed_in("pooled").await;
    for _ in 0..10 {
        api.send(TestRequest::get("/api/v1/users/me").bearer(&access))
            .await
            .expect(200, "");
    }
    let status = api.users.db().unwrap().status();
    assert_eq!(status.max_size, 2);
    assert_eq!(status.size, 1, "sequential requests reuse one connection");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_key_lives_under_the_deployment_prefix() {
    let env = TestEnv::new().await;
    let api = env.api();
    let id = api.image_captcha().await;
    api.login("someone", "wrong-1").await;
    let mut conn = env.redis().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}*", env.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(
        keys.iter()
            .any(|k| k == &format!("{}captcha:{id}", env.prefix)),
        "{keys:?}"
    );
    assert!(keys
        .iter()
        .any(|k| k.starts_with(&format!("{}rate:login:", env.prefix))));
    assert!(keys
        .iter()
        .any(|k| k.starts_with(&format!("{}lock:fail:name:", env.prefix))));
    // No personal data in key names: the unknown name is a keyed hash.
    assert!(!keys.iter().any(|k| k.contains("someone")));
}
