//! PostgreSQL's binary `COPY` format, encoded in memory: the rows of an append-only table are
//! streamed with `COPY … FROM STDIN (FORMAT binary)` instead of being bound as parameters.
//! Pure code; [`crate::db`] does the I/O.

/// Rows in the binary `COPY` format: the signature and header, then one tuple per row, each
/// field as its length (big-endian `i32`) and bytes, then the trailer.
#[derive(Debug, Clone)]
pub struct BinaryRows {
    buf: Vec<u8>,
    rows: usize,
}

/// `PGCOPY\n\xff\r\n\0`, then the flags (no OIDs) and an empty header extension.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

impl Default for BinaryRows {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl BinaryRows {
    /// An empty set of rows with room for about `bytes` bytes.
    pub fn with_capacity(bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(HEADER.len() + bytes + 2);
        buf.extend_from_slice(HEADER);
        Self { buf, rows: 0 }
    }

    /// Starts a row of `fields` fields; exactly that many field writes must follow.
    pub fn row(&mut self, fields: i16) -> &mut Self {
        self.buf.extend_from_slice(&fields.to_be_bytes());
        self.rows += 1;
        self
    }

    /// A `BIGINT` field.
    pub fn int8(&mut self, value: i64) -> &mut Self {
        self.buf.extend_from_slice(&8i32.to_be_bytes());
        self.buf.extend_from_slice(&value.to_be_bytes());
        self
    }

    /// A `BYTEA` field.
    pub fn bytea(&mut self, value: &[u8]) -> &mut Self {
        // Field values are at most a few kilobytes (a log's data); PostgreSQL caps one at 1 GB.
        let len = i32::try_from(value.len()).unwrap_or(i32::MAX);
        self.buf.extend_from_slice(&len.to_be_bytes());
        self.buf.extend_from_slice(value);
        self
    }

    /// A `BYTEA` field made of `parts` concatenated.
    pub fn bytea_concat<'a>(&mut self, parts: impl Iterator<Item = &'a [u8]> + Clone) -> &mut Self {
        let len: usize = parts.clone().map(<[u8]>::len).sum();
        self.buf.extend_from_slice(&i32::try_from(len).unwrap_or(i32::MAX).to_be_bytes());
        for part in parts {
            self.buf.extend_from_slice(part);
        }
        self
    }

    /// A `NULL` field.
    pub fn null(&mut self) -> &mut Self {
        self.buf.extend_from_slice(&(-1i32).to_be_bytes());
        self
    }

    /// A `TEXT` field (its UTF-8 bytes).
    pub fn text(&mut self, value: &str) -> &mut Self {
        self.bytea(value.as_bytes())
    }

    /// Rows written so far.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row was written.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The complete `COPY` stream, trailer included.
    pub fn finish(mut self) -> Vec<u8> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_header_fields_and_trailer() {
        let mut rows = BinaryRows::default();
        rows.row(4).int8(-2).bytea(&[0xab]).text("é").null();
        assert_eq!(rows.len(), 1);
        let mut concat = BinaryRows::default();
        concat.row(1).bytea_concat([&[1u8][..], &[2, 3]].into_iter());
        assert_eq!(concat.finish()[HEADER.len() + 2..][..7], [0, 0, 0, 3, 1, 2, 3]);
        let out = rows.finish();
        let mut expected = b"PGCOPY\n\xff\r\n\0".to_vec();
        expected.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0]);
        expected.extend_from_slice(&[0, 4]);
        expected.extend_from_slice(&[0, 0, 0, 8, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]);
        expected.extend_from_slice(&[0, 0, 0, 1, 0xab]);
        expected.extend_from_slice(&[0, 0, 0, 2, 0xc3, 0xa9]);
        expected.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        expected.extend_from_slice(&[0xff, 0xff]);
        assert_eq!(out, expected);
    }

    #[test]
    fn no_rows_is_header_and_trailer() {
        let rows = BinaryRows::default();
        assert!(rows.is_empty());
        assert_eq!(rows.finish().len(), HEADER.len() + 2);
    }
}
