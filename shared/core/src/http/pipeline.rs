//! One request, start to finish, in the contract's precedence:
//! route → method → rate limit → content type → JSON → (bearer token, in the handler) → route.

use super::request::Incoming;
use super::response::{error_reply, finish, ExtraHeaders, Reply};
use super::routes::{match_route, Area, Match, RateGroup};
use crate::domain::rate_limit;
use crate::error::{ApiError, Unavailable};
use crate::handlers::{self, Input};
use crate::secrets::Freshness;
use crate::state::AppState;
use futures_util::FutureExt;
use lambda_http::{service_fn, Body, Request, Response};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

static COLD: AtomicBool = AtomicBool::new(true);

/// A function's request handler: the state built at cold start plus the shared pipeline.
#[derive(Clone)]
pub struct App {
    state: Arc<AppState>,
}

impl App {
    pub fn new(state: AppState) -> Self {
        App {
            state: Arc::new(state),
        }
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Hands this app to the Lambda runtime; returns only when the runtime stops.
    pub async fn serve(self) -> Result<(), lambda_http::Error> {
        lambda_http::run(service_fn(move |request: Request| {
            let app = self.clone();
            async move { Ok::<_, std::convert::Infallible>(app.handle(request).await) }
        }))
        .await
    }

    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let cold_start = COLD.swap(false, Ordering::Relaxed);
        let incoming = Incoming::from_lambda(request);
        let mut extra = ExtraHeaders::new();
        let mut route_name = "unmatched";
        let outcome = AssertUnwindSafe(self.respond(&incoming, &mut extra, &mut route_name))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(ApiError::internal("handler panicked")));
        let (reply, reason) = match outcome {
            Ok(reply) => (reply, None),
            Err(error) => {
                if error.is_server_fault() {
                    tracing::error!(
                        request_id = %incoming.request_id,
                        route = route_name,
                        error = %error,
                        "request failed"
                    );
                }
                let (reply, headers) = error_reply(&error);
                extra.extend(headers);
                (reply, Some(error.envelope().reason))
            }
        };
        let status = reply.status;
        tracing::info!(
            request_id = %incoming.request_id,
            apigw_request_id = incoming.apigw_request_id.as_deref().unwrap_or(""),
            cold_start,
            function = crate::telemetry::function_name(),
            version = crate::telemetry::function_version(),
            method = %incoming.method,
            route = route_name,
            status,
            reason = reason.unwrap_or(""),
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        finish(reply, extra, &incoming.request_id, incoming.https)
    }

    async fn respond(
        &self,
        incoming: &Incoming,
        extra: &mut ExtraHeaders,
        route_name: &mut &'static str,
    ) -> Result<Reply, ApiError> {
        let (route, params) = match match_route(&incoming.method, &incoming.path) {
            Match::NotFound => return Err(ApiError::NotFound),
            Match::MethodNotAllowed { allow } => return Err(ApiError::MethodNotAllowed { allow }),
            Match::Found { route, params } => (route, params),
        };
        *route_name = route.path;
        // Another function's route reaching this one is a routing mistake: answer as unknown.
        if route.area != self.state.area {
            return Err(ApiError::NotFound);
        }
        // Secrets past their grace period are not served; the health routes still answer (and
        // report them unhealthy).
        let freshness = self.state.sync_secrets().await;
        if freshness == Freshness::Expired && route.area != Area::Health {
            return Err(ApiError::Unavailable(Unavailable::Secrets(
                "cached secrets expired and could not be refreshed".into(),
            )));
        }
        if let Some(group) = route.rate_group {
            let limit = match group {
                RateGroup::Captcha => self.state.config.rate_limits.captcha,
                RateGroup::Login => self.state.config.rate_limits.login,
                RateGroup::Register => self.state.config.rate_limits.register,
            };
            let decision = rate_limit::check(
                self.state.cache()?,
                group.name(),
                &incoming.client_ip,
                limit,
            )
            .await?;
            extra.extend(decision.headers());
            if !decision.allowed {
                return Err(ApiError::RateLimited {
                    retry_after: decision.reset,
                });
            }
        }
        incoming.check_content_type()?;
        let body = incoming.json_object()?;
        let input = Input {
            incoming,
            body,
            params,
        };
        handlers::call(route.id, &self.state, &input).await
    }
}
