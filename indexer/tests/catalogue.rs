//! The catalogue the hub browses: usage counters kept by the database through purchases, jobs
//! and a reorg; an asset's revenue split, buyers and revenue; the deployment's contracts in
//! `/status`; the tag, price and access filters, the usage sorts and their cursors, and the
//! facets, over a synthetic catalogue (unlisted assets included); full-text search over ten
//! thousand synthetic assets; a document's license and tags, bounded however many it brings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};

use agora_api::{Asset, AssetFacets, AssetQuery, Client, FacetCount, FacetQuery, Revenue, SplitShare, Url};
use agora_contracts::tx;
use agora_indexer::{
    api::AppState,
    metadata::{
        FetchError, MAX_LICENSE_BYTES, MAX_TAG_BYTES, MAX_TAGS, MetadataFetcher, RetryPolicy, fetch_pending,
    },
    sync::SyncConfig,
    testing::{DESCRIPTION_WORDS, SyntheticCatalogue, seed_synthetic_catalogue},
};
use alloy::{
    primitives::{Address, U256},
    providers::ext::AnvilApi,
    rpc::types::anvil::ReorgOptions,
};
use common::{Chain, Db, Server, dump, scenario, small_ranges, sync_to_head};

/// The API over `db`'s rows of `chain_id`.
async fn serve(
    db: &Db,
    chain_id: u64,
    contracts: Option<agora_contracts::ContractAddresses>,
) -> (Server, Client) {
    let state =
        AppState { pool: db.pool.clone(), chain_id, metrics: None, max_lag: 1_000, contracts, chain: None };
    let server = Server::start(state).await;
    let client = Client::new(Url::parse(&server.base).unwrap());
    (server, client)
}

/// Buys `amount` access tokens of `asset` at its listed price; returns what was paid.
async fn buy(chain: &Chain, asset: U256, buyer: &common::Actor, amount: u64) -> U256 {
    let amount = U256::from(amount);
    let quote = tx::call("quote", chain.agora.marketplace.quote(asset, buyer.address, amount)).await.unwrap();
    let listing = tx::call("getListing", chain.agora.marketplace.getListing(asset)).await.unwrap();
    let as_buyer = chain.as_actor(buyer);
    let receipt = tx::send(
        "buy",
        as_buyer.marketplace.buy(asset, amount, Address::ZERO, U256::from(listing.price)).value(quote.cost),
    )
    .await
    .expect("buy");
    receipt.decoded_log::<agora_contracts::Marketplace::Purchased>().expect("Purchased").data.paid
}

