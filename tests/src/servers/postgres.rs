//! Throwaway PostgreSQL clusters ([`PgCluster`]) and per-test databases on the machine's shared
//! PostgreSQL ([`TestDatabase`]).

use super::{
    log_tail, make_owned_dir, percent_encode, pid_alive, run_checked, running_as_root,
    scratch_root, set_mode, stale_owned_dirs, unique_token, TlsMaterial, LOCALHOST,
};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Once, OnceLock};
use std::time::Duration;

/// Host of the machine's shared PostgreSQL (trust authentication).
pub const SHARED_PG_HOST: &str = "127.0.0.1";
/// Port of the machine's shared PostgreSQL.
pub const SHARED_PG_PORT: u16 = 5432;
/// Superuser of the machine's shared PostgreSQL.
pub const SHARED_PG_USER: &str = "postgres";

/// Name of the superuser of every [`PgCluster`].
pub const CLUSTER_SUPERUSER: &str = "postgres";

/// Directory-name prefix of clusters under the scratch root.
const CLUSTER_DIR_KIND: &str = "redline-pg";
/// Bump when the initdb arguments change, so cached templates are rebuilt.
const TEMPLATE_FORMAT: &str = "redline-pg-template-v2";
/// At most this many cached templates are kept (the least recently used go first).
const MAX_TEMPLATES: usize = 8;

/// How clients authenticate to a [`PgCluster`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PgAuth {
    /// Any password (or none) is accepted.
    #[default]
    Trust,
    /// SCRAM-SHA-256 for every connection (`initdb --auth=scram-sha-256 --pwfile=...`); the
    /// superuser `postgres` gets `superuser_password`.
    ScramSha256 {
        /// Password of the `postgres` superuser.
        superuser_password: String,
    },
}

/// Options of a [`PgCluster`]. `PgOptions::default()` is plain TCP with trust authentication.
#[derive(Clone, Debug, Default)]
pub struct PgOptions {
    /// `ssl = on` with a freshly generated self-signed CA and a server certificate for
    /// `localhost` / 127.0.0.1 (see [`PgCluster::ca_cert_path`]).
    pub tls: bool,
    /// Authentication method for every connection.
    pub auth: PgAuth,
    /// pg_hba accepts TCP connections only over TLS (`hostssl`), so a non-TLS client is rejected.
    /// Requires `tls`.
    pub ssl_only: bool,
    /// `max_connections` (PostgreSQL's default, 100, when `None`): a soak's hundreds of function
    /// instances each hold a pooled connection.
    pub max_connections: Option<u32>,
}

impl PgOptions {
    /// Plain TCP, trust authentication.
    pub fn trust() -> PgOptions {
        PgOptions::default()
    }

    /// SCRAM-SHA-256 authentication with this superuser password.
    pub fn scram(superuser_password: impl Into<String>) -> PgOptions {
        PgOptions {
            auth: PgAuth::ScramSha256 {
                superuser_password: superuser_password.into(),
            },
            ..PgOptions::default()
        }
    }

    /// Also enable TLS.
    pub fn with_tls(mut self) -> PgOptions {
        self.tls = true;
        self
    }

    /// Allow this many connections.
    pub fn with_max_connections(mut self, max_connections: u32) -> PgOptions {
        self.max_connections = Some(max_connections);
        self
    }

    /// Enable TLS and reject every TCP connection that does not use it.
    pub fn ssl_only(mut self) -> PgOptions {
        self.tls = true;
        self.ssl_only = true;
        self
    }
}

