//! The built `agora` binary running a compute provider against a real anvil with the protocol
//! deployed: `provider init` writes a configuration the provider loads (and refuses to
//! overwrite one), `register` stakes, `run` serves it in-process, `status` reads the chain and
//! the service, `withdraw --unstake` requests the exit and, after the cooldown, returns the
//! stake; bad input ends in a one-line error and exit code 1.

mod common;

use common::*;
use std::process::{Command, Stdio};

/// anvil's accounts: the operator runs the provider, the other one tries things.
const OPERATOR: usize = 3;
const OTHER: usize = 4;

/// `agora provider run` in the background, once `provider status --url` sees it answer.
fn run_provider(stack: &Stack, config: &str, url: &str) -> Background {
    // The key as the configuration file says: the provider's own variable.
    let mut provider_run = stack.agora_with_key("");
    provider_run
        .env("AGORA_PROVIDER_PRIVATE_KEY", stack.key(OPERATOR))
        .args(["provider", "run", "--config", config]);
    stack.spawn_provider(provider_run, OPERATOR, url)
}

#[test]
fn an_operator_configures_registers_runs_and_leaves_with_its_stake() {
    let stack = Stack::start();
    let operator = stack.address(OPERATOR);
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let listen = format!("127.0.0.1:{port}");

    // init: a file the provider loads, for this chain's manifest; never overwritten silently.
    let init = &[
        "provider",
        "init",
        "--config",
        "provider.toml",
        "--listen",
        &listen,
        "--ipfs-api",
        "http://127.0.0.1:1",
    ];
    let written = stack.json(OPERATOR, init);
    assert_eq!(written["provider"]["listen"], listen.as_str());
    assert_eq!(written["provider"]["rpc_url"], stack.chain.endpoint_url().to_string());
    let text = std::fs::read_to_string(stack.dir.path().join("provider.toml")).unwrap_or_default();
    assert!(text.contains("deployments/31337.json") && text.contains("job_workers = 1"), "{text}");
    assert_one_line_error(&stack.agora(OPERATOR, init), "already exists: pass --force");
    let mut forced = init.to_vec();
    forced.push("--force");
    assert!(stack.agora(OPERATOR, &forced).status.success());

    // register: staked at the minimum, visible in status; twice is refused in words.
    let not_yet = stack.json(OTHER, &["provider", "status", &operator.to_string()]);
    assert_eq!(not_yet["registered"], false);
    let register = &["provider", "register", "--endpoint", &url, "--price", "0.05"];
    let registered = stack.json(OPERATOR, register);
    assert_eq!(registered["stake"], "1000000000000000000");
    assert_eq!(registered["price"], "50000000000000000");
    assert_one_line_error(&stack.agora(OPERATOR, register), "is already a registered provider");
    assert_one_line_error(
        &stack
            .agora(OTHER, &["provider", "register", "--endpoint", &url, "--price", "0.05", "--stake", "0.5"]),
        "stake too low: 0.5 ETH staked, the minimum is 1 ETH",
    );

    // run: the service answers as this provider, with compute jobs on.
    let provider = run_provider(&stack, "provider.toml", &url);
    let status = stack.json(OTHER, &["provider", "status", &operator.to_string(), "--url", &url]);
    assert_eq!(status["registered"], true);
    assert_eq!(status["endpoint"], format!("{url}/"));
    assert_eq!(status["activeJobs"], 0);
    assert_eq!(status["service"]["health"]["status"], "ok");
    assert_eq!(status["service"]["info"]["chainId"], 31337);
    assert_eq!(
        status["service"]["info"]["jobKinds"],
        serde_json::json!(["embed", "train", "predict", "algorithm"])
    );
    assert_eq!(status["claimable"][0]["amount"], "0");
    assert_one_line_error(
        &stack.agora(OTHER, &["provider", "status", &stack.address(OTHER).to_string(), "--url", &url]),
        "wrong provider",
    );
    assert_one_line_error(
        &stack.agora(OTHER, &["provider", "status", &operator.to_string(), "--url", "http://127.0.0.1:1"]),
        "is unreachable",
    );
    drop(provider);

    // withdraw: nothing credited; --unstake asks to exit, waits out the cooldown, then pays.
    assert_one_line_error(&stack.agora(OPERATOR, &["provider", "withdraw"]), "nothing to withdraw");
    let exit = stack.json(OPERATOR, &["provider", "withdraw", "--unstake"]);
    assert_eq!(exit[0]["action"], "requestExit");
    assert_one_line_error(
        &stack.agora(OPERATOR, &["provider", "withdraw", "--unstake"]),
        "the exit cooldown is still running",
    );
    stack.advance(7 * 24 * 3600 + 1);
    let left = stack.json(OPERATOR, &["provider", "withdraw", "--unstake"]);
    assert_eq!(left[0]["action"], "withdrawStake");
    assert_eq!(left[0]["amount"], "1000000000000000000");
    let gone = stack.json(OTHER, &["provider", "status", &operator.to_string()]);
    assert_eq!(gone["registered"], false);
}

