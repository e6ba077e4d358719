//! Publishing from the browser, as `agora asset publish` does: the page (`GET /publish`) picks a
//! file or a model's folder, seals it in the browser when it is priced or compute-only (the CLI's
//! scheme: a fresh content key, ChaCha20-Poly1305 STREAM, the key wrapped with ECIES for the
//! owner and the providers [`key_holders`] names), uploads what IPFS is to hold through the hub
//! ([`upload`]), has the hub write the metadata document in the CLI's format ([`metadata`],
//! through [`agora_client::publish::Described`]), then sends `AssetRegistry.publish` from the
//! wallet. An owner's new metadata version goes through [`metadata`] too.
//!
//! Uploads are off unless the operator allows them (`agora hub --max-upload-mib`): the hub then pins
//! what anyone sends, up to that size, on its Kubo node.

use std::time::Duration;

use agora_api::{ComputeProvider, ListQuery};
use agora_client::{card, publish::Described};
use agora_contracts::words;
use agora_provider::{
    crypto::SCHEME,
    jobs::is_plain_file_name,
    metadata::{self as doc, AssetMetadata, ContentRef, MAX_METADATA_BYTES},
};
use alloy::primitives::{Address, B256, hex};
use axum::{
    Json,
    body::Body,
    extract::{State, rejection::JsonRejection},
    http::{HeaderMap, StatusCode, header},
};
use futures::{SinkExt, StreamExt, channel::mpsc};
use maud::{Markup, html};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{
    Hub,
    api::ApiError,
    format,
    layout::{Head, PageError, page},
};

/// Longest a name, a description and a license may be, in characters.
const MAX_NAME_CHARS: usize = 200;
const MAX_DESCRIPTION_CHARS: usize = 5000;
const MAX_LICENSE_CHARS: usize = 64;
/// Most files a model folder published from the page may hold.
const MAX_FILES: usize = 256;
/// Longest an upload may go without a byte arriving before the hub gives up on it.
const UPLOAD_IDLE: Duration = Duration::from_secs(30);
/// Longest a provider's `/v1/info` may take when the page asks who can hold a key.
const INFO_TIMEOUT: Duration = Duration::from_secs(5);
/// Asset kinds the page publishes: an algorithm is a WebAssembly module the CLI checks first.
const PAGE_KINDS: [&str; 4] = ["dataset", "model", "app", "notebook"];

