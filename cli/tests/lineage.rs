//! The built `agora` binary publishing a compute job's output as a new asset
//! (`asset publish --from-job`) against a real anvil with the protocol deployed, a real Kubo and
//! the real provider (`agora provider run`) with all-MiniLM-L6-v2: the output of an `embed` job
//! is fetched, checked against the posted output hash and published with its lineage (job,
//! output, inputs, the provider's receipt) and an upstream share checked on chain; `asset show`
//! prints the lineage. A job without a result, and a posted output hash its output does not hash
//! to, are refused before anything is sent.

mod common;

use std::path::Path;

use agora_contracts::{compute_market::IComputeMarket, tx};
use alloy::{
    primitives::{Address, B256, U256},
    providers::Provider,
};
use common::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// anvil's accounts.
const PUBLISHER: usize = 1;
const CONSUMER: usize = 2;
const OPERATOR: usize = 3;
/// A provider whose service is down, posting results by hand.
const CHEAT: usize = 4;
/// Shares the dataset's revenue with the publisher.
const FRIEND: usize = 5;

const SENTENCES: &str = "{\"text\":\"A man is eating food.\"}\n\
{\"text\":\"A man is riding a horse.\"}\n\
{\"text\":\"The new movie is awesome.\"}\n";

/// A provider's price: 0.05 ETH.
const JOB_PRICE: u64 = 50_000_000_000_000_000;

impl Stack {
    /// The sentences as a dataset in the clear whose revenue the publisher shares 70/30 with a
    /// friend, and MiniLM (a manifest of its public files) as a free model; their asset ids.
    fn publish_job_inputs(&self) -> (String, String) {
        let dataset = self.write("sentences.jsonl", SENTENCES.as_bytes());
        let (me, friend) =
            (format!("{}:7000", self.address(PUBLISHER)), format!("{}:3000", self.address(FRIEND)));
        let args = ["asset", "publish", &dataset, "--kind", "dataset", "--price", "0.001", "--public"];
        let mut args = args.to_vec();
        args.extend(["--split", &me, "--split", &friend]);
        let dataset = self.json(PUBLISHER, &args)["assetId"].as_str().unwrap_or_default().to_owned();
        (dataset, self.publish_minilm(PUBLISHER, "0"))
    }

