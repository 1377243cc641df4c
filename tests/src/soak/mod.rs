//! A soak under faults: full auth flows (captcha, register, login, two concurrent refreshes,
//! users/me, logout) through the local runner on the real template, by many clients at once,
//! while the soak's own PostgreSQL cluster and Redis server are stopped and started again. The
//! report judges every answer against the outage windows (see [`report`]); `scripts/soak.sh`
//! runs the full soak, the blackbox tier a small one.

pub mod faults;
pub mod flow;
pub mod report;

use crate::runner::{repo_root, stack_env_files, workspace_bin, Runner};
use crate::servers::{PgCluster, PgOptions, RedisOptions, RedisServer, TestDatabase};
use crate::TestEnv;
use faults::Faults;
use flow::{Ending, FlowClient, Record};
use redline_crypto::pii::BlindIndex;
use report::{Attempts, Instances, Registrations, Report};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A slot whose attempts keep being interrupted is given up after this many (then the report
/// says fewer flows completed than planned).
const MAX_ATTEMPTS_PER_FLOW: usize = 20;
/// A client whose flow an outage interrupted waits this long before its next attempt, as a
/// client backing off would (and so an outage does not burn through every flow at once).
const BACKOFF: Duration = Duration::from_millis(100);

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Flows that must complete.
    pub flows: usize,
    /// Clients running flows at once.
    pub clients: usize,
    pub pg_restarts: usize,
    pub redis_restarts: usize,
    /// How long each server stays down.
    pub down_for: Duration,
}

impl Plan {
    pub fn restarts(&self) -> usize {
        self.pg_restarts + self.redis_restarts
    }
}

/// Runs the soak: its own servers, database and runner, torn down at the end.
pub async fn run(plan: &Plan) -> Report {
    // Each instance holds a pooled connection; every client may have two requests in flight.
    let max_instances = 2 * plan.clients;
    let postgres =
        PgCluster::start(PgOptions::trust().with_max_connections(3 * max_instances as u32 + 20));
    let redis = RedisServer::start(RedisOptions::default());
    let db =
        TestDatabase::create_at(postgres.host(), postgres.port(), postgres.superuser(), None).await;
    let env = TestEnv::on(db, &[]).await;
    let unlimited = "1000000";
    let overrides = json!({
        "REDIS_URL": redis.url(),
        // One client IP sends every flow: the per-IP limits are not what is soaked.
        "REDLINE__RATE_LIMITS__CAPTCHA": unlimited,
        "REDLINE__RATE_LIMITS__LOGIN": unlimited,
        "REDLINE__RATE_LIMITS__REGISTER": unlimited,
        // A stopped server refuses connections at once; these bound a starved 2-core machine
        // (the test suite beside the soak), where 1 s is a false alarm, not an outage.
        "REDLINE__REDIS__CONNECT_TIMEOUT": "3s",
        "REDLINE__REDIS__RESPONSE_TIMEOUT": "3s",
    });
    let bin_dir = workspace_bin("auth")
        .parent()
        .expect("a directory")
        .to_path_buf();
    let mut runner = Runner::start(
        &repo_root().join("template.yaml"),
        &stack_env_files(&env, overrides),
        &bin_dir,
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
            "--max-instances",
            &max_instances.to_string(),
        ],
    );

    let start = Instant::now();
    let completed = Arc::new(AtomicUsize::new(0));
    let finished = Arc::new(AtomicBool::new(false));
    let faults = Faults {
        postgres,
        redis,
        schedule: faults::alternating(plan.pg_restarts, plan.redis_restarts),
        down_for: plan.down_for,
    };
    let fault_thread = {
        let (completed, finished, flows) = (completed.clone(), finished.clone(), plan.flows);
        tokio::task::spawn_blocking(move || faults.run(start, flows, completed, finished))
    };
    let (records, attempts) = run_clients(plan, runner.url(""), start, completed).await;
    let elapsed = start.elapsed();
    finished.store(true, Ordering::SeqCst);
    let (faults, windows) = fault_thread.await.expect("the fault thread ends");

    let mut exchanges = Vec::new();
    let mut refresh_pairs = Vec::new();
    let mut registered = Vec::new();
    for record in records {
        let offset = exchanges.len();
        exchanges.extend(record.exchanges);
        refresh_pairs.extend(
            record
                .refresh_pairs
                .into_iter()
                .map(|flow::RefreshPair(a, b)| flow::RefreshPair(a + offset, b + offset)),
        );
        registered.extend(record.registered);
    }
    let instances = instances(&mut runner).await;
    let registrations = registrations(&env, &registered).await;
    let config = env.config().expect("test configuration loads");
    let password = &config.auth.password;
    let report = Report {
        plan: plan.clone(),
        elapsed,
        attempts,
        exchanges,
        refresh_pairs,
        windows,
        registrations,
        instances,
        argon2: format!(
            "m={} KiB, t={}, p={} (configs/config.test.yaml)",
            password.memory_kib, password.iterations, password.parallelism
        ),
    };
    drop(runner);
    drop(env);
    drop(faults);
    report
}

