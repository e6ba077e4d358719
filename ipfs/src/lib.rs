//! agora-ipfs: the workspace's one IPFS client. Content storage through a Kubo node's RPC API
//! (`ipfs-api-backend-hyper`), used by the provider (as `agora_provider::storage`), the CLI and
//! the indexer's metadata fetcher.
//!
//! Everything streams: files are added from disk through a reader that hashes (sha-256) and
//! reports progress as the bytes go by, and `cat` yields chunks as Kubo sends them, each
//! within an idle deadline. [`verify_digest`] wraps a stream so that the consumer never sees
//! its last chunk unless the whole content matched the expected digest: a mismatch ends the
//! transfer with [`StorageError::DigestMismatch`] instead of a silently wrong file.

use std::{
    collections::HashMap,
    io,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use alloy::primitives::B256;
use bytes::Bytes;
use futures::{Stream, StreamExt, TryStreamExt, stream};
use ipfs_api_backend_hyper::{Form, IpfsApi, IpfsClient, TryFromUri, request::Add};
use ipfs_api_prelude::{Backend, request::ApiRequest};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};
use tokio_util::compat::TokioAsyncReadCompatExt;

/// A stream of content bytes.
pub type ByteStream = Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>>;

/// Called with the number of bytes processed so far.
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

/// Talking to Kubo or checking what it returned failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The Kubo API URL does not parse.
    #[error("invalid Kubo API URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL given.
        url: String,
        /// Why it is invalid.
        reason: String,
    },
    /// Kubo could not be reached (not running, connection reset mid-transfer, …).
    #[error("{action}: Kubo unreachable: {reason}")]
    Unavailable {
        /// What was being done.
        action: String,
        /// The transport error.
        reason: String,
    },
    /// Kubo answered with an error.
    #[error("{action}: Kubo refused: {message}")]
    Api {
        /// What was being done.
        action: String,
        /// Kubo's message.
        message: String,
    },
    /// The content is not available (an offline node that does not hold it).
    #[error("{action}: content not available: {message}")]
    NotFound {
        /// What was being done.
        action: String,
        /// Kubo's message.
        message: String,
    },
    /// Kubo sent nothing within the deadline.
    #[error("{action}: no answer from Kubo within {after:?}")]
    Timeout {
        /// What was being done.
        action: String,
        /// The deadline.
        after: Duration,
    },
    /// The content's sha-256 differs from the one expected.
    #[error("content {cid} has sha-256 {actual}, expected {expected}")]
    DigestMismatch {
        /// The content's CID.
        cid: String,
        /// The digest expected (the asset's on-chain digest).
        expected: B256,
        /// The digest of what was received.
        actual: B256,
    },
    /// The content is longer than the caller accepts.
    #[error("content {cid} is larger than {limit} bytes")]
    TooLarge {
        /// The content's CID.
        cid: String,
        /// The limit.
        limit: usize,
    },
    /// Kubo's answer did not make sense.
    #[error("{action}: unexpected answer from Kubo: {reason}")]
    Protocol {
        /// What was being done.
        action: String,
        /// What was wrong.
        reason: String,
    },
    /// Reading a local file or decrypting content failed.
    #[error("{action}: {source}")]
    Io {
        /// What was being done.
        action: String,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl StorageError {
    fn from_ipfs(action: impl Into<String>, err: ipfs_api_backend_hyper::Error) -> Self {
        let action = action.into();
        match err {
            ipfs_api_backend_hyper::Error::Api(api) => {
                let message = api.message;
                if message.contains("not found") || message.contains("offline") {
                    Self::NotFound { action, message }
                } else {
                    Self::Api { action, message }
                }
            }
            ipfs_api_backend_hyper::Error::Client(err) => {
                Self::Unavailable { action, reason: err.to_string() }
            }
            other => Self::Api { action, message: other.to_string() },
        }
    }
}

/// What adding content stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The root CID.
    pub cid: String,
    /// Bytes read from the source.
    pub size: u64,
    /// sha-256 of the bytes read from the source.
    pub sha256: B256,
}

