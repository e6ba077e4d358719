//! The web hub over a real stack (anvil, PostgreSQL, Kubo, indexer, provider, `agora hub`),
//! seeded by the journeys: a priced dataset, a dataset whose card is hostile, the MiniLM model,
//! a few more datasets, a purchase, an embed job with its signed receipt, a DAO proposal with a
//! vote. The hub's pages are checked over HTTP (status codes, what each shows, bad input, a
//! burst of concurrent requests, an unreachable indexer), then in a real headless Chromium by
//! the Playwright specs in hub/tests/browser/ (search, filters, pagination, the sanitized card,
//! usage counts, the tally, the in-page receipt check, 404 and 503 pages, axe), which save
//! screenshots of every page type at 375 and 1280 px under target/hub-screenshots/.

use std::{process::Command, time::Duration};

use agora_contracts::AgoraGovernor;
use agora_e2e::*;
use alloy::{primitives::U256, providers::ProviderBuilder};
use serde_json::{Value, json};

const PUBLISHER: usize = 1;
const BUYER: usize = 2;
/// The account of the browser's test wallet (hub/tests/browser/test-wallet.ts).
const BROWSER: usize = 4;
const OPERATOR: usize = 9;
/// Assets per catalogue page: small, so a few assets make several pages.
const PAGE_SIZE: usize = 5;
/// Datasets published besides the named ones, to page through.
const FILLERS: usize = 5;

/// The resumable download's size: large enough to be cut off halfway.
const LARGE_BYTES: usize = 6 * 1024 * 1024;

const SENTENCES: &str = "{\"text\":\"A nightingale sings at night.\"}\n\
{\"text\":\"A finch with a curved beak sings on the island.\"}\n\
{\"text\":\"Two dogs play in the snow.\"}\n";

/// A card written to break the page: script, script URLs, event handlers, a remote image (which
/// must wait for a click) and nesting far deeper than any page should render.
fn hostile_card() -> String {
    format!(
        "# Hostile card\n\n<script>alert('card')</script>\n\n[click](javascript:alert(1))\n\n<img src=x onerror=alert(1)>\n\n![finch](https://img.example/finch.png)\n\n{} deep",
        ">".repeat(1000)
    )
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}")).to_owned()
}

/// `agora hub` over `indexer` (and, when given, a provider and Kubo), its pages on a loopback port.
fn hub(chain: &Chain, indexer: &str, provider: Option<&str>, ipfs_api: Option<&str>, log: &str) -> Service {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut command = Service::command(binary("agora"));
    command.args(["hub", "--indexer", indexer, "--listen", &listen, "--page-size", &PAGE_SIZE.to_string()]);
    if let Some(provider) = provider {
        command.args(["--provider", provider]);
    }
    if let Some(api) = ipfs_api {
        command.args(["--ipfs-api", api, "--max-upload-mib", &MAX_UPLOAD_MIB.to_string()]);
    }
    Service::start(chain, command, log, format!("http://{listen}"))
}

/// `GET url`: the status and the body as text.
fn page(url: &str) -> (u16, String) {
    block_on(async {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .unwrap_or_else(|err| panic!("HTTP client: {err}"));
        let response = client.get(url).send().await.unwrap_or_else(|err| panic!("GET {url}: {err}"));
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_else(|err| panic!("GET {url}: {err}")))
    })
}

