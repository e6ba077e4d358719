//! The DAO pages: `/dao` (proposals with their state and tally) and `/dao/proposals/{id}`
//! (the description, the tally as a bar, the voters and the timeline).

use agora_api::{ListQuery, Proposal, ProposalStatus};
use axum::extract::{Path, Query, State};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use crate::{
    Hub,
    format::{self, address},
    layout::{Head, PageError, page},
    markdown,
};

/// A proposal's state as a voter reads it, from the indexed status and the chain's head block.
pub(crate) fn state(proposal: &Proposal, head: Option<u64>) -> &'static str {
    let at = |n: &str| n.parse::<u64>().ok();
    match proposal.status {
        ProposalStatus::Queued => "queued",
        ProposalStatus::Executed => "executed",
        ProposalStatus::Canceled => "canceled",
        ProposalStatus::Created => match (head, at(&proposal.vote_start), at(&proposal.vote_end)) {
            (Some(head), Some(start), _) if head < start => "pending",
            (Some(head), _, Some(end)) if head <= end => "active",
            (Some(_), _, Some(_)) => {
                if wei(&proposal.votes_for) > wei(&proposal.votes_against) {
                    "succeeded"
                } else {
                    "defeated"
                }
            }
            _ => "pending",
        },
    }
}

fn wei(votes: &str) -> u128 {
    votes.parse().unwrap_or(u128::MAX)
}

/// The first line of a proposal's description: its title.
fn title(proposal: &Proposal) -> String {
    let line = proposal.description.lines().next().unwrap_or_default().trim_start_matches('#').trim();
    if line.is_empty() {
        format!("Proposal {}", format::short_hash(&proposal.proposal_id))
    } else {
        line.chars().take(140).collect()
    }
}

/// The description after its first line (the title the page already shows).
fn body(proposal: &Proposal) -> &str {
    proposal.description.split_once('\n').map_or("", |(_, rest)| rest.trim())
}

#[derive(Debug, Deserialize)]
pub(crate) struct DaoQuery {
    cursor: Option<String>,
}

/// `GET /dao`.
pub(crate) async fn dao(State(hub): State<Hub>, Query(query): Query<DaoQuery>) -> Result<Markup, PageError> {
    let api = hub.api();
    let list = ListQuery::page(query.cursor, 50);
    let (proposals, status) = tokio::try_join!(api.proposals(&list), api.status())?;
    let head = status.head_block;
    let body = html! {
        h1 { "DAO" }
        p.lead { "Holders of the governance token propose and vote on the protocol's fees, listings, disputes and treasury. A proposal that passes waits in the timelock before it runs." }
        section #proposals aria-labelledby="proposals-h" {
            h2 #proposals-h { "Proposals" }
            @if proposals.items.is_empty() { p.empty { "No proposal yet." } }
            @else {
                ol.proposals {
                    @for proposal in &proposals.items {
                        @let state = state(proposal, head);
                        li data-proposal-id=(proposal.proposal_id) {
                            a href=(format!("/dao/proposals/{}", proposal.proposal_id)) { (title(proposal)) }
                            " " span class=(format!("badge state {state}")) { (state) }
                            (tally_bar(proposal))
                        }
                    }
                }
            }
            @if let Some(cursor) = &proposals.next_cursor {
                nav.pager aria-label="Pages" { a rel="next" href=(format!("/dao?cursor={cursor}")) { "More proposals →" } }
            }
        }
    };
    Ok(page(Head::new("DAO", "Agora's governance: proposals, votes and their outcome."), None, body))
}

/// For, against and abstain as one bar with the numbers beside it.
fn tally_bar(proposal: &Proposal) -> Markup {
    let (yes, no, abstain) =
        (wei(&proposal.votes_for), wei(&proposal.votes_against), wei(&proposal.votes_abstain));
    let total = yes.saturating_add(no).saturating_add(abstain).max(1);
    let pct = |v: u128| (v.saturating_mul(1000) / total) as f64 / 10.0;
    html! {
        div.tally {
            div.bar role="img" aria-label=(format!("{} % for, {} % against, {} % abstain", pct(yes), pct(no), pct(abstain))) {
                span.for style=(format!("width:{}%", pct(yes))) {}
                span.against style=(format!("width:{}%", pct(no))) {}
                span.abstain style=(format!("width:{}%", pct(abstain))) {}
            }
            dl.votes {
                dt { "For" } dd data-votes="for" data-raw=(proposal.votes_for) { (format::units(&proposal.votes_for, 18)) }
                dt { "Against" } dd data-votes="against" data-raw=(proposal.votes_against) { (format::units(&proposal.votes_against, 18)) }
                dt { "Abstain" } dd data-votes="abstain" data-raw=(proposal.votes_abstain) { (format::units(&proposal.votes_abstain, 18)) }
            }
        }
    }
}

/// `GET /dao/proposals/{id}`.
pub(crate) async fn proposal(State(hub): State<Hub>, Path(id): Path<String>) -> Result<Markup, PageError> {
    let api = hub.api();
    let (detail, status) = tokio::try_join!(api.proposal(&id), api.status())?;
    let proposal = &detail.proposal;
    let state = state(proposal, status.head_block);
    let title = title(proposal);
    let body = html! {
        p.kind { "Proposal " code { (format::short_hash(&proposal.proposal_id)) } }
        h1 { (title) }
        p { span class=(format!("badge state {state}")) data-state=(state) { (state) } " · proposed by " (address(&proposal.proposer)) }
        div.asset-body {
            article.card-text aria-label="Description" {
                @if body(proposal).is_empty() { p.empty { "The proposer wrote nothing more." } }
                @else { (PreEscaped(markdown::render(body(proposal)))) }
            }
            aside.side {
                section aria-labelledby="tally-h" { h2 #tally-h { "Tally" } (tally_bar(proposal)) }
                section aria-labelledby="timeline-h" {
                    h2 #timeline-h { "Timeline" }
                    ol.timeline {
                        li { "Proposed at block " (proposal.created_block) }
                        li { "Voting opens at block " (proposal.vote_start) }
                        li { "Voting closes at block " (proposal.vote_end) }
                        @if let Some(eta) = &proposal.eta { li { "Queued; executable from " (eta) } }
                        @if proposal.status == ProposalStatus::Executed { li { "Executed" } }
                        @if proposal.status == ProposalStatus::Canceled { li { "Canceled" } }
                    }
                    @if let Some(head) = status.head_block { p.note { "The chain is at block " (head) "." } }
                }
            }
        }
        section #voters aria-labelledby="voters-h" {
            h2 #voters-h { "Votes (" (detail.votes_count) ")" }
            @if detail.votes.is_empty() { p.empty { "No vote yet." } }
            @else {
                div.scroll { table {
                    thead { tr { th scope="col" { "Voter" } th scope="col" { "Vote" } th scope="col" { "Weight" } th scope="col" { "Reason" } } }
                    tbody { @for vote in &detail.votes {
                        tr {
                            td { (address(&vote.voter)) }
                            td { (match vote.support { 0 => "against", 1 => "for", 2 => "abstain", _ => "?" }) }
                            td { (format::units(&vote.weight, 18)) }
                            td { (vote.reason) }
                        }
                    } }
                } }
            }
        }
    };
    Ok(page(Head::new(title, format!("A proposal to Agora's DAO, {state}.")), None, body))
}
