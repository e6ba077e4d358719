//! A provider's HTTP service as the CLI talks to it ([`Service`]), and a job's output folder
//! on IPFS ([`output_files`], [`fetch_output`]).

use std::time::Duration;

use agora_provider::storage::Storage;
use alloy::{primitives::Address, transports::http::reqwest};
use eyre::{Result, WrapErr, bail, eyre};
use serde::Serialize;
use serde_json::Value;
use url::Url;

/// How long one request to a provider may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// The most files an output folder may hold (a model manifest lists about 400 at most).
const MAX_OUTPUT_FILES: usize = 1_024;

/// A provider's HTTP service.
pub(crate) struct Service {
    client: reqwest::Client,
    /// Its base URL.
    pub(crate) base: Url,
}

impl Service {
    /// The service at `url`, or else at the provider's registered `endpoint`.
    pub(crate) fn new(url: Option<&Url>, endpoint: &str) -> Result<Self> {
        let base = match url {
            Some(url) => url.clone(),
            None => endpoint.parse().map_err(|_| {
                eyre!("the provider's registered endpoint {endpoint:?} is not a URL: pass --provider-url")
            })?,
        };
        let client = reqwest::Client::builder().timeout(HTTP_TIMEOUT).build()?;
        Ok(Self { client, base })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// `GET path` as JSON; a refusal is an error carrying the provider's message.
    pub(crate) async fn get(&self, path: &str) -> Result<Value> {
        Ok(self.get_response(path).await?.json().await.unwrap_or(Value::Null))
    }

    /// `GET path`, its body unread; a refusal is an error carrying the provider's message.
    pub(crate) async fn get_response(&self, path: &str) -> Result<reqwest::Response> {
        self.checked(self.client.get(self.url(path)).send().await).await
    }

    pub(crate) async fn post(&self, path: &str, body: &impl Serialize) -> Result<Value> {
        let sent = self.client.post(self.url(path)).json(body).send().await;
        Ok(self.checked(sent).await?.json().await.unwrap_or(Value::Null))
    }

    /// The response, or an error carrying the provider's message when it is unreachable or refused.
    async fn checked(&self, sent: reqwest::Result<reqwest::Response>) -> Result<reqwest::Response> {
        let response = sent.map_err(|err| {
            let why = if err.is_timeout() { "it timed out" } else { "the connection failed" };
            eyre!("the provider at {} is not reachable ({why})", self.base)
        })?;
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = body["error"].as_str().unwrap_or("no reason given");
            bail!("the provider at {} refused: {message} (HTTP {})", self.base, status.as_u16());
        }
        Ok(response)
    }

    /// Fails unless the service is `provider` on `chain_id` (`GET /v1/info`).
    pub(crate) async fn check_identity(&self, provider: Address, chain_id: u64) -> Result<Value> {
        let info = self.get("/v1/info").await?;
        let serves: Option<Address> = info["provider"].as_str().and_then(|s| s.parse().ok());
        if serves != Some(provider) {
            bail!(
                "wrong provider: the service at {} is {}, not {provider}",
                self.base,
                serves.map_or_else(|| "not an Agora provider".to_owned(), |a| a.to_string())
            );
        }
        if info["chainId"].as_u64() != Some(chain_id) {
            bail!("the provider at {} serves chain {}, not chain {chain_id}", self.base, info["chainId"]);
        }
        Ok(info)
    }
}

/// The names of the files directly in the output folder `cid`, as the runtime hashes them;
/// refused when it holds none, too many, or a name no provider writes.
pub(crate) async fn output_files(storage: &Storage, cid: &str) -> Result<Vec<String>> {
    let links =
        storage.ls(cid).await.map_err(|err| eyre!("listing the output folder {cid} on IPFS: {err}"))?;
    let mut names = Vec::new();
    for link in links.into_iter().filter(|link| link.is_file) {
        if !agora_provider::jobs::is_plain_file_name(&link.name) {
            bail!("the output folder {cid} holds a file named {:?}, which no provider writes", link.name);
        }
        names.push(link.name);
    }
    if names.is_empty() {
        bail!("the output folder {cid} on IPFS holds no files");
    }
    if names.len() > MAX_OUTPUT_FILES {
        bail!("the output folder {cid} holds {} files, more than {MAX_OUTPUT_FILES}", names.len());
    }
    Ok(names)
}

/// Streams the files `names` of the output folder `cid` into the folder `dir` (created).
pub(crate) async fn fetch_output(
    storage: &Storage,
    cid: &str,
    names: &[String],
    dir: &std::path::Path,
) -> Result<()> {
    use tokio::io::AsyncWriteExt as _;
    tokio::fs::create_dir_all(dir).await.wrap_err_with(|| format!("creating {}", dir.display()))?;
    for name in names {
        let (path, to) = (format!("{cid}/{name}"), dir.join(name));
        let mut file =
            tokio::fs::File::create(&to).await.wrap_err_with(|| format!("creating {}", to.display()))?;
        let mut chunks = storage.cat(&path, None);
        while let Some(chunk) = futures::StreamExt::next(&mut chunks).await {
            let chunk = chunk.map_err(|err| eyre!("fetching {path} from IPFS: {err}"))?;
            file.write_all(&chunk).await.wrap_err_with(|| format!("writing {}", to.display()))?;
        }
        file.flush().await?;
    }
    Ok(())
}