/// `POST url` with a JSON `body`: the status and the answer (null when it is not JSON).
fn post_json(url: &str, body: &str) -> (u16, Value) {
    block_on(async {
        let client = reqwest::Client::new();
        let request = client.post(url).header("content-type", "application/json").body(body.to_owned());
        let response = request.send().await.unwrap_or_else(|err| panic!("POST {url}: {err}"));
        (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
    })
}

/// A page that must answer 200.
fn ok(hub: &Service, path: &str) -> String {
    let (status, body) = page(&format!("{}{path}", hub.url));
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// How many asset cards a page lists.
fn cards(html: &str) -> usize {
    html.matches("<li class=\"card\" data-asset-id=").count()
}

#[test]
fn the_hub_shows_what_the_journeys_made_and_passes_its_browser_specs() {
    let (postgres, kubo) = services();
    let mut chain = Chain::deployed();
    chain.ipfs_api = Some(kubo.api_url());
    let mut indexer = indexer(&chain, &postgres, &kubo);

    // An operator runs a provider for the job and its receipt; it is also a pinning service
    // for the hub's operator's token.
    let pinning_digest = alloy::hex::encode(<sha2::Sha256 as sha2::Digest>::digest(HUB_PIN_TOKEN.as_bytes()));
    let (_provider, provider_url) = registered_provider_edited(&chain, &kubo, OPERATOR, "0.01", |config| {
        config.replace("tokens_sha256 = []", &format!("tokens_sha256 = [\"{pinning_digest}\"]"))
    });
    let operator = chain.address(OPERATOR).to_string();

    // The catalogue: a priced (so encrypted) dataset, a hostile card, the model, fillers.
    let write = |name: &str, contents: &str| {
        let path = chain.dir.path().join(name);
        std::fs::write(&path, contents).unwrap_or_else(|err| panic!("{err}"));
        path.to_string_lossy().into_owned()
    };
    let publish = |args: &[&str]| text(&chain.json(PUBLISHER, args)["assetId"]);
    let songs = write("songs.jsonl", SENTENCES);
    let description = "Field recordings of the nightingale, transcribed one sentence per line.";
    let card = write("card.md", "## How it was made\n\nRecorded at dusk; one **sentence** per line.");
    let sample = write("sample.jsonl", "{\"text\":\"A nightingale sings at night.\"}\n");
    // The sample is a public preview: the content itself is refused as one.
    let refused = chain.run(
        PUBLISHER,
        &["asset", "publish", &songs, "--kind", "dataset", "--price", "0.001", "--sample", &songs],
    );
    assert_one_line_error(&refused, "is the content itself");
    #[rustfmt::skip]
    let dataset = publish(&[
        "asset", "publish", &songs, "--kind", "dataset", "--price", "0.001", "--name", "Nightingale recordings",
        "--description", description, "--license", "CC-BY-4.0", "--card", &card, "--tag", "birdsong",
        "--tag", "audio", "--sample", &sample,
    ]);
    let hostile_file = write("hostile.csv", "a,b\n1,2\n");
    let hostile_card = write("hostile.md", &hostile_card());
    let hostile = publish(&[
        "asset",
        "publish",
        &hostile_file,
        "--kind",
        "dataset",
        "--price",
        "0",
        "--name",
        "Hostile card",
        "--card",
        &hostile_card,
    ]);
    let model = chain.dir.path().join("all-MiniLM-L6-v2");
    std::fs::create_dir(&model).unwrap_or_else(|err| panic!("{err}"));
    let installed = agora_deploy::services::model::minilm_dir().unwrap_or_else(|missing| panic!("{missing}"));
    for name in agora_deploy::services::model::MINILM_FILES {
        std::fs::copy(installed.join(name), model.join(name)).unwrap_or_else(|err| panic!("{name}: {err}"));
    }
    let model = model.to_string_lossy().into_owned();
    let model = publish(&["asset", "publish", &model, "--kind", "model", "--price", "0", "--name", "MiniLM"]);
    let mut fillers = Vec::new();
    for i in 0..FILLERS {
        let file = write(&format!("sparrows-{i}.csv"), &format!("n\n{i}\n"));
        fillers.push(publish(&[
            "asset",
            "publish",
            &file,
            "--kind",
            "dataset",
            "--price",
            "0",
            "--name",
            &format!("Sparrow counts {i}"),
        ]));
    }
    // A dataset sold in an EIP-2612 stablecoin, which the browser's wallet holds.
    let usd = chain.stablecoin(chain.address(BROWSER), 100_000_000);
    let usd_file = write("finches.csv", "beak,wing\n11.2,64\n");
    // Its public sample is a Parquet table written by PyArrow.
    let parquet_sample = repo_root().join("client/tests/fixtures/finches.parquet");
    #[rustfmt::skip]
    let usd_asset = publish(&[
        "asset", "publish", &usd_file, "--kind", "dataset", "--price", "2.5", "--currency", &usd.to_string(),
        "--name", "Finch beaks", "--sample", &parquet_sample.to_string_lossy(),
    ]);
    // A larger free dataset whose orders last an hour, for a download the browser resumes.
    let wrens: Vec<u8> = (0..LARGE_BYTES).map(|i| (i * 7 % 251) as u8).collect();
    let wrens_file = chain.dir.path().join("wrens.bin");
    std::fs::write(&wrens_file, &wrens).unwrap_or_else(|err| panic!("{err}"));
    #[rustfmt::skip]
    let large = publish(&[
        "asset", "publish", &wrens_file.to_string_lossy(), "--kind", "dataset", "--price", "0",
        "--access-duration", "3600", "--name", "Wren songs",
    ]);
    // Votes for the browser's wallet (dev account 4): 5 % of the supply, enough for the 4 %
    // quorum on its own.
    give_votes(&chain, BROWSER, U256::from(5_000_000u64) * U256::from(10u64).pow(U256::from(18)));
    let published = 5 + FILLERS;
    // One filler is delisted by the DAO below: hidden from the catalogue, shown with a banner.
    let delisted = fillers[0].clone();
    let asset_count = published - 1;

    // A buyer buys two tokens and spends one on an embed job, whose receipt the job page checks.
    chain.json(BUYER, &["asset", "buy", &dataset, "--amount", "2"]);
    let spec = r#"{"kind":"embed","batch_size":2}"#;
    let submit =
        ["job", "submit", "--dataset", &dataset, "--model", &model, "--provider", &operator, "--spec", spec];
    let job = text(&chain.json(BUYER, &submit)["jobId"]);
    chain.json(BUYER, &["job", "result", &job, "--wait", "300", "--output", "out"]);

    // A DAO proposal with one vote.
    chain.json(0, &["dao", "delegate"]);
    let proposal = chain.json(
        0,
        &["dao", "propose", "--description", "Fee to 1.5%\n\nCheaper data for everyone.", "set-fee", "150"],
    );
    let proposal = text(&proposal["proposalId"]);
    // The governor's clock is the block timestamp: voting opens a second after the proposal.
    chain.rpc("evm_increaseTime", json!([2]));
    chain.rpc("anvil_mine", json!([1]));
    chain.json(0, &["dao", "vote", &proposal, "for"]);
    let governor = AgoraGovernor::new(
        chain.manifest().contracts.governor,
        ProviderBuilder::new().connect_http(chain.anvil.endpoint_url()),
    );
    let id: U256 = proposal.parse().unwrap_or_else(|err| panic!("{err}"));
    let tally =
        block_on(governor.proposalVotes(id).call()).unwrap_or_else(|err| panic!("proposalVotes: {err}"));
    // A second proposal, executed: delist a filler.
    let reason = text(&chain.json(PUBLISHER, &["asset", "show", &delisted])["metadataCid"]);
    let delist = chain.json(
        0,
        &[
            "dao",
            "propose",
            "--description",
            "Delist the sparrows",
            "delist",
            &delisted,
            "--reason-cid",
            &reason,
        ],
    );
    let delist = text(&delist["proposalId"]);
    chain.rpc("evm_increaseTime", json!([2]));
    chain.rpc("anvil_mine", json!([1]));
    chain.json(0, &["dao", "vote", &delist, "for"]);
    // Past the local preset's five minutes of voting.
    chain.rpc("evm_increaseTime", json!([301]));
    chain.rpc("anvil_mine", json!([1]));
    chain.json(0, &["dao", "queue", &delist]);
    chain.rpc("evm_increaseTime", json!([2]));
    chain.rpc("anvil_mine", json!([1]));
    chain.json(0, &["dao", "execute", &delist]);

    indexer.synced(&chain);
    indexer.wait("every asset's metadata fetched", |indexer| {
        let page = indexer.get("/assets?limit=100&include_delisted=true");
        page["items"].as_array().is_some_and(|items| {
            items.len() == published && items.iter().all(|a| a["metadataStatus"] == "fetched")
        })
    });

    let hub = hub(&chain, &indexer.url, Some(&provider_url), Some(&kubo.api_url()), "hub.log");

    // The catalogue, its search, filters and pages.
    let home = ok(&hub, "/");
    assert_eq!(cards(&home), PAGE_SIZE, "{home}");
    assert!(home.contains("rel=\"next\""), "{home}");
    let found = ok(&hub, "/assets?q=nightingale");
    assert_eq!(cards(&found), 1, "{found}");
    assert!(
        found.contains(&format!("data-asset-id=\"{dataset}\"")) && found.contains("Nightingale recordings"),
        "{found}"
    );
    let models = ok(&hub, "/assets?kind=model");
    assert_eq!(cards(&models), 1, "{models}");
    assert!(models.contains("MiniLM"), "{models}");
    assert!(home.contains(&format!("data-total=\"{asset_count}\"")), "the facet total: {home}");
    let tagged = ok(&hub, "/assets?tag=birdsong");
    assert_eq!(cards(&tagged), 1, "{}: {tagged}", indexer.get(&format!("/assets/{dataset}"))["metadata"]);
    let priced = ok(&hub, "/assets?priced=true");
    assert_eq!(cards(&priced), 2, "the nightingale recordings and the finch beaks are priced: {priced}");
    let bought = ok(&hub, "/assets?sort=most_bought");
    let first = bought.split("data-asset-id=\"").nth(1).and_then(|rest| rest.split('"').next());
    assert_eq!(first, Some(dataset.as_str()), "the one bought asset leads the most bought: {bought}");
    let encrypted = ok(&hub, "/assets?encrypted=true");
    assert_eq!(cards(&encrypted), 2, "only the priced datasets are encrypted: {encrypted}");
    let mut seen = 0;
    let mut next = Some("/assets?sort=oldest".to_owned());
    while let Some(path) = next.take() {
        let body = ok(&hub, &path);
        seen += cards(&body);
        next = body
            .split("rel=\"next\" href=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .map(|href| href.replace("&amp;", "&"));
    }
    assert_eq!(seen, asset_count, "paging through the catalogue shows every asset once");

    // The asset page: usage as the indexer counts it, the verification facts.
    let detail = indexer.get(&format!("/assets/{dataset}"));
    let asset_page = ok(&hub, &format!("/assets/{dataset}"));
    for (name, key) in [
        ("sales", "salesCount"),
        ("holders", "holdersCount"),
        ("orders", "ordersCount"),
        ("jobs", "jobsCount"),
    ] {
        let expected = format!("data-count=\"{name}\">{}<", detail[key]);
        assert!(asset_page.contains(&expected), "{expected} in {asset_page}");
    }
    assert_eq!((detail["salesCount"].clone(), detail["jobsCount"].clone()), (json!(1), json!(1)), "{detail}");
    assert!(asset_page.contains(&text(&detail["contentDigest"])), "the digest is shown");
    let did = text(&chain.json(PUBLISHER, &["asset", "show", &dataset])["did"]);
    assert!(asset_page.contains(&did.to_lowercase()), "{did} on {asset_page}");
    assert!(
        asset_page.contains("data-recipient=") && asset_page.contains("100 %"),
        "the split: {asset_page}"
    );
    assert!(asset_page.contains("<title>Nightingale recordings · Agora</title>"), "{asset_page}");
    assert!(asset_page.contains("property=\"og:title\""));
    // Its card, tags and the public preview of its sample.
    assert!(
        asset_page.contains("<h3>How it was made</h3>") && asset_page.contains("<strong>sentence</strong>"),
        "{asset_page}"
    );
    assert!(asset_page.contains("birdsong") && asset_page.contains("id=\"preview\""), "{asset_page}");
    assert!(asset_page.contains("<td>A nightingale sings at night.</td>"), "{asset_page}");
    let parquet_page = ok(&hub, &format!("/assets/{usd_asset}"));
    assert!(
        parquet_page.contains("finches.parquet") && parquet_page.contains("<td>Genovesa</td>"),
        "{parquet_page}"
    );
    // A stablecoin price in its units, as the indexer read them from the token.
    assert!(parquet_page.contains("2.5 mUSD") && !parquet_page.contains("units of"), "{parquet_page}");
    let currencies = indexer.get("/currencies");
    let musd = json!({ "currency": usd.to_string().to_lowercase(), "symbol": "mUSD", "decimals": 6, "allowed": true });
    assert_eq!(currencies["items"][1], musd, "{currencies}");

    // The hostile card is rendered as text: nothing that runs, nothing loaded.
    let hostile_page = ok(&hub, &format!("/assets/{hostile}"));
    let card_html = hostile_page
        .split("id=\"card\"")
        .nth(1)
        .and_then(|rest| rest.split("</article>").next())
        .unwrap_or_default();
    assert!(
        card_html.contains("&lt;script&gt;alert('card')&lt;/script&gt;")
            || card_html.contains("&lt;script&gt;alert(&#39;card&#39;)"),
        "{card_html}"
    );
    for forbidden in ["<script", "<img", "javascript:alert"] {
        assert!(!card_html.contains(forbidden), "{forbidden} in the card: {card_html}");
    }
    assert!(
        card_html.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "the raw HTML is shown as text: {card_html}"
    );
    assert!(card_html.contains("data-src=\"https://img.example/finch.png\""), "{card_html}");
    assert!(
        card_html.matches("<blockquote>").count() <= agora_hub::markdown::MAX_DEPTH,
        "nesting is bounded"
    );

    // The proposal's tally as the Governor counts it.
    let proposal_page = ok(&hub, &format!("/dao/proposals/{proposal}"));
    for (vote, value) in
        [("for", tally.forVotes), ("against", tally.againstVotes), ("abstain", tally.abstainVotes)]
    {
        let expected = format!("data-votes=\"{vote}\" data-raw=\"{value}\"");
        assert!(proposal_page.contains(&expected), "{expected} in {proposal_page}");
    }
    assert!(tally.forVotes > U256::ZERO);
    assert!(proposal_page.contains("Set the protocol fee to 1.5 %"), "the action in words: {proposal_page}");
    let dao = ok(&hub, "/dao");
    assert!(dao.contains(&format!("data-proposal-id=\"{proposal}\"")), "{dao}");
    assert!(dao.contains("data-setting=\"protocol-fee\">2.5 %<"), "the deployed fee: {dao}");

    // The delisted asset is out of the catalogue, and its page says why it cannot be bought.
    assert!(!ok(&hub, "/assets?q=sparrow").contains(&format!("data-asset-id=\"{delisted}\"")));
    let delisted_page = ok(&hub, &format!("/assets/{delisted}"));
    assert!(delisted_page.contains("class=\"banner delisted\""), "{delisted_page}");
    assert!(ok(&hub, &format!("/dao/proposals/{delist}")).contains(&format!("Delist asset {delisted}")));

    // The job page carries the provider's receipt; its event stream starts with the job.
    let job_page = ok(&hub, &format!("/jobs/{job}"));
    assert!(job_page.contains("id=\"receipt-json\""), "{job_page}");
    assert!(job_page.contains(&format!("data-provider=\"{}\"", operator.to_lowercase())), "{job_page}");
    let first_event = block_on(async {
        let mut response = reqwest::get(format!("{}/jobs/{job}/events", hub.url))
            .await
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk()).await;
        String::from_utf8_lossy(&chunk.ok().and_then(Result::ok).flatten().unwrap_or_default()).into_owned()
    });
    assert!(first_event.contains("event: job") && first_event.contains("result_posted"), "{first_event}");
    assert!(ok(&hub, "/providers").contains(&operator.to_lowercase()));
    let provider_page = ok(&hub, &format!("/providers/{operator}"));
    assert!(provider_page.contains("data-health=\"up\""), "{provider_page}");
    assert!(provider_page.contains("data-jobs=\"1\""), "{provider_page}");
    assert!(
        job_page.contains(&format!("href=\"/assets/{model}\"")) && job_page.contains(" as dataset"),
        "{job_page}"
    );
    assert!(ok(&hub, &format!("/accounts/{}", chain.address(PUBLISHER))).contains("Nightingale recordings"));
    // The buyer's spent token, with how long it serves.
    let buyer = ok(&hub, &format!("/accounts/{}", chain.address(BUYER)));
    assert!(buyer.contains("data-expires=\"0\">single use<"), "{buyer}");
    let voter = ok(&hub, &format!("/accounts/{}", chain.address(0)));
    assert!(
        voter.contains(&format!("href=\"/dao/proposals/{proposal}\"")) && voter.contains("Votes cast (2)"),
        "{voter}"
    );

    // Where the page downloads from: the hub's provider, which is also the one registered provider
    // holding the key, listed once with its health.
    let (status, body) = page(&format!("{}/api/assets/{dataset}/providers", hub.url));
    assert_eq!(status, 200, "{body}");
    let listed: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(
        text(&listed[0]["endpoint"]).trim_end_matches('/'),
        provider_url.trim_end_matches('/'),
        "{listed}"
    );
    assert_eq!(listed[0]["address"], operator.as_str(), "{listed}");
    assert_eq!(listed[0]["healthy"], true, "{listed}");

    // Wrong, hostile and oversized input: a clear page with the right status, and the hub stays up.
    let long = "x".repeat(4096);
    let cases: [(&str, u16, &str); 14] = [
        ("/api/assets/not-a-number/providers", 400, "decimal digits"),
        ("/api/assets/999999/providers", 404, "no asset 999999"),
        (&format!("/api/assets/{}/providers", "9".repeat(200)), 400, "decimal digits"),
        ("/assets/999999", 404, "role=\"search\""),
        ("/no/such/page", 404, "Not found"),
        ("/jobs/999999", 404, "Not found"),
        ("/assets/not-a-number", 400, "asset id"),
        ("/assets?sort=bogus", 400, "sort"),
        ("/assets?kind=video", 400, "kind"),
        ("/assets?encrypted=maybe", 400, "encrypted"),
        ("/assets?priced=yes", 400, "priced"),
        ("/assets?sort=popular", 400, "most_bought"),
        ("/assets?q=%00", 400, "NUL"),
        ("/accounts/0xnot-an-address", 400, "address"),
    ];
    for (path, status, needle) in cases {
        let (got, body) = page(&format!("{}{path}", hub.url));
        assert_eq!(got, status, "GET {path}: {body}");
        assert!(body.contains(needle), "GET {path}: {needle} missing: {body}");
    }
    let (status, body) = page(&format!("{}/assets?q={long}", hub.url));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("longer than"), "{body}");

    // A burst of concurrent page loads is served in full.
    let statuses = block_on(async {
        let client = reqwest::Client::new();
        let requests = (0..60).map(|i| {
            let url = match i % 3 {
                0 => format!("{}/", hub.url),
                1 => format!("{}/assets/{dataset}", hub.url),
                _ => format!("{}/assets?q=sparrow", hub.url),
            };
            let client = client.clone();
            async move { client.get(url).send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        });
        futures::future::join_all(requests).await
    });
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    // A hub whose indexer is unreachable says so, and keeps serving.
    let down = hub_without_indexer(&chain);
    for _ in 0..2 {
        let (status, body) = page(&format!("{}/", down.url));
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("data-service=\"indexer\""), "{body}");
    }

    // What waits for the publisher in the splitter (its sales), as the indexer reads it from the
    // chain, on its account page.
    let publisher = chain.address(PUBLISHER).to_string();
    let revenue = indexer.get(&format!("/accounts/{publisher}/revenue"));
    let waiting = text(&revenue["items"][0]["assetId"]);
    assert_eq!(waiting, dataset, "{revenue}");
    let account_page = ok(&hub, &format!("/accounts/{publisher}"));
    assert!(account_page.contains(&format!("data-waiting=\"{dataset}\"")), "{account_page}");

    // Running a job from the page: the form offers the inputs and providers, the chosen ones
    // selected, and says who holds an encrypted input's key (checked before paying).
    let new_job = ok(&hub, &format!("/jobs/new?dataset={dataset}&model={model}"));
    assert!(new_job.contains("id=\"job-form\""), "{new_job}");
    assert!(new_job.contains(&format!("value=\"{dataset}\" selected")), "{new_job}");
    assert!(new_job.contains(&format!("value=\"{model}\" selected")), "{new_job}");
    let option = new_job
        .split(&format!("value=\"{dataset}\" selected"))
        .nth(1)
        .and_then(|rest| rest.split('>').next());
    let holders =
        option.and_then(|o| o.split("data-key-holders=\"").nth(1)).and_then(|rest| rest.split('"').next());
    assert!(holders.is_some_and(|h| h.split(',').any(|a| a == operator.to_lowercase())), "{option:?}");
    assert!(
        ok(&hub, &format!("/assets/{dataset}")).contains(&format!("href=\"/jobs/new?dataset={dataset}\""))
    );

    // A dispute's reason goes on IPFS through the hub, as the CLI writes it; nothing else does.
    let reason_url = format!("{}/api/disputes/reason", hub.url);
    let said = "The embeddings do not reproduce.";
    let (status, added) = post_json(&reason_url, &json!({ "jobId": job, "reason": said }).to_string());
    assert_eq!(status, 201, "{added}");
    let stored = block_on(async {
        let cat = format!("{}/api/v0/cat?arg={}", kubo.api_url(), text(&added["cid"]));
        let response =
            reqwest::Client::new().post(&cat).send().await.unwrap_or_else(|err| panic!("{cat}: {err}"));
        response.json::<Value>().await.unwrap_or_else(|err| panic!("{cat}: {err}"))
    });
    assert_eq!(stored, json!({ "jobId": job, "reason": said }));
    #[rustfmt::skip]
    let refused = [
        (json!({ "jobId": "1e9", "reason": "r" }).to_string(), "decimal digits"),
        (json!({ "jobId": "9".repeat(79), "reason": "r" }).to_string(), "decimal digits"),
        (json!({ "jobId": job, "reason": "  " }).to_string(), "printable"),
        (json!({ "jobId": job, "reason": "a\u{1b}[31mb" }).to_string(), "printable"),
        (json!({ "jobId": job, "reason": "x".repeat(2001) }).to_string(), "printable"),
        (json!({ "jobId": job, "reason": "r", "pin": "everything" }).to_string(), "unknown field"),
        ("not json".to_owned(), "expected"),
    ];
    for (body, needle) in refused {
        let (status, answer) = post_json(&reason_url, &body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains(needle)), "{body}: {answer}");
    }
    let (status, _) = post_json(&reason_url, &"x".repeat(20 * 1024));
    assert_eq!(status, 413, "a body over the hub's limit");
    let (status, answer) = post_json(
        &format!("{}/api/disputes/reason", down.url),
        &json!({ "jobId": job, "reason": said }).to_string(),
    );
    assert_eq!(status, 503, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("--ipfs-api")), "{answer}");

    publish_api_refuses_what_the_cli_would(&hub, &down, &operator, &kubo.api_url());
    publishing_waits_for_the_networks_pinning_service(
        &chain,
        &indexer.url,
        &provider_url,
        &kubo.api_url(),
        &dataset,
    );

    // The same pages in a real browser.
    let fixture = json!({
        "pageSize": PAGE_SIZE,
        "assetCount": asset_count,
        "search": { "word": "nightingale", "assetId": dataset, "name": "Nightingale recordings" },
        "hostile": { "assetId": hostile },
        "asset": {
            "assetId": dataset,
            "sales": detail["salesCount"], "holders": detail["holdersCount"],
            "orders": detail["ordersCount"], "jobs": detail["jobsCount"], "versions": detail["historyCount"],
        },
        "proposal": {
            "proposalId": proposal,
            "for": tally.forVotes.to_string(), "against": tally.againstVotes.to_string(), "abstain": tally.abstainVotes.to_string(),
        },
        "job": { "jobId": job },
        "compute": { "modelId": model, "provider": operator.to_lowercase() },
        "owner": chain.address(PUBLISHER).to_string().to_lowercase(),
        "wallet": {
            "rpcUrl": chain.anvil.endpoint(),
            "account": chain.address(BROWSER).to_string(),
            "chainId": chain.manifest().chain_id,
        },
        "eth": { "assetId": dataset, "digest": detail["contentDigest"], "content": SENTENCES },
        "usd": { "assetId": usd_asset, "token": usd.to_string() },
        "browserPublish": {
            "name": BROWSER_ASSET, "modelName": BROWSER_MODEL,
            "maxUpload": MAX_UPLOAD_MIB * 1024 * 1024, "content": BROWSER_CSV,
        },
        "large": {
            "assetId": large, "size": LARGE_BYTES,
            "digest": indexer.get(&format!("/assets/{large}"))["contentDigest"],
        },
    });
    let fixture_path = chain.dir.path().join("hub-fixture.json");
    std::fs::write(&fixture_path, fixture.to_string()).unwrap_or_else(|err| panic!("{err}"));
    let root = repo_root();
    let playwright = root.join("node_modules/.bin/playwright");
    assert!(playwright.is_file(), "{} missing: run ./scripts/setup.sh", playwright.display());
    let out = Command::new(&playwright)
        .current_dir(&root)
        .args(["test", "-c", "hub/tests/browser/playwright.config.ts", "--project=hub"])
        .env("HUB_URL", &hub.url)
        .env("HUB_DOWN_URL", &down.url)
        .env("HUB_FIXTURE", &fixture_path)
        .output()
        .unwrap_or_else(|err| panic!("running {}: {err}", playwright.display()));
    // Shown with `--nocapture`: which specs ran and how long each took.
    println!("{}", String::from_utf8_lossy(&out.stdout));
    assert!(
        out.status.success(),
        "the browser specs failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    browser_sealed_assets_read_back_with_the_cli(&chain, &indexer, &provider_url);
}

