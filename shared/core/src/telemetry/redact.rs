//! Redaction by allow-list: a field not known to be safe is written as `"[redacted]"`, and free
//! text (the message, an error's cause chain) is scrubbed of e-mail addresses, phone numbers,
//! JWTs, long digit runs (codes), values after a sensitive key (`password=…`, `"token":"…"`,
//! PostgreSQL's `Key (username)=(…)`) and anything long and random enough to be a secret.

pub const REDACTED: &str = "[redacted]";

/// How a field's value may be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Written as it is: ids, names of things, numbers about the request.
    Safe,
    /// Written after [`scrub`].
    FreeText,
    /// Written as `"[redacted]"`.
    Redacted,
}

/// Fields whose values are known to carry no personal data and no secret. Everything a redline
/// crate logs is named here; anything else (another crate's `body`, a future field nobody
/// reviewed) is redacted.
const SAFE: &[&str] = &[
    "requestId",
    "apiRequestId",
    "traceId",
    "function",
    "version",
    "coldStart",
    "method",
    "route",
    "status",
    "reason",
    "latencyMs",
    "errorType",
    "errorCode",
    "initMs",
    "telemetryMs",
    "configMs",
    "openMs",
    "phase",
    "generation",
    "applied",
    "already",
    "secretId",
    "step",
    "versionId",
    "outcome",
    "deploymentId",
    "hookExecutionId",
    // migrate as a CloudFormation custom resource (never its ResponseURL: a credential)
    "requestType",
    "logicalResourceId",
    "stackId",
    "migrateVersion",
    "delivered",
    "attempt",
    "retry",
];

const FREE_TEXT: &[&str] = &["message", "error"];

pub fn policy(field: &str) -> Policy {
    if FREE_TEXT.contains(&field) {
        Policy::FreeText
    } else if SAFE.contains(&field) {
        Policy::Safe
    } else {
        Policy::Redacted
    }
}

/// Words after which, with a `:` or `=` between, a value is redacted.
const SENSITIVE_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "credential",
    "code",
    "otp",
    "key",
    "email",
    "phone",
    "username",
    "identifier",
    "target",
];

/// Appends `text` to `out`, scrubbed.
pub fn scrub(text: &str, out: &mut String) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'+' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let end = phone_end(bytes, i + 1);
            if digits_in(&bytes[i..end]) >= 7 {
                out.push_str(REDACTED);
                i = end;
                continue;
            }
        }
        if is_word_byte(c) {
            let end = (i..bytes.len())
                .find(|&j| !is_word_byte(bytes[j]))
                .unwrap_or(bytes.len());
            let word = &text[i..end];
            if looks_secret(word) {
                out.push_str(REDACTED);
            } else {
                out.push_str(word);
            }
            i = end;
            if ends_with_sensitive_key(word) {
                i = redact_value_after(text, i, out);
            }
            continue;
        }
        // Not ASCII or not a word character: copy the whole character.
        let len = utf8_len(c);
        out.push_str(&text[i..(i + len).min(text.len())]);
        i += len;
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn is_word_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-' | b'%' | b'+' | b'@' | b'/' | b'~')
}

fn phone_end(bytes: &[u8], from: usize) -> usize {
    (from..bytes.len())
        .find(|&j| !(bytes[j].is_ascii_digit() || matches!(bytes[j], b' ' | b'-' | b'(' | b')')))
        .unwrap_or(bytes.len())
}

fn digits_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|b| b.is_ascii_digit()).count()
}

/// An e-mail address, a JWT, a code-length digit run, a phone number, or a long random token.
fn looks_secret(word: &str) -> bool {
    let bytes = word.as_bytes();
    if let Some(at) = word.find('@') {
        if at > 0 && word[at + 1..].contains('.') {
            return true;
        }
    }
    if word.starts_with("eyJ") && word.matches('.').count() >= 2 {
        return true;
    }
    let longest_digit_run = bytes
        .split(|b| !b.is_ascii_digit())
        .map(<[u8]>::len)
        .max()
        .unwrap_or(0);
    // A timestamp's parts are shorter; a code, a phone or an account number is not.
    if longest_digit_run >= 6 {
        return true;
    }
    let timestamp_like = bytes
        .iter()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'.' | b'T' | b'Z'));
    word.len() >= 20
        && !timestamp_like
        && bytes.iter().any(u8::is_ascii_digit)
        && bytes.iter().any(u8::is_ascii_alphabetic)
}

