//! Content outlives the node it was published from: four Kubo daemons peered on loopback (the
//! publisher's, two providers' and a buyer's). Each provider (`agora provider run`) pins what it
//! serves on its own node; `agora asset pins` shows where each CID is kept; with the publisher's
//! node stopped, the buyer still downloads the encrypted dataset through one provider and runs
//! an algorithm job over it on the other.
//!
//! On a network whose `[pinning]` table names a pinning service (here a provider's `/pinning`,
//! with its own replication off), publishing waits until the service keeps the asset's CIDs
//! before minting it (and a new metadata version before sending it), sends nothing when the
//! service refuses, and the asset outlives the publisher's node.
//!
//! Jobs outlive a provider that dies with them queued: three providers, one killed while it
//! runs one job and holds two more; a new job goes to a live one, the dead one's jobs wait for
//! it (they are its responsibility), and when it comes back each runs once, or, past its
//! deadline, is refunded on chain and never runs.

mod common;

use common::*;
use std::{
    process::Command,
    time::{Duration, Instant},
};

use agora_deploy::services::kubo::KuboDaemon;
use serde_json::Value;

/// anvil accounts.
const PUBLISHER: usize = 1;
const BUYER: usize = 2;
const OPERATORS: [usize; 2] = [3, 4];

fn networked_kubo() -> KuboDaemon {
    KuboDaemon::start_networked().unwrap_or_else(|err| {
        panic!("cannot start Kubo ({err}); run ./scripts/setup.sh (it builds Kubo with ./scripts/kubo.sh)")
    })
}

/// Peers every daemon with every other, both ways: each keeps reconnecting to the others.
fn peer_all(all: &[&KuboDaemon]) {
    for a in all {
        for b in all {
            if a.api_url() != b.api_url() {
                a.peer_with(b).unwrap_or_else(|err| panic!("peering: {err}"));
            }
        }
    }
}

/// Waits (at most 30 s) until `a` has a connection to `b`.
fn wait_connected(a: &KuboDaemon, b: &KuboDaemon) {
    let peer = b.peer_id().unwrap_or_else(|err| panic!("{err}"));
    let started = Instant::now();
    loop {
        let peers = run(a.command().args(["swarm", "peers"]));
        if stdout(&peers).contains(&peer) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "{} never connected to {peer}", a.api_url());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `agora --json <args>` as `account`, with its Kubo at `ipfs_api`; must succeed.
fn json_via(stack: &Stack, ipfs_api: &str, account: usize, args: &[&str]) -> Value {
    let out = run(stack.command(account, &["--json"]).args(args).env("AGORA_IPFS_API", ipfs_api));
    assert!(out.status.success(), "agora {args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}: {}", stdout(&out)))
}

/// `agora provider run` for the provider [`run_provider_on`] set up for `operator`.
fn provider_run(stack: &Stack, operator: usize) -> Command {
    stack.command(operator, &["provider", "run", "--config", &format!("provider-{operator}.toml")])
}

/// Starts operator `operator`'s provider on its own Kubo at `ipfs_api`, registered at its URL,
/// replicating every second; its URL and process.
fn run_provider_on(stack: &Stack, operator: usize, ipfs_api: &str) -> (String, Background) {
    run_provider_edited(stack, operator, ipfs_api, |text| text)
}

/// [`run_provider_on`] with the configuration `provider init` wrote passed through `edit`.
fn run_provider_edited(
    stack: &Stack,
    operator: usize,
    ipfs_api: &str,
    edit: impl Fn(String) -> String,
) -> (String, Background) {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let file = |what: &str| format!("provider-{operator}.{what}");
    let config = file("toml");
    let init = [
        "provider",
        "init",
        "--config",
        &config,
        "--listen",
        &format!("127.0.0.1:{port}"),
        "--database",
        &file("sqlite"),
        "--job-dir",
        &file("jobs"),
        "--ipfs-api",
        ipfs_api,
    ];
    stack.json(operator, &init);
    let path = stack.path(&config);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|err| panic!("{err}"));
    assert!(text.contains("every_secs = 15"), "provider init writes the [replication] table: {text}");
    std::fs::write(&path, edit(text.replace("every_secs = 15", "every_secs = 1")))
        .unwrap_or_else(|err| panic!("{err}"));
    stack.json(operator, &["provider", "register", "--endpoint", &url, "--price", "0.05"]);
    let service = stack.spawn_provider(provider_run(stack, operator), operator, &url);
    (url, service)
}