/// A PostgreSQL cluster owned by one test: its own data directory under
/// [`scratch_root`](super::scratch_root) (`/dev/shm` here),
/// its own free port on 127.0.0.1, and its Unix socket inside its directory. Tests may
/// [`stop`](PgCluster::stop) it and [`start_again`](PgCluster::start_again) on the same port.
/// Dropping it stops it (`-m immediate`) and removes its directory.
///
/// The data directory is a copy of a cached `initdb` result (one per PostgreSQL binary and
/// authentication setting, kept under `<scratch root>/redline-pg-templates/`), so starting takes a few
/// hundred milliseconds after the first time; set `REDLINE_PG_NO_TEMPLATE=1` to run `initdb` for
/// every cluster.
#[derive(Debug)]
pub struct PgCluster {
    dir: PathBuf,
    data_dir: PathBuf,
    log_file: PathBuf,
    bin_dir: PathBuf,
    port: u16,
    opts: PgOptions,
    tls: Option<TlsMaterial>,
    running: bool,
}

impl PgCluster {
    /// Creates and starts a cluster, returning once it accepts connections.
    ///
    /// # Panics
    /// When `ssl_only` is set without `tls`, or initdb, openssl or the server fail (the message
    /// carries the server log).
    pub fn start(opts: PgOptions) -> PgCluster {
        assert!(
            !opts.ssl_only || opts.tls,
            "PgOptions::ssl_only requires tls = true"
        );
        reap_stale_clusters();
        let bin_dir = pg_bin_dir().to_path_buf();
        let dir = make_owned_dir(CLUSTER_DIR_KIND);
        let data_dir = dir.join("data");
        let log_file = dir.join("postgres.log");

        let tls = opts.tls.then(|| TlsMaterial::generate(&dir.join("tls")));
        create_data_dir(&bin_dir, &opts.auth, &dir, &data_dir);

        std::fs::write(data_dir.join("pg_hba.conf"), hba_conf(&opts))
            .unwrap_or_else(|e| panic!("cannot write pg_hba.conf: {e}"));
        append(
            &data_dir.join("postgresql.conf"),
            "\n# Settings of the redline test helper\ninclude 'redline.conf'\n",
        );

        let mut cluster = PgCluster {
            dir,
            data_dir,
            log_file,
            bin_dir,
            port: 0,
            opts,
            tls,
            running: false,
        };

        // The port was free when picked, but another process may bind it before the server
        // does: pick another one then.
        let mut last_error = String::new();
        for _ in 0..5 {
            cluster.port = super::free_port();
            cluster.write_server_conf();
            chown_to_postgres(&cluster.dir);
            match cluster.pg_ctl_start() {
                Ok(()) => {
                    cluster.running = true;
                    return cluster;
                }
                Err(log) if log.contains("could not bind") || log.contains("in use") => {
                    last_error = log;
                }
                Err(log) => panic!(
                    "PostgreSQL cluster in {} did not start:\n{log}",
                    cluster.dir.display()
                ),
            }
        }
        panic!(
            "PostgreSQL cluster in {} found no free port:\n{last_error}",
            cluster.dir.display()
        );
    }

    /// TCP port on 127.0.0.1 (the same for the cluster's whole life).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Host to connect to: `127.0.0.1` (the server certificate also names `localhost`).
    pub fn host(&self) -> &str {
        LOCALHOST
    }

    /// The cluster's own directory (data directory, log, certificates, Unix socket).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Directory holding the Unix socket `.s.PGSQL.<port>`.
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// The server log.
    pub fn log_file(&self) -> &Path {
        &self.log_file
    }

    /// The options the cluster was started with.
    pub fn options(&self) -> &PgOptions {
        &self.opts
    }

    /// Superuser name: `postgres`.
    pub fn superuser(&self) -> &str {
        CLUSTER_SUPERUSER
    }

    /// Superuser password, when the cluster uses SCRAM.
    pub fn superuser_password(&self) -> Option<&str> {
        match &self.opts.auth {
            PgAuth::Trust => None,
            PgAuth::ScramSha256 { superuser_password } => Some(superuser_password),
        }
    }

    /// PEM certificate of the CA that signed the server certificate (when `tls`).
    pub fn ca_cert_path(&self) -> Option<&Path> {
        self.tls.as_ref().map(|tls| tls.ca_cert.as_path())
    }

