//! Tests of the test-owned servers in `redline_tests::servers`: they must really start, stop and
//! start again, speak TLS when asked, enforce SCRAM and `hostssl`, and clean up after themselves.

use redline_tests::servers::{
    redis_ping, unique_prefix, PgCluster, PgOptions, RedisOptions, RedisServer, TestDatabase,
};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn native_connector_trusting(ca_path: &std::path::Path) -> native_tls::TlsConnector {
    let pem = std::fs::read(ca_path).expect("read CA certificate");
    native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&pem).expect("parse CA"))
        .build()
        .expect("TLS connector")
}

/// The server's message for a database error, else the error and its sources.
fn error_text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.message().to_string(),
        None => {
            let mut text = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
    }
}

async fn ssl_in_use(client: &tokio_postgres::Client) -> bool {
    let row = client
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .expect("query pg_stat_ssl");
    row.get(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn plain_cluster_starts_fast_and_cleans_up() {
    let started = Instant::now();
    let cluster = PgCluster::start(PgOptions::trust());
    let elapsed = started.elapsed();
    eprintln!("plain trust cluster started in {elapsed:?}");
    assert!(
        elapsed < Duration::from_secs(5),
        "cluster start took {elapsed:?}"
    );
    assert!(cluster.ca_cert_path().is_none());

    let client = cluster
        .connect_superuser("postgres")
        .await
        .expect("connect over plain TCP");
    let one: i32 = client.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
    assert!(!ssl_in_use(&client).await);

    // The URL form connects too.
    let (url_client, connection) = tokio_postgres::connect(
        &cluster.url("postgres", None, "postgres", "disable"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("connect with url()");
    tokio::spawn(connection);
    url_client.simple_query("SELECT 1").await.unwrap();

    let dir = cluster.dir().to_path_buf();
    let port = cluster.port();
    drop(client);
    drop(url_client);
    drop(cluster);
    assert!(!dir.exists(), "cluster directory removed on drop");
    assert!(
        redline_tests::servers::wait_for_port_closed(port, Duration::from_secs(5)),
        "server stopped on drop"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tls_scram_cluster_stops_and_starts_again() {
    let password = "s3cret pw/with:odd@chars";
    let started = Instant::now();
    let mut cluster = PgCluster::start(PgOptions::scram(password).with_tls());
    eprintln!("TLS + SCRAM cluster started in {:?}", started.elapsed());
    let ca = cluster
        .ca_cert_path()
        .expect("TLS cluster has a CA")
        .to_path_buf();
    assert!(ca.is_file());
    let port = cluster.port();

    // TLS with full verification of the server certificate against the test CA.
    let client = cluster
        .connect_superuser("postgres")
        .await
        .expect("connect over TLS with SCRAM");
    assert!(ssl_in_use(&client).await, "connection must use TLS");

    // Connecting by the name `localhost` verifies too (the certificate names it).
    let tls = postgres_native_tls::MakeTlsConnector::new(native_connector_trusting(&ca));
    let mut by_name = tokio_postgres::Config::new();
    by_name
        .host("localhost")
        .hostaddr(std::net::Ipv4Addr::LOCALHOST.into())
        .port(port)
        .user("postgres")
        .password(password)
        .dbname("postgres")
        .ssl_mode(tokio_postgres::config::SslMode::Require);
    let (named, connection) = by_name
        .connect(tls.clone())
        .await
        .expect("TLS to localhost");
    tokio::spawn(connection);
    assert!(ssl_in_use(&named).await);
    drop(named);

    // A wrong password is refused: SCRAM is really enforced.
    let wrong = cluster
        .config("postgres", Some("not the password"), "postgres")
        .connect(tls.clone())
        .await;
    let err = error_text(&wrong.err().expect("wrong password must fail"));
    assert!(err.contains("password authentication failed"), "{err}");

    // A client that does not trust the CA is refused by its own verification.
    let untrusting = postgres_native_tls::MakeTlsConnector::new(
        native_tls::TlsConnector::builder().build().unwrap(),
    );
    assert!(cluster
        .superuser_config("postgres")
        .connect(untrusting)
        .await
        .is_err());

    // Non-TLS is still allowed on a cluster that is not ssl_only.
    let (plain, connection) = tokio_postgres::connect(
        &cluster.url("postgres", Some(password), "postgres", "disable"),
        tokio_postgres::NoTls,
    )
    .await
    .expect("plain TCP allowed without ssl_only");
    tokio::spawn(connection);
    assert!(!ssl_in_use(&plain).await);
    drop(plain);

    client
        .batch_execute("CREATE TABLE survives (v int); INSERT INTO survives VALUES (42)")
        .await
        .unwrap();

    let stopping = Instant::now();
    cluster.stop();
    eprintln!("cluster stopped in {:?}", stopping.elapsed());
    assert!(!cluster.is_running());
    assert!(client.simple_query("SELECT 1").await.is_err());
    assert!(cluster.connect_superuser("postgres").await.is_err());

    let restarting = Instant::now();
    cluster.start_again();
    eprintln!("cluster started again in {:?}", restarting.elapsed());
    assert_eq!(cluster.port(), port, "same port after start_again");
    let again = cluster
        .connect_superuser("postgres")
        .await
        .expect("connect after start_again");
    assert!(ssl_in_use(&again).await);
    let v: i32 = again
        .query_one("SELECT v FROM survives", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(v, 42, "data survives stop/start");
}

#[tokio::test(flavor = "multi_thread")]
async fn ssl_only_cluster_rejects_plain_connections() {
    let started = Instant::now();
    let cluster = PgCluster::start(PgOptions::scram("pw").ssl_only());
    eprintln!("ssl_only cluster started in {:?}", started.elapsed());

    let plain = tokio_postgres::connect(
        &cluster.url("postgres", Some("pw"), "postgres", "disable"),
        tokio_postgres::NoTls,
    )
    .await;
    let err = error_text(&plain.err().expect("plain TCP must be rejected"));
    assert!(
        err.contains("no pg_hba.conf entry") && err.contains("no encryption"),
        "{err}"
    );

    let client = cluster
        .connect_superuser("postgres")
        .await
        .expect("TLS connection accepted");
    assert!(ssl_in_use(&client).await);
}

#[test]
#[should_panic(expected = "ssl_only requires tls")]
fn ssl_only_without_tls_is_refused() {
    let opts = PgOptions {
        ssl_only: true,
        ..PgOptions::default()
    };
    let _ = PgCluster::start(opts);
}

#[tokio::test(flavor = "multi_thread")]
async fn test_database_is_created_and_dropped() {
    let db = TestDatabase::create().await;
    let name = db.name().to_string();
    assert!(name.starts_with("redline_t_"));
    assert!(db.url().ends_with(&format!("/{name}?sslmode=disable")));

    let client = db.connect().await;
    client
        .batch_execute("CREATE TABLE t (id int); INSERT INTO t VALUES (1)")
        .await
        .unwrap();
    let current: String = client
        .query_one("SELECT current_database()", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(current, name);

    let other = TestDatabase::create().await;
    assert_ne!(other.name(), name);

    // Drop while a session is still open: WITH (FORCE) ends it.
    drop(db);
    let (admin, connection) = tokio_postgres::connect(
        "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable",
        tokio_postgres::NoTls,
    )
    .await
    .unwrap();
    tokio::spawn(connection);
    let count: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "database dropped on Drop");

    let other_name = other.name().to_string();
    other.drop_now().await;
    let count: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_database WHERE datname = $1",
            &[&other_name],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 0, "database dropped by drop_now");
}

#[test]
fn test_database_drop_works_outside_a_runtime() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let db = rt.block_on(TestDatabase::create());
    drop(rt);
    drop(db); // no runtime here: Drop brings its own
}

#[test]
fn unique_prefixes_differ() {
    let a = unique_prefix();
    let b = unique_prefix();
    assert_ne!(a, b);
    assert!(a.starts_with("t:") && a.ends_with(':'));
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_stops_and_starts_again_on_the_same_port() {
    let started = Instant::now();
    let mut redis = RedisServer::start(RedisOptions::default());
    eprintln!("redis started in {:?}", started.elapsed());
    let port = redis.port();
    assert_eq!(redis.url(), format!("redis://127.0.0.1:{port}/"));
    assert_eq!(redis_ping(port).unwrap(), "+PONG");

    redis.stop();
    assert!(!redis.is_running());
    assert!(redis_ping(port).is_err(), "stopped server must not answer");

    let restarting = Instant::now();
    redis.start_again();
    eprintln!("redis started again in {:?}", restarting.elapsed());
    assert_eq!(redis.port(), port);
    assert_eq!(redis_ping(port).unwrap(), "+PONG");

    let dir = redis.dir().to_path_buf();
    drop(redis);
    assert!(!dir.exists());
    assert!(redline_tests::servers::wait_for_port_closed(
        port,
        Duration::from_secs(5)
    ));
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_requires_its_password() {
    let redis = RedisServer::start(RedisOptions::default().with_password("hunter2"));
    assert_eq!(
        redis.url(),
        format!("redis://:hunter2@127.0.0.1:{}/", redis.port())
    );
    let reply = redis_ping(redis.port()).unwrap();
    assert!(reply.starts_with("-NOAUTH"), "{reply}");

    let mut stream = TcpStream::connect(("127.0.0.1", redis.port())).unwrap();
    stream
        .write_all(b"*2\r\n$4\r\nAUTH\r\n$7\r\nhunter2\r\n*1\r\n$4\r\nPING\r\n")
        .unwrap();
    assert_eq!(read_lines(&mut stream, 2), vec!["+OK", "+PONG"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_tls_serves_verified_tls_only() {
    let mut redis = RedisServer::start(RedisOptions::default().with_tls().with_password("pw"));
    let port = redis.port();
    assert_eq!(redis.url(), format!("rediss://:pw@127.0.0.1:{port}/"));
    let ca = redis.ca_cert_path().expect("CA").to_path_buf();

    let tls_ping = || -> Result<Vec<String>, String> {
        let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut tls = native_connector_trusting(&ca)
            .connect("127.0.0.1", tcp)
            .map_err(|e| e.to_string())?;
        tls.write_all(b"*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1\r\n$4\r\nPING\r\n")
            .map_err(|e| e.to_string())?;
        Ok(read_lines(&mut tls, 2))
    };
    assert_eq!(tls_ping().unwrap(), vec!["+OK", "+PONG"]);

    // Plain RESP on the TLS port gets no answer.
    assert!(redis_ping(port).is_err());

    redis.stop();
    assert!(tls_ping().is_err());
    redis.start_again();
    assert_eq!(tls_ping().unwrap(), vec!["+OK", "+PONG"]);
}

/// Reads `n` CRLF-terminated lines.
fn read_lines(stream: &mut impl Read, n: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = Vec::new();
    let mut byte = [0u8; 1];
    while lines.len() < n {
        let read = stream.read(&mut byte).expect("read reply");
        assert!(read == 1, "connection closed early");
        if byte[0] == b'\n' {
            if current.last() == Some(&b'\r') {
                current.pop();
            }
            lines.push(String::from_utf8_lossy(&current).into_owned());
            current.clear();
        } else {
            current.push(byte[0]);
        }
    }
    lines
}
