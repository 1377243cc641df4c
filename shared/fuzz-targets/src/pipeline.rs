//! The whole in-process pipeline: a Lambda HTTP event's bytes (API Gateway HTTP API 2.0, REST
//! 1.0, ALB), deserialised as the runtime does, through the guard and lambda_http's adapter the runtime uses (`answer_event`) into the area's
//! [`App`] (route, method, rate limit, content type, JSON, handler) and back out as the front end
//! reads the answer. No network: `greeter` is the real area; the others are [`Probe`]s, which
//! decode each route's body and answer, and fail like a dependency when the event asks them to.

use crate::shapes;
use lambda_http::request::LambdaRequest;
use lambda_http::{service_fn, Context, LambdaEvent, Request};
use redline_core::config::{load_from, ConfigSource};
use redline_core::error::{ApiError, Unavailable};
use redline_core::http::event::answer_event;
use redline_core::http::request::Incoming;
use redline_core::http::routes::{match_route, Match, RateGroup, RouteId};
use redline_core::http::{App, Function, Input, RateDecision, Reply};
use redline_core::Area;
use redline_events::Source;
use redline_greeter::Greeter;
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::HashMap;
use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::OnceLock;

const REQUEST_ID: &str = "8f6b7c1e-fuzz-4c1a-9d2e-000000000001";

/// Every status the contract gives (the health routes' 503 included).
const CONTRACT_STATUSES: [u16; 11] = [200, 400, 401, 403, 404, 405, 409, 415, 429, 500, 503];

/// A client IP ending in this digit meets a rate-limit store that is down (503)...
const STORE_DOWN: char = '5';
/// ...and one ending in this digit is over its limit (429).
const OVER_LIMIT: char = '9';

thread_local! {
    /// Whether this input's rate-limit store failed: the only 5xx the pipeline may answer.
    static STORE_FAILED: Cell<bool> = const { Cell::new(false) };
}

/// An area as the fuzz target sees it: only its `AREA` differs.
pub trait ProbeArea: Send + Sync + 'static {
    const AREA: Area;
}

macro_rules! probe_area {
    ($name:ident, $area:expr) => {
        pub struct $name;
        impl ProbeArea for $name {
            const AREA: Area = $area;
        }
    };
}
probe_area!(AuthArea, Area::Auth);
probe_area!(UsersArea, Area::Users);
probe_area!(HealthArea, Area::Health);

/// A stand-in for an area whose handlers need PostgreSQL or Redis: it decodes the route's body
/// and answers 200 with what it decoded.
pub struct Probe<A>(PhantomData<A>);

impl<A: ProbeArea> Function for Probe<A> {
    const AREA: Area = A::AREA;

    async fn rate_limit(
        &self,
        group: RateGroup,
        incoming: &Incoming,
    ) -> Result<Option<RateDecision>, ApiError> {
        if incoming.client_ip.ends_with(STORE_DOWN) {
            STORE_FAILED.set(true);
            return Err(Unavailable::Cache(format!("{} window: store down", group.name())).into());
        }
        let allowed = !incoming.client_ip.ends_with(OVER_LIMIT);
        Ok(Some(RateDecision {
            allowed,
            limit: 10,
            remaining: if allowed { 9 } else { 0 },
            reset: 60,
        }))
    }

    async fn call(&self, route: RouteId, input: &Input<'_>) -> Result<Reply, ApiError> {
        let filled = shapes::decode(route, input)?;
        Ok(Reply::ok(
            json!({ "route": format!("{route:?}"), "filled": filled }),
        ))
    }
}

struct Apps {
    auth: App<Probe<AuthArea>>,
    users: App<Probe<UsersArea>>,
    greeter: App<Greeter>,
    health: App<Probe<HealthArea>>,
}

fn apps() -> &'static Apps {
    static APPS: OnceLock<Apps> = OnceLock::new();
    APPS.get_or_init(|| {
        let vars = HashMap::from([("REDLINE_ENV".to_string(), "test".to_string())]);
        let config = load_from(&ConfigSource::Embedded, &vars).expect("the test configuration");
        Apps {
            auth: App::new(Probe(PhantomData)),
            users: App::new(Probe(PhantomData)),
            greeter: App::new(Greeter::build(config).expect("greeter builds")),
            health: App::new(Probe(PhantomData)),
        }
    })
}

/// As the HTTP API routes: a known method and path to its area, anything else to `$default`
/// (the health function).
async fn dispatch(request: Request) -> lambda_http::Response<lambda_http::Body> {
    let apps = apps();
    let area = match match_route(request.method().as_str(), request.uri().path()) {
        Match::Found { route, .. } => route.area,
        _ => Area::Health,
    };
    match area {
        Area::Auth => apps.auth.handle(request).await,
        Area::Users => apps.users.handle(request).await,
        Area::Greeter => apps.greeter.handle(request).await,
        Area::Health => apps.health.handle(request).await,
    }
}

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a tokio runtime")
    })
}

pub fn fuzz(data: &[u8]) {
    // What the runtime refuses to deserialise never reaches the function.
    let Ok(event) = serde_json::from_slice::<LambdaRequest>(data) else {
        return;
    };
    let source = match &event {
        LambdaRequest::ApiGatewayV2(_) => Source::HttpApiV2,
        LambdaRequest::Alb(_) => Source::Alb,
        _ => Source::RestV1,
    };
    let mut context = Context::default();
    context.request_id = REQUEST_ID.into();
    context.invoked_function_arn =
        "arn:aws:lambda:us-east-1:123456789012:function:fuzz:live".into();
    STORE_FAILED.set(false);
    let handler =
        service_fn(|request: Request| async { Ok::<_, Infallible>(dispatch(request).await) });
    let Ok(answer) = runtime().block_on(answer_event(handler, LambdaEvent::new(event, context)));
    let payload = serde_json::to_vec(&answer).expect("the answer serialises");
    let response = redline_events::response(source, &payload).expect("the front end accepts it");
    check(&response, STORE_FAILED.get());
}

/// The contract's promises about every answer.
fn check(response: &redline_events::Response, store_down: bool) {
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let status = response.status;
    assert!(CONTRACT_STATUSES.contains(&status), "status {status}");
    assert!(
        status < 500 || (status == 503 && store_down),
        "a server error without a dependency failure: {status} {:?}",
        String::from_utf8_lossy(&response.body)
    );
    assert_eq!(header("x-request-id"), Some(REQUEST_ID));
    assert_eq!(header("content-type"), Some("application/json"));
    assert_eq!(header("x-content-type-options"), Some("nosniff"));
    assert_eq!(header("x-frame-options"), Some("DENY"));
    assert_eq!(header("referrer-policy"), Some("no-referrer"));
    assert_eq!(header("cache-control"), Some("no-store"));
    let body: Value = serde_json::from_slice(&response.body).expect("a JSON body");
    if status >= 400 {
        assert_eq!(body["code"], status, "the envelope's code is the status");
        let reason = body["reason"].as_str().expect("a reason");
        assert!(
            !reason.is_empty() && reason.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
            "reason {reason:?}"
        );
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    match status {
        405 => assert!(header("allow").is_some(), "405 names the allowed methods"),
        429 => assert!(header("retry-after").is_some(), "429 says when to retry"),
        _ => {}
    }
}