/// One entry of a directory, as `ipfs ls` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Its name in the directory.
    pub name: String,
    /// Its CID.
    pub cid: String,
    /// Its size in bytes.
    pub size: u64,
    /// Whether it is a file (not a directory or another kind of node).
    pub is_file: bool,
}

/// What Kubo knows about a CID (`files stat /ipfs/<cid>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stat {
    /// Size of the file's content (0 for a directory).
    pub size: u64,
    /// Size of the whole DAG, blocks included.
    pub cumulative_size: u64,
    /// Number of child blocks.
    pub blocks: u64,
    /// `file` or `directory`.
    pub kind: String,
}

/// A Kubo node's RPC API.
#[derive(Clone)]
pub struct Storage {
    client: IpfsClient,
    api_url: String,
    timeout: Duration,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage").field("api_url", &self.api_url).field("timeout", &self.timeout).finish()
    }
}

impl Storage {
    /// A client for the Kubo API at `api_url` (e.g. `http://127.0.0.1:5001`). `timeout` bounds
    /// each request and each wait for the next chunk of a stream.
    pub fn new(api_url: &str, timeout: Duration) -> Result<Self, StorageError> {
        let client = IpfsClient::from_str(api_url)
            .map_err(|err| StorageError::InvalidUrl { url: api_url.to_owned(), reason: err.to_string() })?;
        Ok(Self { client, api_url: api_url.to_owned(), timeout })
    }

