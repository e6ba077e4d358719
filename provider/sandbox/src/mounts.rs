//! The host side of the mounts: the per-run `/data` folder, the `/out` folder, and how much
//! the algorithm has put in it.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use crate::SandboxError;

/// Each file or folder under `/out` counts as at least this many bytes towards the output
/// limit, so a module cannot exhaust inodes with empty files.
pub(crate) const MIN_ENTRY_BYTES: u64 = 4096;

/// A folder holding only the dataset, under its own name; removed when dropped.
pub(crate) struct DataDir {
    dir: TempDir,
}

impl DataDir {
    /// Hard-links the dataset into a fresh folder beside it (same file system), or copies it
    /// into the system's temporary folder when it cannot.
    pub(crate) fn stage(dataset: &Path) -> Result<Self, SandboxError> {
        let meta = fs::metadata(dataset).map_err(|e| SandboxError::io(dataset, e))?;
        if !meta.is_file() {
            return Err(SandboxError::Mount {
                path: dataset.to_owned(),
                reason: "the dataset is not a regular file",
            });
        }
        let Some(name) = dataset.file_name().filter(|n| n.to_str().is_some()) else {
            return Err(SandboxError::Mount {
                path: dataset.to_owned(),
                reason: "the dataset's file name is missing or not UTF-8",
            });
        };
        let builder = {
            let mut b = tempfile::Builder::new();
            b.prefix(".agora-sandbox-data-");
            b
        };
        if let Some(parent) = dataset.parent().filter(|p| !p.as_os_str().is_empty())
            && let Ok(dir) = builder.tempdir_in(parent)
            && fs::hard_link(dataset, dir.path().join(name)).is_ok()
        {
            return Ok(Self { dir });
        }
        let dir = builder.tempdir().map_err(|e| SandboxError::io(std::env::temp_dir(), e))?;
        let target = dir.path().join(name);
        if fs::hard_link(dataset, &target).is_err() {
            fs::copy(dataset, &target).map_err(|e| SandboxError::io(dataset, e))?;
        }
        Ok(Self { dir })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Removes the folder now, reporting a failure instead of ignoring it.
    pub(crate) fn remove(self) -> Result<(), SandboxError> {
        let path = self.dir.path().to_owned();
        self.dir.close().map_err(|e| SandboxError::io(path, e))
    }
}

/// Checks that the model mount is a folder.
pub(crate) fn check_model(model: &Path) -> Result<(), SandboxError> {
    let meta = fs::metadata(model).map_err(|e| SandboxError::io(model, e))?;
    if meta.is_dir() {
        Ok(())
    } else {
        Err(SandboxError::Mount { path: model.to_owned(), reason: "the model mount is not a folder" })
    }
}

/// The `/out` folder: empty at the start, emptied again (or removed, if the run created it)
/// when the run fails.
pub(crate) struct OutDir {
    path: PathBuf,
    created: bool,
}

impl OutDir {
    pub(crate) fn prepare(path: &Path) -> Result<Self, SandboxError> {
        match fs::read_dir(path) {
            Ok(mut entries) => {
                if entries.next().is_some() {
                    return Err(SandboxError::OutputNotEmpty(path.to_owned()));
                }
                Ok(Self { path: path.to_owned(), created: false })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(path).map_err(|e| SandboxError::io(path, e))?;
                Ok(Self { path: path.to_owned(), created: true })
            }
            Err(e) => Err(SandboxError::io(path, e)),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Removes everything the run wrote.
    pub(crate) fn discard(&self) -> Result<(), SandboxError> {
        if self.created {
            return fs::remove_dir_all(&self.path).map_err(|e| SandboxError::io(&self.path, e));
        }
        let entries = fs::read_dir(&self.path).map_err(|e| SandboxError::io(&self.path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| SandboxError::io(&self.path, e))?;
            let path = entry.path();
            let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
            let removed = if is_dir { fs::remove_dir_all(&path) } else { fs::remove_file(&path) };
            removed.map_err(|e| SandboxError::io(&path, e))?;
        }
        Ok(())
    }

    /// Checks what the run left: only regular files directly in the folder, within `limit`.
    pub(crate) fn verify(&self, limit: u64) -> Result<(), SandboxError> {
        let entries = fs::read_dir(&self.path).map_err(|e| SandboxError::io(&self.path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| SandboxError::io(&self.path, e))?;
            let kind = entry.file_type().map_err(|e| SandboxError::io(entry.path(), e))?;
            let what = if kind.is_file() {
                continue;
            } else if kind.is_dir() {
                "a folder"
            } else if kind.is_symlink() {
                "a symbolic link"
            } else {
                "a special file"
            };
            return Err(SandboxError::InvalidOutput {
                name: entry.file_name().to_string_lossy().into_owned(),
                kind: what,
            });
        }
        if usage(&self.path, limit) > limit {
            return Err(SandboxError::OutputTooLarge { limit });
        }
        Ok(())
    }
}

/// Bytes under `dir` as the output limit counts them (each entry's length, at least
/// [`MIN_ENTRY_BYTES`]); stops counting once past `stop_above`. Entries that vanish while it
/// walks are skipped.
pub(crate) fn usage(dir: &Path, stop_above: u64) -> u64 {
    let mut total = 0u64;
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Ok(meta) = entry.path().symlink_metadata() else { continue };
            total = total.saturating_add(meta.len().max(MIN_ENTRY_BYTES));
            if total > stop_above {
                return total;
            }
            if meta.is_dir() {
                pending.push(entry.path());
            }
        }
    }
    total
}