/// `GET /publish`: the form; the wallet script does the rest.
pub(crate) async fn page_view(State(hub): State<Hub>) -> Result<Markup, PageError> {
    let providers = hub.api().providers(&ListQuery::page(None, 100)).await?;
    let providers: Vec<&ComputeProvider> = providers.items.iter().filter(|p| p.active).collect();
    let currencies = hub.api().currencies().await?;
    let uploads = hub.max_upload() > 0 && hub.ipfs().is_some();
    let body = html! {
        h1 { "Publish an asset" }
        p.lead { "Your file or model folder goes to IPFS, its metadata with it, and the asset is minted to your wallet as an NFT with its own access token. Priced and compute-only content is encrypted in this browser before it leaves it: IPFS holds ciphertext only, and the key is wrapped for you and the providers you trust, exactly as " code { "agora asset publish" } " does." }
        @if !uploads {
            p.empty #publish-off { "This hub does not take uploads (its operator enables them with " code { "agora hub --max-upload-mib N --ipfs-api URL" } "). Publish with the CLI: " code { "agora asset publish FILE --kind dataset --price 0.01" } }
        } @else {
            form #publish-form.panel data-max-upload=(hub.max_upload()) {
                fieldset {
                    legend { "Content" }
                    label for="publish-file" { "A file" }
                    input #publish-file type="file" name="file";
                    label for="publish-folder" { "…or a model's folder (its files, no subfolders)" }
                    input #publish-folder type="file" name="folder" webkitdirectory multiple;
                    p #publish-picked.hint role="status" { "Nothing chosen yet." }
                }
                fieldset {
                    legend { "Description" }
                    label for="publish-kind" { "Kind" }
                    select #publish-kind name="kind" { @for kind in PAGE_KINDS { option value=(kind) { (kind) } } }
                    p.hint { "An algorithm is a WebAssembly module: publish it with " code { "agora asset publish ./algo.wasm --kind algorithm" } ", which checks the module first." }
                    label for="publish-name" { "Name" }
                    input #publish-name name="name" maxlength=(MAX_NAME_CHARS) placeholder="the file's or folder's name";
                    label for="publish-description" { "Description" }
                    textarea #publish-description name="description" rows="2" maxlength=(MAX_DESCRIPTION_CHARS) {}
                    label for="publish-license" { "License (SPDX id)" }
                    input #publish-license name="license" list="licenses" maxlength=(MAX_LICENSE_CHARS) placeholder="CC-BY-4.0";
                    datalist #licenses { @for id in ["CC-BY-4.0", "CC-BY-SA-4.0", "CC0-1.0", "MIT", "Apache-2.0", "ODbL-1.0", "proprietary"] { option value=(id) {} } }
                    label for="publish-tags" { "Tags (comma-separated: lowercase letters, digits, '-')" }
                    input #publish-tags name="tags" placeholder="birdsong, audio";
                    div.card-editor {
                        div {
                            label for="publish-card" { "Card (Markdown: what it is, how it was made, how to use it)" }
                            textarea #publish-card name="card" rows="10" maxlength=(card::MAX_CARD_BYTES) {}
                        }
                        div {
                            p.label { "Preview" }
                            div #publish-preview.card.preview aria-live="polite" { p.hint { "The card as the asset page will show it." } }
                        }
                    }
                }
                fieldset {
                    legend { "Terms" }
                    label for="publish-price" { "Price of one access token" }
                    div.inline {
                        input #publish-price name="price" inputmode="decimal" value="0" required;
                        select #publish-currency name="currency" aria-label="Currency" {
                            @for c in currencies.items.iter().filter(|c| c.allowed) {
                                option value=(c.currency) data-decimals=(c.decimals) data-symbol=(c.symbol) { (c.symbol) }
                            }
                        }
                    }
                    label for="publish-free" { "Free access tokens per address" }
                    input #publish-free name="free" type="number" min="0" max="255" value="0";
                    label for="publish-duration" { "Seconds an access order lasts (0: each token is used once)" }
                    input #publish-duration name="duration" type="number" min="0" max="4294967295" value="0";
                    label.check { input #publish-compute-only type="checkbox" name="computeOnly"; " Compute-only: the content never leaves a provider, it can only be computed on" }
                    label.check { input #publish-private type="checkbox" name="private"; " Encrypt it even though it is free" }
                    label.check { input #publish-public type="checkbox" name="public"; " Put priced content on IPFS in the clear (anyone could then read it without buying)" }
                    p #publish-sealing.hint role="status" {}
                }
                fieldset #publish-holders {
                    legend { "Who holds the content key" }
                    p.hint { "You always hold a copy (your wallet signs a message once so the page can read your public key). Providers you tick can serve and compute on it." }
                    @if providers.is_empty() {
                        p.empty { "No provider is active: only you will hold the key until you share it with " code { "agora asset share ID --provider URL" } "." }
                    }
                    @for p in &providers {
                        label.check {
                            input type="checkbox" name="holder" value=(p.provider.to_ascii_lowercase()) checked;
                            " " (format::short(&p.provider)) " — " (p.endpoint)
                        }
                    }
                }
                fieldset #publish-split {
                    legend { "Revenue split" }
                    p.hint { "Leave it empty to receive all of it; otherwise the shares must add up to 100 %." }
                    table #publish-split-rows { thead { tr { th { "Recipient" } th { "Share (%)" } th {} } } tbody {} }
                    button #publish-split-add type="button" { "Add a recipient" }
                    p #publish-split-sum.hint role="status" {}
                }
                div.actions { button #publish-submit type="submit" disabled { "Publish" } }
                progress #publish-progress hidden max="1" value="0" {}
                p #publish-state.state role="status" {}
                noscript { p.warn { "Publishing from the page needs JavaScript and a browser wallet. With the CLI: "
                    code { "agora asset publish FILE --kind dataset --price 0.01" } } }
            }
        }
    };
    let head = Head {
        scripts: &[crate::assets::WALLET_JS_PATH],
        ..Head::new("Publish an asset", "Publish a dataset or a model on Agora from your browser wallet.")
    };
    Ok(page(head, None, body))
}