/// The upload limit of the test hub (`--max-upload-mib`).
const MAX_UPLOAD_MIB: u64 = 1;
/// What the publish spec (`wallet-publish.spec.ts`) publishes from the browser, priced and sealed.
const BROWSER_CSV: &str = "species,wing_mm\nzebra finch,55\ngouldian finch,58\nstrawberry finch,48\n";
const BROWSER_ASSET: &str = "Browser finches";
const BROWSER_MODEL: &str = "Browser tiny model";

/// What the browser sealed, read back by the CLI's code: a buyer downloads the priced CSV through
/// the provider (which unwraps its copy of the key and decrypts the STREAM chunks) and gets the
/// bytes the page read; the owner re-encrypts both assets with `agora asset rekey`, which unwraps
/// the owner's copy (wrapped in the browser for the key its signature gave) and checks the
/// decrypted content (the model's manifest and each file) against the digests.
fn browser_sealed_assets_read_back_with_the_cli(chain: &Chain, indexer: &Service, provider: &str) {
    let find = |name: &str| {
        let found = indexer.get(&format!("/assets?q={}", name.replace(' ', "+")));
        let items = found["items"].as_array().cloned().unwrap_or_default();
        let asset = items
            .iter()
            .find(|a| a["metadata"]["name"].as_str().is_some_and(|n| n.starts_with(name)))
            .unwrap_or_else(|| panic!("the browser's {name:?} is not in the catalogue: {found}"));
        text(&asset["assetId"])
    };
    let (csv, model) = (find(BROWSER_ASSET), find(BROWSER_MODEL));
    chain.json(BUYER, &["asset", "buy", &csv]);
    let out = chain.dir.path().join("browser-finches.csv");
    let out_text = out.display().to_string();
    chain.json(BUYER, &["asset", "download", &csv, "--provider", provider, "--output", &out_text]);
    assert_eq!(std::fs::read_to_string(&out).unwrap_or_default(), BROWSER_CSV);
    for id in [&csv, &model] {
        let rekeyed = chain.json(BROWSER, &["asset", "rekey", id]);
        assert_eq!(text(&rekeyed["assetId"]), *id, "{rekeyed}");
    }
}

