//! The built `agora` binary taking a DAO decision end to end against a real anvil with the
//! protocol deployed: delegate, propose a fee change, vote, queue, execute, and the status of
//! each step; plus the one-line errors of steps taken too early or on unknown proposals.

mod common;

use common::*;
use std::process::Command;

use agora_contracts::marketplace::Marketplace;
use alloy::providers::ProviderBuilder;

/// anvil's first dev account: it deployed the protocol, and the local allocation grants it 10 %
/// of the AGORA supply (more than the 4 % quorum).
const DEPLOYER: usize = 0;

/// Seconds after which a local vote is surely closed: the local preset's five-minute voting
/// period (a quorum reached late extends it by only a minute).
const VOTE_LASTS: u64 = 301;

#[test]
fn a_fee_change_is_delegated_proposed_voted_queued_and_executed() {
    let stack = Stack::start();

    let delegated = stack.json(DEPLOYER, &["dao", "delegate"]);
    assert_ne!(delegated["votes"], "0");
    let proposed =
        stack.json(DEPLOYER, &["dao", "propose", "--description", "Fee to 1.5%", "set-fee", "150"]);
    let id = proposed["proposalId"].as_str().unwrap().to_owned();
    assert_eq!(stack.json(DEPLOYER, &["dao", "status", &id])["state"], "pending");
    assert_one_line_error(&stack.agora(DEPLOYER, &["dao", "vote", &id, "for"]), "is pending");

    // Time is the block timestamp's: the local preset opens a vote a second after the proposal
    // and keeps it open five minutes.
    stack.advance(2);
    stack.json(DEPLOYER, &["dao", "vote", &id, "for"]);
    assert_one_line_error(&stack.agora(DEPLOYER, &["dao", "queue", &id]), "is active");
    stack.advance(VOTE_LASTS);
    let status = stack.json(DEPLOYER, &["dao", "status", &id]);
    assert_eq!(status["state"], "succeeded");
    assert_eq!(status["for"], delegated["votes"]);

    stack.json(DEPLOYER, &["dao", "queue", &id]);
    stack.advance(2);
    stack.json(DEPLOYER, &["dao", "execute", &id]);
    assert_eq!(stack.json(DEPLOYER, &["dao", "status", &id])["state"], "executed");

    let manifest = stack.deployment();
    let provider = ProviderBuilder::new().connect_http(stack.chain.endpoint_url());
    let marketplace = Marketplace::new(manifest.contracts.marketplace, provider);
    let call = marketplace.protocolFeeBps();
    let fee = tokio::runtime::Runtime::new().unwrap().block_on(async { call.call().await }).unwrap();
    assert_eq!(fee, 150);

    assert_one_line_error(&stack.agora(DEPLOYER, &["dao", "status", "12345"]), "unknown proposal 12345");
    assert_one_line_error(&stack.agora(DEPLOYER, &["dao", "execute", &id]), "is executed");
}

