//! The JSON body decoder: a body's bytes → the content-type check → the normalised JSON object
//! (`Incoming::json_object`) → a route's typed body (`Input::body`), as the pipeline runs them.
//! Input: one byte choosing the route, then the body.

use crate::shapes;
use redline_core::error::ApiError;
use redline_core::http::request::Incoming;
use redline_core::http::routes::RouteId;
use redline_core::http::Input;
use serde_json::Value;

/// The routes that take a body.
const ROUTES: [RouteId; 9] = [
    RouteId::CaptchaVerify,
    RouteId::Register,
    RouteId::Login,
    RouteId::Logout,
    RouteId::Refresh,
    RouteId::TotpSetup,
    RouteId::TotpEnable,
    RouteId::TotpDisable,
    RouteId::UsersDelete,
];

pub fn fuzz(data: &[u8]) {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let route = ROUTES[usize::from(selector) % ROUTES.len()];
    let incoming = incoming(body.to_vec());
    incoming
        .check_content_type()
        .expect("a JSON content type passes");

    let as_json = serde_json::from_slice::<Value>(body);
    let object = match incoming.json_object() {
        Ok(object) => object,
        Err(error) => {
            assert!(matches!(error, ApiError::Codec), "{error:?}");
            assert!(
                !matches!(as_json, Ok(Value::Object(_))),
                "a JSON object refused"
            );
            return;
        }
    };
    assert!(
        body.is_empty() || matches!(as_json, Ok(Value::Object(_))),
        "only a JSON object (or nothing) is a body"
    );
    assert!(
        object
            .keys()
            .all(|k| !k.chars().any(|c| c.is_ascii_uppercase())),
        "every key is snake_case after normalisation"
    );

    let input = Input {
        incoming: &incoming,
        body: object.clone(),
        params: Vec::new(),
    };
    let decoded = shapes::decode(route, &input);
    if let Err(error) = &decoded {
        assert!(matches!(error, ApiError::Codec), "{error:?}");
    }
    // The normalised object is a fixed point: sent again, it decodes the same way.
    let again = incoming_of(&Value::Object(object));
    let again_object = again.json_object().expect("a normalised object reparses");
    let input = Input {
        incoming: &again,
        body: again_object,
        params: Vec::new(),
    };
    assert_eq!(
        shapes::decode(route, &input).ok(),
        decoded.ok(),
        "decoding is stable"
    );
}

fn incoming_of(value: &Value) -> Incoming {
    incoming(serde_json::to_vec(value).expect("a JSON value serialises"))
}

fn incoming(body: Vec<u8>) -> Incoming {
    let mut headers = lambda_http::http::HeaderMap::new();
    headers.insert(
        "content-type",
        lambda_http::http::HeaderValue::from_static("application/json"),
    );
    Incoming {
        method: "POST".into(),
        path: "/".into(),
        request_id: "fuzz".into(),
        apigw_request_id: None,
        client_ip: "192.0.2.1".into(),
        https: true,
        headers,
        query: Vec::new(),
        body,
        invoked_arn: None,
        smoke_signature: None,
        trace_header: None,
    }
}
