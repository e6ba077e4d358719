//! Searching the catalogue: `/assets` lists the assets matching its filters in one of its sorts,
//! page by page; `/assets/facets` counts what the assets matching the same filters are. Both
//! read the filters with [`Filters::parse`] and apply them with the one SQL condition
//! [`Filters::condition`] makes, so a facet's count is the number of assets `/assets` lists for
//! it.
//!
//! Every SQL text here is put together from fixed pieces chosen by which filters are given and
//! by the sort, never from the request's text, which is always bound as a parameter. A filter
//! that is not given is left out of the SQL rather than written as `$n IS NULL OR …`, which no
//! index serves and which makes PostgreSQL's generic plans guess badly; and a page of a sort is
//! read through an index in the sort's order ([`page_sql`]), so the first page of ten thousand
//! assets reads a few dozen rows, not all of them.

use agora_api::{Asset, AssetFacets, AssetKind, AssetQuery, ErrorBody, FacetCount, FacetQuery, Page};
use axum::{
    Json,
    extract::{Query, State, rejection::QueryRejection},
};
use sqlx::{Postgres, postgres::PgArguments, query::QueryAs, types::Json as JsonColumn};

use super::{
    ApiError, AppState,
    assets::{ASSET_SELECT, AssetRow, kind_of},
    bad_cursor, bounded_text, chain, cursor_keys, page_of, parse_address, parse_limit, parse_uint,
};

/// The tables the filters and the sort keys read: an asset `a`, its listing `l`, its metadata
/// `m` and its usage counters `s` (the joins of [`ASSET_SELECT`]). A query that reads nothing of
/// a joined table does not pay for it: each is joined by its primary key, so PostgreSQL leaves it
/// out.
const TABLES: &str = "assets a
     LEFT JOIN listings l ON l.chain_id = a.chain_id AND l.asset_id = a.asset_id
     LEFT JOIN asset_metadata m ON m.cid = a.metadata_cid
     LEFT JOIN asset_stats s ON s.chain_id = a.chain_id AND s.asset_id = a.asset_id";

/// The filters of `/assets` and `/assets/facets`, checked.
#[derive(Debug)]
struct Filters<'a> {
    kind: Option<i16>,
    owner: Option<Vec<u8>>,
    min_price: Option<String>,
    max_price: Option<String>,
    include_delisted: bool,
    q: Option<&'a str>,
    license: Option<&'a str>,
    encrypted: Option<bool>,
    tag: Option<&'a str>,
    priced: Option<bool>,
    compute_only: Option<bool>,
}

impl<'a> Filters<'a> {
    /// Checks the filters of `p`: a bad one is a `BadRequest` naming its parameter.
    fn parse(p: &'a FacetQuery) -> Result<Self, ApiError> {
        let kind = p
            .kind
            .as_deref()
            .map(|k| {
                AssetKind::ALL
                    .iter()
                    .position(|kind| kind.as_str() == k)
                    .and_then(|i| i16::try_from(i).ok())
                    .ok_or_else(|| {
                        let names: Vec<&str> = AssetKind::ALL.iter().map(|kind| kind.as_str()).collect();
                        let shown: String = k.chars().take(100).collect();
                        ApiError::BadRequest(format!("kind: {shown:?} is not one of {}", names.join(", ")))
                    })
            })
            .transpose()?;
        Ok(Filters {
            kind,
            owner: p.owner.as_deref().map(|o| parse_address("owner", o)).transpose()?,
            min_price: p.min_price.as_deref().map(|v| parse_uint("min_price", v)).transpose()?,
            max_price: p.max_price.as_deref().map(|v| parse_uint("max_price", v)).transpose()?,
            include_delisted: p.include_delisted.unwrap_or(false),
            q: bounded_text("q", p.q.as_deref())?.map(str::trim).filter(|q| !q.is_empty()),
            license: bounded_text("license", p.license.as_deref())?,
            encrypted: p.encrypted,
            tag: bounded_text("tag", p.tag.as_deref())?,
            priced: p.priced,
            compute_only: p.compute_only,
        })
    }

