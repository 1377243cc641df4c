//! The auth area's own domain: captchas, refresh-token families, TOTP and rate limits. The parts
//! shared with `users` (accounts, identity, lockout, revocations) are `redline-accounts`.

pub mod captcha;
pub mod login;
pub mod rate_limit;
pub mod recovery;
pub mod sessions;
pub mod totp;