/// `asset pins <id>` through `ipfs_api` until `done` holds (or a minute passed); the last answer.
fn pins_until(stack: &Stack, ipfs_api: &str, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let pins = json_via(stack, ipfs_api, BUYER, &["asset", "pins", id]);
        if done(&pins) {
            return pins;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "asset {id} never got there: {pins}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// Whether every provider node pins every CID.
fn providers_pin_all(pins: &Value) -> bool {
    let nodes = pins["nodes"].as_array().cloned().unwrap_or_default();
    let providers: Vec<&Value> = nodes.iter().filter(|n| n["kind"] == "provider").collect();
    providers.len() == OPERATORS.len()
        && providers
            .iter()
            .all(|n| n["held"].as_array().is_some_and(|held| held.iter().all(|h| h["state"] == "pinned")))
}

#[test]
fn an_asset_outlives_the_node_it_was_published_from() {
    let mut publisher_kubo = networked_kubo();
    let provider_kubos = [networked_kubo(), networked_kubo()];
    let buyer_kubo = networked_kubo();
    let all: Vec<&KuboDaemon> =
        [&publisher_kubo].into_iter().chain(&provider_kubos).chain([&buyer_kubo]).collect();
    peer_all(&all);
    let stack = Stack::with_ipfs_api(publisher_kubo.api_url());
    let mut providers: Vec<(String, Background)> = OPERATORS
        .iter()
        .zip(&provider_kubos)
        .map(|(&operator, kubo)| run_provider_on(&stack, operator, &kubo.api_url()))
        .collect();

    // Priced, so encrypted, its key wrapped for the owner and both active providers; the
    // algorithm is sold in the clear.
    let table = "id,height,city\n1,1.80,Paris\n2,1.65,Lyon\n3,1.75,Paris\n4,1.90,Nice\n";
    let file = stack.write("people.csv", table.as_bytes());
    let published =
        stack.json(PUBLISHER, &["asset", "publish", &file, "--kind", "dataset", "--price", "0.001"]);
    let dataset = published["assetId"].as_str().unwrap_or_default().to_owned();
    let module = agora_deploy::services::algorithms::example("stats-go").unwrap_or_else(|m| panic!("{m}"));
    let module = module.display().to_string();
    let args = ["asset", "publish", &module, "--kind", "algorithm", "--price", "0.002", "--public"];
    let algorithm = stack.json(PUBLISHER, &args)["assetId"].as_str().unwrap_or_default().to_owned();

    // Both providers pin both assets' metadata and content; the publisher's node pins what it
    // added.
    let publisher_api = publisher_kubo.api_url();
    let pins = pins_until(&stack, &publisher_api, &dataset, providers_pin_all);
    assert_eq!(pins["cids"].as_array().map(Vec::len), Some(2), "{pins}");
    assert_eq!(pins["nodes"][0]["kind"], "kubo");
    assert_eq!(pins["nodes"][0]["held"], serde_json::json!([{ "state": "pinned" }, { "state": "pinned" }]));
    pins_until(&stack, &publisher_api, &algorithm, providers_pin_all);
    let table = stdout(&run(&mut stack.command(BUYER, &["asset", "pins", &dataset])));
    assert!(table.contains("pinned by 3 of 3 nodes"), "{table}");
    assert_one_line_error(&stack.agora(BUYER, &["asset", "pins", "999"]), "999");

    // The publisher's node goes away; the buyer works through its own node.
    publisher_kubo.stop().unwrap_or_else(|err| panic!("{err}"));
    let buyer_api = buyer_kubo.api_url();
    let pins = json_via(&stack, &buyer_api, BUYER, &["asset", "pins", &dataset]);
    assert!(providers_pin_all(&pins), "{pins}");
    assert_eq!(pins["nodes"][0]["held"][0]["state"], "notPinned", "{pins}");

    // Without --provider, the best active provider holding the key serves it.
    json_via(&stack, &buyer_api, BUYER, &["asset", "buy", &dataset, "--amount", "2"]);
    let plaintext = std::fs::read(&file).unwrap_or_else(|err| panic!("{err}"));
    let output = stack.path("people-downloaded.csv").display().to_string();
    let first = json_via(&stack, &buyer_api, BUYER, &["asset", "download", &dataset, "-o", &output]);
    assert_eq!(std::fs::read(&output).unwrap_or_else(|err| panic!("{err}")), plaintext, "{first}");
    let served_by = address_of(&first["provider"]);
    let index = OPERATORS
        .iter()
        .position(|&operator| stack.address(operator) == served_by)
        .unwrap_or_else(|| panic!("served by a registered provider: {first}"));

    // That provider dies in the middle of the next download: half the file is in the `.part`
    // file, the order remembered next to it is bound to the dead provider. The rerun falls over
    // to the other provider (for the buyer's second access token) and resumes with a Range.
    let again = stack.path("people-again.csv").display().to_string();
    let half = plaintext.len() / 2;
    std::fs::write(format!("{again}.part"), &plaintext[..half]).unwrap_or_else(|err| panic!("{err}"));
    let order: alloy::primitives::U256 =
        first["orderId"].as_str().unwrap_or_default().parse().unwrap_or_default();
    let bound = serde_json::json!({
        "assetId": format!("{:#x}", dataset.parse::<u64>().unwrap_or_default()),
        "orderId": format!("{order:#x}"),
        "provider": served_by,
    });
    std::fs::write(format!("{again}.part.order"), bound.to_string()).unwrap_or_else(|err| panic!("{err}"));
    drop(providers.remove(index));
    let out = run(stack
        .command(BUYER, &["--json", "asset", "download", &dataset, "-o", &again])
        .env("AGORA_IPFS_API", &buyer_api));
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains(&format!("order {order} is bound to provider {served_by}, which could not serve it")),
        "{}",
        stderr(&out)
    );
    let resumed: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(resumed["resumedFrom"].as_u64(), Some(half as u64), "{resumed}");
    let survivor = OPERATORS[1 - index];
    assert_eq!(address_of(&resumed["provider"]), stack.address(survivor), "{resumed}");
    assert_eq!(std::fs::read(&again).unwrap_or_else(|err| panic!("{err}")), plaintext);

    // An algorithm job over the dataset runs on the surviving provider.
    let operator = stack.address(survivor).to_string();
    let spec = r#"{"kind":"algorithm","args":["--top","2"]}"#;
    let submit = [
        "job",
        "submit",
        "--dataset",
        &dataset,
        "--model",
        &algorithm,
        "--provider",
        &operator,
        "--spec",
        spec,
    ];
    let submitted = json_via(&stack, &buyer_api, BUYER, &submit);
    let job = submitted["jobId"].as_str().unwrap_or_default().to_owned();
    let out = stack.path("stats").display().to_string();
    let result =
        json_via(&stack, &buyer_api, BUYER, &["job", "result", &job, "--wait", "180", "--output", &out]);
    assert_eq!(result["files"], serde_json::json!(["stats.json"]), "{result}");
    let stats: Value = serde_json::from_slice(
        &std::fs::read(stack.path("stats/stats.json")).unwrap_or_else(|err| panic!("{err}")),
    )
    .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(stats["rows"].as_u64(), Some(4), "{stats}");

    // With no provider left that answers, the order bound to the last one is explained.
    drop(providers);
    let last = stack.path("people-last.csv").display().to_string();
    std::fs::write(format!("{last}.part"), &plaintext[..half]).unwrap_or_else(|err| panic!("{err}"));
    let bound = serde_json::json!({
        "assetId": format!("{:#x}", dataset.parse::<u64>().unwrap_or_default()),
        "orderId": "0x9",
        "provider": stack.address(survivor),
    });
    std::fs::write(format!("{last}.part.order"), bound.to_string()).unwrap_or_else(|err| panic!("{err}"));
    let out = run(stack
        .command(BUYER, &["asset", "download", &dataset, "-o", &last])
        .env("AGORA_IPFS_API", &buyer_api));
    assert_one_line_error(
        &out,
        &format!(
            "order 9 is bound to provider {}: rerun this command to resume there",
            stack.address(survivor)
        ),
    );
}

/// How many assets the registry holds.
fn total_assets(stack: &Stack) -> u64 {
    let agora = stack.contracts_as(BUYER);
    let total = stack.block_on(async { agora.registry.totalAssets().call().await });
    total.unwrap_or_else(|err| panic!("{err}")).to::<u64>()
}

#[test]
fn publishing_waits_for_the_networks_pinning_service_and_mints_nothing_without_it() {
    const TOKEN: &str = "archive-token-for-the-publisher";
    let mut publisher_kubo = networked_kubo();
    let archive_kubo = networked_kubo();
    let buyer_kubo = networked_kubo();
    peer_all(&[&publisher_kubo, &archive_kubo, &buyer_kubo]);
    let stack = Stack::with_ipfs_api(publisher_kubo.api_url());
    // The archive keeps only what it is asked to: its own replication is off.
    let digest = sha256_hex(TOKEN.as_bytes());
    let (url, _archive) = run_provider_edited(&stack, OPERATORS[0], &archive_kubo.api_url(), |text| {
        assert!(text.contains("enabled = true") && text.contains("tokens_sha256 = []"), "{text}");
        text.replace("enabled = true", "enabled = false")
            .replace("tokens_sha256 = []", &format!("tokens_sha256 = [\"{digest}\"]"))
    });
    let networks = stack.write(
        "networks.toml",
        format!(
            "[networks.local]\nchain_id = 31337\nrpc_url = \"http://127.0.0.1:8545\"\n\
             [networks.local.pinning]\nreplicas = 1\nwait_secs = 60\n\
             [[networks.local.pinning.services]]\nname = \"archive\"\nendpoint = \"{url}/pinning\"\nkey_env = \"ARCHIVE_PIN_KEY\"\n"
        )
        .as_bytes(),
    );
    let table = "id,height\n1,1.80\n2,1.65\n";
    let file = stack.write("heights.csv", table.as_bytes());
    let publish = |key: &str| {
        run(stack
            .command(PUBLISHER, &["--json", "--networks-file", &networks, "asset", "publish", &file])
            .args(["--kind", "dataset", "--price", "0.001"])
            .env("ARCHIVE_PIN_KEY", key))
    };

    // A key the service does not accept: nothing goes on chain.
    let before = total_assets(&stack);
    let refused = publish("a-wrong-key");
    assert_one_line_error(&refused, "nothing was published on chain");
    assert!(
        stderr(&refused).contains("archive: unreachable") && stderr(&refused).contains("401"),
        "{}",
        stderr(&refused)
    );
    assert_eq!(total_assets(&stack), before, "a refused replication mints nothing");
    let unset = run(stack
        .command(
            PUBLISHER,
            &["--networks-file", &networks, "asset", "publish", &file, "--kind", "dataset", "--price", "0"],
        )
        .env_remove("ARCHIVE_PIN_KEY"));
    assert_one_line_error(&unset, "needs its access token in $ARCHIVE_PIN_KEY");

    // The right key: the archive keeps both CIDs before the asset is minted.
    let published = publish(TOKEN);
    assert!(published.status.success(), "{}", stderr(&published));
    let published = json_of(&published);
    assert_eq!(
        published["replicas"],
        serde_json::json!([{ "service": "archive", "statuses": ["pinned", "pinned"] }]),
        "{published}"
    );
    assert_eq!(total_assets(&stack), before + 1);
    let id = published["assetId"].as_str().unwrap_or_default().to_owned();

    // A new metadata version is kept by the archive before it goes on chain too.
    let first = published["metadataCid"].as_str().unwrap_or_default();
    let document = run(publisher_kubo.command().args(["cat", first]));
    let mut document: Value = serde_json::from_slice(&document.stdout).unwrap_or_else(|err| panic!("{err}"));
    document["name"] = serde_json::json!("Heights, version 2");
    let path = stack.write("heights-v2.json", document.to_string().as_bytes());
    let v2 = stdout(&run(publisher_kubo.command().args(["add", "-Q", "--cid-version", "1", &path])))
        .trim()
        .to_owned();
    let update = |key: &str| {
        let args = ["--json", "--networks-file", &networks, "asset", "update", &id, "--metadata-cid", &v2];
        run(stack.command(PUBLISHER, &args).env("ARCHIVE_PIN_KEY", key))
    };
    assert_one_line_error(&update("a-wrong-key"), &format!("asset {id} was not updated"));
    let updated = update(TOKEN);
    assert!(updated.status.success(), "{}", stderr(&updated));
    let updated = json_of(&updated);
    assert_eq!(
        (updated["metadataCid"].as_str(), updated["version"].as_u64()),
        (Some(v2.as_str()), Some(2)),
        "{updated}"
    );

    let pins = run(stack
        .command(BUYER, &["--json", "--networks-file", &networks, "asset", "pins", &id])
        .env("AGORA_IPFS_API", publisher_kubo.api_url()));
    assert!(pins.status.success(), "{}", stderr(&pins));
    let pins = json_of(&pins);
    let nodes = pins["nodes"].as_array().cloned().unwrap_or_default();
    let service = nodes.iter().find(|node| node["kind"] == "service").unwrap_or_else(|| panic!("{pins}"));
    assert_eq!(service["service"], "archive", "{pins}");
    assert_eq!(service["held"], serde_json::json!([{ "state": "pinned" }, { "state": "pinned" }]), "{pins}");
    let provider = nodes.iter().find(|node| node["kind"] == "provider").unwrap_or_else(|| panic!("{pins}"));
    assert_eq!(provider["held"][1]["state"], "pinned", "the archive's Kubo holds the content: {pins}");

    // The publisher's node goes away; the buyer downloads through the archive.
    wait_connected(&buyer_kubo, &archive_kubo);
    publisher_kubo.stop().unwrap_or_else(|err| panic!("{err}"));
    let buyer_api = buyer_kubo.api_url();
    json_via(&stack, &buyer_api, BUYER, &["asset", "buy", &id]);
    let output = stack.path("heights-downloaded.csv").display().to_string();
    json_via(&stack, &buyer_api, BUYER, &["asset", "download", &id, "-o", &output]);
    assert_eq!(std::fs::read_to_string(&output).unwrap_or_else(|err| panic!("{err}")), table);
}

/// A free algorithm that counts to 1.6·10¹⁰ (several seconds in the sandbox) and writes nothing.
const SPIN_MODULE: &str = r#"(module
  (memory (export "memory") 1)
  (func (export "_start")
    (local $i i64)
    (loop $spin
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $spin (i64.lt_u (local.get $i) (i64.const 16000000000))))))"#;