    /// The condition of the filters given, over [`TABLES`], with the parameters `$1` (the chain)
    /// to `$12` that [`Filters::bind`] binds; each piece is fixed, and a filter not given adds
    /// none. `$6` and `$11` are bound but never read: `include_delisted` and `priced` choose
    /// their pieces.
    fn condition(&self) -> String {
        let pieces = [
            (self.kind.is_some(), "a.kind = $2"),
            (self.owner.is_some(), "a.owner = $3"),
            (self.min_price.is_some(), "l.price >= $4::numeric"),
            (self.max_price.is_some(), "l.price <= $5::numeric"),
            (!self.include_delisted, "NOT COALESCE(l.delisted, FALSE)"),
            (self.q.is_some(), "m.search @@ websearch_to_tsquery('simple', $7)"),
            (self.license.is_some(), "m.license = $8"),
            (self.encrypted.is_some(), "m.encrypted = $9"),
            (self.tag.is_some(), "m.tags @> ARRAY[$10]"),
            (self.priced == Some(true), "l.price > 0"),
            (self.priced == Some(false), "l.price = 0"),
            (self.compute_only.is_some(), "a.compute_only = $12"),
        ];
        let mut sql = String::from("a.chain_id = $1");
        for (_, piece) in pieces.iter().filter(|(given, _)| *given) {
            sql.push_str("\n       AND ");
            sql.push_str(piece);
        }
        sql
    }

    /// Binds `$1` (the chain) to `$12` of [`Filters::condition`] to `query`.
    fn bind<'q, O>(
        &'q self,
        query: QueryAs<'q, Postgres, O, PgArguments>,
        chain: i64,
    ) -> QueryAs<'q, Postgres, O, PgArguments> {
        query
            .bind(chain)
            .bind(self.kind)
            .bind(self.owner.as_deref())
            .bind(self.min_price.as_deref())
            .bind(self.max_price.as_deref())
            .bind(self.include_delisted)
            .bind(self.q)
            .bind(self.license)
            .bind(self.encrypted)
            .bind(self.tag)
            .bind(self.priced)
            .bind(self.compute_only)
    }
}

/// An order of `/assets`. Ties are broken by asset id, in the sort's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    IdAsc,
    IdDesc,
    PriceAsc,
    PriceDesc,
    SalesDesc,
    JobsDesc,
    RevenueDesc,
}

impl Sort {
    const ALL: [Sort; 7] = [
        Sort::IdAsc,
        Sort::IdDesc,
        Sort::PriceAsc,
        Sort::PriceDesc,
        Sort::SalesDesc,
        Sort::JobsDesc,
        Sort::RevenueDesc,
    ];

    fn name(self) -> &'static str {
        match self {
            Sort::IdAsc => "id_asc",
            Sort::IdDesc => "id_desc",
            Sort::PriceAsc => "price_asc",
            Sort::PriceDesc => "price_desc",
            Sort::SalesDesc => "sales_desc",
            Sort::JobsDesc => "jobs_desc",
            Sort::RevenueDesc => "revenue_desc",
        }
    }

    fn parse(name: &str) -> Result<Self, ApiError> {
        Self::ALL.into_iter().find(|sort| sort.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|sort| sort.name()).collect();
            let shown: String = name.chars().take(100).collect();
            ApiError::BadRequest(format!("sort: {shown:?} is not one of {}", names.join(", ")))
        })
    }

    fn ascending(self) -> bool {
        matches!(self, Sort::IdAsc | Sort::PriceAsc)
    }

    /// The key the sort orders by before the asset id, for the keyed sorts (an unlisted asset's
    /// price and an unused asset's counters are 0); none for the id sorts.
    fn key(self) -> Option<SortKey> {
        let key = |column, id, sql_type| Some(SortKey { column, id, sql_type });
        match self {
            Sort::IdAsc | Sort::IdDesc => None,
            Sort::PriceAsc | Sort::PriceDesc => key("l.price", "l.asset_id", "numeric"),
            Sort::SalesDesc => key("s.sales", "s.asset_id", "bigint"),
            Sort::JobsDesc => key("s.jobs", "s.asset_id", "bigint"),
            Sort::RevenueDesc => key("s.revenue", "s.asset_id", "numeric"),
        }
    }

    /// The cursor after `asset`: its id, after its key for the keyed sorts.
    fn cursor(self, asset: &Asset) -> String {
        let key = match self {
            Sort::IdAsc | Sort::IdDesc => return asset.asset_id.clone(),
            Sort::PriceAsc | Sort::PriceDesc => asset.price.clone().unwrap_or_else(|| "0".into()),
            Sort::SalesDesc => asset.sales.to_string(),
            Sort::JobsDesc => asset.jobs.to_string(),
            Sort::RevenueDesc => asset.revenue.clone(),
        };
        format!("{key}:{}", asset.asset_id)
    }
}

