//! The DAO and compute details of the API over a database synced from a real anvil: a
//! proposal's decoded actions (and an unknown target's calldata kept as it is), its quorum once
//! the snapshot passed, `/governance` after an executed fee change and released fees, a
//! provider's job counts and `/providers/{address}`, a job's inputs, a vote relayed by another
//! account than its voter; and a reorg that orphans a proposal removes its actions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use agora_api::{Client, Url};
use agora_contracts::{ComputeMarket, Marketplace, ballot, tx};
use agora_indexer::api::AppState;
use alloy::{
    primitives::{Address, Bytes, U256, keccak256},
    providers::ext::AnvilApi,
    sol_types::SolCall,
};
use common::{Actor, Chain, Db, Scenario, Server, count, dump, scenario, small_ranges, sync_to_head};
use serde_json::{Value, json};

fn lower(address: Address) -> String {
    format!("{address:#x}")
}

/// The API over `db`, as the sync left it.
async fn serve(chain: &Chain, db: &Db) -> Server {
    Server::start(AppState {
        pool: db.pool.clone(),
        chain_id: chain.deployment.chain_id,
        metrics: None,
        max_lag: 5,
        contracts: None,
        chain: None,
    })
    .await
}

/// A proposal's calls.
struct Calls {
    targets: Vec<Address>,
    values: Vec<U256>,
    calldatas: Vec<Bytes>,
    description: String,
}

impl Calls {
    fn new(description: &str, calls: Vec<(Address, Vec<u8>)>) -> Calls {
        let values = vec![U256::ZERO; calls.len()];
        let (targets, calldatas) =
            calls.into_iter().map(|(target, data)| (target, Bytes::from(data))).unzip();
        Calls { targets, values, calldatas, description: description.to_owned() }
    }
}

/// `proposer` proposes `calls`; returns the proposal id.
async fn propose(chain: &Chain, proposer: &Actor, calls: &Calls) -> U256 {
    let governor = chain.as_actor(proposer).governor;
    let id = tx::call(
        "hashProposal",
        governor.hashProposal(
            calls.targets.clone(),
            calls.values.clone(),
            calls.calldatas.clone(),
            keccak256(calls.description.as_bytes()),
        ),
    )
    .await
    .unwrap();
    let call = governor.propose(
        calls.targets.clone(),
        calls.values.clone(),
        calls.calldatas.clone(),
        calls.description.clone(),
    );
    tx::send("propose", call).await.unwrap();
    id
}

/// `voter` (who holds most votes) passes proposal `id` once its vote opened:
/// votes for it, waits out the vote, queues and executes it.
async fn pass(chain: &Chain, voter: &Actor, id: U256) {
    let governor = chain.as_actor(voter).governor;
    tx::send("castVote", governor.castVote(id, 1)).await.unwrap();
    chain.advance(chain.vote_lasts()).await;
    tx::send("queue", governor.queue_1(id)).await.unwrap();
    chain.advance(chain.params.timelock_min_delay + 1).await;
    tx::send("execute", governor.execute_1(id)).await.unwrap();
}

