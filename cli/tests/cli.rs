//! The built `agora` binary against a real anvil: dry runs, keystores, and bad input that must end
//! in a one-line error and a non-zero exit code. Deploying to a Sepolia chain, re-running and the
//! manifest are journey 1 of the end-to-end tests (tests/deploy.rs).

mod common;

use common::*;
use std::{path::Path, process::Command};

use alloy::node_bindings::{Anvil, AnvilInstance};

const SEPOLIA: u64 = 11_155_111;

fn anvil(chain_id: u64) -> AnvilInstance {
    Anvil::at(anvil_path()).chain_id(chain_id).spawn()
}

/// `agora` with a clean environment: no inherited AGORA_* settings.
fn agora(dir: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_agora"));
    command.current_dir(dir).env_remove("AGORA_PRIVATE_KEY").env_remove("AGORA_NETWORK");
    command.env("AGORA_KEYSTORE_DIR", dir.join("keystores"));
    command
}

#[test]
fn dry_run_prints_gas_and_cost_without_a_key_or_a_transaction() {
    let chain = anvil(SEPOLIA);
    let dir = tempfile::tempdir().unwrap();
    let output = run(agora(dir.path()).args([
        "--network",
        "sepolia",
        "--rpc-url",
        chain.endpoint().as_str(),
        "--json",
        "deploy",
        "--dry-run",
        "--from",
        "0x00000000000000000000000000000000000000d7",
    ]));
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["chainId"], SEPOLIA);
    assert_eq!(report["transactions"].as_array().map(Vec::len), Some(13));
    assert_eq!(report["allocation"]["grants"], serde_json::json!([]), "the deployer is granted nothing");
    assert!(report["totalGas"].as_u64().unwrap() > 5_000_000);
    assert_eq!(report["deployerBalanceWei"], "0");
    assert!(!dir.path().join("deploy").exists(), "a dry run wrote a manifest");
}

