//! Numbers as Lua 5.1 prints them (`%.14g`), for arguments and JSON.

/// `n` formatted as C's `%.14g`.
pub(crate) fn g14(n: f64) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.into();
    }
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.into();
    }
    const P: i32 = 14;
    // The exponent after rounding to 14 significant digits decides the form.
    let e = format!("{:.*e}", (P - 1) as usize, n);
    let (mantissa, exp) = e.split_once('e').expect("exponent form");
    let x: i32 = exp.parse().expect("exponent digits");
    if (-4..P).contains(&x) {
        let decimals = (P - 1 - x) as usize;
        strip(&format!("{n:.decimals$}")).to_string()
    } else {
        let sign = if x < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), x.abs())
    }
}

/// Drops trailing zeros of a fraction, and the point if nothing follows it.
fn strip(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::g14;

    #[test]
    fn matches_c_printf() {
        for (n, want) in [
            (1.0, "1"),
            (-3.5, "-3.5"),
            (0.1, "0.1"),
            (1e15, "1e+15"),
            (123456789012345.0, "1.2345678901234e+14"),
            (12345678901234.0, "12345678901234"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1.0 / 3.0, "0.33333333333333"),
            (2.5e-300, "2.5e-300"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(g14(n), want, "{n}");
        }
    }
}
