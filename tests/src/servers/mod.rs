//! Servers owned by a test: throwaway PostgreSQL clusters and Redis servers that a test may stop
//! and start again, databases created on the machine's shared PostgreSQL, and unique key prefixes
//! for the shared Redis.
//!
//! Everything here is synchronous apart from [`TestDatabase::create`] (which talks to
//! PostgreSQL) and only blocks for short, bounded times (start-up is well under two seconds), so it
//! is safe to call from `#[tokio::test(flavor = "multi_thread")]` tests and from `Drop`. Helpers
//! panic with a descriptive message (including the server log) when something cannot be set up:
//! they are meant for tests, where a panic is the right failure.
//!
//! Machine requirements: the Debian packages `postgresql` (initdb and pg_ctl under
//! `/usr/lib/postgresql/*/bin`), `redis-server` and `openssl` (the CLI generates the
//! self-signed certificates). When running as root, initdb and pg_ctl are run as the `postgres`
//! OS user through `runuser`.

pub mod moto;
pub mod postgres;
pub mod redis;

pub use moto::MotoServer;
pub use postgres::{app_role_of, PgAuth, PgCluster, PgOptions, TestDatabase};
pub use redis::{RedisOptions, RedisServer};

use std::collections::hash_map::RandomState;
use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Loopback address every helper server listens on.
pub const LOCALHOST: &str = "127.0.0.1";

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A process-wide increasing number, used to make names unique within one test binary.
pub(crate) fn next_counter() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

/// A random 64-bit number (std's randomly keyed SipHash over the time and a counter; no `rand`
/// dependency needed for names).
pub fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    hasher.write_u128(now.as_nanos());
    hasher.write_u64(next_counter());
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// A token unique across processes and calls: `<pid>_<counter>_<random hex>`, made of
/// `[0-9a-f_]` only, so it fits into database names, file names and Redis keys.
pub fn unique_token() -> String {
    format!(
        "{}_{}_{:08x}",
        std::process::id(),
        next_counter(),
        random_u64() as u32
    )
}

/// A unique Redis key prefix for one test on a shared Redis: `t:<pid>:<n>:<random hex>:`.
pub fn unique_prefix() -> String {
    format!(
        "t:{}:{}:{:08x}:",
        std::process::id(),
        next_counter(),
        random_u64() as u32
    )
}

/// Ports this process already handed out, so two helpers of the same test binary never get the
/// same one even before either server has bound it.
static HANDED_OUT_PORTS: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close it).
///
/// Another process can still take it before the server binds it; the server helpers retry with
/// a new port when their first start fails with "address in use".
pub fn free_port() -> u16 {
    for _ in 0..50 {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:0 to find a free port: {e}"));
        let port = listener
            .local_addr()
            .expect("local address of a bound listener")
            .port();
        drop(listener);
        let mut guard = HANDED_OUT_PORTS.lock().unwrap_or_else(|e| e.into_inner());
        if guard.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("could not find a free TCP port on 127.0.0.1 after 50 tries");
}

/// Whether something accepts TCP connections on 127.0.0.1:`port` right now.
pub fn port_is_open(port: u16) -> bool {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Polls until `port` accepts connections (true) or `timeout` passes (false).
pub fn wait_for_port_open(port: u16, timeout: Duration) -> bool {
    wait_until(timeout, || port_is_open(port))
}

/// Polls until `port` refuses connections (true) or `timeout` passes (false).
pub fn wait_for_port_closed(port: u16, timeout: Duration) -> bool {
    wait_until(timeout, || !port_is_open(port))
}

pub(crate) fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends a raw RESP `PING` to a plain-TCP Redis on 127.0.0.1:`port` and returns the first reply
/// line (`+PONG`, or `-NOAUTH ...` when a password is required). No Redis client crate needed.
pub fn redis_ping(port: u16) -> std::io::Result<String> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(2)))?;
    stream.set_write_timeout(Some(Duration::from_secs(2)))?;
    stream.write_all(b"*1\r\n$4\r\nPING\r\n")?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        let n = stream.read(&mut byte)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed before a full reply line",
            ));
        }
        if byte[0] == b'\n' {
            break;
        }
        reply.push(byte[0]);
    }
    if reply.last() == Some(&b'\r') {
        reply.pop();
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// A self-signed certificate authority and a server certificate it signed, for `localhost` and
/// 127.0.0.1 (EC P-256 keys: generating them takes milliseconds).
#[derive(Clone, Debug)]
pub struct TlsMaterial {
    /// PEM certificate of the test CA: what clients must trust.
    pub ca_cert: PathBuf,
    /// PEM server certificate (CN `localhost`, SAN `DNS:localhost`, `IP:127.0.0.1`).
    pub server_cert: PathBuf,
    /// PEM private key of the server certificate (mode 0600).
    pub server_key: PathBuf,
}

impl TlsMaterial {
    /// Generates a fresh CA and server certificate into `dir` (created if missing) with the
    /// `openssl` command-line tool.
    pub fn generate(dir: &Path) -> TlsMaterial {
        std::fs::create_dir_all(dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let ca_key = dir.join("ca.key");
        let ca_cert = dir.join("ca.crt");
        let server_key = dir.join("server.key");
        let server_csr = dir.join("server.csr");
        let server_cert = dir.join("server.crt");
        let ext = dir.join("server.ext");
        std::fs::write(
            &ext,
            "basicConstraints = critical, CA:FALSE\n\
             keyUsage = critical, digitalSignature, keyEncipherment\n\
             extendedKeyUsage = serverAuth\n\
             subjectAltName = DNS:localhost, IP:127.0.0.1\n",
        )
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", ext.display()));

        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
        let ca_subject = format!("/CN=redline test CA {:08x}", random_u64() as u32);
        run_checked(
            Command::new("openssl")
                .args(["req", "-x509", "-nodes", "-days", "3650", "-sha256"])
                .args(ec)
                .arg("-keyout")
                .arg(&ca_key)
                .arg("-out")
                .arg(&ca_cert)
                .args(["-subj", &ca_subject])
                .args(["-addext", "basicConstraints=critical,CA:TRUE"])
                .args(["-addext", "keyUsage=critical,keyCertSign,cRLSign"]),
        );
        run_checked(
            Command::new("openssl")
                .args(["req", "-new", "-nodes", "-sha256"])
                .args(ec)
                .arg("-keyout")
                .arg(&server_key)
                .arg("-out")
                .arg(&server_csr)
                .args(["-subj", "/CN=localhost"]),
        );
        let serial = format!("0x{:016x}", random_u64() >> 1);
        run_checked(
            Command::new("openssl")
                .args(["x509", "-req", "-days", "3650", "-sha256"])
                .arg("-in")
                .arg(&server_csr)
                .arg("-CA")
                .arg(&ca_cert)
                .arg("-CAkey")
                .arg(&ca_key)
                .args(["-set_serial", &serial])
                .arg("-extfile")
                .arg(&ext)
                .arg("-out")
                .arg(&server_cert),
        );
        set_mode(&server_key, 0o600);
        // The CA key is not needed any more: nothing else may sign with it.
        let _ = std::fs::remove_file(&ca_key);
        let _ = std::fs::remove_file(&server_csr);
        TlsMaterial {
            ca_cert,
            server_cert,
            server_key,
        }
    }
}

pub(crate) fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("cannot chmod {:o} {}: {e}", mode, path.display()));
}

