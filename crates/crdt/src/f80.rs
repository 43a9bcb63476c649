//! x87 extended precision (64-bit mantissa) in software.
//!
//! Redis computes INCRBYFLOAT and HINCRBYFLOAT in C's `long double` and prints the result
//! with `%.17Lf`. To give the same replies, float counters here use the same precision,
//! with the same correctly rounded parsing, round-half-even addition and exact printing.

use num_bigint::BigUint;
use num_integer::Integer;
use num_traits::{One, ToPrimitive, Zero};
use std::cmp::Ordering;

/// Largest exponent (of the lowest mantissa bit) of a finite value.
const MAX_EXP: i64 = 16383 - 63;
/// Smallest exponent of a normal value; smaller results flush to zero.
const MIN_EXP: i64 = -16382 - 63;

/// An extended-precision float: `(-1)^neg * mant * 2^exp`, mantissa normalized (top bit set)
/// unless zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct F80 {
    neg: bool,
    mant: u64,
    exp: i32,
    inf: bool,
}

impl F80 {
    /// Zero.
    pub const ZERO: F80 = F80 {
        neg: false,
        mant: 0,
        exp: 0,
        inf: false,
    };

    fn infinity(neg: bool) -> F80 {
        F80 {
            neg,
            mant: 0,
            exp: 0,
            inf: true,
        }
    }

    /// Whether the value is finite.
    pub fn is_finite(self) -> bool {
        !self.inf
    }

    /// Whether the value is zero.
    pub fn is_zero(self) -> bool {
        !self.inf && self.mant == 0
    }

    /// Rounds `n * 2^shift` (with `sticky` meaning "a little more than n") to the format.
    fn round(neg: bool, n: &BigUint, shift: i64, sticky: bool) -> F80 {
        if n.is_zero() {
            return F80 { neg, ..F80::ZERO };
        }
        let bits = n.bits() as i64;
        let (mant, exp) = if bits > 64 {
            let drop = (bits - 64) as usize;
            let q = n >> drop;
            let rem = n - (&q << drop);
            let half = BigUint::one() << (drop - 1);
            let mut m = q.to_u64().unwrap_or(u64::MAX);
            let up = match rem.cmp(&half) {
                Ordering::Greater => true,
                Ordering::Equal => sticky || m & 1 == 1,
                Ordering::Less => false,
            };
            let mut e = shift + drop as i64;
            if up {
                match m.checked_add(1) {
                    Some(v) => m = v,
                    None => {
                        m = 1 << 63;
                        e += 1;
                    }
                }
            }
            (m, e)
        } else {
            let m = n.to_u64().unwrap_or(0) << (64 - bits);
            (m, shift - (64 - bits))
        };
        if exp > MAX_EXP {
            return F80::infinity(neg);
        }
        if exp < MIN_EXP {
            return F80 { neg, ..F80::ZERO };
        }
        F80 {
            neg,
            mant,
            exp: exp as i32,
            inf: false,
        }
    }

    /// The exact value of an integer.
    pub fn from_i64(v: i64) -> F80 {
        F80::round(v < 0, &BigUint::from(v.unsigned_abs()), 0, false)
    }

