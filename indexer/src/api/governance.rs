//! Governance: the DAO's contracts, settings and treasury inflows, proposals with their tallies
//! and decoded actions, and their votes page by page.

use agora_api::{
    ActionArg, CursorQuery, ErrorBody, Governance, ListQuery, Page, Proposal, ProposalAction, ProposalDetail,
    ProposalStatus, TreasuryInflow, Vote,
};
use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
};

use super::{
    ApiError, AppState, EMBEDDED, NEWEST, bad_cursor, block_time, chain, cursor_keys, cursor_position, hex,
    list_page, not_one_of, page_of, parse_address, parse_uint, sub_limit,
};
use agora_contracts::ContractAddresses;
use alloy::primitives::Address;

use crate::decode::{Setting, Source, calls};

/// A proposal's columns as [`ProposalRow`] names them.
fn proposal_columns() -> String {
    format!(
        "proposal_id::text AS proposal_id, proposer, description, vote_start::text AS vote_start,
         vote_end::text AS vote_end, status, eta::text AS eta, votes_for::text AS votes_for,
         votes_against::text AS votes_against, votes_abstain::text AS votes_abstain, created_block,
         quorum::text AS quorum, {} AS created_at, {} AS queued_at, {} AS executed_at",
        block_time("proposals", "created_block"),
        block_time("proposals", "queued_block"),
        block_time("proposals", "executed_block"),
    )
}

/// One row of `proposals`, as [`PROPOSAL_COLUMNS`] selects it.
#[derive(Debug, sqlx::FromRow)]
struct ProposalRow {
    proposal_id: String,
    proposer: Vec<u8>,
    description: String,
    vote_start: String,
    vote_end: String,
    status: String,
    eta: Option<String>,
    votes_for: String,
    votes_against: String,
    votes_abstain: String,
    created_block: i64,
    quorum: Option<String>,
    created_at: Option<i64>,
    queued_at: Option<i64>,
    executed_at: Option<i64>,
}

impl TryFrom<ProposalRow> for Proposal {
    type Error = ApiError;

    fn try_from(r: ProposalRow) -> Result<Self, ApiError> {
        let status = r
            .status
            .parse::<ProposalStatus>()
            .map_err(|err| ApiError::Corrupt(format!("proposal {}: status {err}", r.proposal_id)))?;
        Ok(Proposal {
            proposal_id: r.proposal_id,
            proposer: hex(&r.proposer),
            description: r.description,
            vote_start: r.vote_start,
            vote_end: r.vote_end,
            status,
            eta: r.eta,
            votes_for: r.votes_for,
            votes_against: r.votes_against,
            votes_abstain: r.votes_abstain,
            created_block: r.created_block,
            created_at: r.created_at,
            quorum: r.quorum,
            queued_at: r.queued_at,
            executed_at: r.executed_at,
        })
    }
}

#[utoipa::path(
    get,
    path = "/proposals",
    tag = "governance",
    summary = "Governance proposals with tallies, by id",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of proposals", body = Page<Proposal>),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn proposals(
    State(state): State<AppState>,
    params: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Proposal>>, ApiError> {
    let Query(p) = params?;
    let (cursor, limit) = list_page(&p)?;
    if let Some(s) = p.status.as_deref().filter(|s| s.parse::<ProposalStatus>().is_err()) {
        return Err(not_one_of(s, &ProposalStatus::ALL, ProposalStatus::as_str, false));
    }
    let sql = format!(
        "SELECT {} FROM proposals
         WHERE chain_id = $1 AND ($2::numeric IS NULL OR proposal_id > $2::numeric) AND ($3::text IS NULL OR status = $3)
         ORDER BY proposals.proposal_id LIMIT $4",
        proposal_columns()
    );
    let rows: Vec<ProposalRow> = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(cursor)
        .bind(p.status.as_deref())
        .bind(limit)
        .fetch_all(&state.pool)
        .await?;
    let items = rows.into_iter().map(Proposal::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(page_of(items, limit, |last| last.proposal_id.clone())))
}

