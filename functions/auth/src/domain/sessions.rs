//! Refresh-token families: one per login, rotated atomically, revoked as a whole.

use redline_stores::db::{Db, DbError};

pub struct Sessions<'a> {
    pub db: &'a Db,
}

/// What happened to a presented refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The token was current; it is used up and `new_jti` is current now.
    Rotated { family_expires: u64 },
    /// The family is past its absolute lifetime.
    Expired,
    /// Logged out, revoked after a reuse, or its user deleted.
    Revoked,
    /// Already used once: the family has just been revoked.
    Reused,
}

impl Sessions<'_> {
    pub async fn start(
        &self,
        family: &str,
        user_id: i64,
        jti: &str,
        expires_at: u64,
    ) -> Result<(), DbError> {
        self.db
            .execute(
                "INSERT INTO refresh_families (id, user_id, current_jti, expires_at) \
                 VALUES ($1, $2, $3, to_timestamp($4))",
                &[&family, &user_id, &jti, &(expires_at as f64)],
            )
            .await?;
        Ok(())
    }

    /// Swaps `old_jti` for `new_jti` in one statement: of concurrent callers exactly one wins.
    pub async fn rotate(
        &self,
        family: &str,
        old_jti: &str,
        new_jti: &str,
    ) -> Result<Rotation, DbError> {
        self.db
            .timed(async {
                let client = self.db.client().await?;
                let rotated = client
                    .query_opt(
                        "UPDATE refresh_families SET current_jti = $3, rotated_at = now() \
                         WHERE id = $1 AND current_jti = $2 AND revoked_at IS NULL \
                           AND expires_at > now() \
                         RETURNING extract(epoch FROM expires_at)::bigint",
                        &[&family, &old_jti, &new_jti],
                    )
                    .await?;
                if let Some(row) = rotated {
                    let expires: i64 = row.get(0);
                    return Ok(Rotation::Rotated {
                        family_expires: expires.max(0) as u64,
                    });
                }
                let state = client
                    .query_opt(
                        "SELECT expires_at <= now(), revoked_at IS NOT NULL \
                         FROM refresh_families WHERE id = $1",
                        &[&family],
                    )
                    .await?;
                let Some(state) = state else {
                    return Ok(Rotation::Revoked);
                };
                let (expired, revoked): (bool, bool) = (state.get(0), state.get(1));
                if expired {
                    return Ok(Rotation::Expired);
                }
                if revoked {
                    return Ok(Rotation::Revoked);
                }
                // A used-up token came back: revoke the family, the newest pair included.
                client
                    .execute(
                        "UPDATE refresh_families SET revoked_at = now() \
                         WHERE id = $1 AND revoked_at IS NULL",
                        &[&family],
                    )
                    .await?;
                Ok(Rotation::Reused)
            })
            .await
    }

    pub async fn revoke_all(&self, user_id: i64) -> Result<u64, DbError> {
        self.db
            .execute(
                "UPDATE refresh_families SET revoked_at = now() \
                 WHERE user_id = $1 AND revoked_at IS NULL",
                &[&user_id],
            )
            .await
    }
}
