//! The event each front end makes of a request: API Gateway's HTTP API (payload format 2.0) and
//! REST API (1.0, proxy integration), a Lambda Function URL (2.0 on the `$default` route) and an
//! Application Load Balancer (multi-value headers off).

use crate::request::{decode, event_body, header, query_pairs, raw_query_pairs, request_time};
use crate::request::{Platform, Request, Route};
use serde_json::{json, Map, Value};

fn params(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// The headers the front end sets itself, replacing the client's: `host`, `x-forwarded-*`.
fn platform_headers(request: &Request<'_>, platform: &Platform) -> Vec<(&'static str, String)> {
    let mut headers = vec![
        ("host", platform.domain_name.clone()),
        ("x-forwarded-for", request.source_ip.to_string()),
    ];
    if let Some(port) = platform.port {
        headers.push(("x-forwarded-port", port.to_string()));
    }
    headers.push(("x-forwarded-proto", platform.protocol.clone()));
    headers
}

fn domain_prefix(domain: &str) -> &str {
    domain.split('.').next().unwrap_or(domain)
}

/// Payload format 2.0, as an HTTP API builds it: repeated headers and query keys joined with
/// commas, cookies in their own list, the stage (unless `$default`) in front of the path.
pub fn http_api(request: &Request<'_>, route: &Route<'_>, platform: &Platform) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in request.headers {
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_string())),
            );
            continue;
        }
        let joined = match headers.get(name) {
            Some(Value::String(existing)) => format!("{existing},{value}"),
            _ => value.clone(),
        };
        headers.insert(name.clone(), Value::String(joined));
    }
    for (name, value) in platform_headers(request, platform) {
        headers.insert(name.into(), Value::String(value));
    }
    let raw_path = if platform.stage == "$default" {
        request.path.to_string()
    } else {
        format!("/{}{}", platform.stage, request.path)
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.key,
        "rawPath": raw_path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": platform.account_id,
            "apiId": platform.api_id,
            "domainName": platform.domain_name,
            "domainPrefix": domain_prefix(&platform.domain_name),
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": header(request.headers, "user-agent").unwrap_or(""),
            },
            "requestId": platform.request_id,
            "routeKey": route.key,
            "stage": platform.stage,
            "time": request_time(platform.time_epoch_ms),
            "timeEpoch": platform.time_epoch_ms,
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    let pairs = query_pairs(request.query);
    if !pairs.is_empty() {
        let mut query = Map::new();
        for (key, value) in pairs {
            let joined = match query.get(&key) {
                Some(Value::String(existing)) => format!("{existing},{value}"),
                _ => value,
            };
            query.insert(key, Value::String(joined));
        }
        event["queryStringParameters"] = Value::Object(query);
    }
    if !route.path_parameters.is_empty() {
        event["pathParameters"] = params(route.path_parameters);
    }
    if let Some((body, is_base64)) = event_body(request) {
        event["body"] = Value::String(body);
        event["isBase64Encoded"] = json!(is_base64);
    }
    event
}

/// A Function URL's event: format 2.0 on the `$default` route.
pub fn function_url(request: &Request<'_>, platform: &Platform) -> Value {
    http_api(request, &Route::DEFAULT, platform)
}

