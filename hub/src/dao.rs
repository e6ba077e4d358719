//! The DAO pages: `/dao` (proposals with their state and tally) and `/dao/proposals/{id}`
//! (the description, the tally as a bar, the voters and the timeline).

use agora_api::{Governance, ListQuery, Proposal, ProposalAction, ProposalStatus};
use axum::extract::{Path, Query, State};
use maud::{Markup, PreEscaped, html};
use serde::Deserialize;

use crate::{
    Hub,
    format::{self, address},
    layout::{Head, PageError, page},
    markdown,
};

/// A proposal's state as a voter reads it, from the indexed status, the chain's time (the
/// governor's clock is the block timestamp, `Status::indexed_time`), the tally and the quorum,
/// by the governor's own rule: pending until its snapshot time, active until its deadline
/// (which a late quorum extends; the indexer follows `ProposalExtended`).
pub(crate) fn state(proposal: &Proposal, now: Option<i64>) -> &'static str {
    let at = |n: &str| n.parse::<i64>().ok();
    match proposal.status {
        ProposalStatus::Queued => "queued",
        ProposalStatus::Executed => "executed",
        ProposalStatus::Canceled => "canceled",
        ProposalStatus::Created => match (now, at(&proposal.vote_start), at(&proposal.vote_end)) {
            (Some(now), Some(start), _) if now <= start => "pending",
            (Some(now), _, Some(end)) if now <= end => "active",
            (Some(_), _, Some(_)) => {
                // GovernorCountingSimple: for and abstain count towards the quorum, and for must
                // beat against. A quorum not read yet is taken as reached (the chain decides).
                let (yes, abstain) = (wei(&proposal.votes_for), wei(&proposal.votes_abstain));
                let quorum_reached =
                    proposal.quorum.as_deref().is_none_or(|q| yes.saturating_add(abstain) >= wei(q));
                if quorum_reached && yes > wei(&proposal.votes_against) { "succeeded" } else { "defeated" }
            }
            _ => "pending",
        },
    }
}

/// A governor timepoint (unix seconds, a decimal string) in UTC.
fn timepoint(seconds: &str) -> String {
    seconds.parse::<i64>().map(format::time).unwrap_or_else(|_| format!("at unix time {seconds}"))
}

fn wei(votes: &str) -> u128 {
    votes.parse().unwrap_or(u128::MAX)
}

/// A vote's `support` in words (the shared table's; a value outside a `u8` is unknown too).
pub(crate) fn support_word(support: i16) -> &'static str {
    u8::try_from(support).map_or("unknown", agora_contracts::words::support_name)
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

/// The description after its first line (the title the page already shows), without the
/// `#proposer=0x…` suffix the CLI and the hub append (the page names the proposer).
fn body(proposal: &Proposal) -> &str {
    let rest = proposal.description.split_once('\n').map_or("", |(_, rest)| rest.trim());
    match rest.rsplit_once("#proposer=") {
        Some((before, suffix)) if suffix.len() == 42 && suffix.starts_with("0x") => before.trim(),
        _ => rest,
    }
}

#[derive(Debug, Deserialize)]
pub(crate) struct DaoQuery {
    cursor: Option<String>,
}