/// The publish page's API refuses, with a status and a reason, what `agora asset publish` would:
/// metadata that is malformed, hostile or oversized, content in the clear that is compute-only, a
/// key wrapped for nobody; uploads over the limit, and on a hub that takes none. The providers
/// that can hold a key are listed with the key their address is made from.
fn publish_api_refuses_what_the_cli_would(hub: &Service, down: &Service, operator: &str, kubo_api: &str) {
    let url = format!("{}/api/metadata", hub.url);
    let cid = "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy";
    let header = json!({ "scheme": "chacha20poly1305-stream-be32", "chunkSize": 65536, "noncePrefix": "0x01020304050607", "plaintextSize": 10 });
    let content = json!({ "cid": cid, "size": 10, "fileName": "a.csv" });
    let files =
        json!([{ "name": "a.csv", "cid": cid, "size": 10, "sha256": format!("0x{}", "ab".repeat(32)) }]);
    let new = |edit: &dyn Fn(&mut Value)| {
        let mut body =
            json!({ "name": "A", "kind": "dataset", "content": content, "files": files, "tags": ["t"] });
        edit(&mut body);
        body.to_string()
    };
    let (status, written) = post_json(&url, &new(&|_| {}));
    assert_eq!(status, 201, "{written}");
    assert!(written["cid"].as_str().is_some_and(|c| c.starts_with("baf")), "{written}");
    #[rustfmt::skip]
    let refused: [(String, &str); 14] = [
        (new(&|b| b["name"] = json!("  ")), "the name must be"),
        (new(&|b| b["name"] = json!("a\u{7}b")), "the name must be"),
        (new(&|b| b["kind"] = json!("virus")), "`kind` must be one of"),
        (new(&|b| b["kind"] = json!("algorithm")), "checks the module first"),
        (new(&|b| b["tags"] = json!(["Not A Tag"])), "lowercase letters"),
        (new(&|b| b["license"] = json!("<script>")), "SPDX"),
        (new(&|b| b["card"] = json!("x".repeat(70 * 1024))), "a card is at most"),
        (new(&|b| b["computeOnly"] = json!(true)), "compute-only content must be encrypted"),
        (new(&|b| b["content"]["encryption"] = header.clone()), "wrapped for nobody"),
        (new(&|b| b["content"]["cid"] = json!("../../etc/passwd")), "is not a CID"),
        (new(&|b| b["content"]["fileName"] = json!("../a.csv")), "without a path"),
        (new(&|b| b["assetId"] = json!("1")), "keeps the asset's kind"),
        (new(&|b| b["pin"] = json!(true)), "unknown field"),
        ("[]".to_owned(), "expected"),
    ];
    for (body, needle) in refused {
        let (status, answer) = post_json(&url, &body);
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| e.contains(needle)), "{needle}: {answer}");
    }
    let (status, answer) = post_json(&url, &json!({ "assetId": "99999", "name": "x" }).to_string());
    assert_eq!(status, 400, "{answer}");
    assert!(answer["error"].as_str().is_some_and(|e| e.contains("there is no asset 99999")), "{answer}");
    let (status, _) = post_json(&url, &"x".repeat(300 * 1024));
    assert_eq!(status, 413, "a document over what a provider reads");
    let (status, preview) = post_json(
        &format!("{}/api/markdown", hub.url),
        &json!({ "markdown": "**b**<img src=x onerror=alert(1)>" }).to_string(),
    );
    assert_eq!(status, 200, "{preview}");
    let html = text(&preview["html"]);
    assert!(html.contains("<strong>b</strong>") && !html.contains("<img"), "{html}");

    let upload = |url: &str, bytes: usize| {
        block_on(async {
            let response = reqwest::Client::new()
                .post(format!("{url}/api/uploads"))
                .body(vec![7u8; bytes])
                .send()
                .await
                .unwrap_or_else(|err| panic!("upload: {err}"));
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        })
    };
    let (status, uploaded) = upload(&hub.url, 1000);
    assert_eq!(status, 201, "{uploaded}");
    assert_eq!(uploaded["size"], 1000, "{uploaded}");
    assert_eq!(text(&uploaded["sha256"]), {
        use sha2::Digest;
        alloy::hex::encode_prefixed(sha2::Sha256::digest([7u8; 1000]))
    });
    let (status, answer) = upload(&hub.url, (MAX_UPLOAD_MIB * 1024 * 1024 + 1) as usize);
    assert_eq!(status, 413, "{answer}");
    // Without a length announced, the hub counts the bytes and cuts the upload at its limit;
    // Kubo's add fails, so nothing partial is pinned.
    let pins = || {
        block_on(async {
            let url = format!("{}/api/v0/pin/ls?type=recursive", kubo_api);
            let response =
                reqwest::Client::new().post(&url).send().await.unwrap_or_else(|err| panic!("{url}: {err}"));
            let listed: Value = response.json().await.unwrap_or_default();
            listed["Keys"].as_object().map_or(0, serde_json::Map::len)
        })
    };
    let pinned = pins();
    let (status, answer) = block_on(async {
        let chunks = (0..=(MAX_UPLOAD_MIB * 4)).map(|_| Ok::<_, std::io::Error>(vec![9u8; 256 * 1024]));
        let response = reqwest::Client::new()
            .post(format!("{}/api/uploads", hub.url))
            .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
            .send()
            .await
            .unwrap_or_else(|err| panic!("upload: {err}"));
        (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
    });
    assert_eq!(status, 413, "{answer}");
    assert_eq!(pins(), pinned, "a cut upload pinned something");
    let (status, answer) = upload(&down.url, 10);
    assert_eq!(status, 503, "{answer}");
    assert!(text(&answer["error"]).contains("does not take uploads"), "{answer}");

    let (status, holders) = page(&format!("{}/api/key-holders", hub.url));
    assert_eq!(status, 200, "{holders}");
    let holders: Value = serde_json::from_str(&holders).unwrap_or_default();
    let listed =
        holders.as_array().and_then(|all| all.iter().find(|h| h["provider"] == operator.to_lowercase()));
    let key = listed.and_then(|h| h["publicKey"].as_str()).unwrap_or_else(|| panic!("{holders}"));
    let key = alloy::hex::decode(key).unwrap_or_default();
    assert_eq!(
        alloy::primitives::Address::from_raw_public_key(&key[1..]).to_string().to_lowercase(),
        operator.to_lowercase()
    );
}

