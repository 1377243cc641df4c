//! A deployment whose functions take their secrets from the moto Secrets Manager emulator:
//! the secrets seeded, and the env-vars files that point each function at its own.

use crate::runner::{repo_root, stack_env_files, target_dir, Runner};
use crate::servers::{unique_token, MotoServer, PgCluster, TestDatabase};
use crate::TestEnv;
use redline_core::config::Reference;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};

/// The `REDLINE__DATABASE__*` variables that take a function's login from an RDS-shaped secret.
pub fn database_references(secret_id: &str) -> Map<String, Value> {
    [
        ("HOST", "host"),
        ("PORT", "port"),
        ("DBNAME", "dbname"),
        ("USER", "username"),
        ("PASSWORD", "password"),
    ]
    .into_iter()
    .map(|(var, key)| {
        (
            format!("REDLINE__DATABASE__{var}"),
            json!(format!("secretsmanager:{secret_id}#{key}")),
        )
    })
    .collect()
}

/// On a cluster with password authentication: a login role `app` and a fresh database it owns
/// (so whatever `app` migrates there is its own). Like a schema owner in AWS it may create roles
/// (migrate creates the application role).
pub async fn database_owned_by_app(cluster: &PgCluster, app_password: &str) -> TestDatabase {
    let admin = cluster
        .connect_superuser("postgres")
        .await
        .expect("superuser login");
    admin
        .batch_execute(&format!(
            "CREATE ROLE app LOGIN CREATEROLE PASSWORD '{app_password}'"
        ))
        .await
        .expect("create role app");
    let db = TestDatabase::create_at(
        cluster.host(),
        cluster.port(),
        cluster.superuser(),
        cluster.superuser_password(),
    )
    .await;
    admin
        .batch_execute(&format!("ALTER DATABASE \"{}\" OWNER TO app", db.name()))
        .await
        .expect("hand the database to app");
    db
}

pub const DATA_KEY_V1: &str = "8c3a1f0e6b2d4a5978e1c0b3d2f4a6e8091b2c3d4e5f60718293a4b5c6d7e8f9";
pub const BLIND_INDEX_KEY: &str =
    "0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

/// A test deployment whose functions take their secrets from moto.
pub struct Deployment {
    pub env: TestEnv,
    pub moto: MotoServer,
    /// Secret ids, as the functions' references name them.
    pub database: String,
    pub signing: String,
    pub verification: String,
    pub data_keys: String,
    pub blind_index: String,
    /// (name, value) of every secret, to create them again after an emulator restart.
    seeded: Vec<(String, String)>,
}

impl Deployment {
    /// Seeds moto with the deployment's secrets (referenced by ARN, as the template does);
    /// `database` is the RDS-shaped credentials.
    pub async fn new(env: TestEnv, database: Value) -> Deployment {
        Self::seed(env, database, true).await
    }

    /// As [`Deployment::new`], referencing the secrets by name.
    pub async fn by_name(env: TestEnv, database: Value) -> Deployment {
        Self::seed(env, database, false).await
    }

    async fn seed(env: TestEnv, database: Value, by_arn: bool) -> Deployment {
        let moto = MotoServer::start();
        let config = env.config().expect("test configuration");
        let tokens = &config.auth.tokens;
        let prefix = format!("t-{}", unique_token());
        let seeded = vec![
            (format!("{prefix}/database"), database.to_string()),
            (
                format!("{prefix}/signing-keys"),
                tokens.signing_keys.as_ref().unwrap().expose().to_string(),
            ),
            (
                format!("{prefix}/verification-keys"),
                tokens.verification_keys.clone().unwrap(),
            ),
            (
                format!("{prefix}/data-keys"),
                json!({"current": 1, "1": DATA_KEY_V1}).to_string(),
            ),
            (
                format!("{prefix}/blind-index-key"),
                BLIND_INDEX_KEY.to_string(),
            ),
        ];
        let mut ids = Vec::new();
        for (name, value) in &seeded {
            let arn = moto.create_secret(name, value).await;
            ids.push(if by_arn { arn } else { name.clone() });
        }
        Deployment {
            env,
            moto,
            database: ids[0].clone(),
            signing: ids[1].clone(),
            verification: ids[2].clone(),
            data_keys: ids[3].clone(),
            blind_index: ids[4].clone(),
            seeded,
        }
    }

