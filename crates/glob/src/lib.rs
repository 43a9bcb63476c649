//! Redis's glob-style patterns, as KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET and ACL key and
//! channel patterns use them: `*`, `?`, `[...]` with ranges and `^`, and `\` escapes.
//!
//! Matching takes at most `O(pattern × subject)` steps, whatever the pattern: a `*` that
//! failed is never retried from an earlier position (a naive backtracking matcher is
//! exponential on patterns like `a*a*a*a*b`, which let one client stall a server).

/// A pattern matched many times (ACL key and channel patterns), with its shape worked out
/// once: most are a literal, a literal and a trailing `*`, or `*`, which are comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pattern {
    bytes: Box<[u8]>,
    shape: Shape,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// No special character: the subject must equal it.
    Exact,
    /// Special characters only in a trailing `*` (at this byte): a prefix.
    Prefix(usize),
    /// Anything else: the general matcher.
    General,
}

impl Pattern {
    /// A case-sensitive pattern.
    pub fn new(pat: &[u8]) -> Pattern {
        let shape = match pat
            .iter()
            .position(|b| matches!(b, b'*' | b'?' | b'[' | b'\\'))
        {
            None => Shape::Exact,
            Some(i) if i + 1 == pat.len() && pat[i] == b'*' => Shape::Prefix(i),
            Some(_) => Shape::General,
        };
        Pattern {
            bytes: pat.into(),
            shape,
        }
    }

    /// Whether `s` matches.
    #[inline]
    pub fn matches(&self, s: &[u8]) -> bool {
        match self.shape {
            Shape::Exact => *self.bytes == *s,
            Shape::Prefix(i) => s.starts_with(&self.bytes[..i]),
            Shape::General => glob_match(&self.bytes, s, false),
        }
    }

    /// The pattern as given.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

/// Whether `s` matches `pat`, optionally ignoring ASCII case.
pub fn glob_match(pat: &[u8], s: &[u8], nocase: bool) -> bool {
    let (mut pi, mut si) = (0, 0);
    // Where to resume after the most recent `*`: the pattern after it, and the next
    // subject position it may swallow. Only the latest star matters: any match an earlier
    // star could still give, the latest one gives too.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if pat.get(pi) == Some(&b'*') {
            while pat.get(pi) == Some(&b'*') {
                pi += 1;
            }
            if pi == pat.len() {
                return true;
            }
            star = Some((pi, si));
            continue;
        }
        if si == s.len() {
            // Only stars may be left, and a leading star was consumed above.
            return pi == pat.len();
        }
        if pi < pat.len()
            && let Some(next) = match_one(pat, pi, s[si], nocase)
        {
            pi = next;
            si += 1;
            continue;
        }
        match star {
            Some((sp, ss)) if ss < s.len() => {
                star = Some((sp, ss + 1));
                pi = sp;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// Matches the one-character element (not a `*`) at `pat[i]` against `c`: the position
/// after the element when it matches.
fn match_one(pat: &[u8], i: usize, c: u8, nocase: bool) -> Option<usize> {
    match pat[i] {
        b'?' => Some(i + 1),
        b'[' => class(pat, i + 1, c, nocase),
        b'\\' if i + 1 < pat.len() => eq(pat[i + 1], c, nocase).then_some(i + 2),
        p => eq(p, c, nocase).then_some(i + 1),
    }
}

/// A `[...]` class whose body starts at `pat[i]`; an unterminated class ends with the
/// pattern, as in Redis.
fn class(pat: &[u8], mut i: usize, c: u8, nocase: bool) -> Option<usize> {
    let not = pat.get(i) == Some(&b'^');
    if not {
        i += 1;
    }
    let mut matched = false;
    while i < pat.len() && pat[i] != b']' {
        if pat[i] == b'\\' && i + 1 < pat.len() {
            matched |= eq(pat[i + 1], c, nocase);
            i += 2;
        } else if i + 2 < pat.len() && pat[i + 1] == b'-' {
            let (mut lo, mut hi) = (pat[i], pat[i + 2]);
            if lo > hi {
                std::mem::swap(&mut lo, &mut hi);
            }
            matched |= if nocase {
                let c = c.to_ascii_lowercase();
                c >= lo.to_ascii_lowercase() && c <= hi.to_ascii_lowercase()
            } else {
                c >= lo && c <= hi
            };
            i += 3;
        } else {
            matched |= eq(pat[i], c, nocase);
            i += 1;
        }
    }
    // Past the `]` (or at the end of an unterminated class).
    let next = (i + 1).min(pat.len());
    (matched != not).then_some(next)
}

#[cfg(test)]
mod tests {
    use super::glob_match;
    use proptest::prelude::*;

    #[test]
    fn patterns() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h*llo", b"heeeello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"a\\*b", b"a*b", false));
        assert!(!glob_match(b"a\\*b", b"axb", false));
        assert!(glob_match(b"*", b"", false));
        assert!(!glob_match(b"?", b"", false));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(glob_match(b"a[b", b"ab", false));
        assert!(!glob_match(b"a[", b"ab", false));
        assert!(glob_match(b"a[^", b"ab", false));
        assert!(glob_match(b"a\\", b"a\\", false));
        assert!(glob_match(b"[z-a]", b"q", false));
    }

