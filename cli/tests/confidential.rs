//! Nothing sold is readable for free: the built `agora` publishing a priced file, a priced model
//! folder and a free compute-only dataset with its defaults, against a real anvil and Kubo. Every
//! CID each metadata document names is read straight from Kubo and holds no plaintext; the
//! content key is wrapped for the owner and every active provider on the ComputeMarket (not one
//! that is leaving), never written in the clear; the owner's copy opens the ciphertext.

mod common;

use agora_provider::{
    crypto::Encryption,
    jobs::ModelManifest,
    metadata::AssetMetadata,
    storage::{Storage, collect},
};
use alloy::signers::local::PrivateKeySigner;
use common::*;
use serde_json::Value;

/// anvil accounts: the publisher, an active provider, a provider that is leaving.
const PUBLISHER: usize = 1;
const OPERATOR: usize = 3;
const LEAVING: usize = 4;

/// Every `cid` value anywhere in a JSON document.
fn cids_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                match (key.as_str(), inner) {
                    ("cid", Value::String(cid)) => out.push(cid.clone()),
                    _ => cids_in(inner, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| cids_in(item, out)),
        _ => {}
    }
}

/// Whether `haystack` holds any of 16 probes of 32 bytes spread over `needle` (or all of a
/// shorter one).
fn contains_any_of(haystack: &[u8], needle: &[u8]) -> bool {
    let window = needle.len().min(32);
    let step = (needle.len() / 16).max(1);
    window > 0
        && (0..=needle.len() - window)
            .step_by(step)
            .any(|at| haystack.windows(window).any(|h| h == &needle[at..at + window]))
}

