//! `openapi.yaml` against the code: its operations are exactly the route table, its rate-limit
//! answers are exactly the rate-limited routes', and its reasons are exactly the ones
//! `ApiError::envelope` gives. (Whether each operation needs a Bearer token is checked against
//! the running functions, in the blackbox tier's `openapi` test; whether the answers match the
//! document, by schemathesis there.)

use redline_core::error::{ApiError, Unavailable};
use redline_core::http::routes::ROUTES;
use redline_tests::openapi::{document, operations, resolve_response};
use serde_yaml_ng::Value;
use std::collections::BTreeSet;

/// One error of every kind. The match below has no wildcard, so a new `ApiError` variant does
/// not compile until it is added here too.
fn every_error() -> Vec<ApiError> {
    let all = vec![
        ApiError::NotFound,
        ApiError::MethodNotAllowed {
            allow: "GET".into(),
        },
        ApiError::RateLimited { retry_after: 1 },
        ApiError::UnsupportedMediaType,
        ApiError::Codec,
        ApiError::Validation {
            field: "f",
            message: "m",
        },
        ApiError::CaptchaIdRequired,
        ApiError::CaptchaCodeRequired,
        ApiError::CaptchaRequired,
        ApiError::CaptchaInvalid,
        ApiError::CaptchaExpired,
        ApiError::UserExists,
        ApiError::EmailExists,
        ApiError::PhoneExists,
        ApiError::InvalidCredentials,
        ApiError::AccountLocked { unlock_time: 1 },
        ApiError::TotpRequired,
        ApiError::TotpInvalid,
        ApiError::TotpSetupInvalid,
        ApiError::TotpNotEnabled,
        ApiError::TokenMissing,
        ApiError::InvalidTokenFormat,
        ApiError::TokenInvalid,
        ApiError::TokenExpired,
        ApiError::RefreshTokenRequired,
        ApiError::RefreshTokenReused,
        ApiError::Unavailable(Unavailable::Cache("c".into())),
        ApiError::Internal("i".into()),
    ];
    for error in &all {
        match error {
            ApiError::NotFound
            | ApiError::MethodNotAllowed { .. }
            | ApiError::RateLimited { .. }
            | ApiError::UnsupportedMediaType
            | ApiError::Codec
            | ApiError::Validation { .. }
            | ApiError::CaptchaIdRequired
            | ApiError::CaptchaCodeRequired
            | ApiError::CaptchaRequired
            | ApiError::CaptchaInvalid
            | ApiError::CaptchaExpired
            | ApiError::UserExists
            | ApiError::EmailExists
            | ApiError::PhoneExists
            | ApiError::InvalidCredentials
            | ApiError::AccountLocked { .. }
            | ApiError::TotpRequired
            | ApiError::TotpInvalid
            | ApiError::TotpSetupInvalid
            | ApiError::TotpNotEnabled
            | ApiError::TokenMissing
            | ApiError::InvalidTokenFormat
            | ApiError::TokenInvalid
            | ApiError::TokenExpired
            | ApiError::RefreshTokenRequired
            | ApiError::RefreshTokenReused
            | ApiError::Unavailable(_)
            | ApiError::Internal(_) => {}
        }
    }
    all
}