    /// The API URL.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The per-request deadline.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    async fn deadline<T>(
        &self,
        action: &str,
        fut: impl Future<Output = Result<T, ipfs_api_backend_hyper::Error>>,
    ) -> Result<T, StorageError> {
        match tokio::time::timeout(self.timeout, fut).await {
            Ok(result) => result.map_err(|err| StorageError::from_ipfs(action, err)),
            Err(_) => Err(StorageError::Timeout { action: action.to_owned(), after: self.timeout }),
        }
    }

    /// Kubo's version string.
    pub async fn version(&self) -> Result<String, StorageError> {
        Ok(self.deadline("ipfs version", self.client.version()).await?.version)
    }

    /// Adds (and pins) the file at `path`, streaming it from disk. Adding has no deadline:
    /// a large file takes as long as it takes.
    pub async fn add_file(&self, path: &Path, progress: Option<Progress>) -> Result<Added, StorageError> {
        let action = format!("add {}", path.display());
        let file = tokio::fs::File::open(path).await.map_err(|source| StorageError::Io { action, source })?;
        self.add_reader(file, progress).await
    }

    /// Adds (and pins) everything `reader` yields, hashing it on the way.
    pub async fn add_reader<R>(&self, reader: R, progress: Option<Progress>) -> Result<Added, StorageError>
    where
        R: AsyncRead + Send + Sync + Unpin + 'static,
    {
        let reader = HashingReader::new(reader, progress);
        let digest = reader.digest_handle();
        let add = Add { pin: Some(true), cid_version: Some(1), raw_leaves: Some(true), ..Add::default() };
        let response = self
            .client
            .add_async_with_options(reader.compat(), add)
            .await
            .map_err(|err| StorageError::from_ipfs("ipfs add", err))?;
        let (sha256, size) = digest.finish();
        Ok(Added { cid: response.hash, size, sha256 })
    }

    /// Adds small in-memory content (metadata documents).
    pub async fn add_bytes(&self, data: Vec<u8>) -> Result<Added, StorageError> {
        self.add_reader(io::Cursor::new(data), None).await
    }

    /// Adds (and pins) a directory tree, streaming each file from disk; returns the root's CID.
    /// An empty folder is added as the empty UnixFS directory.
    pub async fn add_dir(&self, dir: &Path) -> Result<String, StorageError> {
        let action = format!("add directory {}", dir.display());
        let io_err = |source| StorageError::Io { action: action.clone(), source };
        let root_name = dir
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .ok_or_else(|| io_err(io::Error::other("the path has no folder name")))?;
        let mut files = Vec::new();
        collect_files(dir, &mut files).map_err(io_err)?;
        let mut form = Form::default();
        // The folder itself, as Kubo's own client sends it: an empty folder is then added too.
        let folder: mime::Mime =
            "application/x-directory".parse().map_err(io::Error::other).map_err(io_err)?;
        form.add_reader_file_with_mime("file", io::Cursor::new(Vec::new()), root_name.clone(), folder);
        for file in &files {
            let relative = file.strip_prefix(dir).map_err(|err| io_err(io::Error::other(err)))?;
            let name = format!("{root_name}/{}", relative.to_string_lossy());
            let handle = tokio::fs::File::open(file).await.map_err(io_err)?;
            form.add_async_reader_file("file", handle.compat(), name);
        }
        let add = Add { pin: Some(true), cid_version: Some(1), raw_leaves: Some(true), ..Add::default() };
        let added = self
            .client
            .add_with_form(form, add)
            .await
            .map_err(|err| StorageError::from_ipfs(&action, err))?;
        added
            .into_iter()
            .find(|entry| entry.name == root_name)
            .map(|entry| entry.hash)
            .ok_or_else(|| StorageError::Protocol { action, reason: "no entry for the root folder".into() })
    }

    /// Streams the content of `cid`, or of `length` bytes from `offset` when a range is given.
    /// Every chunk must arrive within the deadline.
    pub fn cat(&self, cid: &str, range: Option<(u64, u64)>) -> ByteStream {
        let action = format!("ipfs cat {cid}");
        let path = format!("/ipfs/{cid}");
        let raw = match range {
            None => self.client.cat(&path),
            Some((offset, length)) => {
                let (Ok(offset), Ok(length)) = (usize::try_from(offset), usize::try_from(length)) else {
                    return Box::pin(stream::once(async move {
                        Err(StorageError::Protocol { action, reason: "range beyond usize".into() })
                    }));
                };
                // An empty range would mean "to the end" to Kubo.
                if length == 0 {
                    return Box::pin(stream::empty());
                }
                self.client.cat_range(&path, offset, length)
            }
        };
        let chunks = raw.map_err(move |err| StorageError::from_ipfs(&action, err));
        with_idle_timeout(Coalesce::new(chunks, COALESCE_BYTES), self.timeout, cid)
    }

    /// Reads the whole content of `cid` into memory, refusing more than `limit` bytes.
    pub async fn cat_to_vec(&self, cid: &str, limit: usize) -> Result<Vec<u8>, StorageError> {
        let mut out = Vec::new();
        let mut chunks = self.cat(cid, None);
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            if out.len() + chunk.len() > limit {
                return Err(StorageError::TooLarge { cid: cid.to_owned(), limit });
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Streams the content of `cid`, failing at the end instead of delivering the last chunk
    /// when its sha-256 is not `expected`.
    pub fn cat_verified(&self, cid: &str, expected: B256) -> ByteStream {
        verify_digest(self.cat(cid, None), cid.to_owned(), expected)
    }

    /// Streams `ipfs get` of `cid`: a tar archive of the file or directory tree.
    pub fn get(&self, cid: &str) -> ByteStream {
        let action = format!("ipfs get {cid}");
        let raw = self.client.get(&format!("/ipfs/{cid}"));
        with_idle_timeout(raw.map_err(move |err| StorageError::from_ipfs(&action, err)), self.timeout, cid)
    }

    /// Kubo's view of `cid`.
    pub async fn stat(&self, cid: &str) -> Result<Stat, StorageError> {
        let response =
            self.deadline(&format!("stat {cid}"), self.client.files_stat(&format!("/ipfs/{cid}"))).await?;
        Ok(Stat {
            size: response.size,
            cumulative_size: response.cumulative_size,
            blocks: response.blocks,
            kind: response.typ,
        })
    }

    /// The entries of the directory `cid` (`ipfs ls`), in Kubo's order; a file has none.
    pub async fn ls(&self, cid: &str) -> Result<Vec<Link>, StorageError> {
        let action = format!("ipfs ls {cid}");
        let response = self.deadline(&action, self.client.ls(&format!("/ipfs/{cid}"))).await?;
        Ok(response
            .objects
            .into_iter()
            .flat_map(|object| object.links)
            // unixfs type 2 is a file (1 a directory).
            .map(|link| Link { name: link.name, cid: link.hash, size: link.size, is_file: link.typ == 2 })
            .collect())
    }

    /// Pins `cid` (recursively).
    pub async fn pin_add(&self, cid: &str) -> Result<(), StorageError> {
        self.deadline(&format!("pin add {cid}"), self.client.pin_add(cid, true)).await.map(drop)
    }

    /// Unpins `cid` (recursively).
    pub async fn pin_rm(&self, cid: &str) -> Result<(), StorageError> {
        self.deadline(&format!("pin rm {cid}"), self.client.pin_rm(cid, true)).await.map(drop)
    }

    /// Recursive pins: CID → pin type.
    pub async fn pin_ls(&self) -> Result<HashMap<String, String>, StorageError> {
        let response = self.deadline("pin ls", self.client.pin_ls(None, Some("recursive"))).await?;
        Ok(response.keys.into_iter().map(|(cid, pin)| (cid, pin.typ)).collect())
    }

    /// `ipfs id`: the node's peer ID and its swarm addresses, each ending in `/p2p/<peer id>`
    /// (none for an offline node, whose `Addresses` Kubo sends as null, which the client's own
    /// `id` cannot read).
    async fn identity(&self) -> Result<(String, Vec<String>), StorageError> {
        let action = "ipfs id";
        let body = self.command(action, Id(Vec::new())).await?;
        let protocol = |reason: String| StorageError::Protocol { action: action.into(), reason };
        let id: serde_json::Value = serde_json::from_slice(&body).map_err(|err| protocol(err.to_string()))?;
        let peer = id["ID"].as_str().ok_or_else(|| protocol("no ID".into()))?.to_owned();
        let addresses = id["Addresses"]
            .as_array()
            .map(|all| all.iter().filter_map(|a| a.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        Ok((peer, addresses))
    }

    /// This node's peer ID.
    pub async fn peer_id(&self) -> Result<String, StorageError> {
        Ok(self.identity().await?.0)
    }

    /// This node's swarm addresses, each ending in `/p2p/<its peer id>` (none when offline).
    pub async fn addresses(&self) -> Result<Vec<String>, StorageError> {
        Ok(self.identity().await?.1)
    }

    /// Dials the peer at multiaddr `address` (`…/p2p/<peer id>`).
    pub async fn connect(&self, address: &str) -> Result<(), StorageError> {
        self.deadline(&format!("swarm connect {address}"), self.client.swarm_connect(address)).await.map(drop)
    }

    /// Whether `cid` is pinned recursively.
    pub async fn is_pinned(&self, cid: &str) -> Result<bool, StorageError> {
        Ok(self.pin_ls().await?.contains_key(cid))
    }
}

/// The statuses a remote pin request can have (the IPFS Pinning Service API's `Status`).
pub const REMOTE_PIN_STATUSES: [&str; 4] = ["queued", "pinning", "pinned", "failed"];

/// A remote pinning service configured in a Kubo node (`ipfs pin remote service ls`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RemoteService {
    /// The name Kubo knows it by.
    #[serde(rename = "Service")]
    pub name: String,
    /// Its Pinning Service API endpoint.
    #[serde(rename = "ApiEndpoint")]
    pub endpoint: String,
}

/// A pin request at a remote pinning service, as Kubo reports it (`ipfs pin remote ls`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RemotePin {
    /// The CID asked for.
    #[serde(rename = "Cid")]
    pub cid: String,
    /// The request's name.
    #[serde(rename = "Name", default)]
    pub name: String,
    /// One of [`REMOTE_PIN_STATUSES`].
    #[serde(rename = "Status")]
    pub status: String,
}

/// A Kubo RPC command the client has no method for: its path and its query as `(key, value)`
/// pairs (a key may repeat, as Kubo's positional `arg` does).
macro_rules! kubo_command {
    ($name:ident, $path:literal) => {
        #[derive(Serialize)]
        #[serde(transparent)]
        struct $name(Vec<(&'static str, String)>);

        impl ApiRequest for $name {
            const PATH: &'static str = $path;
        }
    };
}

kubo_command!(Id, "/id");
kubo_command!(RemoteServiceLs, "/pin/remote/service/ls");
kubo_command!(RemoteServiceAdd, "/pin/remote/service/add");
kubo_command!(RemoteServiceRm, "/pin/remote/service/rm");
kubo_command!(RemotePinAdd, "/pin/remote/add");
kubo_command!(RemotePinLs, "/pin/remote/ls");

#[derive(Deserialize)]
struct RemoteServices {
    #[serde(rename = "RemoteServices", default)]
    services: Option<Vec<RemoteService>>,
}

/// Kubo's error body as `client`'s error.
fn refusal<B: Backend>(_client: &B, body: Bytes) -> B::Error {
    B::process_error_from_body(body)
}

impl Storage {
    /// Sends `request` and returns the answer's body, or Kubo's refusal.
    async fn command<Req: ApiRequest>(&self, action: &str, request: Req) -> Result<Bytes, StorageError> {
        let (status, body) = self.deadline(action, self.client.request_raw(request, None)).await?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(StorageError::from_ipfs(action, refusal(&self.client, body)))
        }
    }

    /// The remote pinning services this node knows.
    pub async fn remote_services(&self) -> Result<Vec<RemoteService>, StorageError> {
        let action = "pin remote service ls";
        let body = self.command(action, RemoteServiceLs(Vec::new())).await?;
        let services: RemoteServices = serde_json::from_slice(&body)
            .map_err(|err| StorageError::Protocol { action: action.into(), reason: err.to_string() })?;
        Ok(services.services.unwrap_or_default())
    }

    /// Makes `name` the remote pinning service at `endpoint` with access token `key`, replacing
    /// what the node had under that name. The key is kept in the node's config, as Kubo does.
    pub async fn set_remote_service(
        &self,
        name: &str,
        endpoint: &str,
        key: &str,
    ) -> Result<(), StorageError> {
        if self.remote_services().await?.iter().any(|service| service.name == name) {
            let rm = RemoteServiceRm(vec![("arg", name.to_owned())]);
            self.command(&format!("pin remote service rm {name}"), rm).await?;
        }
        let add = RemoteServiceAdd(vec![
            ("arg", name.to_owned()),
            ("arg", endpoint.to_owned()),
            ("arg", key.to_owned()),
        ]);
        self.command(&format!("pin remote service add {name} {endpoint}"), add).await.map(drop)
    }

    /// Asks remote pinning service `service` to pin `cid` under `name`, without waiting for it
    /// to be pinned (Kubo's `--background`); the request as the service answered it.
    pub async fn remote_pin_add(
        &self,
        service: &str,
        cid: &str,
        name: &str,
    ) -> Result<RemotePin, StorageError> {
        let action = format!("pin remote add --service={service} {cid}");
        let request = RemotePinAdd(vec![
            ("arg", cid.to_owned()),
            ("service", service.to_owned()),
            ("name", name.to_owned()),
            ("background", "true".to_owned()),
        ]);
        let body = self.command(&action, request).await?;
        serde_json::from_slice(&body)
            .map_err(|err| StorageError::Protocol { action, reason: err.to_string() })
    }

    /// The pin requests for `cids` (all when empty) at remote pinning service `service`, in
    /// every status.
    pub async fn remote_pins(&self, service: &str, cids: &[&str]) -> Result<Vec<RemotePin>, StorageError> {
        let action = format!("pin remote ls --service={service}");
        let mut query = vec![("service", service.to_owned())];
        query.extend(cids.iter().map(|cid| ("cid", (*cid).to_owned())));
        query.extend(REMOTE_PIN_STATUSES.iter().map(|status| ("status", (*status).to_owned())));
        let body = self.command(&action, RemotePinLs(query)).await?;
        // One JSON object per line.
        body.split(|&byte| byte == b'\n')
            .filter(|line| !line.iter().all(u8::is_ascii_whitespace))
            .map(|line| {
                serde_json::from_slice(line)
                    .map_err(|err| StorageError::Protocol { action: action.clone(), reason: err.to_string() })
            })
            .collect()
    }
}

fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    let mut entries = std::fs::read_dir(dir)?.collect::<Result<Vec<_>, _>>()?;
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            collect_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

/// Kubo sends content in 4 KiB HTTP chunks; downstream work (hashing, decrypting, HTTP
/// frames) is per chunk, so chunks already received are merged up to this size.
pub const COALESCE_BYTES: usize = 128 * 1024;

/// Merges chunks that are ready at once into chunks of up to `target` bytes, never waiting
/// for more data than is already there.
pub struct Coalesce<S> {
    inner: S,
    target: usize,
    buf: bytes::BytesMut,
    pending_error: Option<StorageError>,
    done: bool,
}

impl<S> Coalesce<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, target: usize) -> Self {
        Self { inner, target, buf: bytes::BytesMut::new(), pending_error: None, done: false }
    }
}

