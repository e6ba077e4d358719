//! Reading an asset's metadata document for a page. The document is the publisher's JSON, so
//! every field is optional and may hold the wrong type: a field that is not what it should be
//! reads as absent.

use agora_api::Asset;
use serde_json::Value;

/// The metadata document of one asset (or of one of its versions).
pub(crate) struct Meta<'a> {
    doc: Option<&'a Value>,
    id: &'a str,
}

/// Longest name shown.
const MAX_NAME_CHARS: usize = 120;

impl<'a> Meta<'a> {
    pub(crate) fn of(asset: &'a Asset) -> Self {
        Self { doc: asset.metadata.as_ref(), id: &asset.asset_id }
    }

    pub(crate) fn text(&self, key: &str) -> Option<&'a str> {
        self.doc?.get(key)?.as_str().map(str::trim).filter(|s| !s.is_empty())
    }

    /// The name, or `Asset N` when the document has none (yet).
    pub(crate) fn name(&self) -> String {
        match self.text("name") {
            Some(name) => name.chars().take(MAX_NAME_CHARS).collect(),
            None => format!("Asset {}", self.id),
        }
    }

    pub(crate) fn description(&self) -> Option<&'a str> {
        self.text("description")
    }

    /// The card's Markdown: the `card` field, else the description.
    pub(crate) fn card(&self) -> Option<&'a str> {
        self.text("card").or_else(|| self.description())
    }

    pub(crate) fn license(&self) -> Option<&'a str> {
        self.text("license")
    }

    /// The tags, strings only, at most 20.
    pub(crate) fn tags(&self) -> Vec<&'a str> {
        self.doc
            .and_then(|doc| doc.get("tags"))
            .and_then(Value::as_array)
            .map(|tags| tags.iter().filter_map(Value::as_str).filter(|t| !t.is_empty()).take(20).collect())
            .unwrap_or_default()
    }

    /// The first `chars` characters of the description as plain text (Markdown marks dropped).
    pub(crate) fn summary(&self, chars: usize) -> String {
        let Some(text) = self.description() else { return String::new() };
        let plain: String = text
            .chars()
            .filter(|c| !matches!(c, '#' | '*' | '_' | '`' | '>' | '[' | ']'))
            .map(|c| if c.is_whitespace() { ' ' } else { c })
            .collect();
        let plain = plain.split_whitespace().collect::<Vec<_>>().join(" ");
        if plain.chars().count() <= chars {
            plain
        } else {
            format!("{}…", plain.chars().take(chars).collect::<String>().trim_end())
        }
    }

    /// The content object: `{cid, size, fileName, encryption}`.
    pub(crate) fn content(&self) -> Option<&'a Value> {
        self.doc?.get("content").filter(|c| c.is_object())
    }

    pub(crate) fn content_cid(&self) -> Option<&'a str> {
        self.content()?.get("cid")?.as_str()
    }

    pub(crate) fn content_size(&self) -> Option<u64> {
        self.content()?.get("size")?.as_u64()
    }

    /// Who holds the content key of an encrypted asset (lowercase addresses); None when the
    /// content is not encrypted.
    pub(crate) fn key_holders(&self) -> Option<Vec<String>> {
        let keys = self.content()?.get("encryption")?.get("wrappedKeys")?.as_array()?;
        let holder = |key: &Value| {
            key.get("holder").or_else(|| key.get("provider"))?.as_str().map(str::to_ascii_lowercase)
        };
        Some(keys.iter().filter_map(holder).collect())
    }

    pub(crate) fn file_name(&self) -> Option<&'a str> {
        self.content()?.get("fileName")?.as_str()
    }

    /// A model folder's files: `(name, size, sha256)`.
    pub(crate) fn files(&self) -> Vec<(&'a str, Option<u64>, Option<&'a str>)> {
        self.doc
            .and_then(|doc| doc.get("files"))
            .and_then(Value::as_array)
            .map(|files| {
                files
                    .iter()
                    .filter_map(|f| {
                        Some((
                            f.get("name")?.as_str()?,
                            f.get("size").and_then(Value::as_u64),
                            f.get("sha256").and_then(Value::as_str),
                        ))
                    })
                    .take(1000)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The publisher's public preview (`sample`): its file name, columns and rows, bounded; only
    /// string cells are shown.
    pub(crate) fn sample(&self) -> Option<Sample<'a>> {
        let sample = self.doc?.get("sample")?;
        let strings = |v: &'a Value, max: usize| -> Vec<&'a str> {
            v.as_array()
                .map(|a| a.iter().take(max).map(|c| c.as_str().unwrap_or("")).collect())
                .unwrap_or_default()
        };
        let columns = strings(sample.get("columns")?, MAX_SAMPLE_COLUMNS);
        let rows: Vec<Vec<&'a str>> = sample
            .get("rows")?
            .as_array()?
            .iter()
            .take(MAX_SAMPLE_ROWS)
            .map(|row| strings(row, columns.len()))
            .collect();
        if columns.is_empty() || rows.is_empty() {
            return None;
        }
        let file_name = sample.get("fileName").and_then(Value::as_str).unwrap_or("sample");
        Some(Sample { file_name, columns, rows })
    }

    /// The job this asset was computed by, from `derivedFrom.jobId`.
    pub(crate) fn derived_job(&self) -> Option<&'a str> {
        self.doc?.get("derivedFrom")?.get("jobId")?.as_str()
    }
}

/// Most preview rows and columns shown (the CLI writes at most 20 and 40).
const MAX_SAMPLE_ROWS: usize = 20;
const MAX_SAMPLE_COLUMNS: usize = 40;

/// A public preview table.
pub(crate) struct Sample<'a> {
    pub file_name: &'a str,
    pub columns: Vec<&'a str>,
    pub rows: Vec<Vec<&'a str>>,
}

/// The top-level fields that differ between two versions of a document, sorted, each once.
pub(crate) fn changed_fields(old: Option<&Value>, new: Option<&Value>) -> Vec<String> {
    let empty = serde_json::Map::new();
    let old = old.and_then(Value::as_object).unwrap_or(&empty);
    let new = new.and_then(Value::as_object).unwrap_or(&empty);
    let mut keys: Vec<String> =
        old.keys().chain(new.keys()).filter(|k| old.get(*k) != new.get(*k)).cloned().collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn changes_between_versions() {
        let v1 = json!({"name": "a", "license": "MIT", "content": {"cid": "x"}});
        let v2 = json!({"name": "a", "license": "Apache-2.0", "content": {"cid": "y"}, "tags": ["t"]});
        assert_eq!(changed_fields(Some(&v1), Some(&v2)), ["content", "license", "tags"]);
        assert_eq!(changed_fields(None, Some(&json!({"name": "a"}))), ["name"]);
        assert!(changed_fields(Some(&v1), Some(&v1)).is_empty());
        assert!(changed_fields(Some(&json!(5)), Some(&json!("x"))).is_empty());
    }
}