/// Every `reason` the document enumerates (`enum` or `const` under a `reason` property), with
/// where it appears.
fn documented_reasons(value: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match value {
        Value::Mapping(map) => {
            for (key, child) in map {
                let key = key.as_str().unwrap_or_default();
                let here = format!("{at}/{key}");
                if key == "reason" {
                    let listed = child["enum"]
                        .as_sequence()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .chain(child.get("const").cloned());
                    for reason in listed {
                        let reason = reason.as_str().expect("reasons are strings");
                        out.push((reason.to_string(), here.clone()));
                    }
                }
                documented_reasons(child, &here, out);
            }
        }
        Value::Sequence(items) => {
            for (i, child) in items.iter().enumerate() {
                documented_reasons(child, &format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn operations_are_exactly_the_route_table() {
    let doc = document();
    assert_eq!(doc["openapi"].as_str(), Some("3.1.0"));
    let documented: BTreeSet<(String, String)> = operations(&doc)
        .into_iter()
        .map(|op| (op.method, op.path))
        .collect();
    let routed: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_string()))
        .collect();
    let missing: Vec<_> = routed.difference(&documented).collect();
    let extra: Vec<_> = documented.difference(&routed).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "openapi.yaml differs from ROUTES.\n  routed but not documented: {missing:?}\n  \
         documented but not routed: {extra:?}"
    );
}

#[test]
fn rate_limit_answers_are_documented_exactly_on_rate_limited_routes() {
    let doc = document();
    for op in operations(&doc) {
        let (method, path) = (&op.method, &op.path);
        let route = ROUTES
            .iter()
            .find(|r| r.method == method && r.path == *path)
            .expect("a routed operation (see operations_are_exactly_the_route_table)");
        let responses = &op.spec["responses"];
        assert_eq!(
            responses.get("429").is_some(),
            route.rate_group.is_some(),
            "{method} {path}: a 429 answer is documented iff the route has a rate group"
        );
        if route.rate_group.is_none() {
            continue;
        }
        for (status, response) in responses.as_mapping().expect("responses") {
            let status = status.as_str().unwrap_or_default();
            // Answered before the limiter counts (no route: 404) or without it (Redis down,
            // a crash): no X-RateLimit headers.
            if ["404", "500", "503"].contains(&status) {
                continue;
            }
            let headers = &resolve_response(&doc, response)["headers"];
            assert!(
                headers.get("X-RateLimit-Remaining").is_some(),
                "{method} {path} {status}: a rate-limited route's answer documents its \
                 X-RateLimit headers"
            );
        }
    }
}

#[test]
fn documented_reasons_are_exactly_the_error_mapping() {
    let doc = document();
    let mut documented = Vec::new();
    documented_reasons(&doc, "", &mut documented);
    let mapped: BTreeSet<&str> = every_error().iter().map(|e| e.envelope().reason).collect();
    let unknown: Vec<_> = documented
        .iter()
        .filter(|(reason, _)| !mapped.contains(reason.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "openapi.yaml names reasons ApiError::envelope never gives: {unknown:?}"
    );
    let named: BTreeSet<&str> = documented.iter().map(|(r, _)| r.as_str()).collect();
    let undocumented: Vec<_> = mapped.difference(&named).collect();
    assert!(
        undocumented.is_empty(),
        "reasons openapi.yaml never documents: {undocumented:?}"
    );
}

#[test]
fn every_error_answer_documents_its_reasons_and_bearer_routes_their_token_errors() {
    let doc = document();
    for op in operations(&doc) {
        let (method, path) = (&op.method, &op.path);
        let responses = op.spec["responses"].as_mapping().expect("responses");
        let mut reasons = Vec::new();
        for (status, response) in responses {
            let status = status.as_str().unwrap_or_default();
            let response = resolve_response(&doc, response);
            let mut here = Vec::new();
            documented_reasons(response, "", &mut here);
            let is_health_report = path.starts_with("/health") && status == "503";
            assert!(
                status.starts_with('2') || is_health_report || !here.is_empty(),
                "{method} {path} {status}: an error answer lists its reasons"
            );
            reasons.extend(
                here.into_iter()
                    .map(|(reason, _)| (status.to_string(), reason)),
            );
        }
        let token_missing = ("401".to_string(), "TOKEN_MISSING".to_string());
        assert_eq!(
            reasons.contains(&token_missing),
            op.needs_bearer(),
            "{method} {path}: security bearerAuth iff 401 TOKEN_MISSING is documented"
        );
    }
}

/// The compose stack serves the document: its `openapi` service mounts `openapi.yaml` where
/// `SWAGGER_JSON` points, and the api service lets that page's origin call it ("Try it out").
#[test]
fn compose_serves_the_document_and_lets_its_page_call_the_api() {
    let root = redline_tests::runner::repo_root();
    let text = std::fs::read_to_string(root.join("docker-compose.yml")).expect("compose file");
    let compose: Value = serde_yaml_ng::from_str(&text).expect("docker-compose.yml is YAML");
    let service = &compose["services"]["openapi"];
    let spec = service["environment"]["SWAGGER_JSON"]
        .as_str()
        .expect("the openapi service sets SWAGGER_JSON");
    let mounts: Vec<&str> = service["volumes"]
        .as_sequence()
        .expect("the openapi service mounts the document")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        mounts.contains(&format!("./openapi.yaml:{spec}:ro").as_str()),
        "openapi.yaml is not mounted, read-only, at {spec}: {mounts:?}"
    );
    let published = service["ports"][0].as_str().expect("a published port");
    // '127.0.0.1:${OPENAPI_HOST_PORT:-3003}:8080': the default host port.
    let host_port = published
        .rsplit_once(':')
        .and_then(|(host, _)| host.rsplit_once(":-"))
        .map(|(_, port)| port.trim_end_matches('}'))
        .expect("host port with a default");
    let api_command: Vec<&str> = compose["services"]["api"]["command"]
        .as_sequence()
        .expect("the api service's command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let origins = api_command
        .iter()
        .find_map(|arg| arg.strip_prefix("AllowedOrigins="))
        .expect("the api service sets AllowedOrigins");
    let page = format!("http://localhost:{host_port}");
    assert!(
        origins.split(',').any(|origin| origin == page),
        "the api service's AllowedOrigins ({origins}) lack {page}"
    );
}