impl<S> Stream for Coalesce<S>
where
    S: Stream<Item = Result<Bytes, StorageError>> + Unpin,
{
    type Item = Result<Bytes, StorageError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(err) = this.pending_error.take() {
            this.done = true;
            return Poll::Ready(Some(Err(err)));
        }
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match Pin::new(&mut this.inner).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if this.buf.is_empty() && chunk.len() >= this.target {
                        return Poll::Ready(Some(Ok(chunk)));
                    }
                    this.buf.extend_from_slice(&chunk);
                    if this.buf.len() >= this.target {
                        return Poll::Ready(Some(Ok(this.buf.split().freeze())));
                    }
                }
                Poll::Ready(Some(Err(err))) => {
                    if this.buf.is_empty() {
                        this.done = true;
                        return Poll::Ready(Some(Err(err)));
                    }
                    this.pending_error = Some(err);
                    return Poll::Ready(Some(Ok(this.buf.split().freeze())));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    if this.buf.is_empty() {
                        return Poll::Ready(None);
                    }
                    return Poll::Ready(Some(Ok(this.buf.split().freeze())));
                }
                Poll::Pending => {
                    if this.buf.is_empty() {
                        return Poll::Pending;
                    }
                    return Poll::Ready(Some(Ok(this.buf.split().freeze())));
                }
            }
        }
    }
}