#[utoipa::path(
    get,
    path = "/proposals/{id}",
    tag = "governance",
    summary = "One proposal with its decoded actions, its newest votes, 100 at most, and their count",
    params(("id" = String, Path, description = "The proposal id: a decimal uint256")),
    responses(
        (status = 200, description = "The proposal", body = ProposalDetail),
        (status = 400, description = "The id is not a decimal uint256", body = ErrorBody),
        (status = 404, description = "No proposal has this id", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn proposal(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<ProposalDetail>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("proposal id", &id)?;
    let sql = format!(
        "SELECT {} FROM proposals WHERE chain_id = $1 AND proposal_id = $2::numeric",
        proposal_columns()
    );
    let row: ProposalRow = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(&id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("proposal {id}")))?;
    let votes = votes(&state, &id, (NEWEST, &[]), EMBEDDED).await?;
    let votes_count: i64 =
        sqlx::query_scalar("SELECT count(*) FROM votes WHERE chain_id = $1 AND proposal_id = $2::numeric")
            .bind(chain(&state))
            .bind(&id)
            .fetch_one(&state.pool)
            .await?;
    let actions = actions(&state, &id).await?;
    Ok(Json(ProposalDetail { proposal: Proposal::try_from(row)?, actions, votes, votes_count }))
}

/// One row of `proposal_actions`.
#[derive(Debug, sqlx::FromRow)]
struct ActionRow {
    target: Vec<u8>,
    value: String,
    calldata: Vec<u8>,
}

/// The actions of proposal `proposal_id` in order, each decoded against the ABI of the protocol
/// contract it targets (an ERC-20's for any other address).
async fn actions(state: &AppState, proposal_id: &str) -> Result<Vec<ProposalAction>, ApiError> {
    let rows: Vec<ActionRow> = sqlx::query_as(
        "SELECT target, value::text AS value, calldata FROM proposal_actions
         WHERE chain_id = $1 AND proposal_id = $2::numeric ORDER BY position",
    )
    .bind(chain(state))
    .bind(proposal_id)
    .fetch_all(&state.pool)
    .await?;
    let contracts = deployment(state).await?.map(|d| d.roles()).unwrap_or_default();
    Ok(rows
        .into_iter()
        .map(|r| {
            let source =
                contracts.iter().find(|(address, _)| *address == r.target).map(|(_, source)| *source);
            let call = calls::call(source, &r.calldata);
            ProposalAction {
                target: hex(&r.target),
                target_name: source.map(|s| s.as_str().to_owned()),
                value: r.value,
                calldata: hex(&r.calldata),
                function: call.as_ref().map(|c| c.function.to_owned()),
                args: call
                    .map(|c| c.args.into_iter().map(|(name, value)| ActionArg { name, value }).collect())
                    .unwrap_or_default(),
            }
        })
        .collect())
}

/// The row of `deployments`: the contracts the sync follows on this chain, as its manifest says.
#[derive(Debug, sqlx::FromRow)]
pub(super) struct DeploymentRow {
    agora_token: Vec<u8>,
    timelock: Vec<u8>,
    governor: Vec<u8>,
    asset_registry: Vec<u8>,
    marketplace: Vec<u8>,
    revenue_splitter: Vec<u8>,
    compute_market: Vec<u8>,
    marketplace_fee_bps: Option<i32>,
}

impl DeploymentRow {
    /// The contracts the sync recorded, with `extra`'s (the manifest's, when this API has one)
    /// for the two the table does not keep: the access-token implementation and `AgoraRewards`.
    pub(super) fn contracts(&self, extra: Option<&ContractAddresses>) -> ContractAddresses {
        let at = |bytes: &[u8]| if bytes.len() == 20 { Address::from_slice(bytes) } else { Address::ZERO };
        ContractAddresses {
            agora_token: at(&self.agora_token),
            timelock: at(&self.timelock),
            governor: at(&self.governor),
            asset_registry: at(&self.asset_registry),
            access_token_implementation: extra.map_or(Address::ZERO, |c| c.access_token_implementation),
            marketplace: at(&self.marketplace),
            revenue_splitter: at(&self.revenue_splitter),
            compute_market: at(&self.compute_market),
            rewards: extra.map_or(Address::ZERO, |c| c.rewards),
        }
    }

    /// Each protocol contract's address with its role.
    fn roles(self) -> Vec<(Vec<u8>, Source)> {
        vec![
            (self.agora_token, Source::Token),
            (self.timelock, Source::Timelock),
            (self.governor, Source::Governor),
            (self.asset_registry, Source::Registry),
            (self.marketplace, Source::Marketplace),
            (self.revenue_splitter, Source::Splitter),
            (self.compute_market, Source::Compute),
        ]
    }
}

/// The deployment the sync recorded for this chain when it started; `None` before it has.
pub(super) async fn deployment(state: &AppState) -> Result<Option<DeploymentRow>, ApiError> {
    Ok(sqlx::query_as(
        "SELECT agora_token, timelock, governor, asset_registry, marketplace, revenue_splitter, compute_market,
           marketplace_fee_bps
         FROM deployments WHERE chain_id = $1",
    )
    .bind(chain(state))
    .fetch_optional(&state.pool)
    .await?)
}

/// One setting's newest value in `governance_settings`.
#[derive(Debug, sqlx::FromRow)]
struct SettingRow {
    setting: String,
    value: String,
}

/// One currency's sums in `fee_releases`.
#[derive(Debug, sqlx::FromRow)]
struct InflowRow {
    currency: Vec<u8>,
    amount: String,
    from_sales: String,
    from_compute: String,
}

#[utoipa::path(
    get,
    path = "/governance",
    tag = "governance",
    summary = "The DAO's contracts, settings, proposal count and the fees paid to its treasury",
    responses(
        (status = 200, description = "The DAO", body = Governance),
        (status = 404, description = "The sync has not recorded the deployment yet (it does when it starts)",
            body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn governance(State(state): State<AppState>) -> Result<Json<Governance>, ApiError> {
    let deployment = deployment(&state)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("the deployment of chain {}", state.chain_id)))?;
    let settings: Vec<SettingRow> = sqlx::query_as(
        "SELECT DISTINCT ON (setting) setting, value::text AS value FROM governance_settings
         WHERE chain_id = $1 ORDER BY setting, block_number DESC, log_index DESC",
    )
    .bind(chain(&state))
    .fetch_all(&state.pool)
    .await?;
    let setting =
        |wanted: Setting| settings.iter().find(|s| s.setting == wanted.as_str()).map(|s| s.value.as_str());
    // Settings are emitted as uint256s; one too large for the answer's type is left out.
    let number = |wanted: Setting| setting(wanted).and_then(|v| v.parse::<i64>().ok());
    let bps = |wanted: Setting| setting(wanted).and_then(|v| v.parse::<u32>().ok());
    let proposals_count: i64 = sqlx::query_scalar("SELECT count(*) FROM proposals WHERE chain_id = $1")
        .bind(chain(&state))
        .fetch_one(&state.pool)
        .await?;
    let inflows: Vec<InflowRow> = sqlx::query_as(
        "SELECT currency, sum(amount)::text AS amount,
           COALESCE(sum(amount) FILTER (WHERE source = $2), 0)::text AS from_sales,
           COALESCE(sum(amount) FILTER (WHERE source = $3), 0)::text AS from_compute
         FROM fee_releases WHERE chain_id = $1 GROUP BY currency ORDER BY currency",
    )
    .bind(chain(&state))
    .bind(Source::Splitter.as_str())
    .bind(Source::Compute.as_str())
    .fetch_all(&state.pool)
    .await?;
    Ok(Json(Governance {
        governor: hex(&deployment.governor),
        timelock: hex(&deployment.timelock),
        token: hex(&deployment.agora_token),
        protocol_fee_bps: bps(Setting::ProtocolFeeBps)
            .or_else(|| deployment.marketplace_fee_bps.and_then(|fee| u32::try_from(fee).ok())),
        compute_fee_bps: bps(Setting::ComputeFeeBps),
        voting_delay: number(Setting::VotingDelay),
        voting_period: number(Setting::VotingPeriod),
        proposal_threshold: setting(Setting::ProposalThreshold).map(str::to_owned),
        quorum_percent: number(Setting::QuorumPercent),
        timelock_delay: number(Setting::TimelockDelay),
        proposals_count,
        treasury: inflows
            .into_iter()
            .map(|r| TreasuryInflow {
                currency: hex(&r.currency),
                amount: r.amount,
                from_sales: r.from_sales,
                from_compute: r.from_compute,
            })
            .collect(),
    }))
}

/// One row of `votes`, as [`votes`] selects it.
#[derive(Debug, sqlx::FromRow)]
struct VoteRow {
    voter: Vec<u8>,
    support: i16,
    weight: String,
    reason: String,
    block_number: i64,
    sent_by: Option<Vec<u8>>,
}

/// A proposal's votes older than `before` (block number, voter), newest first.
async fn votes(
    state: &AppState,
    proposal_id: &str,
    before: (i64, &[u8]),
    limit: i64,
) -> Result<Vec<Vote>, ApiError> {
    let rows: Vec<VoteRow> = sqlx::query_as(
        "SELECT voter, support, weight::text AS weight, reason, block_number, sent_by FROM votes
         WHERE chain_id = $1 AND proposal_id = $2::numeric AND (block_number, voter) < ($3, $4)
         ORDER BY block_number DESC, voter DESC LIMIT $5",
    )
    .bind(chain(state))
    .bind(proposal_id)
    .bind(before.0)
    .bind(before.1)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Vote {
            voter: hex(&r.voter),
            support: r.support,
            weight: r.weight,
            reason: r.reason,
            block_number: r.block_number,
            relayer: r.sent_by.filter(|sender| *sender != r.voter).map(|sender| hex(&sender)),
        })
        .collect())
}

