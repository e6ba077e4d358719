//! The built `agora` binary publishing, reading, buying and granting assets and releasing their
//! revenue splits, against a real anvil with the protocol deployed and a real Kubo; and bad input
//! that must end in a one-line error and exit code 1.

mod common;

use alloy::primitives::Address;
use common::*;
use serde_json::Value;

/// A key whose account holds nothing.
const POOR_KEY: &str = "0x0000000000000000000000000000000000000000000000000000000000000001";

#[test]
fn publishes_buys_grants_updates_and_releases_a_split() {
    let stack = Stack::with_kubo();
    let kubo = stack.kubo();
    let (publisher, buyer, friend, alice, bob) = (1, 2, 3, 5, 6);
    let (file, digest) = write_file(stack.dir.path(), "finches.csv", 300 * 1024);

    // Publish with a 70/30 split (given out of address order: the CLI sorts it).
    let split_a = format!("{}:7000", stack.address(alice));
    let split_b = format!("{}:3000", stack.address(bob));
    let published = stack.json(
        publisher,
        &[
            "asset",
            "publish",
            &file,
            "--kind",
            "dataset",
            "--price",
            "0.01",
            "--split",
            &split_b,
            "--split",
            &split_a,
            "--license",
            "CC-BY-4.0",
            "--access-duration",
            "3600",
        ],
    );
    assert_eq!(published["assetId"], "1");
    assert_eq!(published["contentDigest"], digest);
    assert!(published["did"].as_str().unwrap().starts_with("did:agora:31337:0x"), "{published}");
    assert!(published["accessToken"].as_str().unwrap().starts_with("0x"));

    // The metadata on IPFS points at the content in the provider's document format.
    let cat = kubo.command().args(["cat", published["metadataCid"].as_str().unwrap()]).output().unwrap();
    let metadata: Value = serde_json::from_slice(&cat.stdout).unwrap();
    assert_eq!(metadata["name"], "finches.csv");
    assert_eq!(metadata["license"], "CC-BY-4.0");
    assert_eq!(metadata["content"]["cid"], published["contentCid"]);
    assert_eq!(metadata["content"]["size"], 300 * 1024);
    assert_eq!(metadata["files"][0]["sha256"], digest);

    let shown = stack.json(buyer, &["asset", "show", "1"]);
    assert_eq!(address_of(&shown["owner"]), stack.address(publisher));
    assert_eq!(shown["price"], "0.01 ETH");
    assert_eq!(shown["accessDuration"], 3600);
    assert_eq!(shown["split"].as_array().unwrap().len(), 2);
    assert_eq!(shown["version"], 1);

    // Buy two tokens with ETH; a lower --max-price is refused with both prices.
    let bought = stack.json(buyer, &["asset", "buy", "1", "--amount", "2"]);
    assert_eq!(bought["paid"], "20000000000000000");
    assert_one_line_error(
        &stack.agora(buyer, &["asset", "buy", "1", "--max-price", "0.005"]),
        "price changed: you allowed 0.005 ETH, it is now 0.01 ETH",
    );
    assert_one_line_error(
        &run(stack.agora_with_key(POOR_KEY).args(["asset", "buy", "1"])),
        "insufficient funds:",
    );

    // Only the owner grants; a new metadata version keeps the digest.
    assert_one_line_error(
        &stack.agora(buyer, &["asset", "grant", "1", &stack.address(friend).to_string(), "5"]),
        "not the owner",
    );
    let granted = stack.json(publisher, &["asset", "grant", "1", &stack.address(friend).to_string(), "5"]);
    assert_eq!(granted["amount"], 5);
    // A new version must resolve to a metadata document, unless forced.
    let not_metadata = stack.ipfs_add(std::path::Path::new(&file));
    assert_one_line_error(
        &stack.agora(publisher, &["asset", "update", "1", "--metadata-cid", &not_metadata]),
        "nothing was sent (pass --force to publish this version anyway)",
    );
    let next = stack.write("next.json", &serde_json::to_vec(&metadata).unwrap());
    let next = stack.ipfs_add(std::path::Path::new(&next));
    let updated = stack.json(publisher, &["asset", "update", "1", "--metadata-cid", &next]);
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["contentDigest"], digest);
    let forced =
        stack.json(publisher, &["asset", "update", "1", "--metadata-cid", "bafkreiupdated", "--force"]);
    assert_eq!(forced["version"], 3);

    // The split: what each is owed, released once, then nothing is left.
    let owed = stack.json(buyer, &["split", "show", "1"]);
    let owed: Vec<(Address, u128)> = owed
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (address_of(&e["recipient"]), e["releasable"].as_str().unwrap().parse().unwrap()))
        .collect();
    let of = |who: Address| owed.iter().find(|(r, _)| *r == who).map(|(_, a)| *a).unwrap();
    assert!(
        of(stack.address(alice)) > 0 && of(stack.address(alice)) * 3 / 7 == of(stack.address(bob)),
        "{owed:?}"
    );
    let released = stack.json(buyer, &["split", "release", "1"]);
    let total: u128 = released
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_str().unwrap().parse::<u128>().unwrap())
        .sum();
    assert_eq!(total, of(stack.address(alice)) + of(stack.address(bob)));
    assert_one_line_error(&stack.agora(buyer, &["split", "release", "1"]), "nothing to release");

    // An ERC-20 listing, bought with a permit in one transaction.
    let usd = stack.stablecoin(0, stack.address(buyer), 10_000_000).to_string();
    let (file, _) = write_file(stack.dir.path(), "weights.bin", 1024);
    let published = stack.json(
        publisher,
        &["asset", "publish", &file, "--kind", "model", "--price", "2.5", "--currency", &usd, "--free", "1"],
    );
    assert_eq!(published["assetId"], "2");
    assert_eq!(stack.json(buyer, &["asset", "show", "2"])["price"], "2.5 mUSD");
    let bought = stack.json(buyer, &["asset", "buy", "2", "--amount", "2"]);
    assert_eq!((bought["paid"].as_str(), bought["freeAmount"].as_str()), (Some("2500000"), Some("1")));
    assert_one_line_error(
        &stack.agora(friend, &["asset", "buy", "2", "--amount", "2"]),
        "insufficient balance:",
    );
    assert_one_line_error(
        &stack.agora(buyer, &["asset", "buy", "1", "--currency", &usd]),
        "wrong currency: asset 1 is sold in ETH",
    );

    let listed = stack.json(buyer, &["asset", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(2));
    assert_eq!(listed[1]["kind"], "model");
}

