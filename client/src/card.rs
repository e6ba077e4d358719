//! What publishing adds to the metadata for people browsing the hub: the Markdown card, tags and
//! a public preview of the first rows of a CSV, JSONL or Parquet sample, each checked before
//! anything is sent (the CLI's `--card`, `--tag`, `--sample`; the Python package's `card=`, `tags=`, `sample=`).

use std::path::Path;

use agora_provider::metadata::{MAX_SAMPLE_CELL_CHARS, MAX_SAMPLE_COLUMNS, MAX_SAMPLE_ROWS, Sample};
use eyre::{Result, bail, eyre};
use serde_json::Value;

/// Largest card accepted, in bytes.
pub const MAX_CARD_BYTES: u64 = 64 * 1024;
/// Most tags.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 32;
/// Most bytes of a sample file read for its preview.
const MAX_SAMPLE_READ: u64 = 1024 * 1024;
/// Largest Parquet sample: it is read whole (its footer is at the end), and the first row group's
/// columns may decompress to at most [`MAX_PARQUET_UNCOMPRESSED`].
const MAX_PARQUET_BYTES: u64 = 8 * 1024 * 1024;
const MAX_PARQUET_UNCOMPRESSED: i64 = 64 * 1024 * 1024;

/// The card at `path`: UTF-8 Markdown of at most [`MAX_CARD_BYTES`].
pub fn read_card(path: &Path) -> Result<String> {
    let meta =
        std::fs::metadata(path).map_err(|err| eyre!("cannot read the card {}: {err}", path.display()))?;
    if meta.len() > MAX_CARD_BYTES {
        bail!(
            "the card {} is {} bytes; a card is at most {MAX_CARD_BYTES} bytes",
            path.display(),
            meta.len()
        );
    }
    let bytes = std::fs::read(path).map_err(|err| eyre!("cannot read the card {}: {err}", path.display()))?;
    String::from_utf8(bytes).map_err(|_| eyre!("the card {} is not UTF-8 text", path.display()))
}

/// A card given as text (the Python package's `card=`): at most [`MAX_CARD_BYTES`].
pub fn check_card(text: &str) -> Result<()> {
    if text.len() as u64 > MAX_CARD_BYTES {
        bail!("the card is {} bytes; a card is at most {MAX_CARD_BYTES} bytes", text.len());
    }
    Ok(())
}

/// The tags, checked: each lowercase letters, digits and `-`, 1 to [`MAX_TAG_CHARS`]
/// characters, at most [`MAX_TAGS`], duplicates dropped (order kept).
pub fn check_tags(tags: &[String]) -> Result<Vec<String>> {
    if tags.len() > MAX_TAGS {
        bail!("{} tags given; an asset takes at most {MAX_TAGS}", tags.len());
    }
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let valid = !tag.is_empty()
            && tag.chars().count() <= MAX_TAG_CHARS
            && tag.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            bail!(
                "tag {tag:?}: a tag is 1 to {MAX_TAG_CHARS} lowercase letters, digits or '-' (e.g. birdsong, cc-by)"
            );
        }
        if !out.contains(tag) {
            out.push(tag.clone());
        }
    }
    Ok(out)
}

/// The preview of the sample at `path`: its first [`MAX_SAMPLE_ROWS`] rows as a table, read as
/// JSON Lines when the name ends in `.jsonl`/`.ndjson`, as Parquet when it ends in `.parquet`,
/// else as CSV.
pub fn read_sample(path: &Path) -> Result<Sample> {
    let file_name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let file =
        std::fs::File::open(path).map_err(|err| eyre!("cannot read the sample {}: {err}", path.display()))?;
    let lower = file_name.to_ascii_lowercase();
    let sample = if lower.ends_with(".parquet") {
        parquet_rows(file, file_name)
    } else if lower.ends_with(".jsonl") || lower.ends_with(".ndjson") {
        jsonl(std::io::Read::take(file, MAX_SAMPLE_READ), file_name)
    } else {
        csv_rows(std::io::Read::take(file, MAX_SAMPLE_READ), file_name)
    }
    .map_err(|reason| eyre!("the sample {} cannot be previewed: {reason}", path.display()))?;
    if sample.rows.is_empty() {
        bail!("the sample {} has no rows to preview", path.display());
    }
    Ok(sample)
}

fn cell(text: &str) -> String {
    if text.chars().count() <= MAX_SAMPLE_CELL_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_SAMPLE_CELL_CHARS - 1).collect();
    cut.push('…');
    cut
}