#[test]
fn bad_input_gets_one_line_errors_and_a_failing_exit_code() {
    let chain = anvil(31337);
    let dir = tempfile::tempdir().unwrap();
    let url = chain.endpoint();

    // Wrong chain id: a 31337 node passed off as Sepolia.
    let out = run(agora(dir.path())
        .args(["--network", "sepolia", "--rpc-url", &url, "deploy"])
        .env("AGORA_PRIVATE_KEY", DEV_KEY));
    assert_one_line_error(&out, "wrong chain: the RPC at http://localhost");
    assert!(stderr(&out).contains("reports chain id 31337, but network \"sepolia\" is chain 11155111"));

    // Unknown network; a public network without its RPC URL.
    assert_one_line_error(
        &run(agora(dir.path()).args(["--network", "mainnet", "deploy"])),
        "unknown network",
    );
    assert_one_line_error(
        &run(agora(dir.path())
            .args(["--network", "base-sepolia", "deploy"])
            .env_remove("BASE_SEPOLIA_RPC_URL")),
        "set BASE_SEPOLIA_RPC_URL or pass --rpc-url",
    );
    // No signer; a malformed key; a keystore that does not exist.
    assert_one_line_error(&run(agora(dir.path()).args(["--rpc-url", &url, "deploy"])), "no signer");
    assert_one_line_error(
        &run(agora(dir.path()).args(["--rpc-url", &url, "deploy"]).env("AGORA_PRIVATE_KEY", "0x1234")),
        "not a valid private key",
    );
    assert_one_line_error(
        &run(agora(dir.path()).args(["--rpc-url", &url, "deploy", "--keystore", "nobody"])),
        "no keystore named \"nobody\"",
    );
    // A deployer with no ETH: the node's refusal comes back as one line.
    let poor = "0x0000000000000000000000000000000000000000000000000000000000000001";
    let out = run(agora(dir.path()).args(["--rpc-url", &url, "deploy"]).env("AGORA_PRIVATE_KEY", poor));
    assert_one_line_error(&out, "deploy AgoraTimelock");
    assert!(stderr(&out).to_lowercase().contains("insufficient funds"), "{}", stderr(&out));
    // A node that is not there.
    drop(chain);
    assert_one_line_error(
        &run(agora(dir.path()).args(["--rpc-url", &url, "deploy"]).env("AGORA_PRIVATE_KEY", DEV_KEY)),
        "cannot reach the RPC",
    );
    // A malformed flag is clap's error (exit code 2).
    let out = run(agora(dir.path()).args(["deploy", "--salt", "xyz"]));
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn keystores_are_created_imported_listed_and_unlocked_only_with_their_password() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "correct horse\n").unwrap();
    let pass = pass.to_str().unwrap();

    let out =
        run(agora(dir.path()).args(["wallet", "new", "--name", "alice", "--password-file", pass, "--json"]));
    assert!(out.status.success(), "{}", stderr(&out));
    let alice: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let mut import = agora(dir.path());
    import.args(["wallet", "import", "--name", "dev", "--password-file", pass]);
    import.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = import.spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), DEV_KEY.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stdout(&out).contains(&DEV_KEY[2..]), "the key was printed");

    let out = run(agora(dir.path()).args(["wallet", "list", "--json"]));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list[0]["name"], "alice");
    assert_eq!(list[0]["address"], alice["address"]);
    assert_eq!(list[1]["name"], "dev");
    assert_eq!(list[1]["address"], DEV_ADDRESS);
    let out = run(agora(dir.path()).args(["wallet", "address", "dev"]));
    assert_eq!(stdout(&out).trim(), DEV_ADDRESS);

    // The keystore signs only with its password; a missing password fails without a prompt.
    let chain = anvil(31337);
    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "battery staple\n").unwrap();
    let url = chain.endpoint();
    let deploy = |extra: &[&str]| {
        let mut command = agora(dir.path());
        command.args(["--rpc-url", &url, "deploy", "--keystore", "dev"]).args(extra);
        run(command.stdin(std::process::Stdio::null()))
    };
    assert_one_line_error(&deploy(&["--password-file", wrong.to_str().unwrap()]), "wrong password");
    assert_one_line_error(&deploy(&[]), "pass --password-file");
    let out = deploy(&["--password-file", pass]);
    assert!(out.status.success(), "{}", stderr(&out));

    // Names that could escape the folder, and duplicates, are refused.
    assert_one_line_error(
        &run(agora(dir.path()).args(["wallet", "new", "--name", "../evil", "--password-file", pass])),
        "must be 1-64 letters",
    );
    assert_one_line_error(
        &run(agora(dir.path()).args(["wallet", "new", "--name", "alice", "--password-file", pass])),
        "already exists",
    );
}

#[test]
fn the_hub_refuses_a_bad_configuration_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let hub = || {
        let mut command = agora(dir.path());
        command.arg("hub").env_remove("AGORA_HUB_INDEXER").env_remove("AGORA_HUB_PAGE_SIZE");
        command
    };
    assert_one_line_error(&run(&mut hub()), "the indexer's URL is required: --indexer URL");
    let indexer = ["--indexer", "http://127.0.0.1:1"];
    assert_one_line_error(
        &run(hub().args(indexer).args(["--page-size", "0"])),
        "page_size must be from 1 to 100",
    );
    assert_one_line_error(
        &run(hub().args(indexer).env("AGORA_HUB_PAGE_SIZE", "many")),
        "invalid hub configuration",
    );
    assert_one_line_error(
        &run(hub().args(indexer).args(["--max-upload-mib", "64"])),
        "max_upload_mib needs ipfs_api",
    );
    // Not a size: clap's error.
    assert_eq!(run(hub().args(indexer).args(["--max-upload-mib", "lots"])).status.code(), Some(2));
    std::fs::write(dir.path().join("hub.toml"), "indexer = \"http://127.0.0.1:1\"\ncolour = \"red\"\n")
        .unwrap();
    assert_one_line_error(&run(hub().args(["--config", "hub.toml"])), "colour");
    assert_one_line_error(&run(hub().args(["--config", "missing.toml"])), "missing.toml");
    // An address already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let listen = taken.local_addr().unwrap().to_string();
    assert_one_line_error(
        &run(hub().args(indexer).args(["--listen", &listen])),
        &format!("listening on {listen}"),
    );
    // A malformed URL is clap's error.
    assert_eq!(run(hub().args(["--indexer", "not a url"])).status.code(), Some(2));
}
