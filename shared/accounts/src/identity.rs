//! Field rules and normalisation for usernames, passwords, e-mail addresses and phones.

use redline_core::error::ApiError;
use unicode_normalization::UnicodeNormalization;

fn invalid(field: &'static str, message: &'static str) -> ApiError {
    ApiError::Validation { field, message }
}

pub fn check_username(username: &str) -> Result<(), ApiError> {
    let length = username.chars().count();
    if !(3..=32).contains(&length) {
        return Err(invalid("username", "username must be 3 to 32 characters"));
    }
    let mut chars = username.chars();
    let starts_with_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_with_letter || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(invalid(
            "username",
            "username must start with a letter and use only letters, digits and _",
        ));
    }
    Ok(())
}

/// A password a route asks for again: present, whatever it is (the check is the hash's).
pub fn require_password(password: &str) -> Result<(), ApiError> {
    if password.is_empty() {
        return Err(invalid("password", "password is required"));
    }
    Ok(())
}

pub fn check_password(password: &str, username: &str) -> Result<(), ApiError> {
    let length = password.chars().count();
    if !(8..=128).contains(&length) {
        return Err(invalid("password", "password must be 8 to 128 characters"));
    }
    if !password.chars().any(char::is_alphabetic) || !password.chars().any(|c| c.is_ascii_digit()) {
        return Err(invalid(
            "password",
            "password must contain at least one letter and one digit",
        ));
    }
    if password.to_lowercase() == username.to_lowercase() {
        return Err(invalid("password", "password must not equal the username"));
    }
    Ok(())
}

/// The one spelling of an address that the blind index sees, or `None` when it is not one we
/// accept: trimmed, NFC, the local part lower-cased, the domain as its IDNA A-label (UTS 46), so
/// `Jo@BÜCHER.de`, its decomposed form and `jo@xn--bcher-kva.de` are one account. Quoted local
/// parts and `[domain literals]` are valid RFC 5321 but no mailbox a person types, and they give
/// one mailbox many spellings: refused.
pub fn normalise_email(email: &str) -> Option<String> {
    let email: String = email.trim().nfc().collect();
    let (local, domain) = email.rsplit_once('@')?;
    if local.contains('"') || domain.starts_with('[') {
        return None;
    }
    let domain = idna::domain_to_ascii(domain).ok()?;
    let dotted_domain = domain.contains('.') && !domain.ends_with('.');
    let local: String = local.to_lowercase().nfc().collect();
    let email = format!("{local}@{domain}");
    (email.len() <= 254 && dotted_domain && email_address::EmailAddress::is_valid(&email))
        .then_some(email)
}

/// E.164 (`+` then 8 to 15 digits); a bare 11-digit number starting with 1 is a `+86` mobile.
pub fn normalise_phone(phone: &str) -> Option<String> {
    let phone = phone.trim();
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if let Some(digits) = phone.strip_prefix('+') {
        // E.164 country codes never start with 0.
        let valid =
            all_digits(digits) && (8..=15).contains(&digits.len()) && !digits.starts_with('0');
        return valid.then(|| phone.to_string());
    }
    (all_digits(phone) && phone.len() == 11 && phone.starts_with('1'))
        .then(|| format!("+86{phone}"))
}

/// How a login identifier (or lock-status path) names an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    Username(String),
    Email(String),
    Phone(String),
}

impl Identifier {
    /// Classifies and normalises as register does; usernames compare case-insensitively.
    pub fn parse(raw: &str) -> Identifier {
        let trimmed = raw.trim();
        if trimmed.contains('@') {
            // What cannot be an address keeps a spelling of its own: it names no account.
            let email = normalise_email(trimmed).unwrap_or_else(|| trimmed.to_lowercase());
            return Identifier::Email(email);
        }
        if let Some(phone) = normalise_phone(trimmed) {
            return Identifier::Phone(phone);
        }
        Identifier::Username(trimmed.to_lowercase())
    }

    /// The blind-index domain and normalised value, for keys that must not hold personal data.
    pub fn index_parts(&self) -> (&'static str, &str) {
        match self {
            Identifier::Username(u) => ("username", u),
            Identifier::Email(e) => ("email", e),
            Identifier::Phone(p) => ("phone", p),
        }
    }
}

