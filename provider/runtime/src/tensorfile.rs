//! Reading safetensors files that may be hostile: the size of the file, the header length
//! and every tensor's dtype, shape and offsets are checked against the file and the limits
//! before anything proportional to them is allocated.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

use crate::RuntimeError;
use crate::output::Sha256Hex;

/// safetensors' own ceiling on the JSON header.
const MAX_HEADER_BYTES: u64 = 100_000_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TensorEntry {
    dtype: Dtype,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

/// A safetensors file read whole after its header checked out.
pub(crate) struct CheckedFile {
    /// The file's bytes.
    pub(crate) bytes: Vec<u8>,
    /// SHA-256 of the bytes, lowercase hex.
    pub(crate) sha256: String,
}

/// Checks the file's size against `max_bytes`, then its header against the file, then
/// reads it and lets the safetensors crate validate it once more.
pub(crate) fn read_checked(path: &Path, max_bytes: u64) -> Result<CheckedFile, RuntimeError> {
    let invalid = |reason: String| RuntimeError::safetensors(path, reason);
    let mut file = open_bounded(path, "model weights (safetensors)", max_bytes)?;
    let size = file_size(&file, path)?;
    if size < 8 {
        return Err(invalid(format!("{size} bytes is too short for a header")));
    }
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes).map_err(|e| RuntimeError::io(path, e))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > size - 8 {
        return Err(invalid(format!("header length {header_len} runs past the end of the {size}-byte file")));
    }
    if header_len > MAX_HEADER_BYTES {
        return Err(invalid(format!(
            "header length {header_len} is over the {MAX_HEADER_BYTES}-byte ceiling"
        )));
    }
    let data_len = size - 8 - header_len;
    // Bounded by the file size, which is bounded by `max_bytes`.
    let mut header = vec![0u8; usize_from(header_len, path)?];
    file.read_exact(&mut header).map_err(|e| RuntimeError::io(path, e))?;
    check_header(&header, data_len).map_err(invalid)?;

    let mut bytes = Vec::with_capacity(usize_from(size, path)?);
    bytes.extend_from_slice(&len_bytes);
    bytes.extend_from_slice(&header);
    file.take(data_len).read_to_end(&mut bytes).map_err(|e| RuntimeError::io(path, e))?;
    if bytes.len() as u64 != size {
        return Err(invalid("the file changed while it was read".to_owned()));
    }
    SafeTensors::deserialize(&bytes).map_err(|e| invalid(e.to_string()))?;
    let sha256 = Sha256Hex::digest(&bytes);
    Ok(CheckedFile { bytes, sha256 })
}

/// Every tensor must have a known dtype, a shape whose byte size fits in `u64`, and offsets
/// inside the data section that match that size exactly.
fn check_header(header: &[u8], data_len: u64) -> Result<(), String> {
    let map: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(header).map_err(|e| format!("header is not a JSON object: {e}"))?;
    for (name, value) in map {
        if name == "__metadata__" {
            continue;
        }
        let entry: TensorEntry = serde_json::from_value(value)
            .map_err(|e| format!("tensor `{name}` has a malformed entry: {e}"))?;
        let elements = entry
            .shape
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .ok_or_else(|| format!("tensor `{name}` shape {:?} overflows", entry.shape))?;
        let bits = elements
            .checked_mul(entry.dtype.bitsize() as u64)
            .ok_or_else(|| format!("tensor `{name}` shape {:?} overflows", entry.shape))?;
        if bits % 8 != 0 {
            return Err(format!("tensor `{name}` does not fill whole bytes"));
        }
        let needed = bits / 8;
        let [begin, end] = entry.data_offsets;
        if begin > end || end > data_len {
            return Err(format!(
                "tensor `{name}` offsets {begin}..{end} lie outside the {data_len}-byte data section"
            ));
        }
        if end - begin != needed {
            return Err(format!(
                "tensor `{name}` of dtype {:?} and shape {:?} needs {needed} bytes but its offsets span {}",
                entry.dtype,
                entry.shape,
                end - begin
            ));
        }
    }
    Ok(())
}

/// Opens a file after checking that it exists and is at most `max_bytes` long.
pub(crate) fn open_bounded(path: &Path, what: &'static str, max_bytes: u64) -> Result<File, RuntimeError> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RuntimeError::MissingInput { what, path: path.to_owned() });
        }
        Err(e) => return Err(RuntimeError::io(path, e)),
    };
    let size = file_size(&file, path)?;
    if size > max_bytes {
        return Err(RuntimeError::FileTooLarge { path: path.to_owned(), size, limit: max_bytes });
    }
    Ok(file)
}

/// Reads a whole file after checking it against `max_bytes`.
pub(crate) fn read_bounded(path: &Path, what: &'static str, max_bytes: u64) -> Result<Vec<u8>, RuntimeError> {
    let file = open_bounded(path, what, max_bytes)?;
    let mut bytes = Vec::new();
    // `take` guards against a file that grows after the size check.
    file.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| RuntimeError::io(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(RuntimeError::FileTooLarge {
            path: path.to_owned(),
            size: bytes.len() as u64,
            limit: max_bytes,
        });
    }
    Ok(bytes)
}

fn file_size(file: &File, path: &Path) -> Result<u64, RuntimeError> {
    let meta = file.metadata().map_err(|e| RuntimeError::io(path, e))?;
    if !meta.is_file() {
        return Err(RuntimeError::io(
            path,
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        ));
    }
    Ok(meta.len())
}

fn usize_from(n: u64, path: &Path) -> Result<usize, RuntimeError> {
    usize::try_from(n).map_err(|_| RuntimeError::safetensors(path, format!("{n} bytes do not fit in memory")))
}
