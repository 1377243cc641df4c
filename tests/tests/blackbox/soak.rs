//! The soak under faults, small: flows through the runner while the soak's own PostgreSQL and
//! Redis are each stopped and restarted once; every invariant of `scripts/soak.sh` must hold.

use redline_tests::soak::{self, Plan};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread")]
async fn auth_flows_keep_their_promises_while_postgres_and_redis_restart() {
    let plan = Plan {
        flows: 40,
        clients: 8,
        pg_restarts: 1,
        redis_restarts: 1,
        down_for: Duration::from_secs(1),
    };
    let report = soak::run(&plan).await;
    eprintln!("{report}");
    assert_eq!(report.windows.len(), 2, "both restarts happened");
    assert!(
        report.attempts.interrupted > 0,
        "the outages interrupted flows (the soak really ran under faults)"
    );
    let violations = report.violations();
    assert!(violations.is_empty(), "broken invariants:\n{report}");
}
