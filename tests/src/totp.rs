//! TOTP codes as an authenticator app computes them (RFC 6238, SHA-1, 6 digits, 30 s).

/// The code for `secret_b32` at `unix_seconds`.
pub fn code_at(secret_b32: &str, unix_seconds: u64) -> String {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(totp_rs::Secret::try_from_base32(secret_b32).unwrap())
        .build()
        .unwrap()
        .generate(unix_seconds)
        .to_string()
}

/// The code `steps_ahead` 30-second steps from now.
pub fn code_now(secret_b32: &str, steps_ahead: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    code_at(secret_b32, now + 30 * steps_ahead)
}
