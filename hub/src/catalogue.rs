//! The catalogue (`/` and `/assets`): the indexer's full-text search with filters, sort and
//! cursor pagination, rendered as a list of asset cards.

use agora_api::{Asset, AssetKind, AssetQuery};
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
    sort: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    cursor: Option<String>,
}

/// The sorts offered, as `(hub name, indexer sort, label)`.
const SORTS: &[(&str, &str, &str)] = &[
    ("newest", "id_desc", "Newest"),
    ("oldest", "id_asc", "Oldest"),
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
            PageError::BadRequest(format!(
                "sort: {sort:?} is not one of newest, oldest, price_asc, price_desc"
            ))
        })?;
        let encrypted = match self.encrypted.as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                return Err(PageError::BadRequest(format!("encrypted: {other:?} is not true or false")));
            }
        };
        Ok(AssetQuery {
            q: self.q.clone(),
            kind: self.kind.clone(),
            owner: self.owner.clone(),
            license: self.license.clone(),
            encrypted,
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

    fn href(&self) -> String {
        let query = serde_urlencoded::to_string(self).unwrap_or_default();
        if query.is_empty() { "/assets".into() } else { format!("/assets?{query}") }
    }
}

/// `GET /` and `GET /assets`.
pub(crate) async fn catalogue(
    State(hub): State<Hub>,
    query: Result<Query<CatalogueQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Markup, PageError> {
    let Query(query) = query.map_err(|err| PageError::BadRequest(err.body_text()))?;
    let query = query.normalized();
    let page_of = hub.api().assets(&query.api_query(hub.page_size())?).await?;
    let heading = match (&query.q, &query.kind) {
        (Some(q), _) => format!("Results for “{q}”"),
        (None, Some(kind)) => format!("{}s", capitalized(kind)),
        (None, None) => "Catalogue".to_owned(),
    };
    let description = "Datasets, models and algorithms on Agora: owned on chain, verified by content hash, paid for with access tokens.";
    let body = html! {
        h1 { (heading) }
        div.catalogue {
            nav.filters aria-label="Filters" {
                h2 { "Kind" }
                ul {
                    li { a href=(query.with(|q| q.kind = None)) aria-current=[query.kind.is_none().then_some("true")] { "All" } }
                    @for kind in AssetKind::ALL {
                        @let name = kind.as_str();
                        li { a href=(query.with(|q| q.kind = Some(name.to_owned()))) aria-current=[(query.kind.as_deref() == Some(name)).then_some("true")] { (capitalized(name)) "s" } }
                    }
                }
                h2 { "Access" }
                ul {
                    li { a href=(query.with(|q| q.encrypted = None)) aria-current=[query.encrypted.is_none().then_some("true")] { "Any" } }
                    li { a href=(query.with(|q| q.encrypted = Some("true".into()))) aria-current=[(query.encrypted.as_deref() == Some("true")).then_some("true")] { "Encrypted" } }
                    li { a href=(query.with(|q| q.encrypted = Some("false".into()))) aria-current=[(query.encrypted.as_deref() == Some("false")).then_some("true")] { "Open" } }
                }
                @if let Some(license) = &query.license {
                    h2 { "License" }
                    p { (license) " " a href=(query.with(|q| q.license = None)) { "(clear)" } }
                }
                @if let Some(owner) = &query.owner {
                    h2 { "Owner" }
                    p { code { (short(owner)) } " " a href=(query.with(|q| q.owner = None)) { "(clear)" } }
                }
            }
            section.results aria-label="Assets" {
                form.sort method="get" action="/assets" {
                    @if let Some(q) = &query.q { input type="hidden" name="q" value=(q); }
                    @if let Some(kind) = &query.kind { input type="hidden" name="kind" value=(kind); }
                    @if let Some(license) = &query.license { input type="hidden" name="license" value=(license); }
                    @if let Some(owner) = &query.owner { input type="hidden" name="owner" value=(owner); }
                    @if let Some(encrypted) = &query.encrypted { input type="hidden" name="encrypted" value=(encrypted); }
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
