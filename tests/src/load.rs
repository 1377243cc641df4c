//! A steady load on the runner's HTTP API (port 3000) while a deployment is rehearsed, and the
//! answers counted two ways: by status as the clients saw them, and by the version that served
//! each, from the runner's per-request line (`answered <route> with <status> from <LogicalId>
//! version <N> in <ms> ms`). The rehearsal's promise is checked on the second: every answer from
//! a version that was already live succeeded.

use crate::runner::Runner;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Clients asking `paths` in turn, each with a pause between requests.
pub struct Load {
    stop: Arc<AtomicBool>,
    clients: Vec<JoinHandle<BTreeMap<u16, usize>>>,
}

/// One version of one function, as the runner names them (`AuthFunction`, `1`).
pub type Version = (String, String);

/// What the load saw.
#[derive(Debug)]
pub struct Seen {
    /// Answers by HTTP status, as the clients received them (0: no answer at all).
    pub by_status: BTreeMap<u16, usize>,
    /// Answers by the version that served them, and their status, from the runner's log.
    pub by_version: BTreeMap<(Version, u16), usize>,
}

impl Load {
    /// Starts `clients` clients on `runner`'s HTTP API, asking `paths` (GET) in turn and
    /// pausing `pause` after each answer.
    pub fn start(runner: &Runner, paths: &[&str], clients: usize, pause: Duration) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let urls: Vec<String> = paths.iter().map(|p| runner.url(p)).collect();
        let clients = (0..clients)
            .map(|n| {
                let (stop, urls) = (stop.clone(), urls.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    let mut by_status = BTreeMap::new();
                    let mut next = n;
                    while !stop.load(Ordering::Relaxed) {
                        let url = &urls[next % urls.len()];
                        next += 1;
                        let status = match http.get(url).send().await {
                            Ok(answer) => answer.status().as_u16(),
                            Err(_) => 0,
                        };
                        *by_status.entry(status).or_insert(0) += 1;
                        tokio::time::sleep(pause).await;
                    }
                    by_status
                })
            })
            .collect();
        Load { stop, clients }
    }

    /// Stops the clients and counts what they saw, and what the runner logged of it.
    pub async fn stop(self, runner: &Runner) -> Seen {
        self.stop.store(true, Ordering::Relaxed);
        let mut by_status = BTreeMap::new();
        for client in self.clients {
            for (status, count) in client.await.expect("a load client ends") {
                *by_status.entry(status).or_insert(0) += count;
            }
        }
        Seen {
            by_status,
            by_version: answers_by_version(&runner.log_text()),
        }
    }
}

/// The runner's per-request lines, counted by (function, version) and status.
pub fn answers_by_version(log: &str) -> BTreeMap<(Version, u16), usize> {
    let mut counts = BTreeMap::new();
    for line in log.lines() {
        let Some(rest) = line.split("redline-local: answered ").nth(1) else {
            continue;
        };
        // `<METHOD> <route> with <status> from <LogicalId> version <N> in <ms> ms`
        let Some((_, rest)) = rest.split_once(" with ") else {
            continue;
        };
        let words: Vec<&str> = rest.split_whitespace().collect();
        if let [status, "from", function, "version", version, ..] = words[..] {
            if let Ok(status) = status.parse::<u16>() {
                let key = ((function.to_string(), version.to_string()), status);
                *counts.entry(key).or_insert(0) += 1;
            }
        }
    }
    counts
}

impl Seen {
    /// Every answer the runner logged came to a client, and the other way round.
    pub fn total(&self) -> usize {
        self.by_status.values().sum()
    }

    /// How many answers `version` served, by whether they succeeded (2xx).
    pub fn served_by(&self, function: &str, version: &str) -> (usize, usize) {
        let mut counts = (0, 0);
        for (((f, v), status), count) in &self.by_version {
            if f == function && v == version {
                if (200..300).contains(status) {
                    counts.0 += count;
                } else {
                    counts.1 += count;
                }
            }
        }
        counts
    }

    /// Panics unless every answer from one of `live` (the versions live before the rehearsal)
    /// succeeded, and every request was answered and logged.
    pub fn assert_live_versions_succeeded(&self, live: &[(&str, &str)]) {
        let logged: usize = self.by_version.values().sum();
        assert!(self.total() > 0, "the load sent nothing");
        assert_eq!(
            self.by_status.get(&0),
            None,
            "requests without an answer: {self:?}"
        );
        assert_eq!(
            logged,
            self.total(),
            "answers logged ≠ answers seen: {self:?}"
        );
        for (function, version) in live {
            let (_, failed) = self.served_by(function, version);
            assert_eq!(
                failed, 0,
                "{function} version {version} was live before and failed {failed} answers: {self:?}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runners_lines_are_counted_by_version_and_status() {
        let log = "\
redline-local: answered GET /greeter/{action} with 200 from GreeterFunction version 1 in 1.2 ms
redline-local: answered GET /greeter/{action} with 200 from GreeterFunction version 1 in 0.9 ms
redline-local: answered GET /auth/{action} with 500 from AuthFunction version 2 in 3.0 ms
redline-local: deployment d-1: redline-local-auth:live sends 10 % to version 2
{\"level\":\"INFO\",\"message\":\"answered nothing\"}";
        let counts = answers_by_version(log);
        let key = |f: &str, v: &str, s: u16| ((f.to_string(), v.to_string()), s);
        assert_eq!(counts.get(&key("GreeterFunction", "1", 200)), Some(&2));
        assert_eq!(counts.get(&key("AuthFunction", "2", 500)), Some(&1));
        assert_eq!(counts.len(), 2);
    }
}
