//! One client's full auth flow over HTTP, every request recorded with its send and answer times
//! (offsets from the soak's start) so the report can judge it against the outage windows later.

use crate::FIXED_CODE;
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Longer than any answer may take (the functions' Timeout is 10 s): past it a request hung.
const HANG_GUARD: Duration = Duration::from_secs(20);
const PASSWORD: &str = "soak-passw0rd";

/// The steps of a flow, in order (refresh twice at once).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Captcha,
    Register,
    Login,
    Refresh,
    UsersMe,
    Logout,
}

/// A server the soak stops and restarts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Server {
    Postgres,
    Redis,
}

impl Server {
    pub fn label(self) -> &'static str {
        match self {
            Server::Postgres => "PostgreSQL",
            Server::Redis => "Redis",
        }
    }
}

impl Step {
    pub const ALL: [Step; 6] = [
        Step::Captcha,
        Step::Register,
        Step::Login,
        Step::Refresh,
        Step::UsersMe,
        Step::Logout,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::Captcha => "captcha",
            Step::Register => "register",
            Step::Login => "login",
            Step::Refresh => "refresh",
            Step::UsersMe => "users/me",
            Step::Logout => "logout",
        }
    }

    /// Whether the step's route needs `server` (api-contract.md: refresh needs no Redis; a
    /// captcha lives in Redis only; logout revokes the refresh families in PostgreSQL).
    pub fn needs(self, server: Server) -> bool {
        !matches!(
            (self, server),
            (Step::Captcha, Server::Postgres) | (Step::Refresh, Server::Redis)
        )
    }
}

/// One request and its answer.
#[derive(Clone, Debug)]
pub struct Exchange {
    pub flow: usize,
    pub step: Step,
    /// Offsets from the soak's start.
    pub sent: Duration,
    pub answered: Duration,
    /// 0: no answer (connection error or [`HANG_GUARD`]).
    pub status: u16,
    pub reason: String,
    /// When the captcha this request answers was asked for (register and login).
    pub captcha_sent: Option<Duration>,
    /// What the flow expected: a 200, or the reuse answer for the loser of a refresh pair.
    pub as_expected: bool,
    /// Why an answer that was 200 was still wrong (users/me naming someone else).
    pub wrong_body: Option<String>,
}

/// Two refreshes of one token sent at once: indexes into the exchanges.
#[derive(Clone, Copy, Debug)]
pub struct RefreshPair(pub usize, pub usize);

/// How an attempt at a flow ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ending {
    Completed,
    /// A 503, or a captcha a Redis restart erased: the slot is tried again with a new account.
    Interrupted,
    /// Anything else unexpected: the slot is given up.
    Failed,
}

/// What one client recorded.
#[derive(Default)]
pub struct Record {
    pub exchanges: Vec<Exchange>,
    pub refresh_pairs: Vec<RefreshPair>,
    /// (username, email) of each registration answered 200.
    pub registered: Vec<(String, String)>,
}

pub struct FlowClient {
    http: Client,
    base: String,
    start: Instant,
    pub record: Record,
}

/// A failed step: the attempt ends here.
struct Stop(Ending);

impl FlowClient {
    pub fn new(base: String, start: Instant) -> FlowClient {
        FlowClient {
            http: Client::new(),
            base,
            start,
            record: Record::default(),
        }
    }

    /// Captcha, register, captcha, login, two concurrent refreshes, users/me, logout, as user
    /// number `flow`.
    pub async fn run(&mut self, flow: usize) -> Ending {
        match self.steps(flow).await {
            Ok(()) => Ending::Completed,
            Err(Stop(ending)) => ending,
        }
    }

    async fn steps(&mut self, flow: usize) -> Result<(), Stop> {
        let username = format!("soak_{flow}");
        let email = format!("soak_{flow}@example.com");

        let (captcha_sent, captcha_id) = self.captcha(flow).await?;
        let body = json!({"username": username, "password": PASSWORD, "email": email,
                          "captcha_id": captcha_id, "captcha_code": FIXED_CODE});
        let register = self
            .send(
                flow,
                Step::Register,
                Method::POST,
                "/api/v1/auth/register",
                None,
                Some(body),
            )
            .await;
        self.with_captcha(register.0, captcha_sent);
        self.require_ok(register)?;
        self.record
            .registered
            .push((username.clone(), email.clone()));

        let (captcha_sent, captcha_id) = self.captcha(flow).await?;
        let body = json!({"username": username, "password": PASSWORD,
                          "captcha_id": captcha_id, "captcha_code": FIXED_CODE});
        let login = self
            .send(
                flow,
                Step::Login,
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(body),
            )
            .await;
        self.with_captcha(login.0, captcha_sent);
        let tokens = self.require_ok(login)?;
        let refresh_token = tokens["refresh_token"].as_str().unwrap_or_default();
        let access = self.refresh_pair(flow, refresh_token).await?;

        let me = self
            .send(
                flow,
                Step::UsersMe,
                Method::GET,
                "/api/v1/users/me",
                Some(&access),
                None,
            )
            .await;
        let me_index = me.0;
        let profile = self.require_ok(me)?;
        // The profile shows the e-mail masked.
        let masked = redline_accounts::identity::mask_email(&email);
        if profile["username"] != username.as_str() || profile["email"] != masked.as_str() {
            let wrong = "200 with a profile that is not the user's".to_string();
            self.record.exchanges[me_index].wrong_body = Some(wrong);
            self.record.exchanges[me_index].as_expected = false;
            return Err(Stop(Ending::Failed));
        }

        let logout = self
            .send(
                flow,
                Step::Logout,
                Method::POST,
                "/api/v1/auth/logout",
                Some(&access),
                None,
            )
            .await;
        self.require_ok(logout)?;
        Ok(())
    }

