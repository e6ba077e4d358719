//! The catalogue: assets, their versions, sales, holders, lineage, revenue split and usage, the
//! search query, and the facets of a search.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::names;

/// What an asset is, as its publisher declared it on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AssetKind {
    /// A dataset.
    Dataset,
    /// A trained model.
    Model,
    /// An algorithm (a WASI module run by a compute provider).
    Algorithm,
    /// An application.
    App,
    /// A notebook.
    Notebook,
    /// A kind code this version of the API does not know (a newer contract's), or any name it
    /// does not know when reading.
    #[serde(other)]
    Unknown,
}

names!(AssetKind {
    Dataset => "dataset",
    Model => "model",
    Algorithm => "algorithm",
    App => "app",
    Notebook => "notebook",
    Unknown => "unknown",
});

impl AssetKind {
    /// Every kind an asset can be published as, in the order of the contract's kind codes
    /// (`ALL[code]`); [`AssetKind::Unknown`] is not one.
    pub const ALL: [AssetKind; 5] =
        [AssetKind::Dataset, AssetKind::Model, AssetKind::Algorithm, AssetKind::App, AssetKind::Notebook];
}

/// Where fetching an asset's metadata document from IPFS stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MetadataStatus {
    /// Not tried yet, or a failure waiting for its retry.
    Pending,
    /// Stored and searchable.
    Fetched,
    /// Given up: a document that can never be stored, or every attempt failed.
    Failed,
}

names!(MetadataStatus { Pending => "pending", Fetched => "fetched", Failed => "failed" });

/// An asset as `/assets` lists it: its on-chain state, its listing, and its current metadata
/// document once fetched.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Asset {
    /// The asset id: a decimal uint256.
    pub asset_id: String,
    /// The owner: a lowercase 0x-prefixed address.
    pub owner: String,
    /// The asset's access-token contract (an ERC-1155 clone): a lowercase 0x-prefixed address.
    pub access_token: String,
    /// What the asset is.
    pub kind: AssetKind,
    /// Whether the content is only ever computed on by a provider, never downloaded.
    pub compute_only: bool,
    /// Seconds an access order stays valid; 0 means single use.
    pub access_duration: i64,
    /// The current version, from 1 at publish; each metadata update adds one.
    pub version: i32,
    /// The digest of the current content: 0x-prefixed lowercase hex of 32 bytes.
    pub content_digest: String,
    /// The IPFS CID of the current metadata document.
    pub metadata_cid: String,
    /// The currency of the price: a lowercase 0x-prefixed address, the zero address for ETH;
    /// null when the asset has no listing.
    pub currency: Option<String>,
    /// The price of one access token: a decimal uint256 in the currency's base units; null
    /// when the asset has no listing.
    pub price: Option<String>,
    /// Access tokens each address may take for free before paying; null without a listing.
    pub free_per_address: Option<i32>,
    /// Whether the listing is withdrawn (the asset stays readable, but cannot be bought).
    pub delisted: bool,
    /// The block the asset was published in.
    pub published_block: i64,
    /// The current metadata document (free-form JSON: name, description, license, kind, tags,
    /// content, derivedFrom, ...); null until fetched.
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
    /// Where fetching the metadata document stands.
    pub metadata_status: MetadataStatus,
    /// Why the last fetch attempt failed; null when it did not.
    pub metadata_error: Option<String>,
    /// Fetch attempts so far.
    pub metadata_attempts: i32,
    /// Whether the fetched metadata has `content.encryption` (the content on IPFS is
    /// ciphertext); null until the metadata is fetched.
    pub encrypted: Option<bool>,
    /// Holders of the wrapped content keys (`content.encryption.wrappedKeys[].holder`, or
    /// `.provider` in older documents): lowercase 0x-prefixed addresses, each once; null until
    /// the metadata is fetched.
    pub key_holders: Option<Vec<String>>,
    /// How many purchases of its access tokens there were (free claims included). JSON
    /// `totalSales`: `sales` is the list of sales in `/assets/{id}`.
    #[serde(rename = "totalSales")]
    pub sales: i64,
    /// How many compute jobs used it as an input (as dataset or as algorithm; once per job).
    /// JSON `totalJobs`.
    #[serde(rename = "totalJobs")]
    pub jobs: i64,
    /// What its buyers paid in all, the sum of its sales' `paid` in base units of its currency: a
    /// decimal integer (`revenue` of `/assets/{id}` splits it by currency, for an asset whose
    /// listing changed currency). JSON `totalRevenue`.
    #[serde(rename = "totalRevenue")]
    pub revenue: String,
}