/// `GET /dao`.
pub(crate) async fn dao(State(hub): State<Hub>, Query(query): Query<DaoQuery>) -> Result<Markup, PageError> {
    let api = hub.api();
    let list = ListQuery::page(query.cursor, 50);
    let (proposals, status, governance) =
        tokio::try_join!(api.proposals(&list), api.status(), api.governance())?;
    let now = status.indexed_time;
    let body = html! {
        h1 { "DAO" }
        p.lead { "Holders of the governance token propose and vote on the protocol's fees, listings, disputes and treasury. A proposal that passes waits in the timelock before it runs." }
        (overview(&governance))
        (dao_panel(&governance))
        section #proposals aria-labelledby="proposals-h" {
            h2 #proposals-h { "Proposals" }
            @if proposals.items.is_empty() { p.empty { "No proposal yet." } }
            @else {
                ol.proposals {
                    @for proposal in &proposals.items {
                        @let state = state(proposal, now);
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
    let head = Head {
        scripts: &[crate::assets::WALLET_JS_PATH],
        ..Head::new("DAO", "Agora's governance: proposals, votes and their outcome.")
    };
    Ok(page(head, None, body))
}

/// Taking part with a wallet: votes and delegation, and the common proposals as forms whose
/// calls are shown decoded before the wallet signs them. The wallet script fills in and drives it.
fn dao_panel(g: &Governance) -> Markup {
    html! {
        section #dao-panel aria-labelledby="dao-panel-h" data-threshold=[g.proposal_threshold.as_deref()] {
            h2 #dao-panel-h { "Take part" }
            p #dao-hint.note { "Voting, delegating and proposing here need a browser wallet and JavaScript; the CLI does the same: "
                code { "agora dao delegate" } ", " code { "agora dao propose" } ", " code { "agora dao vote" } "." }
            div.panels {
                form #delegate-form.action aria-labelledby="delegate-h" {
                    h3 #delegate-h { "Your votes" }
                    p #votes-state.state role="status" {}
                    fieldset {
                        legend { "Delegate your voting power to" }
                        label.check { input type="radio" name="to" value="self" checked; " yourself" }
                        label.check { input type="radio" name="to" value="other"; " another account: " }
                        input #delegate-to type="text" name="address" placeholder="0x…" aria-label="Delegate's address" spellcheck="false" autocomplete="off";
                    }
                    button type="submit" disabled { "Delegate" }
                }
                form #propose-form.action aria-labelledby="propose-h" {
                    h3 #propose-h { "New proposal" }
                    label for="proposal-kind" { "Decision" }
                    select #proposal-kind name="kind" {
                        option value="set-fee" { "Set the protocol fee" }
                        option value="delist" { "Delist an asset" }
                        option value="relist" { "Relist an asset" }
                        option value="rule-dispute" { "Rule on a disputed job" }
                        option value="treasury-transfer" { "Pay from the treasury" }
                    }
                    div.fields data-kind="set-fee" {
                        label for="fee-bps" { "New fee (basis points; 100 = 1 %)" }
                        input #fee-bps type="number" name="bps" min="0" max="10000" step="1";
                    }
                    div.fields data-kind="delist relist" hidden {
                        label for="listing-asset" { "Asset id" }
                        input #listing-asset type="number" name="asset" min="1" step="1";
                        label for="listing-reason" { "IPFS CID of the reason" }
                        input #listing-reason type="text" name="reason" spellcheck="false" autocomplete="off";
                    }
                    div.fields data-kind="rule-dispute" hidden {
                        label for="dispute-job" { "Job id" }
                        input #dispute-job type="number" name="job" min="1" step="1";
                        label.check { input #dispute-fault type="checkbox" name="fault"; " The provider was at fault (the consumer is refunded)" }
                        label for="dispute-slash" { "Stake to slash (ETH)" }
                        input #dispute-slash type="text" name="slash" value="0" inputmode="decimal";
                    }
                    div.fields data-kind="treasury-transfer" hidden {
                        label for="transfer-to" { "Recipient" }
                        input #transfer-to type="text" name="to" placeholder="0x…" spellcheck="false" autocomplete="off";
                        label for="transfer-amount" { "Amount" }
                        input #transfer-amount type="text" name="amount" inputmode="decimal";
                        label for="transfer-currency" { "Currency (eth or an ERC-20 address)" }
                        input #transfer-currency type="text" name="currency" value="eth" spellcheck="false" autocomplete="off";
                    }
                    label for="proposal-description" { "Description (the first line is its title; Markdown)" }
                    textarea #proposal-description name="description" rows="4" required {}
                    div #proposal-preview.preview aria-live="polite" {}
                    button type="submit" disabled { "Propose" }
                    p #propose-state.state role="status" {}
                }
            }
        }
    }
}

/// The settings the DAO controls and what the treasury received.
fn overview(g: &Governance) -> Markup {
    let known = |v: Option<String>| v.unwrap_or_else(|| "not known yet".into());
    html! {
        section #settings aria-labelledby="settings-h" {
            h2 #settings-h { "Settings" }
            dl.facts {
                dt { "Protocol fee on sales" } dd data-setting="protocol-fee" { (known(g.protocol_fee_bps.map(|b| format::percent(u64::from(b))))) }
                dt { "Fee on compute jobs" } dd { (known(g.compute_fee_bps.map(|b| format::percent(u64::from(b))))) }
                dt { "Quorum" } dd { (known(g.quorum_percent.map(|q| format!("{q} % of the votes at the snapshot")))) }
                dt { "Voting" } dd { (known(g.voting_delay.zip(g.voting_period).map(|(d, p)| format!("opens {} after a proposal, lasts {}", format::duration(d.unsigned_abs()), format::duration(p.unsigned_abs()))))) }
                dt { "Timelock delay" } dd { (known(g.timelock_delay.map(|s| format!("{} between queueing and execution", format::duration(s.unsigned_abs()))))) }
                dt { "Proposal threshold" } dd { (known(g.proposal_threshold.as_deref().map(|t| format!("{} votes", format::units(t, 18))))) }
                dt { "Treasury (timelock)" } dd { (address(&g.timelock)) }
            }
            h3 { "Fees paid into the treasury" }
            @if g.treasury.is_empty() { p.empty { "None released yet." } }
            @else {
                ul { @for inflow in &g.treasury {
                    li data-treasury=(inflow.currency) { (format::amount(&inflow.amount, Some(&inflow.currency)))
                        " (sales " (format::amount(&inflow.from_sales, Some(&inflow.currency))) ", compute " (format::amount(&inflow.from_compute, Some(&inflow.currency))) ")" }
                } }
            }
        }
    }
}

