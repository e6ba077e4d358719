//! The account page (`/accounts/{address}`): what an address owns, holds, spent and earned,
//! and whom it delegates its votes to.

use axum::extract::{Path, State};
use maud::{Markup, html};

use crate::{
    Hub,
    catalogue::card,
    format::{self, address, identicon},
    layout::{Head, PageError, page},
};

/// `GET /accounts/{address}`.
pub(crate) async fn account(State(hub): State<Hub>, Path(who): Path<String>) -> Result<Markup, PageError> {
    let (account, waiting) = tokio::join!(hub.api().account(&who), hub.api().revenue_waiting(&who));
    let account = account?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let now = i64::try_from(now).unwrap_or(i64::MAX);
    let title = format!("Account {}", format::short(&account.address));
    let body = html! {
        header.account-head {
            h1 { (identicon(&account.address)) " Account" }
            p { (format::hash("address", &account.address)) }
            p { "Votes delegated to: "
                @match &account.delegate {
                    Some(delegate) if *delegate == account.address => "itself",
                    Some(delegate) => (address(delegate)),
                    None => "nobody (its tokens do not vote until delegated)",
                }
            }
        }
        section #owned aria-labelledby="owned-h" {
            h2 #owned-h { "Assets owned (" (account.assets_count) ")" }
            @if account.assets.is_empty() { p.empty { "None." } }
            @else {
                ol.cards { @for asset in &account.assets { (card(asset)) } }
                @if account.assets_count > account.assets.len() as i64 {
                    p { a href=(format!("/assets?owner={}", account.address)) { "All " (account.assets_count) " assets" } }
                }
            }
        }
        section #tokens aria-labelledby="tokens-h" {
            h2 #tokens-h { "Access tokens held (" (account.access_tokens_count) ")" }
            @if account.access_tokens.is_empty() { p.empty { "None." } }
            @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "Asset" } th scope="col" { "Tokens" } } }
                    tbody { @for held in &account.access_tokens {
                        tr { td { a href=(format!("/assets/{}", held.asset_id)) { "Asset " (held.asset_id) } } td { (held.balance) } }
                    } }
                } }
            }
        }
        section #orders aria-labelledby="orders-h" {
            h2 #orders-h { "Tokens spent (" (account.orders_count) ")" }
            @if account.orders.is_empty() { p.empty { "None." } }
            @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "Asset" } th scope="col" { "Order" } th scope="col" { "Provider" } th scope="col" { "Valid" } th scope="col" { "Block" } } }
                    tbody { @for order in &account.orders {
                        tr { td { a href=(format!("/assets/{}", order.asset_id)) { "Asset " (order.asset_id) } } td { (order.order_id) } td { (address(&order.provider)) }
                            td data-expires=(order.expires_at) { (validity(order.expires_at, now)) } td { (order.block_number) } }
                    } }
                } }
            }
        }
        section #votes aria-labelledby="votes-h" {
            h2 #votes-h { "Votes cast (" (account.votes_count) ")" }
            @if account.votes.is_empty() { p.empty { "None." } }
            @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "Proposal" } th scope="col" { "Vote" } th scope="col" { "Weight" } th scope="col" { "Block" } } }
                    tbody { @for vote in &account.votes {
                        tr {
                            td { a href=(format!("/dao/proposals/{}", vote.proposal_id)) { code { (format::short_hash(&vote.proposal_id)) } } }
                            td { (crate::dao::support_word(vote.support)) }
                            td { (format::units(&vote.weight, 18)) }
                            td { (vote.block_number) }
                        }
                    } }
                } }
            }
        }
        section #waiting aria-labelledby="waiting-h" {
            h2 #waiting-h { "Revenue waiting to be released" }
            @match &waiting {
                Ok(waiting) if waiting.items.is_empty() => p.empty { "None (read from the chain at block " (waiting.block_number) ")." },
                Ok(waiting) => {
                    p.note { "Your share of sales waits in the revenue splitter until it is released (anyone may release it to you; an asset's page does it with a wallet). Read from the chain at block " (waiting.block_number) "." }
                    div.scroll { table {
                        thead { tr { th scope="col" { "From" } th scope="col" { "Amount" } } }
                        tbody { @for item in &waiting.items {
                            tr data-waiting=(item.asset_id) {
                                td { a href=(format!("/assets/{}", item.asset_id)) { "Asset " (item.asset_id) } }
                                td { (format::amount(&item.amount, Some(&item.currency))) }
                            }
                        } }
                    } }
                }
                Err(err) => p.empty { "Not known: the indexer could not read the chain (" (err) ")." },
            }
        }
        section #revenue aria-labelledby="revenue-h" {
            h2 #revenue-h { "Revenue released (" (account.releases_count) ")" }
            @if account.releases.is_empty() { p.empty { "None." } }
            @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "From" } th scope="col" { "Amount" } th scope="col" { "Block" } } }
                    tbody { @for release in &account.releases {
                        tr {
                            td { @match &release.asset_id { Some(id) => a href=(format!("/assets/{id}")) { "Asset " (id) }, None => "the market" } }
                            td { (format::amount(&release.amount, Some(&release.currency))) }
                            td { (release.block_number) }
                        }
                    } }
                } }
            }
        }
    };
    Ok(page(
        Head::new(title, format!("What {} owns, holds and earns on Agora.", account.address)),
        None,
        body,
    ))
}

/// How long an order serves: a single-use order serves one download; a timed one until it expires.
fn validity(expires_at: i64, now: i64) -> String {
    match expires_at {
        0 => "single use".into(),
        at if at <= now => format!("expired {}", format::time(at)),
        at => format!("until {}", format::time(at)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn orders_say_whether_they_still_serve() {
        assert_eq!(super::validity(0, 100), "single use");
        assert!(super::validity(50, 100).starts_with("expired 1970-01-01"));
        assert!(super::validity(200, 100).starts_with("until 1970-01-01"));
    }
}