/// One asset (`/assets/{id}`) with its newest versions and sales, its largest holders and its
/// lineage, at most 100 of each, and how many there are in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetDetail {
    /// The asset's fields, as `/assets` lists them.
    #[serde(flatten)]
    pub asset: Asset,
    /// The newest versions, newest first (at most 100).
    #[schema(max_items = 100)]
    pub history: Vec<AssetVersion>,
    /// How many versions there are in all.
    pub history_count: i64,
    /// The newest sales, newest first (at most 100); all of them: `/assets/{id}/sales`.
    #[schema(max_items = 100)]
    pub sales: Vec<Sale>,
    /// How many sales there are in all.
    pub sales_count: i64,
    /// The largest holders of the access token, by balance, then address, both descending (at
    /// most 100); all of them: `/assets/{id}/holders`.
    #[schema(max_items = 100)]
    pub holders: Vec<Holder>,
    /// How many addresses hold a positive balance of the access token.
    pub holders_count: i64,
    /// How many access tokens of the asset were spent (downloads and the jobs that paid for one).
    pub orders_count: i64,
    /// How many compute jobs used the asset as an input (dataset or algorithm), paid or free.
    pub jobs_count: i64,
    /// The input assets its current metadata's `derivedFrom` names (an asset published from a
    /// compute job's output), in the document's order (at most 100).
    #[schema(max_items = 100)]
    pub upstream: Vec<LineageLink>,
    /// How many upstream links there are in all.
    pub upstream_count: i64,
    /// The assets whose current metadata's `derivedFrom` names this one, by asset id (at most
    /// 100).
    #[schema(max_items = 100)]
    pub downstream: Vec<LineageLink>,
    /// How many downstream links there are in all.
    pub downstream_count: i64,
    /// Who its revenue is paid to: the revenue splitter's current split, in its order (the
    /// publisher alone at 10000 bps when published without one); empty when none is indexed.
    pub split: Vec<SplitShare>,
    /// How many different addresses bought its access tokens (free claims included).
    pub buyers_count: i64,
    /// What its buyers paid, per currency, by currency address.
    pub revenue: Vec<Revenue>,
}

/// One recipient of an asset's revenue split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SplitShare {
    /// The recipient: a lowercase 0x-prefixed address.
    pub recipient: String,
    /// Its share in basis points (the shares of a split add up to 10000).
    pub bps: u32,
}

/// What an asset's buyers paid in one currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Revenue {
    /// The currency: a lowercase 0x-prefixed address, the zero address for ETH.
    pub currency: String,
    /// The sum of the `paid` of its sales in this currency: a decimal integer in base units.
    pub amount: String,
}

/// One version of an asset: what it was published or updated to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetVersion {
    /// The version number, from 1 at publish.
    pub version: i32,
    /// The digest of this version's content: 0x-prefixed lowercase hex of 32 bytes.
    pub content_digest: String,
    /// The IPFS CID of this version's metadata document.
    pub metadata_cid: String,
    /// The block of the publish or update.
    pub block_number: i64,
    /// The transaction of the publish or update: 0x-prefixed lowercase hex of 32 bytes.
    pub tx_hash: String,
    /// The time of that block, in unix seconds; null when the node did not say (an RPC whose
    /// logs carry no `blockTimestamp`, outside the blocks whose headers the indexer reads).
    pub timestamp: Option<i64>,
    /// This version's metadata document; null until fetched (or when it cannot be).
    #[schema(value_type = Option<Object>)]
    pub metadata: Option<Value>,
}

