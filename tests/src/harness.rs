//! An isolated deployment per test: its own database (migrated), its own Redis key prefix, its
//! own client IP, and the four HTTP functions built from the real configuration loader.

use crate::areas::{self, App};
use crate::events::{TestRequest, TestResponse};
use crate::servers::{unique_prefix, TestDatabase};
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Context, LambdaEvent, Request};
use redline_core::config::{self, Config, ConfigSource};
use redline_core::http::event::answer_event;
use redline_core::http::request::SMOKE_CONTEXT_KEY;
use redline_core::http::routes::{match_route, Match};
use redline_core::Area;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};

/// The captcha code every test deployment issues unless a test says otherwise.
pub const FIXED_CODE: &str = "T3ST42";

pub struct TestEnv {
    pub db: TestDatabase,
    pub prefix: String,
    vars: HashMap<String, String>,
}

impl TestEnv {
    /// A fresh database (migrated) and key prefix, `REDLINE_ENV=test`, a fixed captcha code.
    pub async fn new() -> Self {
        Self::with(&[]).await
    }

    /// As [`TestEnv::new`], with `REDLINE__…` overrides (`("AUTH__CAPTCHA__TTL", "2s")`).
    pub async fn with(overrides: &[(&str, &str)]) -> Self {
        Self::on(TestDatabase::create().await, overrides).await
    }

    /// A deployment on a given database (e.g. on a cluster the test owns and will stop).
    pub async fn on(db: TestDatabase, overrides: &[(&str, &str)]) -> Self {
        let prefix = unique_prefix();
        let mut vars = HashMap::new();
        vars.insert("REDLINE_ENV".to_string(), "test".to_string());
        vars.insert("REDLINE__DATABASE__DBNAME".into(), db.name().to_string());
        vars.insert("REDLINE__DATABASE__HOST".into(), db.host().to_string());
        vars.insert("REDLINE__DATABASE__PORT".into(), db.port().to_string());
        vars.insert("REDLINE__DATABASE__USER".into(), db.user().to_string());
        // Roles are cluster-wide: each test database gets its own application role.
        vars.insert("REDLINE__DATABASE__APP_USER".into(), db.app_role());
        vars.insert("REDLINE__REDIS__KEY_PREFIX".into(), prefix.clone());
        vars.insert(
            "REDLINE__AUTH__CAPTCHA__FIXED_CODE".into(),
            FIXED_CODE.into(),
        );
        for (key, value) in overrides {
            vars.insert(format!("REDLINE__{key}"), value.to_string());
        }
        let env = TestEnv { db, prefix, vars };
        env.migrate().await;
        env
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.vars
            .insert(format!("REDLINE__{key}"), value.to_string());
    }

    pub fn unset(&mut self, key: &str) {
        self.vars.remove(&format!("REDLINE__{key}"));
    }

    /// The configuration migrate gets: logged in as the database's owner.
    pub fn config(&self) -> Result<Config, config::ConfigError> {
        config::load_from(&ConfigSource::Embedded, &self.vars)
    }

    /// The configuration the API functions get: logged in as the application role (the login
    /// of its own secret in AWS), which migrate created and granted.
    pub fn app_config(&self) -> Result<Config, config::ConfigError> {
        let mut config = self.config()?;
        config.database.user = config.database.app_user.clone();
        config.database.password = config.database.app_password.clone();
        Ok(config)
    }

    pub async fn migrate(&self) {
        let config = self.config().expect("test configuration loads");
        redline_stores::migrator::Migrator::new(&config)
            .expect("migrator builds")
            .run()
            .await
            .expect("migrations apply");
    }

    /// One function, logged in as the application role.
    pub fn app(&self, area: Area) -> App {
        let config = self.app_config().expect("test configuration loads");
        areas::build(config, area).expect("state builds")
    }

