//! RFC 6238 TOTP (SHA-1, 30 s, 6 digits, ±1 step); each code is accepted once.

use redline_core::clock::now_secs;
use redline_crypto::random;
use redline_stores::cache::{Cache, CacheError};
use totp_rs::{Algorithm, Builder, Totp};

const STEP: u64 = 30;

fn totp(secret: &[u8], issuer: &str, account: &str) -> Option<Totp> {
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(STEP)
        .with_secret(secret.to_vec())
        .with_issuer(Some(issuer))
        .with_account_name(account)
        .build()
        .ok()
}

/// A new 160-bit secret.
pub fn new_secret() -> Vec<u8> {
    random::bytes::<20>().to_vec()
}

pub fn base32(secret: &[u8]) -> String {
    totp_rs::Secret::from(secret.to_vec()).to_base32()
}

pub fn otpauth_url(secret: &[u8], issuer: &str, account: &str) -> Option<String> {
    totp(secret, issuer, account).and_then(|t| t.to_url().ok())
}

/// The time step whose code equals `code` (within ±1 step of now), if any.
pub fn matching_step(secret: &[u8], code: &str, now: u64) -> Option<u64> {
    // The library compares tokens in constant time and returns the matched step.
    totp(secret, "redline", "user")?.check(code.trim(), now)
}

/// Accepts a step only if it is newer than the last one used: no code works twice.
const CLAIM_STEP: &str = r"
local last = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) <= last then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
";

/// Verifies `code` for `user_id` and burns its step. `Ok(false)` for a wrong or replayed code.
/// Steps are burnt per secret: a new secret (re-enabled, replaced) starts with its own history.
pub async fn verify_once(
    cache: &Cache,
    user_id: i64,
    secret: &[u8],
    code: &str,
) -> Result<bool, CacheError> {
    let Some(step) = matching_step(secret, code, now_secs()) else {
        return Ok(false);
    };
    let script = redis::Script::new(CLAIM_STEP);
    let mut invocation = script.prepare_invoke();
    invocation
        .key(cache.key(&format!("totp:last:{user_id}:{}", fingerprint(secret))))
        .arg(step)
        .arg(STEP * 4);
    // Not retried: a lost reply would make the second run see its own step as a replay.
    let claimed: i32 = cache.script_once(&invocation).await?;
    Ok(claimed == 1)
}

/// 64 bits of the secret's SHA-256: names its step history without revealing it.
fn fingerprint(secret: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret);
    super::login::hex(&digest.as_ref()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_adjacent_steps_only() {
        let secret = b"12345678901234567890".to_vec();
        let generator = totp(&secret, "redline", "user").unwrap();
        let now = 1_700_000_000;
        let code_now = generator.generate(now).to_string();
        assert_eq!(matching_step(&secret, &code_now, now), Some(now / STEP));
        let code_prev = generator.generate(now - STEP).to_string();
        assert_eq!(
            matching_step(&secret, &code_prev, now),
            Some(now / STEP - 1)
        );
        let code_old = generator.generate(now - 3 * STEP).to_string();
        assert_eq!(matching_step(&secret, &code_old, now), None);
    }

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B, T = 59: 94287082 (8 digits); the 6-digit code is its tail.
        let secret = b"12345678901234567890".to_vec();
        let generator = totp(&secret, "redline", "user").unwrap();
        assert_eq!(generator.generate(59).to_string(), "287082");
    }

    #[test]
    fn url_names_issuer_and_account() {
        let url = otpauth_url(&new_secret(), "redline", "alice").unwrap();
        assert!(url.starts_with("otpauth://totp/redline:alice?"));
        assert!(url.contains("issuer=redline"));
    }
}