/// One purchase of access tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Sale {
    /// The buyer: a lowercase 0x-prefixed address.
    pub buyer: String,
    /// The currency paid in: a lowercase 0x-prefixed address, the zero address for ETH.
    pub currency: String,
    /// Access tokens bought: a decimal uint256.
    pub amount: String,
    /// How many of them were free (the asset's free allowance per address): a decimal uint256.
    pub free_amount: String,
    /// What the buyer paid: a decimal uint256 in the currency's base units.
    pub paid: String,
    /// The protocol fee out of `paid`: a decimal uint256 in the currency's base units.
    pub fee: String,
    /// The block of the purchase.
    pub block_number: i64,
    /// The transaction of the purchase: 0x-prefixed lowercase hex of 32 bytes.
    pub tx_hash: String,
    /// The position of the purchase's log in its block.
    pub log_index: i64,
}

/// An address holding an asset's access tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Holder {
    /// The holder: a lowercase 0x-prefixed address.
    pub holder: String,
    /// Access tokens held: a decimal uint256, above 0.
    pub balance: String,
}

/// One link of an asset's lineage: an asset published from a compute job's output and one of
/// the job's inputs, as the output's metadata (`derivedFrom`) claims it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LineageLink {
    /// The asset at the other end of the link (the input in `upstream`, the output in
    /// `downstream`): a decimal uint256.
    pub asset_id: String,
    /// The input's role in the job: `dataset` or `algorithm`; null when the metadata names none.
    pub role: Option<String>,
    /// The compute job the metadata names: a decimal uint256; null when it names none.
    pub job_id: Option<String>,
    /// Whether the indexed job bears the claim out: it names that input in that role, posted the
    /// output hash the metadata records, and no ruling went against its provider.
    pub matches_job: bool,
}

/// The query of `/assets`: full-text search, filters, sort and cursor. Every value is a string
/// the indexer checks itself, so a bad one gets a message naming the parameter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AssetQuery {
    /// Full-text search over the metadata's human fields (name, description, license, kind,
    /// tags, ...; never content, CIDs or keys), in web-search syntax (`"a phrase"`, `-word`,
    /// `or`); at most 1024 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Only assets of this kind: dataset, model, algorithm, app or notebook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Only assets of this owner: a 0x-prefixed address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Lowest price: a decimal uint256 in base units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<String>,
    /// Highest price: a decimal uint256 in base units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<String>,
    /// Only assets whose metadata names this license (exactly); at most 1024 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// `true` to include delisted assets (hidden by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_delisted: Option<bool>,
    /// `true`: only assets whose fetched metadata has `content.encryption`; `false`: only those
    /// whose fetched metadata has none (assets without fetched metadata match neither).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Only assets whose metadata's `tags` list holds this tag (exactly); at most 1024 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `true`: only assets listed at a price above 0; `false`: only those listed for free (price
    /// 0). Assets without a listing match neither.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priced: Option<bool>,
    /// `true`: only compute-only assets (never downloaded); `false`: only downloadable ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_only: Option<bool>,
    /// The order: id_asc (default), id_desc, price_asc, price_desc (unlisted assets count as
    /// price 0), sales_desc (most bought: `totalSales`), jobs_desc (most used in compute jobs:
    /// `totalJobs`) or revenue_desc (most paid for: `totalRevenue`); ties by asset id, in the
    /// sort's direction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sort: Option<String>,
    /// The `nextCursor` of the previous page (with the same sort): `<asset id>` for the id sorts,
    /// `<key>:<asset id>` for the others.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Page size: 1 to 500, default 50.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<String>,
}

/// The query of `/assets/facets`: the filters of `/assets` (the same names, values and
/// meaning), without its sort, cursor and limit. [`FacetQuery::from`] an [`AssetQuery`] keeps
/// its filters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FacetQuery {
    /// Full-text search over the metadata's human fields, in web-search syntax; at most 1024
    /// bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub q: Option<String>,
    /// Only assets of this kind: dataset, model, algorithm, app or notebook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Only assets of this owner: a 0x-prefixed address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    /// Lowest price: a decimal uint256 in base units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_price: Option<String>,
    /// Highest price: a decimal uint256 in base units.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_price: Option<String>,
    /// Only assets whose metadata names this license (exactly); at most 1024 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub license: Option<String>,
    /// `true` to count delisted assets too (left out by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_delisted: Option<bool>,
    /// `true`: only assets whose fetched metadata has `content.encryption`; `false`: only those
    /// whose fetched metadata has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted: Option<bool>,
    /// Only assets whose metadata's `tags` list holds this tag (exactly); at most 1024 bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// `true`: only assets listed at a price above 0; `false`: only those listed for free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priced: Option<bool>,
    /// `true`: only compute-only assets; `false`: only downloadable ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_only: Option<bool>,
}

