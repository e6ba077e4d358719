//! A synthetic catalogue, for benchmarks and tests of the read side (the API's search, sorts and
//! facets, the hub's pages) at a size no scripted chain reaches quickly: thousands of assets
//! with listings, versions, varied metadata documents, purchases, holders and compute jobs,
//! written straight into the derived tables of one chain id.
//!
//! [`synthetic_catalogue`] is pure and deterministic (the same `n` always gives the same
//! catalogue), so a test can compute what a query should answer; [`seed_synthetic_catalogue`]
//! writes it. The documents are stored by the metadata loop's own code, so their search
//! vectors, encryption flags and key holders are derived exactly as a fetched document's; the
//! usage counters (`asset_stats`) are kept by the database's triggers, as for indexed rows.
//! Nothing here is on chain: use a chain id no indexer writes.

use agora_api::AssetKind;
use alloy::primitives::{Address, B256};
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::{db::DbError, metadata};

/// One synthetic asset, as written.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticAsset {
    /// Its id: 1 to `n`.
    pub asset_id: u64,
    /// Its owner, one of a few dozen.
    pub owner: Address,
    /// What it is.
    pub kind: AssetKind,
    /// Whether it is compute-only.
    pub compute_only: bool,
    /// Its listing's price in wei (ETH); a quarter are free (0).
    pub price: u128,
    /// Whether its listing is withdrawn (one in fifty).
    pub delisted: bool,
    /// Its metadata document: name, description, license, tags, kind, content (encrypted for
    /// one in seven).
    pub document: Value,
    /// Its purchases, in the order written.
    pub purchases: Vec<SyntheticPurchase>,
}

/// One synthetic purchase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticPurchase {
    /// The buyer, one of a few hundred.
    pub buyer: Address,
    /// Access tokens bought.
    pub amount: u64,
    /// What was paid: the price times the amount.
    pub paid: u128,
}

/// One synthetic compute job: a dataset run with an algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyntheticJob {
    /// Its id, from 1.
    pub job_id: u64,
    /// The dataset.
    pub dataset_id: u64,
    /// The algorithm.
    pub algorithm_id: u64,
}

/// A synthetic catalogue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SyntheticCatalogue {
    /// The assets, by id.
    pub assets: Vec<SyntheticAsset>,
    /// The jobs, by id.
    pub jobs: Vec<SyntheticJob>,
}

impl SyntheticAsset {
    /// The words of its description (lowercase, separated by spaces).
    pub fn description_words(&self) -> impl Iterator<Item = &str> {
        self.document["description"].as_str().unwrap_or_default().split(' ')
    }

    /// Its tags (which may repeat, as in a careless document).
    pub fn tags(&self) -> impl Iterator<Item = &str> {
        self.document["tags"].as_array().into_iter().flatten().filter_map(Value::as_str)
    }

    /// Its license.
    pub fn license(&self) -> &str {
        self.document["license"].as_str().unwrap_or_default()
    }
}

/// Words of the descriptions, none of which appears in a name, tag, license or kind, so a
/// search for one finds exactly the assets whose description has it. The first are the most
/// frequent.
#[rustfmt::skip]
pub const DESCRIPTION_WORDS: &[&str] = &[
    "recordings", "annotated", "samples", "measurements", "labelled", "curated", "hourly", "daily",
    "calibrated", "sensors", "images", "transcripts", "survey", "archive", "cleaned", "raw", "weights",
    "trained", "finetuned", "quantized", "pipeline", "benchmarks", "validated", "stations", "readings",
    "snapshots", "frames", "spectra", "counts", "volunteers", "experts", "field", "laboratory",
    "historical", "realtime", "compressed", "deduplicated", "anonymized", "licensed", "public", "regional",
    "national", "global", "municipal", "littoral", "mountain", "river", "harbour", "village",
    "metropolitan", "northern", "southern", "eastern", "western", "seasonal", "annual", "decade", "century",
    "morning", "evening", "nocturnal", "migratory", "endangered", "invasive", "native", "domestic", "wild",
    "captive", "juvenile", "adult", "female", "male", "healthy", "diseased", "resistant", "fragile",
    "robust", "sparse", "dense", "noisy", "clean", "balanced", "skewed", "complete", "partial", "versioned",
    "reproducible", "documented", "audited", "certified", "experimental", "preliminary", "final", "revised",
    "extended", "minimal", "exhaustive", "parallel", "distributed", "incremental", "streaming", "batched",
    "tokenized", "normalized", "aligned", "geotagged", "timestamped", "indexed", "sharded",
];

