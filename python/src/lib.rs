//! `agora._agora`: the native half of the `agora` Python package.
//!
//! One [`Client`] holds what the Rust side of Agora already has: the protocol's contracts
//! through alloy ([`agora_contracts::Agora`], signing with the user's key), the indexer's typed
//! client ([`agora_api::client::Client`]), the flows every surface shares ([`agora_client`]:
//! buying with a permit, spending an access token, a provider download resumed with `Range`
//! and checked against the chain) and Kubo ([`agora_ipfs::Storage`]). Python adds the
//! user-facing layer (`agora.Hub`, `agora.fs`), no Ethereum logic.
//!
//! Every call releases the GIL while it waits and answers Ctrl-C within a tenth of a second
//! (as `KeyboardInterrupt`). Failures are raised as the classes of `agora.errors`, with the
//! protocol's sentence for a revert (`agora_contracts::words`), never a panic or a hex blob.

use std::{future::Future, path::PathBuf, str::FromStr, time::Duration};

use agora_api::{
    assets::AssetQuery,
    client::{Client as Indexer, ClientError},
};
use agora_client::{
    card,
    keys::{Owner, Sealing, new_holders},
    market::{self, Purchase},
    pins::{RemoteService, Replica, Replication},
    provider::{self, Download, Progress},
    publish::{self, Listing, Source, UploadProgress},
};
use agora_contracts::{
    Agora, Deployment, signing_provider, tx,
    words::{self, Units},
};
use agora_ipfs::Storage;
use alloy::{
    primitives::{Address, B256, U256},
    providers::{Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
    transports::http::reqwest,
};
use pyo3::{
    prelude::*,
    types::{PyDict, PyList},
};
use url::Url;

mod job;

/// How long one Kubo request may take.
const IPFS_TIMEOUT: Duration = Duration::from_secs(60);

/// How often a waiting call looks for Ctrl-C.
const SIGNAL_POLL: Duration = Duration::from_millis(100);

/// How many bytes a download reports progress after, at most (and once at its end).
const PROGRESS_STEP: u64 = 1 << 20;

/// A failure on its way to Python: the `agora.errors` class to raise and its message, the
/// custom error's name for a revert, or an exception already raised (Ctrl-C).
enum Failure {
    Raise { class: &'static str, message: String, error: Option<String> },
    Python(PyErr),
}

impl Failure {
    fn new(class: &'static str, message: impl Into<String>) -> Self {
        Self::Raise { class, message: message.into(), error: None }
    }

    fn into_py(self) -> PyErr {
        let (class, message, error) = match self {
            Self::Python(err) => return err,
            Self::Raise { class, message, error } => (class, message, error),
        };
        Python::attach(|py| {
            let raised = py.import("agora.errors").and_then(|errors| {
                let exception = errors.getattr(class)?.call1((message.clone(),))?;
                exception.setattr("error", error)?;
                Ok(exception)
            });
            match raised {
                Ok(exception) => PyErr::from_value(exception),
                Err(err) => err,
            }
        })
    }
}

impl Failure {
    /// A report from a flow that words its failures as a chain of causes: a revert inside
    /// keeps its class, anything else is an `AgoraError` with the whole chain as its message.
    fn from_report(report: eyre::Report) -> Self {
        match report.downcast::<agora_client::Error>() {
            Ok(err) => err.into(),
            Err(report) => Self::new("AgoraError", format!("{report:#}")),
        }
    }
}

impl From<agora_client::Error> for Failure {
    fn from(err: agora_client::Error) -> Self {
        use agora_client::Error as E;
        let class = match &err {
            E::Unreachable { .. } | E::NotAProvider { .. } => "ProviderUnavailable",
            E::WrongChain { .. } | E::WrongProvider { .. } => "ConfigurationError",
            E::Refused { action: "download", status: 401 | 403 | 409 | 410, .. }
            | E::NoAccessToken { .. } => "AccessRefused",
            E::Refused { action: "download", status: 404, .. } => "UnknownAsset",
            E::Refused { status: 502..=504, .. } => "ProviderUnavailable",
            E::Refused { .. } => "AgoraError",
            E::InsufficientFunds { .. } => "InsufficientPayment",
            E::Contract { .. } => match err.revert_name().as_deref() {
                Some(name) if name.ends_with("PriceAboveMax") => "PriceChanged",
                Some(name) if name.ends_with("WrongValue") || name.contains("InsufficientBalance") => {
                    "InsufficientPayment"
                }
                Some(name) if name.ends_with("Delisted") => "Delisted",
                Some(name) if name.ends_with("UnknownAsset") => "UnknownAsset",
                _ => "ContractError",
            },
            E::BrokenOff { .. } | E::PartTooLong { .. } => "DownloadInterrupted",
            E::DigestMismatch { .. } => "DigestMismatch",
            E::Io { .. } => "AgoraError",
            E::Sign { .. } | E::NotACurrency { .. } => "ConfigurationError",
        };
        Self::Raise { class, message: err.to_string(), error: err.revert_name() }
    }
}

impl From<agora_contracts::Error> for Failure {
    fn from(err: agora_contracts::Error) -> Self {
        agora_client::Error::contract(err, &Units::eth()).into()
    }
}

impl From<ClientError> for Failure {
    fn from(err: ClientError) -> Self {
        match err.status() {
            Some(404) => Self::new("UnknownAsset", err.to_string()),
            Some(400) => Self::new("AgoraError", err.to_string()),
            _ => Self::new("IndexerUnavailable", format!("the indexer: {err}")),
        }
    }
}

type Outcome<T> = Result<T, Failure>;

/// A flow's chain-of-causes result as an outcome (see [`Failure::from_report`]).
fn checked<T>(result: eyre::Result<T>) -> Outcome<T> {
    result.map_err(Failure::from_report)
}

/// A decimal uint256 from Python (an `int` or its text).
fn uint(text: &str, what: &str) -> Outcome<U256> {
    U256::from_str(text.trim())
        .map_err(|_| Failure::new("ConfigurationError", format!("{what} {text:?} is not a whole number")))
}

/// The connection to one Agora deployment, as one account (or read-only without a key).
#[pyclass(module = "agora._agora", frozen)]
struct Client {
    runtime: tokio::runtime::Runtime,
    agora: Agora,
    key: Option<PrivateKeySigner>,
    indexer: Indexer,
    http: reqwest::Client,
    ipfs: Option<Storage>,
}

impl Client {
    /// Runs `future` without the GIL, answering Ctrl-C as `KeyboardInterrupt`.
    fn run<T: Send>(&self, py: Python<'_>, future: impl Future<Output = Outcome<T>> + Send) -> PyResult<T> {
        py.detach(|| {
            self.runtime.block_on(async {
                tokio::select! {
                    outcome = future => outcome,
                    interrupted = interrupted() => Err(Failure::Python(interrupted)),
                }
            })
        })
        .map_err(Failure::into_py)
    }

    fn key(&self) -> Outcome<&PrivateKeySigner> {
        self.key.as_ref().ok_or_else(|| {
            Failure::new(
                "ConfigurationError",
                "this needs an account: pass key=… or keystore=… to Hub, or set AGORA_PRIVATE_KEY",
            )
        })
    }

    fn storage(&self) -> Outcome<&Storage> {
        self.ipfs.as_ref().ok_or_else(|| {
            Failure::new(
                "ConfigurationError",
                "this needs Kubo (IPFS): pass ipfs_api=… to Hub, or set AGORA_IPFS_API",
            )
        })
    }

    async fn stored(&self, id: U256) -> Outcome<agora_contracts::asset_registry::IAssetRegistry::Asset> {
        Ok(tx::call(format!("registry.getAsset({id})"), self.agora.registry.getAsset(id)).await?)
    }

    async fn units(&self, currency: Address) -> Outcome<Units> {
        Ok(market::units(self.agora.provider(), currency).await?)
    }
}

/// Resolves once Python has a pending signal (Ctrl-C): the exception it raises.
async fn interrupted() -> PyErr {
    loop {
        tokio::time::sleep(SIGNAL_POLL).await;
        if let Err(err) = Python::attach(|py| py.check_signals()) {
            return err;
        }
    }
}

#[pymethods]
impl Client {
    /// Connects to the chain at `rpc_url` (checking it is the manifest's chain), the indexer at
    /// `indexer_url` and, when given, Kubo's RPC API at `ipfs_api`; `key` is a 0x-prefixed
    /// private key, or None for a read-only client.
    #[new]
    #[pyo3(signature = (rpc_url, indexer_url, manifest, key=None, ipfs_api=None))]
    fn new(
        py: Python<'_>,
        rpc_url: &str,
        indexer_url: &str,
        manifest: PathBuf,
        key: Option<&str>,
        ipfs_api: Option<&str>,
    ) -> PyResult<Self> {
        let config = |message: String| Failure::new("ConfigurationError", message).into_py();
        let rpc: Url = rpc_url.parse().map_err(|err| config(format!("rpc_url {rpc_url:?}: {err}")))?;
        let indexer_base: Url =
            indexer_url.parse().map_err(|err| config(format!("indexer_url {indexer_url:?}: {err}")))?;
        let deployment = Deployment::read(&manifest).map_err(|err| config(err.to_string()))?;
        let key = key
            .map(|text| {
                text.trim().parse::<PrivateKeySigner>().map_err(|_| {
                    config("key is not a private key: 32 bytes of hex, 0x-prefixed (never printed)".into())
                })
            })
            .transpose()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|err| config(format!("starting the I/O runtime: {err}")))?;
        // The HTTP clients register with the runtime they are built in.
        let (ipfs, provider, indexer, http) = {
            let _entered = runtime.enter();
            let ipfs = ipfs_api
                .map(|api| {
                    Storage::new(api, IPFS_TIMEOUT).map_err(|err| config(format!("ipfs_api {api:?}: {err}")))
                })
                .transpose()?;
            let provider = match &key {
                Some(key) => signing_provider(rpc.clone(), key.clone()),
                None => ProviderBuilder::new().connect_http(rpc.clone()).erased(),
            };
            let indexer = Indexer::new(indexer_base).with_timeout(Duration::from_secs(30));
            (ipfs, provider, indexer, provider::http_client())
        };
        let expected = deployment.chain_id;
        let chain_id = py
            .detach(|| {
                runtime.block_on(async {
                    tokio::time::timeout(Duration::from_secs(30), provider.get_chain_id()).await
                })
            })
            .map_err(|_| {
                Failure::new("ConfigurationError", format!("{rpc} did not answer within 30 s")).into_py()
            })?
            .map_err(|err| {
                Failure::new("ConfigurationError", format!("{rpc} is unreachable: {err}")).into_py()
            })?;
        if chain_id != expected {
            return Err(config(format!(
                "{rpc} is chain {chain_id}, but the manifest {} is for chain {expected}",
                manifest.display()
            )));
        }
        Ok(Self { runtime, agora: Agora::new(deployment, provider), key, indexer, http, ipfs })
    }

    /// The account's address (0x-prefixed, checksummed), or None without a key.
    #[getter]
    fn address(&self) -> Option<String> {
        self.key.as_ref().map(|key| key.address().to_string())
    }

    /// The chain id of the deployment.
    #[getter]
    fn chain_id(&self) -> u64 {
        self.agora.deployment.chain_id
    }

    /// One page of the catalogue as JSON (the indexer's `GET /assets`); `query` is its
    /// parameters as a JSON object (`q`, `kind`, `priced`, `limit`, `cursor`, …).
    fn assets(&self, py: Python<'_>, query: &str) -> PyResult<String> {
        let query: AssetQuery = serde_json::from_str(query)
            .map_err(|err| Failure::new("ConfigurationError", format!("search: {err}")).into_py())?;
        let page = self.run(py, async { Ok(self.indexer.assets(&query).await?) })?;
        Ok(serde_json::to_string(&page).unwrap_or_default())
    }

    /// One asset with its history, split, sales and lineage, as JSON (`GET /assets/{id}`).
    fn asset(&self, py: Python<'_>, asset_id: &str) -> PyResult<String> {
        let id = uint(asset_id, "asset id").map_err(Failure::into_py)?;
        let detail = self.run(py, async { Ok(self.indexer.asset(&id.to_string()).await?) })?;
        Ok(serde_json::to_string(&detail).unwrap_or_default())
    }

    /// `address`'s access orders as JSON (`GET /accounts/{address}/orders`), newest first.
    fn orders(&self, py: Python<'_>, address: &str) -> PyResult<String> {
        let page =
            self.run(py, async { Ok(self.indexer.account_orders(address, &Default::default()).await?) })?;
        Ok(serde_json::to_string(&page).unwrap_or_default())
    }

    /// What `amount` access tokens of `asset_id` cost this account now: a dict with `cost`,
    /// `free` (base units, as int), `currency`, `symbol`, `decimals` and `text`.
    fn quote<'py>(&self, py: Python<'py>, asset_id: &str, amount: u64) -> PyResult<Bound<'py, PyDict>> {
        let id = uint(asset_id, "asset id").map_err(Failure::into_py)?;
        let buyer = self.key.as_ref().map(PrivateKeySigner::address).unwrap_or_default();
        let (quote, currency, units) = self.run(py, async {
            self.stored(id).await?;
            let listing = tx::call("marketplace.getListing", self.agora.marketplace.getListing(id)).await?;
            let quote =
                tx::call("marketplace.quote", self.agora.marketplace.quote(id, buyer, U256::from(amount)))
                    .await?;
            let units = self.units(listing.currency).await?;
            Ok((quote, listing.currency, units))
        })?;
        let dict = PyDict::new(py);
        dict.set_item("cost", u128::try_from(quote.cost).unwrap_or(u128::MAX))?;
        dict.set_item("free", u128::try_from(quote.freeAmount).unwrap_or(u128::MAX))?;
        dict.set_item("currency", currency.to_string())?;
        dict.set_item("symbol", &units.symbol)?;
        dict.set_item("decimals", units.decimals)?;
        dict.set_item("text", units.format(quote.cost))?;
        Ok(dict)
    }

    /// Buys `amount` access tokens of `asset_id` at most at `max_price` a token (in the
    /// currency's units, e.g. "0.01"; the listed price when None). A dict of the purchase.
    #[pyo3(signature = (asset_id, amount=1, max_price=None))]
    fn buy<'py>(
        &self,
        py: Python<'py>,
        asset_id: &str,
        amount: u64,
        max_price: Option<&str>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let id = uint(asset_id, "asset id").map_err(Failure::into_py)?;
        if amount == 0 {
            return Err(Failure::new("ConfigurationError", "amount must be at least 1").into_py());
        }
        let key = self.key().map_err(Failure::into_py)?;
        let (purchased, units) = self.run(py, async {
            self.stored(id).await?;
            let listing = tx::call("marketplace.getListing", self.agora.marketplace.getListing(id)).await?;
            let units = self.units(listing.currency).await?;
            let max_price = match max_price {
                Some(text) => units.parse(text).map_err(|err| {
                    Failure::new("ConfigurationError", format!("max_price {text:?}: {err}"))
                })?,
                None => U256::from(listing.price),
            };
            let purchase = Purchase {
                asset: id,
                amount: U256::from(amount),
                currency: listing.currency,
                max_price,
                buyer: key.address(),
                key: Some(key),
            };
            Ok((market::buy(&self.agora, &purchase, &units).await?, units))
        })?;
        let event = &purchased.event;
        let dict = PyDict::new(py);
        dict.set_item("asset_id", id.to_string())?;
        dict.set_item("amount", event.amount.to_string())?;
        dict.set_item("free_amount", event.freeAmount.to_string())?;
        dict.set_item("paid", units.format(event.paid))?;
        dict.set_item("fee", units.format(event.fee))?;
        dict.set_item("tx_hash", purchased.tx_hash.to_string())?;
        Ok(dict)
    }

    /// Access tokens of `asset_id` this account holds.
    fn access_balance(&self, py: Python<'_>, asset_id: &str) -> PyResult<u64> {
        let id = uint(asset_id, "asset id").map_err(Failure::into_py)?;
        let holder = self.key().map_err(Failure::into_py)?.address();
        self.run(py, async {
            let stored = self.stored(id).await?;
            let token = self.agora.access_token_at(stored.accessToken);
            let balance = tx::call("accessToken.balanceOf", token.balanceOf(holder)).await?;
            Ok(u64::try_from(balance).unwrap_or(u64::MAX))
        })
    }

    /// The currency at `address` (an ERC-20): its symbol and decimals.
    fn currency_units(&self, py: Python<'_>, address: &str) -> PyResult<(String, u8)> {
        let address = Address::from_str(address.trim()).map_err(|_| {
            Failure::new("ConfigurationError", format!("currency {address:?} is not an address")).into_py()
        })?;
        self.run(py, async {
            let units = self.units(address).await?;
            Ok((units.symbol, units.decimals))
        })
    }

    /// The provider at `url` (its `/v1/info`, checked to serve this chain): its address.
    fn provider_address(&self, py: Python<'_>, url: &str) -> PyResult<String> {
        let chain_id = self.agora.deployment.chain_id;
        self.run(py, async { Ok(provider::info(&self.http, url, chain_id).await?.address.to_string()) })
    }

    /// The URLs of the providers that can serve `asset_id`, best first, by the rule every
    /// surface follows (`agora_client::provider::candidates`): active on the ComputeMarket,
    /// holding its key when it is encrypted, answering `/health` first, largest stake first.
    fn candidates(&self, py: Python<'_>, asset_id: &str) -> PyResult<Vec<String>> {
        let id = uint(asset_id, "asset id").map_err(Failure::into_py)?;
        let storage = self.storage().map_err(Failure::into_py)?;
        self.run(py, async {
            let stored = self.stored(id).await?;
            let metadata = checked(agora_client::metadata(storage, &stored.metadataCid).await)?;
            let holders = metadata.content.encryption.as_ref().map(|e| e.holders());
            let ranked = checked(provider::candidates(&self.agora, holders.as_deref()).await)?;
            Ok(ranked.into_iter().map(|candidate| candidate.endpoint).collect())
        })
    }

    /// Spends one access token of `asset_id` for the provider at `provider_url`: the order id
    /// and the provider's address.
    fn consume(&self, py: Python<'_>, asset_id: &str, provider_url: &str) -> PyResult<(String, String)> {
        let id = uint(asset_id, "asset id").map_err(Failure::into_py)?;
        let consumer = self.key().map_err(Failure::into_py)?.address();
        let chain_id = self.agora.deployment.chain_id;
        self.run(py, async {
            let stored = self.stored(id).await?;
            let info = provider::info(&self.http, provider_url, chain_id).await?;
            let order = market::consume(&self.agora, id, stored.accessToken, consumer, info.address).await?;
            Ok((order.to_string(), info.address.to_string()))
        })
    }

    /// The asset's content digest on chain (0x-prefixed sha-256), and whether it is compute-only.
    fn digest(&self, py: Python<'_>, asset_id: &str) -> PyResult<(String, bool)> {
        let id = uint(asset_id, "asset id").map_err(Failure::into_py)?;
        self.run(py, async {
            let stored = self.stored(id).await?;
            Ok((stored.contentDigest.to_string(), stored.computeOnly))
        })
    }

    /// Downloads `asset_id` with order `order_id` from the provider at `provider_url` into
    /// `part` (resuming from its length with `Range`), then checks its sha-256 against the
    /// chain: a mismatch deletes `part` and raises `DigestMismatch`. `progress(done, total)`
    /// is called as bytes arrive. Returns (size, resumed_from).
    #[pyo3(signature = (asset_id, provider_url, order_id, part, progress=None))]
    fn download(
        &self,
        py: Python<'_>,
        asset_id: &str,
        provider_url: &str,
        order_id: &str,
        part: PathBuf,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<(u64, u64)> {
        let id = uint(asset_id, "asset id").map_err(Failure::into_py)?;
        let order_id = uint(order_id, "order id").map_err(Failure::into_py)?;
        let key = self.key().map_err(Failure::into_py)?;
        let chain_id = self.agora.deployment.chain_id;
        self.run(py, async {
            let stored = self.stored(id).await?;
            if stored.computeOnly {
                return Err(Failure::new(
                    "AccessRefused",
                    format!(
                        "asset {id} is compute-only: its content never leaves a provider (run a job on it)"
                    ),
                ));
            }
            let info = provider::info(&self.http, provider_url, chain_id).await?;
            let download = Download {
                http: &self.http,
                url: provider_url,
                domain: info.domain(chain_id),
                key,
                asset_id: id,
                order_id,
            };
            let mut reported = 0u64;
            let mut report = |Progress { done, total }: Progress| {
                if let Some(callback) = &progress
                    && (done >= reported + PROGRESS_STEP || done == total || done < reported)
                {
                    reported = done;
                    Python::attach(|py| {
                        if let Err(err) = callback.call1(py, (done, total)) {
                            err.print(py);
                        }
                    });
                }
            };
            let resumed = download.fetch(&part, &mut report).await?;
            let size = provider::verify(&part, id, stored.contentDigest)?;
            Ok((size, resumed))
        })
    }

    /// Publishes the file or model folder at `path` as the CLI's `asset publish` does (the
    /// same checks, encryption rule, key holders, metadata and transaction). A dict of what was
    /// published.
    #[pyo3(signature = (
        path, kind, price="0", currency=None, splits=Vec::new(), name=None, description=String::new(),
        card=None, license=None, tags=Vec::new(), sample=None, compute_only=false, access_duration=0,
        free_per_address=0, encrypt=None, providers=Vec::new(), provider_custody=false, pinning=None,
        progress=None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn publish<'py>(
        &self,
        py: Python<'py>,
        path: PathBuf,
        kind: &str,
        price: &str,
        currency: Option<&str>,
        splits: Vec<String>,
        name: Option<String>,
        description: String,
        card: Option<String>,
        license: Option<String>,
        tags: Vec<String>,
        sample: Option<PathBuf>,
        compute_only: bool,
        access_duration: u32,
        free_per_address: u8,
        encrypt: Option<bool>,
        providers: Vec<String>,
        provider_custody: bool,
        pinning: Option<String>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let refuse = |message: String| Failure::new("ConfigurationError", message).into_py();
        let code = words::asset_kind_code(kind)
            .ok_or_else(|| refuse(format!("kind {kind:?}: one of {}", words::ASSET_KINDS.join(", "))))?;
        let key = self.key().map_err(Failure::into_py)?;
        let storage = self.storage().map_err(Failure::into_py)?;
        if encrypt == Some(false) && compute_only {
            return Err(refuse(
                "encrypt=False cannot be compute-only: content in the clear on IPFS can be read by anyone"
                    .into(),
            ));
        }
        let currency = match currency {
            None => Address::ZERO,
            Some(text) if text.eq_ignore_ascii_case("eth") => Address::ZERO,
            Some(text) => text
                .parse()
                .map_err(|_| refuse(format!("currency {text:?} is neither \"eth\" nor an address")))?,
        };
        let replication = pinning.as_deref().map(replication).transpose().map_err(Failure::into_py)?;
        let report = self.run(py, async {
            let split = checked(publish::parse_splits(&splits))?;
            if let Some(card) = &card {
                checked(card::check_card(card))?;
            }
            let tags = checked(card::check_tags(&tags))?;
            let sample = match &sample {
                Some(sample) if card::same_bytes(sample, &path) => {
                    return Err(Failure::new(
                        "ConfigurationError",
                        "the sample is the content itself: its preview would be readable by anyone; give a few rows of it",
                    ));
                }
                Some(sample) => Some(checked(card::read_sample(sample))?),
                None => None,
            };
            if code == words::asset_kind_code("algorithm").unwrap_or_default() {
                checked(publish::check_algorithm(&path).await)?;
            }
            let source = checked(Source::read(&path))?;
            if matches!(source, Source::Folder { .. }) && kind != "model" {
                return Err(Failure::new(
                    "ConfigurationError",
                    format!("{} is a folder: a folder is published as a model (kind=\"model\")", path.display()),
                ));
            }
            let units = self.units(currency).await?;
            let price = units
                .parse(price)
                .map_err(|err| Failure::new("ConfigurationError", format!("price {price:?}: {err}")))?;
            let encrypted = encrypt.unwrap_or(!price.is_zero() || compute_only);
            if !encrypted && !providers.is_empty() {
                return Err(Failure::new(
                    "ConfigurationError",
                    "providers= names who holds the content key, but this asset is published in the clear: pass encrypt=True",
                ));
            }
            let sealing = match encrypted {
                true => {
                    let owner = Owner { address: key.address(), key: Some(key) };
                    let holders = checked(new_holders(&self.agora, owner, &providers, provider_custody).await)?;
                    Some(checked(Sealing::new(holders))?)
                }
                false => None,
            };
            let report = progress.map(|callback| {
                let callback = std::sync::Arc::new(callback);
                let bytes: agora_ipfs::Progress = std::sync::Arc::new(move |done| {
                    Python::attach(|py| {
                        if let Err(err) = callback.call1(py, (done,)) {
                            err.print(py);
                        }
                    });
                });
                UploadProgress { step: Box::new(|_| {}), bytes }
            });
            let report = report.unwrap_or_else(UploadProgress::silent);
            let uploaded = checked(publish::upload(storage, &path, &source, sealing.as_ref(), &report).await)?;
            let extra = [
                ("license", license.map(|license| serde_json::json!(license))),
                (agora_provider::metadata::CARD, card.map(|card| serde_json::json!(card))),
                (agora_provider::metadata::TAGS, (!tags.is_empty()).then(|| serde_json::json!(tags))),
                (agora_provider::metadata::SAMPLE, sample.map(|sample| serde_json::json!(sample))),
            ];
            let listing = Listing {
                owner: key.address(),
                kind: code,
                compute_only,
                access_duration,
                currency,
                price,
                free_per_address,
                split,
                name: name.unwrap_or_else(|| source.name().to_owned()),
                description,
                extra: extra.into_iter().filter_map(|(key, value)| Some((key, value?))).collect(),
            };
            let quiet = |_: &[Replica]| {};
            let replicate = replication.as_ref().map(|replication| (replication, &quiet as _));
            let published = checked(
                publish::register(&self.agora, storage, &source, &uploaded, listing, &units, replicate).await,
            )?;
            let holders = uploaded.encryption.as_ref().map(|e| e.holders()).unwrap_or_default();
            Ok((published, uploaded.added, encrypted, holders))
        })?;
        let (published, added, encrypted, holders) = report;
        let dict = PyDict::new(py);
        dict.set_item("asset_id", published.asset_id.to_string())?;
        dict.set_item("access_token", published.access_token.to_string())?;
        dict.set_item("content_cid", &added.cid)?;
        dict.set_item("digest", added.sha256.to_string())?;
        dict.set_item("size", added.size)?;
        dict.set_item("metadata_cid", &published.metadata_cid)?;
        dict.set_item("encrypted", encrypted)?;
        dict.set_item("key_holders", holders.iter().map(ToString::to_string).collect::<Vec<_>>())?;
        dict.set_item("tx_hash", published.tx_hash.to_string())?;
        let replicas = PyList::empty(py);
        for replica in &published.replicas {
            let item = PyDict::new(py);
            item.set_item("service", &replica.service)?;
            item.set_item("statuses", &replica.statuses)?;
            replicas.append(item)?;
        }
        dict.set_item("replicas", replicas)?;
        Ok(dict)
    }

    /// Runs a compute job: `spec` (JSON: a runtime job, e.g. `{"kind":"embed"}`) over
    /// `dataset` with `model` at the provider at `provider_url` (`None`: the best that takes it,
    /// as `agora job submit` without `--provider` chooses), buying the access tokens it
    /// spends with it. Refused before anything is signed when the job costs more than
    /// `max_total` (in the provider's currency's units). The submission as JSON.
    #[pyo3(signature = (dataset, model, provider_url, spec, deadline_secs=3600, max_price=None, max_total=None))]
    #[allow(clippy::too_many_arguments)]
    fn submit_job(
        &self,
        py: Python<'_>,
        dataset: &str,
        model: &str,
        provider_url: Option<&str>,
        spec: &str,
        deadline_secs: u64,
        max_price: Option<&str>,
        max_total: Option<&str>,
    ) -> PyResult<String> {
        let submission =
            job::Submission { dataset, model, provider_url, spec, deadline_secs, max_price, max_total };
        self.run(py, async { Ok(job::submit(self, submission).await?.to_string()) })
    }

    /// Job `job_id` on chain and at its provider (at `provider_url`, else its registered
    /// endpoint), as JSON.
    #[pyo3(signature = (job_id, provider_url=None))]
    fn job_state(&self, py: Python<'_>, job_id: &str, provider_url: Option<&str>) -> PyResult<String> {
        self.run(py, async { Ok(job::state(self, job_id, provider_url).await?.to_string()) })
    }

    /// Job `job_id`'s receipt, checked against the chain; with `output`, its files fetched into
    /// that (empty) folder and their hash checked. As JSON.
    #[pyo3(signature = (job_id, provider_url=None, output=None))]
    fn job_result(
        &self,
        py: Python<'_>,
        job_id: &str,
        provider_url: Option<&str>,
        output: Option<PathBuf>,
    ) -> PyResult<String> {
        self.run(py, async { Ok(job::result(self, job_id, provider_url, output).await?.to_string()) })
    }

    /// Re-executes job `job_id` locally and compares with its posted output hash; `dataset` is
    /// the dataset's plaintext when IPFS holds only its ciphertext. The verdict as JSON.
    #[pyo3(signature = (job_id, provider_url=None, dataset=None, work_dir=None))]
    fn verify_job(
        &self,
        py: Python<'_>,
        job_id: &str,
        provider_url: Option<&str>,
        dataset: Option<PathBuf>,
        work_dir: Option<PathBuf>,
    ) -> PyResult<String> {
        let dataset = dataset.as_deref();
        self.run(py, async {
            Ok(job::verify(self, job_id, provider_url, dataset, work_dir).await?.to_string())
        })
    }

    /// Fetches `cid` from Kubo into `dest`, keeping it only when its sha-256 is `sha256`
    /// (a model folder's file, as its manifest lists it). Returns its size.
    fn ipfs_fetch(&self, py: Python<'_>, cid: &str, sha256: &str, dest: PathBuf) -> PyResult<u64> {
        let expected = B256::from_str(sha256).map_err(|_| {
            Failure::new("AgoraError", format!("{sha256:?} is not a sha-256 digest")).into_py()
        })?;
        let storage = self.storage().map_err(Failure::into_py)?;
        self.run(py, async {
            use futures::StreamExt;
            let io = |err: std::io::Error| {
                Failure::new("AgoraError", format!("writing {}: {err}", dest.display()))
            };
            let mut stream = storage.cat_verified(cid, expected);
            let mut file = tokio::fs::File::create(&dest).await.map_err(io)?;
            let mut size = 0u64;
            while let Some(chunk) = stream.next().await {
                let chunk = match chunk {
                    Ok(chunk) => chunk,
                    Err(err) => {
                        drop(file);
                        let _ = std::fs::remove_file(&dest);
                        let class = match err {
                            agora_ipfs::StorageError::DigestMismatch { .. } => "DigestMismatch",
                            _ => "AgoraError",
                        };
                        return Err(Failure::new(class, format!("IPFS {cid}: {err}")));
                    }
                };
                tokio::io::AsyncWriteExt::write_all(&mut file, &chunk).await.map_err(io)?;
                size += chunk.len() as u64;
            }
            tokio::io::AsyncWriteExt::flush(&mut file).await.map_err(io)?;
            Ok(size)
        })
    }
}

