//! The smoke account the traffic hooks test a new version with, derived from one generated
//! secret (`smoke.secret`) that only the hooks and `auth` can read: its username, its password,
//! and the key that signs a hook's direct invocations. A signature travels in the invocation's
//! client context, which only Lambda's `Invoke` can set (API Gateway never does), and covers the
//! request and a time, so it is good for one request for five minutes. (The context key is
//! `redline_core::http::request::SMOKE_CONTEXT_KEY`.)

use aws_lc_rs::hmac;

/// How far a signature's time may be from the verifier's clock.
const MAX_SKEW_SECONDS: u64 = 300;

pub struct SmokeAccount {
    pub username: String,
    pub password: String,
    signing: hmac::Key,
}

impl SmokeAccount {
    pub fn derive(secret: &str) -> Self {
        let root = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
        let part = |label: &str| hmac::sign(&root, label.as_bytes());
        let username = format!("smoke_{}", &hex(part("username").as_ref())[..16]);
        // A letter, a digit and no username in it: the contract's password rules.
        let password = format!("Sm0ke-{}", &hex(part("password").as_ref())[..32]);
        let signing = hmac::Key::new(hmac::HMAC_SHA256, part("invoke").as_ref());
        SmokeAccount {
            username,
            password,
            signing,
        }
    }

    /// `<unix seconds>.<hex HMAC>` over the time, the method, the path and the body.
    pub fn sign(&self, unix_seconds: u64, method: &str, path: &str, body: &[u8]) -> String {
        let tag = hmac::sign(&self.signing, &message(unix_seconds, method, path, body));
        format!("{unix_seconds}.{}", hex(tag.as_ref()))
    }

    /// Whether `signature` signs this request and is recent (constant-time comparison).
    pub fn verify(&self, signature: &str, now: u64, method: &str, path: &str, body: &[u8]) -> bool {
        let Some((time, tag)) = signature.split_once('.') else {
            return false;
        };
        let (Ok(time), Some(tag)) = (time.parse::<u64>(), unhex(tag)) else {
            return false;
        };
        if time.abs_diff(now) > MAX_SKEW_SECONDS {
            return false;
        }
        hmac::verify(&self.signing, &message(time, method, path, body), &tag).is_ok()
    }
}

fn message(unix_seconds: u64, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
    let body_digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, body);
    let mut message = format!("{unix_seconds}\n{method}\n{path}\n").into_bytes();
    message.extend_from_slice(hex(body_digest.as_ref()).as_bytes());
    message
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_account_is_derived_from_the_secret_alone() {
        let a = SmokeAccount::derive("s3cret-one");
        let b = SmokeAccount::derive("s3cret-one");
        let c = SmokeAccount::derive("s3cret-two");
        assert_eq!(
            (a.username.as_str(), a.password.as_str()),
            (b.username.as_str(), b.password.as_str())
        );
        assert_ne!(a.username, c.username);
        assert!(a.username.starts_with("smoke_") && a.username.len() == 22);
        assert!(a.password.len() == 38 && !a.password.contains(&a.username));
    }

    #[test]
    fn a_signature_holds_for_its_request_and_five_minutes_only() {
        let account = SmokeAccount::derive("s3cret-one");
        let signed = account.sign(1_000_000, "POST", "/api/v1/auth/login", b"{}");
        assert!(account.verify(&signed, 1_000_000, "POST", "/api/v1/auth/login", b"{}"));
        assert!(account.verify(&signed, 1_000_300, "POST", "/api/v1/auth/login", b"{}"));
        assert!(!account.verify(&signed, 1_000_301, "POST", "/api/v1/auth/login", b"{}"));
        assert!(!account.verify(&signed, 1_000_000, "POST", "/api/v1/auth/login", b"{ }"));
        assert!(!account.verify(&signed, 1_000_000, "POST", "/api/v1/auth/register", b"{}"));
        let other = SmokeAccount::derive("s3cret-two");
        assert!(!other.verify(&signed, 1_000_000, "POST", "/api/v1/auth/login", b"{}"));
        for forged in ["", "1000000", "1000000.zz", "x.00", "1000000.00"] {
            assert!(!account.verify(forged, 1_000_000, "POST", "/api/v1/auth/login", b"{}"));
        }
    }
}
