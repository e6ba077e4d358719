//! `agora dev` brings the whole system up (anvil, PostgreSQL, Kubo, contracts, indexer, provider
//! registered on the ComputeMarket, a demo catalogue with MiniLM as a model asset, the Go
//! column-statistics algorithm and the measurements it runs on, all encrypted by default for the deployer and the provider) and
//! Ctrl-C brings it down. Needs the workspace's binaries built next to `agora` (as `cargo test
//! --workspace` and ./scripts/dev.sh do), the model installed and the example algorithms built
//! (./scripts/setup.sh).

mod common;

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::mpsc,
    time::Duration,
};

use agora_provider::{
    crypto::Encryption,
    jobs::ModelManifest,
    metadata::AssetMetadata,
    storage::{Storage, collect},
};
use alloy::signers::local::PrivateKeySigner;
use common::*;
use serde_json::Value;

/// anvil's second dev account, which `agora dev` runs its provider as.
const PROVIDER_ADDRESS: &str = "0x70997970c51812dc3a010c7d01b50e0d17dc79c8";

fn get(url: &str) -> String {
    let out = run(Command::new("curl").args(["-sf", "--max-time", "5", url]));
    assert!(out.status.success(), "GET {url} failed: {}", stderr(&out));
    stdout(&out)
}

/// A JSON document from `url`.
fn get_json(url: &str) -> Value {
    let body = get(url);
    serde_json::from_str(&body).unwrap_or_else(|err| panic!("GET {url}: {err}: {body}"))
}

/// The bytes Kubo's API at `api` holds under `cid`.
fn ipfs_cat(api: &str, cid: &str) -> Vec<u8> {
    let url = format!("{api}/api/v0/cat?arg={cid}");
    let out = run(Command::new("curl").args(["-sf", "--max-time", "60", "-X", "POST", &url]));
    assert!(out.status.success(), "ipfs cat {cid} failed: {}", stderr(&out));
    out.stdout
}

/// The demo's model asset, as the indexer serves it: priced, so encrypted, its key held by the
/// deployer (dev account 0, whose key opens it here) and the dev provider. Its content is the
/// manifest of MiniLM's files, whose sha-256 is the on-chain digest; every file is on IPFS only
/// as ciphertext and decrypts to the local file.
fn check_model_asset(model: &Value, ipfs_api: &str) {
    let metadata: AssetMetadata =
        serde_json::from_value(model["metadata"].clone()).unwrap_or_else(|err| panic!("{err}: {model}"));
    let encryption =
        metadata.content.encryption.clone().unwrap_or_else(|| panic!("the demo model is public: {model}"));
    let owner: PrivateKeySigner = DEV_KEY.parse().unwrap_or_else(|err| panic!("{err}"));
    let provider: alloy::primitives::Address = PROVIDER_ADDRESS.parse().unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(encryption.holders(), [owner.address(), provider], "{model}");
    let key = encryption.content_key_for(&owner).unwrap_or_else(|err| panic!("{err}"));
    let storage = Storage::new(ipfs_api, Duration::from_secs(60)).unwrap_or_else(|err| panic!("{err}"));
    let runtime = tokio::runtime::Runtime::new().unwrap_or_else(|err| panic!("{err}"));
    let open = |header: &Encryption, cid: &str| {
        runtime.block_on(async {
            let stream = header
                .decrypting_stream(&key, storage.cat(cid, None), 0, 0, header.plaintext_size)
                .unwrap_or_else(|err| panic!("{err}"));
            collect(stream).await.unwrap_or_else(|err| panic!("{cid}: {err}"))
        })
    };
    let manifest = open(&encryption, &metadata.content.cid);
    assert_eq!(model["contentDigest"], sha256_hex(&manifest), "{model}");
    let manifest = ModelManifest::parse(&manifest).unwrap_or_else(|err| panic!("{err}"));
    let mut names: Vec<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["config.json", "model.safetensors", "sentence_bert_config.json", "tokenizer.json"]);
    for file in &manifest.files {
        let local = std::fs::read(model_dir().join(&file.name)).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(file.sha256.to_string(), sha256_hex(&local), "{}", file.name);
        let header = file.encryption.as_ref().unwrap_or_else(|| panic!("{} is in the clear", file.name));
        assert_ne!(
            sha256_hex(&ipfs_cat(ipfs_api, &file.cid)),
            sha256_hex(&local),
            "{} in the clear",
            file.name
        );
        assert_eq!(sha256_hex(&open(header, &file.cid)), sha256_hex(&local), "{} decrypted", file.name);
    }
}