    /// The metadata document `cid` on the stack's Kubo.
    fn metadata(&self, cid: &Value) -> Value {
        let cid = cid.as_str().unwrap_or_else(|| panic!("not a CID: {cid}"));
        let out = self.kubo().command().args(["cat", cid]).output().unwrap_or_else(|err| panic!("{err}"));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("metadata {cid}: {err}"))
    }

    /// `ipfs add -r`s a folder; its CID.
    fn ipfs_add_folder(&self, path: &Path) -> String {
        let out = self.kubo().command().args(["add", "-r", "-Q", "--cid-version", "1"]).arg(path).output();
        let out = out.unwrap_or_else(|err| panic!("ipfs add: {err}"));
        assert!(out.status.success(), "ipfs add: {}", stderr(&out));
        stdout(&out).trim().to_owned()
    }

    /// What the chain records of the protocol, for "nothing was sent" checks: the number of
    /// assets and `account`'s nonce.
    fn sent_by(&self, account: usize) -> (U256, u64) {
        let agora = self.contracts_as(0);
        let address = self.address(account);
        self.block_on(async move {
            let assets =
                tx::call("totalAssets", agora.registry.totalAssets()).await.unwrap_or_else(|e| panic!("{e}"));
            let nonce =
                agora.provider().get_transaction_count(address).await.unwrap_or_else(|e| panic!("{e}"));
            (assets, nonce)
        })
    }

    /// Asset `id`'s split and content digest on chain.
    fn on_chain(&self, id: &Value) -> (Vec<(Address, u16)>, B256) {
        let id: U256 =
            id.as_str().and_then(|id| id.parse().ok()).unwrap_or_else(|| panic!("not an id: {id}"));
        let agora = self.contracts_as(0);
        self.block_on(async move {
            let split =
                tx::call("getSplit", agora.splitter.getSplit(id)).await.unwrap_or_else(|e| panic!("{e}"));
            let asset =
                tx::call("getAsset", agora.registry.getAsset(id)).await.unwrap_or_else(|e| panic!("{e}"));
            (split.into_iter().map(|s| (s.recipient, s.bps)).collect(), asset.contentDigest)
        })
    }

    /// Opens a job on `dataset` and `model` to the cheat as the consumer; its id.
    fn open_job_to_cheat(&self, dataset: &str, model: &str, spec_cid: &str) -> U256 {
        let consumer = self.contracts_as(CONSUMER);
        let params = IComputeMarket::OpenJobParams {
            datasetId: dataset.parse().unwrap_or_default(),
            algorithmId: model.parse().unwrap_or_default(),
            provider: self.address(CHEAT),
            specCid: spec_cid.to_owned(),
            currency: Address::ZERO,
            maxPayment: U256::from(JOB_PRICE),
            deadline: u64::MAX / 2,
        };
        self.block_on(async move {
            let open = consumer.compute_market.openJob(params).value(U256::from(JOB_PRICE));
            let receipt = tx::send("openJob", open).await.unwrap_or_else(|err| panic!("{err}"));
            let opened = receipt.decoded_log::<agora_contracts::ComputeMarket::JobOpened>();
            opened.unwrap_or_else(|| panic!("no JobOpened")).data.jobId
        })
    }

    /// Posts `output_cid` with `output_hash` as job `id`'s result, as the cheat.
    fn post_as_cheat(&self, id: U256, output_cid: &str, output_hash: B256) {
        let cheater = self.contracts_as(CHEAT);
        self.block_on(async move {
            let post = cheater.compute_market.postResult(id, output_cid.to_owned(), output_hash);
            tx::send("postResult", post).await.unwrap_or_else(|err| panic!("{err}"));
        });
    }
}

