//! Compute: the providers registered with the compute market with their job counts, and the
//! jobs with their inputs.

use agora_api::{ComputeProvider, CursorQuery, ErrorBody, Job, JobInput, JobStatus, ListQuery, Page};
use axum::{
    Json,
    extract::{
        Path, Query, State,
        rejection::{PathRejection, QueryRejection},
    },
};

use super::{
    ApiError, AppState, block_time, chain, hex, list_page, not_one_of, opt_hex, page_of, parse_address,
    parse_limit, parse_uint,
};

/// A provider's columns as [`ProviderRow`] names them, its job counts included; `WHERE` and
/// the rest follow.
const PROVIDER_SELECT: &str = "SELECT p.provider, p.endpoint, p.currency, p.price::text AS price,
       p.stake::text AS stake, p.exit_available_at, p.active, j.jobs_count, j.finalized_count,
       j.disputed_count, j.ruled_against_count
     FROM compute_providers p
     CROSS JOIN LATERAL (
       SELECT count(*) AS jobs_count,
         count(*) FILTER (WHERE provider_payout IS NOT NULL) AS finalized_count,
         count(*) FILTER (WHERE challenger IS NOT NULL) AS disputed_count,
         count(*) FILTER (WHERE status = 'ruled_against_provider') AS ruled_against_count
       FROM jobs WHERE jobs.chain_id = p.chain_id AND jobs.provider = p.provider) j";

/// One row of [`PROVIDER_SELECT`].
#[derive(Debug, sqlx::FromRow)]
struct ProviderRow {
    provider: Vec<u8>,
    endpoint: String,
    currency: Vec<u8>,
    price: String,
    stake: String,
    exit_available_at: Option<i64>,
    active: bool,
    jobs_count: i64,
    finalized_count: i64,
    disputed_count: i64,
    ruled_against_count: i64,
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
            jobs_count: r.jobs_count,
            finalized_count: r.finalized_count,
            disputed_count: r.disputed_count,
            ruled_against_count: r.ruled_against_count,
        }
    }
}

// `status` is read (and refused with a message) but not documented: /providers has no filter.
#[utoipa::path(
    get,
    path = "/providers",
    tag = "compute",
    summary = "Compute providers with their job counts, by address",
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
    let sql = format!(
        "{PROVIDER_SELECT}
         WHERE p.chain_id = $1 AND ($2::bytea IS NULL OR p.provider > $2) ORDER BY p.provider LIMIT $3"
    );
    let rows: Vec<ProviderRow> =
        sqlx::query_as(&sql).bind(chain(&state)).bind(cursor).bind(limit).fetch_all(&state.pool).await?;
    let items = rows.into_iter().map(ComputeProvider::from).collect();
    Ok(Json(page_of(items, limit, |last| last.provider.clone())))
}

#[utoipa::path(
    get,
    path = "/providers/{address}",
    tag = "compute",
    summary = "One compute provider with its job counts",
    params(("address" = String, Path, description = "The provider: a 0x-prefixed address")),
    responses(
        (status = 200, description = "The provider", body = ComputeProvider),
        (status = 400, description = "The address is not a 0x-prefixed 20-byte hex address", body = ErrorBody),
        (status = 404, description = "No provider ever registered from this address", body = ErrorBody),
        (status = 500, description = "The database failed", body = ErrorBody),
    )
)]
pub(super) async fn provider(
    State(state): State<AppState>,
    address: Result<Path<String>, PathRejection>,
) -> Result<Json<ComputeProvider>, ApiError> {
    let Path(address) = address?;
    let provider = parse_address("address", &address)?;
    let sql = format!("{PROVIDER_SELECT} WHERE p.chain_id = $1 AND p.provider = $2");
    let row: ProviderRow = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(&provider)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("provider {}", hex(&provider))))?;
    Ok(Json(ComputeProvider::from(row)))
}

/// A job's columns as [`JobRow`] names them; `WHERE` and the rest follow.
fn job_select() -> String {
    format!(
        "SELECT job_id::text AS job_id, consumer, provider, dataset_id::text AS dataset_id,
           algorithm_id::text AS algorithm_id, order_id::text AS order_id,
           algorithm_order_id::text AS algorithm_order_id, currency, payment::text AS payment,
           deadline, spec_cid, status, result_cid, output_hash, challenge_end,
           provider_payout::text AS provider_payout, fee::text AS fee, refunded::text AS refunded, challenger,
           opened_block, updated_block, {} AS opened_at, {} AS updated_at
         FROM jobs",
        block_time("jobs", "opened_block"),
        block_time("jobs", "updated_block"),
    )
}

/// One row of [`job_select`].
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
    opened_at: Option<i64>,
    updated_at: Option<i64>,
}

impl TryFrom<JobRow> for Job {
    type Error = ApiError;

    fn try_from(r: JobRow) -> Result<Self, ApiError> {
        let status = r
            .status
            .parse::<JobStatus>()
            .map_err(|err| ApiError::Corrupt(format!("job {}: status {err}", r.job_id)))?;
        let inputs = vec![
            JobInput {
                asset_id: r.dataset_id.clone(),
                role: "dataset".into(),
                order_id: Some(r.order_id.clone()),
            },
            JobInput {
                asset_id: r.algorithm_id.clone(),
                role: "algorithm".into(),
                order_id: r.algorithm_order_id.clone(),
            },
        ];
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
            inputs,
            opened_at: r.opened_at,
            updated_at: r.updated_at,
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
        "{}
         WHERE chain_id = $1 AND ($2::numeric IS NULL OR job_id > $2::numeric)
           AND ($3::text IS NULL OR status = $3)
         ORDER BY jobs.job_id LIMIT $4",
        job_select()
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
    let sql = format!("{} WHERE chain_id = $1 AND job_id = $2::numeric", job_select());
    let row: JobRow = sqlx::query_as(&sql)
        .bind(chain(&state))
        .bind(&id)
        .fetch_optional(&state.pool)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job {id}")))?;
    Ok(Json(Job::try_from(row)?))
}