    /// Parses a decimal float as `strtold` does (no hex forms), correctly rounded. Refuses
    /// NaN, surrounding space and trailing garbage, as Redis does.
    pub fn parse(s: &[u8]) -> Option<F80> {
        if s.is_empty() || s.len() >= 5 * 1024 {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        let lower = body.to_ascii_lowercase();
        if lower == b"inf" || lower == b"infinity" {
            return Some(F80::infinity(neg));
        }
        let mut digits = BigUint::zero();
        let mut exp10: i64 = 0;
        let mut i = 0;
        let mut any = false;
        let mut ndigits = 0usize;
        while i < body.len() && body[i].is_ascii_digit() {
            if ndigits < 6000 {
                digits = digits * 10u32 + u32::from(body[i] - b'0');
                ndigits += usize::from(!digits.is_zero());
            } else {
                exp10 += 1;
            }
            any = true;
            i += 1;
        }
        if i < body.len() && body[i] == b'.' {
            i += 1;
            while i < body.len() && body[i].is_ascii_digit() {
                if ndigits < 6000 {
                    digits = digits * 10u32 + u32::from(body[i] - b'0');
                    ndigits += usize::from(!digits.is_zero());
                    exp10 -= 1;
                }
                any = true;
                i += 1;
            }
        }
        if !any {
            return None;
        }
        if i < body.len() && (body[i] == b'e' || body[i] == b'E') {
            i += 1;
            let eneg = match body.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let start = i;
            let mut e: i64 = 0;
            while i < body.len() && body[i].is_ascii_digit() {
                e = (e * 10 + i64::from(body[i] - b'0')).min(1_000_000);
                i += 1;
            }
            if i == start {
                return None;
            }
            exp10 += if eneg { -e } else { e };
        }
        if i != body.len() {
            return None;
        }
        F80::from_decimal(neg, &digits, exp10)
    }

    /// Rounds `digits * 10^exp10`; `None` when it overflows or underflows to zero, which
    /// `strtold` reports as a range error and Redis refuses.
    fn from_decimal(neg: bool, digits: &BigUint, exp10: i64) -> Option<F80> {
        if digits.is_zero() {
            return Some(F80 { neg, ..F80::ZERO });
        }
        let ndig = digits.bits() as i64 * 30103 / 100_000;
        if exp10 + ndig > 5000 || exp10 + ndig < -5100 {
            return None;
        }
        let v = if exp10 >= 0 {
            let n = digits * BigUint::from(10u32).pow(exp10 as u32);
            F80::round(neg, &n, 0, false)
        } else {
            let den = BigUint::from(10u32).pow((-exp10) as u32);
            let k = (66 + den.bits() as i64 - digits.bits() as i64).max(0);
            let (q, r) = (digits << k as usize).div_rem(&den);
            F80::round(neg, &q, -k, !r.is_zero())
        };
        (v.is_finite() && !v.is_zero()).then_some(v)
    }

    /// Splits into a sign and an exact (magnitude, exponent) pair.
    fn parts(self) -> (bool, BigUint, i64) {
        (self.neg, BigUint::from(self.mant), i64::from(self.exp))
    }

    /// The sum, rounded to nearest, ties to even.
    pub fn plus(self, other: F80) -> F80 {
        if self.inf || other.inf {
            if self.inf && other.inf && self.neg != other.neg {
                // NaN: callers refuse non-finite results anyway.
                return F80::infinity(false);
            }
            return if self.inf { self } else { other };
        }
        if self.mant == 0 {
            return if other.mant == 0 {
                F80 {
                    neg: self.neg && other.neg,
                    ..F80::ZERO
                }
            } else {
                other
            };
        }
        if other.mant == 0 {
            return self;
        }
        let (an, am, ae) = self.parts();
        let (bn, bm, be) = other.parts();
        // Far apart: the smaller one is below half an ulp of the larger.
        if (ae - be).abs() > 140 {
            return if ae > be { self } else { other };
        }
        let e = ae.min(be);
        let a = am << (ae - e) as usize;
        let b = bm << (be - e) as usize;
        if an == bn {
            F80::round(an, &(a + b), e, false)
        } else {
            match a.cmp(&b) {
                Ordering::Equal => F80::ZERO,
                Ordering::Greater => F80::round(an, &(a - b), e, false),
                Ordering::Less => F80::round(bn, &(b - a), e, false),
            }
        }
    }

    /// The raw parts (sign, mantissa, exponent, infinite), for encoding.
    pub fn to_parts(self) -> (bool, u64, i32, bool) {
        (self.neg, self.mant, self.exp, self.inf)
    }

    /// Rebuilds a value from [`F80::to_parts`]; `None` if the parts are not canonical.
    pub fn from_parts(neg: bool, mant: u64, exp: i32, inf: bool) -> Option<F80> {
        let ok = if inf {
            mant == 0 && exp == 0
        } else if mant == 0 {
            exp == 0
        } else {
            mant >> 63 == 1 && (MIN_EXP..=MAX_EXP).contains(&i64::from(exp))
        };
        ok.then_some(F80 {
            neg,
            mant,
            exp,
            inf,
        })
    }

    /// The exact value of a finite `f64` (infinities map to infinities; NaN to zero).
    pub fn from_f64(v: f64) -> F80 {
        if v.is_infinite() {
            return F80::infinity(v < 0.0);
        }
        if v == 0.0 || v.is_nan() {
            return F80 {
                neg: v.is_sign_negative() && v == 0.0,
                ..F80::ZERO
            };
        }
        let bits = v.to_bits();
        let neg = bits >> 63 == 1;
        let e = ((bits >> 52) & 0x7ff) as i64;
        let f = bits & ((1u64 << 52) - 1);
        let (m, exp) = if e == 0 {
            (f, -1074)
        } else {
            (f | (1 << 52), e - 1075)
        };
        F80::round(neg, &BigUint::from(m), exp, false)
    }

    /// The nearest `f64`.
    pub fn to_f64(self) -> f64 {
        if self.inf {
            return if self.neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            };
        }
        let v = (self.mant as f64) * 2f64.powi(self.exp.clamp(-2000, 2000));
        if self.neg { -v } else { v }
    }