#[test]
fn a_raw_proposal_with_two_calls_is_listed_voted_queued_and_executed() {
    use alloy::sol_types::SolCall;

    let stack = Stack::start();
    let manifest = stack.deployment();
    let market = manifest.contracts.marketplace.to_string();
    let recipient = stack.address(7);
    let set_fee = alloy::hex::encode_prefixed(Marketplace::setProtocolFeeCall { feeBps: 200 }.abi_encode());
    let set_recipient =
        alloy::hex::encode_prefixed(Marketplace::setFeeRecipientCall { recipient }.abi_encode());

    let listed = stack.json(DEPLOYER, &["dao", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(0));
    stack.json(DEPLOYER, &["dao", "delegate"]);
    let raw = |description: &str| {
        stack.json(
            DEPLOYER,
            &[
                "dao",
                "propose",
                "--description",
                description,
                "raw",
                "--target",
                &market,
                "--calldata",
                &set_fee,
                "--target",
                &market,
                "--calldata",
                &set_recipient,
                "--value",
                "0",
                "--value",
                "0",
            ],
        )
    };
    let id = raw("Fee to 2% and a new fee recipient")["proposalId"].as_str().unwrap().to_owned();
    let other = stack.json(DEPLOYER, &["dao", "propose", "--description", "Fee to 3%", "set-fee", "300"]);

    // Both are listed, oldest first, pending with no votes.
    let listed = stack.json(DEPLOYER, &["dao", "list"]);
    let listed = listed.as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["proposalId"], id.as_str());
    assert_eq!(listed[0]["actions"], 2);
    assert_eq!(listed[1]["proposalId"], other["proposalId"]);
    assert!(listed.iter().all(|p| p["state"] == "pending" && p["for"] == "0"), "{listed:?}");

    stack.advance(2);
    stack.json(DEPLOYER, &["dao", "vote", &id, "for"]);
    let other_id = other["proposalId"].as_str().unwrap();
    stack.json(DEPLOYER, &["dao", "vote", other_id, "against"]);
    stack.advance(VOTE_LASTS);
    let listed = stack.json(DEPLOYER, &["dao", "list"]);
    assert_eq!(listed[0]["state"], "succeeded");
    assert_ne!(listed[0]["for"], "0");
    assert_eq!(listed[1]["state"], "defeated");
    assert_eq!(listed[1]["against"], listed[0]["for"]);

    stack.json(DEPLOYER, &["dao", "queue", &id]);
    stack.advance(2);
    stack.json(DEPLOYER, &["dao", "execute", &id]);
    assert_eq!(stack.json(DEPLOYER, &["dao", "list"])[0]["state"], "executed");
    let table = stack.agora(DEPLOYER, &["dao", "list"]);
    assert!(String::from_utf8_lossy(&table.stdout).contains("executed"));

    let provider = ProviderBuilder::new().connect_http(stack.chain.endpoint_url());
    let marketplace = Marketplace::new(manifest.contracts.marketplace, provider);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fee = runtime.block_on(async { marketplace.protocolFeeBps().call().await }).unwrap();
    assert_eq!(fee, 200);
    let fee_recipient = runtime.block_on(async { marketplace.feeRecipient().call().await }).unwrap();
    assert_eq!(fee_recipient, recipient);
}