    /// All four HTTP functions behind an HTTP API-like router.
    pub fn api(&self) -> Api {
        Api {
            auth: self.app(Area::Auth),
            users: self.app(Area::Users),
            greeter: self.app(Area::Greeter),
            health: self.app(Area::Health),
        }
    }

    /// A Redis connection to the shared server, for tests that inspect keys.
    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open("redis://127.0.0.1:6379")
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .expect("shared Redis reachable")
    }

    /// The variables that point a function process (under the runner or the emulator) at this
    /// deployment: `test` configuration, its database, key prefix and fixed captcha code.
    pub fn runner_variables(&self) -> Value {
        json!({
            "REDLINE_ENV": "test",
            "REDLINE__DATABASE__DBNAME": self.db.name(),
            "REDLINE__DATABASE__HOST": self.db.host(),
            "REDLINE__DATABASE__PORT": self.db.port().to_string(),
            "REDLINE__DATABASE__USER": self.db.user(),
            "REDLINE__DATABASE__APP_USER": self.db.app_role(),
            "REDLINE__REDIS__KEY_PREFIX": self.prefix,
            "REDLINE__AUTH__CAPTCHA__FIXED_CODE": FIXED_CODE,
        })
    }

    /// The env-vars sections that log the API functions in as the application role (as their
    /// own secret does in AWS): on top of [`TestEnv::runner_variables`], which logs migrate in as
    /// the owner.
    pub fn runner_app_logins(&self) -> serde_json::Map<String, Value> {
        let config = self.app_config().expect("test configuration loads");
        let login = json!({
            "REDLINE__DATABASE__USER": config.database.user,
            "REDLINE__DATABASE__PASSWORD": config.database.password.expose(),
        });
        redline_core::needs::FUNCTIONS
            .iter()
            .filter(|needs| needs.area.is_some() && needs.database)
            .map(|needs| (needs.logical_id.to_string(), login.clone()))
            .collect()
    }

    /// Every message in this deployment's development outbox.
    pub async fn outbox(&self) -> Vec<Value> {
        let mut conn = self.redis().await;
        let items: Vec<String> = redis::cmd("LRANGE")
            .arg(format!("{}outbox", self.prefix))
            .arg(0)
            .arg(-1)
            .query_async(&mut conn)
            .await
            .unwrap();
        items
            .iter()
            .map(|s| serde_json::from_str(s).unwrap())
            .collect()
    }
}

static REQUEST_COUNTER: AtomicU64 = AtomicU64::new(1);

fn next_request_id() -> String {
    let n = REQUEST_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "8f2c1d9e-0000-4000-8000-{:012x}",
        n + std::process::id() as u64 * 1_000_000
    )
}

/// Invokes one function with the event a request becomes, through lambda_http's own event
/// parsing and response serialisation, as the runtime would.
pub async fn invoke(app: &App, request: &TestRequest) -> TestResponse {
    let request_id = next_request_id();
    let event = request.to_event(&request_id);
    let context = request
        .smoke_signature
        .as_ref()
        .map(|signature| json!({ "custom": { SMOKE_CONTEXT_KEY: signature } }));
    let app = app.clone();
    invoke_handler_with(
        move |req: Request| {
            let app = app.clone();
            async move { app.handle(req).await }
        },
        event,
        &request_id,
        context,
    )
    .await
}

pub async fn invoke_event(app: &App, event: Value, request_id: &str) -> TestResponse {
    let app = app.clone();
    invoke_handler(
        move |req: Request| {
            let app = app.clone();
            async move { app.handle(req).await }
        },
        event,
        request_id,
    )
    .await
}

/// Any `lambda_http` handler, driven the same way (benchmarks compare against a bare one).
pub async fn invoke_handler<F, Fut>(handler: F, event: Value, request_id: &str) -> TestResponse
where
    F: Fn(Request) -> Fut + Send + Clone + 'static,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'static,
{
    invoke_handler_with(handler, event, request_id, None).await
}