    /// Prints as INCRBYFLOAT replies (`%.17Lf`, trailing zeros and a trailing dot removed,
    /// `-0` printed as `0`).
    pub fn to_human(self) -> String {
        if self.inf {
            return if self.neg {
                "-inf".into()
            } else {
                "inf".into()
            };
        }
        let scale = BigUint::from(10u32).pow(17);
        let m = BigUint::from(self.mant) * &scale;
        let n = if self.exp >= 0 {
            m << self.exp as usize
        } else {
            let sh = (-i64::from(self.exp)) as usize;
            let q = &m >> sh;
            let rem = &m - (&q << sh);
            let half = BigUint::one() << (sh - 1);
            match rem.cmp(&half) {
                Ordering::Greater => q + 1u32,
                Ordering::Equal if q.is_odd() => q + 1u32,
                _ => q,
            }
        };
        let mut digits = n.to_str_radix(10);
        while digits.len() < 18 {
            digits.insert(0, '0');
        }
        let (int, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let mut s = String::new();
        if self.neg {
            s.push('-');
        }
        s.push_str(int);
        if !frac.is_empty() {
            s.push('.');
            s.push_str(frac);
        }
        if s == "-0" { "0".into() } else { s }
    }
}

impl std::ops::Add for F80 {
    type Output = F80;

    fn add(self, other: F80) -> F80 {
        self.plus(other)
    }
}

#[cfg(test)]
mod tests {
    use super::F80;

    fn p(s: &str) -> F80 {
        F80::parse(s.as_bytes()).expect("parses")
    }

    #[test]
    fn prints_like_redis_long_double() {
        assert_eq!(
            p("12345.678").plus(p("0.001")).to_human(),
            "12345.67900000000000027"
        );
        assert_eq!(p("10.5").plus(p("0.1")).to_human(), "10.6");
        assert_eq!(
            p("3.523372036854775808").plus(p("1e2")).to_human(),
            "103.5233720368547758"
        );
        assert_eq!(p("0.1").plus(p("0.2")).to_human(), "0.3");
        assert_eq!(p("5.0e3").plus(p("2.0e2")).to_human(), "5200");
        assert_eq!(
            p("-9223372036854775808").plus(p("2.75")).to_human(),
            "-9223372036854775805"
        );
        assert_eq!(p("1.1").plus(p("1e-20")).to_human(), "1.1");
        assert_eq!(p("3.0e-18").to_human(), "0");
        assert_eq!(p("-0.0").to_human(), "0");
        assert_eq!(F80::from_i64(i64::MIN).to_human(), "-9223372036854775808");
        assert!(p("1e400").is_finite());
        assert_eq!(F80::parse(b"1e5000"), None);
        assert_eq!(F80::parse(b"1e-5000"), None);
        assert_eq!(F80::parse(b"1e39223372036854775807"), None);
        assert!(p("inf").plus(p("1")).to_human() == "inf");
    }

    #[test]
    fn refuses_what_strtold_refuses() {
        for bad in ["", "abc", " 1", "1 ", "1e", "nan", ".", "-", "1.2.3"] {
            assert_eq!(F80::parse(bad.as_bytes()), None, "{bad:?}");
        }
        assert!(F80::parse(b".5").is_some());
        assert!(F80::parse(b"5.").is_some());
        assert!(F80::parse(b"+5").is_some());
    }
}