#[test]
fn publishes_a_model_folder_as_the_manifest_of_its_files() {
    let stack = Stack::with_kubo();
    let kubo = stack.kubo();
    let folder = stack.dir.path().join("tiny-model");
    std::fs::create_dir(&folder).unwrap();
    let mut local = std::collections::BTreeMap::new();
    for (name, len) in [("config.json", 40), ("model.safetensors", 600 * 1024), ("tokenizer.json", 3000)] {
        let (_, digest) = write_file(&folder, name, len);
        local.insert(name.to_owned(), digest);
    }
    let ipfs_cat = |cid: &str| {
        let out = kubo.command().args(["cat", cid]).output().unwrap();
        assert!(out.status.success(), "ipfs cat {cid}: {}", stderr(&out));
        out.stdout
    };

    let folder_arg = folder.to_string_lossy().into_owned();
    let published = stack.json(
        1,
        &[
            "asset",
            "publish",
            &folder_arg,
            "--kind",
            "model",
            "--price",
            "0.05",
            "--license",
            "MIT",
            "--public",
        ],
    );
    assert_eq!(published["assetId"], "1");

    // The content is the manifest: its sha-256 is the on-chain digest, and every file it lists
    // is on IPFS under its CID with the sha-256 it records, which is the local file's.
    let manifest_bytes = ipfs_cat(published["contentCid"].as_str().unwrap());
    let digest = sha256_hex(&manifest_bytes);
    assert_eq!(published["contentDigest"], digest);
    assert_eq!(stack.json(2, &["asset", "show", "1"])["contentDigest"], digest);
    let manifest = agora_provider::jobs::ModelManifest::parse(&manifest_bytes).unwrap();
    let names: Vec<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["config.json", "model.safetensors", "tokenizer.json"]);
    for file in &manifest.files {
        assert_eq!(file.sha256.to_string(), local[&file.name], "{}", file.name);
        let bytes = ipfs_cat(&file.cid);
        assert_eq!(bytes, std::fs::read(folder.join(&file.name)).unwrap(), "{}", file.name);
    }

    // The metadata names the folder and the manifest, and lists the files with their sizes.
    let metadata: Value =
        serde_json::from_slice(&ipfs_cat(published["metadataCid"].as_str().unwrap())).unwrap();
    assert_eq!(metadata["name"], "tiny-model");
    assert_eq!(metadata["kind"], "model");
    assert_eq!(metadata["content"]["cid"], published["contentCid"]);
    assert_eq!(metadata["content"]["size"], manifest_bytes.len());
    assert_eq!(metadata["content"]["fileName"], "manifest.json");
    assert_eq!(metadata["files"][1]["size"], 600 * 1024);
    assert_eq!(metadata["files"], published["files"]);

    // For people: a table that lists each file.
    let (file, file_digest) = write_file(&folder, "vocab.txt", 10);
    let table = stdout(
        &stack.agora(1, &["asset", "publish", &folder_arg, "--kind", "model", "--price", "1", "--public"]),
    );
    assert!(table.starts_with("published asset 2"), "{table}");
    assert!(table.contains("manifest of 4 files") && table.contains("vocab.txt"), "{table}");
    // A single file is still published as itself.
    let single = stack.json(1, &["asset", "publish", &file, "--kind", "model", "--price", "1", "--public"]);
    assert_eq!(single["contentDigest"], file_digest);
}

