//! The harness of the end-to-end journeys: the workspace's built binaries (`agora`,
//! `agora-indexer`, `agora-provider`) driven as a user would, against a real anvil, a real
//! PostgreSQL cluster and a real Kubo daemon that each journey starts on loopback ports.
//!
//! The binaries are the ones `cargo test --workspace` (or `cargo build --workspace`) leaves
//! next to this crate's test executables; a missing one fails the journey, never skips it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Output, Stdio},
    time::{Duration, Instant},
};

use agora_contracts::Deployment;
use agora_deploy::services::{anvil, kubo::KuboDaemon, postgres::PostgresCluster};
use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::Address,
};
use serde_json::Value;

/// How long a journey waits for the indexer to catch up or a service to answer.
const WAIT: Duration = Duration::from_secs(60);

/// A workspace binary next to this test executable (`target/<profile>/<name>`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test>-<hash> → target/<profile>/<name>
    let dir = exe.parent().and_then(Path::parent).expect("test executable in target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} missing: run `cargo build --workspace` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

/// What a command printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// What a command printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Fails unless the command exited with code 1 and printed exactly one line, `error: …`,
/// containing `needle`.
pub fn assert_one_line_error(output: &Output, needle: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stdout: {} stderr: {err}", stdout(output));
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "expected {needle:?} in {err}");
}

/// The repository's root folder.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().map(PathBuf::from).unwrap_or_default()
}

/// An anvil chain and a working folder holding its deployment manifest (`deploy/deployments`),
/// the keystores and whatever files the journey writes.
pub struct Chain {
    /// The node.
    pub anvil: AnvilInstance,
    /// The folder every `agora` command runs in.
    pub dir: tempfile::TempDir,
    /// Kubo's RPC API, given to `agora` as `AGORA_IPFS_API` when set.
    pub ipfs_api: Option<String>,
}

impl Chain {
    /// A fresh anvil with `chain_id`; nothing deployed yet.
    pub fn start(chain_id: u64) -> Self {
        let path = anvil::binary_path().unwrap_or_else(|err| panic!("{err}"));
        let anvil = Anvil::at(path).chain_id(chain_id).spawn();
        let dir = tempfile::tempdir().expect("temporary folder");
        Self { anvil, dir, ipfs_api: None }
    }

    /// A fresh local anvil (chain 31337) with the protocol deployed by `agora deploy --preset local`.
    pub fn deployed() -> Self {
        let chain = Self::start(31337);
        chain.json(0, &["deploy", "--preset", "local"]);
        chain
    }

    /// anvil's dev account `account`'s private key.
    pub fn key(&self, account: usize) -> String {
        alloy::hex::encode_prefixed(self.anvil.keys()[account].to_bytes())
    }

    /// anvil's dev account `account`.
    pub fn address(&self, account: usize) -> Address {
        self.anvil.addresses()[account]
    }

