//! The rotation contract shared by every kind of secret: the pre-check, createSecret's retry
//! rule, finishSecret's label move, and dispatch of setSecret and testSecret to the kind.

use crate::error::{Failure, StepError};
use crate::event::{RotationEvent, Step};
use crate::kind::{classify, parse_json, SecretKind};
use crate::outcome::Outcome;
use crate::postgres::{self, Logins, Postgres};
use crate::secrets::{SecretStore, Version};
use crate::signing::{self, SigningKeys};
use crate::stages::{current_version, token_state, TokenState, VersionStages, CURRENT, PENDING};
use redline_core::config::{Config, DatabaseConfig, TokenConfig};

pub struct Rotator {
    store: SecretStore,
    database: DatabaseConfig,
    tokens: TokenConfig,
    verification_secret: Option<String>,
}

impl Rotator {
    pub fn new(store: SecretStore, config: &Config, verification_secret: Option<String>) -> Self {
        Rotator {
            store,
            database: config.database.clone(),
            tokens: config.auth.tokens.clone(),
            verification_secret,
        }
    }

    pub async fn handle(&self, event: &RotationEvent) -> Result<Outcome, StepError> {
        self.step(event).await.map_err(|failure| StepError {
            step: event.step,
            secret_id: event.secret_id.clone(),
            failure,
        })
    }

    async fn step(&self, event: &RotationEvent) -> Result<Outcome, Failure> {
        let (id, token) = (event.secret_id.as_str(), event.token.as_str());
        let versions = self.store.version_stages(id).await?;
        if token_state(&versions, token)? == TokenState::Current {
            tracing::info!(
                secretId = id,
                step = %event.step,
                versionId = token,
                "the version is already AWSCURRENT: nothing to do"
            );
            return Ok(Outcome::AlreadyCurrent);
        }
        match event.step {
            Step::Create => self.create(id, token).await,
            Step::Set | Step::Test => self.set_or_test(event.step, id, token).await,
            Step::Finish => self.finish(id, token, &versions).await,
        }
    }

    /// A retry finds the value of the first attempt and keeps it: a second one would differ.
    async fn create(&self, id: &str, token: &str) -> Result<Outcome, Failure> {
        if self
            .store
            .value(id, Version::Pending(token))
            .await?
            .is_some()
        {
            return Ok(Outcome::AlreadyCreated);
        }
        let current = self
            .store
            .required_value(id, Version::Stage(CURRENT))
            .await?;
        let value = parse_json(current.expose(), CURRENT)?;
        let pending = match classify(&value, CURRENT)? {
            SecretKind::SigningKeys => signing::create(&current, token)?,
            SecretKind::PostgresSingleUser => postgres::create_single(&value)?,
            SecretKind::PostgresAlternatingUsers => postgres::create_alternating(&value)?,
        };
        self.store.put(id, token, &pending, PENDING).await?;
        Ok(Outcome::Created)
    }

    async fn set_or_test(&self, step: Step, id: &str, token: &str) -> Result<Outcome, Failure> {
        let current = self
            .store
            .required_value(id, Version::Stage(CURRENT))
            .await?;
        let pending = self
            .store
            .required_value(id, Version::Pending(token))
            .await?;
        let current_value = parse_json(current.expose(), CURRENT)?;
        match classify(&current_value, CURRENT)? {
            SecretKind::SigningKeys => {
                let keys = SigningKeys {
                    store: &self.store,
                    verification_secret: self.verification_secret.as_deref(),
                    tokens: &self.tokens,
                };
                match step {
                    Step::Set => keys.set(&pending, token).await,
                    _ => keys.test(&pending).await,
                }
            }
            kind => {
                let database = Postgres {
                    store: &self.store,
                    database: &self.database,
                    secret_id: id,
                };
                let pending_value = parse_json(pending.expose(), PENDING)?;
                let logins = Logins::parse(&current_value, &pending_value)?;
                match (step, kind) {
                    (Step::Set, SecretKind::PostgresSingleUser) => {
                        database.set_single(&logins).await
                    }
                    (Step::Set, _) => database.set_alternating(&logins).await,
                    _ => database.test(&logins).await,
                }
            }
        }
    }

    /// The pre-check returned already when the token is current; Secrets Manager moves
    /// AWSPREVIOUS to the version AWSCURRENT leaves.
    async fn finish(
        &self,
        id: &str,
        token: &str,
        versions: &VersionStages,
    ) -> Result<Outcome, Failure> {
        self.store
            .make_current(id, token, current_version(versions))
            .await?;
        Ok(Outcome::Finished)
    }
}
