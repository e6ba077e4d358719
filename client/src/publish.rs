//! Publishing: a file, or a folder as a model (each file uploaded, then the manifest that lists
//! them), sealed under a fresh content key when the asset is priced or compute-only (unless the
//! publisher asks for it in the clear), then the metadata document, then the asset on chain.
//!
//! Two steps, so a caller can check what was uploaded before anything reaches the chain (the
//! CLI compares a derived asset's files with its job's output): [`upload`], then [`register`].

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use agora_contracts::{
    Agora,
    asset_registry::IAssetRegistry::PublishParams,
    words::{self, Units},
};
use agora_provider::{
    crypto::Encryption,
    jobs::{MAX_DOCUMENT_BYTES, ModelFile, ModelManifest, is_plain_file_name},
    metadata::{AssetMetadata, ContentRef},
    storage::{Added, Progress, Storage},
};
use agora_sandbox::{Limits, ModuleInfo, SandboxError, validate_module};
use alloy::primitives::{Address, B256, TxHash, U256};
use eyre::{Result, WrapErr, bail, eyre};
use serde_json::{Value, json};

use crate::keys::Sealing;

/// Progress of an upload: a line saying what is being uploaded, and the bytes read so far.
pub struct UploadProgress {
    /// Called with "uploading <name>" as each file starts.
    pub step: Box<dyn Fn(String) + Send + Sync>,
    /// Called with the bytes read so far, of the whole upload.
    pub bytes: Progress,
}

impl UploadProgress {
    /// Reports nothing.
    pub fn silent() -> Self {
        Self { step: Box::new(|_| {}), bytes: Arc::new(|_| {}) }
    }
}

/// What [`upload`] put on IPFS.
#[derive(Debug)]
pub struct Uploaded {
    /// The content (a folder's: its manifest): CID, and the plaintext's size and sha-256.
    pub added: Added,
    /// The content's header when it is sealed.
    pub encryption: Option<Encryption>,
    /// Each file with its length (a single file lists itself).
    pub listed: Vec<(ModelFile, u64)>,
}

impl Uploaded {
    /// The files as the metadata's `files` lists them.
    pub fn files(&self) -> Vec<Value> {
        self.listed
            .iter()
            .map(|(file, size)| json!({ "name": file.name, "cid": file.cid, "size": size, "sha256": file.sha256 }))
            .collect()
    }
}

/// Uploads `source` (read from `path`) to IPFS, sealed when `sealing` is given.
pub async fn upload(
    storage: &Storage,
    path: &Path,
    source: &Source,
    sealing: Option<&Sealing>,
    progress: &UploadProgress,
) -> Result<Uploaded> {
    match source {
        Source::File { name, size } => {
            (progress.step)(format!("uploading {name}"));
            let file = tokio::fs::File::open(path)
                .await
                .wrap_err_with(|| format!("cannot read {}", path.display()))?;
            let bytes = Some(progress.bytes.clone());
            let (added, encryption) = match sealing {
                None => (storage.add_reader(file, bytes).await?, None),
                Some(sealing) => sealing.add(storage, file, sealing.content_header(*size)?, bytes).await?,
            };
            check_size(path, added.size, *size)?;
            let file = ModelFile {
                name: name.clone(),
                cid: added.cid.clone(),
                sha256: added.sha256,
                encryption: None,
            };
            Ok(Uploaded { added, encryption, listed: vec![(file, *size)] })
        }
        Source::Folder { files, .. } => add_folder(storage, files, sealing, progress).await,
    }
}