    /// `agora` on this chain with no key and a clean environment (no inherited `AGORA_*`).
    pub fn agora(&self) -> Command {
        let mut command = Command::new(binary("agora"));
        for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("AGORA_")) {
            command.env_remove(key);
        }
        command
            .current_dir(self.dir.path())
            .env("AGORA_RPC_URL", self.anvil.endpoint())
            .env("AGORA_KEYSTORE_DIR", self.dir.path().join("keystores"));
        if let Some(api) = &self.ipfs_api {
            command.env("AGORA_IPFS_API", api);
        }
        command
    }

    /// `agora <args>` as dev account `account`.
    pub fn run(&self, account: usize, args: &[&str]) -> Output {
        self.agora()
            .env("AGORA_PRIVATE_KEY", self.key(account))
            .args(args)
            .output()
            .unwrap_or_else(|err| panic!("running agora: {err}"))
    }

    /// `agora --json <args>` as dev account `account`, which must succeed; what it printed.
    pub fn json(&self, account: usize, args: &[&str]) -> Value {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let out = self.run(account, &full);
        assert!(out.status.success(), "agora {args:?} failed: {}", stderr(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|err| panic!("agora {args:?}: {err}: {}", stdout(&out)))
    }

    /// One anvil JSON-RPC call (`anvil_mine`, `evm_increaseTime`, …).
    pub fn rpc(&self, method: &'static str, params: Value) -> Value {
        use alloy::providers::{Provider, ProviderBuilder};
        let provider = ProviderBuilder::new().connect_http(self.anvil.endpoint_url());
        block_on(provider.raw_request::<_, Value>(method.into(), params))
            .unwrap_or_else(|err| panic!("{method}: {err}"))
    }

    /// The current block number.
    pub fn block_number(&self) -> u64 {
        let hex = self.rpc("eth_blockNumber", Value::Array(vec![]));
        u64::from_str_radix(hex.as_str().expect("a hex block number").trim_start_matches("0x"), 16)
            .expect("a hex block number")
    }

    /// This chain's deployment manifest.
    pub fn manifest_path(&self) -> PathBuf {
        let id = self.anvil.chain_id();
        self.dir.path().join(format!("deploy/deployments/{id}.json"))
    }

    /// The manifest `agora deploy` wrote.
    pub fn manifest(&self) -> Deployment {
        Deployment::read(self.manifest_path()).unwrap_or_else(|err| panic!("{err}"))
    }

    /// Deploys a 6-decimal EIP-2612 stablecoin ("mUSD") from dev account 0 and mints `amount`
    /// base units to `to`; its address.
    pub fn stablecoin(&self, to: Address, amount: u64) -> Address {
        use agora_contracts::{mocks::MockStablecoin, signing_provider, tx};
        let signer: alloy::signers::local::PrivateKeySigner =
            self.key(0).parse().unwrap_or_else(|err| panic!("{err}"));
        let provider = signing_provider(self.anvil.endpoint_url(), signer);
        block_on(async move {
            let token =
                MockStablecoin::deploy(provider).await.unwrap_or_else(|err| panic!("deploy mUSD: {err}"));
            let minted = tx::send("mint", token.mint(to, alloy::primitives::U256::from(amount))).await;
            minted.unwrap_or_else(|err| panic!("{err}"));
            // The DAO's currency allow-list, as a proposal would extend it.
            agora_contracts::anvil::allow_currency(
                self.anvil.endpoint_url(),
                &self.manifest(),
                *token.address(),
            )
            .await
            .unwrap_or_else(|err| panic!("allowing mUSD: {err}"));
            *token.address()
        })
    }

    /// Writes `len` deterministic bytes to `name` in the working folder; its path.
    pub fn write_file(&self, name: &str, len: usize) -> String {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let path = self.dir.path().join(name);
        std::fs::write(&path, data).unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
        path.to_string_lossy().into_owned()
    }
}

/// Runs a future on a throwaway runtime (the journeys themselves are synchronous, like a shell).
pub fn block_on<F: std::future::IntoFuture>(future: F) -> F::Output {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    runtime.block_on(future.into_future())
}

/// `GET url`: the status and the JSON body.
pub fn get(url: &str) -> (u16, Value) {
    block_on(async {
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client");
        let response = client.get(url).send().await.unwrap_or_else(|err| panic!("GET {url}: {err}"));
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or_else(|err| panic!("GET {url}: not JSON: {err}"));
        (status, body)
    })
}

/// A service the journey started: its process (killed when dropped), its base URL and the
/// file in the chain's folder it logs to.
pub struct Service {
    child: Child,
    log: PathBuf,
    /// The base URL of its HTTP API.
    pub url: String,
}