#[test]
fn a_jobs_output_is_published_with_its_lineage_and_an_output_that_does_not_match_the_chain_is_refused() {
    let stack = Stack::with_kubo();
    // Bad arguments, before anything is read.
    let out = stack.agora(
        CONSUMER,
        &["asset", "publish", "x.csv", "--kind", "dataset", "--price", "0", "--upstream-share", "10%"],
    );
    assert_one_line_error(
        &out,
        "--upstream-share is about a compute job's output: it needs --from-job JOB_ID",
    );
    let out = stack.agora(
        CONSUMER,
        &["asset", "publish", "x.csv", "--from-job", "1", "--kind", "dataset", "--price", "0"],
    );
    assert!(stderr(&out).contains("cannot be used with"), "{}", stderr(&out));
    let from_job = |job: &str, extra: &[&str]| {
        let mut args = vec!["asset", "publish", "--from-job", job];
        args.extend_from_slice(extra);
        stack.agora(CONSUMER, &args)
    };
    assert_one_line_error(
        &from_job("1", &["--kind", "dataset", "--price", "0", "--upstream-share", "100%"]),
        "--upstream-share \"100%\": expected a percentage above 0 and below 100",
    );
    assert_one_line_error(&from_job("999", &["--kind", "dataset", "--price", "0"]), "unknown job 999");

    // A real job: the consumer buys dataset tokens and runs an embed job on the provider.
    let (dataset, model) = stack.publish_job_inputs();
    let (_url, _service) = stack.run_provider(OPERATOR);
    let operator = stack.address(OPERATOR).to_string();
    stack.json(CONSUMER, &["asset", "buy", &dataset, "--amount", "3"]);
    let submit = ["job", "submit", "--dataset", &dataset, "--model", &model, "--provider", &operator];
    let mut submit = submit.to_vec();
    submit.extend(["--spec", r#"{"kind":"embed","batch_size":2}"#]);
    assert_eq!(stack.json(CONSUMER, &submit)["jobId"], "1");
    let result = stack.json(CONSUMER, &["job", "result", "1", "--wait", "180", "--output", "out"]);
    let embeddings =
        std::fs::read(stack.path("out/embeddings.safetensors")).unwrap_or_else(|e| panic!("{e}"));

    // Several output files: one of them, or all as a model.
    assert_one_line_error(
        &from_job("1", &["--kind", "dataset", "--price", "0.01"]),
        "job 1's output holds 2 files (embeddings.safetensors, manifest.json): publish one of them with --output-file NAME",
    );
    assert_one_line_error(
        &from_job("1", &["--kind", "dataset", "--price", "0", "--output-file", "weights.bin"]),
        "job 1's output has no file \"weights.bin\"; its files: embeddings.safetensors, manifest.json",
    );

    // The embeddings, priced, with 10% of every sale to the inputs' contributors.
    let args = ["--output-file", "embeddings.safetensors", "--kind", "dataset", "--price", "0.01"];
    let mut args = args.to_vec();
    args.extend(["--upstream-share", "10%", "--license", "CC-BY-4.0"]);
    let mut publish = vec!["asset", "publish", "--from-job", "1"];
    publish.extend(args);
    let derived = stack.json(CONSUMER, &publish);
    assert_eq!(derived["contentDigest"], sha256_hex(&embeddings), "{derived}");
    assert_eq!(derived["encrypted"], true);
    let (split, digest) = stack.on_chain(&derived["assetId"]);
    assert_eq!(digest.to_string(), sha256_hex(&embeddings), "the digest on chain is the content's sha-256");
    // 5% per input: the dataset's 70/30 gives the publisher 3.5% and the friend 1.5%; the free
    // model's owner (the publisher) 5%; the consumer keeps 90%.
    let mut expected =
        vec![(stack.address(PUBLISHER), 850), (stack.address(FRIEND), 150), (stack.address(CONSUMER), 9_000)];
    expected.sort();
    assert_eq!(split, expected);
    let metadata = stack.metadata(&derived["metadataCid"]);
    let lineage = &metadata["derivedFrom"];
    let posted = result["outputHash"].clone();
    assert_eq!(lineage["jobId"], "1", "{lineage}");
    assert_eq!(lineage["chainId"], 31337);
    assert_eq!(lineage["outputCid"], result["resultCid"]);
    assert_eq!(lineage["outputHash"], posted);
    assert_eq!(lineage["outputFile"], "embeddings.safetensors");
    assert_eq!(
        lineage["inputs"],
        json!([{ "assetId": dataset, "role": "dataset" }, { "assetId": model, "role": "algorithm" }])
    );
    assert_eq!(lineage["upstreamShareBps"], 1000);
    assert_eq!(lineage["receipt"], result["receipt"], "the provider's receipt is recorded");
    assert_eq!(lineage["receipt"]["receipt"]["outputHash"], posted);
    assert_eq!(metadata["name"], "embeddings.safetensors");
    assert_eq!(metadata["license"], "CC-BY-4.0");
    assert_eq!(derived["derivedFrom"], *lineage);

    // `asset show` prints where it comes from.
    let id = derived["assetId"].as_str().unwrap_or_default().to_owned();
    let shown = stack.json(PUBLISHER, &["asset", "show", &id]);
    assert_eq!(
        shown["upstream"],
        json!([
            { "assetId": dataset, "role": "dataset", "jobId": "1" },
            { "assetId": model, "role": "algorithm", "jobId": "1" },
        ])
    );
    assert_eq!(shown["upstreamShareBps"], 1000);
    let table = stdout(&stack.agora(PUBLISHER, &["asset", "show", &id]));
    let row = |key: &str, value: &str| {
        table
            .lines()
            .any(|line| line.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(value)))
    };
    assert!(row("upstream ", &format!("asset {dataset} (dataset of job 1)")), "{table}");
    assert!(row("upstream ", &format!("asset {model} (algorithm of job 1)")), "{table}");
    assert!(row("upstream share ", "10.00% of every sale"), "{table}");
    assert_eq!(stack.json(PUBLISHER, &["asset", "show", &dataset])["upstream"], json!([]));

    // The whole output as a free model: a manifest of both files, the split left to the owner.
    let model_out =
        stack.json(CONSUMER, &["asset", "publish", "--from-job", "1", "--kind", "model", "--price", "0"]);
    let files = model_out["files"].as_array().cloned().unwrap_or_default();
    let names: Vec<&Value> = files.iter().map(|f| &f["name"]).collect();
    assert_eq!(names, [&json!("embeddings.safetensors"), &json!("manifest.json")]);
    assert_eq!(files[0]["sha256"], sha256_hex(&embeddings));
    let lineage = &stack.metadata(&model_out["metadataCid"])["derivedFrom"];
    assert_eq!(
        (&lineage["outputFile"], &lineage["upstreamShareBps"]),
        (&Value::Null, &Value::Null),
        "{lineage}"
    );
    assert_eq!(stack.on_chain(&model_out["assetId"]).0, [(stack.address(CONSUMER), 10_000)]);

    // Jobs on a provider whose service is down, with results posted by hand.
    stack.json(CHEAT, &["provider", "register", "--endpoint", "http://127.0.0.1:9", "--price", "0.05"]);
    let spec = stack.write("spec.json", br#"{"version":1,"job":{"kind":"embed","batch_size":2}}"#);
    let spec_cid = stack.ipfs_add(Path::new(&spec));
    let fake = stack.path("fake-out");
    std::fs::create_dir(&fake).unwrap_or_else(|err| panic!("{err}"));
    let text = b"not what the job computed\n";
    std::fs::write(fake.join("result.txt"), text).unwrap_or_else(|err| panic!("{err}"));
    let fake_cid = stack.ipfs_add_folder(&fake);
    let true_hash = {
        let listing = format!("{}  result.txt\n", alloy::hex::encode(Sha256::digest(text)));
        B256::from_slice(&Sha256::digest(listing.as_bytes()))
    };

    // No result yet: refused.
    let open = stack.open_job_to_cheat(&dataset, &model, &spec_cid);
    let open_id = open.to_string();
    assert_one_line_error(
        &from_job(&open_id, &["--kind", "dataset", "--price", "0"]),
        &format!("job {open_id} is open: only a job with a posted result"),
    );

    // A posted hash the output does not hash to: refused, naming both, before anything is sent.
    stack.post_as_cheat(open, &fake_cid, B256::repeat_byte(7));
    let before = stack.sent_by(CONSUMER);
    let refused = from_job(&open_id, &["--kind", "dataset", "--price", "0.01", "--upstream-share", "10%"]);
    assert_one_line_error(
        &refused,
        &format!(
            "job {open_id}'s output {fake_cid} on IPFS hashes to {true_hash}, but the output hash posted on chain is {}: refusing to publish it",
            B256::repeat_byte(7)
        ),
    );
    assert_eq!(stack.sent_by(CONSUMER), before, "no asset published, no transaction sent");

    // The right hash, and no receipt to be had: published as a file, with a warning.
    let honest = stack.open_job_to_cheat(&dataset, &model, &spec_cid);
    stack.post_as_cheat(honest, &fake_cid, true_hash);
    let out = from_job(&honest.to_string(), &["--kind", "dataset", "--price", "0"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let warning = stderr(&out);
    assert!(
        warning.starts_with("warning: the provider's receipt is not included in the metadata: provider http://127.0.0.1:9/ is unreachable"),
        "{warning}"
    );
    let table = stdout(&out);
    let id = table.lines().next().and_then(|line| line.strip_prefix("published asset ")).unwrap_or_default();
    assert_eq!(id, "5", "{table}");
    let derived_row =
        format!("derived from  job {honest}: output result.txt of {fake_cid} (output hash {true_hash}");
    assert!(table.contains(&derived_row), "{table}");
    assert!(table.contains("  receipt     not recorded"), "{table}");
    let shown = stack.json(CONSUMER, &["asset", "show", id]);
    let lineage = &stack.metadata(&shown["metadataCid"])["derivedFrom"];
    assert_eq!(lineage["jobId"], honest.to_string(), "{lineage}");
    assert_eq!((&lineage["outputFile"], &lineage["receipt"]), (&json!("result.txt"), &Value::Null));
    assert_eq!(stack.on_chain(&shown["id"]).1.to_string(), sha256_hex(text));
}
