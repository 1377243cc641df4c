//! Guards lambda_http's conversion of an event into a request. It builds the request's URI as
//! `{x-forwarded-proto}://{host}{path}` and panics when that is no URL, before any of our code
//! runs; the runtime then reports the invocation as failed, and the client gets the front end's
//! bare 500 without our headers. An ALB passes the client's `Host` through, so any client could
//! cause that. Parts that cannot form a URL are dropped or repaired here first, and a body
//! flagged base64 that is not (the conversion's other panic) is taken as text.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::header::HOST;
use lambda_http::http::uri::Authority;
use lambda_http::http::HeaderMap;
use lambda_http::request::LambdaRequest;
use lambda_http::{Adapter, Body, LambdaEvent, Request, Response, Service};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;

const FORWARDED_PROTO: &str = "x-forwarded-proto";

/// One event as the Lambda runtime hands it to an HTTP function: made convertible, then turned
/// into a request for `handler` and its response into the front end's shape by lambda_http.
pub fn answer_event<S>(
    handler: S,
    mut event: LambdaEvent<LambdaRequest>,
) -> impl Future<Output = Result<impl Serialize + Send, Infallible>> + Send
where
    S: Service<Request, Response = Response<Body>, Error = Infallible>,
    S::Future: Send + 'static,
{
    make_convertible(&mut event.payload);
    Adapter::from(handler).call(event)
}

/// Makes `event` convertible: a `Host` header or domain name that is not a bare authority is
/// dropped (our pipeline reads neither), an `X-Forwarded-Proto` other than `http` or `https` is
/// dropped (the pipeline only asks whether it is `https`), a path is made to start with `/`, and
/// a body flagged base64 that does not decode is read as text.
pub fn make_convertible(event: &mut LambdaRequest) {
    match event {
        LambdaRequest::ApiGatewayV2(e) => {
            guard_headers(&mut e.headers);
            guard_domain(&mut e.request_context.domain_name);
            guard_path(&mut e.raw_path);
            guard_query(&mut e.raw_query_string);
            guard_query_map(&mut e.query_string_parameters);
            guard_body(&mut e.is_base64_encoded, e.body.as_deref());
        }
        LambdaRequest::ApiGatewayV1(e) => {
            guard_headers(&mut e.headers);
            guard_headers(&mut e.multi_value_headers);
            guard_domain(&mut e.request_context.domain_name);
            guard_path(&mut e.path);
            guard_query_map(&mut e.query_string_parameters);
            guard_query_map(&mut e.multi_value_query_string_parameters);
            guard_body(&mut e.is_base64_encoded, e.body.as_deref());
        }
        LambdaRequest::Alb(e) => {
            guard_headers(&mut e.headers);
            guard_headers(&mut e.multi_value_headers);
            guard_path(&mut e.path);
            guard_query_map(&mut e.query_string_parameters);
            guard_query_map(&mut e.multi_value_query_string_parameters);
            guard_body(&mut e.is_base64_encoded, e.body.as_deref());
        }
        _ => {}
    }
}

fn guard_headers(headers: &mut HeaderMap) {
    let proto_ok = headers.get_all(FORWARDED_PROTO).iter().all(|v| {
        v.to_str()
            .is_ok_and(|p| p.eq_ignore_ascii_case("http") || p.eq_ignore_ascii_case("https"))
    });
    if !proto_ok {
        headers.remove(FORWARDED_PROTO);
    }
    let host_ok = headers
        .get_all(HOST)
        .iter()
        .all(|v| v.to_str().is_ok_and(is_authority));
    if !host_ok {
        headers.remove(HOST);
    }
}

fn guard_domain(domain: &mut Option<String>) {
    if domain.as_deref().is_some_and(|d| !is_authority(d)) {
        *domain = None;
    }
}

fn guard_path(path: &mut Option<String>) {
    if let Some(path) = path
        .as_mut()
        .filter(|p| !p.is_empty() && !p.starts_with('/'))
    {
        path.insert(0, '/');
    }
}

/// Bytes a URI's query may hold as they are (RFC 3986: unreserved, sub-delimiters, `:@/?` and
/// `%`); an HTTP API's raw query string is appended to the URI unescaped.
const NOT_QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'/')
    .remove(b'?')
    .remove(b'%');

/// Escapes what a URI's query cannot hold; the pipeline reads the query percent-decoded, so a
/// space sent raw and one sent as `%20` read the same.
fn guard_query(query: &mut Option<String>) {
    if let Some(query) = query.as_mut() {
        let escaped = Cow::from(utf8_percent_encode(query, NOT_QUERY));
        if escaped != query.as_str() {
            let escaped = escaped.into_owned();
            *query = escaped;
        }
    }
}