fn csv_rows(reader: impl std::io::Read, file_name: String) -> Result<Sample, String> {
    let mut csv = csv::ReaderBuilder::new().flexible(true).from_reader(reader);
    let headers = csv.headers().map_err(|err| format!("not CSV: {err}"))?.clone();
    if headers.len() > MAX_SAMPLE_COLUMNS {
        return Err(format!("{} columns; a preview shows at most {MAX_SAMPLE_COLUMNS}", headers.len()));
    }
    let columns: Vec<String> = headers.iter().map(cell).collect();
    let mut rows = Vec::new();
    for record in csv.records().take(MAX_SAMPLE_ROWS) {
        let record = record.map_err(|err| format!("not CSV: {err}"))?;
        rows.push((0..columns.len()).map(|i| cell(record.get(i).unwrap_or(""))).collect());
    }
    Ok(Sample { file_name, columns, rows })
}

fn parquet_rows(file: std::fs::File, file_name: String) -> Result<Sample, String> {
    use parquet::{
        file::reader::{FileReader, SerializedFileReader},
        record::Field,
    };
    let size = file.metadata().map_err(|err| err.to_string())?.len();
    if size > MAX_PARQUET_BYTES {
        return Err(format!(
            "{size} bytes; a Parquet sample is at most {MAX_PARQUET_BYTES} (write its first rows to a small file)"
        ));
    }
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_PARQUET_BYTES), &mut bytes)
        .map_err(|err| err.to_string())?;
    let reader =
        SerializedFileReader::new(bytes::Bytes::from(bytes)).map_err(|err| format!("not Parquet: {err}"))?;
    let metadata = reader.metadata();
    let schema = metadata.file_metadata().schema_descr();
    if schema.num_columns() > MAX_SAMPLE_COLUMNS {
        return Err(format!(
            "{} columns; a preview shows at most {MAX_SAMPLE_COLUMNS}",
            schema.num_columns()
        ));
    }
    if let Some(group) = metadata.row_groups().first()
        && group.columns().iter().map(|c| c.uncompressed_size()).sum::<i64>() > MAX_PARQUET_UNCOMPRESSED
    {
        return Err(format!(
            "its first row group is larger than {MAX_PARQUET_UNCOMPRESSED} bytes uncompressed"
        ));
    }
    let rows = reader.get_row_iter(None).map_err(|err| format!("not Parquet: {err}"))?;
    let mut columns: Vec<String> = Vec::new();
    let mut table = Vec::new();
    for row in rows.take(MAX_SAMPLE_ROWS) {
        let row = row.map_err(|err| format!("not Parquet: {err}"))?;
        if columns.is_empty() {
            columns = row.get_column_iter().map(|(name, _)| cell(name)).collect();
        }
        let text = |field: &Field| match field {
            Field::Null => String::new(),
            Field::Str(text) => cell(text),
            other => cell(&other.to_string()),
        };
        table.push(row.get_column_iter().map(|(_, field)| text(field)).collect());
    }
    Ok(Sample { file_name, columns, rows: table })
}

