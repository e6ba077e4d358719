//! HTTP `Range` requests (RFC 9110 §14), single byte ranges only.

/// A `Range` header that cannot be served.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// Not a `bytes=` range this provider understands.
    #[error("malformed Range header")]
    Malformed,
    /// More than one range.
    #[error("multiple ranges are not supported")]
    Multiple,
    /// The range lies outside the content.
    #[error("range not satisfiable for {size} bytes")]
    Unsatisfiable {
        /// The content's size.
        size: u64,
    },
}

/// Parses a `Range` header against content of `size` bytes into inclusive `(start, end)`.
pub fn parse(header: &str, size: u64) -> Result<(u64, u64), RangeError> {
    let spec = header.trim().strip_prefix("bytes=").ok_or(RangeError::Malformed)?;
    if spec.contains(',') {
        return Err(RangeError::Multiple);
    }
    let (first, last) = spec.trim().split_once('-').ok_or(RangeError::Malformed)?;
    let number = |s: &str| s.trim().parse::<u64>().map_err(|_| RangeError::Malformed);
    let (start, end) = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => return Err(RangeError::Malformed),
        // `bytes=-N`: the last N bytes.
        (true, false) => {
            let suffix = number(last)?;
            if suffix == 0 || size == 0 {
                return Err(RangeError::Unsatisfiable { size });
            }
            (size.saturating_sub(suffix), size - 1)
        }
        (false, true) => (number(first)?, size.saturating_sub(1)),
        (false, false) => {
            let (start, end) = (number(first)?, number(last)?);
            if end < start {
                return Err(RangeError::Malformed);
            }
            (start, end.min(size.saturating_sub(1)))
        }
    };
    if size == 0 || start >= size {
        return Err(RangeError::Unsatisfiable { size });
    }
    Ok((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_single_range_forms() {
        assert_eq!(parse("bytes=0-9", 100), Ok((0, 9)));
        assert_eq!(parse("bytes=90-", 100), Ok((90, 99)));
        assert_eq!(parse("bytes=-10", 100), Ok((90, 99)));
        assert_eq!(parse("bytes=-1000", 100), Ok((0, 99)));
        assert_eq!(parse("bytes=50-1000", 100), Ok((50, 99)));
    }

    #[test]
    fn refuses_tampered_ranges() {
        assert_eq!(parse("bytes=100-", 100), Err(RangeError::Unsatisfiable { size: 100 }));
        assert_eq!(parse("bytes=9-1", 100), Err(RangeError::Malformed));
        assert_eq!(parse("bytes=a-b", 100), Err(RangeError::Malformed));
        assert_eq!(parse("items=0-1", 100), Err(RangeError::Malformed));
        assert_eq!(parse("bytes=0-1,5-6", 100), Err(RangeError::Multiple));
        assert_eq!(parse("bytes=-0", 100), Err(RangeError::Unsatisfiable { size: 100 }));
        assert_eq!(parse("bytes=0-0", 0), Err(RangeError::Unsatisfiable { size: 0 }));
    }
}
