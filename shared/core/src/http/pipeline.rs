//! One request, start to finish, in the contract's precedence:
//! route → method → rate limit → content type → JSON → (bearer token, in the handler) → route.
//!
//! The pipeline is shared; what differs per area is a [`Function`], chosen at compile time by
//! the area's binary, so a binary links its own handlers and stores and nobody else's.

use super::event::answer_event;
use super::input::Input;
use super::rate::RateDecision;
use super::request::Incoming;
use super::response::{error_reply, finish, ExtraHeaders, Reply};
use super::routes::{match_route, Match, RateGroup, RouteId};
use crate::area::Area;
use crate::error::{ApiError, Unavailable};
use crate::invocation::{self, Invocation};
use crate::metrics::{self, RequestRecord};
use crate::secrets::Freshness;
use crate::telemetry;
use futures_util::FutureExt;
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Body, LambdaEvent, Request, Response};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static COLD: AtomicBool = AtomicBool::new(true);

/// The route dimension of a request no route matched, as API Gateway names its catch-all.
pub const UNMATCHED: &str = "$default";

/// What an area adds to the pipeline: its state, its secrets' freshness, its rate limits and its
/// routes.
pub trait Function: Send + Sync + 'static {
    const AREA: Area;

    /// Called before each matched request: refreshes secrets whose TTL has passed.
    fn sync_secrets(&self) -> impl Future<Output = Freshness> + Send {
        async { Freshness::Fresh }
    }

    /// Counts a request against its route group's per-IP window. Areas whose routes have no
    /// rate group keep the default.
    fn rate_limit(
        &self,
        _group: RateGroup,
        _incoming: &Incoming,
    ) -> impl Future<Output = Result<Option<RateDecision>, ApiError>> + Send {
        async { Ok(None) }
    }

    /// Runs the route's handler.
    fn call(
        &self,
        route: RouteId,
        input: &Input<'_>,
    ) -> impl Future<Output = Result<Reply, ApiError>> + Send;
}

/// A finished request, before it becomes a response.
struct Answer {
    reply: Reply,
    /// The error envelope's reason; empty on success.
    reason: &'static str,
    /// A server fault's cause chain, for the log line only.
    fault: Option<String>,
    extra: ExtraHeaders,
    /// The route template; `$default` when no route matched (never the raw path, which can
    /// hold personal data).
    route: &'static str,
}

/// The invocation's `request` log line, then its EMF document.
fn record(incoming: &Incoming, answer: &Answer, area: Area, latency: Duration, cold_start: bool) {
    let version = telemetry::function_version();
    let status = answer.reply.status;
    let api_request_id = incoming.apigw_request_id.as_deref().unwrap_or("");
    let latency_ms = latency.as_secs_f64() * 1000.0;
    let fields = (
        area.function_name(),
        version.as_str(),
        incoming.method.as_str(),
    );
    match &answer.fault {
        None => tracing::info!(
            apiRequestId = api_request_id,
            function = fields.0,
            version = fields.1,
            coldStart = cold_start,
            method = fields.2,
            route = answer.route,
            status,
            reason = answer.reason,
            latencyMs = latency_ms,
            "request"
        ),
        Some(error) => tracing::error!(
            apiRequestId = api_request_id,
            function = fields.0,
            version = fields.1,
            coldStart = cold_start,
            method = fields.2,
            route = answer.route,
            status,
            reason = answer.reason,
            latencyMs = latency_ms,
            error = error.as_str(),
            "request"
        ),
    }
    invocation::with(|context| {
        metrics::request(&RequestRecord {
            function: area.function_name(),
            version: &version,
            route: answer.route,
            request_id: &context.request_id,
            trace_id: context.trace_id.as_deref(),
            status,
            reason: answer.reason,
            latency,
            cold_start,
            tally: &context.tally.borrow(),
        })
    });
}

/// A function's request handler: the state built at cold start plus the shared pipeline.
pub struct App<F> {
    function: Arc<F>,
}

impl<F> Clone for App<F> {
    fn clone(&self) -> Self {
        App {
            function: self.function.clone(),
        }
    }
}

impl<F: Function> App<F> {
    pub fn new(function: F) -> Self {
        App {
            function: Arc::new(function),
        }
    }

    pub fn function(&self) -> &F {
        &self.function
    }

    /// Hands this app to the Lambda runtime; returns only when the runtime stops.
    pub async fn serve(self) -> Result<(), lambda_http::Error> {
        let handler = service_fn(move |request: Request| {
            let app = self.clone();
            async move { Ok::<_, std::convert::Infallible>(app.handle(request).await) }
        });
        lambda_runtime::run(service_fn(move |event: LambdaEvent<LambdaRequest>| {
            answer_event(handler.clone(), event)
        }))
        .await
    }

    /// One invocation: the response, one `request` log line and one EMF document.
    pub async fn handle(&self, request: Request) -> Response<Body> {
        let started = Instant::now();
        let cold_start = COLD.swap(false, Ordering::Relaxed);
        let incoming = Incoming::from_lambda(request);
        let context = Invocation::new(
            incoming.request_id.clone(),
            incoming.trace_header.as_deref(),
        );
        let (response, _) = invocation::scope(context, async {
            let answer = self.answer(&incoming).await;
            record(&incoming, &answer, F::AREA, started.elapsed(), cold_start);
            finish(
                answer.reply,
                answer.extra,
                &incoming.request_id,
                incoming.https,
            )
        })
        .await;
        response
    }

    /// The reply, and what the request line and the metrics say about it.
    async fn answer(&self, incoming: &Incoming) -> Answer {
        let mut extra = ExtraHeaders::new();
        let mut route = UNMATCHED;
        let outcome = AssertUnwindSafe(self.respond(incoming, &mut extra, &mut route))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(ApiError::internal("handler panicked")));
        match outcome {
            Ok(reply) => Answer {
                reply,
                reason: "",
                fault: None,
                extra,
                route,
            },
            Err(error) => {
                let (reply, headers) = error_reply(&error);
                extra.extend(headers);
                Answer {
                    reply,
                    reason: error.envelope().reason,
                    fault: error.is_server_fault().then(|| error.to_string()),
                    extra,
                    route,
                }
            }
        }
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
        if route.area != F::AREA {
            return Err(ApiError::NotFound);
        }
        // Secrets past their grace period are not served; the health routes still answer (and
        // report them unhealthy).
        let freshness = self.function.sync_secrets().await;
        if freshness == Freshness::Expired && route.area != Area::Health {
            return Err(ApiError::Unavailable(Unavailable::Secrets(
                "cached secrets expired and could not be refreshed".into(),
            )));
        }
        if let Some(group) = route.rate_group {
            if let Some(decision) = self.function.rate_limit(group, incoming).await? {
                extra.extend(decision.headers());
                if !decision.allowed {
                    return Err(ApiError::RateLimited {
                        retry_after: decision.reset,
                    });
                }
            }
        }
        incoming.check_content_type()?;
        let body = incoming.json_object()?;
        let input = Input {
            incoming,
            body,
            params,
        };
        self.function.call(route.id, &input).await
    }
}
