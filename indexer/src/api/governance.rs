//! Governance: proposals with their tallies, and their votes page by page.

use agora_api::{CursorQuery, ErrorBody, ListQuery, Page, Proposal, ProposalDetail, ProposalStatus, Vote};
use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
};

use super::{
    ApiError, AppState, EMBEDDED, NEWEST, bad_cursor, chain, cursor_keys, cursor_position, hex, list_page,
    not_one_of, page_of, parse_address, parse_uint, sub_limit,
};

/// A proposal's columns as [`ProposalRow`] names them.
const PROPOSAL_COLUMNS: &str = "proposal_id::text AS proposal_id, proposer, description,
    vote_start::text AS vote_start, vote_end::text AS vote_end, status, eta::text AS eta,
    votes_for::text AS votes_for, votes_against::text AS votes_against,
    votes_abstain::text AS votes_abstain, created_block";

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
        "SELECT {PROPOSAL_COLUMNS} FROM proposals
         WHERE chain_id = $1 AND ($2::numeric IS NULL OR proposal_id > $2::numeric) AND ($3::text IS NULL OR status = $3)
         ORDER BY proposals.proposal_id LIMIT $4"
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
    summary = "One proposal with its newest votes, 100 at most, and their count",
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
    let sql =
        format!("SELECT {PROPOSAL_COLUMNS} FROM proposals WHERE chain_id = $1 AND proposal_id = $2::numeric");
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
    Ok(Json(ProposalDetail { proposal: Proposal::try_from(row)?, votes, votes_count }))
}

/// One row of `votes`, as [`votes`] selects it.
#[derive(Debug, sqlx::FromRow)]
struct VoteRow {
    voter: Vec<u8>,
    support: i16,
    weight: String,
    reason: String,
    block_number: i64,
}

/// A proposal's votes older than `before` (block number, voter), newest first.
async fn votes(
    state: &AppState,
    proposal_id: &str,
    before: (i64, &[u8]),
    limit: i64,
) -> Result<Vec<Vote>, ApiError> {
    let rows: Vec<VoteRow> = sqlx::query_as(
        "SELECT voter, support, weight::text AS weight, reason, block_number FROM votes
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
