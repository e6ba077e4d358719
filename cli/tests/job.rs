//! The built `agora` binary running compute jobs end to end against a real anvil with the
//! protocol deployed, a real Kubo and the real provider (`agora provider run`) with
//! all-MiniLM-L6-v2: an operator registers and runs a provider; a consumer buys dataset access,
//! submits an `embed` job, fetches the result with its receipt and output, and `job verify`
//! reproduces it bit for bit; a job that fails at the provider is refunded after its deadline; a
//! tampered result is caught by `job verify --dispute` and disputed on chain; a provider paid in an
//! ERC-20 is approved and paid from escrow; an `algorithm` job runs a published WebAssembly
//! module and `job verify` reproduces it. Bad input ends in a one-line error and exit code 1.

mod common;

use common::*;
use std::process::Stdio;

use agora_contracts::{ComputeMarket, compute_market::IComputeMarket, mocks::MockStablecoin, tx};
use agora_deploy::services::model::MINILM_FILES;
use alloy::{
    primitives::{Address, B256, U256},
    providers::{Provider, ProviderBuilder, ext::AnvilApi},
};
use serde_json::json;

/// anvil's accounts.
const PUBLISHER: usize = 1;
const CONSUMER: usize = 2;
const OPERATOR: usize = 3;
/// A provider that posts a made-up result.
const CHEAT: usize = 4;

const SENTENCES: &str = "{\"text\":\"A man is eating food.\"}\n\
{\"text\":\"A man is riding a horse.\"}\n\
{\"text\":\"The new movie is awesome.\"}\n\
{\"text\":\"Two dogs play in the snow.\"}\n";

/// The steps of a compute job, on the shared [`Stack`] (run with Kubo).
impl Stack {
    /// Publishes the sentences as a dataset sold in the clear (`--public`, so any buyer can
    /// re-execute a job over it) and MiniLM (a manifest of its public files) as a free model, as
    /// the publisher; their asset ids.
    fn publish_inputs(&self) -> (String, String) {
        let dataset = self.write("sentences.jsonl", SENTENCES.as_bytes());
        let args = ["asset", "publish", &dataset, "--kind", "dataset", "--price", "0.001", "--public"];
        let dataset = self.json(PUBLISHER, &args)["assetId"].as_str().unwrap_or_default().to_owned();
        (dataset, self.publish_minilm(PUBLISHER, "0"))
    }

    /// Rules a dispute as the DAO's timelock (impersonated: the governance flow itself is
    /// tested in dao.rs).
    fn rule_dispute(&self, id: u64, provider_at_fault: bool) {
        let agora = self.contracts_as(0);
        let timelock = agora.deployment.contracts.timelock;
        let provider = ProviderBuilder::new().connect_http(self.chain.endpoint_url());
        self.block_on(async move {
            provider.anvil_impersonate_account(timelock).await.unwrap_or_else(|err| panic!("{err}"));
            let ether = U256::from(10u64).pow(U256::from(18));
            provider.anvil_set_balance(timelock, ether).await.unwrap_or_else(|err| panic!("{err}"));
            let market = ComputeMarket::new(agora.deployment.contracts.compute_market, provider.erased());
            let rule = market.ruleDispute(U256::from(id), provider_at_fault, 0).from(timelock);
            tx::send("ruleDispute", rule).await.unwrap_or_else(|err| panic!("{err}"));
        });
    }

    fn job_on_chain(&self, id: u64) -> IComputeMarket::Job {
        let agora = self.contracts_as(0);
        self.block_on(async move {
            tx::call("getJob", agora.compute_market.getJob(U256::from(id)))
                .await
                .unwrap_or_else(|err| panic!("{err}"))
        })
    }
}

/// `job submit` of `spec` over `dataset` with `model` to `provider`, then `extra`.
fn submit_args<'a>(
    dataset: &'a str,
    model: &'a str,
    provider: &'a str,
    spec: &'a str,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["job", "submit", "--dataset", dataset, "--model", model, "--provider", provider];
    args.extend_from_slice(&["--spec", spec]);
    args.extend_from_slice(extra);
    args
}

