//! The bindings are compiled by foundry-compilers (build.rs); the forge tests, the gas snapshot
//! and the CREATE2 addresses come from `forge build`. Both read `foundry.toml`, so every deployable
//! contract must have the same runtime bytecode from either route.

use std::{
    fs,
    path::{Path, PathBuf},
    process::Command,
};

use alloy::primitives::{Bytes, keccak256};
use serde_json::Value;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|err| panic!("{err}"))
}

/// Every forge artifact under `dir` of a contract of `contracts/`, by contract name.
fn forge_artifacts(dir: &Path, found: &mut Vec<(String, Value)>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
        let path = entry.unwrap_or_else(|err| panic!("{err}")).path();
        if path.is_dir() {
            if path.file_name().is_some_and(|name| name != "build-info") {
                forge_artifacts(&path, found);
            }
            continue;
        }
        let json: Value = serde_json::from_slice(&fs::read(&path).unwrap_or_else(|err| panic!("{err}")))
            .unwrap_or_else(|err| panic!("{}: {err}", path.display()));
        let target = json.pointer("/metadata/settings/compilationTarget").and_then(Value::as_object);
        if let Some((source, name)) = target.and_then(|t| t.iter().next())
            && source.starts_with("contracts/src/")
            && let Some(name) = name.as_str()
        {
            found.push((name.to_owned(), json));
        }
    }
}

#[test]
fn foundry_compilers_and_forge_build_the_same_runtime_bytecode() {
    let root = repo_root();
    let forge = root.join("node_modules/.bin/forge");
    assert!(forge.is_file(), "{} is missing: run ./scripts/setup.sh", forge.display());
    let out = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
    let status = Command::new(&forge)
        .current_dir(&root)
        .args(["build", "--skip", "test", "--skip", "script", "--out"])
        .arg(out.path().join("out"))
        .arg("--cache-path")
        .arg(out.path().join("cache"))
        .arg(root.join("contracts/src"))
        .status()
        .unwrap_or_else(|err| panic!("running {}: {err}", forge.display()));
    assert!(status.success(), "forge build failed: {status}");
    let mut artifacts = Vec::new();
    forge_artifacts(&out.path().join("out"), &mut artifacts);

    let bound = agora_contracts::deployed_bytecodes();
    assert!(
        bound.len() >= 7,
        "the protocol's deployable contracts: {:?}",
        bound.iter().map(|b| b.0).collect::<Vec<_>>()
    );
    for (name, ours) in bound {
        let forged = artifacts
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, json)| json.pointer("/deployedBytecode/object")?.as_str())
            .unwrap_or_else(|| panic!("forge built no {name}"));
        let forged: Bytes = forged.parse().unwrap_or_else(|err| panic!("{name}: {err}"));
        assert!(!ours.is_empty(), "{name} has no runtime bytecode");
        assert_eq!(keccak256(ours), keccak256(&forged), "{name}: foundry-compilers and forge differ");
    }
}
