//! The four HTTP functions as the tests build them: each area's own state and handlers (the
//! same crates its binary links), behind one type so a test can route among them as the HTTP API
//! does.

use futures_util::future::BoxFuture;
use lambda_http::{Body, Request, Response};
use redline_auth::Auth;
use redline_core::config::{layered, Config, ConfigError, ConfigSource, Layered};
use redline_core::http::{App as AreaApp, Function};
use redline_core::init_error::InitError;
use redline_core::secrets::resolve;
use redline_core::Area;
use redline_greeter::Greeter;
use redline_health::Health;
use redline_stores::Db;
use redline_users::Users;
use std::collections::HashMap;
use std::sync::Arc;

type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Response<Body>> + Send + Sync>;

/// One function's request handler, whatever its area.
#[derive(Clone)]
pub struct App {
    handler: Handler,
    db: Option<Db>,
}

impl App {
    fn of<F: Function>(function: F, db: Option<Db>) -> Self {
        let app = AreaApp::new(function);
        App {
            handler: Arc::new(move |request| {
                let app = app.clone();
                Box::pin(async move { app.handle(request).await })
            }),
            db,
        }
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        (self.handler)(request).await
    }

    /// The function's PostgreSQL pool, for the areas that have one.
    pub fn db(&self) -> Option<&Db> {
        self.db.as_ref()
    }
}

/// Builds an area's function from a configuration of plain values, as its binary would.
pub fn build(config: Config, area: Area) -> Result<App, ConfigError> {
    Ok(match area {
        Area::Auth => {
            let auth = Auth::build(config)?;
            let db = auth.0.db().clone();
            App::of(auth, Some(db))
        }
        Area::Users => {
            let users = Users::build(config)?;
            let db = users.0.db().clone();
            App::of(users, Some(db))
        }
        Area::Greeter => App::of(Greeter::build(config)?, None),
        Area::Health => {
            let health = Health::build(config)?;
            let db = health.db().clone();
            App::of(health, Some(db))
        }
    })
}

/// An area's cold start from a layered configuration, secrets fetched as its binary would.
pub async fn open(layered: Layered, area: Area) -> Result<(), InitError> {
    let reach = redline_secrets_aws::REACH;
    match area {
        Area::Auth => drop(Auth::open(layered, reach).await?),
        Area::Users => drop(Users::open(layered, reach).await?),
        Area::Greeter => drop(Greeter::open(layered).await?),
        Area::Health => drop(Health::open(layered, reach).await?),
    }
    Ok(())
}

/// The configuration from an explicit source and variables, every reference fetched once (as
/// `migrate` resolves its own).
pub async fn load_resolved_from(
    source: &ConfigSource,
    vars: &HashMap<String, String>,
) -> Result<Config, InitError> {
    let layered = layered(source, vars)?;
    Ok(resolve(layered, redline_secrets_aws::REACH).await?)
}
