//! Bad input across the whole stack: each mistake a user can make ends in one line, `error: …`,
//! and exit code 1, and leaves nothing half done: an unknown asset, insufficient funds, a
//! keystore without its password, an expired access order, Kubo down. (A wrong chain id is in
//! tests/deploy.rs.)

use agora_deploy::services::kubo::KuboDaemon;
use agora_e2e::*;

const POOR_KEY: &str = "0x0000000000000000000000000000000000000000000000000000000000000001";

#[test]
fn each_mistake_is_one_line_and_a_failing_exit_code() {
    let mut kubo = KuboDaemon::start().unwrap_or_else(|err| panic!("Kubo: {err}"));
    let mut chain = Chain::deployed();
    chain.ipfs_api = Some(kubo.api_url());
    let file = chain.write_file("notes.jsonl", 1024);
    // The provider that serves it later holds its key.
    let provider = provider(&chain, &kubo, 9);
    let publish = [
        "asset",
        "publish",
        &file,
        "--kind",
        "dataset",
        "--price",
        "0.01",
        "--access-duration",
        "3600",
        "--provider",
        &provider.url,
    ];
    chain.json(1, &publish);

    // Unknown asset.
    assert_one_line_error(&chain.run(2, &["asset", "buy", "99"]), "unknown asset 99");
    assert_one_line_error(&chain.run(2, &["asset", "show", "99"]), "unknown asset 99");

    // Insufficient funds: an account with no ETH.
    let poor = chain.agora().env("AGORA_PRIVATE_KEY", POOR_KEY).args(["asset", "buy", "1"]).output();
    assert_one_line_error(&poor.unwrap_or_else(|err| panic!("{err}")), "insufficient funds");

    // A keystore without its password (no terminal to prompt on).
    let password = chain.dir.path().join("password.txt");
    std::fs::write(&password, "correct horse\n").unwrap_or_else(|err| panic!("{err}"));
    let mut import = chain
        .agora()
        .args(["wallet", "import", "--name", "buyer", "--password-file"])
        .arg(&password)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("{err}"));
    if let Some(mut stdin) = import.stdin.take() {
        std::io::Write::write_all(&mut stdin, chain.key(2).as_bytes()).unwrap_or_else(|err| panic!("{err}"));
    }
    let import = import.wait_with_output().unwrap_or_else(|err| panic!("{err}"));
    assert!(import.status.success(), "{}", stderr(&import));
    let locked = chain.agora().args(["asset", "buy", "1", "--keystore", "buyer"]).output();
    assert_one_line_error(&locked.unwrap_or_else(|err| panic!("{err}")), "pass --password-file");

    // An access order past its hour: the provider refuses it.
    chain.json(2, &["asset", "buy", "1"]);
    let first = chain.json(2, &["asset", "download", "1", "--provider", &provider.url, "-o", "first.jsonl"]);
    let order = first["orderId"].as_str().unwrap_or_else(|| panic!("{first}")).to_owned();
    let with_order = |out: &'static str| {
        ["asset", "download", "1", "--provider", &provider.url, "--order", &order, "-o", out]
    };
    chain.json(2, &with_order("within-the-hour.jsonl"));
    chain.rpc("evm_increaseTime", serde_json::json!([3601]));
    chain.rpc("anvil_mine", serde_json::json!([1]));
    assert_one_line_error(&chain.run(2, &with_order("too-late.jsonl")), "the access order expired at");
    drop(provider);

    // Kubo down: publishing fails before anything is sent, and works again once Kubo is back.
    kubo.stop().unwrap_or_else(|err| panic!("{err}"));
    let before = chain.block_number();
    let down = chain.run(1, &["asset", "publish", &file, "--kind", "dataset", "--price", "0.01"]);
    assert_one_line_error(&down, "Kubo unreachable");
    assert_eq!(chain.block_number(), before, "a failed publish sent a transaction");
    kubo.restart().unwrap_or_else(|err| panic!("{err}"));
    let again = chain.json(1, &["asset", "publish", &file, "--kind", "dataset", "--price", "0.01"]);
    assert_eq!(again["assetId"], "2");
}
