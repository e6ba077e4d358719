//! Shared by the CLI's tests: running the built binary and reading what it printed, and the
//! [`Stack`] most of them drive it against (anvil with the protocol deployed, a temporary
//! folder, optionally Kubo).
#![allow(dead_code, unreachable_pub)]

use std::{
    path::{Path, PathBuf},
    process::{Command, Output, Stdio},
    time::{Duration, Instant},
};

use agora_contracts::{Agora, Deployment, mocks::MockStablecoin, signing_provider, tx};
use agora_deploy::services::kubo::KuboDaemon;
use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder, ext::AnvilApi},
    signers::local::PrivateKeySigner,
};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// anvil's first dev account, a well-known test key.
pub const DEV_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
/// Its address.
pub const DEV_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

/// The pinned anvil; a missing binary fails the test, never skips it.
pub fn anvil_path() -> PathBuf {
    agora_deploy::services::anvil::binary_path().unwrap_or_else(|err| panic!("{err}"))
}

/// Runs `command` to completion.
pub fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|err| panic!("running agora: {err}"))
}

/// What the command printed on stdout.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// What the command printed on stderr.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Fails unless the command exited with code 1 and exactly one line, `error: …`, that contains `needle`.
pub fn assert_one_line_error(output: &Output, needle: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stdout: {} stderr: {err}", stdout(output));
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err}");
    assert!(err.starts_with("error: ") && err.contains(needle), "expected {needle:?} in {err}");
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|err| panic!("binding: {err}"));
    listener.local_addr().unwrap_or_else(|err| panic!("local address: {err}")).port()
}

/// The JSON a successful `agora --json …` printed; fails the test with its stderr otherwise.
pub fn json_of(output: &Output) -> serde_json::Value {
    assert!(output.status.success(), "agora failed: {}", stderr(output));
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("{err}: {}", stdout(output)))
}

/// A long-running `agora` child (e.g. `agora provider run`), killed when dropped.
pub struct Background(pub std::process::Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The all-MiniLM-L6-v2 folder (`AGORA_MODEL_DIR`, else the cache); missing, it fails the test
/// (never skips) saying how to install it.
pub fn model_dir() -> PathBuf {
    agora_deploy::services::model::minilm_dir().unwrap_or_else(|missing| panic!("{missing}"))
}

/// Parses a JSON string holding an address.
pub fn address_of(value: &Value) -> Address {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("not an address: {value}"))
}

/// A JSON array of addresses (e.g. `keyHolders`), in order.
pub fn addresses_of(value: &Value) -> Vec<Address> {
    value.as_array().into_iter().flatten().map(address_of).collect()
}

/// The `0x`-prefixed sha-256 of `data`, as the CLI prints digests.
pub fn sha256_hex(data: &[u8]) -> String {
    format!("0x{}", alloy::hex::encode(Sha256::digest(data)))
}

/// Writes `len` bytes of a fixed pattern to `dir/name`; its path and its [`sha256_hex`].
pub fn write_file(dir: &Path, name: &str, len: usize) -> (String, String) {
    let data: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
    let path = dir.join(name);
    std::fs::write(&path, &data).unwrap_or_else(|err| panic!("writing {}: {err}", path.display()));
    (path.to_string_lossy().into_owned(), sha256_hex(&data))
}

/// anvil with the protocol deployed by `agora deploy --preset local`, in a temporary folder that
/// holds the manifest (and is each command's working directory), and optionally Kubo.
pub struct Stack {
    /// Started by [`Stack::with_kubo`].
    kubo: Option<KuboDaemon>,
    pub chain: AnvilInstance,
    pub dir: tempfile::TempDir,
    /// What `AGORA_IPFS_API` is set to, if anything.
    ipfs_api: Option<String>,
}

impl Stack {
    /// The chain alone: commands get no `AGORA_IPFS_API`.
    pub fn start() -> Self {
        Self::deploy(None, None)
    }

    /// The chain and a Kubo daemon of its own, which commands use.
    pub fn with_kubo() -> Self {
        let kubo = KuboDaemon::start().unwrap_or_else(|err| {
            panic!(
                "cannot start Kubo ({err}); run ./scripts/setup.sh (it builds Kubo with ./scripts/kubo.sh)"
            )
        });
        let api = kubo.api_url();
        Self::deploy(Some(kubo), Some(api))
    }

