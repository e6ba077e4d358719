//! The Python package over a real stack (anvil, PostgreSQL, Kubo, indexer, a registered
//! provider): the journeys publish a priced CSV (so encrypted), a priced Parquet table, a free
//! CSV whose orders last an hour, a compute-only dataset, a CSV priced in a stablecoin and the
//! MiniLM model folder; then
//! pytest (python/tests) runs against them with the wheel that `scripts/python.sh` built and
//! installed — buying, pandas/PyArrow/`datasets` reads through `agora://`, ranged reads, a
//! model file, and every error the package promises. pytest writes straight to the terminal,
//! so its closing line shows in the test command's output.

use std::{path::PathBuf, process::Command};

use agora_e2e::*;
use serde_json::{Value, json};

const PUBLISHER: usize = 1;
const BUYER: usize = 2;
/// A second buyer, of what the first publishes from Python.
const OTHER: usize = 3;
const OPERATOR: usize = 9;

/// The CSV a data scientist reads back with pandas: values checked cell by cell.
const FINCHES: &str = "island,beak_mm,wing_mm\nDaphne,11.2,64.1\nGenovesa,9.8,61.0\nSanta Cruz,12.4,66.3\n";

/// The free dataset with timed orders.
const WRENS: &str = "site,count\nnorth,12\nsouth,7\n";

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}")).to_owned()
}

/// The Python interpreter of the venv `scripts/python.sh` installed the wheel into.
fn python() -> PathBuf {
    let path = std::env::var_os("AGORA_PYTHON").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "AGORA_PYTHON is not set: the Python tests need the venv with the agora wheel; \
             run ./scripts/test.sh, or `eval \"$(./scripts/python.sh build)\"` first"
        )
    });
    assert!(path.is_file(), "AGORA_PYTHON={} does not exist: run ./scripts/python.sh build", path.display());
    path
}

