//! Compute: the providers registered with the compute market, and the jobs.

use agora_api::{ComputeProvider, CursorQuery, ErrorBody, Job, JobStatus, ListQuery, Page};
use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
};

use super::{
    ApiError, AppState, chain, hex, list_page, not_one_of, opt_hex, page_of, parse_address, parse_limit,
    parse_uint,
};

/// One row of `compute_providers`.
#[derive(Debug, sqlx::FromRow)]
struct ProviderRow {
    provider: Vec<u8>,
    endpoint: String,
    currency: Vec<u8>,
    price: String,
    stake: String,
    exit_available_at: Option<i64>,
    active: bool,
}

impl From<ProviderRow> for ComputeProvider {
    fn from(r: ProviderRow) -> Self {
        ComputeProvider {
            provider: hex(&r.provider),
            endpoint: r.endpoint,
            currency: hex(&r.currency),
            price: r.price,
            stake: r.stake,
            exit_available_at: r.exit_available_at,
            active: r.active,
        }
    }
}

// `status` is read (and refused with a message) but not documented: /providers has no filter.
#[utoipa::path(
    get,
    path = "/providers",
    tag = "compute",
    summary = "Compute providers, by address",
    params(CursorQuery),
    responses(
        (status = 200, description = "A page of providers", body = Page<ComputeProvider>),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn providers(
    State(state): State<AppState>,
    params: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<ComputeProvider>>, ApiError> {
    let Query(p) = params?;
    let limit = parse_limit(p.limit.as_deref())?;
    if p.status.is_some() {
        return Err(ApiError::BadRequest("status: not a filter of /providers".into()));
    }
    let cursor = p.cursor.as_deref().map(|c| parse_address("cursor", c)).transpose()?;
    let rows: Vec<ProviderRow> = sqlx::query_as(
        "SELECT provider, endpoint, currency, price::text AS price, stake::text AS stake, exit_available_at, active
         FROM compute_providers
         WHERE chain_id = $1 AND ($2::bytea IS NULL OR provider > $2) ORDER BY provider LIMIT $3",
    )
    .bind(chain(&state))
    .bind(cursor)
    .bind(limit)
    .fetch_all(&state.pool)
    .await?;
    let items = rows.into_iter().map(ComputeProvider::from).collect();
    Ok(Json(page_of(items, limit, |last| last.provider.clone())))
}

/// A job's columns as [`JobRow`] names them.
const JOB_SELECT: &str = "SELECT job_id::text AS job_id, consumer, provider, dataset_id::text AS dataset_id,
       algorithm_id::text AS algorithm_id, order_id::text AS order_id,
       algorithm_order_id::text AS algorithm_order_id, currency, payment::text AS payment,
       deadline, spec_cid, status, result_cid, output_hash, challenge_end,
       provider_payout::text AS provider_payout, fee::text AS fee, refunded::text AS refunded, challenger,
       opened_block, updated_block
     FROM jobs";

/// One row of [`JOB_SELECT`].
#[derive(Debug, sqlx::FromRow)]
struct JobRow {
    job_id: String,
    consumer: Vec<u8>,
    provider: Vec<u8>,
    dataset_id: String,
    algorithm_id: String,
    order_id: String,
    /// `None` when the algorithm or model was free (no token spent).
    algorithm_order_id: Option<String>,
    currency: Vec<u8>,
    payment: String,
    deadline: i64,
    spec_cid: String,
    status: String,
    result_cid: Option<String>,
    output_hash: Option<Vec<u8>>,
    challenge_end: Option<i64>,
    provider_payout: Option<String>,
    fee: Option<String>,
    refunded: Option<String>,
    challenger: Option<Vec<u8>>,
    opened_block: i64,
    updated_block: i64,
}

impl TryFrom<JobRow> for Job {
    type Error = ApiError;

    fn try_from(r: JobRow) -> Result<Self, ApiError> {
        let status = r
            .status
            .parse::<JobStatus>()
            .map_err(|err| ApiError::Corrupt(format!("job {}: status {err}", r.job_id)))?;
        Ok(Job {
            job_id: r.job_id,
            consumer: hex(&r.consumer),
            provider: hex(&r.provider),
            dataset_id: r.dataset_id,
            algorithm_id: r.algorithm_id,
            order_id: r.order_id,
            algorithm_order_id: r.algorithm_order_id,
            currency: hex(&r.currency),
            payment: r.payment,
            deadline: r.deadline,
            spec_cid: r.spec_cid,
            status,
            result_cid: r.result_cid,
            output_hash: opt_hex(r.output_hash),
            challenge_end: r.challenge_end,
            provider_payout: r.provider_payout,
            fee: r.fee,
            refunded: r.refunded,
            challenger: opt_hex(r.challenger),
            opened_block: r.opened_block,
            updated_block: r.updated_block,
        })
    }
}

#[utoipa::path(
    get,
    path = "/jobs",
    tag = "compute",
    summary = "Compute jobs, by id",
    params(ListQuery),
    responses(
        (status = 200, description = "A page of jobs", body = Page<Job>),
        (status = 400, description = "A parameter is invalid", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn jobs(
    State(state): State<AppState>,
    params: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Page<Job>>, ApiError> {
    let Query(p) = params?;
    let (cursor, limit) = list_page(&p)?;
    if let Some(s) = p.status.as_deref().filter(|s| s.parse::<JobStatus>().is_err()) {
        return Err(not_one_of(s, &JobStatus::ALL, JobStatus::as_str, true));
    }
    let sql = format!(
        "{JOB_SELECT}
         WHERE chain_id = $1 AND ($2::numeric IS NULL OR job_id > $2::numeric)
           AND ($3::text IS NULL OR status = $3)
         ORDER BY jobs.job_id LIMIT $4"
    );
    let rows: Vec<JobRow> = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(cursor)
        .bind(p.status.as_deref())
        .bind(limit)
        .fetch_all(&state.pool)
        .await?;
    let items = rows.into_iter().map(Job::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(Json(page_of(items, limit, |last| last.job_id.clone())))
}

#[utoipa::path(
    get,
    path = "/jobs/{id}",
    tag = "compute",
    summary = "One compute job",
    params(("id" = String, Path, description = "The job id: a decimal uint256")),
    responses(
        (status = 200, description = "The job", body = Job),
        (status = 400, description = "The id is not a decimal uint256", body = ErrorBody),
        (status = 404, description = "No job has this id", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn job(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Job>, ApiError> {
    let Path(id) = id?;
    let id = parse_uint("job id", &id)?;
    let sql = format!("{JOB_SELECT} WHERE chain_id = $1 AND job_id = $2::numeric");
    let row: JobRow = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(&id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {id}")))?;
    Ok(Json(Job::try_from(row)?))
}
