//! The smoke tests, per area: the health function's readiness first, then the area's own
//! journey. PreTraffic runs them against the exact version being deployed; PostTraffic through
//! the `live` alias. The first failing step ends the run.

use crate::error::HookFailure;
use crate::invoke::{Answer, Call, Caller};
use crate::target::Target;
use serde_json::{json, Value};

/// Which lifecycle hook this function is (`REDLINE_HOOK_PHASE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    PreTraffic,
    PostTraffic,
}

impl Phase {
    pub fn from_env() -> Phase {
        match std::env::var("REDLINE_HOOK_PHASE").as_deref() {
            Ok("PostTraffic") => Phase::PostTraffic,
            _ => Phase::PreTraffic,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Phase::PreTraffic => "PreTraffic",
            Phase::PostTraffic => "PostTraffic",
        }
    }
}

/// Where a run's requests go: the function under test at its qualifier, and its stack's
/// functions (`<stack>-<area>`) for what it needs from them.
struct Run<'a> {
    caller: &'a Caller,
    stack: &'a str,
    function: &'a str,
    qualifier: &'a str,
    checks: u32,
}

impl Run<'_> {
    /// One step: the call, and the statuses that pass it.
    async fn step(
        &mut self,
        step: &'static str,
        function: &str,
        qualifier: &str,
        call: Call<'_>,
        passing: &[u16],
    ) -> Result<Answer, HookFailure> {
        self.checks += 1;
        let answer = self
            .caller
            .call(function, qualifier, &call)
            .await
            .map_err(|problem| HookFailure::Step { step, problem })?;
        if answer.status == 403 && answer.body["reason"] == "ACCOUNT_LOCKED" {
            return Err(HookFailure::SmokeAccountLocked);
        }
        if !passing.contains(&answer.status) {
            let reason = answer.body["reason"].as_str().unwrap_or("");
            return Err(HookFailure::Step {
                step,
                problem: format!("answered {} {reason}", answer.status),
            });
        }
        Ok(answer)
    }

    fn sibling(&self, area: &str) -> String {
        format!("{}-{area}", self.stack)
    }

    /// Health first: the data stores are reachable (through the version under test when it is
    /// the health function itself).
    async fn health(&mut self, area: &str) -> Result<(), HookFailure> {
        let (function, qualifier) = if area == "health" {
            (self.function.to_string(), self.qualifier.to_string())
        } else {
            (self.sibling("health"), "live".to_string())
        };
        self.step(
            "health-ready",
            &function,
            &qualifier,
            Call::get("/health/ready"),
            &[200],
        )
        .await?;
        Ok(())
    }

    /// Registers the smoke account (idempotently: 409 is fine) and logs it in on `function`.
    async fn login(&mut self, function: &str, qualifier: &str) -> Result<Value, HookFailure> {
        let account = &self.caller.smoke;
        let register = json!({
            "username": account.username, "password": account.password,
            "email": format!("{}@smoke.redline.invalid", account.username),
        });
        self.step(
            "auth-register",
            function,
            qualifier,
            Call::post("/api/v1/auth/register", register),
            &[200, 409],
        )
        .await?;
        let login = json!({"username": account.username, "password": account.password});
        let answer = self
            .step(
                "auth-login",
                function,
                qualifier,
                Call::post("/api/v1/auth/login", login),
                &[200],
            )
            .await?;
        Ok(answer.body)
    }

    async fn auth(&mut self) -> Result<(), HookFailure> {
        let (function, qualifier) = (self.function.to_string(), self.qualifier.to_string());
        let captcha = Call {
            query: "captcha_type=image",
            ..Call::get("/api/v1/auth/captcha")
        };
        let answer = self
            .step("auth-captcha", &function, &qualifier, captcha, &[200])
            .await?;
        if !answer.body["captcha_id"].is_string() {
            return Err(HookFailure::Step {
                step: "auth-captcha",
                problem: "no captcha_id".into(),
            });
        }
        let pair = self.login(&function, &qualifier).await?;
        let refresh = json!({"refresh_token": pair["refresh_token"]});
        let rotated = self
            .step(
                "auth-refresh",
                &function,
                &qualifier,
                Call::post("/api/v1/auth/refresh", refresh),
                &[200],
            )
            .await?;
        let access = rotated.body["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let logout = Call {
            bearer: Some(&access),
            ..Call::post("/api/v1/auth/logout", json!({}))
        };
        self.step("auth-logout", &function, &qualifier, logout, &[200])
            .await?;
        Ok(())
    }

    async fn users(&mut self) -> Result<(), HookFailure> {
        let auth = self.sibling("auth");
        let pair = self.login(&auth, "live").await?;
        let access = pair["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let me = Call {
            bearer: Some(&access),
            ..Call::get("/api/v1/users/me")
        };
        let (function, qualifier) = (self.function.to_string(), self.qualifier.to_string());
        let answer = self
            .step("users-me", &function, &qualifier, me, &[200])
            .await?;
        if answer.body["username"] != self.caller.smoke.username.as_str() {
            return Err(HookFailure::Step {
                step: "users-me",
                problem: "another account answered".into(),
            });
        }
        Ok(())
    }

    async fn greeter(&mut self) -> Result<(), HookFailure> {
        let parameters = [("name".to_string(), "smoke".to_string())];
        let hello = Call {
            route: "/helloworld/{name}",
            path_parameters: &parameters,
            ..Call::get("/helloworld/smoke")
        };
        let (function, qualifier) = (self.function.to_string(), self.qualifier.to_string());
        let answer = self
            .step("greeter-hello", &function, &qualifier, hello, &[200])
            .await?;
        if answer.body["message"] != "Hello smoke" {
            return Err(HookFailure::Step {
                step: "greeter-hello",
                problem: "unexpected greeting".into(),
            });
        }
        Ok(())
    }

    async fn health_area(&mut self) -> Result<(), HookFailure> {
        let (function, qualifier) = (self.function.to_string(), self.qualifier.to_string());
        for (step, path) in [("health-live", "/health/live"), ("health-full", "/health")] {
            self.step(step, &function, &qualifier, Call::get(path), &[200])
                .await?;
        }
        Ok(())
    }
}

/// Runs `target`'s smoke test for `phase`; the number of checks that passed.
pub async fn run(caller: &Caller, target: &Target, phase: Phase) -> Result<u32, HookFailure> {
    let unknown = || HookFailure::UnknownFunction {
        function: target.function.clone(),
    };
    let (stack, area) = target.function.rsplit_once('-').ok_or_else(unknown)?;
    let qualifier = match phase {
        Phase::PreTraffic => target.target_version.as_str(),
        Phase::PostTraffic => target.alias.as_str(),
    };
    let mut run = Run {
        caller,
        stack,
        function: &target.function,
        qualifier,
        checks: 0,
    };
    run.health(area).await?;
    match area {
        "auth" => run.auth().await?,
        "users" => run.users().await?,
        "greeter" => run.greeter().await?,
        "health" => run.health_area().await?,
        _ => return Err(unknown()),
    }
    Ok(run.checks)
}