#[test]
fn priced_files_model_folders_and_compute_only_data_reach_ipfs_only_as_ciphertext() {
    let stack = Stack::with_kubo();
    let kubo = stack.kubo();
    let cat = |cid: &str| {
        let out = kubo.command().args(["cat", cid]).output().unwrap_or_else(|err| panic!("ipfs cat: {err}"));
        assert!(out.status.success(), "ipfs cat {cid}: {}", stderr(&out));
        out.stdout
    };
    for account in [OPERATOR, LEAVING] {
        stack.json(account, &["provider", "register", "--endpoint", "http://127.0.0.1:9", "--price", "0.05"]);
    }
    stack.json(LEAVING, &["provider", "withdraw", "--unstake"]);

    // A priced file, a priced model folder, a free compute-only dataset: all with defaults.
    let (file, _) = write_file(stack.dir.path(), "finches.csv", 200 * 1024 + 17);
    let folder = stack.dir.path().join("tiny-model");
    std::fs::create_dir(&folder).unwrap_or_else(|err| panic!("{err}"));
    for (name, len) in [("config.json", 64), ("model.safetensors", 300 * 1024), ("tokenizer.json", 5000)] {
        write_file(&folder, name, len);
    }
    let (notes, _) = write_file(stack.dir.path(), "notes.jsonl", 70 * 1024);
    let folder_arg = folder.to_string_lossy().into_owned();
    let published = [
        (
            stack.json(PUBLISHER, &["asset", "publish", &file, "--kind", "dataset", "--price", "0.01"]),
            vec![file.clone()],
        ),
        (
            stack.json(PUBLISHER, &["asset", "publish", &folder_arg, "--kind", "model", "--price", "0.05"]),
            ["config.json", "model.safetensors", "tokenizer.json"]
                .iter()
                .map(|name| folder.join(name).to_string_lossy().into_owned())
                .collect(),
        ),
        (
            stack.json(
                PUBLISHER,
                &["asset", "publish", &notes, "--kind", "dataset", "--price", "0", "--compute-only"],
            ),
            vec![notes.clone()],
        ),
    ];

    let owner = PrivateKeySigner::from(stack.chain.keys()[PUBLISHER].clone());
    let storage = Storage::new(&kubo.api_url(), std::time::Duration::from_secs(30))
        .unwrap_or_else(|err| panic!("{err}"));
    for (report, plaintext_paths) in &published {
        let id = report["assetId"].as_str().unwrap_or_default();
        assert_eq!(report["encrypted"], true, "asset {id} is encrypted by default");
        let holders = addresses_of(&report["keyHolders"]);
        assert_eq!(
            holders,
            [stack.address(PUBLISHER), stack.address(OPERATOR)],
            "asset {id}: owner, active provider"
        );

        let metadata_bytes = cat(report["metadataCid"].as_str().unwrap_or_default());
        let document: Value = serde_json::from_slice(&metadata_bytes).unwrap_or_else(|err| panic!("{err}"));
        let mut cids = Vec::new();
        cids_in(&document, &mut cids);
        assert!(!cids.is_empty(), "asset {id} names its content");
        for path in plaintext_paths {
            let plaintext = std::fs::read(path).unwrap_or_else(|err| panic!("{err}"));
            let digest = sha256_hex(&plaintext);
            for cid in &cids {
                let stored = cat(cid);
                assert!(stored != plaintext, "asset {id}: {cid} is the plaintext of {path}");
                assert!(!contains_any_of(&stored, &plaintext), "asset {id}: {cid} holds bytes of {path}");
                assert_ne!(sha256_hex(&stored), digest, "asset {id}: {cid} hashes like {path}");
            }
        }

        // The key is nowhere in the clear; the owner's copy unwraps it and opens the content.
        let metadata: AssetMetadata =
            serde_json::from_slice(&metadata_bytes).unwrap_or_else(|err| panic!("{err}"));
        let encryption: Encryption =
            metadata.content.encryption.clone().unwrap_or_else(|| panic!("no header"));
        let wrapped = encryption.wrapped_keys.iter().find(|w| w.holder == owner.address());
        let wrapped = wrapped.unwrap_or_else(|| panic!("asset {id}: no owner's copy"));
        let raw_key = ecies::decrypt(&owner.credential().to_bytes(), &wrapped.key)
            .unwrap_or_else(|err| panic!("{err}"));
        let text = String::from_utf8_lossy(&metadata_bytes).to_lowercase();
        assert!(
            !text.contains(&alloy::hex::encode(&raw_key)),
            "asset {id}: the content key is in its metadata"
        );
        let key = encryption.content_key_for(&owner).unwrap_or_else(|err| panic!("{err}"));
        let content = stack.block_on(async {
            let stream = encryption
                .decrypting_stream(
                    &key,
                    storage.cat(&metadata.content.cid, None),
                    0,
                    0,
                    encryption.plaintext_size,
                )
                .unwrap_or_else(|err| panic!("{err}"));
            collect(stream).await.unwrap_or_else(|err| panic!("{err}"))
        });
        assert_eq!(sha256_hex(&content), report["contentDigest"].as_str().unwrap_or_default(), "asset {id}");

        // A model's manifest lists each file sealed under a nonce prefix of its own.
        if metadata.content.file_name.as_deref() == Some("manifest.json") {
            let manifest = ModelManifest::parse(&content).unwrap_or_else(|err| panic!("{err}"));
            let prefixes: std::collections::BTreeSet<_> = manifest
                .files
                .iter()
                .map(|f| {
                    f.encryption
                        .as_ref()
                        .map(|e| e.nonce_prefix.clone())
                        .unwrap_or_else(|| panic!("{} in the clear", f.name))
                })
                .chain(std::iter::once(encryption.nonce_prefix.clone()))
                .collect();
            assert_eq!(prefixes.len(), manifest.files.len() + 1, "every file has its own nonce prefix");
            assert!(
                manifest
                    .files
                    .iter()
                    .all(|f| f.encryption.as_ref().is_some_and(|e| e.wrapped_keys.is_empty()))
            );
        }
    }

    // `asset list` names each asset and says it is encrypted and who owns it.
    let listed = stack.json(OPERATOR, &["asset", "list"]);
    assert_eq!(listed[0]["name"], "finches.csv");
    assert_eq!(listed[1]["name"], "tiny-model");
    assert!(listed.as_array().into_iter().flatten().all(|a| a["encrypted"] == true), "{listed}");
    assert_eq!(address_of(&listed[2]["owner"]), stack.address(PUBLISHER));
    let table = stdout(&stack.agora(OPERATOR, &["asset", "list"]));
    assert!(
        table.contains("encrypted") && table.contains("finches.csv") && table.contains("0.01 ETH"),
        "{table}"
    );

    // Priced content in the clear takes --public, and says what that means.
    let out = stack
        .agora(PUBLISHER, &["asset", "publish", &file, "--kind", "dataset", "--price", "0.01", "--public"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("anyone can read it for free"), "{}", stderr(&out));
    let shown = stack.json(OPERATOR, &["asset", "show", "4"]);
    assert_eq!(shown["encrypted"], false);
}