impl Service {
    /// `program` with only `PATH` and `HOME` from this environment.
    pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", std::env::var_os("HOME").unwrap_or_default());
        command
    }

    /// Spawns `command` in the chain's folder, logging to `log` there, and waits until
    /// `<url>/health` answers.
    pub fn start(chain: &Chain, mut command: Command, log: &str, url: String) -> Self {
        let log = chain.dir.path().join(log);
        let file = std::fs::File::create(&log).expect("service log");
        let child = command
            .current_dir(chain.dir.path())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .unwrap_or_else(|err| panic!("starting {:?}: {err}", command.get_program()));
        let mut service = Self { child, log, url };
        service.wait("/health answers", |service| {
            block_on(async {
                let health = reqwest::get(format!("{}/health", service.url)).await;
                health.is_ok_and(|r| r.status().is_success())
            })
        });
        service
    }

    /// `GET <path>`, which must answer 200; the body.
    pub fn get(&self, path: &str) -> Value {
        let (status, body) = get(&format!("{}{path}", self.url));
        assert_eq!(status, 200, "GET {path}: {body}");
        body
    }

    /// Polls `done` until it holds, failing with the service's log after [`WAIT`].
    pub fn wait(&mut self, what: &str, mut done: impl FnMut(&Self) -> bool) {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited ({status}): {}", self.log.display(), tail(&self.log));
            }
            if done(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("no {what} after {WAIT:?}: {}", tail(&self.log));
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `agora-indexer run` following `chain` into a fresh PostgreSQL database, its API on a
/// loopback port.
pub fn indexer(chain: &Chain, postgres: &PostgresCluster, kubo: &KuboDaemon) -> Service {
    let database = postgres.fresh_database().unwrap_or_else(|err| panic!("{err}"));
    let listen = format!("127.0.0.1:{}", free_port());
    let mut command = Service::command(binary("agora-indexer"));
    command
        .args([
            "run",
            "--rpc-url",
            chain.anvil.endpoint().as_str(),
            "--ws-url",
            chain.anvil.ws_endpoint().as_str(),
        ])
        .args(["--database-url", &database, "--listen", &listen, "--ipfs-api", &kubo.api_url()])
        .arg("--manifest")
        .arg(chain.manifest_path());
    Service::start(chain, command, "indexer.log", format!("http://{listen}"))
}

impl Service {
    /// Waits until the indexer has committed `chain`'s current head.
    pub fn synced(&mut self, chain: &Chain) {
        let head = chain.block_number();
        self.wait(&format!("indexed block {head}"), |indexer| {
            indexer.get("/status")["indexedBlock"].as_u64().is_some_and(|b| b >= head)
        });
    }
}

/// `agora-provider` serving downloads and jobs for `chain` with dev account `account`'s key.
pub fn provider(chain: &Chain, kubo: &KuboDaemon, account: usize) -> Service {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut command = Service::command(binary("agora-provider"));
    command
        .env("AGORA_PROVIDER_PRIVATE_KEY", chain.key(account))
        .args([
            "--rpc-url",
            chain.anvil.endpoint().as_str(),
            "--ipfs-api",
            &kubo.api_url(),
            "--listen",
            &listen,
        ])
        .arg("--deployment")
        .arg(chain.manifest_path())
        .arg("--database")
        .arg(chain.dir.path().join(format!("provider-{account}.sqlite")));
    Service::start(chain, command, &format!("provider-{account}.log"), format!("http://{listen}"))
}

/// An operator's provider as `agora provider` sets one up: `provider init` (a config file),
/// `provider register` on the ComputeMarket at `price` ETH a job, then `provider run` — its
/// service and URL. Register it before publishing what it should hold the content keys of.
pub fn registered_provider(
    chain: &Chain,
    kubo: &KuboDaemon,
    account: usize,
    price: &str,
) -> (Service, String) {
    registered_provider_edited(chain, kubo, account, price, |config| config)
}

/// [`registered_provider`] with the provider.toml `provider init` wrote passed through `edit`.
pub fn registered_provider_edited(
    chain: &Chain,
    kubo: &KuboDaemon,
    account: usize,
    price: &str,
    edit: impl Fn(String) -> String,
) -> (Service, String) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    chain.json(account, &["provider", "init", "--listen", &format!("127.0.0.1:{port}")]);
    let config = chain.dir.path().join("provider.toml");
    let text = std::fs::read_to_string(&config).unwrap_or_else(|err| panic!("{}: {err}", config.display()));
    std::fs::write(&config, edit(text)).unwrap_or_else(|err| panic!("{}: {err}", config.display()));
    chain.json(account, &["provider", "register", "--endpoint", &url, "--price", price]);
    let mut run = Service::command(binary("agora"));
    run.env("AGORA_RPC_URL", chain.anvil.endpoint())
        .env("AGORA_IPFS_API", kubo.api_url())
        .env("AGORA_PRIVATE_KEY", chain.key(account))
        .args(["provider", "run", "--config", "provider.toml"]);
    (Service::start(chain, run, "provider.log", url.clone()), url)
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// PostgreSQL and Kubo for a journey; a missing one fails it with what is missing.
pub fn services() -> (PostgresCluster, KuboDaemon) {
    let postgres = PostgresCluster::start().unwrap_or_else(|err| panic!("PostgreSQL: {err}"));
    let kubo = KuboDaemon::start().unwrap_or_else(|err| panic!("Kubo: {err}"));
    (postgres, kubo)
}