/// The ids of a page of assets.
fn ids(assets: &[Asset]) -> Vec<String> {
    assets.iter().map(|a| a.asset_id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_counters_follow_purchases_jobs_and_reorgs_and_a_detail_has_its_split_and_revenue() {
    let (chain, db) = tokio::join!(Chain::start(), Db::start());
    let s = scenario(&chain).await;
    let config = small_ranges(64);
    sync_to_head(&chain, &db.pool, config.clone()).await;
    let (server, client) = serve(&db, chain.deployment.chain_id, Some(chain.deployment.contracts)).await;
    let (dataset, algorithm) = (s.dataset.to_string(), s.algorithm.to_string());
    let lower = |a: Address| format!("{a:#x}");

    // The scenario bought the dataset three times (4 tokens at the first price, a free one, one at
    // the second price) and ran three jobs of the dataset with the algorithm.
    let price = U256::from(1_000_000_000_000_000u64);
    let revenue = price * U256::from(4) + price * U256::from(2);
    let detail = client.asset(&dataset).await.unwrap();
    let usage = |a: &Asset| (a.sales, a.jobs, a.revenue.clone());
    assert_eq!(usage(&detail.asset), (3, 3, revenue.to_string()));
    assert_eq!((detail.sales_count, detail.jobs_count), (3, 3), "the detail's counts agree");
    let algorithm_detail = client.asset(&algorithm).await.unwrap();
    assert_eq!(usage(&algorithm_detail.asset), (0, 3, "0".to_owned()));
    // Published without a split: all of it to the publisher.
    let own = SplitShare { recipient: lower(s.publisher.address), bps: 10_000 };
    assert_eq!(
        (algorithm_detail.split.as_slice(), algorithm_detail.revenue.as_slice()),
        ([own].as_slice(), [].as_slice())
    );
    assert_eq!(algorithm_detail.buyers_count, 0);

    // Its split (recipients in the order published), one buyer, its revenue in ETH.
    let mut recipients = [s.publisher.address, s.friend.address];
    recipients.sort();
    let split: Vec<SplitShare> = recipients
        .iter()
        .zip([7_000, 3_000])
        .map(|(r, bps)| SplitShare { recipient: lower(*r), bps })
        .collect();
    assert_eq!(detail.split, split);
    assert_eq!(detail.buyers_count, 1);
    assert_eq!(detail.revenue, [Revenue { currency: lower(Address::ZERO), amount: revenue.to_string() }]);
    // The JSON names: the list of sales stays `sales`, the counters are `total*`.
    let json = server.ok(&format!("/assets/{dataset}")).await;
    assert_eq!((&json["totalSales"], &json["totalJobs"]), (&3.into(), &3.into()));
    assert_eq!(json["totalRevenue"], revenue.to_string());
    assert_eq!(json["sales"].as_array().unwrap().len(), 3);
    assert_eq!(json["revenue"][0]["amount"], revenue.to_string());

    // The usage sorts (the algorithm is delisted: asked for), ties by id, descending.
    let all = |sort: &str| AssetQuery {
        include_delisted: Some(true),
        sort: Some(sort.into()),
        ..AssetQuery::default()
    };
    let sorted = |sort: &'static str| {
        let client = client.clone();
        async move { ids(&client.assets(&all(sort)).await.unwrap().items) }
    };
    assert_eq!(sorted("sales_desc").await, [dataset.clone(), algorithm.clone()]);
    assert_eq!(sorted("revenue_desc").await, [dataset.clone(), algorithm.clone()]);
    assert_eq!(sorted("jobs_desc").await, [algorithm.clone(), dataset.clone()]);

    // A purchase by a second buyer at the tip: counted, journaled...
    let paid = buy(&chain, s.dataset, &s.friend, 2).await;
    assert!(paid > U256::ZERO);
    let mut syncer = chain.syncer(&db.pool, SyncConfig { exit_at_head: true, ..config.clone() });
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    syncer.run(shutdown.clone()).await.unwrap();
    let bought = client.asset(&dataset).await.unwrap();
    assert_eq!(usage(&bought.asset), (4, 3, (revenue + paid).to_string()));
    assert_eq!(bought.buyers_count, 2);
    assert_eq!(bought.revenue[0].amount, (revenue + paid).to_string());
    assert!(common::count(&db.pool, "SELECT count(*) FROM undo_log").await > 0, "the tip is journaled");

    // ...then orphaned by a reorg: the counters are what they were, as the database's triggers
    // undo what the rollback deletes, and the same as a fresh sync's.
    chain.provider().anvil_reorg(ReorgOptions { depth: 1, tx_block_pairs: Vec::new() }).await.unwrap();
    syncer.run(shutdown).await.unwrap();
    let rolled_back = client.asset(&dataset).await.unwrap();
    assert_eq!(usage(&rolled_back.asset), (3, 3, revenue.to_string()));
    assert_eq!((rolled_back.buyers_count, rolled_back.revenue.clone()), (1, detail.revenue.clone()));
    let fresh = db.another().await;
    sync_to_head(&chain, &fresh, config).await;
    assert_eq!(dump(&db.pool).await, dump(&fresh).await);
    let stats: Vec<(String, i64, i64, String)> = sqlx::query_as(
        "SELECT asset_id::text, sales, jobs, revenue::text FROM asset_stats ORDER BY asset_id",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        stats,
        [(dataset.clone(), 3, 3, revenue.to_string()), (algorithm.clone(), 0, 3, "0".to_owned())]
    );

    // `/status` names the deployment's contracts: enough for an asset's DID without the chain.
    let status = client.status().await.unwrap();
    let contracts = status.contracts.clone().expect("contracts");
    let c = chain.deployment.contracts;
    assert_eq!(contracts.asset_registry, lower(c.asset_registry));
    assert_eq!(contracts.marketplace, lower(c.marketplace));
    assert_eq!(contracts.revenue_splitter, lower(c.revenue_splitter));
    assert_eq!(contracts.compute_market, lower(c.compute_market));
    assert_eq!((contracts.governor, contracts.timelock), (lower(c.governor), lower(c.timelock)));
    assert_eq!(contracts.agora_token, lower(c.agora_token));
    let did = tx::call("did", chain.agora.registry.did(s.dataset)).await.unwrap();
    assert_eq!(status.did(&dataset), Some(did));
    let (without, _) = serve(&db, chain.deployment.chain_id, None).await;
    assert!(without.ok("/status").await["contracts"].is_null());
}

/// Every asset a query lists, page by page (checking that the cursor visits each once).
async fn every_page(client: &Client, query: &AssetQuery) -> Vec<Asset> {
    let mut out: Vec<Asset> = Vec::new();
    let mut cursor = None;
    loop {
        let page = client.assets(&AssetQuery { cursor: cursor.clone(), ..query.clone() }).await.unwrap();
        let full = page.items.len().to_string() == query.limit.clone().unwrap_or_else(|| "50".into());
        assert_eq!(page.next_cursor.is_some(), full, "{query:?} after {cursor:?}");
        out.extend(page.items);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let unique: HashSet<&str> = out.iter().map(|a| a.asset_id.as_str()).collect();
    assert_eq!(unique.len(), out.len(), "{query:?} lists an asset twice");
    out
}

/// The facets of `assets`, counted here.
fn facets_of(assets: &[Asset]) -> AssetFacets {
    fn top(counts: BTreeMap<String, i64>, n: usize) -> Vec<FacetCount> {
        let mut counts: Vec<FacetCount> =
            counts.into_iter().map(|(value, count)| FacetCount { value, count }).collect();
        // Most first, then by the value's bytes.
        counts.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        counts.truncate(n);
        counts
    }
    let (mut kinds, mut licenses, mut tags) = (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    for asset in assets {
        *kinds.entry(asset.kind.as_str().to_owned()).or_insert(0) += 1;
        let metadata = asset.metadata.clone().unwrap_or_default();
        if let Some(license) = metadata["license"].as_str() {
            *licenses.entry(license.to_owned()).or_insert(0) += 1;
        }
        let own: HashSet<&str> =
            metadata["tags"].as_array().into_iter().flatten().filter_map(|t| t.as_str()).collect();
        for tag in own {
            *tags.entry(tag.to_owned()).or_insert(0) += 1;
        }
    }
    let count = |f: &dyn Fn(&Asset) -> bool| assets.iter().filter(|a| f(a)).count() as i64;
    AssetFacets {
        total: assets.len() as i64,
        kinds: top(kinds, usize::MAX),
        licenses: top(licenses, 20),
        tags: top(tags, 30),
        priced: count(&|a| a.price.as_deref().is_some_and(|p| p != "0")),
        free: count(&|a| a.price.as_deref() == Some("0")),
        encrypted: count(&|a| a.encrypted == Some(true)),
        compute_only: count(&|a| a.compute_only),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_usage_sorts_and_facets_agree_over_a_synthetic_catalogue() {
    const CHAIN: u64 = 900_001;
    let db = Db::start().await;
    let catalogue = seed_synthetic_catalogue(&db.pool, CHAIN, 1_200).await.unwrap();
    let (server, client) = serve(&db, CHAIN, None).await;

    // The usage the catalogue wrote, as the counters must have it.
    let mut jobs: HashMap<u64, i64> = HashMap::new();
    for job in &catalogue.jobs {
        *jobs.entry(job.dataset_id).or_default() += 1;
        *jobs.entry(job.algorithm_id).or_default() += 1;
    }
    let expected: HashMap<String, (i64, i64, u128, u128)> = catalogue
        .assets
        .iter()
        .map(|a| {
            let revenue: u128 = a.purchases.iter().map(|p| p.paid).sum();
            let usage =
                (a.purchases.len() as i64, jobs.get(&a.asset_id).copied().unwrap_or(0), revenue, a.price);
            (a.asset_id.to_string(), usage)
        })
        .collect();
    assert!(expected.values().filter(|u| u.0 > 0).count() > 100, "some assets were bought");

    // Each sort lists every asset once, in its order, through its cursors.
    let key = |a: &Asset, sort: &str| -> u128 {
        let (sales, jobs, revenue, price) = expected[&a.asset_id];
        match sort {
            "sales_desc" => sales as u128,
            "jobs_desc" => jobs as u128,
            "revenue_desc" => revenue,
            "price_asc" | "price_desc" => price,
            _ => 0,
        }
    };
    let id = |a: &Asset| a.asset_id.parse::<u64>().unwrap();
    for sort in ["id_asc", "id_desc", "price_asc", "price_desc", "sales_desc", "jobs_desc", "revenue_desc"] {
        let query = AssetQuery {
            include_delisted: Some(true),
            sort: Some(sort.into()),
            limit: Some("37".into()),
            ..AssetQuery::default()
        };
        let listed = every_page(&client, &query).await;
        assert_eq!(listed.len(), catalogue.assets.len(), "{sort}");
        let ascending = sort.ends_with("_asc");
        for pair in listed.windows(2) {
            let (a, b) = ((key(&pair[0], sort), id(&pair[0])), (key(&pair[1], sort), id(&pair[1])));
            assert!(if ascending { a < b } else { a > b }, "{sort}: {a:?} then {b:?}");
        }
        for asset in &listed {
            let (sales, jobs, revenue, _) = expected[&asset.asset_id];
            assert_eq!((asset.sales, asset.jobs, asset.revenue.clone()), (sales, jobs, revenue.to_string()));
        }
    }

    // Each filter keeps exactly its assets, and the facets of a query count what it lists.
    let with = |change: fn(&mut AssetQuery)| {
        let mut query = AssetQuery { limit: Some("500".into()), ..AssetQuery::default() };
        change(&mut query);
        query
    };
    let queries = [
        with(|_| {}),
        with(|q| q.include_delisted = Some(true)),
        with(|q| q.tag = Some("audio".into())),
        with(|q| q.tag = Some("aud".into())),
        with(|q| q.priced = Some(true)),
        with(|q| q.priced = Some(false)),
        with(|q| q.compute_only = Some(true)),
        with(|q| q.compute_only = Some(false)),
        with(|q| {
            q.kind = Some("dataset".into());
            q.tag = Some("vision".into());
            q.priced = Some(true);
        }),
        with(|q| q.q = Some(DESCRIPTION_WORDS[1].into())),
        with(|q| q.license = Some("MIT".into())),
        with(|q| {
            q.encrypted = Some(true);
            q.include_delisted = Some(true);
        }),
        with(|q| {
            q.min_price = Some("500000000000000000".into());
            q.compute_only = Some(false);
            q.sort = Some("sales_desc".into());
        }),
    ];
    for query in &queries {
        let listed = every_page(&client, query).await;
        let synthetic: HashMap<String, &agora_indexer::testing::SyntheticAsset> =
            catalogue.assets.iter().map(|a| (a.asset_id.to_string(), a)).collect();
        for asset in &listed {
            let source = synthetic[&asset.asset_id];
            if let Some(tag) = &query.tag {
                assert!(source.tags().any(|t| t == tag), "{query:?}: {}", asset.asset_id);
            }
            if let Some(priced) = query.priced {
                assert_eq!(source.price > 0, priced, "{query:?}");
            }
            if let Some(compute_only) = query.compute_only {
                assert_eq!(asset.compute_only, compute_only, "{query:?}");
            }
            if query.include_delisted != Some(true) {
                assert!(!asset.delisted);
            }
        }
        let kept = |source: &agora_indexer::testing::SyntheticAsset| {
            (query.include_delisted == Some(true) || !source.delisted)
                && query.tag.as_ref().is_none_or(|tag| source.tags().any(|t| t == tag))
                && query.priced.is_none_or(|priced| (source.price > 0) == priced)
                && query.compute_only.is_none_or(|c| source.compute_only == c)
        };
        let only_kept = [&query.q, &query.license, &query.kind, &query.min_price].iter().all(|f| f.is_none());
        if only_kept && query.encrypted.is_none() {
            let expected: usize = catalogue.assets.iter().filter(|a| kept(a)).count();
            assert_eq!(listed.len(), expected, "{query:?}");
        }
        let facets = client.asset_facets(&FacetQuery::from(query)).await.unwrap();
        assert_eq!(facets, facets_of(&listed), "{query:?}");
    }
    let everything = client.asset_facets(&FacetQuery::default()).await.unwrap();
    assert!(everything.total > 1_000 && everything.kinds.len() == 5, "{everything:?}");
    assert_eq!((everything.licenses.len(), everything.tags.len()), (12, 30));
    assert!(everything.priced > 0 && everything.free > 0 && everything.encrypted > 0);
    let none = client.asset_facets(&FacetQuery { tag: Some("aud".into()), ..FacetQuery::default() }).await;
    assert_eq!(none.unwrap(), AssetFacets::default());

    // An asset whose listing is not indexed sorts as a free one (price 0), by id among them: each
    // price sort still lists every asset once, in order, through cursors on both sides of 0.
    let unlisted: HashSet<u64> = (1..=1_200).step_by(97).collect();
    let unlisted_ids: Vec<i64> = unlisted.iter().map(|id| *id as i64).collect();
    sqlx::query("DELETE FROM listings WHERE chain_id = $1 AND asset_id = ANY($2::bigint[]::numeric[])")
        .bind(CHAIN as i64)
        .bind(&unlisted_ids)
        .execute(&db.pool)
        .await
        .unwrap();
    let price = |a: &Asset| if unlisted.contains(&id(a)) { 0 } else { expected[&a.asset_id].3 };
    for sort in ["price_asc", "price_desc"] {
        let query = AssetQuery {
            include_delisted: Some(true),
            sort: Some(sort.into()),
            limit: Some("37".into()),
            ..AssetQuery::default()
        };
        let listed = every_page(&client, &query).await;
        assert_eq!(listed.len(), catalogue.assets.len(), "{sort}");
        assert_eq!(listed.iter().filter(|a| a.price.is_none()).count(), unlisted.len(), "{sort}");
        for pair in listed.windows(2) {
            let (a, b) = ((price(&pair[0]), id(&pair[0])), (price(&pair[1]), id(&pair[1])));
            assert!(if sort == "price_asc" { a < b } else { a > b }, "{sort}: {a:?} then {b:?}");
        }
    }

    // Bad parameters: 400, naming the parameter.
    let long_tag = "t".repeat(2_048);
    server.bad("/assets?sort=best", "sort").await;
    server.bad("/assets?sort=best", "sales_desc, jobs_desc, revenue_desc").await;
    server.bad("/assets?priced=maybe", "priced").await;
    server.bad("/assets?compute_only=sometimes", "compute_only").await;
    server.bad(&format!("/assets?tag={long_tag}"), "tag").await;
    server.bad("/assets?sort=sales_desc&cursor=12", "cursor").await;
    server.bad("/assets?sort=revenue_desc&cursor=x:1", "cursor").await;
    server.bad("/assets?sort=jobs_desc&cursor=1:-1", "cursor").await;
    server.bad("/assets/facets?priced=maybe", "priced").await;
    server.bad(&format!("/assets/facets?tag={long_tag}"), "tag").await;
    server.bad("/assets/facets?sort=id_asc", "sort").await;
    server.bad("/assets/facets?kind=song", "kind").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_search_over_ten_thousand_synthetic_assets_finds_exactly_its_matches() {
    const CHAIN: u64 = 900_002;
    let db = Db::start().await;
    let catalogue: SyntheticCatalogue = seed_synthetic_catalogue(&db.pool, CHAIN, 10_000).await.unwrap();
    let (_server, client) = serve(&db, CHAIN, None).await;
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM asset_metadata WHERE search IS NOT NULL")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!(stored, 10_000);

    // A frequent word, a rare one, and two words (both must be there).
    let last = DESCRIPTION_WORDS[DESCRIPTION_WORDS.len() - 1];
    let searches: [(&str, Vec<&str>); 3] = [
        (DESCRIPTION_WORDS[0], vec![DESCRIPTION_WORDS[0]]),
        (last, vec![last]),
        ("annotated hourly", vec!["annotated", "hourly"]),
    ];
    for (q, words) in searches {
        let expected: HashSet<String> = catalogue
            .assets
            .iter()
            .filter(|a| !a.delisted && words.iter().all(|w| a.description_words().any(|d| d == *w)))
            .map(|a| a.asset_id.to_string())
            .collect();
        assert!(!expected.is_empty(), "{q}");
        for sort in ["id_asc", "sales_desc"] {
            let query = AssetQuery {
                q: Some(q.into()),
                sort: Some(sort.into()),
                limit: Some("500".into()),
                ..AssetQuery::default()
            };
            let found: HashSet<String> =
                every_page(&client, &query).await.into_iter().map(|a| a.asset_id).collect();
            assert_eq!(found, expected, "q={q} sort={sort}");
        }
        let facets =
            client.asset_facets(&FacetQuery { q: Some(q.into()), ..FacetQuery::default() }).await.unwrap();
        assert_eq!(facets.total, expected.len() as i64, "{q}");
    }
}

/// One document, whatever the CID.
struct OneDocument(String);

impl MetadataFetcher for OneDocument {
    async fn fetch(&self, _cid: &str) -> Result<Vec<u8>, FetchError> {
        Ok(self.0.as_bytes().to_vec())
    }
}

/// A document with as many and as long tags and license as it likes, of text that does not
/// compress, is stored: what the catalogue keeps of it is bounded (the first `MAX_TAGS` tags of
/// at most `MAX_TAG_BYTES`, a license of at most `MAX_LICENSE_BYTES`), so its index entries fit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_largest_tags_and_license_a_document_can_bring_are_stored_and_filtered() {
    const CHAIN: u64 = 900_003;
    let db = Db::start().await;
    let mut rng = common::Rng(0x7a65);
    let mut noise =
        |len: usize| -> String { (0..len).map(|_| char::from(b'!' + (rng.next() % 94) as u8)).collect() };
    let tags: Vec<String> = (0..1_000)
        .map(|i| if i % 2 == 0 { noise(MAX_TAG_BYTES) } else { noise(MAX_TAG_BYTES + 1) })
        .collect();
    let license = noise(MAX_LICENSE_BYTES);
    let document = serde_json::json!({ "name": "Many tags", "license": license, "tags": tags });
    let cid = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku";
    sqlx::query(
        "INSERT INTO assets (chain_id, asset_id, owner, access_token, kind, compute_only, access_duration,
           version, content_digest, metadata_cid, published_block, updated_block)
         VALUES ($1, 1, '\\x01', '\\x02', 0, FALSE, 0, 1, '\\x03', $2, 1, 1)",
    )
    .bind(CHAIN as i64)
    .bind(cid)
    .execute(&db.pool)
    .await
    .unwrap();
    let fetcher = OneDocument(document.to_string());
    let report = fetch_pending(&db.pool, &fetcher, &RetryPolicy::default(), 10).await.unwrap();
    assert_eq!((report.fetched, report.failed), (1, 0));

    let (_server, client) = serve(&db, CHAIN, None).await;
    let tagged = |tag: &str| {
        let client = client.clone();
        let query = AssetQuery { tag: Some(tag.to_owned()), ..AssetQuery::default() };
        async move { ids(&client.assets(&query).await.unwrap().items) }
    };
    let kept: Vec<&String> = tags.iter().filter(|t| t.len() <= MAX_TAG_BYTES).collect();
    assert_eq!(tagged(kept[MAX_TAGS - 1]).await, ["1"]);
    assert!(tagged(kept[MAX_TAGS]).await.is_empty(), "past the first {MAX_TAGS}");
    assert!(tagged(&tags[1]).await.is_empty(), "longer than {MAX_TAG_BYTES} bytes");
    let facets = client.asset_facets(&FacetQuery::default()).await.unwrap();
    assert_eq!(facets.licenses, [FacetCount { value: license, count: 1 }]);
    assert_eq!(facets.tags.len(), MAX_TAGS);
}
