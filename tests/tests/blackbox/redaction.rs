//! Redaction end to end: every contract endpoint, driven through the local runner with known
//! personal data, codes and tokens, at every log level the configuration allows; then every
//! line every function and the runner printed is searched for those values, whole.

use redline_tests::runner::{repo_root, stack_env_files, target_dir, Runner};
use redline_tests::servers::random_u64;
use redline_tests::totp;
use redline_tests::TestEnv;
use reqwest::{Client, Method, StatusCode};
use serde_json::{json, Value};

/// What a client sent or was given that must never reach a log.
#[derive(Default)]
struct Sensitive(Vec<(&'static str, String)>);

impl Sensitive {
    fn add(&mut self, what: &'static str, value: impl Into<String>) {
        self.0.push((what, value.into()));
    }
}

/// `len` random characters of `alphabet`.
fn random_text(len: usize, alphabet: &[u8]) -> String {
    (0..len)
        .map(|_| alphabet[(random_u64() % alphabet.len() as u64) as usize] as char)
        .collect()
}

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER_DIGITS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// `value` somewhere in `text` with no letter or digit right before or after it: a whole value,
/// not a chance run inside a timestamp or an id.
fn occurs_whole(text: &str, value: &str) -> bool {
    text.match_indices(value).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + value.len()..].chars().next();
        !before.is_some_and(|c| c.is_ascii_alphanumeric())
            && !after.is_some_and(|c| c.is_ascii_alphanumeric())
    })
}

struct Session<'a> {
    runner: &'a Runner,
    client: Client,
    code: String,
}

impl Session<'_> {
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

    async fn captcha(&self, query: &str) -> String {
        let (status, body) = self
            .call(
                Method::GET,
                &format!("/api/v1/auth/captcha?{query}"),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["captcha_id"].as_str().unwrap().to_string()
    }
}

