//! Port 3000: the template's HTTP API, as API Gateway serves it — routes to functions (through
//! their `live` alias, as the template's integrations invoke it, split by its weights), the
//! `$default` route, CORS from `CorsConfiguration`, and the platform's own failure answers. Each
//! routed request is logged with the version that answered it.

use crate::functions::{Functions, LIVE};
use crate::http::{self, HttpRequest, HttpResponse};
use crate::output::say;
use crate::pool::{Caller, Outcome};
use crate::trace::Trace;
use bytes::Bytes;
use redline_events::Route;
use redline_template::{ApiKind, RouteSpec};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, Default)]
pub struct Cors {
    pub origins: Vec<String>,
    pub methods: Vec<String>,
    pub headers: Vec<String>,
    pub expose: Vec<String>,
    pub max_age: Option<u64>,
    pub credentials: bool,
}

impl Cors {
    fn allowed_origin(&self, origin: &str) -> Option<String> {
        if self.origins.iter().any(|o| o == "*") {
            return Some(if self.credentials {
                origin.to_string()
            } else {
                "*".into()
            });
        }
        self.origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin))
            .then(|| origin.to_string())
    }
}

pub struct Gateway {
    router: matchit::Router<Vec<usize>>,
    routes: Vec<RouteSpec>,
    default_route: Option<usize>,
    functions: Arc<Functions>,
    cors: Option<Cors>,
    port: u16,
    /// API Gateway's integration limit: past it the client gets 503 whatever the function does.
    integration_timeout: Duration,
}

/// SAM's `{proxy+}` is a greedy parameter: matchit writes it `{*proxy}`.
fn matchit_path(path: &str) -> String {
    path.split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix("+}")) {
                Some(name) => format!("{{*{name}}}"),
                None => segment.to_string(),
            },
        )
        .collect::<Vec<_>>()
        .join("/")
}

impl Gateway {
    pub fn new(
        routes: Vec<RouteSpec>,
        functions: Arc<Functions>,
        cors: Option<Cors>,
        port: u16,
        integration_timeout: Duration,
    ) -> Result<Self, String> {
        let mut router = matchit::Router::new();
        let mut by_path: Vec<(String, Vec<usize>)> = Vec::new();
        let mut default_route = None;
        for (index, route) in routes.iter().enumerate() {
            match &route.path {
                None => default_route = Some(index),
                Some(path) => {
                    let key = matchit_path(path);
                    match by_path.iter_mut().find(|(p, _)| *p == key) {
                        Some((_, indexes)) => indexes.push(index),
                        None => by_path.push((key, vec![index])),
                    }
                }
            }
        }
        for (path, indexes) in by_path {
            router
                .insert(path.clone(), indexes)
                .map_err(|e| format!("route {path}: {e}"))?;
        }
        Ok(Gateway {
            router,
            routes,
            default_route,
            functions,
            cors,
            port,
            integration_timeout,
        })
    }

    fn find(&self, method: &str, path: &str) -> Option<(usize, Vec<(String, String)>)> {
        if let Ok(found) = self.router.at(path) {
            let chosen = found
                .value
                .iter()
                .find(|&&i| self.routes[i].method == method)
                .or_else(|| {
                    found
                        .value
                        .iter()
                        .find(|&&i| self.routes[i].method == "ANY")
                });
            if let Some(&index) = chosen {
                let params = found
                    .params
                    .iter()
                    .map(|(k, v)| {
                        let decoded = percent_encoding::percent_decode_str(v).decode_utf8_lossy();
                        (k.to_string(), decoded.into_owned())
                    })
                    .collect();
                return Some((index, params));
            }
        }
        self.default_route.map(|index| (index, Vec::new()))
    }

    pub async fn handle(&self, request: HttpRequest) -> HttpResponse {
        let origin = request
            .headers
            .iter()
            .find(|(k, _)| k == "origin")
            .map(|(_, v)| v.clone());
        let is_preflight = request.method == "OPTIONS"
            && origin.is_some()
            && request
                .headers
                .iter()
                .any(|(k, _)| k == "access-control-request-method");
        if let (true, Some(cors)) = (is_preflight, &self.cors) {
            return self.preflight(cors, origin.as_deref().unwrap_or_default());
        }
        let mut response = self.route(request).await;
        if let (Some(cors), Some(origin)) = (&self.cors, origin) {
            add_cors(cors, &origin, &mut response);
        }
        response
    }

