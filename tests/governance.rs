//! Journey 2: a DAO member changes the marketplace fee. Delegate, propose, vote, queue and
//! execute with `agora dao`; the indexer shows the proposal's whole life (created, its votes,
//! queued with an eta, executed); the purchase before pays the old fee, the next purchase pays
//! the new one, and the fees accrued in the splitter are released to the Timelock's treasury.

use agora_contracts::revenue_splitter::RevenueSplitter;
use agora_e2e::*;
use alloy::{
    primitives::{Address, U256},
    providers::{Provider, ProviderBuilder},
};
use serde_json::{Value, json};

const PUBLISHER: usize = 1;
const BUYER: usize = 2;

fn balance(chain: &Chain, who: Address) -> U256 {
    let provider = ProviderBuilder::new().connect_http(chain.anvil.endpoint_url());
    block_on(provider.get_balance(who)).unwrap_or_else(|err| panic!("balance: {err}"))
}

/// ETH fees the splitter holds for the treasury.
fn accrued_fees(chain: &Chain) -> U256 {
    let provider = ProviderBuilder::new().connect_http(chain.anvil.endpoint_url());
    let splitter = RevenueSplitter::new(chain.manifest().contracts.revenue_splitter, provider);
    block_on(splitter.accruedFees(Address::ZERO).call()).unwrap_or_else(|err| panic!("accruedFees: {err}"))
}

fn amount(value: &Value) -> U256 {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not an amount: {value}"))
}

/// Buys one access token of asset 1 and returns (paid, fee) as the CLI reports them, checking that
/// the splitter accrued the fee.
fn buy(chain: &Chain) -> (U256, U256) {
    let before = accrued_fees(chain);
    let bought = chain.json(BUYER, &["asset", "buy", "1"]);
    let (paid, fee) = (amount(&bought["paid"]), amount(&bought["fee"]));
    assert_eq!(accrued_fees(chain) - before, fee, "the splitter accrued the fee");
    (paid, fee)
}

#[test]
fn a_fee_change_lives_through_the_dao_and_the_next_purchase_pays_it() {
    let (postgres, kubo) = services();
    let mut chain = Chain::deployed();
    chain.ipfs_api = Some(kubo.api_url());
    let treasury = chain.manifest().contracts.timelock;
    let mut indexer = indexer(&chain, &postgres, &kubo);

    let file = chain.write_file("finches.csv", 4096);
    chain.json(PUBLISHER, &["asset", "publish", &file, "--kind", "dataset", "--price", "0.01"]);
    let (paid, fee) = buy(&chain);
    assert_eq!(fee, paid * U256::from(250) / U256::from(10_000), "the deployed fee is 2.5%");

    // Account 0 holds the governance token; its votes count once delegated.
    let delegated = chain.json(0, &["dao", "delegate"]);
    let votes = delegated["votes"].as_str().unwrap_or_default().to_owned();
    assert_ne!(votes, "0", "{delegated}");
    let proposed = chain.json(0, &["dao", "propose", "--description", "Fee to 1.5%", "set-fee", "150"]);
    let id = proposed["proposalId"].as_str().unwrap_or_else(|| panic!("{proposed}")).to_owned();
    let path = format!("/proposals/{id}");
    indexer.synced(&chain);
    let seen = indexer.get(&path);
    // The CLI ends the description with OpenZeppelin's front-running guard.
    let suffix = format!("Fee to 1.5%\n\n#proposer={}", chain.address(0).to_string().to_lowercase());
    assert_eq!((seen["status"].clone(), seen["description"].clone()), (json!("created"), json!(suffix)));
    assert_eq!(seen["votes"], json!([]));

    // The governor's clock is the block timestamp: the local preset opens the vote a second after.
    chain.rpc("evm_increaseTime", json!([2]));
    chain.rpc("anvil_mine", json!([1]));
    chain.json(0, &["dao", "vote", &id, "for"]);
    indexer.synced(&chain);
    let seen = indexer.get(&path);
    assert_eq!(seen["votesFor"], json!(votes));
    assert_eq!(seen["votes"][0]["voter"], json!(chain.address(0).to_string().to_lowercase()), "{seen}");
    assert_eq!(seen["votes"][0]["support"], 1, "{seen}");

    chain.rpc("evm_increaseTime", json!([301]));
    chain.rpc("anvil_mine", json!([1]));
    assert_eq!(chain.json(0, &["dao", "status", &id])["state"], "succeeded");
    chain.json(0, &["dao", "queue", &id]);
    indexer.synced(&chain);
    let seen = indexer.get(&path);
    assert_eq!(seen["status"], "queued");
    assert!(seen["eta"].as_str().is_some_and(|eta| eta != "0"), "{seen}");

    chain.rpc("evm_increaseTime", json!([2]));
    chain.rpc("anvil_mine", json!([1]));
    chain.json(0, &["dao", "execute", &id]);
    indexer.synced(&chain);
    assert_eq!(indexer.get(&path)["status"], "executed");
    let listed = indexer.get("/proposals?status=executed");
    assert_eq!(listed["items"][0]["proposalId"], json!(id), "{listed}");

    // The next purchase pays 1.5%, and the indexer records both fees.
    let (paid_after, fee_after) = buy(&chain);
    assert_eq!(fee_after, paid_after * U256::from(150) / U256::from(10_000));
    indexer.synced(&chain);
    let sales = indexer.get("/assets/1")["sales"].clone();
    let fees: Vec<U256> =
        sales.as_array().map(|s| s.iter().map(|s| amount(&s["fee"])).collect()).unwrap_or_default();
    assert_eq!(fees, vec![fee_after, fee], "newest first: {sales}");

    // Anyone releases the accrued fees; they land in the treasury.
    let before = balance(&chain, treasury);
    let signer: alloy::signers::local::PrivateKeySigner =
        chain.key(BUYER).parse().unwrap_or_else(|err| panic!("{err}"));
    let provider = agora_contracts::signing_provider(chain.anvil.endpoint_url(), signer);
    let splitter = RevenueSplitter::new(chain.manifest().contracts.revenue_splitter, provider);
    block_on(agora_contracts::tx::send("releaseFees", splitter.releaseFees(Address::ZERO)))
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(balance(&chain, treasury) - before, fee + fee_after);

    // Executed is final.
    assert_one_line_error(&chain.run(0, &["dao", "execute", &id]), "is executed");
}
