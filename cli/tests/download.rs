//! The built `agora` binary downloading assets through a real provider (served in-process on a
//! loopback port, as `agora-provider` runs it) from a real anvil with the protocol deployed and a
//! real Kubo: a public download checked against the on-chain digest, a `.part` file resumed with
//! a `Range`, an interrupted download resumed with the order it remembered, a private asset that
//! round-trips through encryption; and the refusals that must be one-line errors.

mod common;

use common::*;
use std::{
    path::{Path, PathBuf},
    process::Output,
    time::{Duration, Instant},
};

use agora_contracts::Deployment;
use agora_provider::{Identity, Limits, ProviderState, chain::ChainReader, db::Store, storage::Storage};
use alloy::{node_bindings::AnvilInstance, signers::local::PrivateKeySigner};
use serde_json::Value;

/// anvil accounts: the provider's key, the publisher, the buyer, a second provider's key.
const PROVIDER: usize = 3;
const PUBLISHER: usize = 1;
const BUYER: usize = 2;
const SECOND_PROVIDER: usize = 4;

/// How long the test providers cache an asset read from the chain.
const ASSET_TTL: Duration = Duration::from_secs(1);

/// A provider on `127.0.0.1:0` in its own thread and runtime (the test blocks on the CLI);
/// dropping it shuts it down gracefully.
struct RunningProvider {
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningProvider {
    fn start(
        chain: &AnvilInstance,
        account: usize,
        manifest: &Path,
        ipfs_api: String,
        database: PathBuf,
    ) -> Self {
        let deployment = Deployment::read(manifest).unwrap_or_else(|err| panic!("manifest: {err}"));
        let signer = PrivateKeySigner::from(chain.keys()[account].clone());
        let rpc_url = chain.endpoint_url();
        let (url_tx, url_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|err| panic!("tokio: {err}"));
            runtime.block_on(async move {
                // Assets are re-read often, so a dropped key holder sees a new version quickly.
                let limits = Limits { asset_ttl: ASSET_TTL, ..Limits::default() };
                let reader = ChainReader::new(rpc_url, &deployment, limits.asset_ttl);
                let storage = Storage::new(&ipfs_api, Duration::from_secs(10))
                    .unwrap_or_else(|err| panic!("Kubo client: {err}"));
                let store = Store::open(&database).await.unwrap_or_else(|err| panic!("SQLite: {err}"));
                let chain_id = deployment.chain_id;
                let state = ProviderState::new(
                    Identity::new(signer),
                    chain_id,
                    deployment,
                    reader,
                    storage,
                    store,
                    limits,
                );
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .unwrap_or_else(|err| panic!("binding the provider: {err}"));
                let addr = listener.local_addr().unwrap_or_else(|err| panic!("{err}"));
                let _ = url_tx.send(format!("http://{addr}"));
                agora_provider::serve(listener, state.clone(), async move {
                    let _ = stopped.await;
                })
                .await
                .unwrap_or_else(|err| panic!("provider: {err}"));
                state.store().close().await;
            });
        });
        let url = url_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the provider did not start"));
        Self { url, stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for RunningProvider {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Kubo, anvil with the protocol deployed by `agora deploy --preset local`, and a provider.
struct Downloads {
    // Dropped first: the provider reads from the others.
    provider: RunningProvider,
    stack: Stack,
}

impl std::ops::Deref for Downloads {
    type Target = Stack;

    fn deref(&self) -> &Stack {
        &self.stack
    }
}

impl Downloads {
    fn start() -> Self {
        let stack = Stack::with_kubo();
        let provider = RunningProvider::start(
            &stack.chain,
            PROVIDER,
            &stack.path("deploy/deployments/31337.json"),
            stack.kubo().api_url(),
            stack.path("provider.sqlite"),
        );
        Self { provider, stack }
    }

    /// `asset download <id> --provider <ours> -o <output> [extra]` as the buyer, in JSON.
    fn download(&self, id: &str, output: &Path, extra: &[&str]) -> Output {
        let output = output.to_string_lossy();
        let mut args =
            vec!["--json", "asset", "download", id, "--provider", &self.provider.url, "-o", &output];
        args.extend_from_slice(extra);
        self.agora(BUYER, &args)
    }

    /// Publishes `data` as `name` with `extra` flags; the asset id.
    fn publish(&self, name: &str, data: &[u8], extra: &[&str]) -> Value {
        let path = self.write(name, data);
        let mut args = vec!["asset", "publish", &path, "--kind", "dataset", "--price", "0.001"];
        args.extend_from_slice(extra);
        self.json(PUBLISHER, &args)
    }

    /// Access tokens of asset `id` the buyer holds.
    fn tokens(&self, id: &str) -> u64 {
        let shown = self.json(BUYER, &["asset", "show", id]);
        let token = address_of(&shown["accessToken"]);
        let provider = alloy::providers::ProviderBuilder::new().connect_http(self.chain.endpoint_url());
        let erc20 = agora_contracts::erc::IERC20::new(token, provider);
        let buyer = self.address(BUYER);
        let balance = self
            .block_on(async { erc20.balanceOf(buyer).call().await })
            .unwrap_or_else(|err| panic!("{err}"));
        u64::try_from(balance).unwrap_or_else(|err| panic!("{err}"))
    }
}

fn content(len: usize, seed: u64) -> Vec<u8> {
    (0..len as u64).map(|i| ((i * 2_654_435_761 + seed) >> 7) as u8).collect()
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
}

#[test]
fn a_public_asset_downloads_resumes_and_refuses_clearly() {
    let stack = Downloads::start();
    let data = content(300 * 1024 + 3, 1);
    // A timed order serves repeatedly, so the same order can be resumed from any `.part`.
    let published = stack.publish("finches.csv", &data, &["--access-duration", "3600", "--public"]);
    let id = published["assetId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(published["contentDigest"], sha256_hex(&data));

    // No token yet: a clear error, and nothing spent or written.
    let none = stack.path("none.csv");
    assert_one_line_error(&stack.download(&id, &none, &[]), "no access token");
    assert!(!none.exists() && !stack.path("none.csv.part").exists());

    stack.json(BUYER, &["asset", "buy", &id, "--amount", "2"]);
    let got = stack.path("got.csv");
    let out = stack.download(&id, &got, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(report["sha256"], sha256_hex(&data));
    assert_eq!(report["size"], data.len());
    assert_eq!(report["resumedFrom"], 0);
    assert_eq!(read(&got), data);
    assert!(!stack.path("got.csv.part").exists() && !stack.path("got.csv.part.order").exists());
    assert_eq!(stack.tokens(&id), 1, "one token spent");
    let order = report["orderId"].as_str().unwrap_or_default().to_owned();

    // A `.part` holding the first 100 000 bytes, as an interrupted download leaves it: the rest
    // comes with a Range, on the same order (no token spent).
    std::fs::write(stack.path("resumed.csv.part"), &data[..100_000]).unwrap_or_else(|err| panic!("{err}"));
    let out = stack.download(&id, &stack.path("resumed.csv"), &["--order", &order]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(report["resumedFrom"], 100_000);
    assert_eq!(read(&stack.path("resumed.csv")), data);
    assert_eq!(stack.tokens(&id), 1);

    // A corrupt `.part`: the whole file does not match the chain's digest, so it is not kept.
    std::fs::write(stack.path("bad.csv.part"), vec![0xAA; 1000]).unwrap_or_else(|err| panic!("{err}"));
    assert_one_line_error(
        &stack.download(&id, &stack.path("bad.csv"), &["--order", &order]),
        "sha-256 mismatch",
    );
    assert!(!stack.path("bad.csv").exists() && !stack.path("bad.csv.part").exists());

    // The output exists already; an unknown asset; an order that is not there; a provider down.
    assert_one_line_error(&stack.download(&id, &got, &[]), "already exists");
    assert_one_line_error(&stack.download("99", &stack.path("x"), &[]), "unknown asset 99");
    assert_one_line_error(
        &stack.download(&id, &stack.path("x"), &["--order", "999"]),
        "provider refused the download (404): unknown access order 999",
    );
    let down = stack.agora(
        BUYER,
        &[
            "asset",
            "download",
            &id,
            "--provider",
            "http://127.0.0.1:9",
            "-o",
            &stack.path("x").to_string_lossy(),
        ],
    );
    assert_one_line_error(&down, "provider http://127.0.0.1:9 is unreachable");
    assert_eq!(stack.tokens(&id), 1, "no token is spent on a provider that is down");
}

#[test]
fn an_interrupted_single_use_download_resumes_with_the_order_it_remembered() {
    let stack = Downloads::start();
    let data = content(48 * 1024 * 1024, 2);
    let id =
        stack.publish("big.bin", &data, &["--public"])["assetId"].as_str().unwrap_or_default().to_owned();
    stack.json(BUYER, &["asset", "buy", &id]);

    // The first attempt is killed once bytes arrived.
    let output = stack.path("big.bin.out");
    let part = stack.path("big.bin.out.part");
    let url = stack.provider.url.clone();
    let output_text = output.to_string_lossy().into_owned();
    let args = ["asset", "download", &id, "--provider", &url, "-o", &output_text];
    let mut child = stack.command(BUYER, &args).spawn().unwrap_or_else(|err| panic!("running agora: {err}"));
    let started = Instant::now();
    while std::fs::metadata(&part).map_or(0, |meta| meta.len()) == 0 {
        assert!(started.elapsed() < Duration::from_secs(120), "the download never started");
        assert!(matches!(child.try_wait(), Ok(None)), "agora exited before it was interrupted");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap_or_else(|err| panic!("{err}"));
    let _ = child.wait();
    let kept = std::fs::metadata(&part).map_or(0, |meta| meta.len());
    assert!(kept > 0 && (kept as usize) < data.len(), "kept {kept} bytes");
    assert!(!output.exists());
    assert_eq!(stack.tokens(&id), 0, "the only token was spent");

    // The rerun resumes on the remembered order: with no token left, spending one would fail.
    let out = stack.download(&id, &output, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}"));
    assert!(report["resumedFrom"].as_u64().is_some_and(|from| from > 0), "{report}");
    assert!(read(&output) == data, "the resumed download differs");
    assert!(!part.exists() && !stack.path("big.bin.out.part.order").exists());

    // The single-use order is now served.
    let order = report["orderId"].as_str().unwrap_or_default().to_owned();
    assert_one_line_error(
        &stack.download(&id, &stack.path("again.bin"), &["--order", &order]),
        "provider refused the download (410): the single-use access order was already served",
    );
}

#[test]
fn a_private_asset_is_encrypted_on_ipfs_and_round_trips_through_its_provider() {
    let stack = Downloads::start();
    let data = content(3 * 64 * 1024 + 4321, 3);
    // Priced, so encrypted by default; the key held by its owner and the provider named.
    let published = stack.publish("secret.csv", &data, &["--provider", &stack.provider.url]);
    let id = published["assetId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(published["encrypted"], true);
    assert_eq!(published["contentDigest"], sha256_hex(&data), "the chain records the plaintext's digest");
    let holders = addresses_of(&published["keyHolders"]);
    assert_eq!(holders, [stack.address(PUBLISHER), stack.address(PROVIDER)], "the owner's copy first");

    // IPFS holds ciphertext (one 16-byte tag per 64 KiB chunk), never the plaintext.
    let cat = |cid: &Value| {
        let out = stack.kubo().command().args(["cat", cid.as_str().unwrap_or_default()]).output();
        out.unwrap_or_else(|err| panic!("ipfs cat: {err}")).stdout
    };
    let stored = cat(&published["contentCid"]);
    assert_eq!(stored.len(), data.len() + 4 * 16);
    assert!(!stored.windows(64).any(|w| w == &data[70_000..70_064]), "plaintext reached IPFS");
    let metadata: Value =
        serde_json::from_slice(&cat(&published["metadataCid"])).unwrap_or_else(|err| panic!("{err}"));
    let encryption = &metadata["content"]["encryption"];
    assert_eq!(encryption["scheme"], agora_provider::crypto::SCHEME);
    assert_eq!(encryption["plaintextSize"], data.len());
    assert_eq!(encryption["wrappedKeys"].as_array().map(Vec::len), Some(2));
    assert_eq!(metadata["content"]["size"], data.len());

    stack.json(BUYER, &["asset", "buy", &id]);
    let got = stack.path("secret.out");
    let out = stack.download(&id, &got, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(read(&got) == data, "the decrypted download differs");

    // A private asset needs a reachable provider to hold its key; nothing is published otherwise.
    let path = stack.path("secret.csv").to_string_lossy().into_owned();
    let unreachable = stack.agora(
        PUBLISHER,
        &[
            "asset",
            "publish",
            &path,
            "--kind",
            "dataset",
            "--price",
            "1",
            "--private",
            "--provider",
            "http://127.0.0.1:9",
        ],
    );
    assert_one_line_error(&unreachable, "provider http://127.0.0.1:9 is unreachable");
    assert_eq!(stack.json(BUYER, &["asset", "list"]).as_array().map(Vec::len), Some(1));
}

#[test]
fn the_owner_shares_the_key_with_another_provider_then_rekeys_without_the_first() {
    let stack = Downloads::start();
    let data = content(2 * 64 * 1024 + 99, 5);
    let published = stack.publish("shared.csv", &data, &["--provider", &stack.provider.url]);
    let id = published["assetId"].as_str().unwrap_or_default().to_owned();
    let second = RunningProvider::start(
        &stack.chain,
        SECOND_PROVIDER,
        &stack.path("deploy/deployments/31337.json"),
        stack.kubo().api_url(),
        stack.path("second.sqlite"),
    );
    stack.json(SECOND_PROVIDER, &["provider", "register", "--endpoint", &second.url, "--price", "0.05"]);
    stack.json(BUYER, &["asset", "buy", &id, "--amount", "4"]);
    let via = |url: &str, name: &str| {
        let output = stack.path(name).to_string_lossy().into_owned();
        stack.agora(BUYER, &["asset", "download", &id, "--provider", url, "-o", &output])
    };
    let holds_no_key = "403): this provider holds no key for the encrypted asset; its key is held by";

    // The second provider holds no key yet: refused, naming who does.
    let refused = via(&second.url, "a.csv");
    assert_one_line_error(&refused, holds_no_key);
    assert!(stderr(&refused).contains(&stack.address(PROVIDER).to_string()), "{}", stderr(&refused));

    // Only the owner shares; by the address it registered with, its key read from the chain.
    let second_address = stack.address(SECOND_PROVIDER).to_string();
    assert_one_line_error(
        &stack.agora(BUYER, &["asset", "share", &id, "--provider", &second_address]),
        "only its owner can share it",
    );
    let shared = stack.json(PUBLISHER, &["asset", "share", &id, "--provider", &second_address]);
    assert_eq!(shared["version"], 2);
    assert_eq!(shared["keyHolders"].as_array().map(Vec::len), Some(3));
    let again = stack.json(PUBLISHER, &["asset", "share", &id, "--provider", &second.url]);
    assert_eq!(again["added"].as_array().map(Vec::len), Some(0), "sharing twice sends nothing");
    let out = via(&second.url, "b.csv");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(read(&stack.path("b.csv")) == data, "the shared provider's download differs");

    // Rekey without the first provider: new ciphertext, the first provider refuses.
    let first_address = stack.address(PROVIDER).to_string();
    let rekeyed = stack.json(PUBLISHER, &["asset", "rekey", &id, "--drop-provider", &first_address]);
    let holders = addresses_of(&rekeyed["keyHolders"]);
    assert_eq!(holders, [stack.address(PUBLISHER), stack.address(SECOND_PROVIDER)]);
    assert_ne!(rekeyed["contentCid"], published["contentCid"], "rekeying uploads new ciphertext");
    assert_eq!(rekeyed["contentDigest"], sha256_hex(&data), "the digest stays the plaintext's");
    // The first provider still holds the old version's key until its cached asset expires.
    std::thread::sleep(ASSET_TTL + Duration::from_millis(200));
    assert_one_line_error(&via(&stack.provider.url, "c.csv"), holds_no_key);
    let out = via(&second.url, "d.csv");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(read(&stack.path("d.csv")) == data, "the download after rekeying differs");

    // Sharing or rekeying what is not encrypted, or dropping a stranger, is refused.
    let public = stack.publish("open.csv", b"a,b\n1,2\n", &["--public"]);
    let public_id = public["assetId"].as_str().unwrap_or_default();
    assert_one_line_error(
        &stack.agora(PUBLISHER, &["asset", "share", public_id, "--provider", &second.url]),
        "is not encrypted",
    );
    let stranger = stack.address(BUYER).to_string();
    assert_one_line_error(
        &stack.agora(PUBLISHER, &["asset", "rekey", &id, "--drop-provider", &stranger]),
        "holds no key of asset",
    );
}