/// Drops query parameters without a value: a key with an empty list of values (only a hand-made
/// event has one) makes `QueryMap`'s iterator, which the conversion uses, index out of bounds.
fn guard_query_map(map: &mut QueryMap) {
    if map.is_empty() {
        return;
    }
    let Ok(pairs) = serde_json::to_value(&*map)
        .and_then(serde_json::from_value::<HashMap<String, Vec<String>>>)
    else {
        return;
    };
    if pairs.values().any(Vec::is_empty) {
        let kept: HashMap<String, Vec<String>> =
            pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
        *map = QueryMap::from(kept);
    }
}

fn guard_body(is_base64_encoded: &mut bool, body: Option<&str>) {
    if *is_base64_encoded && body.is_some_and(|b| STANDARD.decode(b).is_err()) {
        *is_base64_encoded = false;
    }
}

/// `host` or `host:port`, and nothing else a URL could read into it (user, path, query).
fn is_authority(text: &str) -> bool {
    text.parse::<Authority>().is_ok()
        && url::Url::parse(&format!("https://{text}/")).is_ok_and(|url| {
            url.has_host()
                && url.username().is_empty()
                && url.password().is_none()
                && url.path() == "/"
                && url.query().is_none()
                && url.fragment().is_none()
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// A real HTTP API event, changed by `edit`, after the guard.
    fn converted(edit: impl FnOnce(&mut Value)) -> Request {
        let mut raw: Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/events/sam-local-v2-post-register.json"
        ))
        .unwrap();
        edit(&mut raw);
        let mut event: LambdaRequest = serde_json::from_value(raw).unwrap();
        make_convertible(&mut event);
        Request::from(event)
    }

    #[test]
    fn a_host_that_is_no_url_is_dropped_instead_of_panicking() {
        let request = converted(|raw| {
            raw["headers"]["Host"] = json!("481.0.0.1:3000");
            raw["headers"]["X-Forwarded-Proto"] = json!("no scheme");
        });
        assert_eq!(request.uri().path(), "/api/v1/auth/register");
        assert!(request.headers().get(HOST).is_none());
        assert!(request.headers().get(FORWARDED_PROTO).is_none());
    }

    #[test]
    fn a_raw_query_is_escaped_where_a_uri_cannot_hold_it() {
        let request = converted(|raw| raw["rawQueryString"] = json!("a=b c&d=`<é>%20"));
        assert_eq!(request.uri().query(), Some("a=b%20c&d=%60%3C%C3%A9%3E%20"));
        // One escaped character is the whole answer: percent-encoding borrows it, not owns it.
        let request = converted(|raw| raw["rawQueryString"] = json!(" "));
        assert_eq!(request.uri().query(), Some("%20"));
    }

    #[test]
    fn a_query_parameter_without_values_is_dropped() {
        let mut raw: Value = serde_json::from_str(include_str!(
            "../../../../tests/fixtures/events/alb-get-helloworld.json"
        ))
        .unwrap();
        raw["multiValueQueryStringParameters"] = json!({"empty": [], "kept": ["1"]});
        let mut event: LambdaRequest = serde_json::from_value(raw).unwrap();
        make_convertible(&mut event);
        let request = Request::from(event);
        assert_eq!(request.uri().query(), Some("kept=1"));
    }

    #[test]
    fn a_path_without_its_slash_gets_one() {
        let request = converted(|raw| raw["rawPath"] = json!(":99999"));
        assert_eq!(request.uri().path(), "/:99999");
    }

    #[test]
    fn a_body_flagged_base64_that_is_not_is_read_as_text() {
        let request = converted(|raw| {
            raw["body"] = json!("{not base64}");
            raw["isBase64Encoded"] = json!(true);
        });
        assert!(matches!(request.body(), Body::Text(t) if t == "{not base64}"));
        let request = converted(|raw| {
            raw["body"] = json!("e30=");
            raw["isBase64Encoded"] = json!(true);
        });
        assert!(matches!(request.body(), Body::Binary(b) if b == b"{}"));
    }

    #[test]
    fn authorities() {
        assert!(is_authority("abc123.execute-api.us-east-1.amazonaws.com"));
        assert!(is_authority("localhost:3000"));
        assert!(is_authority("[::1]:3000"));
        assert!(!is_authority("481.0.0.1:3000"), "no IPv4 address");
        assert!(!is_authority("example.com:99999"), "no port");
        assert!(!is_authority("`example.com"), "a character no URI has");
        assert!(!is_authority("user@example.com"));
        assert!(!is_authority("example.com/path"));
        assert!(!is_authority(""));
    }
}
