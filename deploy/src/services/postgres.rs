//! A throwaway PostgreSQL cluster: `initdb` into a temporary folder, a server on a free
//! loopback port with its socket inside that folder, stopped and deleted when dropped.
//!
//! Tests and `agora dev` use it instead of a shared server, so every run starts from nothing.

use std::{
    ffi::OsStr,
    fs,
    net::{Ipv4Addr, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    sync::atomic::{AtomicU32, Ordering},
    thread,
    time::{Duration, Instant},
};

/// The server binaries a cluster needs.
const BINARIES: &[&str] = &["initdb", "pg_ctl", "postgres", "createdb", "pg_basebackup"];

/// How long the server may take to accept connections after `pg_ctl start`.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The superuser `initdb` creates; connections authenticate by `trust` on loopback.
const SUPERUSER: &str = "postgres";

/// Starting or using a throwaway cluster failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The PostgreSQL server binaries are not installed.
    #[error(
        "PostgreSQL server binaries not found: missing {missing} (looked in {searched}); \
         run ./scripts/setup.sh to install PostgreSQL"
    )]
    MissingBinaries {
        /// The binaries that could not be found, comma-separated.
        missing: String,
        /// The folders searched.
        searched: String,
    },
    /// Running as root, but the `postgres` system user (which `initdb` needs) does not exist.
    #[error("running as root needs the `postgres` system user to run initdb; run ./scripts/setup.sh")]
    NoPostgresUser,
    /// A file-system operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A PostgreSQL command exited with an error.
    #[error("{command} failed ({status}): {stderr}")]
    Command {
        /// The command run.
        command: String,
        /// Its exit status.
        status: String,
        /// What it wrote to stderr (and stdout).
        stderr: String,
    },
    /// The server did not accept connections in time.
    #[error("PostgreSQL did not start within {timeout:?}; server log:\n{log}")]
    StartTimeout {
        /// How long it was given.
        timeout: Duration,
        /// The server's log.
        log: String,
    },
    /// A database name that is not a plain identifier.
    #[error("invalid database name {0:?}: use letters, digits and underscores")]
    InvalidName(String),
}

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let action = action.into();
    move |source| Error::Io { action, source }
}

/// A running throwaway cluster; dropping it stops the server and deletes its files.
#[derive(Debug)]
pub struct PostgresCluster {
    bin_dir: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    as_postgres_user: bool,
    next_db: AtomicU32,
}

impl PostgresCluster {
    /// Finds the server binaries, creates a cluster in a temporary folder and starts it on a
    /// free loopback port. Blocks until the server accepts connections.
    pub fn start() -> Result<Self, Error> {
        let bin_dir = find_bin_dir()?;
        let as_postgres_user = is_root();
        if as_postgres_user && !user_exists(SUPERUSER) {
            return Err(Error::NoPostgresUser);
        }
        let dir =
            tempfile::Builder::new().prefix("agora-postgres-").tempdir().map_err(io("create a tempdir"))?;
        if as_postgres_user {
            // The server runs as `postgres` and must own its data and socket folders.
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()))?;
        }
        let mut cluster = Self { bin_dir, dir, port: 0, as_postgres_user, next_db: AtomicU32::new(0) };
        let data = cluster.data_dir();
        cluster.run_pg(
            "initdb",
            [
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-U"),
                OsStr::new(SUPERUSER),
                OsStr::new("--auth=trust"),
                OsStr::new("--encoding=UTF8"),
                OsStr::new("--no-sync"),
                OsStr::new("--locale=C"),
            ],
        )?;
        cluster.serve()?;
        Ok(cluster)
    }

    /// A streaming replica of this cluster, as PostgreSQL's own replication makes one: a base
    /// backup taken with `pg_basebackup -R` (which writes `primary_conninfo` and
    /// `standby.signal`) into a folder of its own, started as a hot standby on another free
    /// loopback port. It follows this cluster's WAL until either stops and refuses writes.
    pub fn start_replica(&self) -> Result<Self, Error> {
        let dir = tempfile::Builder::new()
            .prefix("agora-postgres-replica-")
            .tempdir()
            .map_err(io("create a tempdir"))?;
        if self.as_postgres_user {
            run(Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()))?;
        }
        let mut replica = Self {
            bin_dir: self.bin_dir.clone(),
            dir,
            port: 0,
            as_postgres_user: self.as_postgres_user,
            next_db: AtomicU32::new(0),
        };
        let data = replica.data_dir();
        let port = self.port.to_string();
        replica.run_pg(
            "pg_basebackup",
            to_server(&port).into_iter().chain([
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-R"),
                OsStr::new("--wal-method=stream"),
                OsStr::new("--checkpoint=fast"),
                OsStr::new("--no-sync"),
            ]),
        )?;
        replica.serve()?;
        Ok(replica)
    }

    /// Starts the server of this cluster's data folder on a free loopback port.
    fn serve(&mut self) -> Result<(), Error> {
        let data = self.data_dir();
        // A port that was free a moment ago; a clash makes `pg_ctl` fail loudly, never silently.
        self.port = free_port()?;
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        );
        let log = self.log_path();
        self.run_pg(
            "pg_ctl",
            [
                OsStr::new("start"),
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-l"),
                log.as_os_str(),
                OsStr::new("-o"),
                OsStr::new(&options),
                OsStr::new("-w"),
                OsStr::new("-t"),
                OsStr::new("30"),
            ],
        )?;
        self.wait_ready()
    }

    /// The loopback port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `name` on this cluster.
    pub fn url_of(&self, name: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{name}", self.port)
    }

    /// The URL of the default `postgres` database.
    pub fn url(&self) -> String {
        self.url_of("postgres")
    }

    /// Creates a new empty database `name` and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, Error> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(Error::InvalidName(name.to_owned()));
        }
        let port = self.port.to_string();
        self.run_pg("createdb", to_server(&port).into_iter().chain([OsStr::new(name)]))?;
        Ok(self.url_of(name))
    }

    /// Creates a database with a fresh generated name and returns its URL.
    pub fn fresh_database(&self) -> Result<String, Error> {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        self.create_database(&format!("agora_{n}"))
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn command(&self, binary: &str) -> Command {
        let path = self.bin_dir.join(binary);
        if self.as_postgres_user {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", SUPERUSER, "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn run_pg<I, S>(&self, binary: &str, args: I) -> Result<Output, Error>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(binary);
        cmd.args(args).current_dir(self.dir.path());
        run(&mut cmd)
    }

    fn wait_ready(&self) -> Result<(), Error> {
        let deadline = Instant::now() + START_TIMEOUT;
        while Instant::now() < deadline {
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                return Ok(());
            }
            thread::sleep(Duration::from_millis(50));
        }
        let log = fs::read_to_string(self.log_path()).unwrap_or_default();
        Err(Error::StartTimeout { timeout: START_TIMEOUT, log })
    }
}