#[test]
fn a_malformed_raw_proposal_is_a_one_line_error() {
    // Checked before any network access: no chain runs here.
    let dir = tempfile::tempdir().unwrap();
    let propose = |extra: &[&str]| {
        let mut args = vec!["dao", "propose", "--description", "bad", "raw"];
        args.extend_from_slice(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_agora"))
            .current_dir(dir.path())
            .env_remove("AGORA_NETWORK")
            .env("AGORA_RPC_URL", "http://127.0.0.1:9")
            .env("AGORA_PRIVATE_KEY", DEV_KEY)
            .args(&args)
            .output();
        out.unwrap_or_else(|err| panic!("running agora: {err}"))
    };
    let target = DEV_ADDRESS;
    assert_one_line_error(&propose(&["--target", "0x1234"]), "--target \"0x1234\" is not an address");
    assert_one_line_error(
        &propose(&["--target", "0x0000000000000000000000000000000000000000"]),
        "must not be the zero address",
    );
    assert_one_line_error(&propose(&["--target", target, "--calldata", "0xzz112233"]), "is not hex");
    assert_one_line_error(&propose(&["--target", target, "--calldata", "6f8c0000"]), "must start with 0x");
    assert_one_line_error(&propose(&["--target", target, "--calldata", "0x6f8c"]), "4-byte selector");
    assert_one_line_error(&propose(&["--target", target, "--value", "1.5"]), "not an amount in wei");
    assert_one_line_error(
        &propose(&["--target", target, "--target", target, "--calldata", "0x"]),
        "1 --calldata for 2 --target",
    );
}

#[test]
fn the_treasury_shows_held_and_accrued_fees_per_currency_and_anyone_releases_them() {
    let stack = Stack::with_kubo();
    let (publisher, buyer) = (1, 2);
    let (file, _) = write_file(stack.dir.path(), "notes.csv", 1000);
    stack.json(publisher, &["asset", "publish", &file, "--kind", "dataset", "--price", "0.01", "--public"]);
    stack.json(buyer, &["asset", "buy", "1"]);
    let usd = stack.stablecoin(0, stack.address(buyer), 1_000_000);
    let fee = "250000000000000"; // 2.5 % of 0.01 ETH

    let before = stack.json(buyer, &["dao", "treasury"]);
    let lines = before.as_array().cloned().unwrap_or_default();
    assert_eq!(lines.len(), 2, "ETH and the allowed mUSD: {before}");
    assert_eq!(lines[0]["symbol"], "ETH");
    assert_eq!(lines[0]["accruedSales"], fee);
    let amount = |value: &serde_json::Value| value.as_str().and_then(|v| v.parse::<u128>().ok()).unwrap();
    let held = amount(&lines[0]["held"]);
    assert_eq!(address_of(&lines[1]["currency"]), usd);
    let table = stdout(&stack.agora(buyer, &["dao", "treasury"]));
    assert!(table.contains("agora dao treasury --release"), "{table}");

    let released = stack.json(buyer, &["dao", "treasury", "--release"]);
    assert_eq!(released[0]["released"], fee);
    assert_eq!(
        amount(&released[0]["held"]),
        held + amount(&serde_json::json!(fee)),
        "the fee reached the treasury"
    );
    assert_eq!(released[0]["accruedSales"], "0");
    let again = stack.json(buyer, &["dao", "treasury", "--release"]);
    assert_eq!(again[0]["released"], "0", "nothing accrued since: nothing sent");
}

/// Voting without gas: account 3 signs a delegation and a vote; account 5, holding no AGORA
/// itself, relays both and pays the gas; the vote counts for account 3. A replayed signature, one
/// for another chain and a file that is no signed message are refused with one-line errors.
#[test]
fn a_signed_delegation_and_vote_are_relayed_by_someone_else() {
    const VOTER: usize = 3;
    const RELAYER: usize = 5;
    let stack = Stack::start();
    let dir = stack.dir.path();
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();

    let delegation = path("delegation.json");
    stack.json(VOTER, &["dao", "delegate", "--sign-only", "--output", &delegation]);
    let relayed = stack.json(RELAYER, &["dao", "relay", &delegation]);
    let address =
        |value: &serde_json::Value| value.as_str().unwrap().parse::<alloy::primitives::Address>().unwrap();
    assert_eq!(
        (address(&relayed["signer"]), address(&relayed["relayer"])),
        (stack.address(VOTER), stack.address(RELAYER))
    );
    assert_one_line_error(&stack.agora(RELAYER, &["dao", "relay", &delegation]), "nonce");

    let proposed = stack.json(DEPLOYER, &["dao", "propose", "--description", "Fee to 1%", "set-fee", "100"]);
    let id = proposed["proposalId"].as_str().unwrap().to_owned();
    stack.advance(2);
    let vote = path("vote.json");
    stack.json(VOTER, &["dao", "vote", &id, "for", "--sign-only", "--output", &vote]);
    let signed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&vote).unwrap()).unwrap();
    assert_eq!((signed["kind"].as_str(), signed["support"].as_u64()), (Some("vote"), Some(1)));

    // Signed for another chain: refused before anything is sent.
    let mut elsewhere = signed.clone();
    elsewhere["chainId"] = serde_json::json!(11_155_111);
    let other = path("other-chain.json");
    std::fs::write(&other, elsewhere.to_string()).unwrap();
    assert_one_line_error(&stack.agora(RELAYER, &["dao", "relay", &other]), "chain 11155111");
    let junk = path("junk.json");
    std::fs::write(&junk, "{\"kind\":\"vote\"}").unwrap();
    assert_one_line_error(&stack.agora(RELAYER, &["dao", "relay", &junk]), "not a signed vote or delegation");

    stack.json(RELAYER, &["dao", "relay", &vote]);
    let status = stack.json(DEPLOYER, &["dao", "status", &id]);
    assert_ne!(status["for"], "0", "the relayed vote counts for the voter: {status}");
    // The same signature again: its nonce is used up.
    assert_one_line_error(&stack.agora(RELAYER, &["dao", "relay", &vote]), "nonce");
}

