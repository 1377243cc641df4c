//! What a soak saw, judged against its outage windows: every answer classified, the invariants
//! checked, and the figures printed as Markdown.

use super::faults::Window;
use super::flow::{Exchange, RefreshPair, Server, Step};
use super::Plan;
use std::collections::BTreeMap;
use std::fmt::{self, Display, Formatter, Write as _};
use std::time::Duration;

/// How one answer is judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// What the flow expected.
    Expected,
    /// 503 `SERVICE_UNAVAILABLE` while in flight during this window of a server the step needs.
    Outage(usize),
    /// 400 `CAPTCHA_INVALID` for a captcha asked for before a Redis restart erased it.
    ErasedCaptcha,
    /// Anything else: an invariant broke.
    Wrong(String),
}

/// Accounts in the database against the registrations answered 200.
#[derive(Debug, Default)]
pub struct Registrations {
    pub answered_200: usize,
    /// Registered usernames not found exactly once with their e-mail's blind index.
    pub not_exactly_once: Vec<String>,
    /// Every account row in the database (registrations answered 503 may have committed).
    pub rows: usize,
}

/// How the runner's function instances fared.
#[derive(Debug, Default)]
pub struct Instances {
    /// `redline_local_invocations_total` by (function, outcome).
    pub invocations: BTreeMap<(String, String), f64>,
    /// `redline_local_cold_starts_total` by function.
    pub cold_starts: BTreeMap<String, f64>,
    /// The runner itself was still running at the end.
    pub runner_alive: bool,
}

/// How each attempt at a flow ended.
#[derive(Debug, Default, Clone, Copy)]
pub struct Attempts {
    pub completed: usize,
    pub interrupted: usize,
    pub failed: usize,
}

pub struct Report {
    pub plan: Plan,
    pub elapsed: Duration,
    pub attempts: Attempts,
    pub exchanges: Vec<Exchange>,
    pub refresh_pairs: Vec<RefreshPair>,
    pub windows: Vec<Window>,
    pub registrations: Registrations,
    pub instances: Instances,
    /// The Argon2id parameters the functions hashed with.
    pub argon2: String,
}

impl Report {
    pub fn verdict(&self, exchange: &Exchange) -> Verdict {
        if let Some(wrong) = &exchange.wrong_body {
            return Verdict::Wrong(wrong.clone());
        }
        if exchange.as_expected {
            return Verdict::Expected;
        }
        let (from, to) = (exchange.sent, exchange.answered);
        if exchange.status == 503 && exchange.reason == "SERVICE_UNAVAILABLE" {
            let window = self
                .windows
                .iter()
                .position(|w| exchange.step.needs(w.server) && w.overlaps(from, to));
            return match window {
                Some(index) => Verdict::Outage(index),
                None => Verdict::Wrong(
                    "503 SERVICE_UNAVAILABLE outside every outage of a server it needs".into(),
                ),
            };
        }
        if exchange.status == 400 && exchange.reason == "CAPTCHA_INVALID" {
            if let Some(asked) = exchange.captcha_sent {
                let erased = self
                    .windows
                    .iter()
                    .any(|w| w.server == Server::Redis && w.overlaps(asked, to));
                if erased {
                    return Verdict::ErasedCaptcha;
                }
            }
        }
        match exchange.status {
            0 => Verdict::Wrong("no answer (connection error or hang)".into()),
            status => Verdict::Wrong(format!("unexpected {status} {}", exchange.reason)),
        }
    }