/// For, against and abstain as one bar with the numbers beside it.
fn tally_bar(proposal: &Proposal) -> Markup {
    let (yes, no, abstain) =
        (wei(&proposal.votes_for), wei(&proposal.votes_against), wei(&proposal.votes_abstain));
    // For and abstain count towards the quorum (OpenZeppelin's GovernorCountingSimple).
    let quorum = proposal.quorum.as_deref().map(wei);
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
                dt { "Quorum" } dd data-quorum=[proposal.quorum.as_deref()] {
                    @match quorum {
                        Some(q) => {
                            (format::units(&q.to_string(), 18)) " — "
                            @if yes.saturating_add(abstain) >= q { "reached" } @else { "not reached" }
                        }
                        None => "known once voting opens",
                    }
                }
            }
        }
    }
}

/// `GET /dao/proposals/{id}`.
pub(crate) async fn proposal(State(hub): State<Hub>, Path(id): Path<String>) -> Result<Markup, PageError> {
    let api = hub.api();
    let (detail, status) = tokio::try_join!(api.proposal(&id), api.status())?;
    let when = |at: Option<i64>| at.map(|t| format!(" ({})", format::time(t))).unwrap_or_default();
    let proposal = &detail.proposal;
    let state = state(proposal, status.indexed_time);
    let title = title(proposal);
    let body = html! {
        p.kind { "Proposal " code { (format::short_hash(&proposal.proposal_id)) } }
        h1 { (title) }
        p { span class=(format!("badge state {state}")) data-state=(state) { (state) } " · proposed by " (address(&proposal.proposer)) }
        section #actions aria-labelledby="actions-h" {
            h2 #actions-h { "What it does" }
            @if detail.actions.is_empty() { p.empty { "No action." } }
            @else {
                ol.actions { @for action in &detail.actions {
                    li data-function=[action.function.as_deref()] { (action_words(action))
                        details { summary { "Call" } p { "Target " code.wrap { (action.target) } ", value " (format::amount(&action.value, None)) } pre.wrap { code { (action.calldata) } } }
                    }
                } }
            }
        }
        // Read what it does first, then vote.
        (vote_panel(&detail))
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
                        li { "Proposed at block " (proposal.created_block) (when(proposal.created_at)) }
                        li { "Voting opens " (timepoint(&proposal.vote_start)) }
                        li { "Voting closes " (timepoint(&proposal.vote_end)) }
                        @if let Some(eta) = &proposal.eta { li { "Queued" (when(proposal.queued_at)) "; executable from " (eta.parse::<i64>().map(format::time).unwrap_or_else(|_| eta.clone())) } }
                        @if proposal.status == ProposalStatus::Executed { li { "Executed" (when(proposal.executed_at)) } }
                        @if proposal.status == ProposalStatus::Canceled { li { "Canceled" } }
                    }
                    @if let Some(now) = status.indexed_time { p.note { "The chain's clock reads " (format::time(now)) "; a quorum reached late extends the vote." } }
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
                            td {
                                (address(&vote.voter))
                                @if let Some(relayer) = &vote.relayer { br; small.note { "signed; relayed by " (address(relayer)) } }
                            }
                            td { (support_word(vote.support)) }
                            td { (format::units(&vote.weight, 18)) }
                            td { (vote.reason) }
                        }
                    } }
                } }
            }
        }
    };
    let head = Head {
        scripts: &[crate::assets::WALLET_JS_PATH],
        ..Head::new(title, format!("A proposal to Agora's DAO, {state}."))
    };
    Ok(page(head, None, body))
}

