//! Password hashing: Argon2id (PHC strings); bcrypt hashes imported from the Go service verify
//! and are flagged for re-hashing.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use redline_core::config::PasswordConfig;
use std::sync::Arc;
use std::sync::OnceLock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Mismatch,
    Match,
    /// Right password, but stored under old parameters or bcrypt: store a fresh hash.
    MatchNeedsRehash,
}

#[derive(Clone)]
pub struct PasswordHasherConfig {
    params: Params,
    /// A hash of a random password with the current parameters: unknown users verify
    /// against it so they cost the same work as known ones.
    dummy: Arc<OnceLock<String>>,
}

impl PasswordHasherConfig {
    pub fn new(config: &PasswordConfig) -> Self {
        let params = Params::new(
            config.memory_kib,
            config.iterations,
            config.parallelism,
            None,
        )
        .expect("validated at start-up");
        PasswordHasherConfig {
            params,
            dummy: Arc::new(OnceLock::new()),
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    /// Hashes on a blocking thread: Argon2id takes tens of milliseconds by design.
    pub async fn hash(&self, password: &str) -> Result<String, String> {
        let hasher = self.argon2();
        let password = password.to_owned();
        tokio::task::spawn_blocking(move || hash_blocking(&hasher, &password))
            .await
            .map_err(|e| e.to_string())?
    }

    pub async fn verify(&self, password: &str, stored: &str) -> Verdict {
        let hasher = self.argon2();
        let params = self.params.clone();
        let password = password.to_owned();
        let stored = stored.to_owned();
        tokio::task::spawn_blocking(move || verify_blocking(&hasher, &params, &password, &stored))
            .await
            .unwrap_or(Verdict::Mismatch)
    }

    /// Computes the dummy hash on a thread of its own at cold start, so that neither the first
    /// login of an unknown name (its timing would stand out) nor the runtime's event loop (the
    /// first poll of `/next` would wait) pays for it.
    pub fn warm_up(&self) {
        let hasher = self.clone();
        std::thread::spawn(move || {
            hasher.dummy_blocking();
        });
    }

    fn dummy_blocking(&self) -> &str {
        self.dummy.get_or_init(|| {
            hash_blocking(&self.argon2(), &super::random::id128()).unwrap_or_default()
        })
    }

    /// Spends the same work as a real verification, for an identifier with no account.
    pub async fn verify_dummy(&self, password: &str) {
        let hasher = self.clone();
        let password = password.to_owned();
        let _ = tokio::task::spawn_blocking(move || {
            let dummy = hasher.dummy_blocking().to_string();
            verify_blocking(&hasher.argon2(), &hasher.params, &password, &dummy)
        })
        .await;
    }
}

fn hash_blocking(hasher: &Argon2<'_>, password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&super::random::bytes::<16>()).map_err(|e| e.to_string())?;
    hasher
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

fn verify_blocking(hasher: &Argon2<'_>, params: &Params, password: &str, stored: &str) -> Verdict {
    if stored.starts_with("$2a$") || stored.starts_with("$2b$") || stored.starts_with("$2y$") {
        return match bcrypt::verify(password, stored) {
            Ok(true) => Verdict::MatchNeedsRehash,
            _ => Verdict::Mismatch,
        };
    }
    let Ok(parsed) = PasswordHash::new(stored) else {
        return Verdict::Mismatch;
    };
    if hasher
        .verify_password(password.as_bytes(), &parsed)
        .is_err()
    {
        return Verdict::Mismatch;
    }
    let current = parsed.algorithm.as_str() == "argon2id"
        && Params::try_from(&parsed).is_ok_and(|p| {
            p.m_cost() == params.m_cost()
                && p.t_cost() == params.t_cost()
                && p.p_cost() == params.p_cost()
        });
    if current {
        Verdict::Match
    } else {
        Verdict::MatchNeedsRehash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> PasswordHasherConfig {
        PasswordHasherConfig::new(&PasswordConfig {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
    }

    #[tokio::test]
    async fn argon2id_round_trip() {
        let hasher = small();
        let hash = hasher.hash("correct horse 1").await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert_eq!(
            hasher.verify("correct horse 1", &hash).await,
            Verdict::Match
        );
        assert_eq!(
            hasher.verify("wrong horse 1", &hash).await,
            Verdict::Mismatch
        );
    }

    #[tokio::test]
    async fn old_parameters_and_bcrypt_ask_for_a_rehash() {
        let old = small().hash("pass1234").await.unwrap();
        let stronger = PasswordHasherConfig::new(&PasswordConfig {
            memory_kib: 512,
            iterations: 1,
            parallelism: 1,
        });
        assert_eq!(
            stronger.verify("pass1234", &old).await,
            Verdict::MatchNeedsRehash
        );
        let bcrypt_hash = bcrypt::hash("pass1234", 4).unwrap();
        assert_eq!(
            small().verify("pass1234", &bcrypt_hash).await,
            Verdict::MatchNeedsRehash
        );
        assert_eq!(
            small().verify("nope1234", &bcrypt_hash).await,
            Verdict::Mismatch
        );
        assert_eq!(
            small().verify("pass1234", "garbage").await,
            Verdict::Mismatch
        );
    }
}
