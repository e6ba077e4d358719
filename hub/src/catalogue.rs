//! The catalogue (`/` and `/assets`): the indexer's full-text search with filters, sort and
//! cursor pagination, rendered as a list of asset cards.

use agora_api::{Asset, AssetKind, AssetQuery, FacetQuery};
use axum::extract::{Query, State};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};

use crate::{
    Hub,
    format::{self, short},
    layout::{Head, PageError, page},
    meta::Meta,
};

/// The catalogue's query string: what the search form and the filter links send.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct CatalogueQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    q: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kind: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    license: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    encrypted: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    priced: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compute_only: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// The sorts offered, as `(hub name, indexer sort, label)`.
const SORTS: &[(&str, &str, &str)] = &[
    ("newest", "id_desc", "Newest"),
    ("oldest", "id_asc", "Oldest"),
    ("most_bought", "sales_desc", "Most bought"),
    ("most_used", "jobs_desc", "Most used in jobs"),
    ("revenue", "revenue_desc", "Most revenue"),
    ("price_asc", "price_asc", "Price: low to high"),
    ("price_desc", "price_desc", "Price: high to low"),
];

impl CatalogueQuery {
    /// Empty strings (a submitted blank field) mean "not set".
    fn normalized(mut self) -> Self {
        for field in [
            &mut self.q,
            &mut self.kind,
            &mut self.license,
            &mut self.owner,
            &mut self.encrypted,
            &mut self.sort,
            &mut self.cursor,
        ] {
            if field.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *field = None;
            }
        }
        self
    }

    fn api_query(&self, page_size: u32) -> Result<AssetQuery, PageError> {
        let sort = self.sort.as_deref().unwrap_or("newest");
        let (_, api_sort, _) = SORTS.iter().find(|(name, ..)| *name == sort).ok_or_else(|| {
            let names: Vec<&str> = SORTS.iter().map(|(name, ..)| *name).collect();
            PageError::BadRequest(format!("sort: {sort:?} is not one of {}", names.join(", ")))
        })?;
        Ok(AssetQuery {
            q: self.q.clone(),
            kind: self.kind.clone(),
            owner: self.owner.clone(),
            license: self.license.clone(),
            tag: self.tag.clone(),
            encrypted: flag("encrypted", self.encrypted.as_deref())?,
            priced: flag("priced", self.priced.as_deref())?,
            compute_only: flag("compute_only", self.compute_only.as_deref())?,
            sort: Some((*api_sort).to_owned()),
            cursor: self.cursor.clone(),
            limit: Some(page_size.to_string()),
            ..AssetQuery::default()
        })
    }

    /// This query's URL with `change` applied and the cursor dropped (a new filter starts at page one).
    fn with(&self, change: impl FnOnce(&mut Self)) -> String {
        let mut next = self.clone();
        next.cursor = None;
        change(&mut next);
        next.href()
    }

    /// The filters to keep when the sort form is submitted.
    fn hidden_fields(&self) -> Vec<(&'static str, &str)> {
        [
            ("q", &self.q),
            ("kind", &self.kind),
            ("license", &self.license),
            ("owner", &self.owner),
            ("encrypted", &self.encrypted),
            ("tag", &self.tag),
            ("priced", &self.priced),
            ("compute_only", &self.compute_only),
        ]
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.as_deref()?)))
        .collect()
    }

    fn href(&self) -> String {
        let query = serde_urlencoded::to_string(self).unwrap_or_default();
        if query.is_empty() { "/assets".into() } else { format!("/assets?{query}") }
    }
}

/// A `true`/`false` filter; anything else is a 400 naming it.
fn flag(name: &str, value: Option<&str>) -> Result<Option<bool>, PageError> {
    match value {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(other) => Err(PageError::BadRequest(format!("{name}: {other:?} is not true or false"))),
    }
}

