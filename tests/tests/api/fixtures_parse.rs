//! Every Lambda event fixture in `tests/fixtures/events/` parses with lambda_http into the
//! request we expect: method, URI path (lambda_http puts a stage other than `$default` in front of
//! the path), client address, and the parts each fixture exists for.
//!
//! The `sam-local-*` files come from `scripts/gen-sam-fixtures.py` (the event builder of
//! `sam local start-api`); the others follow the AWS documentation's payload shapes.

use lambda_http::request::{LambdaRequest, RequestContext, RequestOrigin};
use lambda_http::{Body, Request, RequestExt};
use std::path::PathBuf;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures/events")
}

fn load(name: &str) -> String {
    let path = events_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The fixture as lambda_http's `LambdaRequest` (what the runtime deserialises) and as the
/// `http::Request` a handler sees.
fn parse(name: &str) -> (LambdaRequest, Request) {
    let json = load(name);
    let raw: LambdaRequest =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{name}: not a LambdaRequest: {e}"));
    let request = lambda_http::request::from_str(&json)
        .unwrap_or_else(|e| panic!("{name}: lambda_http::request::from_str failed: {e}"));
    (raw, request)
}

/// Client address as the request context reports it (API Gateway and Function URLs; an ALB
/// event has none, the client is in `x-forwarded-for`).
fn source_ip(request: &Request) -> Option<String> {
    match request.request_context_ref()? {
        RequestContext::ApiGatewayV1(ctx) => ctx.identity.source_ip.clone(),
        RequestContext::ApiGatewayV2(ctx) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

fn body_text(request: &Request) -> String {
    match request.body() {
        Body::Empty => String::new(),
        Body::Text(text) => text.clone(),
        Body::Binary(bytes) => String::from_utf8(bytes.clone()).expect("UTF-8 body"),
        other => panic!("unexpected body {other:?}"),
    }
}

fn body_json(request: &Request) -> serde_json::Value {
    serde_json::from_str(&body_text(request)).expect("JSON body")
}

fn query(request: &Request, key: &str) -> Option<String> {
    request
        .query_string_parameters_ref()
        .and_then(|q| q.first(key))
        .map(str::to_string)
}

/// Every fixture this file knows; a new fixture must be added here (and get its own test).
const KNOWN: &[&str] = &[
    "sam-local-v1-post-login.json",
    "sam-local-v2-get-lock-status.json",
    "sam-local-v2-post-register.json",
    "apigw-v2-get-users-me.json",
    "apigw-v2-stage-prefix.json",
    "apigw-v1-get-health-live.json",
    "alb-get-helloworld.json",
    "function-url-post-refresh.json",
];

#[test]
fn every_fixture_is_known_and_parses() {
    let mut found: Vec<String> = std::fs::read_dir(events_dir())
        .expect("fixtures/events exists")
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    found.sort();
    let mut known: Vec<String> = KNOWN.iter().map(|s| s.to_string()).collect();
    known.sort();
    assert_eq!(found, known, "fixtures on disk vs. fixtures tested here");
    for name in KNOWN {
        parse(name);
    }
}

#[test]
fn sam_local_v1_post_login() {
    let (raw, req) = parse("sam-local-v1-post-login.json");
    assert!(matches!(raw.request_origin(), RequestOrigin::ApiGatewayV1));
    assert_eq!(req.method(), "POST");
    // Stage "Prod" is not in SAM's `path`; lambda_http puts it in front.
    assert_eq!(req.uri().path(), "/Prod/api/v1/auth/login");
    assert_eq!(req.raw_http_path(), "/api/v1/auth/login");
    assert_eq!(source_ip(&req).as_deref(), Some("127.0.0.1"));
    assert_eq!(header(&req, "content-type"), Some("application/json"));
    assert_eq!(query(&req, "lang").as_deref(), Some("en"));
    assert_eq!(query(&req, "remember").as_deref(), Some("true"));
    assert_eq!(body_json(&req)["email"], "alice@example.com");
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV1(ctx)) => {
            assert_eq!(ctx.stage.as_deref(), Some("Prod"));
            assert_eq!(ctx.resource_path.as_deref(), Some("/api/v1/auth/login"));
        }
        other => panic!("unexpected context {other:?}"),
    }
}

#[test]
fn sam_local_v2_get_lock_status() {
    let (raw, req) = parse("sam-local-v2-get-lock-status.json");
    assert!(matches!(raw.request_origin(), RequestOrigin::ApiGatewayV2));
    assert_eq!(req.method(), "GET");
    // SAM (Werkzeug) hands over the decoded path: `%40` arrives as `@`.
    assert_eq!(
        req.uri().path(),
        "/api/v1/auth/lock-status/alice@example.com"
    );
    assert_eq!(
        req.path_parameters_ref().and_then(|p| p.first("email")),
        Some("alice@example.com")
    );
    assert_eq!(source_ip(&req).as_deref(), Some("127.0.0.1"));
    assert_eq!(query(&req, "verbose").as_deref(), Some("1"));
    // The `cookies` array becomes the cookie header.
    assert_eq!(header(&req, "cookie"), Some("session=abc123; theme=dark"));
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            assert_eq!(ctx.stage.as_deref(), Some("$default"));
            assert_eq!(
                ctx.route_key.as_deref(),
                Some("GET /api/v1/auth/lock-status/{email}")
            );
        }
        other => panic!("unexpected context {other:?}"),
    }
}