/// The key of a keyed sort: a column that is never negative, the asset id column of the same
/// table, which the column's index holds after it (`listings_by_price`, `asset_stats_by_*`), and
/// the column's SQL type, which a cursor's key is cast to so that the index serves the keyset
/// condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct SortKey {
    column: &'static str,
    id: &'static str,
    sql_type: &'static str,
}

/// Longest sort key a cursor may hold: a revenue is a sum of uint256 amounts, so it may be
/// longer than one.
const MAX_CURSOR_KEY_DIGITS: usize = 100;

/// The (key, asset id) of `cursor` for `sort`; the key is `None` for the id sorts. A count's key
/// is a `bigint`.
fn parse_cursor(sort: Sort, cursor: &str) -> Result<(Option<String>, String), ApiError> {
    let bad = || bad_cursor(cursor);
    let Some(sort_key) = sort.key() else {
        return Ok((None, parse_uint("cursor", cursor).map_err(|_| bad())?));
    };
    let [key, id] = cursor_keys(cursor)?;
    if key.is_empty() || key.len() > MAX_CURSOR_KEY_DIGITS || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    if sort_key.sql_type == "bigint" && key.parse::<i64>().is_err() {
        return Err(bad());
    }
    Ok((Some(key.to_owned()), parse_uint("cursor", id).map_err(|_| bad())?))
}

/// Where a page starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// At the first asset.
    First,
    /// After the asset of the cursor (`$13`) of an id sort.
    AfterId,
    /// After the asset of the cursor (`$13`, after its key `$14`) of a keyed sort, whose key is
    /// 0 or not.
    AfterKey { zero: bool },
}

/// The SQL of the ids (`asset_id`) and sort keys (`key`) of one page of `sort`: at most `$15`
/// assets matching `condition` (of [`Filters::condition`]) from `start`, in the sort's order.
///
/// An id sort reads the assets' primary key in order. A keyed sort reads two ranges, each
/// through an index in the sort's order and each stopping at `$15` rows: the assets whose key
/// is above 0 (the index of the key: `listings_by_price`, `asset_stats_by_*`) and those whose key
/// is 0 (unlisted or free, unused; the assets' primary key); the page is the first `$15` of both.
/// The zero range comes last in a descending sort, first in an ascending one, so a cursor in
/// the range that comes second leaves out the first.
fn page_sql(sort: Sort, condition: &str, start: Start) -> String {
    let (direction, after) = if sort.ascending() { ("ASC", ">") } else { ("DESC", "<") };
    let range = |key: &str, condition: String, order: String| {
        format!(
            "(SELECT a.asset_id, {key} AS key
              FROM {TABLES}
              WHERE {condition}
              ORDER BY {order}
              LIMIT $15)"
        )
    };
    let ranges = match sort.key() {
        None => {
            let keyset = match start {
                Start::First => String::new(),
                _ => format!(" AND a.asset_id {after} $13::numeric"),
            };
            vec![range("0", format!("{condition}{keyset}"), format!("a.asset_id {direction}"))]
        }
        Some(SortKey { column, id, sql_type }) => {
            let above = || {
                let keyset = match start {
                    Start::AfterKey { zero: false } => {
                        format!(" AND ({column}, {id}) {after} ($14::{sql_type}, $13::numeric)")
                    }
                    _ => String::new(),
                };
                range(
                    column,
                    format!("{condition} AND {column} > 0{keyset}"),
                    format!("{column} {direction}, {id} {direction}"),
                )
            };
            let zero = || {
                let keyset = match start {
                    Start::AfterKey { zero: true } => format!(" AND a.asset_id {after} $13::numeric"),
                    _ => String::new(),
                };
                // `IS NOT TRUE`: no row (an unlisted or unused asset) or a 0.
                range(
                    "0",
                    format!("{condition} AND ({column} > 0) IS NOT TRUE{keyset}"),
                    format!("a.asset_id {direction}"),
                )
            };
            match (sort.ascending(), start) {
                (false, Start::AfterKey { zero: true }) => vec![zero()],
                (false, _) => vec![above(), zero()],
                (true, Start::AfterKey { zero: false }) => vec![above()],
                (true, _) => vec![zero(), above()],
            }
        }
    };
    format!(
        "SELECT asset_id, key FROM ({}) page
         ORDER BY key {direction}, asset_id {direction}
         LIMIT $15",
        ranges.join("\n         UNION ALL\n         ")
    )
}

