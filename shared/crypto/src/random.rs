//! CSPRNG helpers over aws-lc's random generator.

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

pub fn bytes<const N: usize>() -> [u8; N] {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .expect("the system random generator is available");
    out
}

/// 128 random bits as 32 lowercase hex characters: ids of captchas, tokens and families.
pub fn id128() -> String {
    bytes::<16>().iter().map(|b| format!("{b:02x}")).collect()
}

/// `length` characters drawn uniformly from `alphabet` (rejection sampling, no modulo bias).
pub fn code(alphabet: &[u8], length: usize) -> String {
    assert!(!alphabet.is_empty() && alphabet.len() <= 256);
    let limit = 256 - (256 % alphabet.len());
    let mut out = String::with_capacity(length);
    while out.len() < length {
        for byte in bytes::<32>() {
            if (byte as usize) < limit && out.len() < length {
                out.push(alphabet[byte as usize % alphabet.len()] as char);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_only_the_alphabet() {
        let code = code(b"0123456789", 6);
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn ids_are_128_bits_and_distinct() {
        let (a, b) = (id128(), id128());
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }
}