#[rustfmt::skip]
const NAME_ADJECTIVES: &[&str] = &[
    "Coastal", "Urban", "Arctic", "Desert", "Alpine", "Tropical", "Lunar", "Solar", "Marine", "Forest",
    "Prairie", "Volcanic",
];
#[rustfmt::skip]
const NAME_NOUNS: &[&str] = &[
    "birdsong", "traffic", "rainfall", "seismic", "glacier", "reef", "pollen", "aurora", "tide", "wildfire",
    "harvest", "plankton",
];
/// Tags, most frequent first.
#[rustfmt::skip]
pub const TAGS: &[&str] = &[
    "audio", "vision", "text", "tabular", "geospatial", "timeseries", "medical", "finance", "climate",
    "biology", "robotics", "speech", "translation", "ocean", "agriculture", "energy", "transport",
    "astronomy", "chemistry", "genomics", "retail", "sports", "music", "legal", "education", "security",
    "satellite", "weather", "social", "gaming", "benchmark", "synthetic", "multilingual", "embeddings",
    "classification", "segmentation", "detection", "forecasting", "clustering", "anomaly",
];
/// Licenses, most frequent first.
#[rustfmt::skip]
pub const LICENSES: &[&str] = &[
    "CC-BY-4.0", "MIT", "Apache-2.0", "CC0-1.0", "CC-BY-SA-4.0", "GPL-3.0", "ODbL-1.0", "BSD-3-Clause",
    "MPL-2.0", "Unlicense", "CC-BY-NC-4.0", "proprietary",
];

/// One milli-ether: the price unit.
const FINNEY: u128 = 1_000_000_000_000_000;
/// The first block of the synthetic purchases and jobs (assets are published at blocks 1 to n).
const USAGE_BLOCK: u64 = 10_000_000;

/// xorshift64*: a reproducible sequence per asset.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        // Never 0, which xorshift cannot leave.
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        // `n` is a list's length: far below 2^32.
        usize::try_from(self.next() % n.max(1) as u64).unwrap_or_default()
    }

    /// An index below `n`, the low ones more often (the smaller of two draws).
    fn skewed(&mut self, n: usize) -> usize {
        self.below(n).min(self.below(n))
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[self.skewed(from.len())]
    }
}

/// The address numbered `n` in a family (`family` in its first byte).
fn address(family: u8, n: u64) -> Address {
    let mut bytes = [0u8; 20];
    bytes[0] = family;
    bytes[12..].copy_from_slice(&n.to_be_bytes());
    Address::from(bytes)
}

fn hash(family: u8, n: u64) -> B256 {
    let mut bytes = [0u8; 32];
    bytes[0] = family;
    bytes[24..].copy_from_slice(&n.to_be_bytes());
    B256::from(bytes)
}

/// The metadata CID of synthetic asset `id`.
pub fn synthetic_cid(id: u64) -> String {
    format!("bafksynthetic{id:08}")
}

