//! The EMF documents the functions write under the runner: exactly one per invocation, after its
//! request line, with the contract's dimension sets and properties; the domain and dependency
//! metrics counted where they happen. (Every document of every black-box test is also validated
//! against AWS's schema when its runner stops: see `Runner::check_emf`.)

use redline_tests::runner::{repo_root, stack_env_files, target_dir, Runner};
use redline_tests::{TestEnv, FIXED_CODE};
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

/// The sum of `metric` over the documents (0 when none declares it).
fn total(documents: &[Value], metric: &str) -> f64 {
    documents.iter().filter_map(|d| d[metric].as_f64()).sum()
}

struct Api<'a> {
    runner: &'a Runner,
    client: Client,
}

impl Api<'_> {
    async fn call(
        &self,
        method: Method,
        path: &'static str,
        token: Option<&'static str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        self.runner
            .call(&self.client, method, path, token, body)
            .await
    }

    async fn captcha(&self) -> String {
        let (_, body) = self
            .call(
                Method::GET,
                "/api/v1/auth/captcha?captcha_type=image",
                None,
                None,
            )
            .await;
        body["captcha_id"].as_str().unwrap().to_string()
    }

    async fn login(&self, password: &str) -> (StatusCode, Value) {
        let id = self.captcha().await;
        let body = json!({"username": "metered", "password": password,
            "captcha_id": id, "captcha_code": FIXED_CODE});
        self.call(Method::POST, "/api/v1/auth/login", None, Some(body))
            .await
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn one_document_per_invocation_with_domain_and_dependency_metrics() {
    let env = TestEnv::new().await;
    let mut runner = Runner::start(
        &repo_root().join("template.yaml"),
        &stack_env_files(&env, json!({})),
        &target_dir().join("debug"),
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
        ],
    );
    let api = Api {
        runner: &runner,
        client: Client::new(),
    };
    let call = |method, path, token, body| api.call(method, path, token, body);
    let captcha = || api.captcha();
    let (post, get) = (Method::POST, Method::GET);

    let id = captcha().await;
    let (status, _) = call(
        post.clone(),
        "/api/v1/auth/captcha/verify",
        None,
        Some(json!({"captcha_id": id, "captcha_code": "WRONG1"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = captcha().await;
    let (status, body) = call(
        post.clone(),
        "/api/v1/auth/register",
        None,
        Some(
            json!({"username": "metered", "password": "passw0rd1", "email": "m@example.com",
            "captcha_id": id, "captcha_code": FIXED_CODE}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let login = |password| api.login(password);
    let (status, pair) = login("passw0rd1").await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let refresh = pair["refresh_token"].as_str().unwrap().to_string();
    for _ in 0..2 {
        call(
            post.clone(),
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    }
    let (status, _) = call(get.clone(), "/api/v1/users/me", Some("not.a.token"), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let mut refused = 0;
    loop {
        let (status, body) = login("wrong-passw0rd").await;
        if status == StatusCode::FORBIDDEN {
            assert_eq!(body["reason"], "ACCOUNT_LOCKED");
            break;
        }
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        refused += 1;
        assert!(refused < 20, "never locked");
    }
    drop(api);
    runner.interrupt();

    let text = runner.log_text();
    let requests: Vec<Value> = text
        .lines()
        .filter(|l| l.contains("\"message\":\"request\""))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let documents = runner.emf_documents();
    assert_eq!(
        documents.len(),
        requests.len(),
        "one document per invocation"
    );
    for request in &requests {
        let id = &request["requestId"];
        let mine: Vec<&Value> = documents.iter().filter(|d| &d["requestId"] == id).collect();
        assert_eq!(mine.len(), 1, "{request}");
        let document = mine[0];
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([
                ["Service", "Function"],
                ["Service", "Function", "Version"],
                ["Service", "Function", "Route"]
            ])
        );
        assert_eq!(document["Service"], "redline");
        assert_eq!(document["Function"], request["function"]);
        // The HTTP API invokes live, version 1 at the runner's start.
        assert_eq!(document["Version"], "1");
        assert_eq!(document["Route"], request["route"]);
        assert_eq!(document["status"], request["status"]);
        assert_eq!(document["reason"], request["reason"]);
        assert_eq!(document["traceId"], request["traceId"]);
        let status = request["status"].as_u64().unwrap();
        assert_eq!(document["Requests"], 1);
        assert_eq!(document["ServerErrors"], u64::from(status >= 500));
        assert_eq!(
            document["ClientErrors"],
            u64::from((400..500).contains(&status))
        );
        assert_eq!(
            document["ColdStart"],
            u64::from(request["coldStart"] == true)
        );
    }
    assert_eq!(total(&documents, "CaptchaFailed"), 1.0);
    assert_eq!(total(&documents, "LoginSucceeded"), 1.0);
    assert_eq!(total(&documents, "LoginFailed"), f64::from(refused));
    assert_eq!(total(&documents, "AccountLocked"), 1.0);
    assert_eq!(total(&documents, "RefreshReuseDetected"), 1.0);
    assert_eq!(total(&documents, "TokenRejected"), 1.0);
    assert_eq!(total(&documents, "DependencyErrors"), 0.0);
    let login_documents: Vec<&Value> = documents
        .iter()
        .filter(|d| d["Route"] == "/api/v1/auth/login" && d["status"] == 200)
        .collect();
    assert!(login_documents[0]["DbLatency"].as_f64().unwrap() > 0.0);
    assert!(login_documents[0]["CacheLatency"].as_f64().unwrap() > 0.0);
    let greeter = documents.iter().find(|d| d["Function"] == "health");
    assert!(greeter.is_none(), "no health request was made");
}