#[test]
fn a_consumer_submits_an_embed_job_gets_a_verified_result_and_is_refunded_or_disputes_otherwise() {
    let stack = Stack::with_kubo();
    let (dataset, model) = stack.publish_inputs();
    let (url, _service) = stack.run_provider(OPERATOR);
    let operator = stack.address(OPERATOR).to_string();
    stack.json(CONSUMER, &["asset", "buy", &dataset, "--amount", "4"]);

    // Submit: spec to IPFS, payment escrowed, the signed request accepted by the provider.
    let submit = |spec: &str, deadline: &str| {
        stack.json(CONSUMER, &submit_args(&dataset, &model, &operator, spec, &["--deadline-secs", deadline]))
    };
    // A spec the provider would refuse costs nothing: refused before any transaction.
    let refused = stack.agora(
        CONSUMER,
        &submit_args(&dataset, &model, &operator, r#"{"kind":"embed","batch_size":0}"#, &[]),
    );
    assert_one_line_error(
        &refused,
        "would refuse this spec: invalid job spec: batch_size must be at least 1",
    );
    let refused = stack.agora(
        CONSUMER,
        &submit_args(&dataset, &model, &operator, r#"{"kind":"embed","batch_size":5000}"#, &[]),
    );
    assert_one_line_error(&refused, "batch size is 5000, the limit is 1024");
    let submitted = submit(r#"{"kind":"embed","batch_size":2}"#, "3600");
    let job = submitted["jobId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(job, "1", "the refused specs opened no job");
    assert_eq!(submitted["payment"], "50000000000000000");
    assert_eq!(submitted["status"], "queued");

    // Result: the receipt recovers to the provider and matches the chain; the output fetched
    // from IPFS hashes to the posted output hash.
    let result = stack.json(CONSUMER, &["job", "result", &job, "--wait", "180", "--output", "out"]);
    let posted = stack.job_on_chain(1);
    assert_eq!(result["outputHash"], posted.outputHash.to_string());
    assert_eq!(address_of(&result["receiptSigner"]), stack.address(OPERATOR));
    assert!(
        result["files"].as_array().is_some_and(|f| f.iter().any(|n| n == "embeddings.safetensors")),
        "{result}"
    );
    assert!(stack.dir.path().join("out/embeddings.safetensors").is_file());
    assert_one_line_error(
        &stack.agora(CONSUMER, &["job", "result", &job, "--output", "out"]),
        "--output out is not empty",
    );
    let status = stack.json(CONSUMER, &["job", "status", &job]);
    assert_eq!(status["status"], "result posted");
    assert_eq!(status["service"]["status"], "succeeded");

    // Verify: the same job re-executed here gives the same bits.
    let verified = stack.json(CONSUMER, &["job", "verify", &job]);
    assert_eq!(verified["match"], true, "{verified}");
    assert_eq!(verified["recomputedOutputHash"], posted.outputHash.to_string());
    assert!(verified["receipt"].as_str().is_some_and(|r| r.starts_with("checked")), "{verified}");
    // For people: tables.
    let table = stdout(&stack.agora(CONSUMER, &["job", "verify", &job]));
    assert!(table.starts_with("match: job 1 re-executed locally"), "{table}");
    let table = stdout(&stack.agora(CONSUMER, &["job", "status", &job]));
    assert!(table.contains("result posted") && table.contains("succeeded"), "{table}");

    // A job the runtime rejects posts nothing: no result, and the provider declines it on chain,
    // so the consumer is refunded at once rather than at the deadline.
    let failing = submit(r#"{"kind":"embed","text_field":"body"}"#, "600");
    let failing = failing["jobId"].as_str().unwrap_or_default().to_owned();
    assert_one_line_error(
        &stack.agora(CONSUMER, &["job", "result", &failing, "--wait", "120"]),
        &format!("job {failing} has no result: it is failed"),
    );
    let status = stack.json(CONSUMER, &["job", "status", &failing]);
    assert_eq!(status["status"], "refunded", "{status}");
    assert!(
        status["service"]["reason"].as_str().is_some_and(|r| r.contains("declined on chain")),
        "{status}"
    );
    assert_one_line_error(
        &stack.agora(CONSUMER, &["job", "refund", &failing]),
        &format!("job {failing} is refunded: not in a state that allows this"),
    );
    assert_one_line_error(
        &stack.agora(CONSUMER, &["job", "dispute", &failing, "--reason", "late"]),
        "only a posted result can be disputed",
    );

    // A provider that is down, or is not the one named, gets no money: nothing is opened.
    let cheat = stack.address(CHEAT).to_string();
    stack.json(CHEAT, &["provider", "register", "--endpoint", "http://127.0.0.1:9", "--price", "0.05"]);
    let to_cheat = |extra: &[&str]| {
        stack.agora(CONSUMER, &submit_args(&dataset, &model, &cheat, r#"{"kind":"embed"}"#, extra))
    };
    assert_one_line_error(&to_cheat(&[]), "provider http://127.0.0.1:9/ is unreachable");
    assert_one_line_error(
        &to_cheat(&["--provider-url", &url]),
        &format!("wrong provider: the service at {url}/ is {operator}, not {cheat}"),
    );
    assert_one_line_error(&stack.agora(CONSUMER, &["job", "status", "3"]), "unknown job 3");

    // A made-up result: opened and posted by hand, caught by re-execution and disputed.
    let spec = stack.write("spec.json", br#"{"version":1,"job":{"kind":"embed","batch_size":2}}"#);
    let spec_cid = stack.ipfs_add(std::path::Path::new(&spec));
    let (consumer, cheater) = (stack.contracts_as(CONSUMER), stack.contracts_as(CHEAT));
    let chain_time = stack.block_on(async {
        let block = consumer.provider().get_block_by_number(Default::default()).await;
        block.ok().flatten().map(|b| b.header.timestamp).unwrap_or_default()
    });
    let params = IComputeMarket::OpenJobParams {
        datasetId: dataset.parse().unwrap_or_default(),
        algorithmId: model.parse().unwrap_or_default(),
        provider: stack.address(CHEAT),
        specCid: spec_cid,
        currency: Address::ZERO,
        maxPayment: U256::from(50_000_000_000_000_000u64),
        deadline: chain_time + 3600,
    };
    stack.block_on(async {
        let open = consumer.compute_market.openJob(params).value(U256::from(50_000_000_000_000_000u64));
        tx::send("openJob", open).await.unwrap_or_else(|err| panic!("{err}"));
        let post =
            cheater.compute_market.postResult(U256::from(3), "bafkreifake".into(), B256::repeat_byte(7));
        tx::send("postResult", post).await.unwrap_or_else(|err| panic!("{err}"));
    });
    let caught = run(stack.agora_with_key(&stack.key(CONSUMER)).args(["--json", "job", "verify", "3"]));
    assert_one_line_error(&caught, "mismatch: job 3 posted 0x0707");
    let disputed = stack.json(CONSUMER, &["job", "verify", "3", "--dispute"]);
    assert_eq!(disputed["match"], false, "{disputed}");
    assert_eq!(disputed["disputed"], true);
    assert!(disputed["receipt"].as_str().is_some_and(|r| r.starts_with("not checked")), "{disputed}");
    assert_eq!(stack.job_on_chain(3).status, 3, "the job is disputed on chain");
    assert_eq!(stack.json(CONSUMER, &["job", "status", "3"])["status"], "disputed");

    // Ruled for the provider (by the DAO's timelock, impersonated here): its payout is credited,
    // and `provider withdraw` claims it.
    let cheat_status = stack.json(CHEAT, &["provider", "status"]);
    assert_eq!(cheat_status["claimable"][0]["amount"], "0");
    stack.rule_dispute(3, false);
    let credited = stack.json(CHEAT, &["provider", "status"])["claimable"][0]["amount"].clone();
    let credited = credited.as_str().unwrap_or_default().to_owned();
    assert_eq!(
        credited,
        (50_000_000_000_000_000u64 / 10_000 * 9_750).to_string(),
        "the payout less the 2.5% fee"
    );
    let claimed = stack.json(CHEAT, &["provider", "withdraw"]);
    assert_eq!(claimed[0]["action"], "claim");
    assert_eq!(claimed[0]["amount"], credited.as_str());
    assert_one_line_error(&stack.agora(CHEAT, &["provider", "withdraw"]), "nothing to withdraw");

    // An ERC-20 price: the consumer approves the market for the price, then opens the job.
    let usd = stack.stablecoin(0, stack.address(CONSUMER), 10_000_000);
    let usd = MockStablecoin::new(usd, stack.contracts_as(0).provider().clone());
    stack.block_on(async {
        let operator = stack.contracts_as(OPERATOR);
        let reprice = operator.compute_market.updateProvider(format!("{url}/"), *usd.address(), 2_500_000);
        tx::send("updateProvider", reprice).await.unwrap_or_else(|err| panic!("{err}"));
    });
    let paid = submit(r#"{"kind":"embed"}"#, "3600");
    assert_eq!(paid["jobId"], "4");
    assert_eq!(paid["payment"], "2500000");
    assert_eq!(address_of(&paid["currency"]), *usd.address());
    let balance = stack.block_on(async { usd.balanceOf(stack.address(CONSUMER)).call().await });
    assert_eq!(balance.unwrap_or_else(|err| panic!("{err}")), U256::from(7_500_000));
    let result = stack.json(CONSUMER, &["job", "result", "4", "--wait", "180"]);
    assert_eq!(result["outputHash"], stack.job_on_chain(4).outputHash.to_string());

    // A job never sent to its provider: refunded once its deadline passed, by anyone.
    let unsent = IComputeMarket::OpenJobParams {
        datasetId: dataset.parse().unwrap_or_default(),
        algorithmId: model.parse().unwrap_or_default(),
        provider: stack.address(OPERATOR),
        specCid: "bafkreiunsent".into(),
        currency: *usd.address(),
        maxPayment: U256::from(2_500_000),
        deadline: stack.job_on_chain(4).deadline,
    };
    stack.json(CONSUMER, &["asset", "buy", &dataset]);
    stack.block_on(async {
        let consumer = stack.contracts_as(CONSUMER);
        let usd = MockStablecoin::new(*usd.address(), consumer.provider().clone());
        let approve = usd.approve(*consumer.compute_market.address(), U256::from(2_500_000));
        tx::send("approve", approve).await.unwrap_or_else(|err| panic!("{err}"));
        tx::send("openJob", consumer.compute_market.openJob(unsent))
            .await
            .unwrap_or_else(|err| panic!("{err}"));
    });
    assert_one_line_error(&stack.agora(CONSUMER, &["job", "refund", "5"]), "has not passed");
    stack.advance(3601);
    let refunded = stack.json(OPERATOR, &["job", "refund", "5"]);
    assert_eq!(refunded["amount"], "2500000");
    assert_eq!(address_of(&refunded["consumer"]), stack.address(CONSUMER));
}

#[test]
fn a_job_over_a_private_compute_only_dataset_and_a_private_model_runs_only_where_the_keys_are() {
    let stack = Stack::with_kubo();
    // The provider registers first, so publishing with the defaults wraps both keys for it.
    let (url, _service) = stack.run_provider(OPERATOR);
    let operator = stack.address(OPERATOR).to_string();
    let dataset = stack.write("sentences.jsonl", SENTENCES.as_bytes());
    let args = ["asset", "publish", &dataset, "--kind", "dataset", "--price", "0.001", "--compute-only"];
    let dataset = stack.json(PUBLISHER, &args);
    assert_eq!(dataset["encrypted"], true);
    let dataset = dataset["assetId"].as_str().unwrap_or_default().to_owned();
    let folder = stack.path("minilm");
    std::fs::create_dir(&folder).unwrap_or_else(|err| panic!("{err}"));
    for name in MINILM_FILES {
        let from = model_dir().join(name);
        if from.is_file() {
            std::fs::hard_link(&from, folder.join(name))
                .or_else(|_| std::fs::copy(&from, folder.join(name)).map(drop))
                .unwrap_or_else(|err| panic!("{err}"));
        }
    }
    let folder = folder.to_string_lossy().into_owned();
    let model = stack.json(PUBLISHER, &["asset", "publish", &folder, "--kind", "model", "--price", "0.05"]);
    assert_eq!(model["encrypted"], true);
    let model = model["assetId"].as_str().unwrap_or_default().to_owned();
    stack.json(CONSUMER, &["asset", "buy", &dataset, "--amount", "2"]);

    // A registered provider without the keys is refused before any money moves, naming who holds them.
    let cheat = stack.address(CHEAT).to_string();
    stack.json(CHEAT, &["provider", "register", "--endpoint", &url, "--price", "0.05"]);
    let spec = r#"{"kind":"embed","batch_size":2}"#;
    let balance = || {
        stack.block_on(async { stack.contracts_as(0).provider().get_balance(stack.address(CONSUMER)).await })
    };
    let before = balance().unwrap_or_else(|err| panic!("{err}"));
    let refused = stack.agora(CONSUMER, &submit_args(&dataset, &model, &cheat, spec, &[]));
    assert_one_line_error(
        &refused,
        &format!("asset {dataset} is encrypted and provider {cheat} holds no key for it"),
    );
    assert!(stderr(&refused).contains(&operator), "the holder is named: {}", stderr(&refused));
    assert_eq!(balance().unwrap_or_else(|err| panic!("{err}")), before, "nothing was spent");

    // On the provider that holds both keys the job runs; only its output leaves.
    let submitted = stack.json(CONSUMER, &submit_args(&dataset, &model, &operator, spec, &[]));
    let job = submitted["jobId"].as_str().unwrap_or_default().to_owned();
    let result = stack.json(CONSUMER, &["job", "result", &job, "--wait", "180", "--output", "private-out"]);
    let posted = stack.job_on_chain(job.parse().unwrap_or_default());
    assert_eq!(result["outputHash"], posted.outputHash.to_string());
    let files = result["files"].as_array().cloned().unwrap_or_default();
    assert_eq!(files, [json!("embeddings.safetensors"), json!("manifest.json")], "{result}");
    for file in ["embeddings.safetensors", "manifest.json"] {
        let bytes = std::fs::read(stack.path("private-out").join(file)).unwrap_or_else(|err| panic!("{err}"));
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("eating food") && !text.contains("riding a horse"),
            "{file} holds the dataset's text"
        );
    }

    // The consumer cannot re-execute (it holds neither plaintext nor key) and is told why; the
    // owner re-executes with its own key copies and gets the same bits.
    assert_one_line_error(
        &stack.agora(CONSUMER, &["job", "verify", &job]),
        &format!("dataset asset {dataset} is private"),
    );
    let verified = stack.json(PUBLISHER, &["job", "verify", &job]);
    assert_eq!(verified["match"], true, "{verified}");
    assert_eq!(verified["recomputedOutputHash"], posted.outputHash.to_string());

    // A compute-only asset is never downloaded, not even through the provider holding its key.
    assert_one_line_error(
        &stack.agora(CONSUMER, &["asset", "download", &dataset, "--provider", &url]),
        "is compute-only: its content never leaves a provider",
    );
}

#[test]
fn bad_job_input_gets_one_line_errors() {
    let stack = Stack::with_kubo();
    let provider = stack.address(OPERATOR).to_string();
    let submit = |spec: &str| stack.agora(CONSUMER, &submit_args("1", "2", &provider, spec, &[]));
    assert_one_line_error(&submit(r#"{"kind":"dance"}"#), "invalid --spec");
    assert_one_line_error(&submit("{not json"), "--spec is neither a file nor JSON");
    assert_one_line_error(&submit(r#"{"kind":"embed"}"#), "is not a registered provider");
    assert_one_line_error(&stack.agora(CONSUMER, &["job", "status", "999"]), "unknown job 999");
    assert_one_line_error(&stack.agora(CONSUMER, &["job", "result", "999"]), "unknown job 999");
    assert_one_line_error(&stack.agora(CONSUMER, &["job", "verify", "999"]), "unknown job 999");
    assert_one_line_error(&stack.agora(CONSUMER, &["job", "refund", "999"]), "unknown job 999");

    // A keystore without its password (no terminal to prompt on).
    std::fs::write(stack.dir.path().join("password"), "correct horse\n")
        .unwrap_or_else(|err| panic!("{err}"));
    let created =
        stack.agora(CONSUMER, &["wallet", "new", "--name", "consumer", "--password-file", "password"]);
    assert!(created.status.success(), "{}", stderr(&created));
    let args = ["job", "refund", "1", "--keystore", "consumer"];
    assert_one_line_error(
        &run(stack.agora_with_key("").args(args).stdin(Stdio::null())),
        "pass --password-file",
    );
}

/// A priced model is paid for by every job that uses it: `job submit` buys the dataset's and the
/// model's access tokens and opens the job in one transaction, each owner's split receives its
/// price exactly, and a job opened without the model's token is refused before any escrow.
#[test]
fn a_job_pays_the_owner_of_every_priced_input() {
    let stack = Stack::with_kubo();
    let (_url, _service) = stack.run_provider(OPERATOR);
    let operator = stack.address(OPERATOR).to_string();
    let dataset = stack.write("sentences.jsonl", SENTENCES.as_bytes());
    let args = ["asset", "publish", &dataset, "--kind", "dataset", "--price", "0.001", "--public"];
    let dataset = stack.json(PUBLISHER, &args)["assetId"].as_str().unwrap_or_default().to_owned();
    let model = stack.publish_minilm(PUBLISHER, "0.02");
    let agora = stack.contracts_as(CONSUMER);
    let (dataset_id, model_id) = (dataset.parse::<U256>().unwrap(), model.parse::<U256>().unwrap());
    let received = |asset: U256| {
        let splitter = agora.splitter.clone();
        stack.block_on(async move {
            tx::call("totalReceived", splitter.totalReceived(asset, Address::ZERO))
                .await
                .unwrap_or_else(|err| panic!("{err}"))
        })
    };
    let jobs = || {
        let market = agora.compute_market.clone();
        stack.block_on(async move {
            tx::call("totalJobs", market.totalJobs()).await.unwrap_or_else(|e| panic!("{e}"))
        })
    };

    // Over budget: refused before anything is bought or escrowed.
    let spec = r#"{"kind":"embed","batch_size":2}"#;
    let mut args = vec!["--json"];
    args.extend(submit_args(&dataset, &model, &operator, spec, &["--max-total", "0.06"]));
    let over = stack.agora(CONSUMER, &args);
    assert_one_line_error(&over, "more than --max-total");
    assert_eq!(jobs(), U256::ZERO);
    assert_eq!((received(dataset_id), received(model_id)), (U256::ZERO, U256::ZERO));

    // Holding the dataset's token but not the model's: the market refuses the job itself.
    stack.json(CONSUMER, &["asset", "buy", &dataset]);
    let refused = stack.block_on(async {
        let params = IComputeMarket::OpenJobParams {
            datasetId: dataset_id,
            algorithmId: model_id,
            provider: stack.address(OPERATOR),
            specCid: "bafkreinomodeltoken".into(),
            currency: Address::ZERO,
            maxPayment: U256::MAX,
            deadline: u64::MAX / 2,
        };
        let price = U256::from(50_000_000_000_000_000u64);
        tx::send("openJob", agora.compute_market.openJob(params).value(price)).await
    });
    let err = refused.expect_err("a job without the model's token opened").to_string();
    assert!(err.contains("ComputeMarket__NoAccessToken"), "{err}");
    assert_eq!(jobs(), U256::ZERO);

    // The CLI buys the missing model token with the job, in one transaction, within budget.
    let submitted =
        stack.json(CONSUMER, &submit_args(&dataset, &model, &operator, spec, &["--max-total", "0.07"]));
    assert_eq!(jobs(), U256::from(1));
    let inputs = submitted["inputs"].as_array().cloned().unwrap_or_default();
    assert_eq!(inputs.len(), 2, "{submitted}");
    assert_eq!((inputs[0]["bought"].as_bool(), inputs[1]["bought"].as_bool()), (Some(false), Some(true)));
    assert_ne!(submitted["algorithmOrderId"], "0", "{submitted}");
    let fee_bps = stack.block_on(async {
        tx::call("protocolFeeBps", agora.marketplace.protocolFeeBps()).await.unwrap_or_else(|e| panic!("{e}"))
    });
    let net = |price: U256| price - price * U256::from(fee_bps) / U256::from(10_000);
    let milli = U256::from(1_000_000_000_000_000u64);
    assert_eq!(received(dataset_id), net(milli), "the dataset's owner got its price once");
    assert_eq!(
        received(model_id),
        net(milli * U256::from(20)),
        "the model's owner got its price from the job"
    );
    let consumer = stack.address(CONSUMER);
    let token_balance = |asset: U256| {
        let agora = agora.clone();
        stack.block_on(async move {
            let token = tx::call("accessTokenOf", agora.registry.accessTokenOf(asset)).await.unwrap();
            let erc20 = agora_contracts::erc::IERC20::new(token, agora.provider().clone());
            tx::call("balanceOf", erc20.balanceOf(consumer)).await.unwrap()
        })
    };
    assert_eq!(
        (token_balance(dataset_id), token_balance(model_id)),
        (U256::ZERO, U256::ZERO),
        "both tokens spent"
    );
}

#[test]
fn an_algorithm_job_runs_the_published_module_and_job_verify_reproduces_it_in_another_process() {
    let stack = Stack::with_kubo();
    let (_url, _service) = stack.run_provider(OPERATOR);
    let operator = stack.address(OPERATOR).to_string();
    let table = "id,height,city\n1,1.80,Paris\n2,1.65,Lyon\n3,1.75,Paris\n4,1.90,Nice\n";
    let dataset = stack.write("people.csv", table.as_bytes());
    let args = ["asset", "publish", &dataset, "--kind", "dataset", "--price", "0.001", "--public"];
    let dataset = stack.json(PUBLISHER, &args)["assetId"].as_str().unwrap_or_default().to_owned();
    // Sold in the clear, so that any buyer can re-execute its jobs.
    let module = agora_deploy::services::algorithms::example("stats-go").unwrap_or_else(|m| panic!("{m}"));
    let module = module.display().to_string();
    let args = ["asset", "publish", &module, "--kind", "algorithm", "--price", "0.002", "--public"];
    let algorithm = stack.json(PUBLISHER, &args)["assetId"].as_str().unwrap_or_default().to_owned();

    // An algorithm job must name an algorithm: refused before anything is bought.
    let spec = r#"{"kind":"algorithm","args":["--top","2"]}"#;
    let wrong = stack.agora(CONSUMER, &submit_args(&dataset, &dataset, &operator, spec, &[]));
    assert_one_line_error(&wrong, &format!("asset {dataset} is a dataset, not an algorithm"));

    let submitted = stack.json(CONSUMER, &submit_args(&dataset, &algorithm, &operator, spec, &[]));
    let job = submitted["jobId"].as_str().unwrap_or_default().to_owned();
    assert_eq!(submitted["inputs"].as_array().map(Vec::len), Some(2), "both inputs bought: {submitted}");
    let out = stack.path("stats");
    let out = out.display().to_string();
    let result = stack.json(CONSUMER, &["job", "result", &job, "--wait", "180", "--output", &out]);
    assert_eq!(result["files"], json!(["stats.json"]), "{result}");
    assert_eq!(result["runtimeVersion"], agora_sandbox::version(), "the receipt names the sandbox: {result}");
    let stats: serde_json::Value = serde_json::from_slice(
        &std::fs::read(stack.path("stats/stats.json")).unwrap_or_else(|e| panic!("{e}")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((stats["rows"].as_u64(), stats["dataset"].as_str()), (Some(4), Some("people.csv")), "{stats}");

    // `job verify` is another process: it fetches the module and the dataset by their on-chain
    // digests and runs them in its own sandbox, with the job's seed.
    let verified = stack.json(CONSUMER, &["job", "verify", &job]);
    assert_eq!(verified["match"], true, "{verified}");
    assert_eq!(
        verified["recomputedOutputHash"],
        stack.job_on_chain(job.parse().unwrap_or(0)).outputHash.to_string()
    );
    let log = stack.json(CONSUMER, &["job", "log", &job]);
    assert_eq!(
        (log["jobId"].as_str(), log["truncated"].as_bool()),
        (Some(job.as_str()), Some(false)),
        "{log}"
    );
    // A job that does not exist has no log.
    let missing = stack.agora(CONSUMER, &["job", "log", "999"]);
    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));

    // The dataset's owner restricts it to allowed algorithms; only the owner may.
    let policy = ["asset", "algorithms", &dataset, "--restrict"];
    assert_one_line_error(&stack.agora(CONSUMER, &policy), &format!("does not own dataset {dataset}"));
    let restricted = stack.json(PUBLISHER, &policy);
    assert_eq!((restricted["restricted"].as_bool(), restricted["allowed"].clone()), (Some(true), json!([])));
    let refused = stack.agora(CONSUMER, &submit_args(&dataset, &algorithm, &operator, spec, &[]));
    assert_one_line_error(&refused, "not allow");
    let allowed = stack.json(PUBLISHER, &["asset", "algorithms", &dataset, "--allow", &algorithm]);
    assert_eq!(allowed["allowed"], json!([algorithm]), "{allowed}");
    let again = stack.json(CONSUMER, &submit_args(&dataset, &algorithm, &operator, spec, &[]));
    assert!(again["jobId"].is_string(), "an allowed algorithm runs again: {again}");
    let shown = stdout(&stack.agora(CONSUMER, &["asset", "algorithms", &dataset]));
    assert!(
        shown.contains(&format!("only these algorithms and models may run on it: {algorithm}")),
        "{shown}"
    );
}