fn jsonl(reader: impl std::io::Read, file_name: String) -> Result<Sample, String> {
    let mut objects = Vec::new();
    for (number, line) in std::io::BufRead::lines(std::io::BufReader::new(reader)).enumerate() {
        let line = line.map_err(|err| format!("line {}: {err}", number + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let value: Value =
            serde_json::from_str(&line).map_err(|err| format!("line {}: not JSON: {err}", number + 1))?;
        let Value::Object(object) = value else {
            return Err(format!("line {}: not a JSON object", number + 1));
        };
        objects.push(object);
        if objects.len() == MAX_SAMPLE_ROWS {
            break;
        }
    }
    let mut columns: Vec<String> = Vec::new();
    for key in objects.iter().flat_map(|o| o.keys()) {
        if !columns.contains(key) {
            if columns.len() == MAX_SAMPLE_COLUMNS {
                return Err(format!(
                    "more than {MAX_SAMPLE_COLUMNS} keys; a preview shows at most {MAX_SAMPLE_COLUMNS}"
                ));
            }
            columns.push(key.clone());
        }
    }
    let rows = objects
        .iter()
        .map(|object| {
            columns
                .iter()
                .map(|key| match object.get(key) {
                    None | Some(Value::Null) => String::new(),
                    Some(Value::String(text)) => cell(text),
                    Some(other) => cell(&other.to_string()),
                })
                .collect()
        })
        .collect();
    Ok(Sample { file_name, columns: columns.iter().map(|c| cell(c)).collect(), rows })
}

/// Whether the files at `a` and `b` hold the same bytes (a sample must not be the content).
pub fn same_bytes(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) if x.is_file() && y.is_file() && x.len() == y.len() => {
            matches!((std::fs::read(a), std::fs::read(b)), (Ok(x), Ok(y)) if x == y)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap_or_else(|err| panic!("{err}"));
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|err| panic!("{err}"));
        (dir, path)
    }

    #[test]
    fn csv_and_jsonl_samples_preview_their_first_rows() {
        let rows: String = (0..50).map(|i| format!("{i},finch {i}\n")).collect();
        let (_dir, path) = write("birds.csv", &format!("id,name\n{rows}"));
        let sample = read_sample(&path).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(sample.columns, ["id", "name"]);
        assert_eq!(sample.rows.len(), MAX_SAMPLE_ROWS);
        assert_eq!(sample.rows[1], ["1", "finch 1"]);
        let (_dir, path) =
            write("notes.jsonl", "{\"text\":\"a\",\"n\":1}\n\n{\"text\":\"b\",\"tags\":[\"x\"]}\n");
        let sample = read_sample(&path).unwrap_or_else(|err| panic!("{err}"));
        // Each object's keys in serde_json's order (sorted), new keys after the ones seen before.
        assert_eq!(sample.columns, ["n", "text", "tags"]);
        assert_eq!(sample.rows, [vec!["1", "a", ""], vec!["", "b", "[\"x\"]"]]);
    }

    /// A file in `client/tests/fixtures` (written by PyArrow 26: `python/requirements-test.txt`).
    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
    }

    #[test]
    fn a_parquet_sample_written_by_pyarrow_previews_its_first_rows() {
        let sample = read_sample(&fixture("finches.parquet")).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(sample.file_name, "finches.parquet");
        assert_eq!(sample.columns, ["island", "beak_mm", "count", "seen"]);
        assert_eq!(sample.rows.len(), 4);
        assert_eq!(sample.rows[0], ["Daphne", "11.2", "3", "2024-05-01"]);
        // A null is an empty cell.
        assert_eq!(sample.rows[2][0], "");
        // A codec that needs a C library is refused in words, not a panic.
        let zstd = read_sample(&fixture("finches-zstd.parquet")).unwrap_err().to_string();
        assert!(zstd.contains("cannot be previewed") && zstd.to_lowercase().contains("zstd"), "{zstd}");
        // Not Parquet at all; too large to read whole.
        let (_dir, path) = write("fake.parquet", "island,beak\nDaphne,11.2\n");
        assert!(read_sample(&path).unwrap_err().to_string().contains("not Parquet"));
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big.parquet");
        std::fs::File::create(&big).and_then(|f| f.set_len(MAX_PARQUET_BYTES + 1)).unwrap();
        assert!(read_sample(&big).unwrap_err().to_string().contains("a Parquet sample is at most"));
    }

    #[test]
    fn bad_samples_cards_and_tags_are_refused() {
        let (_dir, path) = write("bad.jsonl", "{\"a\":1}\n[1,2]\n");
        assert!(read_sample(&path).unwrap_err().to_string().contains("line 2: not a JSON object"));
        let (_dir, path) = write("empty.csv", "a,b\n");
        assert!(read_sample(&path).unwrap_err().to_string().contains("no rows"));
        let wide = (0..100).map(|i| format!("c{i}")).collect::<Vec<_>>().join(",");
        let (_dir, path) = write("wide.csv", &format!("{wide}\n{wide}\n"));
        assert!(read_sample(&path).unwrap_err().to_string().contains("100 columns"));
        let (_dir, path) = write("long.csv", &format!("a\n{}\n", "x".repeat(1000)));
        assert_eq!(
            read_sample(&path).unwrap_or_else(|err| panic!("{err}")).rows[0][0].chars().count(),
            MAX_SAMPLE_CELL_CHARS
        );
        let (_dir, path) = write("card.md", &"x".repeat(70 * 1024));
        assert!(read_card(&path).unwrap_err().to_string().contains("at most 65536 bytes"));
        assert_eq!(
            check_tags(&["birdsong".into(), "cc-by".into(), "birdsong".into()]).unwrap_or_default(),
            ["birdsong", "cc-by"]
        );
        for bad in ["", "Bird", "bird song", "<script>", &"x".repeat(33)] {
            assert!(check_tags(&[bad.to_owned()]).is_err(), "{bad:?}");
        }
        assert!(check_tags(&vec!["a".to_owned(); 21]).is_err());
    }
}
