//! The real AWS Lambda Runtime Interface Emulator (shipped inside the aws-sam-cli wheel that
//! scripts/install-tools.sh installs): one function binary behind the emulator's invoke API, as
//! `docker run -p 9000:8080` of a Lambda image would run it.

use crate::runner::repo_root;
use crate::servers::{free_port, wait_for_port_open};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The emulator binary inside the project's virtualenv.
pub fn rie_binary() -> PathBuf {
    let lib = repo_root().join(".local/venv/lib");
    let found = std::fs::read_dir(&lib)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .map(|python| {
            python
                .path()
                .join("site-packages/samcli/local/rapid/aws-lambda-rie-x86_64")
        })
        .find(|path| path.is_file());
    found.unwrap_or_else(|| {
        panic!("the AWS Lambda RIE (aws-sam-cli wheel) is missing: run scripts/install-tools.sh")
    })
}

pub struct Emulator {
    child: Child,
    port: u16,
}

impl Emulator {
    /// Starts `binary` as the function, with only `env` (and a plain PATH) in its environment.
    /// Retried on new ports when another process took the free ones first (the emulator then
    /// exits on its bind error while that process answers on the port).
    pub fn start(binary: &Path, env: &[(String, String)]) -> Emulator {
        for _ in 0..5 {
            let mut emulator = Self::try_start(binary, env);
            std::thread::sleep(Duration::from_millis(100));
            if matches!(emulator.child.try_wait(), Ok(None)) {
                return emulator;
            }
        }
        panic!("the emulator could not listen on a free port");
    }

    fn try_start(binary: &Path, env: &[(String, String)]) -> Emulator {
        let (port, api_port) = (free_port(), free_port());
        let child = Command::new(rie_binary())
            .arg("--runtime-interface-emulator-address")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--runtime-api-address")
            .arg(format!("127.0.0.1:{api_port}"))
            .arg(binary)
            .env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("AWS_LAMBDA_FUNCTION_TIMEOUT", "10")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .envs(env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the emulator starts");
        assert!(
            wait_for_port_open(port, Duration::from_secs(10)),
            "RIE did not listen"
        );
        Emulator { child, port }
    }

    /// Invokes the function with `event`; the answer is its payload (or the emulator's error
    /// document), as JSON when it parses, else as a string.
    pub async fn invoke(&self, event: &Value) -> Value {
        let url = format!(
            "http://127.0.0.1:{}/2015-03-31/functions/function/invocations",
            self.port
        );
        let response = reqwest::Client::new().post(url).json(event).send().await;
        let text = response.unwrap().text().await.unwrap();
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The emulator ignores SIGTERM.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