impl Drop for PostgresCluster {
    fn drop(&mut self) {
        let data = self.data_dir();
        // Immediate: a throwaway cluster needs no clean shutdown, only a quick one.
        let _ = self
            .command("pg_ctl")
            .args([
                OsStr::new("stop"),
                OsStr::new("-D"),
                data.as_os_str(),
                OsStr::new("-m"),
                OsStr::new("immediate"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The arguments of a client program that connect it to the server on `port` as the superuser.
fn to_server(port: &str) -> [&OsStr; 6] {
    ["-h", "127.0.0.1", "-p", port, "-U", SUPERUSER].map(OsStr::new)
}

fn run(cmd: &mut Command) -> Result<Output, Error> {
    let description = format!("{cmd:?}");
    let output = cmd.stdin(Stdio::null()).output().map_err(io(format!("run {description}")))?;
    if !output.status.success() {
        return Err(Error::Command {
            command: description,
            status: output.status.to_string(),
            stderr: format!(
                "{}{}",
                String::from_utf8_lossy(&output.stderr),
                String::from_utf8_lossy(&output.stdout)
            ),
        });
    }
    Ok(output)
}

/// The folder holding every binary of [`BINARIES`]: the newest `/usr/lib/postgresql/*/bin`,
/// else a folder on `PATH`.
fn find_bin_dir() -> Result<PathBuf, Error> {
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Ok(entries) = fs::read_dir("/usr/lib/postgresql") {
        let mut versions: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let version = e.file_name().to_str()?.parse::<u32>().ok()?;
                Some((version, e.path().join("bin")))
            })
            .collect();
        versions.sort_by_key(|v| std::cmp::Reverse(v.0));
        candidates.extend(versions.into_iter().map(|(_, dir)| dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path));
    }
    find_in(&candidates)
}

/// The first of `candidates` that holds every binary (following `initdb` symlinks into the
/// versioned folder that has the rest), or an error naming what is missing.
fn find_in(candidates: &[PathBuf]) -> Result<PathBuf, Error> {
    let has_all = |dir: &Path| BINARIES.iter().all(|b| dir.join(b).is_file());
    if let Some(dir) = candidates.iter().find(|dir| has_all(dir)) {
        let resolved = fs::canonicalize(dir.join("initdb"))
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .filter(|d| has_all(d));
        return Ok(resolved.unwrap_or_else(|| dir.clone()));
    }
    let missing: Vec<&str> =
        BINARIES.iter().copied().filter(|b| !candidates.iter().any(|dir| dir.join(b).is_file())).collect();
    let missing = if missing.is_empty() {
        format!("a single folder holding all of {}", BINARIES.join(", "))
    } else {
        missing.join(", ")
    };
    Err(Error::MissingBinaries { missing, searched: "/usr/lib/postgresql/*/bin and PATH".into() })
}

fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("find a free port"))?;
    let port = listener.local_addr().map_err(io("find a free port"))?.port();
    Ok(port)
}

fn is_root() -> bool {
    // `id -u` avoids a libc dependency for one call.
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_are_named_with_the_fix() {
        let empty = tempfile::tempdir().unwrap();
        let err = find_in(&[empty.path().to_path_buf()]).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("initdb, pg_ctl, postgres, createdb"), "{message}");
        assert!(message.contains("./scripts/setup.sh"), "{message}");
    }

    #[test]
    fn starts_creates_databases_and_cleans_up() {
        let cluster = PostgresCluster::start().unwrap();
        let url = cluster.fresh_database().unwrap();
        assert!(url.ends_with("/agora_0"), "{url}");
        assert!(cluster.fresh_database().unwrap().ends_with("/agora_1"));
        assert!(matches!(cluster.create_database("bad name;"), Err(Error::InvalidName(_))));
        let dir = cluster.dir.path().to_path_buf();
        let port = cluster.port();
        drop(cluster);
        assert!(!dir.exists());
        assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err());
    }
}