/// Ends `inner` with [`StorageError::Timeout`] when a chunk takes longer than `idle` to come.
pub fn with_idle_timeout<S>(inner: S, idle: Duration, cid: &str) -> ByteStream
where
    S: Stream<Item = Result<Bytes, StorageError>> + Send + 'static,
{
    Box::pin(IdleTimeout {
        inner: Box::pin(inner),
        idle,
        timer: Box::pin(tokio::time::sleep(idle)),
        last_progress: tokio::time::Instant::now(),
        action: format!("read {cid}"),
        done: false,
    })
}

/// One timer per stream, re-armed lazily: a chunk only records the time, and the timer is
/// pushed back when it fires after progress, so fast streams do not touch the timer wheel
/// per chunk.
struct IdleTimeout {
    inner: Pin<Box<dyn Stream<Item = Result<Bytes, StorageError>> + Send>>,
    idle: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
    last_progress: tokio::time::Instant,
    action: String,
    done: bool,
}

impl Stream for IdleTimeout {
    type Item = Result<Bytes, StorageError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(item)) => {
                this.last_progress = tokio::time::Instant::now();
                if item.is_err() {
                    this.done = true;
                }
                return Poll::Ready(Some(item));
            }
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        loop {
            let deadline = this.last_progress + this.idle;
            if this.timer.deadline() < deadline {
                this.timer.as_mut().reset(deadline);
            }
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            if tokio::time::Instant::now() >= this.last_progress + this.idle {
                this.done = true;
                let action = std::mem::take(&mut this.action);
                return Poll::Ready(Some(Err(StorageError::Timeout { action, after: this.idle })));
            }
        }
    }
}

