//! A throwaway moto Secrets Manager emulator (`moto_server`, installed by scripts/install-tools.sh
//! into `.local/venv`), owned by one test: it can be stopped and started again on the same port,
//! and its request log tells how many calls a function made.

use super::{free_port, log_tail, make_owned_dir, wait_for_port_closed, wait_for_port_open};
use aws_sdk_secretsmanager::Client;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Dummy credentials and region: the SDK needs some, and moto accepts any.
pub const REGION: &str = "us-east-1";

pub struct MotoServer {
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
    /// A server that lives as long as this process ([`MotoServer::for_this_process`]).
    bound: bool,
    /// Then, the write end of the pipe its wrapper waits on.
    lifeline: Option<ChildStdin>,
}

/// `.local/venv/bin/moto_server` of the workspace, else `moto_server` on the PATH.
fn moto_binary() -> PathBuf {
    let local = crate::runner::repo_root().join(".local/venv/bin/moto_server");
    if local.is_file() {
        local
    } else {
        PathBuf::from("moto_server")
    }
}

impl MotoServer {
    pub fn start() -> MotoServer {
        Self::start_with(false)
    }

    /// A server for a `static`, which is never dropped: a shell wrapper stops it when this
    /// process's end of a pipe closes, which the kernel does when the process exits, however.
    pub fn for_this_process() -> MotoServer {
        Self::start_with(true)
    }

    fn start_with(bound: bool) -> MotoServer {
        let mut server = MotoServer {
            dir: make_owned_dir("moto"),
            port: 0,
            child: None,
            bound,
            lifeline: None,
        };
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return server;
            }
        }
        panic!(
            "moto_server did not start (scripts/install-tools.sh installs it):\n{}",
            log_tail(&server.log_file(), 2000)
        );
    }

    fn spawn(&mut self) -> bool {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_file())
            .expect("moto log file");
        let port = self.port.to_string();
        let mut command = if self.bound {
            // `cat` returns when the pipe closes; then the server goes too.
            let mut wrapper = Command::new("sh");
            wrapper
                .args([
                    "-c",
                    r#""$0" "$@" <&- & server=$!; cat >/dev/null; kill $server"#,
                ])
                .arg(moto_binary())
                .stdin(Stdio::piped());
            wrapper
        } else {
            let mut plain = Command::new(moto_binary());
            plain.stdin(Stdio::null());
            plain
        };
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", &port])
            .current_dir(&self.dir)
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run moto_server: {e}"));
        self.lifeline = child.stdin.take();
        self.child = Some(child);
        if wait_for_port_open(self.port, START_TIMEOUT) {
            return true;
        }
        self.kill();
        false
    }

    fn kill(&mut self) {
        // A wrapper stops its server once the pipe closes, and then exits: wait for it.
        let bound = self.lifeline.take().is_some();
        if let Some(mut child) = self.child.take() {
            if !bound {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn log_file(&self) -> PathBuf {
        self.dir.join("moto.log")
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The variables a function needs to reach this emulator through the standard SDK chain.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "testing".to_string()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_string()),
            ("AWS_REGION", REGION.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// An SDK client for seeding secrets and moving version stages, as an operator would.
    pub async fn client(&self) -> Client {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
            .region(aws_sdk_secretsmanager::config::Region::new(REGION))
            .endpoint_url(self.endpoint())
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .build();
        Client::from_conf(config)
    }

    /// Creates a secret (a JSON value is stored as its text) and returns its ARN.
    pub async fn create_secret(&self, name: &str, value: &str) -> String {
        let output = self
            .client()
            .await
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("create secret {name}: {e:?}"));
        output.arn().expect("arn").to_string()
    }

    /// Stores a new AWSCURRENT value of an existing secret.
    pub async fn put_secret(&self, id: &str, value: &str) {
        self.client()
            .await
            .put_secret_value()
            .secret_id(id)
            .secret_string(value)
            .send()
            .await
            .unwrap_or_else(|e| panic!("put secret {id}: {e:?}"));
    }

    /// How many API calls moto has answered (one log line per HTTP request).
    pub fn request_count(&self) -> usize {
        std::fs::read_to_string(self.log_file())
            .unwrap_or_default()
            .lines()
            .filter(|line| line.contains("\"POST / HTTP/1.1\""))
            .count()
    }

    /// Stops the emulator; the port closes and calls are refused until [`start_again`].
    pub fn stop(&mut self) {
        self.kill();
        assert!(
            wait_for_port_closed(self.port, Duration::from_secs(5)),
            "moto still listening on {}",
            self.port
        );
    }

    /// Starts the emulator again on the same port (with no secrets: moto keeps nothing).
    pub fn start_again(&mut self) {
        assert!(self.spawn(), "moto did not restart on port {}", self.port);
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