/// What `POST /api/uploads` answers: where IPFS holds the bytes sent, how many, their sha-256.
#[derive(Debug, Serialize)]
pub(crate) struct Uploaded {
    cid: String,
    size: u64,
    sha256: B256,
}

/// `POST /api/uploads`: the request body, as it is (the page sends ciphertext for sealed
/// content), added and pinned on the hub's Kubo node. At most `--max-upload-mib`; a body that
/// stalls for [`UPLOAD_IDLE`] is dropped. Nothing is pinned when the upload fails.
pub(crate) async fn upload(
    State(hub): State<Hub>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<Uploaded>), ApiError> {
    let limit = hub.max_upload();
    let ipfs = match hub.ipfs() {
        Some(ipfs) if limit > 0 => ipfs,
        _ => return Err(ApiError::Unavailable("this hub does not take uploads".into())),
    };
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(ApiError::TooLarge(limit));
    }
    let _permit = hub.upload_permit().await;
    // Kubo's client reads a `Sync` reader: the body is forwarded through a channel, counted and
    // cut at the limit or when it stalls.
    let (mut sender, receiver) = mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    let forward = tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let mut read = 0u64;
        let cut = loop {
            let chunk = match tokio::time::timeout(UPLOAD_IDLE, stream.next()).await {
                Err(_) => break UploadCut::Stalled,
                Ok(None) => return Ok(()),
                Ok(Some(Err(err))) => break UploadCut::Broken(err.to_string()),
                Ok(Some(Ok(chunk))) => chunk,
            };
            read += chunk.len() as u64;
            if read > limit {
                break UploadCut::TooLarge;
            }
            if sender.send(Ok(chunk)).await.is_err() {
                return Ok(());
            }
        };
        // An error, not the end of the stream: Kubo's add fails, so nothing partial is pinned.
        let _ = sender.send(Err(std::io::Error::other("the upload was cut off"))).await;
        Err(cut)
    });
    let reader = tokio_util::io::StreamReader::new(receiver);
    let added = ipfs.add_reader(reader, None).await;
    let cut = forward.await.unwrap_or(Err(UploadCut::Broken("the upload task failed".into())));
    match (cut, added) {
        (Err(UploadCut::TooLarge), _) => Err(ApiError::TooLarge(limit)),
        (Err(UploadCut::Stalled), _) => {
            Err(ApiError::BadRequest(format!("the upload stalled for {} s", UPLOAD_IDLE.as_secs())))
        }
        (Err(UploadCut::Broken(why)), _) => Err(ApiError::BadRequest(format!("the upload broke off: {why}"))),
        (Ok(()), Err(err)) => Err(ApiError::Ipfs(err.to_string())),
        (Ok(()), Ok(added)) => Ok((
            StatusCode::CREATED,
            Json(Uploaded { cid: added.cid, size: added.size, sha256: added.sha256 }),
        )),
    }
}

/// Why an upload's body stopped before its end.
enum UploadCut {
    TooLarge,
    Stalled,
    Broken(String),
}

/// One provider the page may wrap a content key for.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KeyHolder {
    provider: String,
    endpoint: String,
    /// Its uncompressed secp256k1 public key, 0x-hex; null when it could not be read.
    public_key: Option<String>,
    /// Why not.
    error: Option<String>,
}

