//! The auth domain: accounts, sessions, captchas, lockout, rate limits, revocations, TOTP.

pub mod accounts;
pub mod captcha;
pub mod identity;
pub mod lockout;
pub mod rate_limit;
pub mod revocations;
pub mod sessions;
pub mod totp;
