//! Fixed 60-second windows per route group and client IP, in Redis.

use redline_core::clock::now_secs;
use redline_core::http::RateDecision;
use redline_stores::cache::{Cache, CacheError};

const WINDOW_SECS: u64 = 60;

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
