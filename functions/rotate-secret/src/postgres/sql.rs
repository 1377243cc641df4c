//! The statements a password rotation runs. Utility statements take no bind parameters, so names
//! and the password verifier are quoted here.

use crate::error::Failure;

/// Whether a role exists (a bind parameter: this one is a query).
pub const ROLE_EXISTS: &str = "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1";

/// `"name"`, with embedded quotes doubled. NUL cannot be part of an identifier.
pub fn quote_identifier(name: &str) -> Result<String, Failure> {
    if name.is_empty() || name.contains('\0') {
        return Err(Failure::Database(
            "a role name must be non-empty and free of NUL characters".into(),
        ));
    }
    Ok(format!("\"{}\"", name.replace('"', "\"\"")))
}

/// A string literal as PostgreSQL's `quote_literal` writes it: quotes doubled, and the `E''`
/// form with doubled backslashes when there is a backslash (whatever
/// `standard_conforming_strings` says).
pub fn quote_literal(text: &str) -> String {
    let quoted = text.replace('\'', "''");
    if quoted.contains('\\') {
        format!("E'{}'", quoted.replace('\\', "\\\\"))
    } else {
        format!("'{quoted}'")
    }
}

/// `verifier` is a SCRAM-SHA-256 verifier computed client side: the server stores it as is, and
/// the password itself never appears in a statement (or a statement log).
pub fn alter_password(role: &str, verifier: &str) -> Result<String, Failure> {
    Ok(format!(
        "ALTER ROLE {} PASSWORD {}",
        quote_identifier(role)?,
        quote_literal(verifier)
    ))
}

/// A login role that is a member of `member_of`, inheriting its privileges.
pub fn create_login_role(role: &str, verifier: &str, member_of: &str) -> Result<String, Failure> {
    Ok(format!(
        "CREATE ROLE {} LOGIN PASSWORD {} IN ROLE {}",
        quote_identifier(role)?,
        quote_literal(verifier),
        quote_identifier(member_of)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_literals() {
        assert_eq!(quote_identifier("app").unwrap(), "\"app\"");
        assert_eq!(quote_identifier("we\"ird").unwrap(), "\"we\"\"ird\"");
        assert!(quote_identifier("").is_err());
        assert!(quote_identifier("a\0b").is_err());
        assert_eq!(quote_literal("it's"), "'it''s'");
        assert_eq!(quote_literal("a\\b'"), "E'a\\\\b'''");
    }

    #[test]
    fn statements_carry_the_verifier_only() {
        let verifier = "SCRAM-SHA-256$4096:c2FsdA==$a2V5:c2Vydg==";
        assert_eq!(
            alter_password("app", verifier).unwrap(),
            format!("ALTER ROLE \"app\" PASSWORD '{verifier}'")
        );
        assert_eq!(
            create_login_role("app_clone", verifier, "app").unwrap(),
            format!("CREATE ROLE \"app_clone\" LOGIN PASSWORD '{verifier}' IN ROLE \"app\"")
        );
    }
}
