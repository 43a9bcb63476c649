//! Passwords: kept only as SHA-256 digests, shown as lower-case hex, compared in constant
//! time; and ACL GENPASS.

use sha2::{Digest as _, Sha256};
use subtle::{Choice, ConstantTimeEq};

/// A password's SHA-256 digest.
pub type Digest = [u8; 32];

/// The digest `>password` stores.
pub fn hash_password(password: &[u8]) -> Digest {
    Sha256::digest(password).into()
}

/// The digest of a `#hash` rule: exactly 64 lower-case hex digits, as Redis requires.
pub(crate) fn parse_hex_digest(hex: &[u8]) -> Option<Digest> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        *o = nibble(pair[0])? << 4 | nibble(pair[1])?;
    }
    Some(out)
}

fn nibble(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    }
}

/// Lower-case hex of bytes, as `ACL GETUSER` and `ACL LIST` show digests.
pub fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(HEX[usize::from(b >> 4)] as char);
        s.push(HEX[usize::from(b & 15)] as char);
    }
    s
}

/// Whether `candidate` is one of `digests`. Every digest is compared, each in constant
/// time, so the time taken tells nothing about which one matched or how much of it.
pub(crate) fn matches_any<'a>(
    digests: impl Iterator<Item = &'a Digest>,
    candidate: &Digest,
) -> bool {
    let mut found = Choice::from(0);
    for d in digests {
        found |= d.ct_eq(candidate);
    }
    found.into()
}

/// The largest `ACL GENPASS` size.
pub const GENPASS_MAX_BITS: i64 = 4096;

/// The `ACL GENPASS` size without an argument.
pub const GENPASS_DEFAULT_BITS: i64 = 256;

/// ACL GENPASS's refusal of a size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096"
)]
pub struct GenpassError;

/// How many random bytes [`genpass`] needs for `bits` (one per two hex digits).
pub fn genpass_random_len(bits: i64) -> Result<usize, GenpassError> {
    if !(1..=GENPASS_MAX_BITS).contains(&bits) {
        return Err(GenpassError);
    }
    // In range, so the conversion cannot fail.
    Ok(usize::try_from(bits).map_err(|_| GenpassError)?.div_ceil(8))
}

/// `ACL GENPASS bits`: `ceil(bits / 4)` lower-case hex digits of `random`, which must hold
/// at least [`genpass_random_len`] bytes from a secure source.
pub fn genpass(bits: i64, random: &[u8]) -> Result<String, GenpassError> {
    let need = genpass_random_len(bits)?;
    assert!(random.len() >= need, "genpass needs {need} random bytes");
    let chars = usize::try_from(bits).map_err(|_| GenpassError)?.div_ceil(4);
    let mut s = to_hex(&random[..need]);
    s.truncate(chars);
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests() {
        // The hash of "passwd4" in Redis's acl.tcl.
        let d = hash_password(b"passwd4");
        assert_eq!(
            to_hex(&d),
            "34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e6"
        );
        assert_eq!(parse_hex_digest(to_hex(&d).as_bytes()), Some(d));
        let upper = to_hex(&d).to_uppercase();
        assert_eq!(parse_hex_digest(upper.as_bytes()), None);
        assert_eq!(parse_hex_digest(&to_hex(&d).as_bytes()[1..]), None);
        let mut q = to_hex(&d).into_bytes();
        q[63] = b'q';
        assert_eq!(parse_hex_digest(&q), None);
    }

    #[test]
    fn constant_time_match_checks_every_digest() {
        let a = hash_password(b"a");
        let b = hash_password(b"b");
        let c = hash_password(b"c");
        assert!(matches_any([a, b].iter(), &b));
        assert!(matches_any([a, b].iter(), &a));
        assert!(!matches_any([a, b].iter(), &c));
        assert!(!matches_any([].iter(), &c));
        // A digest differing only in its last byte does not match.
        let mut near = a;
        near[31] ^= 1;
        assert!(!matches_any([a].iter(), &near));
    }

    #[test]
    fn genpass_sizes() {
        let random = [0xabu8; 512];
        assert_eq!(genpass(256, &random).unwrap().len(), 64);
        assert_eq!(genpass(1, &random).unwrap(), "a");
        assert_eq!(genpass(5, &random).unwrap(), "ab");
        assert_eq!(genpass(9, &random).unwrap(), "aba");
        assert_eq!(genpass(4096, &random).unwrap().len(), 1024);
        assert_eq!(genpass(0, &random), Err(GenpassError));
        assert_eq!(genpass(-236, &random), Err(GenpassError));
        assert_eq!(genpass(5000, &random), Err(GenpassError));
        assert_eq!(genpass_random_len(9), Ok(2));
        assert!(
            genpass(9, &[1, 2])
                .unwrap()
                .chars()
                .all(|c| c.is_ascii_hexdigit())
        );
    }
}
