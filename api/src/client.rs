//! A typed client of the indexer's API: one async method per route, answers read into this
//! crate's types, errors sorted by what the caller does about them.

use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};
use serde_json::Value;
use url::Url;

use crate::{
    Account, Asset, AssetDetail, AssetFacets, AssetQuery, ComputeProvider, Currencies, CursorQuery,
    ErrorBody, FacetQuery, Governance, Health, Holder, Job, ListQuery, Order, Page, Proposal, ProposalDetail,
    Ready, RevenueWaiting, RewardsUsage, RewardsWindow, Sale, Status, Vote,
};

/// How long a request may take, connecting and reading the answer included, unless
/// [`Client::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest text of a non-JSON error body kept as the message of [`ClientError::Api`].
const MAX_MESSAGE_CHARS: usize = 300;

/// A request to the indexer failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No answer: the indexer is down or unreachable (refused, DNS, reset), it timed out, or
    /// the URL cannot be sent at all (not http or https).
    #[error("the indexer is unreachable at {url}: {source}")]
    Unreachable {
        /// The URL asked for.
        url: String,
        /// What the HTTP client saw.
        source: reqwest::Error,
    },
    /// The indexer answered with an error status.
    #[error("the indexer answered {status}: {message}")]
    Api {
        /// The HTTP status: 400 for a bad parameter, 404 for an unknown id or route, 500 when
        /// its database failed, ...
        status: u16,
        /// The `error` of its [`ErrorBody`] (a bad parameter is named; an unknown id ends in
        /// `not found`); for a body that is not one (e.g. a proxy's page), its text or the
        /// status's reason.
        message: String,
    },
    /// A success whose body is not the JSON of the expected type: not the indexer's API, or
    /// another version of it.
    #[error("the answer of {url} is not the API's: {source}")]
    Decode {
        /// The URL asked for.
        url: String,
        /// Why the body does not read.
        source: serde_json::Error,
    },
}

impl ClientError {
    /// Whether the indexer said that nothing has the id asked for (or that the route does not
    /// exist): a 404.
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }

    /// The HTTP status the indexer answered with, when it answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// The indexer's API at one base URL. Cheap to clone (the HTTP client is shared).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    timeout: Duration,
}

impl Client {
    /// A client of the indexer at `base` (e.g. `http://127.0.0.1:8080`; a path is kept as the
    /// prefix of every route), with its own HTTP client and [`DEFAULT_TIMEOUT`]. (reqwest's
    /// constructor panics only when a TLS backend cannot start; this crate enables none.)
    pub fn new(base: Url) -> Self {
        Self::with_http(reqwest::Client::new(), base)
    }

    /// A client of the indexer at `base` that sends through `http` (to share its connection
    /// pool and settings), with [`DEFAULT_TIMEOUT`] per request.
    pub fn with_http(http: reqwest::Client, base: Url) -> Self {
        Self { http, base, timeout: DEFAULT_TIMEOUT }
    }

    /// This client with requests limited to `timeout` each.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The base URL.
    pub fn base(&self) -> &Url {
        &self.base
    }