    /// Every broken invariant, one line each (wrong answers grouped by step and kind).
    pub fn violations(&self) -> Vec<String> {
        let mut violations = Vec::new();
        let mut wrong: BTreeMap<(Step, String), (usize, &Exchange)> = BTreeMap::new();
        for exchange in &self.exchanges {
            if let Verdict::Wrong(why) = self.verdict(exchange) {
                wrong.entry((exchange.step, why)).or_insert((0, exchange)).0 += 1;
            }
        }
        for ((step, why), (count, first)) in wrong {
            violations.push(format!(
                "{count} × {} answered {why} (first: flow {}, sent at {})",
                step.label(),
                first.flow,
                secs(first.sent)
            ));
        }
        let registrations = &self.registrations;
        if !registrations.not_exactly_once.is_empty() {
            violations.push(format!(
                "{} registrations answered 200 are not in the database exactly once: {:?}",
                registrations.not_exactly_once.len(),
                registrations.not_exactly_once
            ));
        }
        violations.extend(self.refresh_pair_violations());
        violations.extend(self.first_after_restart_violations());
        for ((function, outcome), count) in &self.instances.invocations {
            if outcome != "success" && *count > 0.0 {
                violations.push(format!("{function}: {count} invocations {outcome}"));
            }
        }
        if !self.instances.runner_alive {
            violations.push("the runner exited during the soak".into());
        }
        if self.attempts.completed != self.plan.flows {
            violations.push(format!(
                "{} of {} flows completed",
                self.attempts.completed, self.plan.flows
            ));
        }
        if self.windows.len() != self.plan.restarts() {
            violations.push(format!(
                "{} of {} restarts happened",
                self.windows.len(),
                self.plan.restarts()
            ));
        }
        violations
    }

    /// Exactly one of each pair wins; when an outage answered one of them, at most one.
    fn refresh_pair_violations(&self) -> Vec<String> {
        let mut violations = Vec::new();
        for RefreshPair(a, b) in &self.refresh_pairs {
            let pair = [&self.exchanges[*a], &self.exchanges[*b]];
            let wins = pair.iter().filter(|e| e.status == 200).count();
            let outage = pair
                .iter()
                .any(|e| matches!(self.verdict(e), Verdict::Outage(_)));
            if wins > 1 || (!outage && wins != 1) {
                violations.push(format!(
                    "refresh pair of flow {}: {} {} and {} {}",
                    pair[0].flow, pair[0].status, pair[0].reason, pair[1].status, pair[1].reason
                ));
            }
        }
        violations
    }

    /// The first request sent after a restart that needs the restarted server (not counting
    /// one that answers a captcha the restart erased).
    pub fn first_after(&self, window: &Window) -> Option<&Exchange> {
        self.exchanges
            .iter()
            .filter(|e| e.step.needs(window.server) && e.sent >= window.end)
            .filter(|e| self.verdict(e) != Verdict::ErasedCaptcha)
            .min_by_key(|e| e.sent)
    }

    fn first_after_restart_violations(&self) -> Vec<String> {
        let mut violations = Vec::new();
        for window in &self.windows {
            let server = window.server.label();
            match self.first_after(window) {
                None => violations.push(format!(
                    "nothing that needs {server} was sent after its restart at {}",
                    secs(window.end)
                )),
                Some(first) if self.verdict(first) != Verdict::Expected => {
                    violations.push(format!(
                    "the first request after {server} restarted ({}, sent at {}) answered {} {}",
                    first.step.label(),
                    secs(first.sent),
                    first.status,
                    first.reason
                ))
                }
                Some(_) => {}
            }
        }
        violations
    }

    /// From the server being ready to the first success of a request that needs it.
    fn time_to_first_success(&self, window: &Window) -> Option<Duration> {
        self.exchanges
            .iter()
            .filter(|e| e.step.needs(window.server) && e.sent >= window.end)
            .filter(|e| self.verdict(e) == Verdict::Expected)
            .map(|e| e.answered.saturating_sub(window.end))
            .min()
    }

    fn requests(&self) -> usize {
        self.exchanges.len()
    }
}

fn secs(offset: Duration) -> String {
    format!("{:.3} s", offset.as_secs_f64())
}

fn ms(duration: Duration) -> String {
    format!("{:.1}", duration.as_secs_f64() * 1000.0)
}

/// The `p`-th percentile (nearest rank) of sorted values.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((sorted.len() as f64) * p).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

impl Display for Report {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let plan = &self.plan;
        let seconds = self.elapsed.as_secs_f64();
        writeln!(
            f,
            "### {} flows, {} clients, {} PostgreSQL and {} Redis restarts ({} ms down each)\n",
            plan.flows,
            plan.clients,
            plan.pg_restarts,
            plan.redis_restarts,
            plan.down_for.as_millis()
        )?;
        writeln!(
            f,
            "{:.1} s; {:.1} completed flows/s; {} requests, {:.0} requests/s; Argon2id {}.",
            seconds,
            self.attempts.completed as f64 / seconds,
            self.requests(),
            self.requests() as f64 / seconds,
            self.argon2
        )?;
        let a = self.attempts;
        writeln!(
            f,
            "Attempts: {} completed, {} interrupted by an outage (tried again as a new user), {} failed.\n",
            a.completed, a.interrupted, a.failed
        )?;

