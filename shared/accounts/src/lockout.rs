//! Failed-login counters and locks in Redis, per account (or per unknown identifier).

use redline_core::clock::now_secs;
use redline_core::config::LockoutConfig;
use redline_stores::cache::{Cache, CacheError};

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

/// The outcome of reserving a password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// Locked already: answer 403, verify nothing.
    Locked { unlock_time: u64 },
    /// Counted as a failure in advance. `engaged_lock` when this attempt reached the limit and
    /// locked the subject: if it then succeeds, the lock is lifted again.
    Counted { engaged_lock: bool },
}

/// Reserves one attempt atomically, before the password is checked: concurrent requests (one
/// per Lambda instance) cannot get more than `max_attempts` checks between them. The count runs
/// in a window fixed from the first failure; at the limit the subject locks and the count is
/// cleared, so after the lock expires counting starts from zero.
/// KEYS: fail counter, lock. ARGV: window ms, max attempts, unlock time s, duration ms, now s.
const BEGIN: &str = r"
local locked = redis.call('GET', KEYS[2])
if locked and tonumber(locked) > tonumber(ARGV[5]) then return {1, tonumber(locked)} end
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
if count >= tonumber(ARGV[2]) then
  redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[4])
  redis.call('DEL', KEYS[1])
  return {2, count}
end
return {0, count}
";

/// Gives back an attempt that must not count (it ended in something other than a 401).
/// KEYS: fail counter, lock. ARGV: engaged (0/1), max attempts, window ms.
const GIVE_BACK: &str = r"
if ARGV[1] == '1' then
  redis.call('DEL', KEYS[2])
  local restored = tonumber(ARGV[2]) - 1
  if restored > 0 then redis.call('SET', KEYS[1], restored, 'PX', ARGV[3]) end
  return 1
end
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end
return 0
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

    pub async fn begin(&self, subject: &str) -> Result<Attempt, CacheError> {
        let (fail_key, until_key) = self.keys(subject);
        let now = now_secs();
        let script = redis::Script::new(BEGIN);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&fail_key)
            .key(&until_key)
            .arg(self.config.window.as_millis() as u64)
            .arg(self.config.max_attempts)
            .arg(now + self.config.duration.as_secs())
            .arg(self.config.duration.as_millis() as u64)
            .arg(now);
        // Retried on a broken connection: at worst one failure counted twice, never fewer.
        let (kind, value): (u8, u64) = self.cache.script(&invocation).await?;
        Ok(match kind {
            1 => Attempt::Locked { unlock_time: value },
            2 => Attempt::Counted { engaged_lock: true },
            _ => Attempt::Counted {
                engaged_lock: false,
            },
        })
    }

    /// The password was right: the count starts again, and a lock this attempt set is lifted.
    pub async fn succeeded(&self, subject: &str, attempt: Attempt) -> Result<(), CacheError> {
        let (fail_key, until_key) = self.keys(subject);
        let mut command = redis::cmd("DEL");
        command.arg(&fail_key);
        if attempt == (Attempt::Counted { engaged_lock: true }) {
            command.arg(&until_key);
        }
        self.cache.query(&command).await
    }

    /// The attempt ended without a 401 (TOTP code missing, a dependency failed): uncount it.
    pub async fn give_back(&self, subject: &str, attempt: Attempt) -> Result<(), CacheError> {
        let Attempt::Counted { engaged_lock } = attempt else {
            return Ok(());
        };
        let (fail_key, until_key) = self.keys(subject);
        let script = redis::Script::new(GIVE_BACK);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(&fail_key)
            .key(&until_key)
            .arg(u8::from(engaged_lock))
            .arg(self.config.max_attempts)
            .arg(self.config.window.as_millis() as u64);
        self.cache.script_once::<u8>(&invocation).await.map(|_| ())
    }
}