/// The asset's on-chain terms and its metadata's fields beyond the content.
#[derive(Debug, Clone)]
pub struct Listing {
    /// The owner (and the split's default recipient).
    pub owner: Address,
    /// The asset kind's code (0 dataset, 1 model, 2 algorithm, …: `words::ASSET_KINDS`).
    pub kind: u8,
    /// Never downloaded, only computed on.
    pub compute_only: bool,
    /// Seconds an access order lasts; 0 for single use.
    pub access_duration: u32,
    /// The currency (address(0) for ETH).
    pub currency: Address,
    /// The unit price in base units.
    pub price: U256,
    /// Access tokens each address may claim for free.
    pub free_per_address: u8,
    /// The revenue split: recipients and basis points (empty: all to the owner).
    pub split: Vec<(Address, u16)>,
    /// The asset's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// Extra metadata fields (license, card, tags, sample, derivedFrom, …), as the caller
    /// checked them.
    pub extra: Vec<(&'static str, Value)>,
}

/// What an asset's metadata document says beside its content: every surface that publishes
/// (the CLI, Python, the hub's publish page) writes the document through [`Described::metadata`].
#[derive(Debug, Clone)]
pub struct Described {
    /// The asset's name.
    pub name: String,
    /// Its description.
    pub description: String,
    /// The asset kind's code (`words::ASSET_KINDS`).
    pub kind: u8,
    /// Never downloaded, only computed on.
    pub compute_only: bool,
    /// Extra fields (license, card, tags, sample, derivedFrom, …), as the caller checked them.
    pub extra: Vec<(&'static str, Value)>,
}

impl Described {
    /// The metadata document of `content`, whose files `files` lists (a single file lists
    /// itself): name and description, `kind`, the extra fields, `computeOnly` and `files`.
    pub fn metadata(self, content: ContentRef, files: Value) -> AssetMetadata {
        let mut extra = serde_json::Map::new();
        extra.insert("kind".into(), json!(words::asset_kind_name(self.kind)));
        for (key, value) in self.extra {
            extra.insert(key.to_owned(), value);
        }
        extra.insert("computeOnly".into(), json!(self.compute_only));
        extra.insert("files".into(), files);
        AssetMetadata { name: self.name, description: self.description, content, extra }
    }
}

/// An asset as [`register`] published it.
#[derive(Debug, Clone)]
pub struct Published {
    /// The new asset's id.
    pub asset_id: U256,
    /// Its access token.
    pub access_token: Address,
    /// The metadata document's CID.
    pub metadata_cid: String,
    /// The publishing transaction.
    pub tx_hash: TxHash,
    /// What the network's pinning services answered before the asset was minted.
    pub replicas: Vec<crate::pins::Replica>,
}

/// The network's pinning services to ask before minting, and who hears their answers.
pub type Replicate<'a> = (&'a crate::pins::Replication, &'a (dyn Fn(&[crate::pins::Replica]) + Send + Sync));

/// Writes the metadata document for `uploaded` to IPFS and publishes the asset on chain;
/// amounts in a revert's sentence are written in `units`. With `replicate`, the metadata and
/// content are first kept by enough of the network's pinning services ([`crate::pins::replicate`]);
/// when they are not, nothing goes on chain.
pub async fn register(
    agora: &Agora,
    storage: &Storage,
    source: &Source,
    uploaded: &Uploaded,
    listing: Listing,
    units: &Units,
    replicate: Option<Replicate<'_>>,
) -> Result<Published> {
    let price = u128::try_from(listing.price)
        .ok()
        .and_then(|price| alloy::primitives::aliases::U80::try_from(price).ok())
        .ok_or_else(|| {
            eyre!("price {} is above the largest the registry stores", units.format(listing.price))
        })?;
    let content = ContentRef {
        cid: uploaded.added.cid.clone(),
        size: uploaded.added.size,
        file_name: Some(source.content_file_name().to_owned()),
        encryption: uploaded.encryption.clone(),
    };
    let described = Described {
        name: listing.name,
        description: listing.description,
        kind: listing.kind,
        compute_only: listing.compute_only,
        extra: listing.extra,
    };
    let name = described.name.clone();
    let metadata = described.metadata(content, json!(uploaded.files()));
    let metadata_cid = storage.add_bytes(serde_json::to_vec_pretty(&metadata)?).await?.cid;
    let replicas = match replicate {
        Some((replication, progress)) => {
            let label = |what: &str| format!("{} ({what})", name.chars().take(200).collect::<String>());
            let cids =
                [(metadata_cid.clone(), label("metadata")), (uploaded.added.cid.clone(), label("content"))];
            crate::pins::replicate(storage, replication, &cids, progress).await.map_err(|err| {
                eyre!("{err}; nothing was published on chain (the content stays pinned on your Kubo)")
            })?
        }
        None => Vec::new(),
    };
    let (recipients, bps): (Vec<_>, Vec<_>) = listing.split.iter().copied().unzip();
    let published = agora
        .publish(PublishParams {
            owner: listing.owner,
            kind: listing.kind,
            computeOnly: listing.compute_only,
            accessDuration: listing.access_duration,
            contentDigest: uploaded.added.sha256,
            metadataCid: metadata_cid.clone(),
            currency: listing.currency,
            price,
            freePerAddress: listing.free_per_address,
            splitRecipients: recipients,
            splitBps: bps,
        })
        .await
        .map_err(|err| crate::Error::contract(err, units))?;
    Ok(Published {
        asset_id: published.asset_id,
        access_token: published.access_token,
        metadata_cid,
        tx_hash: published.tx_hash,
        replicas,
    })
}

/// `address:bps` shares, sorted by address as the splitter requires; they must sum to 10000.
pub fn parse_splits(specs: &[String]) -> Result<Vec<(Address, u16)>> {
    let mut shares = Vec::with_capacity(specs.len());
    for spec in specs {
        let malformed = || eyre!("malformed split {spec:?}: expected ADDRESS:BPS, e.g. 0xA11c…:7000");
        let (address, bps) = spec.split_once(':').ok_or_else(malformed)?;
        let address: Address = address.trim().parse().map_err(|_| malformed())?;
        let bps: u16 = bps.trim().parse().map_err(|_| malformed())?;
        if bps == 0 || address.is_zero() {
            bail!("split {spec:?}: the address must not be zero and the share at least 1 bps");
        }
        shares.push((address, bps));
    }
    shares.sort();
    if let Some(pair) = shares.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        bail!("the split names {} twice", pair[0].0);
    }
    let sum: u32 = shares.iter().map(|(_, bps)| u32::from(*bps)).sum();
    if !shares.is_empty() && sum != 10_000 {
        bail!("the split's shares sum to {sum} bps; they must sum to 10000");
    }
    Ok(shares)
}

/// Reads the module at `path` and checks that the sandbox can run it, before anything is
/// uploaded or sent to the chain; compiling it can take seconds, so off the async threads.
pub async fn check_algorithm(path: &Path) -> Result<ModuleInfo> {
    let refuse = |reason: &dyn std::fmt::Display| {
        eyre!("{} is not an algorithm the sandbox can run: {reason}", path.display())
    };
    let meta = std::fs::metadata(path).map_err(|err| eyre!("cannot read {}: {err}", path.display()))?;
    if meta.is_dir() {
        return Err(refuse(
            &"it is a folder, and an algorithm is one WebAssembly module file (WASI preview 1; \
              `agora algorithm new` starts one)",
        ));
    }
    if !meta.is_file() {
        return Err(refuse(&"it is not a regular file"));
    }
    let (size, limit) = (meta.len(), Limits::default().max_module_bytes);
    if size > limit {
        return Err(refuse(&SandboxError::ModuleTooLarge { size, limit }));
    }
    let bytes = tokio::fs::read(path).await.wrap_err_with(|| format!("cannot read {}", path.display()))?;
    tokio::task::spawn_blocking(move || validate_module(&bytes))
        .await
        .wrap_err("checking the module failed")?
        .map_err(|err| refuse(&err))
}

/// Refuses content that changed size while it was read.
fn check_size(path: &Path, read: u64, expected: u64) -> Result<()> {
    if read != expected {
        bail!("{} changed while it was uploaded ({read} bytes, was {expected})", path.display());
    }
    Ok(())
}

/// What `asset publish` uploads: one file as it is, or a model folder whose files are listed,
/// each with its CID and sha-256, in a [`ModelManifest`] that becomes the asset's content.
#[derive(Debug)]
pub enum Source {
    /// A single file.
    File {
        /// Its file name.
        name: String,
        /// Its length.
        size: u64,
    },
    /// A folder's regular files, sorted by name.
    Folder {
        /// The folder's name.
        name: String,
        /// Its files.
        files: Vec<FolderFile>,
    },
}

/// One regular file of a model folder.
#[derive(Debug, PartialEq, Eq)]
pub struct FolderFile {
    /// Its plain file name, as the manifest lists it.
    pub name: String,
    /// Where it is.
    pub path: PathBuf,
    /// Its length.
    pub size: u64,
}

/// The file name a folder's manifest is downloaded as.
pub const MANIFEST_FILE_NAME: &str = "manifest.json";

/// An upper bound on the length of the CIDs Kubo returns (CIDv1, base32, sha-256: 59 characters).
const CID_LENGTH_BOUND: usize = 64;

impl Source {
    /// Reads what is at `path`; a folder must hold only regular files with plain names, which
    /// is what a flat manifest can describe and what a provider will fetch into a model folder.
    pub fn read(path: &Path) -> Result<Self> {
        let meta = std::fs::metadata(path).map_err(|err| eyre!("cannot read {}: {err}", path.display()))?;
        // `.` and `..` have no file name of their own: take the folder's.
        let name = path
            .file_name()
            .map(ToOwned::to_owned)
            .or_else(|| std::fs::canonicalize(path).ok()?.file_name().map(ToOwned::to_owned))
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if meta.is_file() {
            return Ok(Self::File { name, size: meta.len() });
        }
        if !meta.is_dir() {
            bail!("{} is neither a file nor a folder", path.display());
        }
        Ok(Self::Folder { name, files: model_folder(path)? })
    }