/// The token the provider's pinning service accepts from the hub's operator.
const HUB_PIN_TOKEN: &str = "hub-operator-pinning-token";

/// A hub on a network whose `[pinning]` table names the provider's pinning service writes a new
/// asset's metadata (or a new version of an asset's) only once the service keeps it and its
/// content, says so, and refuses (502, before the wallet is asked) when the service does not
/// take its token.
fn publishing_waits_for_the_networks_pinning_service(
    chain: &Chain,
    indexer: &str,
    provider: &str,
    kubo_api: &str,
    asset: &str,
) {
    let networks = chain.dir.path().join("pinning-networks.toml");
    std::fs::write(
        &networks,
        format!(
            "[networks.local]\nchain_id = 31337\nrpc_url = \"http://127.0.0.1:8545\"\n\
             [networks.local.pinning]\nreplicas = 1\nwait_secs = 60\n\
             [[networks.local.pinning.services]]\nname = \"hub-archive\"\nendpoint = \"{provider}/pinning\"\nkey_env = \"HUB_PIN_KEY\"\n"
        ),
    )
    .unwrap_or_else(|err| panic!("{err}"));
    let pinned_hub = |key: &str, log: &str| {
        let listen = format!("127.0.0.1:{}", free_port());
        let mut command = Service::command(binary("agora"));
        command
            .args(["hub", "--indexer", indexer, "--listen", &listen, "--ipfs-api", kubo_api])
            .args(["--max-upload-mib", "1"])
            .env("AGORA_NETWORKS_FILE", &networks)
            .env("HUB_PIN_KEY", key);
        Service::start(chain, command, log, format!("http://{listen}"))
    };
    let write = |hub: &Service, bytes: Vec<u8>| {
        let uploaded = block_on(async {
            let response = reqwest::Client::new()
                .post(format!("{}/api/uploads", hub.url))
                .body(bytes)
                .send()
                .await
                .unwrap_or_else(|err| panic!("upload: {err}"));
            response.json::<Value>().await.unwrap_or(Value::Null)
        });
        let cid = text(&uploaded["cid"]);
        let files = json!([{ "name": "kept.csv", "cid": cid, "size": uploaded["size"], "sha256": uploaded["sha256"] }]);
        let content = json!({ "cid": cid, "size": uploaded["size"], "fileName": "kept.csv" });
        let body = json!({ "name": "Kept", "kind": "dataset", "content": content, "files": files });
        post_json(&format!("{}/api/metadata", hub.url), &body.to_string())
    };

    let hub = pinned_hub(HUB_PIN_TOKEN, "hub-pinned.log");
    let (status, written) = write(&hub, b"kept by the archive\n".to_vec());
    assert_eq!(status, 201, "{written}");
    assert_eq!(
        written["replicas"],
        json!([{ "service": "hub-archive", "statuses": ["pinned", "pinned"] }]),
        "{written}"
    );
    // An owner's new version of an asset's document too, with the content it keeps.
    let version = json!({ "assetId": asset, "name": "Nightingale recordings, revised" });
    let (status, written) = post_json(&format!("{}/api/metadata", hub.url), &version.to_string());
    assert_eq!(status, 201, "{written}");
    assert_eq!(written["replicas"][0]["statuses"], json!(["pinned", "pinned"]), "{written}");

    let refused = pinned_hub("not-the-token", "hub-refused.log");
    let (status, answer) = write(&refused, b"not kept\n".to_vec());
    assert_eq!(status, 502, "{answer}");
    let error = text(&answer["error"]);
    assert!(
        error.contains("hub-archive: unreachable") && error.contains("nothing was sent to your wallet"),
        "{error}"
    );
}

/// Sends `amount` AGORA from dev account 0 (granted 10 % of the supply by the local allocation)
/// to dev account `to`.
fn give_votes(chain: &Chain, to: usize, amount: U256) {
    use agora_contracts::{AgoraToken, signing_provider, tx};
    let signer: alloy::signers::local::PrivateKeySigner =
        chain.key(0).parse().unwrap_or_else(|err| panic!("{err}"));
    let token = AgoraToken::new(
        chain.manifest().contracts.agora_token,
        signing_provider(chain.anvil.endpoint_url(), signer),
    );
    block_on(tx::send("AGORA transfer", token.transfer(chain.address(to), amount)))
        .unwrap_or_else(|err| panic!("{err}"));
}

/// A hub over an indexer address nothing listens on.
fn hub_without_indexer(chain: &Chain) -> Service {
    let nobody = format!("http://127.0.0.1:{}", free_port());
    hub(chain, &nobody, None, None, "hub-down.log")
}