    /// Whether the server is running (between [`stop`](Self::stop) and
    /// [`start_again`](Self::start_again) it is not).
    pub fn is_running(&self) -> bool {
        self.running
    }

    /// The `sslmode` a client should use: `require` with TLS, `disable` without.
    pub fn default_sslmode(&self) -> &'static str {
        if self.opts.tls {
            "require"
        } else {
            "disable"
        }
    }

    /// `postgres://user[:password]@127.0.0.1:<port>/<dbname>?sslmode=<sslmode>`, with user,
    /// password and database percent-encoded. `sslmode` is passed through as given (tokio-postgres
    /// understands `disable`, `prefer` and `require`).
    pub fn url(&self, user: &str, password: Option<&str>, dbname: &str, sslmode: &str) -> String {
        let auth = match password {
            Some(pw) => format!("{}:{}", percent_encode(user), percent_encode(pw)),
            None => percent_encode(user),
        };
        format!(
            "postgres://{auth}@{}:{}/{}?sslmode={sslmode}",
            LOCALHOST,
            self.port,
            percent_encode(dbname)
        )
    }

    /// [`url`](Self::url) for the superuser with its password and [`default_sslmode`](Self::default_sslmode).
    pub fn superuser_url(&self, dbname: &str) -> String {
        self.url(
            CLUSTER_SUPERUSER,
            self.superuser_password(),
            dbname,
            self.default_sslmode(),
        )
    }

    /// A tokio-postgres configuration for this cluster (TLS required when the cluster has TLS).
    pub fn config(
        &self,
        user: &str,
        password: Option<&str>,
        dbname: &str,
    ) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(LOCALHOST)
            .port(self.port)
            .user(user)
            .dbname(dbname)
            .connect_timeout(Duration::from_secs(5))
            .ssl_mode(if self.opts.tls {
                tokio_postgres::config::SslMode::Require
            } else {
                tokio_postgres::config::SslMode::Disable
            });
        if let Some(pw) = password {
            config.password(pw);
        }
        config
    }

    /// [`config`](Self::config) for the superuser and its password.
    pub fn superuser_config(&self, dbname: &str) -> tokio_postgres::Config {
        self.config(CLUSTER_SUPERUSER, self.superuser_password(), dbname)
    }

    /// A TLS connector that trusts only this cluster's CA and verifies the server name (the
    /// certificate covers `localhost` and 127.0.0.1). `None` without TLS.
    pub fn tls_connector(&self) -> Option<postgres_native_tls::MakeTlsConnector> {
        let ca_path = self.ca_cert_path()?;
        let pem = std::fs::read(ca_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", ca_path.display()));
        let ca = native_tls::Certificate::from_pem(&pem)
            .unwrap_or_else(|e| panic!("bad CA certificate {}: {e}", ca_path.display()));
        let connector = native_tls::TlsConnector::builder()
            .add_root_certificate(ca)
            .build()
            .unwrap_or_else(|e| panic!("cannot build a TLS connector: {e}"));
        Some(postgres_native_tls::MakeTlsConnector::new(connector))
    }

    /// Connects as the superuser (over TLS trusting the cluster's CA when it has TLS) and drives
    /// the connection on a spawned tokio task. Must be called inside a tokio runtime.
    pub async fn connect_superuser(
        &self,
        dbname: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let config = self.superuser_config(dbname);
        match self.tls_connector() {
            Some(tls) => {
                let (client, connection) = config.connect(tls).await?;
                tokio::spawn(connection);
                Ok(client)
            }
            None => {
                let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
                tokio::spawn(connection);
                Ok(client)
            }
        }
    }

    /// Stops the server (`pg_ctl stop -m fast`, which ends open sessions) and waits until it is
    /// down. Does nothing when it is already stopped.
    pub fn stop(&mut self) {
        if !self.running {
            return;
        }
        let output = self
            .pg_ctl()
            .args(["stop", "-m", "fast", "-w", "-t", "30"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run pg_ctl stop: {e}"));
        if !output.status.success() {
            panic!(
                "pg_ctl stop failed ({}): {}{}\n{}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr),
                log_tail(&self.log_file, 4000)
            );
        }
        self.running = false;
    }

    /// Starts the stopped server again on the same port and waits until it accepts connections.
    /// Does nothing when it is running.
    pub fn start_again(&mut self) {
        if self.running {
            return;
        }
        if let Err(log) = self.pg_ctl_start() {
            panic!(
                "PostgreSQL cluster in {} did not start again on port {}:\n{log}",
                self.dir.display(),
                self.port
            );
        }
        self.running = true;
    }

    fn pg_ctl(&self) -> Command {
        let mut cmd = pg_command(&self.bin_dir, "pg_ctl", &self.dir);
        cmd.arg("-D").arg(&self.data_dir);
        cmd
    }

    /// `pg_ctl start -w`; on failure returns the tail of the server log.
    fn pg_ctl_start(&self) -> Result<(), String> {
        // Output goes to the log file: the daemonised server must not inherit our pipes.
        let status = self
            .pg_ctl()
            .arg("-l")
            .arg(&self.log_file)
            .args(["-w", "-t", "30", "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run pg_ctl start: {e}"));
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "pg_ctl start: {status}\n{}",
                log_tail(&self.log_file, 4000)
            ))
        }
    }

    fn write_server_conf(&self) {
        let mut conf = format!(
            "listen_addresses = '{LOCALHOST}'\n\
             port = {}\n\
             unix_socket_directories = '{}'\n\
             fsync = off\n\
             synchronous_commit = off\n\
             full_page_writes = off\n\
             password_encryption = 'scram-sha-256'\n",
            self.port,
            conf_quote(&self.dir)
        );
        if let Some(max) = self.opts.max_connections {
            conf.push_str(&format!("max_connections = {max}\n"));
        }
        match &self.tls {
            Some(tls) => conf.push_str(&format!(
                "ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
                conf_quote(&tls.server_cert),
                conf_quote(&tls.server_key)
            )),
            None => conf.push_str("ssl = off\n"),
        }
        std::fs::write(self.data_dir.join("redline.conf"), conf)
            .unwrap_or_else(|e| panic!("cannot write redline.conf: {e}"));
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.running {
            let stopped = self
                .pg_ctl()
                .args(["stop", "-m", "immediate", "-w", "-t", "10"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if !stopped {
                kill_postmaster(&self.data_dir);
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Creates `data_dir` owned by `postgres`: a copy of the cached template for this binary and
/// authentication, or a fresh initdb.
fn create_data_dir(bin_dir: &Path, auth: &PgAuth, cluster_dir: &Path, data_dir: &Path) {
    if std::env::var_os("REDLINE_PG_NO_TEMPLATE").is_none() {
        if let Some(template) = template_for(bin_dir, auth) {
            let copied = Command::new("cp")
                .args(["-a", "--reflink=auto"])
                .arg(&template)
                .arg(data_dir)
                .stdin(Stdio::null())
                .output();
            if matches!(&copied, Ok(out) if out.status.success()) {
                return;
            }
            let _ = std::fs::remove_dir_all(data_dir);
        }
    }
    chown_to_postgres(cluster_dir);
    initdb(bin_dir, auth, cluster_dir, data_dir);
}

/// Runs initdb into `data_dir` (whose parent `work_dir` is writable by `postgres`).
fn initdb(bin_dir: &Path, auth: &PgAuth, work_dir: &Path, data_dir: &Path) {
    let mut cmd = pg_command(bin_dir, "initdb", work_dir);
    cmd.arg("-D").arg(data_dir).args([
        "-U",
        CLUSTER_SUPERUSER,
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
        // 1 MiB WAL segments instead of 16: less to write and to copy from the template.
        "--wal-segsize=1",
    ]);
    let mut pwfile = None;
    match auth {
        PgAuth::Trust => {
            cmd.arg("--auth=trust");
        }
        PgAuth::ScramSha256 { superuser_password } => {
            let file = work_dir.join(format!("pwfile-{}", unique_token()));
            std::fs::write(&file, format!("{superuser_password}\n"))
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", file.display()));
            set_mode(&file, 0o600);
            chown_to_postgres(&file);
            cmd.arg("--auth=scram-sha-256").arg("--pwfile").arg(&file);
            pwfile = Some(file);
        }
    }
    let output = cmd.output();
    if let Some(file) = pwfile {
        let _ = std::fs::remove_file(file);
    }
    let output = output.unwrap_or_else(|e| panic!("cannot run initdb: {e}"));
    if !output.status.success() {
        panic!(
            "initdb -D {} failed ({}):\n{}{}",
            data_dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The cached initdb result for this binary and authentication, made now if missing. Built in a
/// temporary directory and renamed into place, so concurrent test processes never see half of
/// one. `None` when the cache cannot be used (then the caller runs initdb itself).
fn template_for(bin_dir: &Path, auth: &PgAuth) -> Option<PathBuf> {
    let root = scratch_root().join("redline-pg-templates");
    if !root.is_dir() {
        std::fs::create_dir_all(&root).ok()?;
        chown_to_postgres(&root);
    }
    let initdb_mtime = std::fs::metadata(bin_dir.join("initdb"))
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let auth_key = match auth {
        PgAuth::Trust => "trust".to_string(),
        PgAuth::ScramSha256 { superuser_password } => format!("scram:{superuser_password}"),
    };
    let key = fnv1a64(&[
        TEMPLATE_FORMAT.as_bytes(),
        bin_dir.as_os_str().as_encoded_bytes(),
        initdb_mtime.to_string().as_bytes(),
        auth_key.as_bytes(),
    ]);
    let template = root.join(format!("{key:016x}"));
    if template.join("PG_VERSION").is_file() {
        touch(&template);
        return Some(template);
    }
    let building = root.join(format!("{key:016x}.tmp-{}", unique_token()));
    initdb(bin_dir, auth, &root, &building);
    if std::fs::rename(&building, &template).is_err() {
        // Another process won the race: use its template.
        let _ = std::fs::remove_dir_all(&building);
    }
    template.join("PG_VERSION").is_file().then_some(template)
}

/// Marks a template as just used (its modification time orders the eviction).
fn touch(path: &Path) {
    if let Ok(dir) = std::fs::File::open(path) {
        let _ = dir.set_modified(std::time::SystemTime::now());
    }
}

/// Removes the least recently used templates beyond [`MAX_TEMPLATES`] (a test that starts
/// clusters with ever new passwords would otherwise fill the scratch root).
fn evict_old_templates(root: &Path) {
    let mut templates: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| !entry.file_name().to_string_lossy().contains(".tmp-"))
        .filter_map(|entry| Some((entry.metadata().ok()?.modified().ok()?, entry.path())))
        .collect();
    if templates.len() > MAX_TEMPLATES {
        templates.sort();
        let excess = templates.len() - MAX_TEMPLATES;
        for (_, path) in templates.into_iter().take(excess) {
            let _ = std::fs::remove_dir_all(path);
        }
    }
}

fn fnv1a64(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0u8)) {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    hash
}

fn hba_conf(opts: &PgOptions) -> String {
    let method = match opts.auth {
        PgAuth::Trust => "trust",
        PgAuth::ScramSha256 { .. } => "scram-sha-256",
    };
    let host_type = if opts.ssl_only { "hostssl" } else { "host" };
    format!(
        "# Written by the redline test helper.\n\
         # TYPE      DATABASE USER ADDRESS      METHOD\n\
         local       all      all               {method}\n\
         {host_type:<11} all      all  127.0.0.1/32 {method}\n\
         {host_type:<11} all      all  ::1/128      {method}\n"
    )
}

/// A command running a PostgreSQL program from `bin_dir`, as the `postgres` OS user when we are
/// root (initdb and postgres refuse to run as root), with a working directory it can read.
fn pg_command(bin_dir: &Path, program: &str, work_dir: &Path) -> Command {
    let program = bin_dir.join(program);
    let mut cmd = if running_as_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    };
    cmd.current_dir(work_dir)
        .stdin(Stdio::null())
        .env_remove("PGDATA")
        .env_remove("PGPORT")
        .env_remove("PGHOST");
    cmd
}

fn chown_to_postgres(path: &Path) {
    if running_as_root() {
        run_checked(
            Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(path),
        );
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()));
    file.write_all(text.as_bytes())
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn conf_quote(path: &Path) -> String {
    path.display().to_string().replace('\'', "''")
}

/// The directory with initdb and pg_ctl: `$REDLINE_PG_BIN_DIR`, else the newest
/// `/usr/lib/postgresql/<version>/bin`, else the directory of `initdb` on `PATH`.
pub fn pg_bin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("REDLINE_PG_BIN_DIR") {
            return PathBuf::from(dir);
        }
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| {
                let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = entry.path().join("bin");
                (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
                    .then_some((version, bin))
            })
            .collect();
        versions.sort();
        if let Some((_, bin)) = versions.pop() {
            return bin;
        }
        std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).find(|dir| dir.join("initdb").is_file()))
            .unwrap_or_else(|| {
                panic!(
                    "no PostgreSQL server binaries: install the Debian package `postgresql` \
                     or set REDLINE_PG_BIN_DIR"
                )
            })
    })
}

