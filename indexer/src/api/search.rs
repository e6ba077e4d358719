//! Searching the catalogue: `/assets` lists the assets matching its filters in one of its sorts,
//! page by page; `/assets/facets` counts what the assets matching the same filters are. Both
//! read the filters with [`Filters::parse`] and apply them with the one SQL condition
//! [`FILTERS`], so a facet's count is the number of assets `/assets` lists for it.

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

/// The condition of every filter, over [`ASSET_SELECT`]'s `a`, `l` and `m`, with the
/// parameters `$1` to `$12` that [`Filters::bind`] binds.
const FILTERS: &str = "a.chain_id = $1
    AND ($2::smallint IS NULL OR a.kind = $2)
    AND ($3::bytea IS NULL OR a.owner = $3)
    AND ($4::numeric IS NULL OR l.price >= $4::numeric)
    AND ($5::numeric IS NULL OR l.price <= $5::numeric)
    AND ($6 OR NOT COALESCE(l.delisted, FALSE))
    AND ($7::text IS NULL OR m.search @@ websearch_to_tsquery('simple', $7))
    AND ($8::text IS NULL OR m.document->>'license' = $8)
    AND ($9::boolean IS NULL OR m.encrypted = $9)
    AND ($10::text IS NULL OR m.document->'tags' @> jsonb_build_array($10::text))
    AND ($11::boolean IS NULL OR CASE WHEN $11 THEN l.price > 0 ELSE l.price = 0 END)
    AND ($12::boolean IS NULL OR a.compute_only = $12)";

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

    /// Binds `$1` (the chain) to `$12` of [`FILTERS`] to `query`.
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

    /// The SQL of the key the sort orders by before the asset id (an unlisted asset's price and
    /// an unused asset's counters are 0); none for the id sorts.
    fn key(self) -> Option<&'static str> {
        match self {
            Sort::IdAsc | Sort::IdDesc => None,
            Sort::PriceAsc | Sort::PriceDesc => Some("COALESCE(l.price, 0)"),
            Sort::SalesDesc => Some("COALESCE(s.sales, 0)"),
            Sort::JobsDesc => Some("COALESCE(s.jobs, 0)"),
            Sort::RevenueDesc => Some("COALESCE(s.revenue, 0)"),
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

/// Longest sort key a cursor may hold: a revenue is a sum of uint256 amounts, so it may be
/// longer than one.
const MAX_CURSOR_KEY_DIGITS: usize = 100;

/// The (key, asset id) of `cursor` for `sort`; the key is `None` for the id sorts.
fn parse_cursor(sort: Sort, cursor: &str) -> Result<(Option<String>, String), ApiError> {
    let bad = || bad_cursor(cursor);
    if sort.key().is_none() {
        return Ok((None, parse_uint("cursor", cursor).map_err(|_| bad())?));
    }
    let [key, id] = cursor_keys(cursor)?;
    if key.is_empty() || key.len() > MAX_CURSOR_KEY_DIGITS || !key.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    Ok((Some(key.to_owned()), parse_uint("cursor", id).map_err(|_| bad())?))
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
    let (direction, after) = if sort.ascending() { ("ASC", ">") } else { ("DESC", "<") };
    // Keys and directions come from `Sort`, never from the request.
    let (keyset, order) = match sort.key() {
        None => (format!("a.asset_id {after} $13::numeric"), format!("a.asset_id {direction}")),
        Some(key) => (
            format!("({key}, a.asset_id) {after} ($14::numeric, $13::numeric)"),
            format!("{key} {direction}, a.asset_id {direction}"),
        ),
    };
    let sql = format!(
        "{ASSET_SELECT}
         WHERE {FILTERS}
           AND ($13::numeric IS NULL OR {keyset})
         ORDER BY {order}
         LIMIT $15"
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

/// The query of `/assets/facets`: the matching assets are read once (`f`), and each facet is
/// counted over them. Ties are ordered by the value's bytes, so that they do not depend on the
/// database's collation.
fn facets_sql() -> String {
    format!(
        "WITH f AS MATERIALIZED (
      SELECT a.kind, a.compute_only, l.price, m.document, m.encrypted
      FROM assets a
      LEFT JOIN listings l ON l.chain_id = a.chain_id AND l.asset_id = a.asset_id
      LEFT JOIN asset_metadata m ON m.cid = a.metadata_cid
      WHERE {FILTERS}
    )
    SELECT c.total, c.priced, c.free, c.encrypted, c.compute_only,
      (SELECT COALESCE(jsonb_agg(jsonb_build_object('code', kind, 'count', n)), '[]'::jsonb)
       FROM (SELECT kind, count(*) AS n FROM f GROUP BY kind) k) AS kinds,
      (SELECT COALESCE(jsonb_agg(jsonb_build_object('value', v, 'count', n) ORDER BY n DESC, v),
                       '[]'::jsonb)
       FROM (SELECT document->>'license' COLLATE \"C\" AS v, count(*) AS n FROM f
             WHERE jsonb_typeof(document->'license') = 'string'
             GROUP BY 1 ORDER BY n DESC, v LIMIT $13) top) AS licenses,
      (SELECT COALESCE(jsonb_agg(jsonb_build_object('value', v, 'count', n) ORDER BY n DESC, v),
                       '[]'::jsonb)
       FROM (SELECT t.v, count(*) AS n FROM f
             CROSS JOIN LATERAL (
               SELECT DISTINCT e #>> '{{}}' COLLATE \"C\" AS v
               FROM jsonb_array_elements(CASE jsonb_typeof(f.document->'tags')
                                           WHEN 'array' THEN f.document->'tags' ELSE '[]'::jsonb END) e
               WHERE jsonb_typeof(e) = 'string') t
             GROUP BY t.v ORDER BY n DESC, t.v LIMIT $14) top) AS tags
    FROM (SELECT count(*) AS total, count(*) FILTER (WHERE price > 0) AS priced,
            count(*) FILTER (WHERE price = 0) AS free, count(*) FILTER (WHERE encrypted) AS encrypted,
            count(*) FILTER (WHERE compute_only) AS compute_only
          FROM f) c"
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
    let sql = facets_sql();
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
        let ApiError::BadRequest(message) = Sort::parse("best").unwrap_err() else { panic!() };
        assert_eq!(
            message,
            r#"sort: "best" is not one of id_asc, id_desc, price_asc, price_desc, sales_desc, jobs_desc, revenue_desc"#
        );
    }
}
