//! CMI's `ver3` hash (specs/cmi.md §4): the signature on the payment form paygate builds, on the
//! server-to-server callback and on the browser's okUrl/failUrl post.
//!
//! It works on bytes, not `str`: a callback is hashed over the values exactly as percent-decoded
//! from the body, without transcoding (§4.3), so a non-UTF-8 value still verifies as CMI signed it.

use base64::Engine as _;
use sha2::{Digest, Sha512};
use subtle::ConstantTimeEq;

/// Names whose fields are never hashed, compared ASCII-case-insensitively (`HASH`, `Encoding`).
const EXCLUDED: [&[u8]; 2] = [b"hash", b"encoding"];

/// Whether a field takes part in the hash.
pub fn is_hashed(name: &[u8]) -> bool {
    !EXCLUDED.iter().any(|x| name.eq_ignore_ascii_case(x))
}

/// The string that gets digested: the hashed fields' escaped values in upper-case-folded name
/// order, each followed by `|`, then the escaped store key. Exposed so an operator can see
/// *which* part differs on a mismatch (with the key masked); never log it with the real key.
pub fn plaintext<N: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(N, V)], store_key: &[u8]) -> Vec<u8> {
    let mut selected: Vec<(&[u8], &[u8])> = fields
        .iter()
        .map(|(n, v)| (n.as_ref(), v.as_ref()))
        .filter(|(n, _)| is_hashed(n))
        .collect();
    // Upper-case folding puts `_` after the letters, as Asseco's Java kit does (§4.1 rule 2).
    // The sort is stable, so the (rejected anyway) case-only duplicates keep their order.
    selected.sort_by(|(a, _), (b, _)| {
        a.iter()
            .map(u8::to_ascii_uppercase)
            .cmp(b.iter().map(u8::to_ascii_uppercase))
    });
    let mut out = Vec::with_capacity(256);
    for (_, value) in selected {
        escape_into(&mut out, value);
        out.push(b'|');
    }
    escape_into(&mut out, store_key);
    out
}

/// `\` → `\\` first, then `|` → `\|`; done in one pass, which is the same thing.
fn escape_into(out: &mut Vec<u8>, value: &[u8]) {
    for &b in value {
        if b == b'\\' || b == b'|' {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// Base64 of SHA-512 over [`plaintext`]: the `HASH` field's value (always 88 characters).
pub fn compute<N: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(N, V)], store_key: &[u8]) -> String {
    let digest = Sha512::digest(plaintext(fields, store_key));
    base64::engine::general_purpose::STANDARD.encode(digest)
}

/// The `HASH` value among `fields` (any case), if exactly one is present.
pub fn received<N: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(N, V)]) -> Option<&[u8]> {
    let mut found = fields
        .iter()
        .filter(|(n, _)| n.as_ref().eq_ignore_ascii_case(b"hash"));
    let first = found.next()?;
    if found.next().is_some() {
        return None;
    }
    Some(first.1.as_ref())
}

/// Whether `fields` carry a `HASH` equal to the one computed over all of them with `store_key`.
/// A missing or repeated `HASH` fails; the comparison is constant-time.
pub fn verify<N: AsRef<[u8]>, V: AsRef<[u8]>>(fields: &[(N, V)], store_key: &[u8]) -> bool {
    let Some(got) = received(fields) else {
        return false;
    };
    let want = compute(fields, store_key);
    // Lengths are public (always 88); only the content is compared in constant time.
    got.len() == want.len() && bool::from(got.ct_eq(want.as_bytes()))
}

#[cfg(test)]
#[path = "hash_tests.rs"]
mod tests;