/// Asset `id` of a synthetic catalogue.
fn synthetic_asset(id: u64) -> SyntheticAsset {
    let mut rng = Rng::new(id);
    // Mostly datasets and models, some algorithms, a few apps and notebooks.
    let kind = [
        AssetKind::Dataset,
        AssetKind::Dataset,
        AssetKind::Dataset,
        AssetKind::Model,
        AssetKind::Model,
        AssetKind::Algorithm,
        AssetKind::Algorithm,
        AssetKind::App,
        AssetKind::Notebook,
    ][rng.below(9)];
    let owner = address(0x0a, rng.skewed(40) as u64);
    let price = if rng.one_in(4) { 0 } else { (1 + u128::from(rng.next() % 1_000)) * FINNEY };
    let words: Vec<&str> = (0..10 + rng.below(16)).map(|_| rng.pick(DESCRIPTION_WORDS)).collect();
    let tags: Vec<&str> = (0..1 + rng.below(4)).map(|_| rng.pick(TAGS)).collect();
    let encrypted = rng.one_in(7);
    let mut content = json!({ "cid": format!("bafkcontent{id:08}"), "size": 1_000 + rng.next() % 1_000_000 });
    if encrypted {
        content["encryption"] = json!({
            "scheme": "x25519-aes-256-gcm",
            "wrappedKeys": [{ "holder": format!("{owner:#x}"), "key": format!("{:#x}", hash(0x0e, id)) }],
        });
    }
    let document = json!({
        "name": format!("{} {} {id}", rng.pick(NAME_ADJECTIVES), rng.pick(NAME_NOUNS)),
        "description": words.join(" "),
        "license": rng.pick(LICENSES),
        "tags": tags,
        "kind": kind.as_str(),
        "content": content,
    });
    let purchases = if price == 0 || rng.one_in(3) {
        (0..rng.skewed(8))
            .map(|_| {
                let amount = 1 + rng.next() % 3;
                SyntheticPurchase {
                    buyer: address(0x0b, rng.skewed(300) as u64),
                    amount,
                    paid: price * u128::from(amount),
                }
            })
            .collect()
    } else {
        Vec::new()
    };
    SyntheticAsset {
        asset_id: id,
        owner,
        kind,
        compute_only: rng.one_in(8),
        price,
        delisted: rng.one_in(50),
        document,
        purchases,
    }
}

/// The synthetic catalogue of `n` assets (ids 1 to `n`) and their jobs: a dataset in four is
/// run with up to three algorithms.
pub fn synthetic_catalogue(n: u64) -> SyntheticCatalogue {
    let assets: Vec<SyntheticAsset> = (1..=n).map(synthetic_asset).collect();
    let algorithms: Vec<u64> =
        assets.iter().filter(|a| a.kind == AssetKind::Algorithm).map(|a| a.asset_id).collect();
    let mut jobs = Vec::new();
    if !algorithms.is_empty() {
        for dataset in assets.iter().filter(|a| a.kind == AssetKind::Dataset) {
            let mut rng = Rng::new(dataset.asset_id ^ 0x5eed);
            if !rng.one_in(4) {
                continue;
            }
            for _ in 0..1 + rng.below(3) {
                let algorithm_id = algorithms[rng.skewed(algorithms.len())];
                let job_id = jobs.len() as u64 + 1;
                jobs.push(SyntheticJob { job_id, dataset_id: dataset.asset_id, algorithm_id });
            }
        }
    }
    SyntheticCatalogue { assets, jobs }
}

