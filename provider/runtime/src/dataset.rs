//! Reading datasets: text rows for `embed` (JSONL or CSV), numeric tables for `train` and
//! `predict` (CSV). Sizes and row counts are checked against the limits as they are read.

use std::path::Path;

use crate::RuntimeError;
use crate::job::Limits;
use crate::tensorfile::read_bounded;

/// A dataset's text rows and the SHA-256 of the file.
pub(crate) struct Texts {
    pub(crate) rows: Vec<String>,
    pub(crate) sha256: String,
}

/// Reads the `field` of every row of a `.jsonl` or `.csv` file.
pub(crate) fn read_texts(path: &Path, field: &str, limits: &Limits) -> Result<Texts, RuntimeError> {
    let bytes = read_bounded(path, "dataset", limits.max_dataset_bytes)?;
    let sha256 = crate::output::Sha256Hex::digest(&bytes);
    let ext = path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    let rows = match ext.as_deref() {
        Some("jsonl" | "ndjson") => jsonl_texts(path, &bytes, field, limits)?,
        Some("csv") => {
            let table = parse_csv(path, &bytes, limits)?;
            let col = table.column(path, field)?;
            table.rows.into_iter().map(|mut r| r.swap_remove(col)).collect()
        }
        _ => {
            return Err(RuntimeError::dataset(path, "unknown format: name the file .jsonl or .csv"));
        }
    };
    if rows.is_empty() {
        return Err(RuntimeError::EmptyDataset { path: path.to_owned() });
    }
    Ok(Texts { rows, sha256 })
}

fn jsonl_texts(path: &Path, bytes: &[u8], field: &str, limits: &Limits) -> Result<Vec<String>, RuntimeError> {
    let text =
        std::str::from_utf8(bytes).map_err(|e| RuntimeError::dataset(path, format!("not UTF-8: {e}")))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        check_rows(rows.len() + 1, limits)?;
        let value: serde_json::Value = serde_json::from_str(line)
            .map_err(|e| RuntimeError::dataset(path, format!("line {}: {e}", i + 1)))?;
        let text = match value {
            serde_json::Value::Object(mut obj) => match obj.remove(field) {
                Some(serde_json::Value::String(s)) => s,
                Some(_) => {
                    return Err(RuntimeError::dataset(
                        path,
                        format!("line {}: `{field}` is not a string", i + 1),
                    ));
                }
                None => {
                    return Err(RuntimeError::dataset(path, format!("line {}: no `{field}` key", i + 1)));
                }
            },
            _ => {
                return Err(RuntimeError::dataset(path, format!("line {}: not a JSON object", i + 1)));
            }
        };
        rows.push(text);
    }
    Ok(rows)
}

/// A CSV file: its header and its rows, every row as long as the header.
pub(crate) struct Table {
    pub(crate) headers: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
    pub(crate) sha256: String,
}

impl Table {
    /// The index of the named column.
    pub(crate) fn column(&self, path: &Path, name: &str) -> Result<usize, RuntimeError> {
        self.headers.iter().position(|h| h == name).ok_or_else(|| {
            RuntimeError::dataset(path, format!("no column `{name}` (columns: {})", self.headers.join(", ")))
        })
    }
}

/// Reads a CSV file with a header row.
pub(crate) fn read_table(path: &Path, limits: &Limits) -> Result<Table, RuntimeError> {
    let bytes = read_bounded(path, "dataset", limits.max_dataset_bytes)?;
    let table = parse_csv(path, &bytes, limits)?;
    if table.rows.is_empty() {
        return Err(RuntimeError::EmptyDataset { path: path.to_owned() });
    }
    Ok(table)
}

fn parse_csv(path: &Path, bytes: &[u8], limits: &Limits) -> Result<Table, RuntimeError> {
    let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(bytes);
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| RuntimeError::dataset(path, format!("header: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect();
    if headers.is_empty() || headers.iter().all(String::is_empty) {
        return Err(RuntimeError::EmptyDataset { path: path.to_owned() });
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        // csv reports the line of a bad record (wrong field count, invalid UTF-8) itself.
        let record = record.map_err(|e| RuntimeError::dataset(path, e.to_string()))?;
        check_rows(rows.len() + 1, limits)?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    Ok(Table { headers, rows, sha256: crate::output::Sha256Hex::digest(bytes) })
}

fn check_rows(rows: usize, limits: &Limits) -> Result<(), RuntimeError> {
    if rows as u64 > limits.max_rows {
        return Err(RuntimeError::LimitExceeded {
            what: "dataset rows",
            actual: rows as u64,
            limit: limits.max_rows,
        });
    }
    Ok(())
}