/// `jo***@example.com`: the first two characters of the local part (one if it has one).
pub fn mask_email(email: &str) -> String {
    let Some((local, domain)) = email.rsplit_once('@') else {
        return "***".into();
    };
    let keep = if local.chars().count() > 1 { 2 } else { 1 };
    let visible: String = local.chars().take(keep).collect();
    // Stored as its A-label; shown as people write it.
    let (domain, _) = idna::domain_to_unicode(domain);
    format!("{visible}***@{domain}")
}

/// `+86138****5678`: the first 6 and last 4 characters, the rest `*`.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(error: ApiError) -> &'static str {
        match error {
            ApiError::Validation { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn usernames() {
        assert!(check_username("alice_01").is_ok());
        assert!(check_username("abc").is_ok());
        assert_eq!(field(check_username("ab").unwrap_err()), "username");
        assert!(check_username(&"a".repeat(33)).is_err());
        assert!(check_username("1alice").is_err());
        assert!(check_username("_alice").is_err());
        assert!(check_username("ali-ce").is_err());
        assert!(check_username("alicé").is_err());
    }

    #[test]
    fn passwords() {
        assert!(check_password("passw0rd", "alice").is_ok());
        assert!(check_password("short1", "alice").is_err());
        assert!(check_password("allletters", "alice").is_err());
        assert!(check_password("12345678", "alice").is_err());
        assert!(check_password("Alice123", "alice123").is_err());
        assert!(check_password(&format!("a1{}", "x".repeat(127)), "alice").is_err());
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            normalise_email("  Jo@Example.COM "),
            Some("jo@example.com".into())
        );
        assert_eq!(normalise_email("not-an-email"), None);
        assert_eq!(normalise_email("a@b"), None);
        assert_eq!(normalise_email("a.b@localhost"), None);
        assert_eq!(normalise_email(""), None);
    }

    #[test]
    fn international_domains_index_as_their_a_label_in_nfc() {
        let canonical = Some("jo@xn--bcher-kva.de".to_string());
        assert_eq!(normalise_email("Jo@BÜCHER.de"), canonical);
        assert_eq!(normalise_email("jo@bu\u{308}cher.de"), canonical, "NFD");
        assert_eq!(normalise_email("jo@xn--bcher-kva.de"), canonical);
        // The local part is NFC too: é precomposed or not is one mailbox.
        assert_eq!(
            normalise_email("re\u{301}my@example.com"),
            normalise_email("rémy@example.com")
        );
        assert_eq!(normalise_email("jo@-bad-.de"), None);
    }

    #[test]
    fn quoted_local_parts_and_domain_literals_are_refused() {
        assert_eq!(normalise_email("\"jo\"@example.com"), None);
        assert_eq!(normalise_email("\"jo smith\"@example.com"), None);
        assert_eq!(normalise_email("jo@[192.0.2.1]"), None);
        assert_eq!(normalise_email("jo@[IPv6:2001:db8::1]"), None);
    }

    #[test]
    fn phones() {
        assert_eq!(normalise_phone("+14155550123"), Some("+14155550123".into()));
        assert_eq!(
            normalise_phone("13800138000"),
            Some("+8613800138000".into())
        );
        assert_eq!(normalise_phone("+1234567"), None);
        assert_eq!(normalise_phone("+0123456789"), None);
        assert_eq!(normalise_phone("+1234567890123456"), None);
        assert_eq!(normalise_phone("23800138000"), None);
        assert_eq!(normalise_phone("+86 138"), None);
    }

    #[test]
    fn identifiers() {
        assert_eq!(
            Identifier::parse("Alice"),
            Identifier::Username("alice".into())
        );
        assert_eq!(
            Identifier::parse(" A@B.com"),
            Identifier::Email("a@b.com".into())
        );
        assert_eq!(
            Identifier::parse("Jo@BÜCHER.de"),
            Identifier::Email("jo@xn--bcher-kva.de".into())
        );
        assert_eq!(
            Identifier::parse("13800138000"),
            Identifier::Phone("+8613800138000".into())
        );
    }

    #[test]
    fn masks() {
        assert_eq!(mask_email("john@example.com"), "jo***@example.com");
        assert_eq!(mask_email("j@example.com"), "j***@example.com");
        assert_eq!(mask_email("jo@xn--bcher-kva.de"), "jo***@bücher.de");
        assert_eq!(mask_phone("+8613812345678"), "+86138****5678");
        assert_eq!(mask_phone("+14155550123"), "+14155**0123");
    }
}
