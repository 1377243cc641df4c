//! Failed-login counters and locks in Redis, per account (or per unknown identifier).

use crate::cache::{Cache, CacheError};
use crate::config::LockoutConfig;
use crate::tokens::now_secs;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockState {
    pub locked: bool,
    pub unlock_time: u64,
    pub failed_attempts: u32,
}

pub struct Lockout<'a> {
    pub cache: &'a Cache,
    pub config: &'a LockoutConfig,
}

/// Counts one failure in a window fixed from the first; at the limit, locks and clears the
/// count so that after the lock expires counting starts from zero.
const RECORD_FAILURE: &str = r"
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if count >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
  redis.call('DEL', KEYS[1])
end
return count
";

impl Lockout<'_> {
    fn keys(&self, subject: &str) -> (String, String) {
        (
            self.cache.key(&format!("lock:fail:{subject}")),
            self.cache.key(&format!("lock:until:{subject}")),
        )
    }

    /// Read-only: lock status never changes a counter.
    pub async fn state(&self, subject: &str) -> Result<LockState, CacheError> {
        let (fail_key, until_key) = self.keys(subject);
        let (fails, until): (Option<u32>, Option<u64>) = self
            .cache
            .query(redis::cmd("MGET").arg(&fail_key).arg(&until_key))
            .await?;
        Ok(match until {
            Some(unlock_time) if unlock_time > now_secs() => LockState {
                locked: true,
                unlock_time,
                failed_attempts: self.config.max_attempts,
            },
            _ => LockState {
                locked: false,
                unlock_time: 0,
                failed_attempts: fails.unwrap_or(0),
            },
        })
    }

    pub async fn record_failure(&self, subject: &str) -> Result<u32, CacheError> {
        let (fail_key, until_key) = self.keys(subject);
        let unlock_time = now_secs() + self.config.duration.as_secs();
        let script = redis::Script::new(RECORD_FAILURE);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&fail_key)
            .key(&until_key)
            .arg(self.config.window.as_millis() as u64)
            .arg(self.config.max_attempts)
            .arg(unlock_time)
            .arg(self.config.duration.as_millis() as u64);
        self.cache.script(&invocation).await
    }

    pub async fn reset(&self, subject: &str) -> Result<(), CacheError> {
        let (fail_key, _) = self.keys(subject);
        self.cache.query(redis::cmd("DEL").arg(&fail_key)).await
    }
}