/// `plan.clients` clients claiming flow slots until `plan.flows` completed; an interrupted
/// attempt is tried again (as a new user) by the client that holds the slot.
async fn run_clients(
    plan: &Plan,
    base: String,
    start: Instant,
    completed: Arc<AtomicUsize>,
) -> (Vec<Record>, Attempts) {
    let slots = Arc::new(AtomicUsize::new(plan.flows));
    let users = Arc::new(AtomicUsize::new(0));
    let clients: Vec<_> = (0..plan.clients)
        .map(|_| {
            let (slots, users, completed) = (slots.clone(), users.clone(), completed.clone());
            let mut client = FlowClient::new(base.clone(), start);
            tokio::spawn(async move {
                let mut attempts = Attempts::default();
                let claim = |n: usize| n.checked_sub(1);
                while slots
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, claim)
                    .is_ok()
                {
                    for _ in 0..MAX_ATTEMPTS_PER_FLOW {
                        let user = users.fetch_add(1, Ordering::SeqCst);
                        match client.run(user).await {
                            Ending::Completed => {
                                attempts.completed += 1;
                                completed.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            Ending::Interrupted => {
                                attempts.interrupted += 1;
                                tokio::time::sleep(BACKOFF).await;
                            }
                            Ending::Failed => {
                                attempts.failed += 1;
                                break;
                            }
                        }
                    }
                }
                (client.record, attempts)
            })
        })
        .collect();
    let mut records = Vec::new();
    let mut total = Attempts::default();
    for client in clients {
        let (record, attempts) = client.await.expect("a soak client ends");
        records.push(record);
        total.completed += attempts.completed;
        total.interrupted += attempts.interrupted;
        total.failed += attempts.failed;
    }
    (records, total)
}

/// Invocations by outcome and cold starts per function, from the runner's `/metrics`.
async fn instances(runner: &mut Runner) -> Instances {
    let metrics = runner.metrics().await;
    let mut instances = Instances {
        runner_alive: runner.is_running(),
        ..Instances::default()
    };
    for line in metrics.lines() {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<f64>() else {
            continue;
        };
        let labels = |series: &str| -> BTreeMap<String, String> {
            let inner = series.split_once('{').map(|(_, l)| l.trim_end_matches('}'));
            inner
                .unwrap_or_default()
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_string(), v.trim_matches('"').to_string()))
                .collect()
        };
        if series.starts_with("redline_local_invocations_total{") {
            let labels = labels(series);
            instances.invocations.insert(
                (labels["function"].clone(), labels["outcome"].clone()),
                value,
            );
        } else if series.starts_with("redline_local_cold_starts_total{") {
            instances
                .cold_starts
                .insert(labels(series)["function"].clone(), value);
        }
    }
    instances
}

/// Each registration answered 200, looked up by username with its e-mail's blind index (the
/// address itself is stored encrypted).
async fn registrations(env: &TestEnv, registered: &[(String, String)]) -> Registrations {
    let config = env.config().expect("test configuration loads");
    let index = BlindIndex::from_config(config.crypto.blind_index_key.as_ref())
        .expect("the test blind-index key");
    let client = env.db.connect().await;
    let rows = client
        .query("SELECT lower(username), email_index FROM users", &[])
        .await
        .expect("the accounts are readable");
    let mut accounts: BTreeMap<String, Vec<Vec<u8>>> = BTreeMap::new();
    for row in &rows {
        accounts.entry(row.get(0)).or_default().push(row.get(1));
    }
    let not_exactly_once = registered
        .iter()
        .filter(|(username, email)| {
            let wanted = index.index("email", &email.to_lowercase());
            accounts.get(&username.to_lowercase()) != Some(&vec![wanted])
        })
        .map(|(username, _)| username.clone())
        .collect();
    Registrations {
        answered_200: registered.len(),
        not_exactly_once,
        rows: rows.len(),
    }
}