#[utoipa::path(
    get,
    path = "/proposals/{id}/votes",
    tag = "governance",
    summary = "A proposal's votes, newest first",
    params(("id" = String, Path, description = "The proposal id: a decimal uint256"), CursorQuery),
    responses(
        (status = 200, description = "A page of votes", body = Page<Vote>),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 404, description = "No proposal has this id", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn proposal_votes(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    params: Result<Query<CursorQuery>, QueryRejection>,
) -> Result<Json<Page<Vote>>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("proposal id", &id)?;
    let Query(p) = params?;
    let limit = sub_limit(&p)?;
    // Cursor: "<block number>:<voter>" of the last vote of the previous page.
    let before = match p.cursor.as_deref() {
        None => (NEWEST, Vec::new()),
        Some(c) => {
            let [block, voter] = cursor_keys(c)?;
            (cursor_position(c, block)?, parse_address("cursor", voter).map_err(|_| bad_cursor(c))?)
        }
    };
    let exists: Option<i32> =
        sqlx::query_scalar("SELECT 1 FROM proposals WHERE chain_id = $1 AND proposal_id = $2::numeric")
            .bind(chain(&state))
            .bind(&id)
            .fetch_optional(&state.pool)
            .await?;
    if exists.is_none() {
        return Err(ApiError::NotFound(format!("proposal {id}")));
    }
    let items = votes(&state, &id, (before.0, &before.1), limit).await?;
    Ok(Json(page_of(items, limit, |last| format!("{}:{}", last.block_number, last.voter))))
}