    /// `GET /health`: liveness.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get(&["health"], None::<&()>).await
    }

    /// `GET /ready`: readiness. A not-ready indexer (503 with a [`Ready`] body) is an `Ok` whose
    /// `ready` is false.
    pub async fn ready(&self) -> Result<Ready, ClientError> {
        let (url, status, body) = self.send(&["ready"], None::<&()>).await?;
        if status == reqwest::StatusCode::SERVICE_UNAVAILABLE
            && let Ok(ready) = serde_json::from_slice::<Ready>(&body)
        {
            return Ok(ready);
        }
        read(url, status, &body)
    }

    /// `GET /status`: where syncing stands.
    pub async fn status(&self) -> Result<Status, ClientError> {
        self.get(&["status"], None::<&()>).await
    }

    /// `GET /metrics`: the Prometheus text.
    pub async fn metrics(&self) -> Result<String, ClientError> {
        let (_, status, body) = self.send(&["metrics"], None::<&()>).await?;
        if !status.is_success() {
            return Err(api_error(status, &body));
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// `GET /openapi.json`: the API's OpenAPI 3.1 document.
    pub async fn openapi(&self) -> Result<Value, ClientError> {
        self.get(&["openapi.json"], None::<&()>).await
    }

    /// `GET /assets`: search and list assets.
    pub async fn assets(&self, query: &AssetQuery) -> Result<Page<Asset>, ClientError> {
        self.get(&["assets"], Some(query)).await
    }

    /// `GET /assets/facets`: how many assets match `query`, and their kinds, licenses, tags,
    /// prices, encryption and access.
    pub async fn asset_facets(&self, query: &FacetQuery) -> Result<AssetFacets, ClientError> {
        self.get(&["assets", "facets"], Some(query)).await
    }

    /// `GET /assets/{id}`: one asset with its history, sales, holders and lineage.
    pub async fn asset(&self, id: &str) -> Result<AssetDetail, ClientError> {
        self.get(&["assets", id], None::<&()>).await
    }

    /// `GET /assets/{id}/sales`: an asset's sales, newest first.
    pub async fn asset_sales(&self, id: &str, query: &CursorQuery) -> Result<Page<Sale>, ClientError> {
        self.get(&["assets", id, "sales"], Some(query)).await
    }

    /// `GET /assets/{id}/holders`: an asset's holders, largest balance first.
    pub async fn asset_holders(&self, id: &str, query: &CursorQuery) -> Result<Page<Holder>, ClientError> {
        self.get(&["assets", id, "holders"], Some(query)).await
    }

    /// `GET /accounts/{address}`: an account's assets, access tokens, orders and releases.
    pub async fn account(&self, address: &str) -> Result<Account, ClientError> {
        self.get(&["accounts", address], None::<&()>).await
    }

    /// `GET /currencies`: how amounts are written in each currency the protocol names.
    pub async fn currencies(&self) -> Result<Currencies, ClientError> {
        self.get(&["currencies"], None::<&()>).await
    }

    /// `GET /accounts/{address}/revenue`: what waits for the account in the revenue splitter,
    /// read from the chain now.
    pub async fn revenue_waiting(&self, address: &str) -> Result<RevenueWaiting, ClientError> {
        self.get(&["accounts", address, "revenue"], None::<&()>).await
    }

    /// `GET /accounts/{address}/orders`: an account's access orders, newest first.
    pub async fn account_orders(
        &self,
        address: &str,
        query: &CursorQuery,
    ) -> Result<Page<Order>, ClientError> {
        self.get(&["accounts", address, "orders"], Some(query)).await
    }

    /// `GET /governance`: the DAO's contracts, settings, proposal count and treasury inflows.
    pub async fn governance(&self) -> Result<Governance, ClientError> {
        self.get(&["governance"], None::<&()>).await
    }

    /// `GET /rewards/usage`: points earned by use in `[start, end)`.
    pub async fn rewards_usage(&self, window: &RewardsWindow) -> Result<RewardsUsage, ClientError> {
        self.get(&["rewards", "usage"], Some(window)).await
    }

    /// `GET /proposals`: governance proposals, by id.
    pub async fn proposals(&self, query: &ListQuery) -> Result<Page<Proposal>, ClientError> {
        self.get(&["proposals"], Some(query)).await
    }

    /// `GET /proposals/{id}`: one proposal with its newest votes.
    pub async fn proposal(&self, id: &str) -> Result<ProposalDetail, ClientError> {
        self.get(&["proposals", id], None::<&()>).await
    }

    /// `GET /proposals/{id}/votes`: a proposal's votes, newest first.
    pub async fn proposal_votes(&self, id: &str, query: &CursorQuery) -> Result<Page<Vote>, ClientError> {
        self.get(&["proposals", id, "votes"], Some(query)).await
    }

    /// `GET /providers`: compute providers, by address (the indexer refuses a `status`).
    pub async fn providers(&self, query: &ListQuery) -> Result<Page<ComputeProvider>, ClientError> {
        self.get(&["providers"], Some(query)).await
    }

    /// `GET /providers/{address}`: one compute provider with its job counts.
    pub async fn provider(&self, address: &str) -> Result<ComputeProvider, ClientError> {
        self.get(&["providers", address], None::<&()>).await
    }

    /// `GET /jobs`: compute jobs, by id.
    pub async fn jobs(&self, query: &ListQuery) -> Result<Page<Job>, ClientError> {
        self.get(&["jobs"], Some(query)).await
    }

    /// `GET /jobs/{id}`: one compute job.
    pub async fn job(&self, id: &str) -> Result<Job, ClientError> {
        self.get(&["jobs", id], None::<&()>).await
    }

    /// The URL of the route made of `segments`, each percent-encoded as one path segment under
    /// the base's path.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.set_query(None);
        url.set_fragment(None);
        // Only a URL that cannot be a base (`mailto:`, `data:`: never http or https) has no
        // path segments; it is sent as it is, and the HTTP client refuses its scheme.
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty();
            for segment in segments {
                // URL parsers drop a `.` or `..` segment (even percent-encoded): send its
                // percent-encoded text instead, an id the indexer refuses like any other bad one.
                match *segment {
                    "." => path.push("%2E"),
                    ".." => path.push("%2E%2E"),
                    segment => path.push(segment),
                };
            }
        }
        url
    }

    async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: Option<&impl Serialize>,
    ) -> Result<T, ClientError> {
        let (url, status, body) = self.send(segments, query).await?;
        read(url, status, &body)
    }

    /// Sends a GET and reads the whole answer.
    async fn send(
        &self,
        segments: &[&str],
        query: Option<&impl Serialize>,
    ) -> Result<(String, reqwest::StatusCode, Vec<u8>), ClientError> {
        let mut request = self.http.get(self.url(segments)).timeout(self.timeout);
        if let Some(query) = query {
            request = request.query(query);
        }
        // The URL as sent, query included, for the errors.
        let (client, request) = request.build_split();
        let request = request.map_err(|source| unreachable(self.url(segments).to_string(), source))?;
        let url = request.url().to_string();
        let response = client.execute(request).await.map_err(|source| unreachable(url.clone(), source))?;
        let status = response.status();
        let body =
            response.bytes().await.map(Vec::from).map_err(|source| unreachable(url.clone(), source))?;
        Ok((url, status, body))
    }
}