#[test]
fn every_provider_and_job_command_shows_an_example() {
    let commands = [
        ("provider", ["init", "register", "run", "status", "withdraw", "pinning-token"].as_slice()),
        ("job", ["submit", "status", "result", "verify", "dispute", "refund"].as_slice()),
    ];
    for (group, names) in commands {
        for name in names {
            let out = run(Command::new(env!("CARGO_BIN_EXE_agora")).args([group, name, "--help"]));
            let help = stdout(&out);
            assert!(help.contains("Example: agora "), "agora {group} {name} --help: {help}");
        }
    }
}

#[test]
fn pinning_tokens_are_fresh_and_their_digest_is_what_the_provider_lists() {
    let token = || {
        let out =
            run(Command::new(env!("CARGO_BIN_EXE_agora")).args(["--json", "provider", "pinning-token"]));
        assert!(out.status.success(), "{}", stderr(&out));
        json_of(&out)
    };
    let (a, b) = (token(), token());
    let text = a["token"].as_str().unwrap_or_default();
    assert_eq!(text.len(), 64, "{a}");
    assert_ne!(a["token"], b["token"], "each token is new");
    assert_eq!(format!("0x{}", a["sha256"].as_str().unwrap_or_default()), sha256_hex(text.as_bytes()));
    let table = stdout(&run(Command::new(env!("CARGO_BIN_EXE_agora")).args(["provider", "pinning-token"])));
    assert!(table.contains("tokens_sha256 = [\"") && table.contains("not kept anywhere"), "{table}");
}

#[test]
fn bad_provider_input_gets_one_line_errors() {
    let stack = Stack::start();
    // A keystore without its password (no terminal to prompt on).
    let password = stack.dir.path().join("password");
    std::fs::write(&password, "correct horse\n").unwrap_or_else(|err| panic!("{err}"));
    let created =
        stack.agora(OPERATOR, &["wallet", "new", "--name", "operator", "--password-file", "password"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let register = ["provider", "register", "--endpoint", "http://127.0.0.1:9", "--price", "0.05"];
    assert_one_line_error(
        &run(stack.agora_with_key("").args(register).args(["--keystore", "operator"]).stdin(Stdio::null())),
        "pass --password-file",
    );
    let init = ["provider", "init", "--config", "keyed.toml", "--keystore-file", "keystores/operator"];
    assert!(stack.agora(OPERATOR, &init).status.success());
    assert_one_line_error(
        &run(stack
            .agora_with_key("")
            .args(["provider", "run", "--config", "keyed.toml"])
            .stdin(Stdio::null())),
        "password for keystore keystores/operator needed: pass --password-file",
    );
    assert_one_line_error(
        &run(stack.agora_with_key("").args(register).args(["--keystore", "nobody"])),
        "no keystore named \"nobody\"",
    );
    assert_one_line_error(
        &stack.agora(OPERATOR, &["provider", "register", "--endpoint", "http://x", "--price", "lots"]),
        "is not an amount of ETH",
    );
    assert_one_line_error(
        &stack.agora(OPERATOR, &["provider", "run", "--config", "missing.toml"]),
        "no provider configuration at missing.toml",
    );
    assert_one_line_error(
        &stack.agora(OPERATOR, &["--deployments-dir", "nowhere", "provider", "init"]),
        "no deployment of Agora on chain 31337",
    );
    assert_one_line_error(
        &stack.agora(OPERATOR, &["provider", "withdraw", "--unstake"]),
        "is not a registered provider",
    );
}
