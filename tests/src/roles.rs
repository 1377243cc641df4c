//! What the application role may do, checked over a real login: read and write the tables, and
//! nothing that changes the schema.

use tokio_postgres::error::SqlState;
use tokio_postgres::Client;

/// Statements only an owner (or a role allowed to create) may run, each refused to the
/// application role with `insufficient_privilege`: 42501 (also "must be owner of table").
pub const REFUSED: &[&str] = &[
    "DROP TABLE refresh_families",
    "ALTER TABLE users ADD COLUMN nickname TEXT",
    "ALTER TABLE users OWNER TO CURRENT_USER",
    "CREATE TABLE intruder (id INT)",
    "CREATE INDEX users_created_idx ON users (created_at)",
    "CREATE SCHEMA intruder",
    "TRUNCATE users CASCADE",
    "DROP INDEX users_username_key",
    "SELECT count(*) FROM schema_migrations",
];

/// Every statement of [`REFUSED`] fails with 42501 on this login; panics naming the first that
/// does not.
pub async fn assert_refused_schema_changes(client: &Client, login: &str) {
    for statement in REFUSED {
        match client.batch_execute(statement).await {
            Ok(()) => panic!("{login} may run `{statement}`"),
            Err(error) => assert_eq!(
                error.code(),
                Some(&SqlState::INSUFFICIENT_PRIVILEGE),
                "{login}: `{statement}` failed otherwise: {error}"
            ),
        }
    }
}

/// Reads, writes and removes a row of each table, in a transaction rolled back at the end.
pub async fn assert_reads_and_writes(client: &mut Client, login: &str) {
    let transaction = client.transaction().await.unwrap();
    let user: i64 = transaction
        .query_one(
            "INSERT INTO users (username, password_hash, email_cipher, email_index) \
             VALUES ('rw-probe', 'x', '\\x00', '\\x01') RETURNING id",
            &[],
        )
        .await
        .unwrap_or_else(|e| panic!("{login} cannot insert a user: {e}"))
        .get(0);
    transaction
        .execute(
            "INSERT INTO refresh_families (id, user_id, current_jti, expires_at) \
             VALUES ('rw-probe', $1, 'j', now())",
            &[&user],
        )
        .await
        .unwrap_or_else(|e| panic!("{login} cannot insert a refresh family: {e}"));
    transaction
        .execute(
            "UPDATE users SET updated_at = now() WHERE id = $1",
            &[&user],
        )
        .await
        .unwrap_or_else(|e| panic!("{login} cannot update: {e}"));
    transaction
        .execute("DELETE FROM users WHERE id = $1", &[&user])
        .await
        .unwrap_or_else(|e| panic!("{login} cannot delete: {e}"));
    transaction.rollback().await.unwrap();
}
