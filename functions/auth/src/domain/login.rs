//! The login rules that outlive one request: which account an identifier names and the lockout
//! subject it counts against, and what a successful login re-seals.

use redline_accounts::accounts::{Account, Accounts, Lookup, Resealed};
use redline_accounts::identity::{self, Identifier};
use redline_crypto::pii::{BlindIndex, DataKeys, PiiError};
use redline_stores::DbError;

/// Whom a login (or a lock-status question) is about.
pub struct LoginSubject {
    pub identifier: Identifier,
    pub account: Option<Account>,
    /// The lockout subject: the account itself, or (no account) the identifier's blind index,
    /// so unknown names behave like known ones.
    pub subject: String,
}

/// Lowercase hex: how Redis keys and captcha bindings name a blind index.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The account an identifier (username, e-mail or phone) names, and its lockout subject.
pub async fn resolve(
    accounts: &Accounts<'_>,
    index: &BlindIndex,
    raw: &str,
) -> Result<LoginSubject, DbError> {
    let identifier = Identifier::parse(raw);
    let (kind, value) = identifier.index_parts();
    let account = match &identifier {
        // A name no account could have (bad characters, NUL) is unknown without asking.
        Identifier::Username(name) if identity::check_username(name).is_err() => None,
        Identifier::Email(email) if identity::normalise_email(email).is_none() => None,
        Identifier::Username(name) => accounts.find(Lookup::UsernameLower(name)).await?,
        Identifier::Email(_) | Identifier::Phone(_) => {
            let digest = index.index(kind, value);
            let lookup = if kind == "email" {
                Lookup::EmailIndex(&digest)
            } else {
                Lookup::PhoneIndex(&digest)
            };
            accounts.find(lookup).await?
        }
    };
    let subject = match &account {
        Some(account) => redline_accounts::account_subject(account),
        None => format!("name:{}", hex(&index.index(kind, value))),
    };
    Ok(LoginSubject {
        identifier,
        account,
        subject,
    })
}

/// After a successful login: the new password hash, if any, and every piece of personal data
/// sealed under an old key, re-encrypted under the current one.
pub fn resealed(
    keys: &DataKeys,
    account: &Account,
    password_hash: Option<String>,
) -> Result<Resealed, PiiError> {
    let reseal = |field: &str, cipher: &[u8]| -> Result<Option<Vec<u8>>, PiiError> {
        if !keys.is_stale(cipher) {
            return Ok(None);
        }
        let plain = keys.decrypt(field, cipher)?;
        Ok(Some(keys.encrypt(field, &plain)))
    };
    let optional = |field: &str, cipher: Option<&[u8]>| match cipher {
        Some(cipher) => reseal(field, cipher),
        None => Ok(None),
    };
    Ok(Resealed {
        password_hash,
        email: reseal("email", &account.email_cipher)?,
        phone: optional("phone", account.phone_cipher.as_deref())?,
        totp: optional("totp", account.totp_cipher.as_deref())?,
        totp_pending: optional("totp", account.totp_pending.as_deref())?,
    })
}