/// Passes `inner` through while hashing it, always holding back the latest chunk; at the end
/// the held chunk is released only if the sha-256 of everything equals `expected`, otherwise
/// the stream ends with [`StorageError::DigestMismatch`] one chunk short.
pub fn verify_digest(inner: ByteStream, cid: String, expected: B256) -> ByteStream {
    struct State {
        inner: ByteStream,
        hasher: Sha256,
        held: Option<Bytes>,
        cid: String,
        expected: B256,
        done: bool,
    }
    let state = State { inner, hasher: Sha256::new(), held: None, cid, expected, done: false };
    Box::pin(stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        loop {
            match state.inner.next().await {
                Some(Ok(chunk)) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    state.hasher.update(&chunk);
                    if let Some(previous) = state.held.replace(chunk) {
                        return Some((Ok(previous), state));
                    }
                }
                Some(Err(err)) => {
                    state.done = true;
                    return Some((Err(err), state));
                }
                None => {
                    state.done = true;
                    let actual = B256::from_slice(&std::mem::take(&mut state.hasher).finalize());
                    if actual != state.expected {
                        let err = StorageError::DigestMismatch {
                            cid: state.cid.clone(),
                            expected: state.expected,
                            actual,
                        };
                        return Some((Err(err), state));
                    }
                    return state.held.take().map(|last| (Ok(last), state));
                }
            }
        }
    }))
}