#[test]
fn bad_asset_input_gets_one_line_errors_and_exit_code_1() {
    // Kubo is down (nothing listens on this port) in this test.
    let stack = Stack::with_ipfs_api("http://127.0.0.1:9".into());
    let (file, _) = write_file(stack.dir.path(), "data.csv", 10);
    let publish = |extra: &[&str]| {
        let mut args = vec!["asset", "publish", &file, "--kind", "dataset"];
        args.extend_from_slice(extra);
        stack.agora(1, &args)
    };

    assert_one_line_error(&stack.agora(1, &["asset", "show", "99"]), "unknown asset 99");
    assert_one_line_error(&stack.agora(1, &["asset", "buy", "99"]), "unknown asset 99");
    assert_one_line_error(&stack.agora(1, &["split", "show", "99"]), "unknown asset 99");
    assert_one_line_error(
        &stack.agora(1, &["asset", "grant", "99", &stack.address(2).to_string(), "1"]),
        "unknown asset 99",
    );
    assert_one_line_error(
        &stack.agora(1, &["asset", "publish", "missing.csv", "--kind", "dataset", "--price", "1"]),
        "cannot read missing.csv",
    );
    assert_one_line_error(&publish(&["--price", "1", "--split", "0xabc=10000"]), "malformed split");
    assert_one_line_error(
        &publish(&["--price", "1", "--currency", "dollars"]),
        "neither `eth` nor an ERC-20 address",
    );
    assert_one_line_error(
        &publish(&["--price", "1", "--currency", &stack.address(3).to_string()]),
        "is not an ERC-20 token",
    );
    assert_one_line_error(&publish(&["--price", "0.1.2"]), "is not an amount of ETH");
    assert_one_line_error(&publish(&["--price", "1"]), "Kubo unreachable");

    // Folders: refused before anything is uploaded (Kubo is down), naming what is wrong.
    let folder = stack.dir.path().join("model");
    std::fs::create_dir(&folder).unwrap();
    let folder_arg = folder.to_string_lossy().into_owned();
    let publish_folder = |extra: &[&str]| {
        let mut args = vec!["asset", "publish", &folder_arg, "--price", "1"];
        args.extend_from_slice(extra);
        stack.agora(1, &args)
    };
    assert_one_line_error(
        &publish_folder(&["--kind", "model"]),
        "is empty: a model folder needs at least one file",
    );
    write_file(&folder, "config.json", 10);
    assert_one_line_error(
        &publish_folder(&["--kind", "dataset"]),
        "is a folder: a folder is published as a model",
    );
    assert_one_line_error(
        &publish_folder(&["--kind", "model", "--public", "--compute-only"]),
        "--public cannot be compute-only",
    );
    assert_one_line_error(
        &stack.agora(
            1,
            &["asset", "publish", &file, "--kind", "dataset", "--price", "0", "--provider", "http://x"],
        ),
        "add --private to encrypt it",
    );
    std::fs::create_dir(folder.join("1_Pooling")).unwrap();
    assert_one_line_error(&publish_folder(&["--kind", "model"]), "1_Pooling is a subfolder");
    std::fs::remove_dir(folder.join("1_Pooling")).unwrap();
    std::os::unix::fs::symlink(&file, folder.join("data.csv")).unwrap();
    assert_one_line_error(&publish_folder(&["--kind", "model"]), "data.csv is a symbolic link");
    std::fs::remove_file(folder.join("data.csv")).unwrap();
    write_file(&folder, ".source", 1);
    assert_one_line_error(&publish_folder(&["--kind", "model"]), ".source is not a plain file name");
    std::fs::remove_file(folder.join(".source")).unwrap();
    assert_one_line_error(&publish_folder(&["--kind", "model"]), "Kubo unreachable");

    // A chain the protocol was never deployed on.
    let elsewhere = tempfile::tempdir().unwrap();
    let out = run(stack.agora_with_key(DEV_KEY).current_dir(elsewhere.path()).args(["asset", "list"]));
    assert_one_line_error(&out, "no deployment of Agora on chain 31337");
}