/// Reads a JSON keystore (geth's format) with `password`: the private key, 0x-prefixed.
#[pyfunction]
fn decrypt_keystore(py: Python<'_>, path: PathBuf, password: &str) -> PyResult<String> {
    let password = password.to_owned();
    py.detach(move || {
        PrivateKeySigner::decrypt_keystore(&path, password).map(|key| key.to_bytes().to_string())
    })
    .map_err(|err| Failure::new("ConfigurationError", format!("keystore: {err} (wrong password?)")).into_py())
}

/// `amount` base units written in the currency's units (`0.001 ETH`), as the CLI and the hub
/// write amounts.
#[pyfunction]
fn format_amount(amount: &str, symbol: &str, decimals: u8) -> PyResult<String> {
    let amount = uint(amount, "amount").map_err(Failure::into_py)?;
    Ok(Units { symbol: symbol.to_owned(), decimals }.format(amount))
}

/// A contract's revert data as the protocol's sentence (the same table as the CLI and the hub).
#[pyfunction]
#[pyo3(signature = (data, symbol="ETH", decimals=18))]
fn explain_revert(data: &str, symbol: &str, decimals: u8) -> PyResult<String> {
    let bytes = alloy::hex::decode(data.trim())
        .map_err(|_| Failure::new("AgoraError", "revert data is not hex").into_py())?;
    let units = Units { symbol: symbol.to_owned(), decimals };
    Ok(agora_contracts::Revert::decode(&bytes)
        .map(|revert| agora_contracts::words::describe(&revert, &units))
        .unwrap_or_else(|| {
            format!("the contract refused with data {data} (not one of the protocol's errors)")
        }))
}

