//! The local runner as a black box: started as a process with a template, env-vars files and a
//! directory of function binaries, driven over HTTP, stopped with Ctrl-C (SIGINT).

use crate::servers::{free_port, port_is_open, wait_for_port_open};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// The workspace's target directory (honours CARGO_TARGET_DIR).
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"))
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A binary of the workspace, built by `cargo build --workspace --bins` (scripts/test.sh does).
pub fn workspace_bin(name: &str) -> PathBuf {
    let path = target_dir().join("debug").join(name);
    assert!(
        path.is_file(),
        "{} is missing: build the workspace's binaries first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// A directory holding links to the given binaries, as the runner's `--bin-dir`.
pub fn bin_dir(binaries: &[(&str, PathBuf)]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("redline-bins-{}", crate::servers::unique_token()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, path) in binaries {
        std::os::unix::fs::symlink(path, dir.join(name)).unwrap();
    }
    dir
}

pub struct Runner {
    child: Option<Child>,
    pub port: u16,
    pub invoke_port: u16,
    pub log: PathBuf,
    /// From spawn to the HTTP API port accepting connections.
    pub startup: Duration,
}

impl Runner {
    pub fn command(template: &Path, env_files: &[PathBuf], bin_dir: &Path) -> (Command, u16, u16) {
        let (port, invoke_port) = (free_port(), free_port());
        // Benchmarks run the release runner; tests the debug one.
        let profile = std::env::var("REDLINE_RUNNER_PROFILE").unwrap_or_else(|_| "debug".into());
        let runner = target_dir().join(&profile).join("redline-local");
        assert!(
            runner.is_file(),
            "{} is missing: build the workspace's binaries",
            runner.display()
        );
        let mut command = Command::new(runner);
        command
            .arg("--template")
            .arg(template)
            .arg("--bin-dir")
            .arg(bin_dir)
            .arg("--port")
            .arg(port.to_string())
            .arg("--invoke-port")
            .arg(invoke_port.to_string());
        for file in env_files {
            command.arg("--env-vars").arg(file);
        }
        (command, port, invoke_port)
    }

    /// Starts the runner and waits until it serves; panics with its log if it does not.
    pub fn start(template: &Path, env_files: &[PathBuf], bin_dir: &Path, extra: &[&str]) -> Runner {
        let (mut command, port, invoke_port) = Self::command(template, env_files, bin_dir);
        command.args(extra);
        let log = std::env::temp_dir().join(format!(
            "redline-local-{}.log",
            crate::servers::unique_token()
        ));
        let file = std::fs::File::create(&log).unwrap();
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(file.try_clone().unwrap())
            .stderr(file)
            .spawn()
            .expect("redline-local starts");
        let up = wait_for_port_open(port, Duration::from_secs(10));
        let startup = started.elapsed();
        let runner = Runner {
            child: Some(child),
            port,
            invoke_port,
            log,
            startup,
        };
        assert!(up, "redline-local did not start:\n{}", runner.log_text());
        assert!(
            port_is_open(invoke_port),
            "invoke port closed:\n{}",
            runner.log_text()
        );
        runner
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn invoke_url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.invoke_port)
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Ctrl-C, then waits (bounded) for the runner to exit.
    pub fn interrupt(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        unsafe {
            libc::kill(child.id() as i32, libc::SIGINT);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
        None
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Process ids whose executable is `path` (Linux /proc), to see instances come and go.
pub fn pids_of(path: &Path) -> Vec<u32> {
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            (exe == target).then_some(pid)
        })
        .collect()
}
