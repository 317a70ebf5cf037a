//! `application/x-www-form-urlencoded` bodies as CMI posts them (callback, okUrl/failUrl), decoded
//! into ordered `(name, value)` byte pairs for the hash.
//!
//! A hand-written decoder rather than `form_urlencoded::parse`: that one decodes lossily to
//! UTF-8, and the hash must be computed over the bytes exactly as sent (specs/cmi.md §4.3).
//!
//! The callback endpoint is public and decodes before the HASH check, so decoding is linear
//! in the body (one pass, duplicate names found through a hash set) and stops at
//! [`MAX_FIELDS`].

use std::collections::HashSet;

/// CMI posts 40-60 fields (the request's fields echoed back plus its own results). Four times
/// the most seen leaves room for merchant-defined extras without letting a 64 KiB body of
/// tiny fields cost 10,000 decodes and allocations before the HASH check refuses it.
pub const MAX_FIELDS: usize = 256;

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
    /// More than [`MAX_FIELDS`] fields: no CMI post is that large.
    #[error("more than {MAX_FIELDS} fields")]
    TooManyFields,
}

/// Decodes `body`: `&` separates pairs, `=` name from value, `+` is a space, `%XX` a byte.
/// Empty segments (`a=1&&b=2`) are skipped as every browser does.
pub fn decode(body: &[u8]) -> Result<Vec<Field>, FormError> {
    decode_at_most(body, MAX_FIELDS)
}

/// [`decode`] with the field limit as a parameter, so a test can time the decoder itself on
/// more fields than the limit lets through.
fn decode_at_most(body: &[u8], max_fields: usize) -> Result<Vec<Field>, FormError> {
    let mut out: Vec<Field> = Vec::new();
    // Names folded to upper case: CMI's hash sorts names case-insensitively, so `oid` and
    // `OID` are the same field. SipHash with a random key: no crafted set of names collides.
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    for segment in body.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
        if out.len() == max_fields {
            return Err(FormError::TooManyFields);
        }
        let (name, value) = match segment.iter().position(|&b| b == b'=') {
            Some(at) => (segment.get(..at), segment.get(at + 1..)),
            None => (Some(segment), None),
        };
        let name = unescape(name.unwrap_or_default())?;
        let value = unescape(value.unwrap_or_default())?;
        if !seen.insert(name.to_ascii_uppercase()) {
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
        // Percent-encoded and literal spellings of one name are the same field.
        assert_eq!(decode(b"oid=1&%4fID=2"), Err(FormError::DuplicateName));
    }

    /// `n` distinct three-character names, `abc=` each: 10,000 of them fit in 64 KiB.
    fn many_fields(n: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
        let mut body = Vec::new();
        for i in 0..n {
            if i > 0 {
                body.push(b'&');
            }
            for div in [36 * 36, 36, 1] {
                body.push(ALPHABET[(i / div) % 36]);
            }
            body.push(b'=');
        }
        body
    }

    #[test]
    fn the_field_limit_admits_a_full_cmi_post_and_refuses_one_more() {
        assert_eq!(decode(&many_fields(MAX_FIELDS)).unwrap().len(), MAX_FIELDS);
        assert_eq!(
            decode(&many_fields(MAX_FIELDS + 1)),
            Err(FormError::TooManyFields)
        );
        // Empty segments are not fields, so they do not count.
        let mut padded = many_fields(MAX_FIELDS);
        padded.extend_from_slice(&[b'&'; 1000]);
        assert_eq!(decode(&padded).unwrap().len(), MAX_FIELDS);
    }

    /// The duplicate check used to compare each field with every earlier one: 10,000 fields
    /// cost 50 million comparisons (0.39 s in a debug build). A hash set makes it one pass.
    /// The bound is ~20x what a debug build needs on a loaded 2-core machine, and well
    /// under what the quadratic check took.
    #[test]
    fn ten_thousand_distinct_fields_decode_in_linear_time() {
        let body = many_fields(10_000);
        assert!(body.len() <= 64 * 1024);
        let started = std::time::Instant::now();
        let fields = decode_at_most(&body, usize::MAX).unwrap();
        let took = started.elapsed();
        assert_eq!(fields.len(), 10_000);
        assert!(
            took < std::time::Duration::from_millis(200),
            "took {took:?}"
        );
        // The public entry point refuses such a body after MAX_FIELDS fields.
        assert_eq!(decode(&body), Err(FormError::TooManyFields));
    }
}