/// Kills the postmaster of `data_dir` (first line of postmaster.pid) with SIGKILL.
fn kill_postmaster(data_dir: &Path) {
    let pid = std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .ok()
        .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()));
    if let Some(pid) = pid {
        let is_postgres = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|comm| comm.trim() == "postgres")
            .unwrap_or(false);
        if is_postgres {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    }
}

/// Once per process: stops clusters left behind by test processes that died before dropping
/// them, and removes their directories and half-built templates.
fn reap_stale_clusters() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for dir in stale_owned_dirs(CLUSTER_DIR_KIND) {
            let data_dir = dir.join("data");
            if data_dir.join("postmaster.pid").is_file() {
                let stopped = pg_command(pg_bin_dir(), "pg_ctl", &dir)
                    .arg("-D")
                    .arg(&data_dir)
                    .args(["stop", "-m", "immediate", "-w", "-t", "10"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false);
                if !stopped {
                    kill_postmaster(&data_dir);
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        let templates = scratch_root().join("redline-pg-templates");
        evict_old_templates(&templates);
        for entry in std::fs::read_dir(&templates)
            .into_iter()
            .flatten()
            .flatten()
        {
            let name = entry.file_name().to_string_lossy().into_owned();
            let builder_pid = name
                .split_once(".tmp-")
                .and_then(|(_, token)| token.split('_').next()?.parse::<u32>().ok());
            if let Some(pid) = builder_pid {
                if !pid_alive(pid) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
    });
}

/// The application role of a test database (`<name>_app`): roles are cluster-wide, so each test
/// database has its own, dropped with it (and its alternating-users clone).
pub fn app_role_of(dbname: &str) -> String {
    format!("{dbname}_app")
}

/// A uniquely named database on a PostgreSQL server (by default the machine's shared one at
/// 127.0.0.1:5432, user `postgres`, trust), dropped when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    name: String,
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    dropped: bool,
}

impl TestDatabase {
    /// Creates `redline_t_<pid>_<n>_<random>` on the machine's shared PostgreSQL.
    ///
    /// # Panics
    /// When the server cannot be reached or the database cannot be created.
    pub async fn create() -> TestDatabase {
        TestDatabase::create_at(SHARED_PG_HOST, SHARED_PG_PORT, SHARED_PG_USER, None).await
    }

    /// Creates a uniquely named database on the given server (plain TCP), connecting as `user`,
    /// who must be allowed to create databases.
    pub async fn create_at(
        host: &str,
        port: u16,
        user: &str,
        password: Option<&str>,
    ) -> TestDatabase {
        let db = TestDatabase {
            name: format!("redline_t_{}", unique_token()),
            host: host.to_string(),
            port,
            user: user.to_string(),
            password: password.map(str::to_string),
            dropped: false,
        };
        let (client, connection) = db
            .admin_config()
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {host}:{port}: {e}"));
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("CREATE DATABASE \"{}\"", db.name))
            .await
            .unwrap_or_else(|e| panic!("cannot create database {}: {e}", db.name));
        drop(client);
        let _ = driver.await;
        db
    }

    /// The database name (`[a-z0-9_]` only: needs no quoting).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Server host.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Server port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// User the database was created with (its owner).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The application role of this database ([`app_role_of`]).
    pub fn app_role(&self) -> String {
        app_role_of(&self.name)
    }

    /// `postgres://<user>[:<password>]@<host>:<port>/<name>?sslmode=disable`.
    pub fn url(&self) -> String {
        let auth = match &self.password {
            Some(pw) => format!("{}:{}", percent_encode(&self.user), percent_encode(pw)),
            None => percent_encode(&self.user),
        };
        format!(
            "postgres://{auth}@{}:{}/{}?sslmode=disable",
            self.host, self.port, self.name
        )
    }

    /// A tokio-postgres configuration for this database.
    pub fn config(&self) -> tokio_postgres::Config {
        let mut config = self.admin_config();
        config.dbname(&self.name);
        config
    }

    /// Connects to this database and drives the connection on a spawned tokio task.
    ///
    /// # Panics
    /// When the connection fails.
    pub async fn connect(&self) -> tokio_postgres::Client {
        let (client, connection) = self
            .config()
            .connect(tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to database {}: {e}", self.name));
        tokio::spawn(connection);
        client
    }

    /// Drops the database now (terminating its sessions), instead of on `Drop`.
    pub async fn drop_now(mut self) {
        drop_database(self.admin_config(), self.name.clone()).await;
        self.dropped = true;
    }

    fn admin_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.host)
            .port(self.port)
            .user(&self.user)
            .dbname("postgres")
            .connect_timeout(Duration::from_secs(5))
            .ssl_mode(tokio_postgres::config::SslMode::Disable);
        if let Some(pw) = &self.password {
            config.password(pw);
        }
        config
    }
}