#[test]
fn sam_local_v2_post_register() {
    let (raw, req) = parse("sam-local-v2-post-register.json");
    assert!(matches!(raw.request_origin(), RequestOrigin::ApiGatewayV2));
    assert_eq!(req.method(), "POST");
    assert_eq!(req.uri().path(), "/api/v1/auth/register");
    assert_eq!(source_ip(&req).as_deref(), Some("127.0.0.1"));
    assert_eq!(header(&req, "content-type"), Some("application/json"));
    let body = body_json(&req);
    assert_eq!(body["email"], "bob@example.com");
    assert_eq!(body["display_name"], "Bob");
}

#[test]
fn apigw_v2_get_users_me() {
    let (raw, req) = parse("apigw-v2-get-users-me.json");
    assert!(matches!(raw.request_origin(), RequestOrigin::ApiGatewayV2));
    assert_eq!(req.method(), "GET");
    assert_eq!(req.uri().path(), "/api/v1/users/me");
    assert_eq!(
        req.uri().host(),
        Some("k7w2p9x4qd.execute-api.eu-west-1.amazonaws.com")
    );
    assert_eq!(header(&req, "authorization"), Some("Bearer __TOKEN__"));
    assert_eq!(source_ip(&req).as_deref(), Some("198.51.100.7"));
    assert_eq!(body_text(&req), "");
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            assert_eq!(ctx.request_id.as_deref(), Some("Fq3ZtgVbDoEEMnw="));
            assert_eq!(ctx.stage.as_deref(), Some("$default"));
        }
        other => panic!("unexpected context {other:?}"),
    }
}

#[test]
fn apigw_v2_stage_prefix_is_not_doubled() {
    let (raw, req) = parse("apigw-v2-stage-prefix.json");
    assert!(matches!(raw.request_origin(), RequestOrigin::ApiGatewayV2));
    assert_eq!(req.method(), "GET");
    // rawPath already starts with the stage: lambda_http leaves it as it is.
    assert_eq!(req.uri().path(), "/prod/health/live");
    assert_eq!(req.raw_http_path(), "/prod/health/live");
    assert_eq!(source_ip(&req).as_deref(), Some("192.0.2.61"));
}

#[test]
fn apigw_v1_get_health_live() {
    let (raw, req) = parse("apigw-v1-get-health-live.json");
    assert!(matches!(raw.request_origin(), RequestOrigin::ApiGatewayV1));
    assert_eq!(req.method(), "GET");
    assert_eq!(req.uri().path(), "/dev/health/live");
    assert_eq!(req.raw_http_path(), "/health/live");
    assert_eq!(source_ip(&req).as_deref(), Some("192.0.2.44"));
    assert_eq!(
        header(&req, "x-forwarded-for"),
        Some("192.0.2.44, 130.176.12.3")
    );
    assert_eq!(body_text(&req), "");
}

#[test]
fn alb_get_helloworld() {
    let (raw, req) = parse("alb-get-helloworld.json");
    assert!(
        matches!(raw.request_origin(), RequestOrigin::Alb),
        "ALB event taken for {:?}",
        raw.request_origin()
    );
    assert_eq!(req.method(), "GET");
    // No stage for an ALB: the path is as sent.
    assert_eq!(req.uri().path(), "/helloworld/alice");
    assert_eq!(req.uri().scheme_str(), Some("https"));
    assert_eq!(source_ip(&req), None);
    // The client is the first x-forwarded-for entry; 10.0.0.1 is a proxy in front of the ALB.
    let xff = header(&req, "x-forwarded-for").expect("x-forwarded-for");
    assert_eq!(xff, "203.0.113.9, 10.0.0.1");
    assert_eq!(xff.split(',').next().map(str::trim), Some("203.0.113.9"));
    assert_eq!(header(&req, "x-forwarded-proto"), Some("https"));
    match req.request_context_ref() {
        Some(RequestContext::Alb(ctx)) => assert!(ctx
            .elb
            .target_group_arn
            .as_deref()
            .is_some_and(|arn| arn.contains(":targetgroup/redline-greeter/"))),
        other => panic!("unexpected context {other:?}"),
    }
}

#[test]
fn function_url_post_refresh() {
    let (raw, req) = parse("function-url-post-refresh.json");
    // A Function URL event has the HTTP API 2.0 shape: lambda_http reads it as one.
    assert!(matches!(raw.request_origin(), RequestOrigin::ApiGatewayV2));
    assert_eq!(req.method(), "POST");
    assert_eq!(req.uri().path(), "/api/v1/auth/refresh");
    assert_eq!(req.uri().host(), Some("abc.lambda-url.us-east-1.on.aws"));
    assert_eq!(source_ip(&req).as_deref(), Some("203.0.113.50"));
    // isBase64Encoded: the body arrives decoded, as bytes.
    assert!(matches!(req.body(), Body::Binary(_)));
    assert_eq!(body_json(&req)["refresh_token"], "__REFRESH_TOKEN__");
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => {
            assert_eq!(
                ctx.domain_name.as_deref(),
                Some("abc.lambda-url.us-east-1.on.aws")
            );
            assert_eq!(ctx.stage.as_deref(), Some("$default"));
        }
        other => panic!("unexpected context {other:?}"),
    }
}
