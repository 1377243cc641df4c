//! Cryptography: randomness, password hashing, personal-data encryption and blind indexes.

pub mod password;
pub mod pii;
pub mod random;
pub mod smoke;

/// Constant-time equality of two byte strings (lengths may differ; that is not secret).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}