#[utoipa::path(
    get,
    path = "/assets",
    tag = "assets",
    summary = "Search and list assets",
    params(AssetQuery),
    responses(
        (status = 200, description = "A page of assets", body = Page<Asset>),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn assets(
    State(state): State<AppState>,
    params: Result<Query<AssetQuery>, QueryRejection>,
) -> Result<Json<Page<Asset>>, ApiError> {
    let Query(p) = params?;
    let filter_query = FacetQuery::from(&p);
    let filters = Filters::parse(&filter_query)?;
    let sort = Sort::parse(p.sort.as_deref().unwrap_or("id_asc"))?;
    let limit = parse_limit(p.limit.as_deref())?;
    let (cursor_key, cursor_id) = match p.cursor.as_deref() {
        None => (None, None),
        Some(c) => {
            let (key, id) = parse_cursor(sort, c)?;
            (key, Some(id))
        }
    };
    let start = match (&cursor_id, &cursor_key) {
        (None, _) => Start::First,
        (Some(_), None) => Start::AfterId,
        (Some(_), Some(key)) => Start::AfterKey { zero: key.bytes().all(|b| b == b'0') },
    };
    let direction = if sort.ascending() { "ASC" } else { "DESC" };
    // The page's ids first, then their columns: only the page's rows are read in full.
    let sql = format!(
        "{ASSET_SELECT}
         JOIN ({page}) p ON p.asset_id = a.asset_id
         WHERE a.chain_id = $1
         ORDER BY p.key {direction}, p.asset_id {direction}",
        page = page_sql(sort, &filters.condition(), start)
    );
    let rows: Vec<AssetRow> = filters
        .bind(sqlx::query_as(&sql), chain(&state))
        .bind(cursor_id)
        .bind(cursor_key)
        .bind(limit)
        .fetch_all(&state.pool)
        .await?;
    let items = rows.into_iter().map(Asset::from).collect();
    Ok(Json(page_of(items, limit, |last| sort.cursor(last))))
}

/// A kind's code and how many assets have it.
#[derive(Debug, serde::Deserialize)]
struct KindCount {
    code: i16,
    count: i64,
}

/// The counts of `/assets/facets`.
#[derive(Debug, sqlx::FromRow)]
struct FacetsRow {
    total: i64,
    priced: i64,
    free: i64,
    encrypted: i64,
    compute_only: i64,
    kinds: JsonColumn<Vec<KindCount>>,
    licenses: JsonColumn<Vec<FacetCount>>,
    tags: JsonColumn<Vec<FacetCount>>,
}

/// Most licenses and tags `/assets/facets` names.
const TOP_LICENSES: i64 = 20;
const TOP_TAGS: i64 = 30;

/// The query of `/assets/facets` over the assets matching `condition` (of
/// [`Filters::condition`]): the columns the facets count are read once (`f`); one pass over them
/// counts them all (`level` 3: the total, priced, free, encrypted, compute-only), each kind (1)
/// and each license (2), and another each tag. Licenses and tags are the columns derived from
/// the documents (`license`, `tags`, an asset's tags each once), never the documents themselves.
/// Ties are ordered by the value's bytes, so that they do not depend on the database's collation.
fn facets_sql(condition: &str) -> String {
    format!(
        "WITH f AS MATERIALIZED (
      SELECT a.kind, a.compute_only, l.price, m.encrypted, m.license, m.tags
      FROM {TABLES}
      WHERE {condition}
    ),
    counted AS (
      SELECT GROUPING(kind, license) AS level, kind, license COLLATE \"C\" AS license, count(*) AS n,
        count(*) FILTER (WHERE price > 0) AS priced, count(*) FILTER (WHERE price = 0) AS free,
        count(*) FILTER (WHERE encrypted) AS encrypted, count(*) FILTER (WHERE compute_only) AS compute_only
      FROM f
      GROUP BY GROUPING SETS ((), (kind), (license))
    )
    SELECT c.n AS total, c.priced, c.free, c.encrypted, c.compute_only,
      (SELECT COALESCE(jsonb_agg(jsonb_build_object('code', kind, 'count', n)), '[]'::jsonb)
       FROM counted WHERE level = 1) AS kinds,
      (SELECT COALESCE(jsonb_agg(jsonb_build_object('value', license, 'count', n) ORDER BY n DESC, license),
                       '[]'::jsonb)
       FROM (SELECT license, n FROM counted WHERE level = 2 AND license IS NOT NULL
             ORDER BY n DESC, license LIMIT $13) top) AS licenses,
      (SELECT COALESCE(jsonb_agg(jsonb_build_object('value', v, 'count', n) ORDER BY n DESC, v),
                       '[]'::jsonb)
       FROM (SELECT v COLLATE \"C\" AS v, count(*) AS n FROM (SELECT unnest(tags) AS v FROM f) t
             GROUP BY 1 ORDER BY n DESC, v LIMIT $14) top) AS tags
    FROM counted c
    WHERE c.level = 3"
    )
}