/// `GET /api/key-holders`: every active provider with the public key its `/v1/info` gives,
/// checked to be the key of the address it registered with (so a provider cannot name someone
/// else's key), and its scheme the page's.
pub(crate) async fn key_holders(State(hub): State<Hub>) -> Result<Json<Vec<KeyHolder>>, ApiError> {
    let all = ListQuery::page(None, 100);
    let (providers, status) = tokio::try_join!(hub.api().providers(&all), hub.api().status(),)
        .map_err(|err| ApiError::Indexer(err.to_string()))?;
    let active = providers.items.into_iter().filter(|p| p.active);
    let holders = futures::future::join_all(active.map(|p| {
        let hub = hub.clone();
        async move {
            let key = provider_key(&hub, &p, status.chain_id).await;
            let (public_key, error) = match key {
                Ok(key) => (Some(hex::encode_prefixed(key)), None),
                Err(err) => (None, Some(err)),
            };
            KeyHolder { provider: p.provider, endpoint: p.endpoint, public_key, error }
        }
    }))
    .await;
    Ok(Json(holders))
}

async fn provider_key(hub: &Hub, provider: &ComputeProvider, chain_id: u64) -> Result<Vec<u8>, String> {
    let address: Address = provider.provider.parse().map_err(|_| "not an address".to_owned())?;
    let info = tokio::time::timeout(
        INFO_TIMEOUT,
        agora_client::provider::info(hub.http(), &provider.endpoint, chain_id),
    )
    .await
    .map_err(|_| format!("{} did not answer within {} s", provider.endpoint, INFO_TIMEOUT.as_secs()))?
    .map_err(|err| err.to_string())?;
    if info.scheme != SCHEME {
        return Err(format!("it decrypts {:?}, not {SCHEME:?}", info.scheme));
    }
    let key = info.public_key;
    let derived = (key.len() == 65 && key[0] == 4).then(|| Address::from_raw_public_key(&key[1..]));
    if derived != Some(address) || info.address != address {
        return Err(format!("its /v1/info names a key that is not {address}'s"));
    }
    Ok(key)
}

/// `POST /api/metadata` body: a new asset's document, or (with `assetId`) a new version of an
/// asset's document, whose content, kind, files and the rest stay as they are.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct MetadataRequest {
    /// A new version of this asset's document (decimal id).
    asset_id: Option<String>,
    name: String,
    #[serde(default)]
    description: String,
    /// New documents only: an asset kind's name.
    kind: Option<String>,
    license: Option<String>,
    card: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    /// New documents only.
    #[serde(default)]
    compute_only: bool,
    /// New documents only: the content as uploaded.
    content: Option<ContentRef>,
    /// New documents only: the files, as the metadata lists them.
    files: Option<Vec<ListedFile>>,
}

/// One file of the content, as the metadata's `files` lists it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ListedFile {
    name: String,
    cid: String,
    size: u64,
    sha256: B256,
}

/// What `/api/metadata` answers: the document's CID, and the content digest the transaction names.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Written {
    cid: String,
    /// For a new version: the asset's content digest on chain, which the version keeps.
    content_digest: Option<String>,
    /// What the network's pinning services answered for a new asset (none without them).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    replicas: Vec<agora_client::pins::Replica>,
}

