//! A client of a deployment served by the local runner: the contract's calls over real HTTP.

use crate::runner::Runner;
use crate::FIXED_CODE;
use reqwest::{Client, Method};
use serde_json::{json, Value};

pub struct StackClient {
    client: Client,
    base: String,
}

impl StackClient {
    pub fn new(runner: &Runner) -> Self {
        StackClient {
            client: Client::new(),
            base: runner.url(""),
        }
    }

    /// One request; the status and the JSON body (a non-JSON body as a string).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("runner reachable");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, None, Some(body)).await
    }

    /// A fresh image captcha's id (answered with the deployment's fixed code).
    pub async fn captcha(&self) -> String {
        let (status, body) = self
            .get("/api/v1/auth/captcha?captcha_type=image", None)
            .await;
        assert_eq!(status, 200, "captcha: {body}");
        body["captcha_id"].as_str().expect("captcha_id").to_string()
    }

    pub async fn register(&self, username: &str, password: &str, email: &str) -> (u16, Value) {
        let body = json!({"username": username, "password": password, "email": email,
                          "captcha_id": self.captcha().await, "captcha_code": FIXED_CODE});
        self.post("/api/v1/auth/register", body).await
    }

    pub async fn login(&self, username: &str, password: &str) -> (u16, Value) {
        let body = json!({"username": username, "password": password,
                          "captcha_id": self.captcha().await, "captcha_code": FIXED_CODE});
        self.post("/api/v1/auth/login", body).await
    }

    /// Registers, logs in and returns the access token; panics unless both succeed.
    pub async fn signed_in(&self, username: &str, password: &str) -> String {
        let (status, body) = self
            .register(username, password, &format!("{username}@example.com"))
            .await;
        assert_eq!(status, 200, "register: {body}");
        let (status, body) = self.login(username, password).await;
        assert_eq!(status, 200, "login: {body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string()
    }
}