    /// An image captcha: when it was asked for, and its id.
    async fn captcha(&mut self, flow: usize) -> Result<(Duration, String), Stop> {
        let path = "/api/v1/auth/captcha?captcha_type=image";
        let answer = self
            .send(flow, Step::Captcha, Method::GET, path, None, None)
            .await;
        let sent = self.record.exchanges[answer.0].sent;
        let body = self.require_ok(answer)?;
        Ok((
            sent,
            body["captcha_id"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// Both refreshes of one token at once; the winner's access token. The loser's reuse answer
    /// is what the contract promises, so it counts as expected.
    async fn refresh_pair(&mut self, flow: usize, token: &str) -> Result<String, Stop> {
        let body = json!({ "refresh_token": token });
        let path = "/api/v1/auth/refresh";
        let (a, b) = tokio::join!(
            self.request(Method::POST, path, None, Some(body.clone())),
            self.request(Method::POST, path, None, Some(body)),
        );
        let mut winner = None;
        let mut indexes = [0; 2];
        for (slot, (sent, answered, status, body)) in [a, b].into_iter().enumerate() {
            let reason = reason(&body);
            let reused = status == 401 && reason == "REFRESH_TOKEN_REUSED";
            if status == 200 && winner.is_none() {
                winner = body["access_token"].as_str().map(str::to_string);
            }
            indexes[slot] = self.push(Exchange {
                flow,
                step: Step::Refresh,
                sent,
                answered,
                status,
                reason,
                captcha_sent: None,
                as_expected: status == 200 || reused,
                wrong_body: None,
            });
        }
        self.record
            .refresh_pairs
            .push(RefreshPair(indexes[0], indexes[1]));
        match winner {
            Some(access) => Ok(access),
            None => Err(Stop(ending_of(&self.record.exchanges[indexes[0]]))),
        }
    }

    fn with_captcha(&mut self, index: usize, captcha_sent: Duration) {
        self.record.exchanges[index].captcha_sent = Some(captcha_sent);
    }

    /// The body of a 200; otherwise the attempt stops.
    fn require_ok(&self, (index, body): (usize, Value)) -> Result<Value, Stop> {
        let exchange = &self.record.exchanges[index];
        if exchange.status == 200 {
            Ok(body)
        } else {
            Err(Stop(ending_of(exchange)))
        }
    }

    /// Sends and records one request; its index in the record and the body answered.
    async fn send(
        &mut self,
        flow: usize,
        step: Step,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (usize, Value) {
        let (sent, answered, status, body) = self.request(method, path, token, body).await;
        let reason = reason(&body);
        let index = self.push(Exchange {
            flow,
            step,
            sent,
            answered,
            status,
            reason,
            captcha_sent: None,
            as_expected: status == 200,
            wrong_body: None,
        });
        (index, body)
    }

    fn push(&mut self, exchange: Exchange) -> usize {
        self.record.exchanges.push(exchange);
        self.record.exchanges.len() - 1
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (Duration, Duration, u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .timeout(HANG_GUARD);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let sent = self.start.elapsed();
        let answer = async {
            let response = request.send().await.ok()?;
            let status = response.status().as_u16();
            let text = response.text().await.ok()?;
            Some((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
        }
        .await;
        let (status, body) = answer.unwrap_or((0, Value::Null));
        (sent, self.start.elapsed(), status, body)
    }
}

fn reason(body: &Value) -> String {
    body["reason"].as_str().unwrap_or_default().to_string()
}

/// A 503 or a captcha gone with Redis's data may be the outage's doing: the slot is retried.
/// Whether it really was is for the report to judge, against the windows.
fn ending_of(exchange: &Exchange) -> Ending {
    let outage =
        exchange.status == 503 || (exchange.status == 400 && exchange.reason == "CAPTCHA_INVALID");
    if outage {
        Ending::Interrupted
    } else {
        Ending::Failed
    }
}