/// Payload format 1.0, as a REST API's proxy integration builds it: single- and multi-value
/// headers and query parameters, the decoded path, the stage in the request context's path.
pub fn rest_api(request: &Request<'_>, route: &Route<'_>, platform: &Platform) -> Value {
    let mut headers = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in request.headers {
        headers.insert(name.clone(), Value::String(value.clone()));
        match multi.get_mut(name) {
            Some(Value::Array(values)) => values.push(Value::String(value.clone())),
            _ => {
                multi.insert(name.clone(), json!([value]));
            }
        }
    }
    for (name, value) in platform_headers(request, platform) {
        multi.insert(name.into(), json!([value]));
        headers.insert(name.into(), Value::String(value));
    }
    let pairs = query_pairs(request.query);
    let (query, multi_query) = if pairs.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let mut single = Map::new();
        let mut many: Map<String, Value> = Map::new();
        for (key, value) in pairs {
            single.insert(key.clone(), Value::String(value.clone()));
            match many.get_mut(&key) {
                Some(Value::Array(values)) => values.push(Value::String(value)),
                _ => {
                    many.insert(key, json!([value]));
                }
            }
        }
        (Value::Object(single), Value::Object(many))
    };
    let (body, is_base64) = match event_body(request) {
        Some((body, is_base64)) => (Value::String(body), is_base64),
        None => (Value::Null, false),
    };
    let resource = route.resource.unwrap_or(request.path);
    let mut event = json!({
        "resource": resource,
        "path": decode(request.path),
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": if route.path_parameters.is_empty() { Value::Null } else { params(route.path_parameters) },
        "stageVariables": null,
        "requestContext": {
            "accountId": platform.account_id,
            "apiId": platform.api_id,
            "domainName": platform.domain_name,
            "httpMethod": request.method,
            "identity": {
                "sourceIp": request.source_ip,
                "userAgent": header(request.headers, "user-agent"),
            },
            "path": format!("/{}{}", platform.stage, request.path),
            "protocol": "HTTP/1.1",
            "requestId": platform.request_id,
            "requestTime": request_time(platform.time_epoch_ms),
            "requestTimeEpoch": platform.time_epoch_ms,
            "resourcePath": resource,
            "stage": platform.stage,
        },
        "body": body,
        "isBase64Encoded": is_base64,
    });
    if let Some(id) = &platform.resource_id {
        event["requestContext"]["resourceId"] = json!(id);
    }
    event
}