/// Voting, queueing and executing with a wallet; the proposal's calls ride along as data, since
/// queueing and executing name them again (with the description's hash).
fn vote_panel(detail: &agora_api::ProposalDetail) -> Markup {
    let join =
        |field: fn(&ProposalAction) -> &str| detail.actions.iter().map(field).collect::<Vec<_>>().join(",");
    html! {
        section #vote-panel aria-labelledby="vote-panel-h"
            data-proposal-id=(detail.proposal.proposal_id) data-description=(detail.proposal.description)
            data-targets=(join(|a| &a.target)) data-values=(join(|a| &a.value)) data-calldatas=(join(|a| &a.calldata))
        {
            h2 #vote-panel-h { "Your vote" }
            p #vote-hint.note { "Voting needs a browser wallet and JavaScript; or " code { "agora dao vote " (detail.proposal.proposal_id) " for" } "." }
            form #vote-form.action hidden {
                fieldset {
                    legend { "Vote" }
                    label.check { input type="radio" name="support" value="1" checked; " For" }
                    label.check { input type="radio" name="support" value="0"; " Against" }
                    label.check { input type="radio" name="support" value="2"; " Abstain" }
                }
                label for="vote-reason" { "Reason (optional, public)" }
                textarea #vote-reason name="reason" rows="2" maxlength="2000" {}
                button type="submit" { "Cast vote" }
            }
            button #queue-button type="button" hidden { "Queue for execution" }
            button #execute-button type="button" hidden { "Execute" }
            p #vote-state.state role="status" {}
        }
    }
}

/// A proposal's action in words, e.g. "Set the protocol fee to 2.5 %", "Delist asset 12",
/// "Rule the dispute on job 7: provider at fault, slash 25 %"; anything else names the call.
pub(crate) fn action_words(action: &ProposalAction) -> String {
    let arg =
        |name: &str| action.args.iter().find(|a| a.name == name).map(|a| a.value.as_str()).unwrap_or("?");
    let bps = |value: &str| value.parse::<u64>().map(format::percent).unwrap_or_else(|_| value.to_owned());
    let target = action.target_name.clone().unwrap_or_else(|| format::short(&action.target));
    match action.function.as_deref() {
        Some("setProtocolFee") => format!("Set the protocol fee to {}", bps(arg("feeBps"))),
        Some("delist") => format!("Delist asset {}", arg("assetId")),
        Some("relist") => format!("Relist asset {}", arg("assetId")),
        Some("allowCurrency") => format!("Accept {} as a payment currency", format::short(arg("currency"))),
        Some("disallowCurrency") => {
            format!("Stop accepting {} as a payment currency", format::short(arg("currency")))
        }
        Some("ruleDispute") => {
            let fault =
                if arg("providerAtFault") == "true" { "provider at fault" } else { "provider not at fault" };
            format!(
                "Rule the dispute on job {}: {fault}, slash {} of its stake",
                arg("jobId"),
                format::amount(arg("slash"), None)
            )
        }
        Some("transfer") => format!(
            "Pay {} from the treasury to {}",
            format::amount(arg("value"), Some(&action.target)),
            format::short(arg("to"))
        ),
        None if action.calldata == "0x" => {
            format!("Send {} from the treasury to {target}", format::amount(&action.value, None))
        }
        Some(function) => {
            let args: Vec<String> = action.args.iter().map(|a| format!("{} = {}", a.name, a.value)).collect();
            format!("Call {function}({}) on {target}", args.join(", "))
        }
        None => format!("Call {target} with calldata {}", format::short_hash(&action.calldata)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proposal(votes_for: &str, against: &str, abstain: &str, quorum: Option<&str>) -> Proposal {
        Proposal {
            proposal_id: "1".into(),
            proposer: "0x0000000000000000000000000000000000000001".into(),
            description: "Fee to 1.5%".into(),
            vote_start: "10".into(),
            vote_end: "20".into(),
            status: ProposalStatus::Created,
            eta: None,
            votes_for: votes_for.into(),
            votes_against: against.into(),
            votes_abstain: abstain.into(),
            created_block: 5,
            created_at: None,
            quorum: quorum.map(str::to_owned),
            queued_at: None,
            executed_at: None,
        }
    }

    #[test]
    fn states_follow_the_clock_the_tally_and_the_quorum() {
        assert_eq!(state(&proposal("0", "0", "0", None), Some(9)), "pending");
        assert_eq!(
            state(&proposal("0", "0", "0", None), Some(10)),
            "pending",
            "until the snapshot has passed"
        );
        assert_eq!(state(&proposal("5", "0", "0", None), Some(20)), "active");
        assert_eq!(state(&proposal("5", "1", "0", Some("4")), Some(21)), "succeeded");
        assert_eq!(
            state(&proposal("3", "1", "1", Some("4")), Some(21)),
            "succeeded",
            "abstain counts to the quorum"
        );
        assert_eq!(state(&proposal("3", "1", "0", Some("4")), Some(21)), "defeated", "below the quorum");
        assert_eq!(state(&proposal("5", "5", "0", Some("4")), Some(21)), "defeated", "a tie is defeated");
        let executed = Proposal { status: ProposalStatus::Executed, ..proposal("5", "0", "0", None) };
        assert_eq!(state(&executed, Some(21)), "executed");
    }
}