/// Drives every route of the contract once with `secrets`' values (and a few failures).
async fn every_endpoint(session: &Session<'_>, secrets: &mut Sensitive) {
    let username = format!("priv{}", random_text(10, LOWER));
    let password = format!("Pw-{}-x9", random_text(12, UPPER_DIGITS));
    let email = format!("person.{}@example.com", random_text(8, LOWER));
    let phone_digits = format!("41555{:05}", random_u64() % 100_000);
    let phone = format!("+1{phone_digits}");
    secrets.add("username", &username);
    secrets.add("password", &password);
    secrets.add("wrong password", format!("{password}-wrong"));
    secrets.add("e-mail", &email);
    secrets.add("phone", &phone);
    secrets.add("phone digits", &phone_digits);
    secrets.add("captcha code", &session.code);
    let (get, post) = (Method::GET, Method::POST);

    for path in [
        "/health/live",
        "/health/ready",
        "/health",
        "/helloworld/Ada",
    ] {
        assert_eq!(session.call(get.clone(), path, None, None).await.0, 200);
    }
    let email_query = format!("captcha_type=email&target={email}");
    let sms_query = format!("captcha_type=sms&target=%2B1{phone_digits}");
    let id = session.captcha(&email_query).await;
    secrets.add("captcha id", &id);
    let (status, body) = session
        .call(
            post.clone(),
            "/api/v1/auth/captcha/verify",
            None,
            Some(json!({"captcha_id": id, "captcha_code": session.code})),
        )
        .await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({"success": true})));
    session.captcha(&sms_query).await;
    let id = session.captcha(&email_query).await;
    let (status, body) = session
        .call(
            post.clone(),
            "/api/v1/auth/register",
            None,
            Some(
                json!({"username": username, "password": password, "email": email,
                "phone": phone, "captcha_id": id, "captcha_code": session.code}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let login = |identifier: &str, password: &str, extra: Value| {
        let mut body = json!({"username": identifier, "password": password,
            "captcha_code": session.code});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let id = session.captcha("captcha_type=image").await;
    let (status, body) = session
        .call(
            post.clone(),
            "/api/v1/auth/login",
            None,
            Some(login(
                &username,
                &format!("{password}-wrong"),
                json!({"captcha_id": id}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let id = session.captcha(&email_query).await;
    let (status, pair) = session
        .call(
            post.clone(),
            "/api/v1/auth/login",
            None,
            Some(login(&email, &password, json!({"captcha_id": id}))),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{pair}");
    let access = pair["access_token"].as_str().unwrap().to_string();
    let refresh = pair["refresh_token"].as_str().unwrap().to_string();
    secrets.add("access token", &access);
    secrets.add("refresh token", &refresh);

    let (status, me) = session
        .call(get.clone(), "/api/v1/users/me", Some(&access), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    let (status, _) = session
        .call(
            get.clone(),
            &format!("/api/v1/auth/lock-status/{username}"),
            None,
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = session
        .call(get.clone(), "/.well-known/jwks.json", None, None)
        .await;
    assert_eq!(status, StatusCode::OK);

    let (status, setup) = session
        .call(
            post.clone(),
            "/api/v1/auth/totp/setup",
            Some(&access),
            Some(json!({"password": password})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{setup}");
    let secret = setup["secret"].as_str().unwrap().to_string();
    secrets.add("TOTP secret", &secret);
    let code = totp::code_now(&secret, 0);
    secrets.add("TOTP code", &code);
    let (status, body) = session
        .call(
            post.clone(),
            "/api/v1/auth/totp/enable",
            Some(&access),
            Some(json!({"code": code})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let recovery_codes: Vec<String> = body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    for code in &recovery_codes {
        secrets.add("TOTP recovery code", code);
    }
    let id = session.captcha("captcha_type=image").await;
    let (status, body) = session
        .call(
            post.clone(),
            "/api/v1/auth/login",
            None,
            Some(login(
                &username,
                &password,
                json!({"captcha_id": id, "recovery_code": recovery_codes[0]}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for token in ["access_token", "refresh_token"] {
        secrets.add("token from a recovery login", body[token].as_str().unwrap());
    }
    let next = totp::code_now(&secret, 1);
    secrets.add("TOTP login code", &next);
    let id = session.captcha("captcha_type=image").await;
    let (status, body) = session
        .call(
            post.clone(),
            "/api/v1/auth/login",
            None,
            Some(login(
                &username,
                &password,
                json!({"captcha_id": id, "totp_code": next}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let (status, rotated) = session
        .call(
            post.clone(),
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    secrets.add(
        "rotated access token",
        rotated["access_token"].as_str().unwrap(),
    );
    secrets.add(
        "rotated refresh token",
        rotated["refresh_token"].as_str().unwrap(),
    );
    let (status, _) = session
        .call(
            post.clone(),
            "/api/v1/auth/refresh",
            None,
            Some(json!({"refresh_token": refresh})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reuse is refused");
    // A body the pipeline refuses still carries a password.
    let response = session
        .client
        .post(session.runner.url("/api/v1/auth/login"))
        .header("content-type", "application/json")
        .body(format!(
            "{{\"username\": \"{username}\", \"password\": \"{password}\""
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (status, _) = session
        .call(post.clone(), "/api/v1/auth/logout", Some(&access), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let new_access = rotated["access_token"].as_str().unwrap();
    let (status, body) = session
        .call(
            Method::DELETE,
            "/api/v1/users/me",
            Some(new_access),
            Some(json!({"password": password})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_secret_or_personal_data_reaches_any_line_at_any_log_level() {
    // The template pins ApplicationLogLevel to INFO, and the runner drops what Lambda would
    // below it: each level runs on a copy of the template set to that level, as it would be
    // in AWS to see those lines.
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    assert!(template.contains("ApplicationLogLevel: INFO"));
    for level in ["trace", "debug", "info", "warn", "error"] {
        let env = TestEnv::new().await;
        let code = random_text(6, UPPER_DIGITS);
        let leveled = std::env::temp_dir().join(format!(
            "redline-{level}-template-{}.yaml",
            redline_tests::servers::unique_token()
        ));
        std::fs::write(
            &leveled,
            template.replace(
                "ApplicationLogLevel: INFO",
                &format!("ApplicationLogLevel: {}", level.to_uppercase()),
            ),
        )
        .unwrap();
        let runner = Runner::start(
            &leveled,
            &stack_env_files(
                &env,
                json!({"REDLINE__LOG__LEVEL": level, "REDLINE__AUTH__CAPTCHA__FIXED_CODE": code}),
            ),
            &target_dir().join("debug"),
            &[
                "--parameter-overrides",
                "AllowedOrigins=http://localhost:5173",
            ],
        );
        let session = Session {
            runner: &runner,
            client: Client::new(),
            code,
        };
        let mut secrets = Sensitive::default();
        every_endpoint(&session, &mut secrets).await;
        drop(session);
        let mut runner = runner;
        runner.interrupt();
        // What the functions and the runner printed, and the metric documents the runner folded
        // (which it no longer echoes).
        let text = runner.log_text() + &runner.emf_log_text();

        // The controls: the lines are there to search, and at trace level the raw event (with
        // the password in its body) was offered to the formatter, which redacted it.
        let requests = text
            .lines()
            .filter(|l| l.contains("\"message\":\"request\""))
            .count();
        let wanted = if matches!(level, "warn" | "error") {
            0
        } else {
            20
        };
        assert!(
            requests >= wanted,
            "{level}: {requests} request lines\n{text}"
        );
        if level == "trace" {
            assert!(
                text.contains(
                    "\"message\":\"raw JSON event received from Lambda\",\"body\":\"[redacted]\""
                ),
                "the runtime's raw event line at trace level\n{text}"
            );
        }
        for (what, value) in &secrets.0 {
            assert!(
                !occurs_whole(&text, value),
                "{level}: the {what} reached the logs:\n{}",
                text.lines()
                    .filter(|l| occurs_whole(l, value))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
}

#[test]
fn whole_values_only() {
    assert!(occurs_whole("code 123456 sent", "123456"));
    assert!(occurs_whole("\"123456\"", "123456"));
    assert!(!occurs_whole("at 1764123456789", "123456"));
    assert!(!occurs_whole("id a123456b", "123456"));
}
