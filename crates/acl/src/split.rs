//! How rule text is cut into rules: selectors spread over several arguments are joined
//! back, a selector's body is split the way Redis splits arguments (with `"` and `'`
//! quoting), and tokens that would not survive that split are quoted when described.

use std::borrow::Cow;

/// C's `isspace` in the C locale.
pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// Whether Redis refuses the bytes as a username, key or channel pattern: they could not
/// be written back on one line of rules.
pub(crate) fn has_space_or_nul(s: &[u8]) -> bool {
    s.iter().any(|&b| is_space(b) || b == 0)
}

/// Joins a selector given over several arguments (`(+get`, `~key)`) into one rule, as
/// Redis's ACLMergeSelectorArguments does. On an unclosed `(`, the index of the argument
/// that opened it.
pub(crate) fn merge_selectors<'a>(args: &[&'a [u8]]) -> Result<Vec<Cow<'a, [u8]>>, usize> {
    let mut out = Vec::with_capacity(args.len());
    let mut open: Option<(usize, Vec<u8>)> = None;
    for (i, &arg) in args.iter().enumerate() {
        match open.as_mut() {
            None => {
                if arg.first() == Some(&b'(') && arg.last() != Some(&b')') {
                    open = Some((i, arg.to_vec()));
                } else {
                    out.push(Cow::Borrowed(arg));
                }
            }
            Some((_, sel)) => {
                sel.push(b' ');
                sel.extend_from_slice(arg);
                if arg.last() == Some(&b')')
                    && let Some((_, sel)) = open.take()
                {
                    out.push(Cow::Owned(sel));
                }
            }
        }
    }
    match open {
        Some((start, _)) => Err(start),
        None => Ok(out),
    }
}

/// Splits a selector's body like Redis's sdssplitargs: blanks separate tokens, `"..."`
/// takes `\xHH` and C escapes, `'...'` takes `\'`, and a closing quote must end the token.
/// `None` on unbalanced quotes or a NUL byte (Redis would stop reading at the NUL).
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    if line.contains(&0) {
        return None;
    }
    concord_resp::split_args(line)
}

/// Appends a token of a selector's description so that [`merge_selectors`] and
/// [`split_args`] give it back unchanged: quoted when it holds a quote or ends with `)`
/// (which would close the selector early when the line is read back).
pub(crate) fn push_selector_token(out: &mut Vec<u8>, token: &[u8]) {
    let plain = !token.iter().any(|&b| b == b'"' || b == b'\'') && token.last() != Some(&b')');
    if plain {
        out.extend_from_slice(token);
        return;
    }
    out.push(b'"');
    for &b in token {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            // Tokens have no blanks or NULs (the rules refuse them), so nothing else
            // needs escaping; bytes above 0x7f pass through as they are.
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|t| String::from_utf8(t).unwrap())
                .collect()
        })
    }

    #[test]
    fn splits_like_sdssplitargs() {
        assert_eq!(split("  ~a  +get "), Some(vec!["~a".into(), "+get".into()]));
        assert_eq!(split(""), Some(vec![]));
        assert_eq!(
            split("\"a b\" 'c d'"),
            Some(vec!["a b".into(), "c d".into()])
        );
        assert_eq!(split("~\"x\\x41\\n\""), Some(vec!["~xA\n".into()]));
        assert_eq!(split("'it\\'s'"), Some(vec!["it's".into()]));
        assert_eq!(split("\"abc"), None);
        assert_eq!(split("'abc"), None);
        assert_eq!(split("\"a\"b"), None);
        assert_eq!(split("a\0b"), None);
        // A vertical tab is blank between tokens but not inside one.
        assert_eq!(split("\x0ba\x0bb"), Some(vec!["a\x0bb".into()]));
        assert_eq!(split("\"\""), Some(vec!["".into()]));
    }

    #[test]
    fn merges_selectors() {
        let args: Vec<&[u8]> = vec![b"on", b"(+get", b"~a", b"~b)", b"(~c)", b"off"];
        let merged = merge_selectors(&args).unwrap();
        let merged: Vec<&[u8]> = merged.iter().map(|c| c.as_ref()).collect();
        assert_eq!(
            merged,
            [&b"on"[..], b"(+get ~a ~b)", b"(~c)", b"off"].to_vec()
        );
        let args: Vec<&[u8]> = vec![b"on", b"(+get", b"(~a"];
        assert_eq!(merge_selectors(&args), Err(1));
        let args: Vec<&[u8]> = vec![b"(", b"", b")"];
        assert_eq!(merge_selectors(&args).unwrap()[0].as_ref(), b"(  )");
    }

    #[test]
    fn quoted_tokens_come_back() {
        for tok in [
            &b"~a\"b"[..],
            b"~x)",
            b"+select|it's",
            b"~\\\"",
            b"~plain",
            b"~\xff)",
        ] {
            let mut line = b"(".to_vec();
            push_selector_token(&mut line, tok);
            line.extend_from_slice(b" -@all)");
            let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            let merged = merge_selectors(&parts).unwrap();
            assert_eq!(merged.len(), 1);
            let body = &merged[0][1..merged[0].len() - 1];
            assert_eq!(split_args(body).unwrap(), [tok.to_vec(), b"-@all".to_vec()]);
        }
    }
}