/// `GET /` and `GET /assets`.
pub(crate) async fn catalogue(
    State(hub): State<Hub>,
    query: Result<Query<CatalogueQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Markup, PageError> {
    let Query(query) = query.map_err(|err| PageError::BadRequest(err.body_text()))?;
    let query = query.normalized();
    let api_query = query.api_query(hub.page_size())?;
    let facet_query = FacetQuery::from(&api_query);
    let (page_of, facets) =
        tokio::try_join!(hub.api().assets(&api_query), hub.api().asset_facets(&facet_query))?;
    let heading = match (&query.q, &query.kind) {
        (Some(q), _) => format!("Results for “{q}”"),
        (None, Some(kind)) => format!("{}s", capitalized(kind)),
        (None, None) => "Catalogue".to_owned(),
    };
    let description = "Datasets, models and algorithms on Agora: owned on chain, verified by content hash, paid for with access tokens.";
    let kind_count = |kind: &str| facets.kinds.iter().find(|f| f.value == kind).map_or(0, |f| f.count);
    let is = |value: &Option<String>, wanted: &str| value.as_deref() == Some(wanted);
    let body = html! {
        h1 { (heading) }
        p.total #total data-total=(facets.total) { (facets.total) @if facets.total == 1 { " asset" } @else { " assets" } }
        div.catalogue {
            nav.filters aria-label="Filters" {
                h2 { "Kind" }
                ul {
                    (choice("All", query.with(|q| q.kind = None), query.kind.is_none(), None))
                    @for kind in AssetKind::ALL {
                        @let name = kind.as_str();
                        (choice(&format!("{}s", capitalized(name)), query.with(|q| q.kind = Some(name.to_owned())), is(&query.kind, name), Some(kind_count(name))))
                    }
                }
                h2 { "Price" }
                ul {
                    (choice("Any", query.with(|q| q.priced = None), query.priced.is_none(), None))
                    (choice("Free", query.with(|q| q.priced = Some("false".into())), is(&query.priced, "false"), Some(facets.free)))
                    (choice("Priced", query.with(|q| q.priced = Some("true".into())), is(&query.priced, "true"), Some(facets.priced)))
                }
                h2 { "Access" }
                ul {
                    (choice("Any", query.with(|q| { q.encrypted = None; q.compute_only = None; }), query.encrypted.is_none() && query.compute_only.is_none(), None))
                    (choice("Encrypted", query.with(|q| q.encrypted = Some("true".into())), is(&query.encrypted, "true"), Some(facets.encrypted)))
                    (choice("Open", query.with(|q| q.encrypted = Some("false".into())), is(&query.encrypted, "false"), None))
                    (choice("Compute-only", query.with(|q| q.compute_only = Some("true".into())), is(&query.compute_only, "true"), Some(facets.compute_only)))
                }
                @if !facets.licenses.is_empty() || query.license.is_some() {
                    h2 { "License" }
                    ul {
                        (choice("Any", query.with(|q| q.license = None), query.license.is_none(), None))
                        @for license in facets.licenses.iter().take(8) {
                            (choice(&license.value, query.with(|q| q.license = Some(license.value.clone())), is(&query.license, &license.value), Some(license.count)))
                        }
                    }
                }
                @if !facets.tags.is_empty() || query.tag.is_some() {
                    h2 { "Tags" }
                    ul.tags {
                        (choice("Any", query.with(|q| q.tag = None), query.tag.is_none(), None))
                        @for tag in facets.tags.iter().take(12) {
                            (choice(&tag.value, query.with(|q| q.tag = Some(tag.value.clone())), is(&query.tag, &tag.value), Some(tag.count)))
                        }
                    }
                }
                @if let Some(owner) = &query.owner {
                    h2 { "Owner" }
                    p { code { (short(owner)) } " " a href=(query.with(|q| q.owner = None)) { "(clear)" } }
                }
            }
            section.results aria-label="Assets" {
                form.sort method="get" action="/assets" {
                    @for (name, value) in query.hidden_fields() { input type="hidden" name=(name) value=(value); }
                    label for="sort" { "Sort by" }
                    select #sort name="sort" {
                        @for (name, _, label) in SORTS {
                            option value=(name) selected[query.sort.as_deref().unwrap_or("newest") == *name] { (label) }
                        }
                    }
                    button type="submit" { "Apply" }
                }
                @if page_of.items.is_empty() {
                    p.empty { "No asset matches. " a href="/assets" { "See every asset" } "." }
                } @else {
                    ol #results.cards {
                        @for asset in &page_of.items { (card(asset)) }
                    }
                }
                @if let Some(cursor) = &page_of.next_cursor {
                    nav.pager aria-label="Pages" {
                        a rel="next" href=({ let mut next = query.clone(); next.cursor = Some(cursor.clone()); next.href() }) { "Next page →" }
                    }
                }
            }
        }
    };
    Ok(page(Head::new(heading, description), None, body))
}

/// One filter choice: a link, marked current when chosen, with how many assets it leaves.
fn choice(label: &str, href: String, current: bool, count: Option<i64>) -> Markup {
    html! {
        li { a href=(href) aria-current=[current.then_some("true")] { (label) @if let Some(count) = count { " " span.count { (count) } } } }
    }
}

/// One asset in a list: name, kind, price, badges, the start of its description, owner.
pub(crate) fn card(asset: &Asset) -> Markup {
    let meta = Meta::of(asset);
    html! {
        li.card data-asset-id=(asset.asset_id) {
            h3 { a href=(format!("/assets/{}", asset.asset_id)) { (meta.name()) } }
            p.badges {
                span.badge.kind { (asset.kind.as_str()) }
                @if asset.encrypted == Some(true) { span.badge.locked { "encrypted" } }
                @if asset.compute_only { span.badge { "compute-only" } }
                @if let Some(license) = meta.license() { span.badge.license { (license) } }
            }
            p.summary { (meta.summary(160)) }
            p.meta {
                span.price { (price(asset)) }
                " · by " code { (short(&asset.owner)) }
            }
        }
    }
}

/// An asset's price as a reader wants it: `Free`, `0.01 ETH`, or `Not listed`.
pub(crate) fn price(asset: &Asset) -> String {
    match asset.price.as_deref() {
        None => "Not listed".into(),
        Some("0") => "Free".into(),
        Some(price) => format::amount(price, asset.currency.as_deref()),
    }
}

pub(crate) fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
