//! Request ids and the clock for the events and invocations the runner makes. Not security material: ids only need
//! to be unique, so std's randomly keyed hasher is enough.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    hasher.write_u128(now_ns());
    hasher.finish()
}

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

pub fn now_ms() -> u64 {
    (now_ns() / 1_000_000) as u64
}

/// `digits` random lower-case hexadecimal digits (trace ids).
pub fn hex(digits: usize) -> String {
    let mut out = String::with_capacity(digits + 16);
    while out.len() < digits {
        out.push_str(&format!("{:016x}", random_u64()));
    }
    out.truncate(digits);
    out
}

/// A draw uniform in [0, 1): which version of a weighted alias answers. 53 random bits, the
/// precision of an f64 mantissa, so every value is equally likely.
pub fn unit() -> f64 {
    (random_u64() >> 11) as f64 / (1u64 << 53) as f64
}

/// A version-4-shaped UUID, as Lambda and API Gateway request ids look.
pub fn uuid() -> String {
    let (a, b) = (random_u64(), random_u64());
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | (b >> 48) & 0x3fff,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_are_shaped_and_distinct() {
        let (a, b) = (uuid(), uuid());
        assert_ne!(a, b);
        let parts: Vec<usize> = a.split('-').map(str::len).collect();
        assert_eq!(parts, vec![8, 4, 4, 4, 12]);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn draws_are_in_the_unit_interval_and_spread() {
        let draws: Vec<f64> = (0..1000).map(|_| unit()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)));
        let low = draws.iter().filter(|d| **d < 0.5).count();
        // Binomial(1000, 0.5): 6 standard deviations either side.
        assert!((405..=595).contains(&low), "{low}");
    }

    #[test]
    fn hex_has_the_length_asked() {
        for digits in [0, 16, 24, 40] {
            let h = hex(digits);
            assert_eq!(h.len(), digits);
            assert!(h
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        }
        assert_ne!(hex(24), hex(24));
    }
}