/// Runs a command to completion, panicking with its output when it cannot start or fails.
pub(crate) fn run_checked(cmd: &mut Command) -> std::process::Output {
    let output = cmd
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !output.status.success() {
        panic!(
            "{cmd:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    output
}

/// Whether this process runs as root (then PostgreSQL tools must run as the `postgres` user).
pub(crate) fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with("Uid:"))
                .and_then(|line| line.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Whether a process with this pid exists.
pub(crate) fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Where server directories go: `$REDLINE_TEST_TMPDIR` if set, else `/dev/shm` when it is a
/// writable memory file system (copying a 30 MB data directory there takes a tenth of the time
/// it takes on this machine's disk), else the system temporary directory.
pub fn scratch_root() -> PathBuf {
    static ROOT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        if let Some(dir) = std::env::var_os("REDLINE_TEST_TMPDIR") {
            return PathBuf::from(dir);
        }
        let shm = Path::new("/dev/shm");
        let probe = shm.join(format!(".redline-probe-{}", unique_token()));
        if std::fs::create_dir(&probe).is_ok() {
            let _ = std::fs::remove_dir(&probe);
            return shm.to_path_buf();
        }
        std::env::temp_dir()
    })
    .clone()
}

/// A fresh, uniquely named directory `<scratch root>/<kind>-<pid>-<n>-<random>`.
pub(crate) fn make_owned_dir(kind: &str) -> PathBuf {
    let dir = scratch_root().join(format!(
        "{kind}-{}-{}-{:08x}",
        std::process::id(),
        next_counter(),
        random_u64() as u32
    ));
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// Directories `<scratch root>/<kind>-<pid>-...` left behind by processes that no longer exist (a test
/// binary killed before its `Drop`s ran).
pub(crate) fn stale_owned_dirs(kind: &str) -> Vec<PathBuf> {
    let prefix = format!("{kind}-");
    let Ok(entries) = std::fs::read_dir(scratch_root()) else {
        return Vec::new();
    };
    entries
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let pid: u32 = name
                .strip_prefix(&prefix)?
                .split('-')
                .next()?
                .parse()
                .ok()?;
            (pid != std::process::id() && !pid_alive(pid)).then(|| entry.path())
        })
        .collect()
}

/// The last `max` bytes of a log file, for panic messages.
pub(crate) fn log_tail(path: &Path, max: usize) -> String {
    match std::fs::read(path) {
        Ok(bytes) => {
            let start = bytes.len().saturating_sub(max);
            String::from_utf8_lossy(&bytes[start..]).into_owned()
        }
        Err(e) => format!("(no log at {}: {e})", path.display()),
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters (for URL user info, paths).
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_tokens_are_unique() {
        let a = unique_prefix();
        let b = unique_prefix();
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("t:{}:", std::process::id())));
        assert!(a.ends_with(':'));
        let t = unique_token();
        assert!(t
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c) || c == '_'));
    }

    #[test]
    fn percent_encoding_keeps_unreserved() {
        assert_eq!(percent_encode("a-b_c.d~e"), "a-b_c.d~e");
        assert_eq!(percent_encode("p@ss:w/rd"), "p%40ss%3Aw%2Frd");
    }

    #[test]
    fn free_ports_differ() {
        let a = free_port();
        let b = free_port();
        assert_ne!(a, b);
    }
}