impl Drop for TestDatabase {
    /// Best effort: drops the database on a helper thread with its own small runtime (so this
    /// works inside and outside a tokio runtime), waiting for it to finish.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let config = self.admin_config();
        let name = self.name.clone();
        let joined = std::thread::Builder::new()
            .name("drop-test-database".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt.block_on(drop_database(config, name)),
                    Err(e) => eprintln!("warning: cannot drop test database {name}: {e}"),
                }
            })
            .map(|handle| handle.join());
        if let Err(e) = joined {
            eprintln!("warning: cannot start a thread to drop a test database: {e}");
        }
    }
}

async fn drop_database(config: tokio_postgres::Config, name: String) {
    let result = async {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        let driver = tokio::spawn(connection);
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await?;
        // Its roles hold privileges only in the database just dropped.
        client
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS \"{app}_clone\", \"{app}\"",
                app = app_role_of(&name)
            ))
            .await?;
        drop(client);
        let _ = driver.await;
        Ok::<(), tokio_postgres::Error>(())
    }
    .await;
    if let Err(e) = result {
        eprintln!("warning: cannot drop test database {name}: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hba_for_ssl_only_scram() {
        let hba = hba_conf(&PgOptions::scram("pw").ssl_only());
        assert!(hba.contains("hostssl     all      all  127.0.0.1/32 scram-sha-256"));
        assert!(!hba.contains("\nhost "));
    }

    #[test]
    fn fnv_is_stable() {
        assert_eq!(fnv1a64(&[b"a"]), fnv1a64(&[b"a"]));
        assert_ne!(fnv1a64(&[b"a", b"b"]), fnv1a64(&[b"ab"]));
    }
}
