//! The `greeter` area, `GET /helloworld/{name}`: the smallest example of a function. It reads no
//! secret and connects to nothing, so its binary links no data store, no AWS SDK and no crypto.

use redline_core::config::{Config, ConfigError, Layered};
use redline_core::error::ApiError;
use redline_core::http::routes::RouteId;
use redline_core::http::{Function, Input, Reply};
use redline_core::init_error::InitError;
use redline_core::secrets::{resolve, Reach};
use redline_core::startup::Configured;
use redline_core::Area;
use serde_json::json;

pub struct Greeter {
    config: Config,
}

impl Greeter {
    pub fn build(config: Config) -> Result<Self, ConfigError> {
        Ok(Greeter { config })
    }

    /// Cold start: the configuration without the secret-backed values it never reads. A
    /// reference left over resolves from a local secrets file only: no Secrets Manager is linked.
    pub async fn open(mut layered: Layered) -> Result<Self, InitError> {
        Area::Greeter.needs().drop_unneeded(&mut layered.tree);
        let config = resolve(layered, Reach::LocalOnly).await?;
        Ok(Self::build(config)?)
    }
}

impl Configured for Greeter {
    fn config(&self) -> &Config {
        &self.config
    }
}

impl Function for Greeter {
    const AREA: Area = Area::Greeter;

    async fn call(&self, route: RouteId, input: &Input<'_>) -> Result<Reply, ApiError> {
        match route {
            RouteId::Hello => hello(input),
            _ => Err(ApiError::NotFound),
        }
    }
}

fn hello(input: &Input<'_>) -> Result<Reply, ApiError> {
    let name = input.param("name");
    if name.chars().count() > 64 {
        return Err(ApiError::Validation {
            field: "name",
            message: "name must be at most 64 characters",
        });
    }
    Ok(Reply::ok(json!({ "message": format!("Hello {name}") })))
}