/// `POST /api/metadata`: checks the fields as the CLI does and writes the document to IPFS.
pub(crate) async fn metadata(
    State(hub): State<Hub>,
    body: Result<Json<MetadataRequest>, JsonRejection>,
) -> Result<(StatusCode, Json<Written>), ApiError> {
    let Json(request) = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    let ipfs = hub.ipfs().ok_or(ApiError::NoIpfs)?;
    let fields = checked_fields(&request)?;
    let (document, content_digest) = match &request.asset_id {
        Some(id) => {
            if request.kind.is_some()
                || request.content.is_some()
                || request.files.is_some()
                || request.compute_only
            {
                return Err(ApiError::BadRequest(
                    "a new version keeps the asset's kind, content and files: send only its name, description, license, card and tags".into(),
                ));
            }
            let (mut current, digest) = current_document(&hub, id).await?;
            current.name = fields.name;
            current.description = fields.description;
            for key in ["license", doc::CARD, doc::TAGS] {
                current.extra.remove(key);
            }
            for (key, value) in fields.extra {
                current.extra.insert(key.to_owned(), value);
            }
            (current, Some(digest))
        }
        None => (new_document(&request, fields)?, None),
    };
    let bytes = serde_json::to_vec_pretty(&document).unwrap_or_default();
    if bytes.len() > MAX_METADATA_BYTES {
        return Err(ApiError::BadRequest(format!(
            "the document would be {} bytes; a provider reads at most {MAX_METADATA_BYTES}",
            bytes.len()
        )));
    }
    let added = ipfs.add_bytes(bytes).await.map_err(|err| ApiError::Ipfs(err.to_string()))?;
    // The document and its content are kept by the network's pinning services before the
    // wallet is asked to mint the asset or send the new version, as the CLI does.
    let replicas = match hub.replication() {
        Some(replication) => {
            let label =
                |what: &str| format!("{} ({what})", document.name.chars().take(200).collect::<String>());
            let cids =
                [(added.cid.clone(), label("metadata")), (document.content.cid.clone(), label("content"))];
            agora_client::pins::replicate(ipfs, replication, &cids, &|_| {})
                .await
                .map_err(|err| ApiError::Pinning(err.to_string()))?
        }
        None => Vec::new(),
    };
    Ok((StatusCode::CREATED, Json(Written { cid: added.cid, content_digest, replicas })))
}