    /// The chain, with commands pointed at the Kubo API `ipfs_api` (which may be down).
    pub fn with_ipfs_api(ipfs_api: String) -> Self {
        Self::deploy(None, Some(ipfs_api))
    }

    fn deploy(kubo: Option<KuboDaemon>, ipfs_api: Option<String>) -> Self {
        let chain = Anvil::at(anvil_path()).spawn();
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("tempdir: {err}"));
        let stack = Self { kubo, chain, dir, ipfs_api };
        let out = run(stack.agora_with_key(DEV_KEY).args(["deploy", "--preset", "local"]));
        assert!(out.status.success(), "{}", stderr(&out));
        stack
    }

    /// The Kubo daemon started by [`Stack::with_kubo`].
    pub fn kubo(&self) -> &KuboDaemon {
        self.kubo
            .as_ref()
            .unwrap_or_else(|| panic!("this stack runs no Kubo: start it with Stack::with_kubo"))
    }

    /// anvil's dev account `account`'s private key.
    pub fn key(&self, account: usize) -> String {
        alloy::hex::encode_prefixed(self.chain.keys()[account].to_bytes())
    }

    /// anvil's dev account `account`.
    pub fn address(&self, account: usize) -> Address {
        self.chain.addresses()[account]
    }

    /// `name` in the stack's folder.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `agora` as `key`, on this chain, in the stack's folder, with a clean environment
    /// (keystores in the folder too).
    pub fn agora_with_key(&self, key: &str) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_agora"));
        command
            .current_dir(self.dir.path())
            .env_remove("AGORA_NETWORK")
            .env_remove("AGORA_KEYSTORE")
            .env_remove("AGORA_PASSWORD_FILE")
            .env_remove("AGORA_PROVIDER_CONFIG")
            .env_remove("AGORA_PROVIDER_URL")
            .env_remove("AGORA_IPFS_API")
            .env("AGORA_KEYSTORE_DIR", self.dir.path().join("keystores"))
            .env("AGORA_RPC_URL", self.chain.endpoint())
            .env("AGORA_PRIVATE_KEY", key);
        if let Some(api) = &self.ipfs_api {
            command.env("AGORA_IPFS_API", api);
        }
        command
    }

    /// `agora <args>` as anvil's dev account `account`, not yet run.
    pub fn command(&self, account: usize, args: &[&str]) -> Command {
        let mut command = self.agora_with_key(&self.key(account));
        command.args(args);
        command
    }

    /// `agora <args>` as anvil's dev account `account`.
    pub fn agora(&self, account: usize, args: &[&str]) -> Output {
        run(&mut self.command(account, args))
    }

    /// `agora --json <args>` as `account`, which must succeed.
    pub fn json(&self, account: usize, args: &[&str]) -> Value {
        let out = run(self.command(account, &["--json"]).args(args));
        assert!(out.status.success(), "agora {args:?}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}: {}", stdout(&out)))
    }

    /// Writes `bytes` to `name` in the stack's folder; its path.
    pub fn write(&self, name: &str, bytes: &[u8]) -> String {
        let path = self.path(name);
        std::fs::write(&path, bytes).unwrap_or_else(|err| panic!("writing {name}: {err}"));
        path.to_string_lossy().into_owned()
    }

    /// `ipfs add`s a file to the stack's Kubo; its CID.
    pub fn ipfs_add(&self, path: &Path) -> String {
        let out = self.kubo().command().args(["add", "-Q", "--cid-version", "1"]).arg(path).output();
        let out = out.unwrap_or_else(|err| panic!("ipfs add: {err}"));
        assert!(out.status.success(), "ipfs add: {}", stderr(&out));
        stdout(&out).trim().to_owned()
    }

    /// The deployment manifest `agora deploy` wrote.
    pub fn deployment(&self) -> Deployment {
        Deployment::read(self.path("deploy/deployments/31337.json")).unwrap_or_else(|err| panic!("{err}"))
    }

    /// The protocol's contracts, sending as `account`.
    pub fn contracts_as(&self, account: usize) -> Agora {
        let signer = PrivateKeySigner::from(self.chain.keys()[account].clone());
        Agora::new(self.deployment(), signing_provider(self.chain.endpoint_url(), signer))
    }

    /// Runs `future` to completion on a runtime of its own (the tests block on the CLI).
    pub fn block_on<T>(&self, future: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Runtime::new().unwrap_or_else(|err| panic!("tokio: {err}")).block_on(future)
    }

    /// The latest block's timestamp.
    pub fn now(&self) -> u64 {
        let provider = ProviderBuilder::new().connect_http(self.chain.endpoint_url());
        self.block_on(async move {
            let block =
                provider.get_block_by_number(Default::default()).await.unwrap_or_else(|err| panic!("{err}"));
            block.unwrap_or_else(|| panic!("no latest block")).header.timestamp
        })
    }

    /// Moves the chain's clock forward by `seconds` and mines a block.
    pub fn advance(&self, seconds: u64) {
        let provider = ProviderBuilder::new().connect_http(self.chain.endpoint_url());
        self.block_on(async move {
            provider.anvil_increase_time(seconds).await.unwrap_or_else(|err| panic!("{err}"));
            provider.anvil_mine(Some(1), None).await.unwrap_or_else(|err| panic!("{err}"));
        });
    }

    /// Deploys a 6-decimal permit stablecoin (mUSD) as `account` and mints `amount` base units to `to`.
    pub fn stablecoin(&self, account: usize, to: Address, amount: u64) -> Address {
        let deployer = self.contracts_as(account);
        self.block_on(async move {
            let token = MockStablecoin::deploy(deployer.provider().clone())
                .await
                .unwrap_or_else(|err| panic!("deploy mUSD: {err}"));
            tx::send("mint", token.mint(to, U256::from(amount))).await.unwrap_or_else(|err| panic!("{err}"));
            // The DAO's currency allow-list, as a proposal would extend it.
            agora_contracts::anvil::allow_currency(
                self.chain.endpoint_url(),
                &deployer.deployment,
                *token.address(),
            )
            .await
            .unwrap_or_else(|err| panic!("allowing mUSD: {err}"));
            *token.address()
        })
    }

    /// MiniLM as a model asset priced `price` (a manifest of its public files), published as
    /// `account`; its asset id.
    pub fn publish_minilm(&self, account: usize, price: &str) -> String {
        let mut files = Vec::new();
        for name in agora_deploy::services::model::MINILM_FILES {
            let path = model_dir().join(name);
            if path.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_else(|err| panic!("{err}"));
                let sha256 = sha256_hex(&bytes);
                files
                    .push(serde_json::json!({ "name": name, "cid": self.ipfs_add(&path), "sha256": sha256 }));
            }
        }
        let manifest = self.write("model.json", serde_json::json!({ "files": files }).to_string().as_bytes());
        let args = ["asset", "publish", &manifest, "--kind", "model", "--price", price];
        let args: Vec<&str> = args.into_iter().chain((price != "0").then_some("--public")).collect();
        self.json(account, &args)["assetId"].as_str().unwrap_or_default().to_owned()
    }

    /// `agora provider init`, `register` (at 0.05 ETH a job) and `run` as `operator`; its URL and
    /// the service.
    pub fn run_provider(&self, operator: usize) -> (String, Background) {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        self.json(operator, &["provider", "init", "--listen", &format!("127.0.0.1:{port}")]);
        self.json(operator, &["provider", "register", "--endpoint", &url, "--price", "0.05"]);
        let provider_run = self.command(operator, &["provider", "run", "--config", "provider.toml"]);
        let service = self.spawn_provider(provider_run, operator, &url);
        (url, service)
    }

    /// Spawns `provider_run` (an `agora provider run`) with its stderr in `provider.log`, and
    /// waits until `provider status --url <url>`, as `operator`, sees it answer as `operator`.
    pub fn spawn_provider(&self, mut provider_run: Command, operator: usize, url: &str) -> Background {
        let log = self.path("provider.log");
        let child = provider_run
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap_or_else(|err| panic!("{err}")))
            .spawn()
            .unwrap_or_else(|err| panic!("spawning agora provider run: {err}"));
        let mut service = Background(child);
        let started = Instant::now();
        let address = self.address(operator).to_string();
        while !self.agora(operator, &["provider", "status", &address, "--url", url]).status.success() {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            if let Ok(Some(status)) = service.0.try_wait() {
                panic!("agora provider run exited ({status}): {log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the provider did not answer at {url}: {log}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        service
    }
}