fn unreachable(url: String, source: reqwest::Error) -> ClientError {
    ClientError::Unreachable { url, source }
}

/// A success's body as `T`, or the error an error status carries.
fn read<T: DeserializeOwned>(
    url: String,
    status: reqwest::StatusCode,
    body: &[u8],
) -> Result<T, ClientError> {
    if !status.is_success() {
        return Err(api_error(status, body));
    }
    serde_json::from_slice(body).map_err(|source| ClientError::Decode { url, source })
}

/// [`ClientError::Api`] from an error answer: the message of its [`ErrorBody`], else its text,
/// else the status's reason.
fn api_error(status: reqwest::StatusCode, body: &[u8]) -> ClientError {
    let message = match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => error,
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                status.canonical_reason().unwrap_or("error").to_lowercase()
            } else {
                text.chars().take(MAX_MESSAGE_CHARS).collect()
            }
        }
    };
    ClientError::Api { status: status.as_u16(), message }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(base: &str) -> Client {
        Client::new(Url::parse(base).unwrap())
    }

    #[test]
    fn ids_are_one_percent_encoded_segment_under_the_base_path() {
        let c = client("http://indexer.test:8080");
        assert_eq!(c.url(&["assets", "12"]).as_str(), "http://indexer.test:8080/assets/12");
        assert_eq!(
            c.url(&["assets", "1/sales?x=#"]).as_str(),
            "http://indexer.test:8080/assets/1%2Fsales%3Fx=%23"
        );
        assert_eq!(c.url(&["jobs", "%00"]).as_str(), "http://indexer.test:8080/jobs/%2500");
        assert_eq!(c.url(&["jobs", ".."]).as_str(), "http://indexer.test:8080/jobs/%252E%252E");
        assert_eq!(c.url(&["assets", "ü名"]).as_str(), "http://indexer.test:8080/assets/%C3%BC%E5%90%8D");
        let prefixed = client("http://proxy.test/indexer/?q=1#top");
        assert_eq!(prefixed.url(&["health"]).as_str(), "http://proxy.test/indexer/health");
        assert_eq!(
            client("http://proxy.test/indexer").url(&["health"]).as_str(),
            "http://proxy.test/indexer/health"
        );
    }

    #[test]
    fn error_bodies_become_messages() {
        let not_found = api_error(reqwest::StatusCode::NOT_FOUND, br#"{"error":"asset 9 not found"}"#);
        assert!(not_found.is_not_found());
        assert!(
            matches!(&not_found, ClientError::Api { status: 404, message } if message == "asset 9 not found")
        );
        let proxy = api_error(reqwest::StatusCode::BAD_GATEWAY, b"  <h1>Bad gateway</h1>\n");
        assert!(
            matches!(&proxy, ClientError::Api { status: 502, message } if message == "<h1>Bad gateway</h1>")
        );
        let empty = api_error(reqwest::StatusCode::SERVICE_UNAVAILABLE, b"");
        assert!(
            matches!(&empty, ClientError::Api { status: 503, message } if message == "service unavailable")
        );
        assert_eq!(empty.status(), Some(503));
        let decode =
            read::<Health>("http://x/health".into(), reqwest::StatusCode::OK, b"<html>").unwrap_err();
        assert!(matches!(decode, ClientError::Decode { url, .. } if url == "http://x/health"));
    }

    #[tokio::test]
    async fn a_closed_port_and_a_foreign_scheme_are_unreachable() {
        // A port that was just free: nothing listens on it.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let closed = client(&format!("http://127.0.0.1:{port}"));
        let err = closed.health().await.unwrap_err();
        assert!(
            matches!(&err, ClientError::Unreachable { url, .. }
                if *url == format!("http://127.0.0.1:{port}/health")),
            "{err:?}"
        );
        let err = client("mailto:indexer@example.com").health().await.unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn an_https_indexer_is_dialled_with_the_crates_own_tls() {
        // Without a TLS backend an https URL fails before any connection ("scheme is not http");
        // with the crate's own, it is dialled, and a closed port refuses the connection.
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let err = client(&format!("https://127.0.0.1:{port}")).health().await.unwrap_err();
        let ClientError::Unreachable { source, .. } = &err else { panic!("{err:?}") };
        assert!(source.is_connect() && !source.is_builder(), "{source:?}");
    }
}
