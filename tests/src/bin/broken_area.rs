//! Test-only: one real API area (`BROKEN_AREA`: auth, users, greeter or health) started as its
//! binary starts it, answering 500 on one route (`BROKEN_ROUTE`, e.g. `POST /api/v1/auth/refresh`)
//! and normally on every other. It is the "bad build" the traffic-hook tests deploy, so that no
//! fault switch ships in a product binary.

use redline_core::error::ApiError;
use redline_core::http::rate::RateDecision;
use redline_core::http::request::Incoming;
use redline_core::http::routes::{RateGroup, RouteId, ROUTES};
use redline_core::http::{App, Function, Input, Reply};
use redline_core::secrets::Freshness;
use redline_core::startup::{start, Configured};
use redline_core::Area;
use redline_secrets_aws::REACH;
use std::future::Future;

struct Broken<F> {
    inner: F,
    /// `METHOD /path-template` of the route that fails.
    route: String,
}

impl<F: Configured> Configured for Broken<F> {
    fn config(&self) -> &redline_core::config::Config {
        self.inner.config()
    }
}

impl<F: Function> Function for Broken<F> {
    const AREA: Area = F::AREA;

    fn sync_secrets(&self) -> impl Future<Output = Freshness> + Send {
        self.inner.sync_secrets()
    }

    fn rate_limit(
        &self,
        group: RateGroup,
        incoming: &Incoming,
    ) -> impl Future<Output = Result<Option<RateDecision>, ApiError>> + Send {
        self.inner.rate_limit(group, incoming)
    }

    async fn call(&self, route: RouteId, input: &Input<'_>) -> Result<Reply, ApiError> {
        let broken = ROUTES
            .iter()
            .any(|r| r.id == route && format!("{} {}", r.method, r.path) == self.route);
        if broken {
            return Err(ApiError::internal("broken on purpose"));
        }
        self.inner.call(route, input).await
    }
}

async fn serve<F: Function + Configured>(inner: F) -> Result<(), lambda_http::Error> {
    let route = std::env::var("BROKEN_ROUTE").unwrap_or_default();
    App::new(Broken { inner, route }).serve().await
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    match std::env::var("BROKEN_AREA").as_deref() {
        Ok("auth") => serve(start(|l| redline_auth::Auth::open(l, REACH)).await?).await,
        Ok("users") => serve(start(|l| redline_users::Users::open(l, REACH)).await?).await,
        Ok("greeter") => serve(start(redline_greeter::Greeter::open).await?).await,
        Ok("health") => serve(start(|l| redline_health::Health::open(l, REACH)).await?).await,
        other => Err(format!("BROKEN_AREA must name an area, not {other:?}").into()),
    }
}