/// Earned by use: a sale earns its buyer and the asset's owner points in the epoch it falls in;
/// once the epoch has ended, anyone computes the same distribution from the chain's logs, the DAO
/// funds it by proposal, and the buyer claims its share (once), then delegates and votes with it
/// by signatures another account relays.
#[test]
fn a_sale_earns_agora_in_its_epoch_funded_by_the_dao_and_claimed_once() {
    const PUBLISHER: usize = 1;
    const BUYER: usize = 2;
    const IDLE: usize = 6;
    let stack = Stack::with_kubo();
    let (file, _) = write_file(stack.dir.path(), "finches.csv", 4096);
    stack.json(PUBLISHER, &["asset", "publish", &file, "--kind", "dataset", "--price", "0.01"]);
    stack.json(BUYER, &["asset", "buy", "1"]);

    // The local preset's epochs are hours from 2026-01-01 (unix 1767225600).
    let now = stack.now();
    let epoch = ((now - 1_767_225_600) / 3_600).to_string();
    assert_one_line_error(
        &stack.agora(IDLE, &["dao", "rewards", "compute", "--epoch", &epoch]),
        "usage is not final yet",
    );
    stack.advance(3_600);
    let computed = stack.json(IDLE, &["dao", "rewards", "compute", "--epoch", &epoch, "--json"]);
    let accounts = computed["accounts"].as_array().unwrap();
    let of = |who: usize| {
        accounts
            .iter()
            .find(|a| {
                a["account"].as_str().unwrap().parse::<alloy::primitives::Address>().unwrap()
                    == stack.address(who)
            })
            .unwrap_or_else(|| panic!("{who} earned nothing: {computed}"))
            .clone()
    };
    // One point each; each share is capped at 10 % of the 200 000 AGORA default budget.
    let budget: alloy::primitives::U256 = computed["budget"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        budget,
        alloy::primitives::U256::from(200_000u64)
            * alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(18))
    );
    assert_eq!((of(BUYER)["points"].as_u64(), of(PUBLISHER)["points"].as_u64()), (Some(1), Some(1)));
    let share = (budget / alloy::primitives::U256::from(10)).to_string();
    assert_eq!(
        (of(BUYER)["amount"].as_str(), of(PUBLISHER)["amount"].as_str()),
        (Some(share.as_str()), Some(share.as_str()))
    );
    assert_eq!(accounts.len(), 2, "{computed}");
    assert_one_line_error(
        &stack.agora(BUYER, &["dao", "rewards", "claim", "--epoch", &epoch]),
        "not funded yet",
    );

    // The DAO funds it: the proposal carries the recomputed root and total.
    stack.json(DEPLOYER, &["dao", "delegate"]);
    let proposed = stack.json(
        DEPLOYER,
        &[
            "dao",
            "propose",
            "--description",
            "Rewards for the first hour",
            "rewards-epoch",
            "--epoch",
            &epoch,
        ],
    );
    let id = proposed["proposalId"].as_str().unwrap().to_owned();
    stack.advance(2);
    stack.json(DEPLOYER, &["dao", "vote", &id, "for"]);
    stack.advance(VOTE_LASTS);
    stack.json(DEPLOYER, &["dao", "queue", &id]);
    stack.advance(2);
    stack.json(DEPLOYER, &["dao", "execute", &id]);

    let claimed = stack.json(BUYER, &["dao", "rewards", "claim", "--epoch", &epoch, "--json"]);
    assert_eq!(claimed["amount"], share.as_str());
    let reminded = stack.agora(PUBLISHER, &["dao", "rewards", "claim", "--epoch", &epoch]);
    assert!(String::from_utf8_lossy(&reminded.stdout).contains("agora dao delegate"), "{reminded:?}");
    assert_one_line_error(
        &stack.agora(BUYER, &["dao", "rewards", "claim", "--epoch", &epoch]),
        "already claimed",
    );
    assert_one_line_error(
        &stack.agora(IDLE, &["dao", "rewards", "claim", "--epoch", &epoch]),
        "earned nothing",
    );
    assert_one_line_error(
        &stack.agora(BUYER, &["dao", "rewards", "claim", "--epoch", &epoch, "--budget", "1"]),
        "pass the --budget",
    );

    // The buyer takes part with what it holds (the local preset's 5 M and its reward), without gas:
    // it signs a delegation and a vote on the next proposal; the idle account relays both.
    let path = |name: &str| stack.dir.path().join(name).to_string_lossy().into_owned();
    let delegation = path("buyer-delegation.json");
    stack.json(BUYER, &["dao", "delegate", "--sign-only", "--output", &delegation]);
    stack.json(IDLE, &["dao", "relay", &delegation]);
    let proposed = stack.json(DEPLOYER, &["dao", "propose", "--description", "Fee to 2%", "set-fee", "200"]);
    let next = proposed["proposalId"].as_str().unwrap().to_owned();
    stack.advance(2);
    let vote = path("buyer-vote.json");
    stack.json(BUYER, &["dao", "vote", &next, "for", "--sign-only", "--output", &vote]);
    let relayed = stack.json(IDLE, &["dao", "relay", &vote]);
    assert_eq!(address_of(&relayed["relayer"]), stack.address(IDLE));
    let held = alloy::primitives::U256::from(5_000_000u64)
        * alloy::primitives::U256::from(10u64).pow(alloy::primitives::U256::from(18))
        + share.parse::<alloy::primitives::U256>().unwrap();
    assert_eq!(stack.json(DEPLOYER, &["dao", "status", &next])["for"], held.to_string());
}