#[utoipa::path(
    get,
    path = "/assets/facets",
    tag = "assets",
    summary = "How many assets match the filters of `/assets`, and how many of them have each kind, \
               license (top 20) and tag (top 30), a price, encryption or compute-only access",
    params(FacetQuery),
    responses(
        (status = 200, description = "The counts", body = AssetFacets),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn asset_facets(
    State(state): State<AppState>,
    params: Result<Query<FacetQuery>, QueryRejection>,
) -> Result<Json<AssetFacets>, ApiError> {
    let Query(p) = params?;
    let filters = Filters::parse(&p)?;
    let sql = facets_sql(&filters.condition());
    let row: FacetsRow = filters
        .bind(sqlx::query_as(&sql), chain(&state))
        .bind(TOP_LICENSES)
        .bind(TOP_TAGS)
        .fetch_one(&state.pool)
        .await?;
    // Codes this version does not know all count as `unknown`.
    let mut kinds: Vec<FacetCount> = Vec::new();
    for KindCount { code, count } in row.kinds.0 {
        let value = kind_of(code).as_str();
        match kinds.iter_mut().find(|k| k.value == value) {
            Some(kind) => kind.count += count,
            None => kinds.push(FacetCount { value: value.to_owned(), count }),
        }
    }
    kinds.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    Ok(Json(AssetFacets {
        total: row.total,
        kinds,
        licenses: row.licenses.0,
        tags: row.tags.0,
        priced: row.priced,
        free: row.free,
        encrypted: row.encrypted,
        compute_only: row.compute_only,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_sort_has_a_name_and_the_keyed_ones_a_two_part_cursor() {
        for sort in Sort::ALL {
            assert_eq!(Sort::parse(sort.name()).unwrap(), sort);
            if sort.key().is_some() {
                assert_eq!(parse_cursor(sort, "12:7").unwrap(), (Some("12".into()), "7".into()));
                assert!(parse_cursor(sort, "7").is_err());
                assert!(parse_cursor(sort, "-1:7").is_err());
            } else {
                assert_eq!(parse_cursor(sort, "7").unwrap(), (None, "7".into()));
                assert!(parse_cursor(sort, "12:7").is_err());
            }
        }
        let long = format!("{}:1", "9".repeat(MAX_CURSOR_KEY_DIGITS));
        assert!(parse_cursor(Sort::RevenueDesc, &long).is_ok());
        assert!(parse_cursor(Sort::RevenueDesc, &format!("9{long}")).is_err());
        // A count's key is a bigint.
        assert!(parse_cursor(Sort::SalesDesc, &format!("{}:1", i64::MAX)).is_ok());
        assert!(parse_cursor(Sort::JobsDesc, "9223372036854775808:1").is_err());
        assert!(parse_cursor(Sort::PriceDesc, "9223372036854775808:1").is_ok());
        let ApiError::BadRequest(message) = Sort::parse("best").unwrap_err() else { panic!() };
        assert_eq!(
            message,
            r#"sort: "best" is not one of id_asc, id_desc, price_asc, price_desc, sales_desc, jobs_desc, revenue_desc"#
        );
    }

    #[test]
    fn a_page_reads_only_the_ranges_of_keys_from_its_cursor_on() {
        let ranges = |sort, start| page_sql(sort, "a.chain_id = $1", start).matches("LIMIT $15)").count();
        assert_eq!(ranges(Sort::IdDesc, Start::First), 1);
        assert_eq!(ranges(Sort::IdAsc, Start::AfterId), 1);
        for sort in [Sort::PriceDesc, Sort::SalesDesc, Sort::JobsDesc, Sort::RevenueDesc] {
            assert_eq!(ranges(sort, Start::First), 2);
            assert_eq!(ranges(sort, Start::AfterKey { zero: false }), 2);
            assert_eq!(ranges(sort, Start::AfterKey { zero: true }), 1);
        }
        assert_eq!(ranges(Sort::PriceAsc, Start::First), 2);
        assert_eq!(ranges(Sort::PriceAsc, Start::AfterKey { zero: true }), 2);
        assert_eq!(ranges(Sort::PriceAsc, Start::AfterKey { zero: false }), 1);
    }
}
