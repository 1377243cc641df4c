//! The real template through the local runner: every contract endpoint over HTTP, served by the
//! real function binaries on a real PostgreSQL and Redis.

use redline_tests::runner::{repo_root, stack_env_files, target_dir, Runner};
use redline_tests::{TestEnv, FIXED_CODE};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

struct Http {
    client: Client,
    runner: Runner,
}

impl Http {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.runner
            .call(&self.client, method, path, token, body)
            .await
    }

    async fn captcha(&self) -> String {
        let (status, body) = self
            .call(
                Method::GET,
                "/api/v1/auth/captcha?captcha_type=image",
                None,
                None,
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["captcha_id"].as_str().unwrap().to_string()
    }
}

fn reason(body: &Value) -> &str {
    body["reason"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_contract_endpoint_through_the_local_runner() {
    let env = TestEnv::new().await;
    let runner = Runner::start(
        &repo_root().join("template.yaml"),
        &stack_env_files(&env, json!({})),
        &target_dir().join("debug"),
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
        ],
    );
    let http = Http {
        client: Client::new(),
        runner,
    };
    let get = Method::GET;
    let post = Method::POST;

    // health and greeter
    assert_eq!(
        http.call(get.clone(), "/health/live", None, None).await,
        (StatusCode::OK, json!({"status": "healthy"}))
    );
    for path in ["/health/ready", "/health"] {
        let (status, body) = http.call(get.clone(), path, None, None).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (StatusCode::OK, Some("healthy")),
            "{body}"
        );
        assert_eq!(
            body["version"], "live",
            "the HTTP API invokes the live alias, which the invoked ARN names"
        );
    }
    assert_eq!(
        http.call(get.clone(), "/helloworld/Ada", None, None).await,
        (StatusCode::OK, json!({"message": "Hello Ada"}))
    );
    // $default: unknown routes and other methods reach the health function's route table.
    let (status, body) = http.call(get.clone(), "/nope", None, None).await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::NOT_FOUND, "NOT_FOUND")
    );
    let (status, body) = http.call(Method::PUT, "/api/v1/users/me", None, None).await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED")
    );

    // captcha and verify
    let id = http.captcha().await;
    let (status, body) = http
        .call(
            post.clone(),
            "/api/v1/auth/captcha/verify",
            None,
            Some(json!({"captcha_id": id, "captcha_code": "nope00"})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": false})));
    let (status, body) = http
        .call(
            post.clone(),
            "/api/v1/auth/captcha/verify",
            None,
            Some(json!({"captcha_id": id, "captcha_code": FIXED_CODE})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));

    // register and login
    let register = json!({"username": "stacky", "password": "passw0rd1", "email": "stacky@example.com", "phone": "+14155550142",
                          "captcha_id": http.captcha().await, "captcha_code": FIXED_CODE});
    let (status, body) = http
        .call(post.clone(), "/api/v1/auth/register", None, Some(register))
        .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"message": "registered"}))
    );
    let login = |id: String| json!({"username": "stacky@example.com", "password": "passw0rd1", "captcha_id": id, "captcha_code": FIXED_CODE});
    let (status, pair) = http
        .call(
            post.clone(),
            "/api/v1/auth/login",
            None,
            Some(login(http.captcha().await)),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let access = pair["access_token"].as_str().unwrap().to_string();
    let refresh = pair["refresh_token"].as_str().unwrap().to_string();

    // users
    let (status, me) = http
        .call(get.clone(), "/api/v1/users/me", Some(&access), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        (me["email"].as_str(), me["phone"].as_str()),
        (Some("st***@example.com"), Some("+14155**0142"))
    );
    let (status, body) = http.call(get.clone(), "/api/v1/users/me", None, None).await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::UNAUTHORIZED, "TOKEN_MISSING")
    );

    // refresh, lock status, JWKS, TOTP
    let (status, rotated) = http
        .call(
            post.clone(),
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let (status, body) = http
        .call(
            post.clone(),
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::UNAUTHORIZED, "REFRESH_TOKEN_REUSED")
    );
    let (status, lock) = http
        .call(
            get.clone(),
            "/api/v1/auth/lock-status/stacky%40example.com",
            None,
            None,
        )
        .await;
    assert_eq!(
        (status, lock["locked"].as_bool()),
        (StatusCode::OK, Some(false))
    );
    let (status, jwks) = http
        .call(get.clone(), "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(
        (status, jwks["keys"][0]["kty"].as_str()),
        (StatusCode::OK, Some("OKP"))
    );
    let (status, setup) = http
        .call(
            post.clone(),
            "/api/v1/auth/totp/setup",
            Some(&access),
            Some(json!({"password": "passw0rd1"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    assert!(setup["otpauth_url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let (status, body) = http
        .call(
            post.clone(),
            "/api/v1/auth/totp/enable",
            Some(&access),
            Some(json!({"code": "000000"})),
        )
        .await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::BAD_REQUEST, "TOTP_INVALID")
    );

    // logout, then delete with a fresh login
    let (status, body) = http
        .call(post.clone(), "/api/v1/auth/logout", Some(&access), None)
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"success": true})));
    let (status, body) = http
        .call(get.clone(), "/api/v1/users/me", Some(&access), None)
        .await;
    assert_eq!(
        (status, reason(&body)),
        (StatusCode::UNAUTHORIZED, "TOKEN_INVALID")
    );
    let (_, pair) = http
        .call(
            post.clone(),
            "/api/v1/auth/login",
            None,
            Some(login(http.captcha().await)),
        )
        .await;
    let access = pair["access_token"].as_str().unwrap().to_string();
    let (status, body) = http
        .call(
            Method::DELETE,
            "/api/v1/users/me",
            Some(&access),
            Some(json!({"password": "passw0rd1"})),
        )
        .await;
    assert_eq!((status, body), (StatusCode::OK, json!({"deleted": true})));

    // CORS from the template
    let preflight = http
        .client
        .request(Method::OPTIONS, http.runner.url("/api/v1/auth/login"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        preflight.headers()["access-control-allow-methods"],
        "GET,POST,DELETE,OPTIONS"
    );
    assert_eq!(
        preflight.headers()["access-control-allow-headers"],
        "Authorization,Content-Type"
    );
    assert_eq!(preflight.headers()["access-control-max-age"], "600");
}
