//! Numbers as C's `strtod` and `strtold` read a whole C string: where Redis reads a number
//! that way (SORT's weights, blocking timeouts), so must Concord.

/// What the C library makes of a string.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum CFloat {
    /// A number; an infinity only when written as a word (or, for `long double`, a value
    /// beyond `f64` but within the type: its sign's infinity, or the smallest subnormal).
    Value(f64),
    /// Beyond the type's range (ERANGE with an infinite result).
    Overflow,
    /// Too small for the type (ERANGE with a zero or subnormal result).
    Underflow,
    /// Not a number from start to end, or NaN.
    Invalid,
}

/// The type the C library converts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CType {
    /// `double` (`strtod`).
    Double,
    /// x87 `long double` (`strtold`).
    LongDouble,
}

/// Decimal exponents of the largest and the smallest positive x87 `long double`.
const LONG_DOUBLE_EXP10: (i64, i64) = (4932, -4951);

/// Reads `b` up to its first NUL byte (C sees no further) as the C library would, the
/// whole of it (an empty string is 0): `skip_space` lets white space lead (strtod does; Redis refuses it for
/// timeouts); decimal, hexadecimal, `inf` and `infinity` in any case.
pub(crate) fn parse(b: &[u8], skip_space: bool, ty: CType) -> CFloat {
    let b = &b[..b.iter().position(|&c| c == 0).unwrap_or(b.len())];
    if b.is_empty() {
        // Nothing to convert, and nothing after it: the C string is all read.
        return CFloat::Value(0.0);
    }
    let start = if skip_space {
        b.iter()
            .position(|&c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))
            .unwrap_or(b.len())
    } else {
        0
    };
    let Ok(s) = std::str::from_utf8(&b[start..]) else {
        return CFloat::Invalid;
    };
    let (neg, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let signed = |v: f64| if neg { -v } else { v };
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return CFloat::Value(signed(f64::INFINITY));
    }
    if body.len() > 2 && body[..2].eq_ignore_ascii_case("0x") {
        return match hex(&body[2..]) {
            Some(v) if v.is_infinite() => CFloat::Overflow,
            Some(v) => CFloat::Value(signed(v)),
            None => CFloat::Invalid,
        };
    }
    // Rust's reader takes what C takes in decimal, once words and signs are handled.
    if !body.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
        return CFloat::Invalid;
    }
    let Ok(v) = body.parse::<f64>() else {
        return CFloat::Invalid;
    };
    let tiny = v.abs() < f64::MIN_POSITIVE && has_nonzero_digit(body);
    if !v.is_infinite() && !tiny {
        return CFloat::Value(signed(v));
    }
    match ty {
        CType::Double if tiny => CFloat::Underflow,
        CType::Double => CFloat::Overflow,
        CType::LongDouble => {
            let e = exp10(body);
            if e > LONG_DOUBLE_EXP10.0 {
                CFloat::Overflow
            } else if e < LONG_DOUBLE_EXP10.1 {
                CFloat::Underflow
            } else if tiny {
                CFloat::Value(signed(f64::from_bits(1)))
            } else {
                CFloat::Value(signed(f64::INFINITY))
            }
        }
    }
}

/// Whether the mantissa of a decimal number has a digit other than 0.
fn has_nonzero_digit(body: &str) -> bool {
    let mantissa = body.split(['e', 'E']).next().unwrap_or("");
    mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c))
}

/// The decimal exponent of a decimal number's first significant digit (the number is
/// not zero).
fn exp10(body: &str) -> i64 {
    let (mantissa, exp) = match body.find(['e', 'E']) {
        Some(i) => (&body[..i], body[i + 1..].parse::<i64>().unwrap_or(0)),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let int = int.trim_start_matches('0');
    let at = if int.is_empty() {
        -(frac.bytes().take_while(|&c| c == b'0').count() as i64) - 1
    } else {
        int.len() as i64 - 1
    };
    at.saturating_add(exp)
}

/// The part of a hexadecimal number after `0x`: digits, an optional fraction and an
/// optional binary exponent (`p`).
fn hex(s: &str) -> Option<f64> {
    let (digits, exp) = match s.find(['p', 'P']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    if let Some(e) = exp {
        let e: i32 = e.parse().ok()?;
        v *= 2f64.powi(e.clamp(-5000, 5000));
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_as_the_c_library_does() {
        let d = |s: &str| parse(s.as_bytes(), true, CType::Double);
        let ld = |s: &str| parse(s.as_bytes(), false, CType::LongDouble);
        assert_eq!(d(""), CFloat::Value(0.0));
        assert_eq!(d("  12.5"), CFloat::Value(12.5));
        assert_eq!(d("+.5"), CFloat::Value(0.5));
        assert_eq!(d("0x1A"), CFloat::Value(26.0));
        assert_eq!(d("-0x1p4"), CFloat::Value(-16.0));
        assert_eq!(d("-Infinity"), CFloat::Value(f64::NEG_INFINITY));
        assert_eq!(d("7\0junk"), CFloat::Value(7.0));
        assert_eq!(d("1e400"), CFloat::Overflow);
        assert_eq!(d("1e-400"), CFloat::Underflow);
        for bad in ["  ", "1 ", "abc", "nan", "0x", "1e", "--1", ".", "0xp1"] {
            assert_eq!(d(bad), CFloat::Invalid, "{bad:?}");
        }
        assert_eq!(ld(" 1"), CFloat::Invalid);
        assert_eq!(ld("1e400"), CFloat::Value(f64::INFINITY));
        assert_eq!(ld("-1e400"), CFloat::Value(f64::NEG_INFINITY));
        assert_eq!(ld("1e-400"), CFloat::Value(f64::from_bits(1)));
        assert_eq!(ld("1e5000"), CFloat::Overflow);
        assert_eq!(ld("0.0001e-5000"), CFloat::Underflow);
        assert_eq!(ld("0.25"), CFloat::Value(0.25));
    }
}
