//! TOTP recovery codes: ten per enablement, 80 random bits each, shown once and kept only as a
//! SHA-256 digest bound to the account. Using one deletes it (see `TotpFactor`).

use aws_lc_rs::digest;
use redline_crypto::random;

/// How many codes an enablement hands out.
pub const COUNT: usize = 10;

/// Lowercase letters and digits without the look-alikes 0/o, 1/l/i: read off paper, typed back.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// 16 characters of a 31-letter alphabet: 79 bits, searched by nobody from a digest.
const LENGTH: usize = 16;
const GROUP: usize = 4;

/// A fresh set: what the client sees (grouped `xxxx-xxxx-xxxx-xxxx`) and what is stored.
pub fn issue(user_id: i64) -> (Vec<String>, Vec<Vec<u8>>) {
    (0..COUNT)
        .map(|_| {
            let code = random::code(ALPHABET, LENGTH);
            let digest = digest_of(user_id, &code);
            (grouped(&code), digest)
        })
        .unzip()
}

/// The stored digest of what a client typed, if it can be a code at all: case, spaces and dashes
/// are forgiven.
pub fn digest_typed(user_id: i64, typed: &str) -> Option<Vec<u8>> {
    let code: String = typed
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    let valid = code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b));
    valid.then(|| digest_of(user_id, &code))
}

/// The account id is hashed in, so one user's code is never another's.
fn digest_of(user_id: i64, code: &str) -> Vec<u8> {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(b"redline-totp-recovery\0");
    context.update(&user_id.to_be_bytes());
    context.update(code.as_bytes());
    context.finish().as_ref().to_vec()
}

fn grouped(code: &str) -> String {
    code.as_bytes()
        .chunks(GROUP)
        .map(|chunk| std::str::from_utf8(chunk).expect("ASCII alphabet"))
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_ten_distinct_grouped_codes_that_digest_back() {
        let (shown, stored) = issue(7);
        assert_eq!(shown.len(), COUNT);
        assert_eq!(stored.len(), COUNT);
        let distinct: std::collections::BTreeSet<_> = shown.iter().collect();
        assert_eq!(distinct.len(), COUNT);
        for (code, digest) in shown.iter().zip(&stored) {
            assert_eq!(code.len(), LENGTH + LENGTH / GROUP - 1, "{code}");
            assert_eq!(digest_typed(7, code).as_ref(), Some(digest));
        }
    }

    #[test]
    fn typing_is_forgiven_but_the_account_is_not() {
        let (shown, stored) = issue(7);
        let sloppy = shown[0].to_uppercase().replace('-', " ");
        assert_eq!(digest_typed(7, &sloppy).as_ref(), Some(&stored[0]));
        assert_ne!(digest_typed(8, &shown[0]).as_ref(), Some(&stored[0]));
    }

    #[test]
    fn refuses_what_cannot_be_a_code() {
        assert_eq!(digest_typed(7, ""), None);
        assert_eq!(digest_typed(7, "123456"), None);
        assert_eq!(
            digest_typed(7, "oooo-oooo-oooo-oooo"),
            None,
            "o is not in the alphabet"
        );
        assert_eq!(digest_typed(7, "abcd-efgh-jkmn-pqrs-t"), None);
    }
}
