//! Bundles the hub's page scripts (`web/src/*.ts`) into `$OUT_DIR/web/{hub,receipt,wallet}.js`
//! with the repository's pinned esbuild, through `scripts/build-hub-js.sh`; the server embeds them
//! with `include_bytes!(concat!(env!("OUT_DIR"), "/web/hub.js"))`. Without `node_modules` (run
//! `./scripts/setup.sh`) the build fails rather than embedding an empty script.
//!
//! The wallet script calls the contracts through ABIs that agora-contracts' build script writes
//! from its compilation of the contracts (the same source as the Rust bindings) as `abi.ts`; this
//! script copies it to `web/generated/abi.ts` (not committed), where esbuild and `tsc` find it.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::{Command, ExitCode},
};

/// The bundles the script writes; each must exist and be non-empty afterwards.
const BUNDLES: &[&str] = &["hub.js", "receipt.js", "wallet.js"];

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: agora-hub build script: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    println!("cargo:rerun-if-changed=web/src");
    println!("cargo:rerun-if-changed=web/tsconfig.json");
    println!("cargo:rerun-if-changed=../scripts/build-hub-js.sh");
    // A different esbuild or viem changes the bundles.
    println!("cargo:rerun-if-changed=../package-lock.json");

    let manifest_dir =
        PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|err| format!("CARGO_MANIFEST_DIR: {err}"))?);
    let root = manifest_dir.parent().ok_or("the hub crate is not inside the repository")?;
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|err| format!("OUT_DIR: {err}"))?).join("web");
    let script = root.join("scripts/build-hub-js.sh");
    copy_abis(&manifest_dir)?;

    // The script's messages (a missing esbuild, syntax errors) reach cargo's output.
    let status = Command::new("bash")
        .arg(&script)
        .arg(&out_dir)
        .status()
        .map_err(|err| format!("could not run {}: {err}", script.display()))?;
    if !status.success() {
        return Err(format!(
            "{} failed ({status}); if node_modules is missing, run ./scripts/setup.sh",
            script.display()
        ));
    }
    for bundle in BUNDLES {
        check_bundle(&out_dir.join(bundle))?;
    }
    Ok(())
}

/// Copies agora-contracts' generated `abi.ts` to `web/generated/abi.ts`, rewriting it only when
/// it changed (so editors and `tsc --watch` are not woken for nothing).
fn copy_abis(manifest_dir: &Path) -> Result<(), String> {
    println!("cargo:rerun-if-env-changed=DEP_AGORA_CONTRACTS_ABI_TS");
    let source = env::var("DEP_AGORA_CONTRACTS_ABI_TS").map_err(|_| {
        "agora-contracts did not say where its abi.ts is (DEP_AGORA_CONTRACTS_ABI_TS)".to_owned()
    })?;
    let abis = fs::read(&source).map_err(|err| format!("{source}: {err}"))?;
    let target_dir = manifest_dir.join("web/generated");
    let target = target_dir.join("abi.ts");
    if fs::read(&target).ok().as_deref() != Some(abis.as_slice()) {
        fs::create_dir_all(&target_dir).map_err(|err| format!("{}: {err}", target_dir.display()))?;
        fs::write(&target, abis).map_err(|err| format!("{}: {err}", target.display()))?;
    }
    Ok(())
}

fn check_bundle(path: &Path) -> Result<(), String> {
    match fs::metadata(path) {
        Ok(meta) if meta.len() > 0 => Ok(()),
        Ok(_) => Err(format!("{} is empty", path.display())),
        Err(err) => Err(format!("{} was not written: {err}", path.display())),
    }
}