fn arg(action: &Value, name: &str) -> Value {
    let args = action["args"].as_array().unwrap();
    args.iter().find(|a| a["name"] == name).unwrap_or_else(|| panic!("no {name} in {action}"))["value"]
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dao_its_actions_quorums_treasury_and_the_compute_details_are_served() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let server = serve(&chain, &db).await;
    let c = chain.deployment.contracts;
    let params = &chain.params;

    // The scenario's proposal: its two actions decoded, its quorum read once the snapshot passed.
    let proposal = server.ok(&format!("/proposals/{}", s.proposal_id)).await;
    let actions = proposal["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2, "{proposal}");
    let (delist, rule) = (&actions[0], &actions[1]);
    assert_eq!(
        (&delist["target"], &delist["targetName"], &delist["function"], &delist["value"]),
        (&json!(lower(c.marketplace)), &json!("Marketplace"), &json!("delist"), &json!("0"))
    );
    assert_eq!(
        delist["args"],
        json!([
            { "name": "assetId", "value": s.algorithm.to_string() },
            { "name": "reasonCid", "value": "bafy-reason" },
        ])
    );
    let calldata =
        Marketplace::delistCall { assetId: s.algorithm, reasonCid: "bafy-reason".into() }.abi_encode();
    assert_eq!(delist["calldata"], format!("0x{}", alloy::hex::encode(calldata)));
    assert_eq!((&rule["targetName"], &rule["function"]), (&json!("ComputeMarket"), &json!("ruleDispute")));
    assert_eq!(arg(rule, "jobId"), s.job_id.to_string());
    assert_eq!(arg(rule, "providerAtFault"), "true");
    assert_eq!(arg(rule, "slash"), (params.min_stake / U256::from(4)).to_string());
    let vote_start: U256 = proposal["voteStart"].as_str().unwrap().parse().unwrap();
    let quorum = tx::call("quorum", chain.agora.governor.quorum(vote_start)).await.unwrap();
    assert!(quorum > U256::ZERO);
    assert_eq!(proposal["quorum"], quorum.to_string());
    let (created, queued, executed) =
        (proposal["createdAt"].as_i64(), proposal["queuedAt"].as_i64(), proposal["executedAt"].as_i64());
    assert!(created.is_some() && created <= queued && queued <= executed, "{proposal}");

    // The DAO as deployed: settings from the constructors' events, the fee from the manifest.
    let dao = server.ok("/governance").await;
    assert_eq!(
        (&dao["governor"], &dao["timelock"], &dao["token"]),
        (&json!(lower(c.governor)), &json!(lower(c.timelock)), &json!(lower(c.agora_token)))
    );
    assert_eq!(dao["protocolFeeBps"], params.marketplace_fee_bps);
    assert_eq!(dao["computeFeeBps"], params.compute_fee_bps);
    assert_eq!(dao["votingDelay"], params.voting_delay);
    assert_eq!(dao["votingPeriod"], params.voting_period);
    assert_eq!(dao["proposalThreshold"], params.proposal_threshold.to_string());
    assert_eq!(dao["quorumPercent"], params.quorum_percent);
    assert_eq!(dao["timelockDelay"], params.timelock_min_delay);
    assert_eq!((&dao["proposalsCount"], &dao["treasury"]), (&json!(1), &json!([])));

    // A second proposal lowers the fee and calls an address that is none of the protocol's with
    // calldata no ABI explains. Right after it is made its snapshot is still ahead: no quorum.
    let stranger = chain.actor(7).address;
    let fee = Calls::new(
        "Lower the fee to 1.5 %; ping a stranger",
        vec![
            (c.marketplace, Marketplace::setProtocolFeeCall { feeBps: 150 }.abi_encode()),
            (stranger, vec![0xde, 0xad, 0xbe, 0xef, 0x01, 0x02]),
        ],
    );
    let fee_id = propose(&chain, &s.voter, &fee).await;
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let pending = server.ok(&format!("/proposals/{fee_id}")).await;
    assert!(pending["quorum"].is_null(), "{pending}");
    assert!(pending["queuedAt"].is_null() && pending["executedAt"].is_null(), "{pending}");
    let actions = pending["actions"].as_array().unwrap();
    assert_eq!(actions[0]["function"], "setProtocolFee");
    assert_eq!(actions[0]["args"], json!([{ "name": "feeBps", "value": "150" }]));
    assert_eq!(
        actions[1],
        json!({
            "target": lower(stranger),
            "targetName": null,
            "value": "0",
            "calldata": "0xdeadbeef0102",
            "function": null,
            "args": [],
        })
    );
    // Once the snapshot time is behind the head's, the sync reads the quorum.
    chain.advance(params.voting_delay + 1).await;
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let snapshot: U256 = pending["voteStart"].as_str().unwrap().parse().unwrap();
    let quorum = tx::call("quorum", chain.agora.governor.quorum(snapshot)).await.unwrap();
    assert_eq!(server.ok(&format!("/proposals/{fee_id}")).await["quorum"], quorum.to_string());
    assert_eq!(count(&db.pool, "SELECT count(*) FROM proposals WHERE quorum IS NULL").await, 0);

    // Account 3 abstains by signature, which the stranger relays (and pays for); then the vote
    // passes, and anyone pays the accrued fees out to the treasury.
    let signed = ballot::sign_vote(&chain.actor(3).signer, &chain.agora, fee_id, 2).await.unwrap();
    ballot::relay(&chain.as_actor(&chain.actor(7)), &signed).await.unwrap();
    pass(&chain, &s.voter, fee_id).await;
    let sales = tx::call("accruedFees", chain.agora.splitter.accruedFees(Address::ZERO)).await.unwrap();
    let compute =
        tx::call("accruedFees", chain.agora.compute_market.accruedFees(Address::ZERO)).await.unwrap();
    assert!(sales > U256::ZERO && compute > U256::ZERO);
    tx::send("releaseFees", chain.agora.splitter.releaseFees(Address::ZERO)).await.unwrap();
    tx::send("releaseFees", chain.agora.compute_market.releaseFees(Address::ZERO)).await.unwrap();
    sync_to_head(&chain, &db.pool, small_ranges(8)).await;
    let dao = server.ok("/governance").await;
    assert_eq!(dao["protocolFeeBps"], 150);
    assert_eq!(dao["proposalsCount"], 2);
    assert_eq!(
        dao["treasury"],
        json!([{
            "currency": lower(Address::ZERO),
            "amount": (sales + compute).to_string(),
            "fromSales": sales.to_string(),
            "fromCompute": compute.to_string(),
        }])
    );
    let executed = server.ok(&format!("/proposals/{fee_id}")).await;
    assert_eq!(executed["status"], "executed");
    let votes = executed["votes"].as_array().unwrap();
    let vote_of = |voter: Address| votes.iter().find(|v| v["voter"] == lower(voter)).unwrap();
    let (relayed, direct) = (vote_of(chain.actor(3).address), vote_of(s.voter.address));
    assert_eq!((&relayed["support"], &relayed["relayer"]), (&json!(2), &json!(lower(stranger))), "{relayed}");
    assert_eq!((&direct["support"], &direct["relayer"]), (&json!(1), &Value::Null), "{direct}");
    assert!(executed["executedAt"].as_i64() >= executed["queuedAt"].as_i64(), "{executed}");

    // The same through the typed client.
    let client = Client::new(Url::parse(&server.base).unwrap());
    let governance = client.governance().await.unwrap();
    assert_eq!((governance.protocol_fee_bps, governance.treasury.len()), (Some(150), 1));
    let typed = client.proposal(&fee_id.to_string()).await.unwrap();
    assert_eq!(typed.actions[0].function.as_deref(), Some("setProtocolFee"));
    assert_eq!(typed.actions[1].target_name, None);
    assert_eq!(typed.proposal.quorum, Some(quorum.to_string()));

    compute_details(&server, &client, &s).await;

    // A database indexed before these rows existed gets them from its raw events, once, when
    // the indexer next connects to it.
    let before = dump(&db.pool).await;
    sqlx::raw_sql(
        "DELETE FROM proposal_actions; DELETE FROM governance_settings; DELETE FROM fee_releases;
         UPDATE proposals SET queued_block = NULL, executed_block = NULL;
         INSERT INTO pending_backfills (name) VALUES ('governance_details');",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    assert_ne!(dump(&db.pool).await, before);
    let reconnected = agora_indexer::db::connect(&db.url, 2).await.unwrap();
    assert_eq!(dump(&reconnected).await, before);
    assert_eq!(count(&reconnected, "SELECT count(*) FROM pending_backfills").await, 0);
}

/// The provider's job counts and its route; a job's inputs and times.
async fn compute_details(server: &Server, client: &Client, s: &Scenario) {
    // The scenario's provider ran three jobs: one finalized, one refunded, one disputed and ruled
    // against it.
    let provider = server.ok(&format!("/providers/{}", s.provider.address)).await;
    assert_eq!(provider["provider"], lower(s.provider.address));
    assert_eq!(
        [
            &provider["jobsCount"],
            &provider["finalizedCount"],
            &provider["disputedCount"],
            &provider["ruledAgainstCount"]
        ],
        [&json!(3), &json!(1), &json!(1), &json!(1)]
    );
    let listed = server.ok("/providers").await;
    assert_eq!(listed["items"][0], provider);
    let typed = client.provider(&lower(s.provider.address)).await.unwrap();
    assert_eq!((typed.jobs_count, typed.ruled_against_count), (3, 1));
    let (status, body) = server.get(&format!("/providers/{}", s.buyer.address)).await;
    assert_eq!(status, 404, "{body}");
    assert!(client.provider(&lower(s.buyer.address)).await.unwrap_err().is_not_found());
    server.bad("/providers/0x12", "address").await;
    server.bad("/providers/nobody", "address").await;

    // A job's inputs: the dataset with the order spent on it, the free algorithm with none.
    let job = server.ok(&format!("/jobs/{}", s.job_id)).await;
    assert_eq!(
        job["inputs"],
        json!([
            { "assetId": s.dataset.to_string(), "role": "dataset", "orderId": job["orderId"] },
            { "assetId": s.algorithm.to_string(), "role": "algorithm", "orderId": null },
        ])
    );
    let (opened, updated) = (job["openedAt"].as_i64(), job["updatedAt"].as_i64());
    assert!(opened.is_some() && opened <= updated, "{job}");
    let jobs = server.ok("/jobs").await;
    assert!(jobs["items"].as_array().unwrap().iter().all(|j| j["inputs"].as_array().unwrap().len() == 2));
    let typed = client.job(&s.finalized_job.to_string()).await.unwrap();
    assert_eq!(typed.inputs[0].order_id.as_deref(), Some(typed.order_id.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_orphans_a_proposal_removes_its_actions() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let config = small_ranges(64);
    sync_to_head(&chain, &db.pool, config.clone()).await;

    // A branch with a proposal (the threshold is 0: anyone proposes), indexed with its actions
    // and, once its snapshot passed, its quorum...
    let snapshot = chain.provider().anvil_snapshot().await.unwrap();
    let c = chain.deployment.contracts;
    let calls = Calls::new(
        "Rule job 1: provider not at fault",
        vec![
            (
                c.compute_market,
                ComputeMarket::ruleDisputeCall { jobId: U256::from(1), providerAtFault: false, slash: 0 }
                    .abi_encode(),
            ),
            (c.marketplace, Marketplace::setProtocolFeeCall { feeBps: 100 }.abi_encode()),
        ],
    );
    let id = propose(&chain, &chain.actor(1), &calls).await;
    chain.advance(chain.params.voting_delay + 1).await;
    sync_to_head(&chain, &db.pool, config.clone()).await;
    let server = serve(&chain, &db).await;
    let proposal = server.ok(&format!("/proposals/{id}")).await;
    assert_eq!(proposal["actions"].as_array().unwrap().len(), 2, "{proposal}");
    assert!(proposal["quorum"].is_string(), "{proposal}");
    assert_eq!(count(&db.pool, "SELECT count(*) FROM proposal_actions").await, 2);

    // ...then replaced by a longer branch without it.
    assert!(chain.provider().anvil_revert(snapshot).await.unwrap());
    chain.mine(5).await;
    sync_to_head(&chain, &db.pool, config.clone()).await;
    assert_eq!(server.get(&format!("/proposals/{id}")).await.0, 404);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM proposal_actions").await, 0);
    assert_eq!(count(&db.pool, "SELECT count(*) FROM proposals").await, 0);
    assert_eq!(server.ok("/governance").await["proposalsCount"], 0);
    let fresh = db.another().await;
    sync_to_head(&chain, &fresh, config).await;
    assert_eq!(dump(&db.pool).await, dump(&fresh).await);
}