#[test]
fn the_python_package_reads_buys_and_refuses_as_promised() {
    let python = python();
    let (postgres, kubo) = services();
    let mut chain = Chain::deployed();
    chain.ipfs_api = Some(kubo.api_url());
    let mut indexer = indexer(&chain, &postgres, &kubo);

    // A registered provider, holding the content keys of what is published after it.
    // It is also a pinning service, for the token the Python tests publish with.
    let pinning_token = "python-publisher-pinning-token";
    let digest = alloy::hex::encode(<sha2::Sha256 as sha2::Digest>::digest(pinning_token.as_bytes()));
    let (_provider, provider_url) = registered_provider_edited(&chain, &kubo, OPERATOR, "0.01", |config| {
        assert!(config.contains("tokens_sha256 = []"), "{config}");
        config.replace("tokens_sha256 = []", &format!("tokens_sha256 = [\"{digest}\"]"))
    });

    let write = |name: &str, contents: &[u8]| {
        let path = chain.dir.path().join(name);
        std::fs::write(&path, contents).unwrap_or_else(|err| panic!("{err}"));
        path.to_string_lossy().into_owned()
    };
    let publish = |args: &[&str]| -> u64 {
        let id = text(&chain.json(PUBLISHER, args)["assetId"]);
        id.parse().unwrap_or_else(|err| panic!("asset id {id:?}: {err}"))
    };

    let finches = write("finches.csv", FINCHES.as_bytes());
    #[rustfmt::skip]
    let priced_csv = publish(&[
        "asset", "publish", &finches, "--kind", "dataset", "--price", "0.001", "--name", "Finch measurements",
        "--description", "Beak and wing lengths of Galapagos finches.",
    ]);
    // A Parquet table written by PyArrow in the test's venv.
    let parquet = chain.dir.path().join("finches.parquet");
    let written = Command::new(&python)
        .args([
            "-c",
            "import sys, pyarrow as pa, pyarrow.parquet as pq; \
             pq.write_table(pa.table({'island': ['Daphne', 'Genovesa'], 'beak_mm': [11.2, 9.8]}), sys.argv[1])",
        ])
        .arg(&parquet)
        .status()
        .unwrap_or_else(|err| panic!("running {}: {err}", python.display()));
    assert!(written.success(), "writing the Parquet table failed");
    #[rustfmt::skip]
    let priced_parquet = publish(&[
        "asset", "publish", &parquet.to_string_lossy(), "--kind", "dataset", "--price", "0.001",
        "--name", "Finch table",
    ]);
    let wrens = write("wrens.csv", WRENS.as_bytes());
    #[rustfmt::skip]
    let timed = publish(&[
        "asset", "publish", &wrens, "--kind", "dataset", "--price", "0", "--access-duration", "3600",
        "--name", "Wren counts",
    ]);
    #[rustfmt::skip]
    let compute_only = publish(&[
        "asset", "publish", &finches, "--kind", "dataset", "--price", "0.001", "--compute-only",
        "--name", "Finch measurements (compute only)",
    ]);
    // Priced in a 6-decimal EIP-2612 stablecoin the buyer holds: bought with a permit.
    let usd = chain.stablecoin(chain.address(BUYER), 10_000_000).to_string();
    #[rustfmt::skip]
    let stablecoin = publish(&[
        "asset", "publish", &wrens, "--kind", "dataset", "--price", "2.5", "--currency", &usd,
        "--name", "Wren counts (mUSD)",
    ]);
    let model = chain.dir.path().join("all-MiniLM-L6-v2");
    std::fs::create_dir(&model).unwrap_or_else(|err| panic!("{err}"));
    let installed = agora_deploy::services::model::minilm_dir().unwrap_or_else(|missing| panic!("{missing}"));
    for name in agora_deploy::services::model::MINILM_FILES {
        std::fs::copy(installed.join(name), model.join(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
    }
    let model_id = publish(&[
        "asset",
        "publish",
        &model.to_string_lossy(),
        "--kind",
        "model",
        "--price",
        "0",
        "--name",
        "MiniLM",
    ]);
    let config = std::fs::read_to_string(installed.join("config.json")).unwrap_or_else(|err| panic!("{err}"));

    indexer.synced(&chain);
    indexer.wait("every asset's metadata fetched", |indexer| {
        let page = indexer.get("/assets?limit=100");
        page["items"]
            .as_array()
            .is_some_and(|items| items.len() == 6 && items.iter().all(|a| a["metadataStatus"] == "fetched"))
    });

    let fixture = json!({
        "rpcUrl": chain.anvil.endpoint(),
        "indexerUrl": indexer.url,
        "manifest": chain.manifest_path(),
        "providerUrl": provider_url,
        "pinningToken": pinning_token,
        "ipfsApi": kubo.api_url(),
        "buyerKey": chain.key(BUYER),
        "buyer": chain.address(BUYER).to_string(),
        "otherKey": chain.key(OTHER),
        "pricedCsv": { "assetId": priced_csv, "content": FINCHES },
        "pricedParquet": { "assetId": priced_parquet },
        "timed": { "assetId": timed, "content": WRENS },
        "computeOnly": { "assetId": compute_only },
        "stablecoin": { "assetId": stablecoin },
        "model": { "assetId": model_id, "config": config },
        "unknownAssetId": 999,
        "downUrl": format!("http://127.0.0.1:{}", free_port()),
    });
    let fixture_path = chain.dir.path().join("python-fixture.json");
    std::fs::write(&fixture_path, fixture.to_string()).unwrap_or_else(|err| panic!("{err}"));

    let root = repo_root();
    // Run from the test's folder: the source tree's `agora/` (without the native module) must not
    // shadow the installed wheel.
    let status = Command::new(&python)
        .current_dir(chain.dir.path())
        .args(["-P", "-m", "pytest", "-p", "no:cacheprovider", "-ra", "--rootdir"])
        .arg(root.join("python"))
        .arg(root.join("python/tests"))
        .env("AGORA_TEST_FIXTURE", &fixture_path)
        .env("XDG_CACHE_HOME", chain.dir.path().join("cache"))
        .env("XDG_STATE_HOME", chain.dir.path().join("state"))
        .env("HF_HOME", chain.dir.path().join("huggingface"))
        .env_remove("AGORA_PRIVATE_KEY")
        .status()
        .unwrap_or_else(|err| panic!("running pytest with {}: {err}", python.display()));
    assert!(status.success(), "pytest failed (its report is above)");
}