/// The name, description and extra fields of a request, checked.
struct Fields {
    name: String,
    description: String,
    extra: Vec<(&'static str, Value)>,
}

fn checked_fields(request: &MetadataRequest) -> Result<Fields, ApiError> {
    let bad = |message: String| ApiError::BadRequest(message);
    let printable = |text: &str| text.chars().all(|c| !c.is_control() || c == '\n' || c == '\t');
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.contains('\n') || !printable(name) {
        return Err(bad(format!("the name must be 1 to {MAX_NAME_CHARS} printable characters on one line")));
    }
    let description = request.description.trim();
    if description.chars().count() > MAX_DESCRIPTION_CHARS || !printable(description) {
        return Err(bad(format!(
            "the description must be at most {MAX_DESCRIPTION_CHARS} printable characters"
        )));
    }
    let mut extra = Vec::new();
    if let Some(license) = request.license.as_deref().map(str::trim).filter(|l| !l.is_empty()) {
        let valid = license.chars().count() <= MAX_LICENSE_CHARS
            && license
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+' | ' ' | '(' | ')'));
        if !valid {
            return Err(bad(format!(
                "the license must be an SPDX id or expression (letters, digits, '.', '-', '+'), at most {MAX_LICENSE_CHARS} characters"
            )));
        }
        extra.push(("license", json!(license)));
    }
    if let Some(text) = request.card.as_deref().filter(|card| !card.trim().is_empty()) {
        card::check_card(text).map_err(|err| bad(err.to_string()))?;
        if !printable(text) {
            return Err(bad("the card holds control characters".into()));
        }
        extra.push((doc::CARD, json!(text)));
    }
    let tags = card::check_tags(&request.tags).map_err(|err| bad(err.to_string()))?;
    if !tags.is_empty() {
        extra.push((doc::TAGS, json!(tags)));
    }
    Ok(Fields { name: name.to_owned(), description: description.to_owned(), extra })
}

/// A new asset's document from the page's request, its content checked as the CLI writes it.
fn new_document(request: &MetadataRequest, fields: Fields) -> Result<AssetMetadata, ApiError> {
    let bad = |message: String| ApiError::BadRequest(message);
    let kind = request.kind.as_deref().ok_or_else(|| bad("`kind` is missing".into()))?;
    if !PAGE_KINDS.contains(&kind) {
        return Err(bad(format!(
            "`kind` must be one of {} (an algorithm is published with `agora asset publish FILE.wasm --kind algorithm`, which checks the module first)",
            PAGE_KINDS.join(", ")
        )));
    }
    let kind = words::asset_kind_code(kind).ok_or_else(|| bad(format!("unknown kind {kind:?}")))?;
    let content = request.content.clone().ok_or_else(|| bad("`content` is missing".into()))?;
    check_cid(&content.cid).map_err(|why| bad(format!("content: {why}")))?;
    if let Some(name) = &content.file_name
        && (name.is_empty()
            || name.len() > 255
            || name.contains(['/', '\\'])
            || name.chars().any(char::is_control))
    {
        return Err(bad("content: `fileName` must be a file name without a path".into()));
    }
    match &content.encryption {
        Some(header) => {
            header.validate().map_err(|err| bad(format!("content: {err}")))?;
            if header.wrapped_keys.is_empty() {
                return Err(bad(
                    "content: the key is wrapped for nobody, so nobody could ever read it".into()
                ));
            }
            if header.plaintext_size != content.size {
                return Err(bad("content: `size` is not the sealed plaintext's".into()));
            }
        }
        None if request.compute_only => {
            return Err(bad(
                "compute-only content must be encrypted: in the clear on IPFS anyone can read it".into(),
            ));
        }
        None => {}
    }
    let files = request.files.clone().ok_or_else(|| bad("`files` is missing".into()))?;
    if files.is_empty() || files.len() > MAX_FILES {
        return Err(bad(format!("`files` lists 1 to {MAX_FILES} files")));
    }
    for file in &files {
        check_cid(&file.cid).map_err(|why| bad(format!("file {:?}: {why}", file.name)))?;
        if files.len() > 1 && !is_plain_file_name(&file.name) {
            return Err(bad(format!(
                "file {:?}: a model folder's files have plain names (ASCII letters, digits, '.', '_' and '-', no leading dot)",
                file.name
            )));
        }
    }
    let described = Described {
        name: fields.name,
        description: fields.description,
        kind,
        compute_only: request.compute_only,
        extra: fields.extra,
    };
    Ok(described.metadata(content, json!(files)))
}

/// A CID as Kubo writes them: base32 (CIDv1) or base58 (CIDv0), nothing else.
fn check_cid(cid: &str) -> Result<(), String> {
    let valid = (2..=100).contains(&cid.len()) && cid.bytes().all(|b| b.is_ascii_alphanumeric());
    if valid { Ok(()) } else { Err(format!("{cid:?} is not a CID")) }
}

/// The asset's current document, from IPFS by the CID the indexer has, and its content digest.
async fn current_document(hub: &Hub, id: &str) -> Result<(AssetMetadata, String), ApiError> {
    if id.is_empty() || id.len() > 78 || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::BadRequest("`assetId` must be an asset id in decimal digits".into()));
    }
    let asset = match hub.api().asset(id).await {
        Ok(detail) => detail.asset,
        Err(agora_api::ClientError::Api { status: 404, .. }) => {
            return Err(ApiError::BadRequest(format!("there is no asset {id}")));
        }
        Err(err) => return Err(ApiError::Indexer(err.to_string())),
    };
    let ipfs = hub.ipfs().ok_or(ApiError::NoIpfs)?;
    let bytes = ipfs
        .cat_to_vec(&asset.metadata_cid, MAX_METADATA_BYTES)
        .await
        .map_err(|err| ApiError::Ipfs(err.to_string()))?;
    let current: AssetMetadata = serde_json::from_slice(&bytes).map_err(|err| {
        ApiError::BadRequest(format!("asset {id}'s current document is not one this hub can edit: {err}"))
    })?;
    Ok((current, asset.content_digest))
}

/// `POST /api/markdown` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct MarkdownRequest {
    markdown: String,
}

/// `POST /api/markdown`: a card rendered as the asset page renders it (sanitized HTML), for the
/// editor's live preview.
pub(crate) async fn markdown(
    body: Result<Json<MarkdownRequest>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let Json(request) = body.map_err(|rejection| ApiError::BadRequest(rejection.body_text()))?;
    card::check_card(&request.markdown).map_err(|err| ApiError::BadRequest(err.to_string()))?;
    Ok(Json(json!({ "html": crate::markdown::render(&request.markdown) })))
}