    fn preflight(&self, cors: &Cors, origin: &str) -> HttpResponse {
        let mut response = HttpResponse {
            status: 204,
            headers: Vec::new(),
            body: Bytes::new(),
        };
        if let Some(allowed) = cors.allowed_origin(origin) {
            let headers = &mut response.headers;
            headers.push(("access-control-allow-origin".into(), allowed));
            headers.push((
                "access-control-allow-methods".into(),
                cors.methods.join(","),
            ));
            headers.push((
                "access-control-allow-headers".into(),
                cors.headers.join(","),
            ));
            if let Some(max_age) = cors.max_age {
                headers.push(("access-control-max-age".into(), max_age.to_string()));
            }
            if cors.credentials {
                headers.push(("access-control-allow-credentials".into(), "true".into()));
            }
        }
        response
    }

    async fn route(&self, mut request: HttpRequest) -> HttpResponse {
        let path = request.path.clone();
        let Some((index, params)) = self.find(&request.method, &path) else {
            return HttpResponse::json(404, r#"{"message":"Not Found"}"#);
        };
        let route = &self.routes[index];
        let target = self
            .functions
            .by_logical_id(&route.function)
            .map(|function| function.resolve(Some(LIVE)));
        let Some(Ok(target)) = target else {
            return HttpResponse::json(500, r#"{"message":"Internal Server Error"}"#);
        };
        let (pool, version) = (target.pool, target.version);
        let caller = Caller {
            invoked_arn: Some(target.invoked_arn),
            ..Caller::default()
        };
        let route_key = match &route.path {
            Some(p) => format!("{} {p}", route.method),
            None => "$default".into(),
        };
        let matched = Route {
            key: &route_key,
            resource: route.path.as_deref(),
            path_parameters: &params,
        };
        let trace = traced(&mut request);
        let event = http::event(route.kind, &request, &matched, self.port);
        let payload = Bytes::from(serde_json::to_vec(&event).expect("events serialise"));
        let started = std::time::Instant::now();
        // The invocation runs on: past the integration limit only the client stops waiting.
        let invocation = tokio::spawn(async move { pool.invoke(payload, &trace, caller).await });
        let response = match tokio::time::timeout(self.integration_timeout, invocation).await {
            Ok(Ok(outcome)) => answer(route.kind, outcome),
            Ok(Err(_)) => platform_error(route.kind, 500),
            Err(_) => platform_error(route.kind, 503),
        };
        // One line per routed request naming the version that answered: with weights on
        // `live`, the only place to see which version served whom. The route key, not the path:
        // a path parameter may be a user's identifier, which has no place in the runner's log.
        say(&format!(
            "answered {route_key} with {} from {} version {version} in {:.1} ms",
            response.status,
            route.function,
            started.elapsed().as_secs_f64() * 1000.0
        ));
        response
    }
}

/// What API Gateway answers for an invocation's outcome.
fn answer(kind: ApiKind, outcome: Outcome) -> HttpResponse {
    match outcome {
        Outcome::Success { body, .. } => {
            http::response(kind, &body).unwrap_or_else(|_| platform_error(kind, 500))
        }
        Outcome::Throttled => HttpResponse::json(429, r#"{"message":"Too Many Requests"}"#),
        Outcome::Timeout { .. } if kind == ApiKind::Rest => platform_error(kind, 504),
        _ => platform_error(kind, 500),
    }
}

/// The request's trace, continuing its `X-Amzn-Trace-Id` Root when it has one, and the header
/// as API Gateway passes it to the function in the event (replacing the client's).
fn traced(request: &mut HttpRequest) -> Trace {
    let incoming = redline_events::request::header(&request.headers, "x-amzn-trace-id");
    let trace = Trace::continuing(incoming);
    request
        .headers
        .retain(|(name, _)| name != "x-amzn-trace-id");
    request
        .headers
        .push(("x-amzn-trace-id".into(), trace.event_header()));
    trace
}

/// What API Gateway itself answers when the integration fails.
fn platform_error(kind: ApiKind, status: u16) -> HttpResponse {
    match (kind, status) {
        (ApiKind::Http, 503) => HttpResponse::json(503, r#"{"message":"Service Unavailable"}"#),
        (ApiKind::Http, _) => HttpResponse::json(500, r#"{"message":"Internal Server Error"}"#),
        (ApiKind::Rest, 503 | 504) => {
            HttpResponse::json(504, r#"{"message": "Endpoint request timed out"}"#)
        }
        (ApiKind::Rest, _) => HttpResponse::json(502, r#"{"message": "Internal server error"}"#),
    }
}

fn add_cors(cors: &Cors, origin: &str, response: &mut HttpResponse) {
    let Some(allowed) = cors.allowed_origin(origin) else {
        return;
    };
    // API Gateway's CORS headers replace any the function set.
    response
        .headers
        .retain(|(k, _)| !k.starts_with("access-control-"));
    response
        .headers
        .push(("access-control-allow-origin".into(), allowed));
    if !cors.expose.is_empty() {
        response.headers.push((
            "access-control-expose-headers".into(),
            cors.expose.join(","),
        ));
    }
    if cors.credentials {
        response
            .headers
            .push(("access-control-allow-credentials".into(), "true".into()));
    }
    response.headers.push(("vary".into(), "origin".into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(method: &str, path: Option<&str>, function: &str) -> RouteSpec {
        RouteSpec {
            kind: ApiKind::Http,
            method: method.into(),
            path: path.map(str::to_string),
            function: function.into(),
        }
    }

    fn gateway() -> Gateway {
        Gateway::new(
            vec![
                route("GET", Some("/users/me"), "Users"),
                route("DELETE", Some("/users/me"), "Users"),
                route("GET", Some("/hello/{name}"), "Greeter"),
                route("ANY", Some("/files/{path+}"), "Files"),
                route("ANY", None, "Health"),
            ],
            Arc::new(Functions::new(Vec::new())),
            Some(Cors {
                origins: vec!["http://localhost:5173".into()],
                methods: vec!["GET".into(), "POST".into()],
                headers: vec!["Authorization".into()],
                max_age: Some(600),
                ..Cors::default()
            }),
            3000,
            Duration::from_secs(30),
        )
        .unwrap()
    }

    #[test]
    fn routes_by_method_and_path_then_default() {
        let g = gateway();
        assert_eq!(g.find("DELETE", "/users/me").unwrap().0, 1);
        let (index, params) = g.find("GET", "/hello/Ada%20L").unwrap();
        assert_eq!((index, params), (2, vec![("name".into(), "Ada L".into())]));
        assert_eq!(g.find("PUT", "/files/a/b/c").unwrap().0, 3);
        // Known path, other method, and unknown paths go to $default.
        assert_eq!(g.find("PUT", "/users/me").unwrap().0, 4);
        assert_eq!(g.find("GET", "/nope").unwrap().0, 4);
    }

    #[test]
    fn preflight_answers_allowed_origins_only() {
        let g = gateway();
        let cors = g.cors.clone().unwrap();
        let allowed = g.preflight(&cors, "http://localhost:5173");
        assert_eq!(allowed.status, 204);
        assert!(allowed.headers.contains(&(
            "access-control-allow-origin".into(),
            "http://localhost:5173".into()
        )));
        assert!(allowed
            .headers
            .contains(&("access-control-max-age".into(), "600".into())));
        let denied = g.preflight(&cors, "http://evil.example");
        assert!(denied.headers.is_empty());
    }

    fn request(headers: Vec<(String, String)>) -> HttpRequest {
        HttpRequest {
            method: "GET".into(),
            path: "/".into(),
            query: String::new(),
            headers,
            body: Bytes::new(),
            source_ip: "127.0.0.1".into(),
        }
    }

    #[test]
    fn the_event_carries_the_trace_and_an_incoming_root_is_kept() {
        let root = "1-5759e988-bd862e3fe1be46a994272793";
        let mut incoming = request(vec![
            ("x-amzn-trace-id".into(), format!("Root={root};Sampled=0")),
            ("accept".into(), "*/*".into()),
        ]);
        let trace = traced(&mut incoming);
        assert_eq!(trace.root(), root);
        let headers: Vec<&(String, String)> = incoming
            .headers
            .iter()
            .filter(|(name, _)| name == "x-amzn-trace-id")
            .collect();
        assert_eq!(
            headers,
            [&("x-amzn-trace-id".to_string(), format!("Root={root}"))]
        );
        assert!(trace
            .runtime_header()
            .starts_with(&format!("Root={root};Parent=")));
        let mut fresh = request(Vec::new());
        let trace = traced(&mut fresh);
        assert_ne!(trace.root(), root);
        assert_eq!(
            fresh.headers,
            vec![("x-amzn-trace-id".to_string(), trace.event_header())]
        );
    }
}
