//! `application/x-www-form-urlencoded` bodies as CMI posts them (callback, okUrl/failUrl), decoded
//! into ordered `(name, value)` byte pairs for the hash.
//!
//! A hand-written decoder rather than `form_urlencoded::parse`: that one decodes lossily to
//! UTF-8, and the hash must be computed over the bytes exactly as sent (specs/cmi.md §4.3).

/// One decoded field, raw bytes.
pub type Field = (Vec<u8>, Vec<u8>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// A name appears twice (in any case): the hash would be ambiguous (§5.2 step 1).
    #[error("field name repeated")]
    DuplicateName,
    /// A `%` not followed by two hex digits.
    #[error("bad percent escape")]
    BadEscape,
}

/// Decodes `body`: `&` separates pairs, `=` name from value, `+` is a space, `%XX` a byte.
/// Empty segments (`a=1&&b=2`) are skipped as every browser does.
pub fn decode(body: &[u8]) -> Result<Vec<Field>, FormError> {
    let mut out: Vec<Field> = Vec::new();
    for segment in body.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(at) => (segment.get(..at), segment.get(at + 1..)),
            None => (Some(segment), None),
        };
        let name = unescape(name.unwrap_or_default())?;
        let value = unescape(value.unwrap_or_default())?;
        if out.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
            return Err(FormError::DuplicateName);
        }
        out.push((name, value));
    }
    Ok(out)
}

fn unescape(raw: &[u8]) -> Result<Vec<u8>, FormError> {
    let mut out = Vec::with_capacity(raw.len());
    let mut bytes = raw.iter();
    while let Some(&b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = bytes.next().and_then(|c| hex(*c));
                let lo = bytes.next().and_then(|c| hex(*c));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push((hi << 4) | lo),
                    _ => return Err(FormError::BadEscape),
                }
            }
            other => out.push(other),
        }
    }
    Ok(out)
}

fn hex(c: u8) -> Option<u8> {
    char::from(c)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

/// The value of `name` (exact spelling), as text; `None` if absent or not UTF-8.
pub fn get<'a>(fields: &'a [Field], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(n, _)| n.as_slice() == name.as_bytes())
        .and_then(|(_, v)| std::str::from_utf8(v).ok())
}

/// The names only, for a log line on a hash mismatch (never the values: §11 pitfall 16).
pub fn names(fields: &[Field]) -> String {
    let mut names: Vec<String> = fields
        .iter()
        .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
        .collect();
    names.sort_by_key(|n| n.to_ascii_uppercase());
    names.join(",")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_percent_and_keeps_order_and_raw_bytes() {
        let fields =
            decode(b"HASH=a%2Bb%2F%3D+c&payResults.dsId=1&x=&y&BillToName=%C3%A9%E9").unwrap();
        assert_eq!(fields[0], (b"HASH".to_vec(), b"a+b/= c".to_vec()));
        assert_eq!(fields[1].0, b"payResults.dsId".to_vec());
        assert_eq!(fields[2], (b"x".to_vec(), Vec::new()));
        assert_eq!(fields[3], (b"y".to_vec(), Vec::new()));
        // Not re-encoded: an ISO-8859 byte stays the byte it was.
        assert_eq!(fields[4].1, vec![0xC3, 0xA9, 0xE9]);
    }

    #[test]
    fn refuses_repeated_names_in_any_case_and_bad_escapes() {
        assert_eq!(decode(b"oid=1&OID=2"), Err(FormError::DuplicateName));
        assert_eq!(decode(b"oid=%G1"), Err(FormError::BadEscape));
        assert_eq!(decode(b"oid=%4"), Err(FormError::BadEscape));
    }
}
