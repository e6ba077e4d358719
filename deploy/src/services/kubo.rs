//! A Kubo (IPFS) daemon on loopback with a throwaway repository.
//!
//! [`KuboDaemon::start`] finds the pinned binary that `scripts/kubo.sh` builds, runs
//! `ipfs init --profile test` into a temporary `IPFS_PATH`, empties `Bootstrap`, puts the RPC
//! API and the gateway on free `127.0.0.1` ports and starts `ipfs daemon --offline`, so nothing
//! ever leaves the machine. It blocks until the API answers. Dropping it stops the daemon and
//! deletes the repository. [`KuboDaemon::stop`] and [`KuboDaemon::restart`] keep the repository
//! and the ports, so a test can take IPFS away in the middle of a transfer and bring it back
//! with the same content at the same URL.
//!
//! [`KuboDaemon::start_networked`] starts one online instead, with a swarm listener on a free
//! loopback port (still no bootstrap peers, no mDNS): [`KuboDaemon::peer_with`] keeps it
//! connected to another daemon through Kubo's peering (`ipfs swarm peering add`), and blocks
//! move between them over bitswap, as between the nodes of a real deployment.

use std::{
    env,
    net::{Ipv4Addr, TcpListener},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

/// The Kubo version `scripts/kubo.sh` builds; keep the two in step.
pub const KUBO_VERSION: &str = "v0.43.1";

/// Environment variable that names the `ipfs` binary explicitly.
pub const BIN_ENV: &str = "AGORA_IPFS_BIN";

/// How long the daemon may take to answer its API after starting.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a stopped daemon may take to exit after SIGTERM before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one readiness probe waits for the API.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Starting or controlling a Kubo daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No `ipfs` binary at the configured or cached path.
    #[error(
        "Kubo binary not found at {path}: run ./scripts/setup.sh (or ./scripts/kubo.sh), or set {BIN_ENV}"
    )]
    MissingBinary {
        /// Where it was looked for.
        path: String,
    },
    /// A file-system or process operation failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// An `ipfs` command exited with an error.
    #[error("{command} failed ({status}): {output}")]
    Command {
        /// The command run.
        command: String,
        /// Its exit status.
        status: String,
        /// What it wrote to stderr and stdout.
        output: String,
    },
    /// The repository's config file could not be read or rewritten.
    #[error("Kubo config {path}: {reason}")]
    Config {
        /// The config file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The daemon exited or did not answer its API in time.
    #[error("Kubo daemon did not start within {timeout:?}: {reason}; daemon log:\n{log}")]
    StartTimeout {
        /// How long it was given.
        timeout: Duration,
        /// Why it is considered failed.
        reason: String,
        /// The daemon's output.
        log: String,
    },
}

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
    let action = action.into();
    move |source| Error::Io { action, source }
}

/// The `ipfs` binary: `$AGORA_IPFS_BIN`, else the cache path `scripts/kubo.sh` writes
/// (`${AGORA_CACHE:-$HOME/.cache/agora}/kubo-<version>/ipfs`).
pub fn binary_path() -> Result<PathBuf, Error> {
    resolve_binary(env::var_os(BIN_ENV), &super::cache_dir())
}

fn resolve_binary(explicit: Option<std::ffi::OsString>, cache: &Path) -> Result<PathBuf, Error> {
    let path = match explicit {
        Some(path) if !path.is_empty() => PathBuf::from(path),
        _ => cache.join(format!("kubo-{KUBO_VERSION}")).join("ipfs"),
    };
    if path.is_file() { Ok(path) } else { Err(Error::MissingBinary { path: path.display().to_string() }) }
}

/// A Kubo daemon with a throwaway repository; dropping it stops the daemon and deletes the
/// repository.
#[derive(Debug)]
pub struct KuboDaemon {
    binary: PathBuf,
    // Declared before `repo` so the daemon is stopped (in `Drop`) before its folder goes.
    child: Option<Child>,
    repo: tempfile::TempDir,
    api_port: u16,
    gateway_port: u16,
    /// The swarm's port when online; `None` runs the daemon `--offline`.
    swarm_port: Option<u16>,
}

impl KuboDaemon {
    /// Initialises a repository in a temporary folder and starts the daemon on free loopback
    /// ports, offline. Blocks until the API answers.
    pub fn start() -> Result<Self, Error> {
        Self::start_with(false)
    }

    /// Like [`KuboDaemon::start`], but online, listening for peers on a free loopback port.
    pub fn start_networked() -> Result<Self, Error> {
        Self::start_with(true)
    }