#[test]
fn dev_brings_up_every_service_with_a_demo_catalogue_and_ctrl_c_stops_it() {
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_agora")).parent().map(|d| d.to_path_buf());
    for name in ["agora-indexer", "agora-provider"] {
        let path = bin_dir.clone().unwrap_or_default().join(name);
        assert!(path.is_file(), "{} missing: run `cargo build --workspace` first", path.display());
    }
    model_dir();
    agora_deploy::services::algorithms::example("stats-go").unwrap_or_else(|missing| panic!("{missing}"));
    let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let (rpc, indexer, provider, hub) = (free_port(), free_port(), free_port(), free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_agora"))
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env("AGORA_DEV_SESSION", dir.path().join("dev.json"))
        .args(["dev", "--rpc-port", &rpc.to_string()])
        .args(["--indexer-listen", &format!("127.0.0.1:{indexer}")])
        .args(["--provider-listen", &format!("127.0.0.1:{provider}")])
        .args(["--hub-listen", &format!("127.0.0.1:{hub}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("spawning agora dev: {err}"));

    let (lines_tx, lines_rx) = mpsc::channel();
    let stdout_pipe = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    std::thread::spawn(move || {
        for line in BufReader::new(stdout_pipe).lines().map_while(Result::ok) {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut printed = Vec::new();
    loop {
        match lines_rx.recv_timeout(Duration::from_secs(180)) {
            Ok(line) if line.starts_with("ready") => break,
            Ok(line) => printed.push(line),
            Err(err) => {
                child.kill().ok();
                let errors = child.stderr.take().map(std::io::read_to_string).and_then(Result::ok);
                panic!("agora dev never became ready ({err}); it printed: {printed:#?}\n{errors:?}");
            }
        }
    }
    assert!(printed.iter().any(|l| l.contains("indexer API")), "{printed:#?}");
    let ipfs_api = printed
        .iter()
        .find_map(|l| l.strip_prefix("IPFS (Kubo API)"))
        .map(|rest| rest.trim().to_owned())
        .unwrap_or_else(|| panic!("no Kubo API printed: {printed:#?}"));
    // What to try next: buy and download the dataset, run an embed job with the model and an
    // algorithm job with the demo algorithm.
    let steps = [
        "agora asset buy 1 --amount 2",
        &format!("agora asset download 1 --provider http://127.0.0.1:{provider}"),
        &format!("agora job submit --dataset 1 --model 2 --provider {PROVIDER_ADDRESS}"),
        &format!("agora job submit --dataset 4 --algorithm 3 --provider {PROVIDER_ADDRESS}"),
    ];
    for step in steps {
        assert!(
            printed.iter().any(|l| l.to_lowercase().contains(&step.to_lowercase())),
            "{step}: {printed:#?}"
        );
    }

    // The provider answers; the indexer has indexed the demo catalogue with its metadata, and
    // the provider as registered on the ComputeMarket.
    assert!(get(&format!("http://127.0.0.1:{provider}/v1/info")).contains("\"chainId\":31337"));
    let mut assets = Value::Null;
    let mut providers = Value::Null;
    for _ in 0..150 {
        assets = get_json(&format!("http://127.0.0.1:{indexer}/assets"));
        providers = get_json(&format!("http://127.0.0.1:{indexer}/providers"));
        let items = assets["items"].as_array().map(Vec::as_slice).unwrap_or_default();
        if items.len() == 4
            && items.iter().all(|a| a["metadata"].is_object())
            && providers["items"].as_array().is_some_and(|p| !p.is_empty())
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(assets["items"][0]["metadata"]["name"], "Finch field notes (demo)", "{assets}");
    assert_eq!(assets["items"][0]["encrypted"], true, "the priced demo dataset is encrypted: {assets}");
    let model = &assets["items"][1];
    assert_eq!(
        (model["kind"].as_str(), model["metadata"]["name"].as_str()),
        (Some("model"), Some("all-MiniLM-L6-v2 (demo)")),
        "{model}"
    );
    check_model_asset(model, &ipfs_api);
    let algorithm = &assets["items"][2];
    assert_eq!(
        (
            algorithm["kind"].as_str(),
            algorithm["metadata"]["name"].as_str(),
            algorithm["encrypted"].as_bool()
        ),
        (Some("algorithm"), Some("Column statistics, Go (demo)"), Some(true)),
        "{algorithm}"
    );
    let measurements = &assets["items"][3];
    assert_eq!(
        (measurements["kind"].as_str(), measurements["metadata"]["name"].as_str()),
        (Some("dataset"), Some("Finch measurements (demo)")),
        "{measurements}"
    );
    let registered = &providers["items"][0];
    assert_eq!(
        registered["provider"].as_str().map(str::to_lowercase).as_deref(),
        Some(PROVIDER_ADDRESS),
        "{providers}"
    );
    assert_eq!(
        registered["endpoint"].as_str().map(|e| e.trim_end_matches('/')),
        Some(format!("http://127.0.0.1:{provider}").as_str()),
        "{providers}"
    );
    assert_eq!(registered["active"], true, "{providers}");
    assert_eq!(registered["price"], "10000000000000000", "{providers}");

    // The hub it printed shows the same catalogue.
    assert!(printed.iter().any(|l| l.contains(&format!("http://127.0.0.1:{hub}"))), "{printed:#?}");
    let catalogue = get(&format!("http://127.0.0.1:{hub}/"));
    for name in ["Finch field notes (demo)", "all-MiniLM-L6-v2 (demo)", "Column statistics, Go (demo)"] {
        assert!(catalogue.contains(name), "{name} missing from the hub's catalogue: {catalogue}");
    }

    // The session the Python package's `Hub.local()` reads.
    let session: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("dev.json")).unwrap_or_else(|err| panic!("dev.json: {err}")),
    )
    .unwrap_or_else(|err| panic!("dev.json: {err}"));
    assert_eq!(session["indexerUrl"], format!("http://127.0.0.1:{indexer}"), "{session}");
    assert_eq!(session["providerUrl"], format!("http://127.0.0.1:{provider}"), "{session}");
    assert_eq!(session["ipfsApi"].as_str(), Some(ipfs_api.as_str()), "{session}");
    assert!(session["rpcUrl"].as_str().is_some_and(|url| url.contains(&rpc.to_string())), "{session}");
    assert!(
        session["manifest"]
            .as_str()
            .is_some_and(|path| path.ends_with("31337.json") && std::path::Path::new(path).is_file()),
        "{session}"
    );
    assert_eq!(session["consumerKey"].as_str().map(str::len), Some(66), "{session}");

    let pid = child.id().to_string();
    assert!(run(Command::new("kill").args(["-INT", &pid])).status.success());
    let mut status = None;
    for _ in 0..100 {
        status = child.try_wait().unwrap_or_else(|err| panic!("{err}"));
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let status = status.unwrap_or_else(|| {
        child.kill().ok();
        panic!("agora dev did not stop within 20 s of Ctrl-C")
    });
    assert!(status.success(), "agora dev exited with {status}");
    assert!(!dir.path().join("dev.json").exists(), "agora dev left its session file behind");
    // Its services went with it.
    let health = Command::new("curl")
        .args(["-sf", "--max-time", "2"])
        .arg(format!("http://127.0.0.1:{indexer}/health"))
        .output();
    assert!(health.map(|o| !o.status.success()).unwrap_or(true), "the indexer outlived agora dev");
}