    /// The pattern of CVE-2022-36021's class: with a backtracking matcher this takes
    /// longer than the age of the universe; here it is a few thousand steps.
    #[test]
    fn pathological_patterns_are_fast() {
        let key = [b'a'; 40];
        let pat = b"a*a*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!glob_match(pat, &key, false));
        let long_pat: Vec<u8> = b"*a".repeat(5000).into_iter().chain(*b"b").collect();
        let long_key = vec![b'a'; 100_000];
        assert!(!glob_match(&long_pat, &long_key, false));
        assert!(glob_match(&long_pat[..10_000], &long_key, false));
    }

    /// Redis's recursive algorithm, unbounded: the oracle for small inputs.
    fn reference(p: &[u8], s: &[u8], nocase: bool) -> bool {
        let eq = |a: u8, b: u8| super::eq(a, b, nocase);
        let (mut p, mut s) = (p, s);
        while !p.is_empty() && !s.is_empty() {
            match p[0] {
                b'*' => {
                    while p.len() > 1 && p[1] == b'*' {
                        p = &p[1..];
                    }
                    if p.len() == 1 {
                        return true;
                    }
                    return (0..s.len()).any(|i| reference(&p[1..], &s[i..], nocase));
                }
                b'?' => s = &s[1..],
                b'[' => {
                    p = &p[1..];
                    let not = p.first() == Some(&b'^');
                    if not {
                        p = &p[1..];
                    }
                    let mut matched = false;
                    while !p.is_empty() && p[0] != b']' {
                        if p[0] == b'\\' && p.len() >= 2 {
                            p = &p[1..];
                            matched |= eq(p[0], s[0]);
                        } else if p.len() >= 3 && p[1] == b'-' {
                            let (lo, hi) = (p[0].min(p[2]), p[0].max(p[2]));
                            let (c, lo, hi) = if nocase {
                                (
                                    s[0].to_ascii_lowercase(),
                                    lo.to_ascii_lowercase(),
                                    hi.to_ascii_lowercase(),
                                )
                            } else {
                                (s[0], lo, hi)
                            };
                            matched |= c >= lo && c <= hi;
                            p = &p[2..];
                        } else {
                            matched |= eq(p[0], s[0]);
                        }
                        p = &p[1..];
                    }
                    if matched == not {
                        return false;
                    }
                    s = &s[1..];
                    if p.is_empty() {
                        return s.is_empty();
                    }
                }
                b'\\' if p.len() >= 2 => {
                    p = &p[1..];
                    if !eq(p[0], s[0]) {
                        return false;
                    }
                    s = &s[1..];
                }
                c => {
                    if !eq(c, s[0]) {
                        return false;
                    }
                    s = &s[1..];
                }
            }
            p = &p[1..];
        }
        while p.first() == Some(&b'*') {
            p = &p[1..];
        }
        p.is_empty() && s.is_empty()
    }

    fn bytes_of(alphabet: &'static [u8], max: usize) -> impl Strategy<Value = Vec<u8>> {
        prop::collection::vec(prop::sample::select(alphabet), 0..max)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn agrees_with_the_recursive_algorithm(
            p in bytes_of(b"ab*?[]^-\\A", 10),
            s in bytes_of(b"ab]-^\\*A", 8),
            nocase in any::<bool>(),
        ) {
            prop_assert_eq!(glob_match(&p, &s, nocase), reference(&p, &s, nocase));
            if !nocase {
                prop_assert_eq!(super::Pattern::new(&p).matches(&s), reference(&p, &s, false));
            }
        }
    }
}