    fn start_with(networked: bool) -> Result<Self, Error> {
        let binary = binary_path()?;
        let repo =
            tempfile::Builder::new().prefix("agora-kubo-").tempdir().map_err(io("create a tempdir"))?;
        let mut init = Command::new(&binary);
        init.args(["init", "--profile", "test", "--empty-repo"]).env("IPFS_PATH", repo.path());
        run(&mut init, "ipfs init --profile test")?;
        let mut daemon = Self { binary, child: None, repo, api_port: 0, gateway_port: 0, swarm_port: None };
        // A port found free can be taken by another daemon (a parallel test's) before this one
        // binds it: that daemon then exits, and it is started again on fresh ports.
        let mut attempts = 0;
        loop {
            attempts += 1;
            daemon.api_port = free_port()?;
            daemon.gateway_port = free_port()?;
            daemon.swarm_port = if networked { Some(free_port()?) } else { None };
            let config = daemon.repo.path().join("config");
            configure(&config, daemon.api_port, daemon.gateway_port, daemon.swarm_port)?;
            match daemon.spawn() {
                Err(Error::StartTimeout { reason, .. })
                    if attempts < 3 && reason.starts_with("the daemon exited") =>
                {
                    continue;
                }
                result => return result.map(|()| daemon),
            }
        }
    }

    /// The RPC API's base URL, e.g. `http://127.0.0.1:5001` (requests go to `/api/v0/…`).
    pub fn api_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.api_port)
    }

    /// The HTTP gateway's base URL (content at `/ipfs/<cid>`).
    pub fn gateway_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.gateway_port)
    }

    /// The node's peer ID, from its repository's config.
    pub fn peer_id(&self) -> Result<String, Error> {
        let path = self.repo.path().join("config");
        let fail = |reason: String| Error::Config { path: path.display().to_string(), reason };
        let text = std::fs::read_to_string(&path).map_err(|e| fail(e.to_string()))?;
        let config: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
        config["Identity"]["PeerID"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| fail("no Identity.PeerID".into()))
    }

    /// The multiaddress peers reach this daemon at, e.g. `/ip4/127.0.0.1/tcp/4001/p2p/12D3…`;
    /// `None` for an offline daemon.
    pub fn swarm_address(&self) -> Result<Option<String>, Error> {
        let Some(port) = self.swarm_port else { return Ok(None) };
        Ok(Some(format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", self.peer_id()?)))
    }

    /// Keeps this (networked) daemon connected to `other`, reconnecting whenever the link
    /// drops, with Kubo's peering (`ipfs swarm peering add`); for as long as this daemon runs.
    pub fn peer_with(&self, other: &KuboDaemon) -> Result<(), Error> {
        let Some(address) = other.swarm_address()? else {
            return Err(Error::Config {
                path: other.repo.path().display().to_string(),
                reason: "an offline daemon has no swarm address to peer with".into(),
            });
        };
        let mut add = self.command();
        add.args(["swarm", "peering", "add", &address]);
        run(&mut add, "ipfs swarm peering add")
    }

    /// The repository folder (`IPFS_PATH`).
    pub fn repo_path(&self) -> &Path {
        self.repo.path()
    }

    /// The `ipfs` binary the daemon runs.
    pub fn binary(&self) -> &Path {
        &self.binary
    }

    /// A command for the same binary and repository (e.g. `ipfs cat` next to the daemon).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.env("IPFS_PATH", self.repo.path());
        cmd
    }

    /// Whether the daemon process is running.
    pub fn is_running(&mut self) -> bool {
        self.child.as_mut().is_some_and(|child| matches!(child.try_wait(), Ok(None)))
    }

    /// Stops the daemon (SIGTERM, then SIGKILL after a grace period), keeping the repository.
    pub fn stop(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        if matches!(child.try_wait(), Ok(None)) {
            // SIGTERM lets Kubo release its repository lock; `kill` is the portable way
            // to send it without a libc dependency. SIGCONT first, in case it is paused.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            let deadline = Instant::now() + STOP_TIMEOUT;
            while matches!(child.try_wait(), Ok(None)) && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(25));
            }
            if matches!(child.try_wait(), Ok(None)) {
                child.kill().map_err(io("kill the Kubo daemon"))?;
            }
        }
        child.wait().map_err(io("wait for the Kubo daemon"))?;
        Ok(())
    }

    /// Freezes the daemon (SIGSTOP): connections stay open but nothing answers, as with a
    /// hung node. [`KuboDaemon::resume`] continues it.
    pub fn pause(&mut self) -> Result<(), Error> {
        self.signal("-STOP")
    }

    /// Continues a paused daemon (SIGCONT).
    pub fn resume(&mut self) -> Result<(), Error> {
        self.signal("-CONT")
    }

    fn signal(&mut self, signal: &str) -> Result<(), Error> {
        let Some(child) = self.child.as_ref() else { return Ok(()) };
        let mut kill = Command::new("kill");
        kill.args([signal, &child.id().to_string()]);
        run(&mut kill, &format!("kill {signal}"))
    }

    /// Kills the daemon at once (SIGKILL), as a crash would, keeping the repository.
    pub fn kill(&mut self) -> Result<(), Error> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        if matches!(child.try_wait(), Ok(None)) {
            child.kill().map_err(io("kill the Kubo daemon"))?;
        }
        child.wait().map_err(io("wait for the Kubo daemon"))?;
        Ok(())
    }

    /// Starts the daemon again on the same ports with the same repository. A no-op when it
    /// is running.
    pub fn restart(&mut self) -> Result<(), Error> {
        if self.is_running() {
            return Ok(());
        }
        self.stop()?;
        self.spawn()
    }

    fn spawn(&mut self) -> Result<(), Error> {
        let log_path = self.repo.path().join("daemon.log");
        let log = std::fs::File::create(&log_path).map_err(io("create the daemon log"))?;
        let log_err = log.try_clone().map_err(io("open the daemon log"))?;
        let args: &[&str] = if self.swarm_port.is_some() { &["daemon"] } else { &["daemon", "--offline"] };
        let child = Command::new(&self.binary)
            .args(args)
            .env("IPFS_PATH", self.repo.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(io(format!("start {} daemon", self.binary.display())))?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(self.start_failed(format!("the daemon exited ({status})")));
            }
            // Its own API: another daemon on the port (a clash) answers with another peer ID.
            if api_answers(self.api_url(), &self.peer_id()?) {
                return Ok(());
            }
            if Instant::now() >= deadline {
                let _ = self.stop();
                return Err(self.start_failed("the API did not answer".into()));
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    fn start_failed(&self, reason: String) -> Error {
        let log = std::fs::read_to_string(self.repo.path().join("daemon.log")).unwrap_or_default();
        Error::StartTimeout { timeout: START_TIMEOUT, reason, log }
    }
}

impl Drop for KuboDaemon {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}

/// Rewrites the repository config: no bootstrap peers, no discovery, API and gateway on the
/// given loopback ports, a swarm listener on `swarm_port` (loopback) or none.
fn configure(path: &Path, api_port: u16, gateway_port: u16, swarm_port: Option<u16>) -> Result<(), Error> {
    let fail = |reason: String| Error::Config { path: path.display().to_string(), reason };
    let text = std::fs::read_to_string(path).map_err(|e| fail(e.to_string()))?;
    let mut config: serde_json::Value = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    let root = config.as_object_mut().ok_or_else(|| fail("not a JSON object".into()))?;
    root.insert("Bootstrap".into(), serde_json::json!([]));
    let addresses = root
        .entry("Addresses")
        .or_insert_with(|| serde_json::json!({}))
        .as_object_mut()
        .ok_or_else(|| fail("Addresses is not an object".into()))?;
    addresses.insert("API".into(), format!("/ip4/127.0.0.1/tcp/{api_port}").into());
    addresses.insert("Gateway".into(), format!("/ip4/127.0.0.1/tcp/{gateway_port}").into());
    let swarm: Vec<String> =
        swarm_port.map(|port| format!("/ip4/127.0.0.1/tcp/{port}")).into_iter().collect();
    addresses.insert("Swarm".into(), serde_json::json!(swarm));
    addresses.insert("Announce".into(), serde_json::json!([]));
    addresses.insert("NoAnnounce".into(), serde_json::json!([]));
    let text = serde_json::to_string_pretty(&config).map_err(|e| fail(e.to_string()))?;
    std::fs::write(path, text).map_err(|e| fail(e.to_string()))
}

/// Whether Kubo's RPC API at `url` answers `version`, asked through agora-ipfs (the one IPFS
/// client). On a thread of its own with its own runtime: the daemon is started from synchronous
/// code that may itself run inside a tokio runtime.
fn api_answers(url: String, peer_id: &str) -> bool {
    let peer_id = peer_id.to_owned();
    thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
            return false;
        };
        runtime.block_on(async {
            match agora_ipfs::Storage::new(&url, PROBE_TIMEOUT) {
                Ok(storage) => storage.peer_id().await.is_ok_and(|id| id == peer_id),
                Err(_) => false,
            }
        })
    })
    .join()
    .unwrap_or(false)
}

