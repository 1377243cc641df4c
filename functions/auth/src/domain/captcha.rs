//! Captchas in Redis: issue, check, consume, destroy after too many wrong guesses.

use redline_captcha as captcha_image;
use redline_core::config::CaptchaConfig;
use redline_core::metrics::{self, Metric};
use redline_crypto::random;
use redline_stores::cache::{Cache, CacheError};
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptchaKind {
    Image,
    Sms,
    Email,
}

impl CaptchaKind {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "image" => Some(CaptchaKind::Image),
            "sms" => Some(CaptchaKind::Sms),
            "email" => Some(CaptchaKind::Email),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CaptchaKind::Image => "image",
            CaptchaKind::Sms => "sms",
            CaptchaKind::Email => "email",
        }
    }
}

/// Why a presented captcha did not pass.
#[derive(Debug, PartialEq, Eq)]
pub enum CaptchaFailure {
    /// Unknown, consumed, destroyed, or bound to another target.
    Invalid,
    Expired,
    /// Counted as a guess.
    WrongCode,
}

/// Redis compares digests, not codes: equality of SHA-256 digests reveals nothing useful about
/// the code through timing. Codes compare ignoring ASCII case.
fn code_digest(id: &str, code: &str) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    context.update(id.as_bytes());
    context.update(b":");
    context.update(code.trim().to_ascii_uppercase().as_bytes());
    context
        .finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// KEYS[1] the captcha; ARGV: now (ms), digest, max guesses, check binding (0/1), targets...
const CHECK: &str = r"
local c = redis.call('HMGET', KEYS[1], 'digest', 'expires', 'target')
if not c[1] then return 'invalid' end
if tonumber(ARGV[1]) >= tonumber(c[2]) then return 'expired' end
local bound = c[3] or ''
if bound ~= '' and ARGV[4] == '1' then
  local allowed = false
  for i = 5, #ARGV do
    if ARGV[i] == bound then allowed = true end
  end
  if not allowed then return 'invalid' end
end
if c[1] == ARGV[2] then
  redis.call('DEL', KEYS[1])
  return 'ok'
end
if redis.call('HINCRBY', KEYS[1], 'guesses', 1) >= tonumber(ARGV[3]) then
  redis.call('DEL', KEYS[1])
end
return 'wrong'
";

pub struct Issued {
    pub id: String,
    pub code: String,
}

pub struct Captchas<'a> {
    pub cache: &'a Cache,
    pub config: &'a CaptchaConfig,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Captchas<'_> {
    fn key(&self, id: &str) -> String {
        self.cache.key(&format!("captcha:{id}"))
    }

    /// Stores a new captcha. `target_index` binds sms/email captchas to one address (a blind
    /// index, so Redis holds no personal data).
    pub async fn issue(
        &self,
        kind: CaptchaKind,
        target_index: Option<&str>,
    ) -> Result<Issued, CacheError> {
        let id = random::id128();
        let code = match (&self.config.fixed_code, kind) {
            (Some(fixed), _) => fixed.expose().to_string(),
            (None, CaptchaKind::Image) => random::code(captcha_image::CODE_ALPHABET, 6),
            (None, _) => random::code(b"0123456789", 6),
        };
        let expires = now_ms() + self.config.ttl.as_millis() as u64;
        let keep = self.config.ttl + self.config.expired_retention;
        let key = self.key(&id);
        let mut pipe = redis::pipe();
        pipe.atomic()
            .hset_multiple(
                &key,
                &[
                    ("digest", code_digest(&id, &code).as_str()),
                    ("kind", kind.name()),
                    ("target", target_index.unwrap_or("")),
                    ("expires", &expires.to_string()),
                ],
            )
            .ignore()
            .pexpire(&key, keep.as_millis() as i64)
            .ignore();
        self.cache.pipeline::<()>(&pipe).await?;
        Ok(Issued { id, code })
    }

    /// Checks `code` in one atomic step: a right code consumes the captcha, a wrong one counts
    /// as a guess and the last allowed guess destroys it, however many requests race.
    /// With `allowed_targets`, a bound captcha passes only if its binding is one of them.
    pub async fn check(
        &self,
        id: &str,
        code: &str,
        allowed_targets: Option<&[&str]>,
    ) -> Result<Result<(), CaptchaFailure>, CacheError> {
        let script = redis::Script::new(CHECK);
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.key(id))
            .arg(now_ms())
            .arg(code_digest(id, code))
            .arg(self.config.max_guesses)
            .arg(u8::from(allowed_targets.is_some()));
        for target in allowed_targets.unwrap_or_default() {
            invocation.arg(*target);
        }
        // Not retried: a lost reply must not turn a consumed right answer into "invalid".
        let verdict: String = self.cache.script_once(&invocation).await?;
        let outcome = match verdict.as_str() {
            "ok" => Ok(()),
            "expired" => Err(CaptchaFailure::Expired),
            "wrong" => Err(CaptchaFailure::WrongCode),
            _ => Err(CaptchaFailure::Invalid),
        };
        if outcome.is_err() {
            metrics::count(Metric::CaptchaFailed);
        }
        Ok(outcome)
    }

    /// Hands an sms/email code to the development outbox (a Redis list).
    pub async fn deliver_to_outbox(
        &self,
        kind: CaptchaKind,
        target: &str,
        issued: &Issued,
    ) -> Result<(), CacheError> {
        let message = serde_json::json!({
            "channel": kind.name(),
            "target": target,
            "captcha_id": issued.id,
            "code": issued.code,
            "at": now_ms() / 1000,
        });
        self.cache
            .query_once::<()>(
                redis::cmd("RPUSH")
                    .arg(self.cache.key("outbox"))
                    .arg(message.to_string()),
            )
            .await
    }
}
