//! Writing a job's output files and hashing them.
//!
//! The output hash is SHA-256 over the `sha256sum` listing of the output files sorted by
//! name (bytewise): one line `<sha256 hex>  <name>\n` per file. So
//! `(cd out && LC_ALL=C sha256sum $(ls) | sha256sum)` recomputes it by hand.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::RuntimeError;
use crate::job::OutputFile;

/// Lowercase-hex SHA-256.
pub(crate) struct Sha256Hex;

impl Sha256Hex {
    pub(crate) fn digest(bytes: &[u8]) -> String {
        hex(&Sha256::digest(bytes))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        // Writing to a String cannot fail.
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The output hash of a set of files (see the module docs). The order of `files` does not
/// matter.
pub fn output_hash(files: &[OutputFile]) -> String {
    let mut sorted: Vec<&OutputFile> = files.iter().collect();
    sorted.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let mut hasher = Sha256::new();
    for file in sorted {
        hasher.update(file.sha256.as_bytes());
        hasher.update(b"  ");
        hasher.update(file.name.as_bytes());
        hasher.update(b"\n");
    }
    hex(&hasher.finalize())
}

/// Hashes every regular file directly inside `dir`, as a verifier re-executing a job does
/// with the outputs it fetched. Returns the files sorted by name and their output hash.
pub fn hash_dir(dir: &Path) -> Result<(Vec<OutputFile>, String), RuntimeError> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dir).map_err(|e| RuntimeError::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| RuntimeError::io(dir, e))?;
        let path = entry.path();
        if !path.is_file() {
            continue;
        }
        let bytes = std::fs::read(&path).map_err(|e| RuntimeError::io(&path, e))?;
        files.push(OutputFile {
            name: entry.file_name().to_string_lossy().into_owned(),
            bytes: bytes.len() as u64,
            sha256: Sha256Hex::digest(&bytes),
        });
    }
    files.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    let hash = output_hash(&files);
    Ok((files, hash))
}

/// Writes files into the output folder and remembers what it wrote.
pub(crate) struct OutputWriter {
    dir: PathBuf,
    files: Vec<OutputFile>,
}

impl OutputWriter {
    pub(crate) fn new(dir: &Path) -> Result<Self, RuntimeError> {
        std::fs::create_dir_all(dir).map_err(|e| RuntimeError::io(dir, e))?;
        Ok(Self { dir: dir.to_owned(), files: Vec::new() })
    }

    pub(crate) fn write(&mut self, name: &str, bytes: &[u8]) -> Result<(), RuntimeError> {
        let path = self.dir.join(name);
        std::fs::write(&path, bytes).map_err(|e| RuntimeError::io(&path, e))?;
        self.files.retain(|f| f.name != name);
        self.files.push(OutputFile {
            name: name.to_owned(),
            bytes: bytes.len() as u64,
            sha256: Sha256Hex::digest(bytes),
        });
        Ok(())
    }

    /// Pretty JSON with a trailing newline; callers use structs and `BTreeMap`s only, so
    /// the bytes are a function of the values.
    pub(crate) fn write_json<T: Serialize>(&mut self, name: &str, value: &T) -> Result<(), RuntimeError> {
        let mut bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| RuntimeError::Internal(format!("serializing {name}: {e}")))?;
        bytes.push(b'\n');
        self.write(name, &bytes)
    }

    /// The files written, sorted by name, and their output hash.
    pub(crate) fn finish(mut self) -> (Vec<OutputFile>, String) {
        self.files.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
        let hash = output_hash(&self.files);
        (self.files, hash)
    }
}