fn ends_with_sensitive_key(word: &str) -> bool {
    let lower = word.to_ascii_lowercase();
    let last = lower
        .rsplit(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .next()
        .unwrap_or("");
    SENSITIVE_KEYS.iter().any(|key| last.contains(key)) || last == "bearer"
}

/// After a sensitive key: when `:`/`=` (or, after `Bearer`, a space) follows, redacts the value
/// and returns the index after it; otherwise copies nothing and returns `from`.
fn redact_value_after(text: &str, from: usize, out: &mut String) -> usize {
    let bytes = text.as_bytes();
    let mut j = from;
    let mut assigned = false;
    while j < bytes.len()
        && matches!(
            bytes[j],
            b' ' | b'"' | b'\'' | b'\\' | b':' | b'=' | b'(' | b')'
        )
    {
        assigned |= matches!(bytes[j], b':' | b'=');
        j += 1;
    }
    let bearer = text[..from].to_ascii_lowercase().ends_with("bearer") && j > from;
    if !(assigned || bearer) || j == bytes.len() {
        return from;
    }
    // A quoted value runs to its closing quote (or the backslash of an escaped one).
    let quote = matches!(bytes[j - 1], b'"' | b'\'').then_some(bytes[j - 1]);
    let value_end = (j..bytes.len())
        .find(|&k| match quote {
            Some(q) => bytes[k] == q || bytes[k] == b'\\',
            None => matches!(
                bytes[k],
                b' ' | b'"' | b'\'' | b'\\' | b',' | b';' | b'&' | b'}' | b']' | b')' | b'\n'
            ),
        })
        .unwrap_or(bytes.len());
    if value_end == j {
        return from;
    }
    out.push_str(&text[from..j]);
    out.push_str(REDACTED);
    value_end
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(text: &str) -> String {
        let mut out = String::new();
        scrub(text, &mut out);
        out
    }

    #[test]
    fn personal_data_and_secrets_are_scrubbed_from_free_text() {
        let cases = [
            ("mail secret.person@example.com now", "mail [redacted] now"),
            ("call +1 415-555-0177.", "call [redacted]."),
            ("code 493021 sent", "code [redacted] sent"),
            ("tel 4155550177", "tel [redacted]"),
            ("jwt eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl", "jwt [redacted]"),
            ("Bearer abc.def", "Bearer [redacted]"),
            ("password=Sup3r-secret-pw&x=1", "password=[redacted]&x=1"),
            (
                r#"{"password":"Sup3r secret","a":1}"#,
                r#"{"password":"[redacted]","a":1}"#,
            ),
            (
                r#"{\"refresh_token\":\"abc\"}"#,
                r#"{\"refresh_token\":\"[redacted]\"}"#,
            ),
            (
                "Key (username)=(privateperson) exists",
                "Key (username)=([redacted]) exists",
            ),
            ("totp JBSWY3DPEHPK3PXPJBSWY3DP1 set", "totp [redacted] set"),
        ];
        for (input, expected) in cases {
            assert_eq!(scrubbed(input), expected, "{input}");
        }
    }

    #[test]
    fn ordinary_text_is_kept() {
        for text in [
            "database unavailable: connection refused (os error 111)",
            "secrets refresh failed; serving cached values",
            "at 2026-11-25T18:49:30.123Z in 12.5 ms on port 5432",
            "the code path, a key and a token are words",
            "héllo wörld ✓",
        ] {
            assert_eq!(scrubbed(text), text);
        }
    }

    #[test]
    fn only_reviewed_fields_are_written() {
        assert_eq!(policy("requestId"), Policy::Safe);
        assert_eq!(policy("error"), Policy::FreeText);
        assert_eq!(policy("body"), Policy::Redacted);
        assert_eq!(policy("token"), Policy::Redacted);
    }
}