    /// Bytes uploaded (a folder's: its files', without the manifest).
    pub fn size(&self) -> u64 {
        match self {
            Self::File { size, .. } => *size,
            Self::Folder { files, .. } => files.iter().map(|f| f.size).sum(),
        }
    }

    /// The default asset name.
    pub fn name(&self) -> &str {
        match self {
            Self::File { name, .. } | Self::Folder { name, .. } => name,
        }
    }

    /// The content's file name in the metadata.
    pub fn content_file_name(&self) -> &str {
        match self {
            Self::File { name, .. } => name,
            Self::Folder { .. } => MANIFEST_FILE_NAME,
        }
    }
}

/// The regular files of `dir`, sorted by name. Refuses, naming the entry, what a flat
/// [`ModelManifest`] cannot hold: subfolders, symbolic links, special files and names that
/// [`is_plain_file_name`] rejects (hidden files included); and an empty folder, or one with
/// more files than a provider's manifest limit takes.
fn model_folder(dir: &Path) -> Result<Vec<FolderFile>> {
    let unreadable = |err: std::io::Error| eyre!("cannot read {}: {err}", dir.display());
    let mut entries =
        std::fs::read_dir(dir).map_err(unreadable)?.collect::<Result<Vec<_>, _>>().map_err(unreadable)?;
    entries.sort_by_key(std::fs::DirEntry::file_name);
    let mut files = Vec::with_capacity(entries.len());
    for entry in entries {
        let path = entry.path();
        // `file_type` does not follow symbolic links.
        let file_type = entry.file_type().map_err(|err| eyre!("cannot read {}: {err}", path.display()))?;
        if file_type.is_symlink() {
            bail!(
                "{} is a symbolic link: a model folder is published with regular files only (copy the file in instead)",
                path.display()
            );
        }
        if file_type.is_dir() {
            bail!(
                "{} is a subfolder: a model manifest lists the files of one folder, without subfolders (move or remove it)",
                path.display()
            );
        }
        if !file_type.is_file() {
            bail!("{} is not a regular file", path.display());
        }
        let Some(name) =
            entry.file_name().to_str().filter(|name| is_plain_file_name(name)).map(str::to_owned)
        else {
            bail!(
                "{} is not a plain file name (ASCII letters, digits, '.', '_' and '-', no leading dot): rename or remove it",
                path.display()
            );
        };
        let size = entry.metadata().map_err(|err| eyre!("cannot read {}: {err}", path.display()))?.len();
        files.push(FolderFile { name, path, size });
    }
    if files.is_empty() {
        bail!("{} is empty: a model folder needs at least one file", dir.display());
    }
    let bound = ModelManifest {
        files: files
            .iter()
            .map(|f| ModelFile {
                name: f.name.clone(),
                cid: "b".repeat(CID_LENGTH_BOUND),
                sha256: B256::ZERO,
                // A sealed file's header: the bound holds for private models too.
                encryption: Some(Encryption::new(u64::MAX)),
            })
            .collect(),
    };
    if serde_json::to_vec_pretty(&bound)?.len() > MAX_DOCUMENT_BYTES {
        bail!(
            "{} holds {} files: their manifest would exceed the {MAX_DOCUMENT_BYTES} bytes a provider reads",
            dir.display(),
            files.len()
        );
    }
    Ok(files)
}

/// Adds each file to IPFS (`progress` counts the bytes of them all), then their
/// [`ModelManifest`]: the manifest's CID, size and sha-256 (the asset's content) with its header
/// when it is sealed, and each file as listed with its size. With `sealing`, each file is sealed
/// under a header of its own, listed in the manifest, and the manifest is sealed as the content.
async fn add_folder(
    storage: &Storage,
    files: &[FolderFile],
    sealing: Option<&Sealing>,
    progress: &UploadProgress,
) -> Result<Uploaded> {
    let mut listed = Vec::with_capacity(files.len());
    let mut done = 0;
    for (index, file) in files.iter().enumerate() {
        (progress.step)(format!("uploading {} ({}/{})", file.name, index + 1, files.len()));
        let bytes = progress.bytes.clone();
        let offset = done;
        let bytes: Progress = Arc::new(move |read| bytes(offset + read));
        let reader = tokio::fs::File::open(&file.path)
            .await
            .wrap_err_with(|| format!("cannot read {}", file.path.display()))?;
        let (added, encryption) = match sealing {
            None => (storage.add_reader(reader, Some(bytes)).await?, None),
            Some(sealing) => sealing.add(storage, reader, Encryption::new(file.size), Some(bytes)).await?,
        };
        check_size(&file.path, added.size, file.size)?;
        done += added.size;
        listed.push((
            ModelFile { name: file.name.clone(), cid: added.cid, sha256: added.sha256, encryption },
            added.size,
        ));
    }
    (progress.step)("uploading the manifest".into());
    let manifest = ModelManifest { files: listed.iter().map(|(file, _)| file.clone()).collect() };
    let manifest = serde_json::to_vec_pretty(&manifest)?;
    let (added, encryption) = match sealing {
        None => (storage.add_bytes(manifest).await?, None),
        Some(sealing) => {
            let header = sealing.content_header(manifest.len() as u64)?;
            sealing.add(storage, std::io::Cursor::new(manifest), header, None).await?
        }
    };
    Ok(Uploaded { added, encryption, listed })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_are_sorted_checked_and_refused_when_malformed() {
        let a = "0x00000000000000000000000000000000000000aa";
        let b = "0x00000000000000000000000000000000000000bb";
        let shares = parse_splits(&[format!("{b}:3000"), format!("{a}:7000")]).unwrap();
        assert_eq!(shares, [(a.parse().unwrap(), 7000), (b.parse().unwrap(), 3000)]);
        assert!(parse_splits(&[]).unwrap().is_empty());
        for bad in [format!("{a}=7000"), "nobody:10000".into(), format!("{a}:lots")] {
            assert!(parse_splits(&[bad]).unwrap_err().to_string().starts_with("malformed split"));
        }
        let err = parse_splits(&[format!("{a}:7000"), format!("{b}:2000")]).unwrap_err();
        assert!(err.to_string().contains("sum to 9000 bps"));
        assert!(parse_splits(&[format!("{a}:5000"), format!("{a}:5000")]).is_err());
    }

    #[test]
    fn a_model_folder_lists_its_plain_files_by_name_and_refuses_what_a_manifest_cannot_hold() {
        let dir = tempfile::tempdir().unwrap();
        let refusal = |dir: &Path| model_folder(dir).unwrap_err().to_string();
        assert!(refusal(dir.path()).ends_with("is empty: a model folder needs at least one file"));
        std::fs::write(dir.path().join("tokenizer.json"), b"{}").unwrap();
        std::fs::write(dir.path().join("config.json"), b"{\"a\":1}").unwrap();
        let files = model_folder(dir.path()).unwrap();
        let names: Vec<_> = files.iter().map(|f| (f.name.as_str(), f.size)).collect();
        assert_eq!(names, [("config.json", 7), ("tokenizer.json", 2)]);

        std::fs::create_dir(dir.path().join("1_Pooling")).unwrap();
        assert!(refusal(dir.path()).contains("1_Pooling is a subfolder"));
        std::fs::remove_dir(dir.path().join("1_Pooling")).unwrap();
        std::os::unix::fs::symlink("config.json", dir.path().join("link.json")).unwrap();
        assert!(refusal(dir.path()).contains("link.json is a symbolic link"));
        std::fs::remove_file(dir.path().join("link.json")).unwrap();
        for bad in [".source", "weights (1).bin"] {
            std::fs::write(dir.path().join(bad), b"x").unwrap();
            assert!(refusal(dir.path()).contains("is not a plain file name"), "{bad}");
            std::fs::remove_file(dir.path().join(bad)).unwrap();
        }
        for i in 0..400 {
            std::fs::write(dir.path().join(format!("shard-{i:04}.bin")), b"x").unwrap();
        }
        assert!(refusal(dir.path()).contains("holds 402 files: their manifest would exceed"));
    }
}