fn i64_of(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn failed(action: &'static str) -> impl FnOnce(sqlx::Error) -> DbError {
    move |source| DbError::Query { action, source }
}

/// Writes [`synthetic_catalogue`]`(n)` as chain `chain_id`'s: assets, listings (ETH), first
/// versions, purchases, the buyers' balances and jobs, in one transaction; then each metadata
/// document, through the metadata loop's own store, four at a time; then vacuums and analyzes
/// those tables. Returns the catalogue.
/// The chain must hold no assets yet.
pub async fn seed_synthetic_catalogue(
    pool: &PgPool,
    chain_id: u64,
    n: u64,
) -> Result<SyntheticCatalogue, DbError> {
    let catalogue = synthetic_catalogue(n);
    let chain = i64_of(chain_id);
    let assets = &catalogue.assets;
    let ids: Vec<i64> = assets.iter().map(|a| i64_of(a.asset_id)).collect();
    let owners: Vec<Vec<u8>> = assets.iter().map(|a| a.owner.to_vec()).collect();
    let tokens: Vec<Vec<u8>> = assets.iter().map(|a| address(0x0c, a.asset_id).to_vec()).collect();
    let kinds: Vec<i16> = assets
        .iter()
        .map(|a| {
            AssetKind::ALL.iter().position(|k| *k == a.kind).and_then(|k| i16::try_from(k).ok()).unwrap_or(0)
        })
        .collect();
    let compute_only: Vec<bool> = assets.iter().map(|a| a.compute_only).collect();
    let digests: Vec<Vec<u8>> = assets.iter().map(|a| hash(0x0d, a.asset_id).to_vec()).collect();
    let cids: Vec<String> = assets.iter().map(|a| synthetic_cid(a.asset_id)).collect();
    let prices: Vec<String> = assets.iter().map(|a| a.price.to_string()).collect();
    let delisted: Vec<bool> = assets.iter().map(|a| a.delisted).collect();
    let txs: Vec<Vec<u8>> = assets.iter().map(|a| hash(0x0f, a.asset_id).to_vec()).collect();

    let mut tx = pool.begin().await.map_err(failed("begin"))?;
    sqlx::query(
        "INSERT INTO assets (chain_id, asset_id, owner, access_token, kind, compute_only, access_duration,
           version, content_digest, metadata_cid, published_block, updated_block)
         SELECT $1, u.id, u.owner, u.token, u.kind, u.compute_only, 0, 1, u.digest, u.cid, u.id, u.id
         FROM UNNEST($2::bigint[], $3::bytea[], $4::bytea[], $5::smallint[], $6::boolean[], $7::bytea[],
           $8::text[]) AS u(id, owner, token, kind, compute_only, digest, cid)",
    )
    .bind(chain)
    .bind(&ids)
    .bind(&owners)
    .bind(&tokens)
    .bind(&kinds)
    .bind(&compute_only)
    .bind(&digests)
    .bind(&cids)
    .execute(&mut *tx)
    .await
    .map_err(failed("write synthetic assets"))?;
    sqlx::query(
        "INSERT INTO access_tokens (chain_id, address, asset_id, block_number)
         SELECT $1, u.token, u.id, u.id FROM UNNEST($2::bigint[], $3::bytea[]) AS u(id, token)",
    )
    .bind(chain)
    .bind(&ids)
    .bind(&tokens)
    .execute(&mut *tx)
    .await
    .map_err(failed("write synthetic access tokens"))?;
    sqlx::query(
        "INSERT INTO listings (chain_id, asset_id, currency, price, free_per_address, delisted)
         SELECT $1, u.id, $4, u.price::numeric, 0, u.delisted
         FROM UNNEST($2::bigint[], $3::text[], $5::boolean[]) AS u(id, price, delisted)",
    )
    .bind(chain)
    .bind(&ids)
    .bind(&prices)
    .bind(Address::ZERO.to_vec())
    .bind(&delisted)
    .execute(&mut *tx)
    .await
    .map_err(failed("write synthetic listings"))?;
    sqlx::query(
        "INSERT INTO asset_versions (chain_id, asset_id, version, content_digest, metadata_cid, block_number,
           tx_hash, block_timestamp)
         SELECT $1, u.id, 1, u.digest, u.cid, u.id, u.tx, 1700000000 + u.id * 12
         FROM UNNEST($2::bigint[], $3::bytea[], $4::text[], $5::bytea[]) AS u(id, digest, cid, tx)",
    )
    .bind(chain)
    .bind(&ids)
    .bind(&digests)
    .bind(&cids)
    .bind(&txs)
    .execute(&mut *tx)
    .await
    .map_err(failed("write synthetic versions"))?;

    let purchases: Vec<(&SyntheticAsset, &SyntheticPurchase)> =
        assets.iter().flat_map(|a| a.purchases.iter().map(move |p| (a, p))).collect();
    let blocks: Vec<i64> = (0..purchases.len() as u64).map(|k| i64_of(USAGE_BLOCK + k)).collect();
    sqlx::query(
        "INSERT INTO purchases (chain_id, block_number, log_index, tx_hash, asset_id, buyer, currency, amount,
           free_amount, paid, fee)
         SELECT $1, u.b, 0, u.tx, u.id, u.buyer, $7, u.amount, 0, u.paid::numeric, div(u.paid::numeric, 40)
         FROM UNNEST($2::bigint[], $3::bytea[], $4::bigint[], $5::bytea[], $6::bigint[], $8::text[])
           AS u(b, tx, id, buyer, amount, paid)",
    )
    .bind(chain)
    .bind(&blocks)
    .bind(blocks.iter().map(|b| hash(0x10, b.unsigned_abs()).to_vec()).collect::<Vec<_>>())
    .bind(purchases.iter().map(|(a, _)| i64_of(a.asset_id)).collect::<Vec<_>>())
    .bind(purchases.iter().map(|(_, p)| p.buyer.to_vec()).collect::<Vec<_>>())
    .bind(purchases.iter().map(|(_, p)| i64_of(p.amount)).collect::<Vec<_>>())
    .bind(Address::ZERO.to_vec())
    .bind(purchases.iter().map(|(_, p)| p.paid.to_string()).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .map_err(failed("write synthetic purchases"))?;
    sqlx::query(
        "INSERT INTO access_balances (chain_id, token, holder, balance)
         SELECT p.chain_id, a.access_token, p.buyer, sum(p.amount) FROM purchases p
         JOIN assets a ON a.chain_id = p.chain_id AND a.asset_id = p.asset_id
         WHERE p.chain_id = $1 GROUP BY p.chain_id, a.access_token, p.buyer",
    )
    .bind(chain)
    .execute(&mut *tx)
    .await
    .map_err(failed("write synthetic balances"))?;

    let jobs = &catalogue.jobs;
    sqlx::query(
        "INSERT INTO jobs (chain_id, job_id, consumer, provider, dataset_id, algorithm_id, order_id, currency,
           payment, deadline, spec_cid, status, opened_block, updated_block)
         SELECT $1, u.id, $5, $6, u.dataset, u.algorithm, u.id, $7, 0, 0, 'bafkspec', 'finalized', u.b, u.b
         FROM UNNEST($2::bigint[], $3::bigint[], $4::bigint[], $8::bigint[]) AS u(id, dataset, algorithm, b)",
    )
    .bind(chain)
    .bind(jobs.iter().map(|j| i64_of(j.job_id)).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| i64_of(j.dataset_id)).collect::<Vec<_>>())
    .bind(jobs.iter().map(|j| i64_of(j.algorithm_id)).collect::<Vec<_>>())
    .bind(address(0x0b, 0).to_vec())
    .bind(address(0x11, 0).to_vec())
    .bind(Address::ZERO.to_vec())
    .bind(jobs.iter().map(|j| i64_of(USAGE_BLOCK + j.job_id)).collect::<Vec<_>>())
    .execute(&mut *tx)
    .await
    .map_err(failed("write synthetic jobs"))?;
    tx.commit().await.map_err(failed("commit the synthetic catalogue"))?;

    futures::stream::iter(assets.iter().zip(&cids))
        .map(|(asset, cid)| async move {
            metadata::store(pool, cid, &asset.document, 1).await.map_err(failed("store synthetic metadata"))
        })
        .buffer_unordered(4)
        .try_collect::<()>()
        .await?;
    // What autovacuum does soon after a large write, done now: the planner's statistics (without
    // them PostgreSQL plans for nearly empty tables) and the visibility map, so that reads are
    // measured as they run on a settled database, not beside a vacuum.
    sqlx::raw_sql(
        "VACUUM (ANALYZE) assets, access_tokens, listings, asset_versions, purchases, access_balances,
           jobs, asset_stats, asset_metadata, asset_lineage",
    )
    .execute(pool)
    .await
    .map_err(failed("vacuum and analyze the synthetic catalogue"))?;
    Ok(catalogue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalogue_is_deterministic_and_varied() {
        let catalogue = synthetic_catalogue(2_000);
        assert_eq!(catalogue, synthetic_catalogue(2_000));
        let assets = &catalogue.assets;
        for kind in AssetKind::ALL {
            assert!(assets.iter().any(|a| a.kind == kind), "{kind}");
        }
        assert!(assets.iter().any(|a| a.price == 0) && assets.iter().any(|a| a.price > 0));
        assert!(assets.iter().any(|a| a.delisted) && assets.iter().any(|a| a.compute_only));
        assert!(assets.iter().any(|a| !a.purchases.is_empty()));
        assert!(!catalogue.jobs.is_empty());
        let encrypted = assets.iter().filter(|a| metadata::derive(&a.document).encrypted).count();
        assert!(encrypted > 100 && encrypted < 600, "{encrypted}");
        assert!(
            assets
                .iter()
                .any(|a| a.tags().count() > a.tags().collect::<std::collections::HashSet<_>>().len())
        );
        // The description words are their own: a search for one finds descriptions only.
        let kinds = AssetKind::ALL.map(AssetKind::as_str);
        let others = [NAME_ADJECTIVES, NAME_NOUNS, TAGS, LICENSES, &kinds];
        for word in others.into_iter().flatten().flat_map(|w| w.split(|c: char| !c.is_alphanumeric())) {
            assert!(!DESCRIPTION_WORDS.contains(&word.to_lowercase().as_str()), "{word}");
        }
    }
}