        writeln!(f, "| step | answers | p50 ms | p90 ms | p99 ms | max ms |")?;
        writeln!(f, "|---|---|---|---|---|---|")?;
        for step in Step::ALL {
            let mut latencies: Vec<Duration> = self
                .exchanges
                .iter()
                .filter(|e| e.step == step && e.status != 0)
                .map(|e| e.answered - e.sent)
                .collect();
            if latencies.is_empty() {
                continue;
            }
            latencies.sort();
            writeln!(
                f,
                "| {} | {} | {} | {} | {} | {} |",
                step.label(),
                latencies.len(),
                ms(percentile(&latencies, 0.50)),
                ms(percentile(&latencies, 0.90)),
                ms(percentile(&latencies, 0.99)),
                ms(latencies[latencies.len() - 1])
            )?;
        }

        let mut answers: BTreeMap<(Step, u16, &str), usize> = BTreeMap::new();
        for e in &self.exchanges {
            *answers.entry((e.step, e.status, &e.reason)).or_default() += 1;
        }
        writeln!(f, "\n| step | status | reason | count |\n|---|---|---|---|")?;
        for ((step, status, reason), count) in answers {
            writeln!(f, "| {} | {status} | {reason} | {count} |", step.label())?;
        }

        writeln!(
            f,
            "\n| outage | from | ready at | 503s in it | first request after | time to first success |"
        )?;
        writeln!(f, "|---|---|---|---|---|---|")?;
        for (index, window) in self.windows.iter().enumerate() {
            let in_it = self
                .exchanges
                .iter()
                .filter(|e| self.verdict(e) == Verdict::Outage(index))
                .count();
            let first = match self.first_after(window) {
                Some(e) => format!("{} → {} {}", e.step.label(), e.status, e.reason)
                    .trim_end()
                    .to_string(),
                None => "none".into(),
            };
            let success = self
                .time_to_first_success(window)
                .map(|d| format!("{} ms", ms(d)))
                .unwrap_or_else(|| "never".into());
            writeln!(
                f,
                "| {} | {} | {} | {in_it} | {first} | {success} |",
                window.server.label(),
                secs(window.start),
                secs(window.end)
            )?;
        }

        let erased = self
            .exchanges
            .iter()
            .filter(|e| self.verdict(e) == Verdict::ErasedCaptcha)
            .count();
        let pairs = self.refresh_pairs.len();
        let clean = self
            .refresh_pairs
            .iter()
            .filter(|RefreshPair(a, b)| {
                let statuses = [self.exchanges[*a].status, self.exchanges[*b].status];
                statuses.contains(&200) && statuses.contains(&401)
            })
            .count();
        let r = &self.registrations;
        let mut instances = String::new();
        for ((function, outcome), count) in &self.instances.invocations {
            let _ = write!(instances, "{function} {outcome} {count}; ");
        }
        for (function, count) in self.instances.cold_starts.iter().filter(|(_, n)| **n > 0.0) {
            let _ = write!(instances, "{function} cold starts {count}; ");
        }
        writeln!(
            f,
            "\nRegistrations answered 200: {}, each in the database exactly once: {}; account rows: {} \
             (a registration answered 503 may have committed).  \n\
             Refresh pairs: {pairs}, one 200 and one 401 REFRESH_TOKEN_REUSED: {clean}.  \n\
             Captchas erased by a Redis restart before their use: {erased}.  \n\
             Instances: {}runner alive at the end: {}.",
            r.answered_200,
            r.answered_200 - r.not_exactly_once.len(),
            r.rows,
            instances,
            self.instances.runner_alive
        )?;

