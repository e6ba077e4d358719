//! One page of a cursor-paginated list.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One page of a list, in the list's order. Ask for the next page with `cursor=<nextCursor>`
/// (and the same filters and sort); a page shorter than its `limit` is the last one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Page<T> {
    /// The items of this page: at most `limit` (default 50, at most 500).
    pub items: Vec<T>,
    /// The cursor of the next page (the sort keys of this page's last item, joined by `:`); null
    /// when this page is not full, i.e. it is the last one.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A page of `items`: a full page (`limit` items) has a cursor, made by `cursor` from its
    /// last item; a shorter one is the last page and has none.
    pub fn of(items: Vec<T>, limit: usize, cursor: impl FnOnce(&T) -> String) -> Self {
        let next_cursor = if items.len() == limit { items.last().map(cursor) } else { None };
        Self { items, next_cursor }
    }
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self { items: Vec::new(), next_cursor: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_full_page_has_a_cursor() {
        let full = Page::of(vec![1, 2], 2, |n| n.to_string());
        assert_eq!(full.next_cursor.as_deref(), Some("2"));
        let short = Page::of(vec![1], 2, |n| n.to_string());
        assert_eq!(short.next_cursor, None);
        let json = serde_json::to_value(&short).unwrap();
        assert_eq!(json, serde_json::json!({ "items": [1], "nextCursor": null }));
        assert_eq!(serde_json::from_value::<Page<i32>>(json).unwrap(), short);
    }
}
