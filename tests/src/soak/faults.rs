//! The faults: the soak's own PostgreSQL cluster and Redis server stopped and started again,
//! spread over the run by progress (completed flows), each outage's window recorded from the
//! moment the stop is issued until the server is confirmed ready again.

use super::flow::Server;
use crate::servers::{PgCluster, RedisServer};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One outage: offsets from the soak's start.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub server: Server,
    /// The stop was issued.
    pub start: Duration,
    /// The restarted server accepts connections (`pg_ctl start -w` returned; Redis's port is
    /// open, and a Redis restarted empty has nothing to load).
    pub end: Duration,
}

impl Window {
    /// Whether [from, to] overlaps the window.
    pub fn overlaps(&self, from: Duration, to: Duration) -> bool {
        from <= self.end && to >= self.start
    }
}

/// The servers and when to fail them.
pub struct Faults {
    pub postgres: PgCluster,
    pub redis: RedisServer,
    /// Alternating PostgreSQL first, one after each equal share of the flows.
    pub schedule: Vec<Server>,
    /// How long each server stays down.
    pub down_for: Duration,
}

impl Faults {
    /// Runs the schedule on this thread (stopping and starting block): fault `k` of `n` once
    /// `k+1` shares of `flows / (n+1)` flows completed, or not at all once `finished` is set.
    /// Gives the servers back (the report still reads the database) with the windows.
    pub fn run(
        mut self,
        start: Instant,
        flows: usize,
        completed: Arc<AtomicUsize>,
        finished: Arc<AtomicBool>,
    ) -> (Faults, Vec<Window>) {
        let mut windows = Vec::new();
        let count = self.schedule.len();
        for (k, server) in self.schedule.clone().into_iter().enumerate() {
            let threshold = flows * (k + 1) / (count + 1);
            while completed.load(Ordering::SeqCst) < threshold {
                if finished.load(Ordering::SeqCst) {
                    return (self, windows);
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let window_start = start.elapsed();
            match server {
                Server::Postgres => self.postgres.stop(),
                Server::Redis => self.redis.stop(),
            }
            std::thread::sleep(self.down_for);
            match server {
                Server::Postgres => self.postgres.start_again(),
                Server::Redis => self.redis.start_again(),
            }
            windows.push(Window {
                server,
                start: window_start,
                end: start.elapsed(),
            });
        }
        (self, windows)
    }
}

/// `pg` PostgreSQL and `redis` Redis restarts, alternating, PostgreSQL first.
pub fn alternating(pg: usize, redis: usize) -> Vec<Server> {
    let mut schedule = Vec::new();
    for k in 0..pg.max(redis) {
        if k < pg {
            schedule.push(Server::Postgres);
        }
        if k < redis {
            schedule.push(Server::Redis);
        }
    }
    schedule
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restarts_alternate_and_the_rest_follow() {
        use Server::*;
        assert_eq!(alternating(1, 1), [Postgres, Redis]);
        assert_eq!(alternating(2, 1), [Postgres, Redis, Postgres]);
        assert_eq!(alternating(0, 2), [Redis, Redis]);
    }

    #[test]
    fn a_request_in_flight_across_an_edge_overlaps() {
        let ms = Duration::from_millis;
        let window = Window {
            server: Server::Redis,
            start: ms(100),
            end: ms(200),
        };
        assert!(window.overlaps(ms(50), ms(100)));
        assert!(window.overlaps(ms(150), ms(160)));
        assert!(window.overlaps(ms(200), ms(250)));
        assert!(!window.overlaps(ms(201), ms(250)));
        assert!(!window.overlaps(ms(10), ms(99)));
    }
}