/// As [`invoke_handler`], with the client context a direct `Invoke` may carry.
pub async fn invoke_handler_with<F, Fut>(
    handler: F,
    event: Value,
    request_id: &str,
    client_context: Option<Value>,
) -> TestResponse
where
    F: Fn(Request) -> Fut + Send + Clone + 'static,
    Fut: std::future::Future<Output = lambda_http::Response<lambda_http::Body>> + Send + 'static,
{
    let payload: LambdaRequest = serde_json::from_value(event).expect("a valid Lambda HTTP event");
    let mut context = Context::default();
    context.request_id = request_id.to_string();
    context.deadline = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 30_000) as u64;
    // As the runtime parses the `Lambda-Runtime-Client-Context` header (the type is not
    // exported).
    context.client_context =
        client_context.map(|c| serde_json::from_value(c).expect("a client context"));
    context.invoked_function_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:redline-test:live".into();
    // As `App::serve` hands an event over: the conversion guard, then lambda_http's adapter.
    let service = service_fn(move |req: Request| {
        let handler = handler.clone();
        async move { Ok::<_, Infallible>(handler(req).await) }
    });
    let Ok(response) = answer_event(service, LambdaEvent::new(payload, context)).await;
    TestResponse::from_lambda_json(serde_json::to_value(response).unwrap())
}

pub struct Api {
    pub auth: App,
    pub users: App,
    pub greeter: App,
    pub health: App,
}

impl Api {
    /// Routes as the HTTP API does: a known method and path to its function, anything else to
    /// the `$default` route (the health function).
    pub async fn send(&self, request: TestRequest) -> TestResponse {
        let app = match match_route(&request.method, &request.path) {
            Match::Found { route, .. } => match route.area {
                Area::Auth => &self.auth,
                Area::Users => &self.users,
                Area::Greeter => &self.greeter,
                Area::Health => &self.health,
            },
            _ => &self.health,
        };
        invoke(app, &request).await
    }

    /// Registers with the fixed captcha; panics unless the answer is 200.
    pub async fn register(&self, username: &str, password: &str, email: &str, phone: Option<&str>) {
        let captcha_id = self.image_captcha().await;
        let mut body = json!({
            "username": username, "password": password, "email": email,
            "captcha_id": captcha_id, "captcha_code": FIXED_CODE,
        });
        if let Some(phone) = phone {
            body["phone"] = json!(phone);
        }
        self.send(TestRequest::post("/api/v1/auth/register").json(body))
            .await
            .expect(200, "");
    }

    pub async fn image_captcha(&self) -> String {
        let response = self
            .send(TestRequest::get("/api/v1/auth/captcha").query("captcha_type", "image"))
            .await;
        response.expect(200, "");
        response.body["captcha_id"].as_str().unwrap().to_string()
    }

    /// A login attempt with a fresh fixed-code captcha.
    pub async fn login(&self, username: &str, password: &str) -> TestResponse {
        self.login_with(json!({ "username": username, "password": password }))
            .await
    }

    pub async fn login_with(&self, mut body: Value) -> TestResponse {
        if body.get("captcha_id").is_none() {
            body["captcha_id"] = json!(self.image_captcha().await);
            body["captcha_code"] = json!(FIXED_CODE);
        }
        self.send(TestRequest::post("/api/v1/auth/login").json(body))
            .await
    }

    /// Registers and logs in; returns (access, refresh).
    pub async fn signed_in(&self, username: &str) -> (String, String) {
        let email = format!("{}@example.com", username.to_lowercase());
        self.register(username, "passw0rd!", &email, None).await;
        let response = self.login(username, "passw0rd!").await;
        response.expect(200, "");
        (
            response.body["access_token"].as_str().unwrap().to_string(),
            response.body["refresh_token"].as_str().unwrap().to_string(),
        )
    }
}

/// Rate windows are fixed 60 s windows: a test that counts requests starts well inside one.
pub async fn wait_for_fresh_rate_window() {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now % 60 > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(61 - now % 60)).await;
    }
}