/// A loopback port that was free a moment ago; a clash makes the daemon fail loudly.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(io("find a free port"))?;
    Ok(listener.local_addr().map_err(io("find a free port"))?.port())
}

fn run(cmd: &mut Command, name: &str) -> Result<(), Error> {
    let output = cmd.output().map_err(io(format!("run {name}")))?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stderr).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stdout));
    Err(Error::Command { command: name.to_owned(), status: output.status.to_string(), output: text })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_binary_says_how_to_build_it() {
        let empty = tempfile::tempdir().unwrap();
        let err = resolve_binary(None, empty.path()).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("run ./scripts/setup.sh"), "{message}");
        assert!(message.contains(&format!("kubo-{KUBO_VERSION}/ipfs")), "{message}");
        let err = resolve_binary(Some("/nonexistent/ipfs".into()), empty.path()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/ipfs"));
    }

    #[test]
    fn an_explicit_or_cached_binary_is_found() {
        let cache = tempfile::tempdir().unwrap();
        let cached = cache.path().join(format!("kubo-{KUBO_VERSION}"));
        std::fs::create_dir_all(&cached).unwrap();
        std::fs::write(cached.join("ipfs"), b"").unwrap();
        assert_eq!(resolve_binary(None, cache.path()).unwrap(), cached.join("ipfs"));
        assert_eq!(resolve_binary(Some("".into()), cache.path()).unwrap(), cached.join("ipfs"));
        let explicit = cache.path().join("my-ipfs");
        std::fs::write(&explicit, b"").unwrap();
        assert_eq!(resolve_binary(Some(explicit.clone().into()), cache.path()).unwrap(), explicit);
    }
}