/// sha-256 and length of what a [`HashingReader`] has read, readable after the reader moved.
#[derive(Clone)]
pub struct DigestHandle(Arc<Mutex<(Sha256, u64)>>);

impl DigestHandle {
    /// The digest and byte count so far.
    pub fn finish(&self) -> (B256, u64) {
        let guard = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (B256::from_slice(&guard.0.clone().finalize()), guard.1)
    }
}

/// An [`AsyncRead`] that hashes what passes through and reports progress.
pub struct HashingReader<R> {
    inner: R,
    state: DigestHandle,
    progress: Option<Progress>,
}

impl<R> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R, progress: Option<Progress>) -> Self {
        Self { inner, state: DigestHandle(Arc::new(Mutex::new((Sha256::new(), 0)))), progress }
    }

    /// A handle to read the digest once the reader is done.
    pub fn digest_handle(&self) -> DigestHandle {
        self.state.clone()
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HashingReader<R> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let result = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = result {
            let new = &buf.filled()[before..];
            if !new.is_empty() {
                let total = {
                    let mut guard = this.state.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    guard.0.update(new);
                    guard.1 += new.len() as u64;
                    guard.1
                };
                if let Some(progress) = &this.progress {
                    progress(total);
                }
            }
        }
        result
    }
}

/// sha-256 of a byte slice, as the registry stores content digests.
pub fn sha256(data: &[u8]) -> B256 {
    B256::from_slice(&Sha256::digest(data))
}

/// Collects a stream into memory (for small content and tests).
pub async fn collect(mut stream: ByteStream) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stalled_stream_times_out_and_a_steady_one_does_not() {
        let idle = Duration::from_millis(50);
        let stalled = with_idle_timeout(stream::pending(), idle, "cid");
        assert!(matches!(collect(stalled).await, Err(StorageError::Timeout { .. })));

        // Chunks every 20 ms for 200 ms: never idle for 50 ms.
        let steady = stream::unfold(0u8, |n| async move {
            if n == 10 {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            Some((Ok(Bytes::from(vec![n])), n + 1))
        });
        assert_eq!(collect(with_idle_timeout(steady, idle, "cid")).await.unwrap().len(), 10);
    }

    #[tokio::test]
    async fn ready_chunks_merge_up_to_the_target_and_errors_come_after_the_data() {
        let chunks: Vec<Result<Bytes, StorageError>> = (0..10)
            .map(|n| Ok(Bytes::from(vec![n; 4])))
            .chain([Err(StorageError::Timeout { action: "x".into(), after: Duration::ZERO })])
            .collect();
        let mut merged = Coalesce::new(stream::iter(chunks), 12);
        let mut sizes = Vec::new();
        let mut failed = false;
        while let Some(item) = merged.next().await {
            match item {
                Ok(chunk) => sizes.push(chunk.len()),
                Err(_) => failed = true,
            }
        }
        assert_eq!(sizes, [12, 12, 12, 4]);
        assert!(failed);
    }

    #[tokio::test]
    async fn the_digest_check_passes_matching_content_whole() {
        let chunks: Vec<Result<Bytes, StorageError>> =
            vec![Ok(Bytes::from_static(b"hello ")), Ok(Bytes::new()), Ok(Bytes::from_static(b"world"))];
        let verified = verify_digest(Box::pin(stream::iter(chunks)), "cid".into(), sha256(b"hello world"));
        assert_eq!(collect(verified).await.unwrap(), b"hello world");
    }
}