impl From<&AssetQuery> for FacetQuery {
    fn from(query: &AssetQuery) -> Self {
        FacetQuery {
            q: query.q.clone(),
            kind: query.kind.clone(),
            owner: query.owner.clone(),
            min_price: query.min_price.clone(),
            max_price: query.max_price.clone(),
            license: query.license.clone(),
            include_delisted: query.include_delisted,
            encrypted: query.encrypted,
            tag: query.tag.clone(),
            priced: query.priced,
            compute_only: query.compute_only,
        }
    }
}

/// What the assets matching a [`FacetQuery`] are (`/assets/facets`): how many in all, and how
/// many of them have each kind, license and tag, a price, encryption or compute-only access.
/// Each count is of the assets that match every filter of the query.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AssetFacets {
    /// Assets matching the query.
    pub total: i64,
    /// How many are of each kind, most first (then by name); kinds with none are left out.
    pub kinds: Vec<FacetCount>,
    /// The 20 licenses (the metadata's `license`, when it is a string) most of them name, most
    /// first (then by name).
    #[schema(max_items = 20)]
    pub licenses: Vec<FacetCount>,
    /// The 30 tags (the strings of the metadata's `tags` list) most of them carry, most first
    /// (then by name); an asset counts once per tag.
    #[schema(max_items = 30)]
    pub tags: Vec<FacetCount>,
    /// How many are listed at a price above 0.
    pub priced: i64,
    /// How many are listed for free (price 0).
    pub free: i64,
    /// How many have fetched metadata with `content.encryption`.
    pub encrypted: i64,
    /// How many are compute-only.
    pub compute_only: i64,
}

/// How many assets have one value of a facet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FacetCount {
    /// The value: a kind's name, a license, a tag.
    pub value: String,
    /// How many assets have it.
    pub count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_unknown_names_read_as_unknown() {
        for kind in AssetKind::ALL {
            assert_eq!(kind.as_str().parse::<AssetKind>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
            assert_eq!(serde_json::from_value::<AssetKind>(kind.as_str().into()).unwrap(), kind);
        }
        assert_eq!(serde_json::from_str::<AssetKind>(r#""video""#).unwrap(), AssetKind::Unknown);
        let err = "video".parse::<AssetKind>().unwrap_err();
        assert_eq!(
            err.to_string(),
            r#""video" is not one of dataset, model, algorithm, app, notebook, unknown"#
        );
        assert_eq!(serde_json::to_value(MetadataStatus::Fetched).unwrap(), "fetched");
    }

    #[test]
    fn a_query_sends_only_what_is_set() {
        let query =
            AssetQuery { q: Some("finch".into()), include_delisted: Some(true), ..Default::default() };
        let json = serde_json::to_value(&query).unwrap();
        assert_eq!(json, serde_json::json!({ "q": "finch", "include_delisted": true }));
        assert!(serde_json::from_value::<AssetQuery>(serde_json::json!({ "colour": "red" })).is_err());
    }

    #[test]
    fn a_facet_query_keeps_the_filters_of_an_asset_query() {
        let query = AssetQuery {
            tag: Some("birds".into()),
            priced: Some(false),
            compute_only: Some(true),
            sort: Some("sales_desc".into()),
            cursor: Some("3:7".into()),
            limit: Some("10".into()),
            ..Default::default()
        };
        let facets = FacetQuery::from(&query);
        let json = serde_json::to_value(&facets).unwrap();
        assert_eq!(json, serde_json::json!({ "tag": "birds", "priced": false, "compute_only": true }));
        assert!(serde_json::from_value::<FacetQuery>(serde_json::json!({ "sort": "id_asc" })).is_err());
    }
}