        let violations = self.violations();
        if violations.is_empty() {
            writeln!(f, "\nEvery invariant held.")
        } else {
            writeln!(f, "\nBroken invariants:")?;
            for violation in violations {
                writeln!(f, "- {violation}")?;
            }
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn exchange(step: Step, sent: u64, answered: u64, status: u16, reason: &str) -> Exchange {
        Exchange {
            flow: 0,
            step,
            sent: ms(sent),
            answered: ms(answered),
            status,
            reason: reason.into(),
            captcha_sent: None,
            as_expected: status == 200,
            wrong_body: None,
        }
    }

    /// A report with one PostgreSQL outage [100, 200] ms and one Redis outage [300, 400] ms.
    fn report(exchanges: Vec<Exchange>) -> Report {
        let window = |server, start, end| Window {
            server,
            start: ms(start),
            end: ms(end),
        };
        Report {
            plan: Plan {
                flows: 0,
                clients: 1,
                pg_restarts: 1,
                redis_restarts: 1,
                down_for: ms(50),
            },
            elapsed: ms(500),
            attempts: Attempts::default(),
            exchanges,
            refresh_pairs: Vec::new(),
            windows: vec![
                window(Server::Postgres, 100, 200),
                window(Server::Redis, 300, 400),
            ],
            registrations: Registrations::default(),
            instances: Instances {
                runner_alive: true,
                ..Instances::default()
            },
            argon2: String::new(),
        }
    }

    const UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";

    #[test]
    fn a_503_counts_only_in_flight_during_an_outage_of_a_server_the_step_needs() {
        let report = report(vec![]);
        let verdict = |e: Exchange| report.verdict(&e);
        assert_eq!(
            verdict(exchange(Step::Login, 90, 110, 503, UNAVAILABLE)),
            Verdict::Outage(0)
        );
        assert_eq!(
            verdict(exchange(Step::Captcha, 350, 351, 503, UNAVAILABLE)),
            Verdict::Outage(1)
        );
        // After readiness; a captcha during a PostgreSQL outage (it needs only Redis); a refresh
        // during a Redis outage (it needs only PostgreSQL); a 500; no answer.
        for wrong in [
            exchange(Step::Login, 201, 210, 503, UNAVAILABLE),
            exchange(Step::Captcha, 150, 151, 503, UNAVAILABLE),
            exchange(Step::Refresh, 350, 351, 503, UNAVAILABLE),
            exchange(Step::Login, 150, 160, 500, "INTERNAL"),
            exchange(Step::Login, 150, 160, 503, "INTERNAL"),
            exchange(Step::Login, 150, 160, 0, ""),
        ] {
            assert!(
                matches!(verdict(wrong.clone()), Verdict::Wrong(_)),
                "{wrong:?}"
            );
        }
    }

    #[test]
    fn only_a_captcha_asked_for_before_a_redis_restart_may_be_gone() {
        let report = report(vec![]);
        let mut erased = exchange(Step::Register, 410, 420, 400, "CAPTCHA_INVALID");
        erased.captcha_sent = Some(ms(290));
        assert_eq!(report.verdict(&erased), Verdict::ErasedCaptcha);
        let mut fresh = erased.clone();
        fresh.captcha_sent = Some(ms(405));
        assert!(matches!(report.verdict(&fresh), Verdict::Wrong(_)));
    }

    #[test]
    fn the_first_request_after_a_restart_must_succeed() {
        let report = report(vec![
            exchange(Step::Captcha, 150, 151, 200, ""),
            exchange(Step::Login, 205, 215, 503, UNAVAILABLE),
            exchange(Step::Login, 210, 220, 200, ""),
            exchange(Step::Captcha, 401, 402, 200, ""),
        ]);
        let violations = report.violations();
        assert!(
            violations
                .iter()
                .any(|v| v.starts_with("the first request after PostgreSQL restarted")),
            "{violations:?}"
        );
    }

    #[test]
    fn exactly_one_refresh_of_a_pair_wins() {
        let mut report = report(vec![
            exchange(Step::Refresh, 10, 20, 200, ""),
            exchange(Step::Refresh, 10, 20, 200, ""),
            exchange(Step::Login, 201, 202, 200, ""),
            exchange(Step::Captcha, 401, 402, 200, ""),
        ]);
        report.refresh_pairs = vec![RefreshPair(0, 1)];
        assert_eq!(
            report.violations(),
            ["refresh pair of flow 0: 200  and 200 "],
            "only the pair is wrong"
        );
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&values, 0.5), Duration::from_millis(50));
        assert_eq!(percentile(&values, 0.99), Duration::from_millis(99));
        assert_eq!(percentile(&values[..1], 0.9), Duration::from_millis(1));
    }
}
