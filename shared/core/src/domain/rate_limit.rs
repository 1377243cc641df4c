//! Fixed 60-second windows per route group and client IP, in Redis.

use crate::cache::{Cache, CacheError};
use crate::tokens::now_secs;

const WINDOW_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the window ends.
    pub reset: u64,
}

impl RateDecision {
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        vec![
            ("x-ratelimit-limit", self.limit.to_string()),
            ("x-ratelimit-remaining", self.remaining.to_string()),
            ("x-ratelimit-reset", self.reset.to_string()),
        ]
    }
}

pub async fn check(
    cache: &Cache,
    group: &str,
    client_ip: &str,
    limit: u32,
) -> Result<RateDecision, CacheError> {
    let now = now_secs();
    let window = now / WINDOW_SECS;
    let reset = WINDOW_SECS - now % WINDOW_SECS;
    let key = cache.key(&format!("rate:{group}:{client_ip}:{window}"));
    let mut pipe = redis::pipe();
    pipe.atomic()
        .incr(&key, 1)
        .expire(&key, (WINDOW_SECS + 5) as i64)
        .ignore();
    let (count,): (u64,) = cache.pipeline(&pipe).await?;
    Ok(RateDecision {
        allowed: count <= u64::from(limit),
        limit,
        remaining: u64::from(limit).saturating_sub(count) as u32,
        reset,
    })
}
