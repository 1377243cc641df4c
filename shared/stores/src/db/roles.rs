//! PostgreSQL login roles, as migrate and the rotation function manage them: the statements that
//! create a role and set its password, and the alternating-users naming (`<user>` and
//! `<user>_clone`) under which two logins share one role's privileges.

use postgres_protocol::password::scram_sha_256;

/// Suffix of the second user of the alternating-users scheme, as AWS's rotation functions name it.
pub const CLONE_SUFFIX: &str = "_clone";

/// Whether a role exists (a bind parameter: this one is a query).
pub const ROLE_EXISTS: &str = "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1";

/// A role name that no statement can carry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a role name must be non-empty and free of NUL characters")]
pub struct InvalidRoleName;

/// The role whose privileges both alternating users share: `app_clone` → `app`.
pub fn base_username(username: &str) -> &str {
    username.strip_suffix(CLONE_SUFFIX).unwrap_or(username)
}

/// `"name"`, with embedded quotes doubled. NUL cannot be part of an identifier.
pub fn quote_identifier(name: &str) -> Result<String, InvalidRoleName> {
    if name.is_empty() || name.contains('\0') {
        return Err(InvalidRoleName);
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

/// The SCRAM-SHA-256 verifier of a password, computed here: the server stores it as is, so the
/// password itself never appears in a statement (or a statement log).
pub fn verifier(password: &str) -> String {
    scram_sha_256(password.as_bytes())
}

/// `ALTER ROLE … PASSWORD <verifier>`.
pub fn alter_password(role: &str, verifier: &str) -> Result<String, InvalidRoleName> {
    Ok(format!(
        "ALTER ROLE {} PASSWORD {}",
        quote_identifier(role)?,
        quote_literal(verifier)
    ))
}

/// A login role with this verifier; a member of `member_of` (inheriting its privileges) when
/// given.
pub fn create_login_role(
    role: &str,
    verifier: &str,
    member_of: Option<&str>,
) -> Result<String, InvalidRoleName> {
    let membership = match member_of {
        Some(base) => format!(" IN ROLE {}", quote_identifier(base)?),
        None => String::new(),
    };
    Ok(format!(
        "CREATE ROLE {} LOGIN PASSWORD {}{membership}",
        quote_identifier(role)?,
        quote_literal(verifier)
    ))
}

/// For a clone login, `SET ROLE <base>`: a member inherits its base role's privileges but not its
/// attributes (`CREATEROLE`), and what it creates would be its own rather than the base role's.
/// Nothing for a base login.
pub fn act_as_base(username: &str) -> Result<Option<String>, InvalidRoleName> {
    let base = base_username(username);
    if base == username {
        return Ok(None);
    }
    Ok(Some(format!("SET ROLE {}", quote_identifier(base)?)))
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
            create_login_role("app_clone", verifier, Some("app")).unwrap(),
            format!("CREATE ROLE \"app_clone\" LOGIN PASSWORD '{verifier}' IN ROLE \"app\"")
        );
        assert_eq!(
            create_login_role("app", verifier, None).unwrap(),
            format!("CREATE ROLE \"app\" LOGIN PASSWORD '{verifier}'")
        );
        assert!(verifier_of_password_hides_it());
    }

    fn verifier_of_password_hides_it() -> bool {
        let computed = verifier("hunter2");
        computed.starts_with("SCRAM-SHA-256$") && !computed.contains("hunter2")
    }

    #[test]
    fn a_clone_acts_as_its_base_role() {
        assert_eq!(base_username("app_clone"), "app");
        assert_eq!(base_username("app"), "app");
        assert_eq!(act_as_base("owner").unwrap(), None);
        assert_eq!(
            act_as_base("owner_clone").unwrap().as_deref(),
            Some("SET ROLE \"owner\"")
        );
    }
}
