//! Throwaway Redis servers ([`RedisServer`]) that a test may stop and start again.

use super::{
    free_port, log_tail, make_owned_dir, percent_encode, stale_owned_dirs, wait_for_port_closed,
    wait_until, TlsMaterial, LOCALHOST,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Once;
use std::time::Duration;

/// Directory-name prefix of servers under the scratch root.
const SERVER_DIR_KIND: &str = "redline-redis";
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of a [`RedisServer`]. `RedisOptions::default()` is plain TCP without a password.
#[derive(Clone, Debug, Default)]
pub struct RedisOptions {
    /// `requirepass`: clients must `AUTH` with this password.
    pub password: Option<String>,
    /// Serve only TLS (`tls-port`, plain `port 0`) with a freshly generated self-signed CA and a
    /// server certificate for `localhost` / 127.0.0.1; clients need no certificate of their own.
    pub tls: bool,
}

impl RedisOptions {
    /// Require this password.
    pub fn with_password(mut self, password: impl Into<String>) -> RedisOptions {
        self.password = Some(password.into());
        self
    }

    /// Serve TLS only.
    pub fn with_tls(mut self) -> RedisOptions {
        self.tls = true;
        self
    }
}

/// A `redis-server` owned by one test, on its own free port on 127.0.0.1, with persistence off
/// (`save ""`, `appendonly no`). Tests may [`stop`](RedisServer::stop) it and
/// [`start_again`](RedisServer::start_again) on the same port (empty again: nothing is saved).
/// Dropping it kills it and removes its directory.
#[derive(Debug)]
pub struct RedisServer {
    dir: PathBuf,
    port: u16,
    opts: RedisOptions,
    tls: Option<TlsMaterial>,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server and returns once it accepts connections.
    ///
    /// # Panics
    /// When redis-server or openssl cannot run or the server does not come up (the message
    /// carries the server log).
    pub fn start(opts: RedisOptions) -> RedisServer {
        reap_stale_servers();
        let dir = make_owned_dir(SERVER_DIR_KIND);
        let tls = opts.tls.then(|| TlsMaterial::generate(&dir.join("tls")));
        let mut server = RedisServer {
            dir,
            port: 0,
            opts,
            tls,
            child: None,
        };
        let mut last_error = String::new();
        for _ in 0..5 {
            server.port = free_port();
            server.write_conf();
            match server.spawn() {
                Ok(()) => return server,
                Err(log) if log.contains("in use") => last_error = log,
                Err(log) => panic!(
                    "redis-server in {} did not start:\n{log}",
                    server.dir.display()
                ),
            }
        }
        panic!(
            "redis-server in {} found no free port:\n{last_error}",
            server.dir.display()
        );
    }

    /// TCP port on 127.0.0.1 (TLS-only when the server has TLS).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Host to connect to: `127.0.0.1` (the certificate also names `localhost`).
    pub fn host(&self) -> &str {
        LOCALHOST
    }

    /// The password clients must use, if any.
    pub fn password(&self) -> Option<&str> {
        self.opts.password.as_deref()
    }

    /// Whether the server speaks only TLS.
    pub fn is_tls(&self) -> bool {
        self.opts.tls
    }

    /// PEM certificate of the CA that signed the server certificate (when `tls`).
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.ca_cert.as_path())
    }

    /// The server's own directory (config, log, certificates).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The server log.
    pub fn log_file(&self) -> PathBuf {
        self.dir.join("redis.log")
    }

    /// `redis://[:<password>@]127.0.0.1:<port>/` (or `rediss://` with TLS), password
    /// percent-encoded.
    pub fn url(&self) -> String {
        let scheme = if self.opts.tls { "rediss" } else { "redis" };
        let auth = match &self.opts.password {
            Some(pw) => format!(":{}@", percent_encode(pw)),
            None => String::new(),
        };
        format!("{scheme}://{auth}{LOCALHOST}:{}/", self.port)
    }

    /// Whether the server process is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// OS process id of the running server.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server and waits until its port refuses connections. Everything in it is lost.
    /// Does nothing when it is already stopped.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            assert!(
                wait_for_port_closed(self.port, Duration::from_secs(5)),
                "port {} still accepts connections after redis-server was killed",
                self.port
            );
        }
    }

    /// Starts the stopped server again on the same port (empty) and waits until it accepts
    /// connections. Does nothing when it is running.
    pub fn start_again(&mut self) {
        if self.child.is_some() {
            return;
        }
        if let Err(log) = self.spawn() {
            panic!(
                "redis-server in {} did not start again on port {}:\n{log}",
                self.dir.display(),
                self.port
            );
        }
    }

    fn write_conf(&self) {
        let mut conf = format!(
            "bind {LOCALHOST}\n\
             protected-mode no\n\
             daemonize no\n\
             save \"\"\n\
             appendonly no\n\
             dir \"{dir}\"\n\
             logfile \"{dir}/redis.log\"\n\
             pidfile \"{dir}/redis.pid\"\n",
            dir = self.dir.display()
        );
        match &self.tls {
            Some(tls) => conf.push_str(&format!(
                "port 0\n\
                 tls-port {}\n\
                 tls-cert-file \"{}\"\n\
                 tls-key-file \"{}\"\n\
                 tls-ca-cert-file \"{}\"\n\
                 tls-auth-clients no\n",
                self.port,
                tls.server_cert.display(),
                tls.server_key.display(),
                tls.ca_cert.display()
            )),
            None => conf.push_str(&format!("port {}\n", self.port)),
        }
        if let Some(pw) = &self.opts.password {
            let escaped = pw.replace('\\', "\\\\").replace('"', "\\\"");
            conf.push_str(&format!("requirepass \"{escaped}\"\n"));
        }
        std::fs::write(self.dir.join("redis.conf"), conf)
            .unwrap_or_else(|e| panic!("cannot write redis.conf: {e}"));
    }

    /// Spawns redis-server and waits until it listens; on failure returns its log.
    fn spawn(&mut self) -> Result<(), String> {
        let stderr_path = self.dir.join("redis.stderr");
        let stderr = std::fs::File::create(&stderr_path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", stderr_path.display()));
        let mut child = Command::new("redis-server")
            .arg(self.dir.join("redis.conf"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-server (Debian package `redis-server`): {e}")
            });
        let port = self.port;
        let mut exited = None;
        let up = wait_until(START_TIMEOUT, || {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
                return true;
            }
            super::port_is_open(port)
        });
        if up && exited.is_none() {
            self.child = Some(child);
            return Ok(());
        }
        if exited.is_none() {
            let _ = child.kill();
            let _ = child.wait();
        }
        Err(format!(
            "redis-server {}:\n{}{}",
            match exited {
                Some(status) => format!("exited with {status}"),
                None => format!("not listening after {START_TIMEOUT:?}"),
            },
            log_tail(&stderr_path, 2000),
            log_tail(&self.log_file(), 4000)
        ))
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Once per process: kills servers left behind by test processes that died before dropping
/// them, and removes their directories.
fn reap_stale_servers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for dir in stale_owned_dirs(SERVER_DIR_KIND) {
            let pid = std::fs::read_to_string(dir.join("redis.pid"))
                .ok()
                .and_then(|s| s.trim().parse::<u32>().ok());
            if let Some(pid) = pid {
                let is_redis = std::fs::read_to_string(format!("/proc/{pid}/comm"))
                    .map(|comm| comm.trim().starts_with("redis-server"))
                    .unwrap_or(false);
                if is_redis {
                    let _ = Command::new("kill")
                        .args(["-KILL", &pid.to_string()])
                        .status();
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    });
}
