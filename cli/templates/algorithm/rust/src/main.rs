//! `{{name}}`: an Agora algorithm, a WASI preview 1 module built with
//! `cargo build --release --target wasm32-wasip1` and run by a compute provider's sandbox over
//! one dataset.
//!
//! Reads the only file in `/data` and writes `/out/summary.json`: the file's name, its size in
//! bytes and its rows (lines; for a CSV or TSV, the records after the header row), and for a
//! CSV or TSV each column's count of numeric values and their mean. The job's args name the
//! columns to report (default: all). Records are one per line: a quoted field may hold the
//! delimiter but not a line break.
//!
//! Outside the sandbox, `DATA_DIR` and `OUT_DIR` stand in for `/data` and `/out`:
//!
//! ```text
//! mkdir -p in out && cp rows.csv in/ && DATA_DIR=in OUT_DIR=out cargo run -- height weight
//! ```

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    let columns: Vec<String> = std::env::args().skip(1).collect();
    match run(&columns) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{{name}}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the algorithm writes to `/out/summary.json`.
struct Summary {
    file: String,
    bytes: u64,
    rows: u64,
    columns: Vec<Column>,
}

/// One CSV column's numeric summary.
struct Column {
    name: String,
    index: usize,
    numeric: u64,
    sum: f64,
}

fn run(columns: &[String]) -> Result<(), String> {
    let data = only_file(&dir_from_env("DATA_DIR", "/data"))?;
    let file = data
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let reader = File::open(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let mut input = BufReader::with_capacity(1 << 20, reader);
    let mut summary = Summary {
        file,
        bytes: 0,
        rows: 0,
        columns: Vec::new(),
    };
    let extension = data
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let result = match extension.as_deref() {
        Some("csv") => summarize_table(&mut input, b',', columns, &mut summary),
        Some("tsv") => summarize_table(&mut input, b'\t', columns, &mut summary),
        _ if !columns.is_empty() => Err(format!(
            "{} is not a CSV or TSV file, so it has no columns to choose",
            summary.file
        )),
        _ => count_lines(&mut input, &mut summary),
    };
    result.map_err(|e| format!("{}: {e}", summary.file))?;
    // Outputs are regular files directly in /out; the provider hashes and returns them.
    let out = dir_from_env("OUT_DIR", "/out").join("summary.json");
    fs::write(&out, summary.to_json()).map_err(|e| format!("{}: {e}", out.display()))
}

/// Reads a header row, then counts records and sums each chosen column's numbers.
fn summarize_table(
    input: &mut impl BufRead,
    delimiter: u8,
    names: &[String],
    summary: &mut Summary,
) -> Result<(), String> {
    let mut line = Vec::new();
    let header = loop {
        match next_line(input, &mut line, summary)? {
            None => return Err("no header row".into()),
            Some(text) if text.is_empty() => continue,
            Some(text) => break split_record(&text, delimiter),
        }
    };
    let chosen: Vec<String> = if names.is_empty() {
        header.clone()
    } else {
        names.to_vec()
    };
    for name in chosen {
        let index = header.iter().position(|h| *h == name).ok_or_else(|| {
            format!(
                "no column named {name:?} (the header has {})",
                header.join(", ")
            )
        })?;
        summary.columns.push(Column {
            name,
            index,
            numeric: 0,
            sum: 0.0,
        });
    }
    while let Some(text) = next_line(input, &mut line, summary)? {
        if text.is_empty() {
            continue;
        }
        summary.rows += 1;
        let record = split_record(&text, delimiter);
        for column in &mut summary.columns {
            let value = record
                .get(column.index)
                .and_then(|v| v.trim().parse::<f64>().ok());
            if let Some(value) = value.filter(|v| v.is_finite()) {
                column.numeric += 1;
                column.sum += value;
            }
        }
    }
    Ok(())
}

/// The next line without its line ending, counting its bytes; `None` at the end.
fn next_line(
    input: &mut impl BufRead,
    line: &mut Vec<u8>,
    summary: &mut Summary,
) -> Result<Option<String>, String> {
    line.clear();
    let read = input.read_until(b'\n', line).map_err(|e| e.to_string())?;
    if read == 0 {
        return Ok(None);
    }
    summary.bytes += read as u64;
    let text = String::from_utf8_lossy(line);
    Ok(Some(text.trim_end_matches(['\n', '\r']).to_owned()))
}

/// Splits one record at `delimiter`; a field in double quotes may hold it (and `""` for a quote).
fn split_record(line: &str, delimiter: u8) -> Vec<String> {
    let delimiter = char::from(delimiter);
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if field.is_empty() => quoted = true,
            c if c == delimiter && !quoted => fields.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    fields.push(field);
    fields
}

/// Counts lines, a last one without a newline included.
fn count_lines(input: &mut impl BufRead, summary: &mut Summary) -> Result<(), String> {
    let mut line = Vec::new();
    while next_line(input, &mut line, summary)?.is_some() {
        summary.rows += 1;
    }
    Ok(())
}

/// The one file in `dir`: the sandbox mounts the dataset alone in `/data`.
fn only_file(dir: &Path) -> Result<PathBuf, String> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| format!("{}: {e}", dir.display()))? {
        let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
        if entry.file_type().is_ok_and(|t| t.is_file()) {
            files.push(entry.path());
        }
    }
    match <[PathBuf; 1]>::try_from(files) {
        Ok([file]) => Ok(file),
        Err(files) => Err(format!(
            "{} holds {} files; want exactly one dataset",
            dir.display(),
            files.len()
        )),
    }
}

fn dir_from_env(name: &str, fallback: &str) -> PathBuf {
    PathBuf::from(
        std::env::var(name)
            .ok()
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| fallback.into()),
    )
}

impl Summary {
    /// The summary as indented JSON (written by hand: the module has no dependencies).
    fn to_json(&self) -> String {
        let columns: Vec<String> = self
            .columns
            .iter()
            .map(|c| {
                let mean = c.sum / c.numeric as f64;
                let mean = if c.numeric > 0 && mean.is_finite() { mean.to_string() } else { "null".into() };
                format!(
                    "    {{\n      \"name\": {},\n      \"numeric\": {},\n      \"mean\": {mean}\n    }}",
                    json_string(&c.name),
                    c.numeric
                )
            })
            .collect();
        let columns = if columns.is_empty() {
            "[]".to_owned()
        } else {
            format!("[\n{}\n  ]", columns.join(",\n"))
        };
        format!(
            "{{\n  \"file\": {},\n  \"bytes\": {},\n  \"rows\": {},\n  \"columns\": {columns}\n}}\n",
            json_string(&self.file),
            self.bytes,
            self.rows
        )
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
