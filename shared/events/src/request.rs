//! What an event is made from: the client's HTTP request, the front end that received it (its
//! ids, host, stage, clock), and the route it matched; plus the small readings of a request that
//! every event shape shares (query pairs, the body as the event carries it, the request time).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

/// One HTTP request as the client sent it.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Upper-case.
    pub method: &'a str,
    /// As sent (still percent-encoded), without a stage prefix.
    pub path: &'a str,
    /// As sent, without the `?`.
    pub query: &'a str,
    /// Lower-case names, in arrival order, repeated names repeated.
    pub headers: &'a [(String, String)],
    /// `None`: the request had no body.
    pub body: Option<&'a [u8]>,
    pub body_encoding: BodyEncoding,
    pub source_ip: &'a str,
}

/// How the event carries the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyEncoding {
    /// As API Gateway decides: text for a UTF-8 body of a text media type (or of none),
    /// base64 otherwise.
    Auto,
    /// Always base64 (`isBase64Encoded: true`).
    Base64,
    /// Always text, invalid UTF-8 replaced.
    Text,
}

/// The front end that received the request, as the event's request context reports it.
#[derive(Debug, Clone)]
pub struct Platform {
    pub account_id: String,
    pub api_id: String,
    /// The host clients reach (`abc123.execute-api.us-east-1.amazonaws.com`, `localhost:3000`):
    /// the event's `host` header and `domainName`.
    pub domain_name: String,
    /// `$default` for an HTTP API's default stage (no prefix in the path); a REST API always
    /// has a named one.
    pub stage: String,
    pub request_id: String,
    pub time_epoch_ms: u64,
    /// `x-forwarded-proto`: `https` in AWS, `http` for a local runner.
    pub protocol: String,
    /// `x-forwarded-port`, when the front end sends one.
    pub port: Option<u16>,
    /// A REST API resource's id (`requestContext.resourceId`), when there is one.
    pub resource_id: Option<String>,
}

/// The API Gateway route a request matched.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    /// `GET /helloworld/{name}`, or `$default`.
    pub key: &'a str,
    /// A REST API's resource (`/helloworld/{name}`); `None`: the request's path.
    pub resource: Option<&'a str>,
    /// Decoded values of the path's `{parameters}`.
    pub path_parameters: &'a [(String, String)],
}

impl Route<'static> {
    /// The `$default` route: every request no other route matches (and every Function URL one).
    pub const DEFAULT: Route<'static> = Route {
        key: "$default",
        resource: None,
        path_parameters: &[],
    };
}

pub(crate) fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

/// The query's pairs, decoded (`+` is a space), in order, repeated keys repeated.
pub(crate) fn query_pairs(query: &str) -> Vec<(String, String)> {
    raw_query_pairs(query)
        .into_iter()
        .map(|(k, v)| (decode(&k.replace('+', " ")), decode(&v.replace('+', " "))))
        .collect()
}

/// The query's pairs as sent, not decoded (as an ALB passes them).
pub(crate) fn raw_query_pairs(query: &str) -> Vec<(&str, &str)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect()
}

/// The first value of a header (`name` lower-case, as `headers` are).
pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn is_text(content_type: Option<&str>) -> bool {
    let Some(media) = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }) else {
        return true;
    };
    media.starts_with("text/")
        || media.ends_with("json")
        || media.ends_with("xml")
        || media.contains("javascript")
        || media == "application/x-www-form-urlencoded"
}

/// The body as the event carries it and whether that is base64; `None` without a body.
pub(crate) fn event_body(request: &Request<'_>) -> Option<(String, bool)> {
    let body = request.body?;
    let base64 = match request.body_encoding {
        BodyEncoding::Base64 => true,
        BodyEncoding::Text => false,
        BodyEncoding::Auto => {
            std::str::from_utf8(body).is_err() || !is_text(header(request.headers, "content-type"))
        }
    };
    Some(if base64 {
        (STANDARD.encode(body), true)
    } else {
        (String::from_utf8_lossy(body).into_owned(), false)
    })
}

/// `23/Nov/2026:21:07:06 +0000`, the API Gateway request time.
pub fn request_time(epoch_ms: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = epoch_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = civil_from_days(days as i64);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
pub fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_time_format() {
        assert_eq!(
            request_time(1_795_467_626_000),
            "23/Nov/2026:21:00:26 +0000"
        );
        assert_eq!(request_time(0), "01/Jan/1970:00:00:00 +0000");
    }

    #[test]
    fn query_pairs_decode_and_keep_repeats() {
        assert_eq!(
            query_pairs("a=1&a=2&b=x%20y+z&&c"),
            vec![
                ("a".into(), "1".into()),
                ("a".into(), "2".into()),
                ("b".into(), "x y z".into()),
                ("c".into(), String::new()),
            ]
        );
        assert_eq!(raw_query_pairs("b=x%20y"), vec![("b", "x%20y")]);
    }
}
