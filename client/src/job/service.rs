//! A provider's job API as a consumer calls it ([`Service`]), and a job's output folder on
//! IPFS ([`output_files`], [`fetch_output`]).

use std::{path::Path, time::Duration};

use agora_provider::storage::Storage;
use alloy::{primitives::Address, transports::http::reqwest};
use eyre::{Result, WrapErr, bail, eyre};
use serde::Serialize;
use serde_json::Value;
use url::Url;

use crate::{Error, error::cause};

/// How long one request to a provider may take.
const HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// The most files an output folder may hold (a model manifest lists about 400 at most).
const MAX_OUTPUT_FILES: usize = 1_024;

/// A provider's HTTP service. Its failures are [`Error::Unreachable`] and [`Error::Refused`]
/// (with the provider's reason), so every surface tells them apart.
pub struct Service {
    http: reqwest::Client,
    /// Its base URL.
    pub base: Url,
}

impl Service {
    /// The service at `url`, or else at the provider's registered `endpoint`.
    pub fn new(url: Option<&Url>, endpoint: &str) -> Result<Self> {
        let base = match url {
            Some(url) => url.clone(),
            None => endpoint.parse().map_err(|_| {
                eyre!("the provider's registered endpoint {endpoint:?} is not a URL: give the provider's URL")
            })?,
        };
        let http = reqwest::Client::builder().timeout(HTTP_TIMEOUT).build()?;
        Ok(Self { http, base })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
    }

    /// `GET path` as JSON; a refusal is an error carrying the provider's message.
    pub async fn get(&self, path: &str, action: &'static str) -> Result<Value, Error> {
        Ok(self.get_response(path, action).await?.json().await.unwrap_or(Value::Null))
    }

    /// `GET path`, its body unread; a refusal is an error carrying the provider's message.
    pub async fn get_response(&self, path: &str, action: &'static str) -> Result<reqwest::Response, Error> {
        self.checked(self.http.get(self.url(path)).send().await, action).await
    }

    /// `POST path` with a JSON body, answered with JSON.
    pub async fn post(
        &self,
        path: &str,
        body: &impl Serialize,
        action: &'static str,
    ) -> Result<Value, Error> {
        let sent = self.http.post(self.url(path)).json(body).send().await;
        Ok(self.checked(sent, action).await?.json().await.unwrap_or(Value::Null))
    }

    /// The response, or the error that says why there is none.
    async fn checked(
        &self,
        sent: reqwest::Result<reqwest::Response>,
        action: &'static str,
    ) -> Result<reqwest::Response, Error> {
        let response =
            sent.map_err(|err| Error::Unreachable { url: self.base.to_string(), cause: cause(&err) })?;
        let status = response.status();
        if !status.is_success() {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let message = body["error"].as_str().unwrap_or("no reason given").to_owned();
            return Err(Error::Refused { action, status: status.as_u16(), message });
        }
        Ok(response)
    }

    /// Fails unless the service is `provider` on `chain_id` (`GET /v1/info`); its info.
    pub async fn check_identity(&self, provider: Address, chain_id: u64) -> Result<Value, Error> {
        let info = self.get("/v1/info", "info request").await?;
        let serves: Option<Address> = info["provider"].as_str().and_then(|s| s.parse().ok());
        if serves != Some(provider) {
            return Err(Error::WrongProvider {
                url: self.base.to_string(),
                serves: serves.map_or_else(|| "not an Agora provider".to_owned(), |a| a.to_string()),
                expected: provider,
            });
        }
        let served = info["chainId"].as_u64().unwrap_or_default();
        if served != chain_id {
            return Err(Error::WrongChain { url: self.base.to_string(), served, expected: chain_id });
        }
        Ok(info)
    }
}

/// The names of the files directly in the output folder `cid`, as the runtime hashes them;
/// refused when it holds none, too many, or a name no provider writes.
pub async fn output_files(storage: &Storage, cid: &str) -> Result<Vec<String>> {
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
pub async fn fetch_output(storage: &Storage, cid: &str, names: &[String], dir: &Path) -> Result<()> {
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