/// `job status <id>`: the chain's view, with the provider's (or why it did not answer) in `service`.
fn job_status(stack: &Stack, job: &str) -> Value {
    stack.json(BUYER, &["job", "status", job])
}

/// `job result <id> --wait 180`; on failure, the job's status says why.
fn job_result(stack: &Stack, job: &str) -> Value {
    let out = stack.agora(BUYER, &["--json", "job", "result", job, "--wait", "180"]);
    assert!(out.status.success(), "job {job}: {}; {}", stderr(&out), job_status(stack, job));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|err| panic!("{err}: {}", stdout(&out)))
}

/// How many `ResultPosted` events job `job` has on chain.
fn results_posted(stack: &Stack, job: &str) -> usize {
    let market = stack.contracts_as(BUYER).compute_market;
    let job: alloy::primitives::U256 = job.parse().unwrap_or_default();
    stack.block_on(async move {
        let posted = market.ResultPosted_filter().topic1(job).from_block(0).query().await;
        posted.unwrap_or_else(|err| panic!("{err}")).len()
    })
}

#[test]
fn jobs_held_by_a_provider_that_dies_run_once_when_it_returns_or_are_refunded() {
    let stack = Stack::with_kubo();
    let ipfs_api = stack.kubo().api_url();
    const DYING: usize = 3;
    let mut providers: Vec<(usize, Background)> = [DYING, 4, 5]
        .into_iter()
        .map(|operator| (operator, run_provider_on(&stack, operator, &ipfs_api).1))
        .collect();

    let table = "id,height\n1,1.80\n2,1.65\n";
    let data = stack.write("heights.csv", table.as_bytes());
    let dataset = stack.json(PUBLISHER, &["asset", "publish", &data, "--kind", "dataset", "--price", "0"]);
    let dataset = dataset["assetId"].as_str().unwrap_or_default().to_owned();
    let module = stack.write("spin.wasm", &wat::parse_str(SPIN_MODULE).unwrap_or_else(|err| panic!("{err}")));
    let args = ["asset", "publish", &module, "--kind", "algorithm", "--price", "0"];
    let algorithm = stack.json(PUBLISHER, &args)["assetId"].as_str().unwrap_or_default().to_owned();
    let dying = stack.address(DYING).to_string();
    let submit = |provider: Option<&str>, deadline: &str| {
        let mut args = vec!["job", "submit", "--dataset", &dataset, "--model", &algorithm];
        args.extend(["--spec", r#"{"kind":"algorithm"}"#, "--deadline-secs", deadline]);
        args.extend(provider.map(|provider| ["--provider", provider]).into_iter().flatten());
        let submitted = stack.json(BUYER, &args);
        (submitted["jobId"].as_str().unwrap_or_default().to_owned(), submitted)
    };

    // One worker: the first job runs, the other two wait in its queue. The provider dies then.
    let (running, _) = submit(Some(&dying), "3600");
    let (queued, _) = submit(Some(&dying), "3600");
    let (expiring, expiring_job) = submit(Some(&dying), "120");
    let started = Instant::now();
    while job_status(&stack, &running)["service"]["status"] != "running" {
        assert!(started.elapsed() < Duration::from_secs(60), "{}", job_status(&stack, &running));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(job_status(&stack, &queued)["service"]["status"], "queued");
    drop(providers.remove(0));

    // The dead provider's jobs stay open on chain (the one it ran posted nothing); asking after
    // them says it is unreachable.
    assert_eq!(job_status(&stack, &running)["status"], "open");
    let status = job_status(&stack, &queued);
    assert_eq!(status["status"], "open", "{status}");
    assert!(status["service"]["error"].as_str().is_some_and(|e| e.contains("unreachable")), "{status}");
    let advice = format!("`agora job refund {queued}` takes the payment back after the deadline");
    assert!(status["service"]["advice"].as_str().is_some_and(|a| a.contains(&advice)), "{status}");
    // A new job names no provider: a live one takes it, and the dead one is ranked last.
    let (fresh, submitted) = submit(None, "3600");
    let taken_by = address_of(&submitted["provider"]);
    assert!([4, 5].iter().any(|&operator| stack.address(operator) == taken_by), "{submitted}");
    let done = job_result(&stack, &fresh);
    assert_eq!(address_of(&done["provider"]), taken_by, "{done}");

    // Past its deadline, the consumer takes back the payment of the job the dead provider held;
    // not before.
    let early = stack.agora(BUYER, &["job", "refund", &expiring]);
    assert_one_line_error(&early, "has not passed");
    stack.advance(121);
    let refunded = stack.json(BUYER, &["job", "refund", &expiring]);
    assert_eq!(refunded["amount"], expiring_job["payment"], "{refunded}");

    // Back with the same database: the interrupted job runs again and the queued one runs, each
    // posting its result once; the refunded one never runs.
    let url = stack.json(DYING, &["provider", "status", &dying])["endpoint"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let _back = stack.spawn_provider(provider_run(&stack, DYING), DYING, &url);
    for job in [&running, &queued] {
        let result = job_result(&stack, job);
        assert_eq!(address_of(&result["provider"]), stack.address(DYING), "{result}");
        assert_eq!(results_posted(&stack, job), 1, "job {job} posted its result once");
    }
    let started = Instant::now();
    let status = loop {
        let status = job_status(&stack, &expiring);
        if status["service"]["status"] != "queued" {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{status}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(status["status"], "refunded", "{status}");
    assert_eq!(status["service"]["status"], "failed", "{status}");
    assert!(
        status["service"]["reason"].as_str().is_some_and(|r| r.contains("its consumer was refunded")),
        "{status}"
    );
    assert_eq!(results_posted(&stack, &expiring), 0);
}
