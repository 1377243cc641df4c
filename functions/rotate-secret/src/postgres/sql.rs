//! The statements a password rotation runs (`redline_stores::db::roles`, shared with migrate),
//! with a refused role name as this function's failure.

use crate::error::Failure;
use redline_stores::db::roles::{self, InvalidRoleName};

pub use roles::ROLE_EXISTS;

fn refused(error: InvalidRoleName) -> Failure {
    Failure::Database(error.to_string())
}

pub fn alter_password(role: &str, verifier: &str) -> Result<String, Failure> {
    roles::alter_password(role, verifier).map_err(refused)
}

/// A login role that is a member of `member_of`, inheriting its privileges.
pub fn create_login_role(role: &str, verifier: &str, member_of: &str) -> Result<String, Failure> {
    roles::create_login_role(role, verifier, Some(member_of)).map_err(refused)
}

/// `SET ROLE <base>` when the admin logs in as a clone: the attributes that let it manage roles
/// (`CREATEROLE`) are its base role's, not inherited.
pub fn act_as_base(admin: &str) -> Result<Option<String>, Failure> {
    roles::act_as_base(admin).map_err(refused)
}
