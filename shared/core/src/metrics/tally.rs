//! What one invocation adds up while it runs: domain events, dependency time and dependency
//! failures. The pipeline writes it into the invocation's EMF document.

use super::Metric;
use std::time::Duration;

#[derive(Debug, Default, Clone, PartialEq)]
pub struct Tally {
    counts: [u32; Metric::DURING_REQUEST.len()],
    db_ms: Option<f64>,
    cache_ms: Option<f64>,
}

impl Tally {
    pub fn count(&mut self, metric: Metric) {
        if let Some(slot) = Metric::DURING_REQUEST.iter().position(|m| *m == metric) {
            self.counts[slot] = self.counts[slot].saturating_add(1);
        } else {
            debug_assert!(false, "{metric:?} is not counted during a request");
        }
    }

    pub fn db(&mut self, took: Duration) {
        *self.db_ms.get_or_insert(0.0) += took.as_secs_f64() * 1000.0;
    }

    pub fn cache(&mut self, took: Duration) {
        *self.cache_ms.get_or_insert(0.0) += took.as_secs_f64() * 1000.0;
    }

    /// The metrics that happened, with their values, in catalogue order.
    pub fn happened(&self) -> impl Iterator<Item = (Metric, f64)> + '_ {
        let counted = Metric::DURING_REQUEST
            .iter()
            .zip(self.counts)
            .filter(|(_, n)| *n > 0)
            .map(|(m, n)| (*m, f64::from(n)));
        let timed = [
            (Metric::DbLatency, self.db_ms),
            (Metric::CacheLatency, self.cache_ms),
        ]
        .into_iter()
        .filter_map(|(m, ms)| ms.map(|ms| (m, ms)));
        counted.chain(timed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_happened_is_reported() {
        let mut tally = Tally::default();
        assert_eq!(tally.happened().count(), 0);
        tally.count(Metric::LoginFailed);
        tally.count(Metric::LoginFailed);
        tally.db(Duration::from_millis(2));
        tally.db(Duration::from_millis(3));
        let seen: Vec<(Metric, f64)> = tally.happened().collect();
        assert_eq!(
            seen,
            vec![(Metric::LoginFailed, 2.0), (Metric::DbLatency, 5.0)]
        );
    }
}