/// A model or dataset card's Markdown as sanitized HTML: the web hub's renderer (raw HTML shown
/// as text, only http/https/mailto links, no remote image loaded), for `Asset._repr_html_`.
#[pyfunction]
fn render_card(markdown: &str) -> String {
    agora_hub::markdown::render(markdown)
}

/// The module.
#[pymodule]
fn _agora(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<Client>()?;
    module.add_function(wrap_pyfunction!(decrypt_keystore, module)?)?;
    module.add_function(wrap_pyfunction!(explain_revert, module)?)?;
    module.add_function(wrap_pyfunction!(render_card, module)?)?;
    module.add_function(wrap_pyfunction!(format_amount, module)?)?;
    Ok(())
}

/// `publish(pinning=...)`: the same table as a network's `[pinning]` in networks.toml, with each
/// service's token given as `key` (Python reads its environment itself), as JSON.
fn replication(json: &str) -> Result<Replication, Failure> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Table {
        replicas: usize,
        #[serde(default = "ten_minutes")]
        wait_secs: u64,
        services: Vec<Service>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Service {
        name: String,
        #[serde(default)]
        endpoint: Option<String>,
        #[serde(default)]
        key: Option<String>,
    }
    fn ten_minutes() -> u64 {
        600
    }
    let refuse = |message: String| Failure::new("ConfigurationError", format!("pinning: {message}"));
    let table: Table = serde_json::from_str(json).map_err(|err| {
        refuse(format!("{err}; expected {{\"replicas\": 1, \"services\": [{{\"name\": …, \"endpoint\": …, \"key\": …}}]}}"))
    })?;
    let services = table
        .services
        .into_iter()
        .map(|service| match (service.endpoint, service.key) {
            (Some(endpoint), Some(key)) => {
                Ok(RemoteService { name: service.name, register: Some((endpoint, key)) })
            }
            (None, None) => Ok(RemoteService { name: service.name, register: None }),
            _ => Err(refuse(format!(
                "service {:?}: give both endpoint and key, or neither (then your Kubo must know it)",
                service.name
            ))),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Replication::new(services, table.replicas, Duration::from_secs(table.wait_secs))
        .map_err(|err| Failure::new("ConfigurationError", err.to_string()))
}