/// An ALB's event (multi-value headers off): the query as sent, not decoded; the client's
/// address appended to `x-forwarded-for`; `platform.api_id` is the target group's ARN.
pub fn alb(request: &Request<'_>, platform: &Platform) -> Value {
    let mut headers = Map::new();
    for (name, value) in request.headers {
        headers.insert(name.clone(), Value::String(value.clone()));
    }
    for (name, value) in platform_headers(request, platform) {
        let value = match (name, headers.get(name)) {
            // The ALB appends the peer it saw; a client may have sent its own entries before.
            ("x-forwarded-for", Some(Value::String(existing))) => format!("{existing}, {value}"),
            _ => value,
        };
        headers.insert(name.into(), Value::String(value));
    }
    let query: Map<String, Value> = raw_query_pairs(request.query)
        .into_iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let (body, is_base64) = event_body(request).unwrap_or_default();
    json!({
        "requestContext": { "elb": { "targetGroupArn": platform.api_id } },
        "httpMethod": request.method,
        "path": request.path,
        "queryStringParameters": query,
        "headers": headers,
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BodyEncoding;

    fn headers() -> Vec<(String, String)> {
        vec![
            ("host".into(), "localhost:3000".into()),
            ("content-type".into(), "application/json".into()),
            ("cookie".into(), "a=1; b=2".into()),
            ("accept".into(), "a".into()),
            ("accept".into(), "b".into()),
            ("x-forwarded-for".into(), "203.0.113.9".into()),
        ]
    }

    fn request(headers: &[(String, String)]) -> Request<'_> {
        Request {
            method: "POST",
            path: "/api/v1/auth/lock-status/a%40b.com",
            query: "x=1&x=2&captchaType=sms",
            headers,
            body: Some(b"{\"k\":1}"),
            body_encoding: BodyEncoding::Auto,
            source_ip: "127.0.0.1",
        }
    }

    const PARAMS: &[(String, String)] = &[];

    fn route(parameters: &[(String, String)]) -> Route<'_> {
        Route {
            key: "POST /api/v1/auth/lock-status/{identifier}",
            resource: Some("/api/v1/auth/lock-status/{identifier}"),
            path_parameters: parameters,
        }
    }

    fn platform(stage: &str) -> Platform {
        Platform {
            account_id: "123456789012".into(),
            api_id: "local".into(),
            domain_name: "localhost:3000".into(),
            stage: stage.into(),
            request_id: "r-1".into(),
            time_epoch_ms: 1_795_467_626_000,
            protocol: "http".into(),
            port: Some(3000),
            resource_id: None,
        }
    }

    fn identifier() -> Vec<(String, String)> {
        vec![("identifier".into(), "a@b.com".into())]
    }

    #[test]
    fn http_api_event_has_the_v2_shape() {
        let (headers, parameters) = (headers(), identifier());
        let event = http_api(
            &request(&headers),
            &route(&parameters),
            &platform("$default"),
        );
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["rawPath"], "/api/v1/auth/lock-status/a%40b.com");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["headers"]["accept"], "a,b");
        assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
        assert_eq!(event["headers"]["x-forwarded-port"], "3000");
        assert_eq!(event["queryStringParameters"]["x"], "1,2");
        assert_eq!(event["pathParameters"]["identifier"], "a@b.com");
        assert_eq!(event["body"], "{\"k\":1}");
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(event["requestContext"]["stage"], "$default");
        assert_eq!(
            event["requestContext"]["time"],
            "23/Nov/2026:21:00:26 +0000"
        );
        let staged = http_api(&request(&headers), &route(PARAMS), &platform("prod"));
        assert_eq!(staged["rawPath"], "/prod/api/v1/auth/lock-status/a%40b.com");
        assert!(staged.get("pathParameters").is_none());
    }

    #[test]
    fn binary_bodies_are_base64() {
        let mut headers = headers();
        headers[1].1 = "application/octet-stream".into();
        let mut binary = request(&headers);
        binary.body = Some(&[0xff, 0x00]);
        let event = http_api(&binary, &route(PARAMS), &platform("$default"));
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "/wA=");
        let mut forced = request(&headers);
        forced.body_encoding = BodyEncoding::Base64;
        forced.body = Some(b"hi");
        assert_eq!(
            http_api(&forced, &route(PARAMS), &platform("$default"))["body"],
            "aGk="
        );
    }

    #[test]
    fn rest_api_event_has_the_v1_shape() {
        let headers = headers();
        let event = rest_api(&request(&headers), &route(PARAMS), &platform("local"));
        assert_eq!(event["httpMethod"], "POST");
        assert_eq!(event["path"], "/api/v1/auth/lock-status/a@b.com");
        assert_eq!(event["resource"], "/api/v1/auth/lock-status/{identifier}");
        assert_eq!(event["multiValueHeaders"]["accept"], json!(["a", "b"]));
        assert_eq!(event["headers"]["x-forwarded-proto"], "http");
        assert_eq!(
            event["multiValueQueryStringParameters"]["x"],
            json!(["1", "2"])
        );
        assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
        assert_eq!(
            event["requestContext"]["path"],
            "/local/api/v1/auth/lock-status/a%40b.com"
        );
        assert!(event["requestContext"].get("resourceId").is_none());
    }

    #[test]
    fn function_url_and_alb_events() {
        let headers = headers();
        let url = function_url(&request(&headers), &platform("$default"));
        assert_eq!(url["routeKey"], "$default");
        assert_eq!(url["requestContext"]["routeKey"], "$default");
        let alb = alb(&request(&headers), &platform("$default"));
        assert_eq!(alb["headers"]["x-forwarded-for"], "203.0.113.9, 127.0.0.1");
        assert_eq!(
            alb["queryStringParameters"],
            json!({"x": "2", "captchaType": "sms"})
        );
        assert_eq!(alb["requestContext"]["elb"]["targetGroupArn"], "local");
        let mut empty = request(&headers);
        empty.body = None;
        assert_eq!(super::alb(&empty, &platform("$default"))["body"], json!(""));
    }
}
