//! Journey 4: compute over private data. An operator sets up a provider with `agora provider
//! init | register | run`; a data owner publishes a private dataset (encrypted for that
//! provider) and the all-MiniLM-L6-v2 model folder; a consumer buys access, downloads the
//! plaintext, submits an `embed` job, fetches the result with its signed receipt and verifies it
//! by re-executing it locally; once the challenge window closes the provider finalizes and is
//! paid. The indexer follows the job through its life.

use std::path::PathBuf;

use agora_e2e::*;
use serde_json::{Value, json};

const PUBLISHER: usize = 1;
const CONSUMER: usize = 2;
const OPERATOR: usize = 9;

const SENTENCES: &str = "{\"text\":\"A man is eating food.\"}\n\
{\"text\":\"A man is riding a horse.\"}\n\
{\"text\":\"The new movie is awesome.\"}\n\
{\"text\":\"Two dogs play in the snow.\"}\n\
{\"text\":\"A finch with a curved beak sings on the island.\"}\n";

/// The all-MiniLM-L6-v2 folder: `AGORA_MODEL_DIR`, else the cache; missing fails the journey.
fn model_dir() -> PathBuf {
    agora_deploy::services::model::minilm_dir().unwrap_or_else(|missing| panic!("{missing}"))
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}")).to_owned()
}

#[test]
fn an_embed_job_over_a_private_dataset_is_verified_by_re_execution_and_paid() {
    let (postgres, kubo) = services();
    let mut chain = Chain::deployed();
    chain.ipfs_api = Some(kubo.api_url());
    let mut indexer = indexer(&chain, &postgres, &kubo);

    // The operator: a config file, a stake on chain, the service running.
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    chain.json(OPERATOR, &["provider", "init", "--listen", &format!("127.0.0.1:{port}")]);
    chain.json(OPERATOR, &["provider", "register", "--endpoint", &url, "--price", "0.05"]);
    let mut run = Service::command(binary("agora"));
    run.env("AGORA_RPC_URL", chain.anvil.endpoint())
        .env("AGORA_IPFS_API", kubo.api_url())
        .env("AGORA_PRIVATE_KEY", chain.key(OPERATOR))
        // Results are finalized as soon as their window closes, not once a minute.
        .env("AGORA_PROVIDER_FINALIZE_EVERY_SECS", "1")
        .args(["provider", "run", "--config", "provider.toml"]);
    let _provider = Service::start(&chain, run, "provider.log", url.clone());
    let operator = chain.address(OPERATOR).to_string();
    let status = chain.json(OPERATOR, &["provider", "status", &operator, "--url", &url]);
    assert_eq!(status["registered"], true, "{status}");

    // The data owner: a dataset only this provider can read, and the model.
    let sentences = chain.dir.path().join("sentences.jsonl");
    std::fs::write(&sentences, SENTENCES).unwrap_or_else(|err| panic!("{err}"));
    let sentences = sentences.to_string_lossy().into_owned();
    // Priced, so encrypted by default: its key wrapped for the publisher and every active
    // provider on the market (this one).
    let args = vec!["asset", "publish", &sentences, "--kind", "dataset", "--price", "0.001"];
    let dataset = text(&chain.json(PUBLISHER, &args)["assetId"]);
    // The files `embed` reads (the installed folder also holds sentence-transformers' extras).
    let model = chain.dir.path().join("all-MiniLM-L6-v2");
    std::fs::create_dir(&model).unwrap_or_else(|err| panic!("{err}"));
    for name in agora_deploy::services::model::MINILM_FILES {
        std::fs::copy(model_dir().join(name), model.join(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
    }
    let model = model.to_string_lossy().into_owned();
    let model = text(
        &chain.json(PUBLISHER, &["asset", "publish", &model, "--kind", "model", "--price", "0"])["assetId"],
    );

    // The consumer: one token to download the plaintext, one for the job.
    chain.json(CONSUMER, &["asset", "buy", &dataset, "--amount", "2"]);
    chain.json(CONSUMER, &["asset", "download", &dataset, "--provider", &url, "-o", "plaintext.jsonl"]);
    let spec = r#"{"kind":"embed","batch_size":2}"#;
    let submit =
        ["job", "submit", "--dataset", &dataset, "--model", &model, "--provider", &operator, "--spec", spec];
    let submitted = chain.json(CONSUMER, &submit);
    let job = text(&submitted["jobId"]);
    assert_eq!(submitted["status"], "queued", "{submitted}");

    let result = chain.json(CONSUMER, &["job", "result", &job, "--wait", "300", "--output", "out"]);
    assert!(chain.dir.path().join("out/embeddings.safetensors").is_file(), "{result}");
    let verified = chain.json(CONSUMER, &["job", "verify", &job, "--dataset", "plaintext.jsonl"]);
    assert_eq!(verified["match"], true, "{verified}");
    // Without the plaintext there is nothing to re-run: IPFS holds only ciphertext.
    let blind = chain.run(CONSUMER, &["job", "verify", &job]);
    assert_one_line_error(&blind, &format!("dataset asset {dataset} is private"));

    // The challenge window (a day) passes; the provider finalizes and is paid.
    chain.rpc("evm_increaseTime", json!([24 * 60 * 60 + 1]));
    chain.rpc("anvil_mine", json!([1]));
    let mut finalized = chain.json(CONSUMER, &["job", "status", &job]);
    for _ in 0..300 {
        if finalized["status"] == "finalized" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        finalized = chain.json(CONSUMER, &["job", "status", &job]);
    }
    assert_eq!(finalized["status"], "finalized", "{finalized}");

    indexer.synced(&chain);
    let jobs = indexer.get("/jobs");
    let indexed = &jobs["items"][0];
    assert_eq!(
        (indexed["jobId"].clone(), indexed["status"].clone()),
        (json!(job), json!("finalized")),
        "{jobs}"
    );
    assert!(indexed["providerPayout"].as_str().is_some_and(|p| p != "0"), "{indexed}");
    let providers = indexer.get("/providers");
    assert_eq!(providers["items"][0]["endpoint"], json!(format!("{url}/")), "{providers}");
}