    /// Creates every secret again (moto keeps nothing across a restart).
    pub async fn reseed(&self) {
        for (name, value) in &self.seeded {
            self.moto.create_secret(name, value).await;
        }
    }

    /// A deployment on a fresh test database of the shared server (what most tests need).
    pub async fn on_shared_database() -> Deployment {
        let env = TestEnv::new().await;
        let database = Self::shared_database(&env);
        Self::new(env, database).await
    }

    /// RDS-shaped credentials for the deployment's database on the shared server (trust auth).
    pub fn shared_database(env: &TestEnv) -> Value {
        json!({"engine": "postgres", "host": env.db.host(), "port": env.db.port(),
               "dbname": env.db.name(), "username": env.db.user(), "password": "unused-by-trust"})
    }

    fn database_refs(&self) -> Map<String, Value> {
        database_references(&self.database)
    }

    fn personal_data_refs(&self) -> Map<String, Value> {
        let mut vars = Map::new();
        vars.insert(
            "REDLINE__CRYPTO__DATA_KEYS".into(),
            json!(format!("secretsmanager:{}", self.data_keys)),
        );
        vars.insert(
            "REDLINE__CRYPTO__BLIND_INDEX_KEY".into(),
            json!(format!("secretsmanager:{}", self.blind_index)),
        );
        vars
    }

    /// Each function's own references (the greeter gets none), on top of `settings`
    /// (`REDLINE__SECRETS__*` and the like) for all of them.
    pub fn env_files(&self, settings: Value) -> Vec<PathBuf> {
        self.files(settings, false)
    }

    /// The same deployment configured from plain values: every reference replaced by the value
    /// it names (what a benchmark compares against).
    pub fn plain_env_files(&self) -> Vec<PathBuf> {
        self.files(json!({}), true)
    }

    fn plain_value(&self, reference: &str) -> Value {
        let parsed = Reference::parse(reference)
            .expect("a reference")
            .expect("a valid reference");
        let ids = [
            &self.database,
            &self.signing,
            &self.verification,
            &self.data_keys,
            &self.blind_index,
        ];
        let index = ids
            .iter()
            .position(|id| **id == parsed.secret_id)
            .expect("a seeded secret");
        let text = &self.seeded[index].1;
        match parsed.json_key {
            None => json!(text),
            Some(key) => match &serde_json::from_str::<Value>(text).unwrap()[&key] {
                Value::String(value) => json!(value),
                other => json!(other.to_string()),
            },
        }
    }

    fn files(&self, settings: Value, plain: bool) -> Vec<PathBuf> {
        let mut common: Map<String, Value> = self
            .moto
            .env()
            .into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect();
        common.extend(settings.as_object().cloned().unwrap_or_default());
        let mut auth = self.database_refs();
        auth.extend(self.personal_data_refs());
        auth.insert(
            "REDLINE__AUTH__TOKENS__SIGNING_KEYS".into(),
            json!(format!("secretsmanager:{}", self.signing)),
        );
        let mut users = self.database_refs();
        users.extend(self.personal_data_refs());
        users.insert(
            "REDLINE__AUTH__TOKENS__VERIFICATION_KEYS".into(),
            json!(format!("secretsmanager:{}", self.verification)),
        );
        let mut sections = json!({
            "AuthFunction": auth,
            "UsersFunction": users,
            "HealthFunction": self.database_refs(),
        });
        if plain {
            for vars in sections.as_object_mut().unwrap().values_mut() {
                for value in vars.as_object_mut().unwrap().values_mut() {
                    *value = self.plain_value(value.as_str().unwrap());
                }
            }
        }
        let mut files = stack_env_files(&self.env, Value::Object(common));
        files.push(crate::runner::env_file(&sections));
        files
    }

    pub fn start(&self, settings: Value) -> Runner {
        self.start_in(&target_dir().join("debug"), settings)
    }

    /// As [`Deployment::start`], with the binaries of `bin_dir`.
    pub fn start_in(&self, bin_dir: &Path, settings: Value) -> Runner {
        Runner::start(
            &repo_root().join("template.yaml"),
            &self.env_files(settings),
            bin_dir,
            &[
                "--parameter-overrides",
                "AllowedOrigins=http://localhost:5173",
            ],
        )
    }
}
