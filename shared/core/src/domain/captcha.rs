//! Captchas in Redis: issue, check, consume, destroy after too many wrong guesses.

use crate::cache::{Cache, CacheError};
use crate::captcha_image;
use crate::config::CaptchaConfig;
use crate::crypto::{constant_time_eq, random};
use std::collections::HashMap;
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
                    ("code", code.as_str()),
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

    /// Checks `code`; a right code consumes the captcha, a wrong one counts as a guess.
    /// With `allowed_targets`, a bound captcha passes only if its binding is one of them.
    pub async fn check(
        &self,
        id: &str,
        code: &str,
        allowed_targets: Option<&[&str]>,
    ) -> Result<Result<(), CaptchaFailure>, CacheError> {
        let key = self.key(id);
        let stored: HashMap<String, String> =
            self.cache.query(redis::cmd("HGETALL").arg(&key)).await?;
        let (Some(expected), Some(expires)) = (stored.get("code"), stored.get("expires")) else {
            return Ok(Err(CaptchaFailure::Invalid));
        };
        if now_ms() >= expires.parse::<u64>().unwrap_or(0) {
            return Ok(Err(CaptchaFailure::Expired));
        }
        let bound = stored.get("target").map(String::as_str).unwrap_or("");
        if let Some(allowed) = allowed_targets.filter(|_| !bound.is_empty()) {
            if !allowed
                .iter()
                .any(|target| constant_time_eq(bound.as_bytes(), target.as_bytes()))
            {
                return Ok(Err(CaptchaFailure::Invalid));
            }
        }
        let matches = constant_time_eq(
            expected.to_ascii_uppercase().as_bytes(),
            code.trim().to_ascii_uppercase().as_bytes(),
        );
        if !matches {
            let guesses: u32 = self
                .cache
                .query(redis::cmd("HINCRBY").arg(&key).arg("guesses").arg(1))
                .await?;
            if guesses >= self.config.max_guesses {
                self.cache.query::<()>(redis::cmd("DEL").arg(&key)).await?;
            }
            return Ok(Err(CaptchaFailure::WrongCode));
        }
        // Consumption is the DEL itself: of two concurrent right answers only one deletes.
        let deleted: u32 = self.cache.query(redis::cmd("DEL").arg(&key)).await?;
        if deleted == 1 {
            Ok(Ok(()))
        } else {
            Ok(Err(CaptchaFailure::Invalid))
        }
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
            .query::<()>(
                redis::cmd("RPUSH")
                    .arg(self.cache.key("outbox"))
                    .arg(message.to_string()),
            )
            .await
    }
}
