//! A function's answer read back as the front end reads it: the structured answer
//! (`statusCode`, `headers`, `multiValueHeaders`, `cookies`, `body`, `isBase64Encoded`), or, for
//! an HTTP API and a Function URL, any other JSON as a 200 body.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde_json::{Map, Value};

/// An answer the front end would refuse (the client gets the platform's error instead).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidResponse;

impl std::fmt::Display for InvalidResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the function returned an invalid response")
    }
}

impl std::error::Error for InvalidResponse {}

/// The HTTP answer a client gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Lower-case names; a repeated header (multi-value, cookies) repeated.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    /// Format 2.0 (HTTP API, Function URL): a structured answer, or any other JSON as a 200
    /// `application/json` body.
    pub fn from_http_api(payload: &[u8]) -> Result<Self, InvalidResponse> {
        let value: Value = serde_json::from_slice(payload).map_err(|_| InvalidResponse)?;
        match &value {
            Value::Object(map) if map.contains_key("statusCode") => Self::structured(map),
            other => Ok(Response {
                status: 200,
                headers: vec![("content-type".into(), "application/json".into())],
                body: other.to_string().into_bytes(),
            }),
        }
    }

    /// Format 1.0 (REST API) and an ALB's: only a structured answer is valid.
    pub fn from_rest_api(payload: &[u8]) -> Result<Self, InvalidResponse> {
        match serde_json::from_slice::<Value>(payload).map_err(|_| InvalidResponse)? {
            Value::Object(map) => Self::structured(&map),
            _ => Err(InvalidResponse),
        }
    }

    /// A structured answer: `headers` first, then the `multiValueHeaders` they do not name,
    /// then each cookie as a `set-cookie`.
    pub fn structured(payload: &Map<String, Value>) -> Result<Self, InvalidResponse> {
        let status = payload
            .get("statusCode")
            .and_then(Value::as_u64)
            .filter(|s| (100..=599).contains(s))
            .ok_or(InvalidResponse)? as u16;
        let mut headers = Vec::new();
        if let Some(map) = payload.get("headers").and_then(Value::as_object) {
            for (name, value) in map {
                headers.push((
                    name.to_ascii_lowercase(),
                    value.as_str().ok_or(InvalidResponse)?.to_string(),
                ));
            }
        }
        if let Some(map) = payload.get("multiValueHeaders").and_then(Value::as_object) {
            for (name, values) in map {
                let name = name.to_ascii_lowercase();
                if headers.iter().any(|(k, _)| *k == name) {
                    continue;
                }
                for value in values.as_array().ok_or(InvalidResponse)? {
                    headers.push((
                        name.clone(),
                        value.as_str().ok_or(InvalidResponse)?.to_string(),
                    ));
                }
            }
        }
        if let Some(cookies) = payload.get("cookies").and_then(Value::as_array) {
            for cookie in cookies {
                headers.push((
                    "set-cookie".into(),
                    cookie.as_str().ok_or(InvalidResponse)?.to_string(),
                ));
            }
        }
        Ok(Response {
            status,
            headers,
            body: body_of(payload)?,
        })
    }

    /// The first value of a header (names are lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::request::header(&self.headers, name)
    }
}

fn body_of(payload: &Map<String, Value>) -> Result<Vec<u8>, InvalidResponse> {
    let text = match payload.get("body") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(text)) => text,
        Some(_) => return Err(InvalidResponse),
    };
    if payload.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        STANDARD.decode(text).map_err(|_| InvalidResponse)
    } else {
        Ok(text.as_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn structured_and_bare_answers() {
        let ok = Response::from_http_api(br#"{"statusCode":201,"headers":{"X-A":"1"},"multiValueHeaders":{"x-a":["2"],"x-b":["1","2"]},"cookies":["c=1"],"body":"aGk=","isBase64Encoded":true}"#).unwrap();
        assert_eq!(ok.status, 201);
        assert_eq!(ok.body, b"hi");
        assert_eq!(
            ok.headers,
            [
                ("x-a", "1"),
                ("x-b", "1"),
                ("x-b", "2"),
                ("set-cookie", "c=1")
            ]
            .map(|(k, v)| (k.to_string(), v.to_string()))
        );
        assert_eq!(ok.header("x-b"), Some("1"));
        let bare = Response::from_http_api(br#"{"hello":"world"}"#).unwrap();
        assert_eq!(
            (bare.status, bare.body.as_slice()),
            (200, br#"{"hello":"world"}"#.as_slice())
        );
        assert!(Response::from_http_api(b"not json").is_err());
        assert!(Response::from_http_api(br#"{"statusCode":"x"}"#).is_err());
        assert!(Response::from_rest_api(br#"{"hello":1}"#).is_err());
        assert!(Response::from_rest_api(br#"{"statusCode":200,"body":1}"#).is_err());
    }
}
