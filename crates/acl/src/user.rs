//! Users: flags, passwords, a root selector and extra selectors, and the user rules that
//! change them (Redis 7.2's ACLSetUser).

use crate::catalog::Catalog;
use crate::ordered::OrderedMap;
use crate::password::{Digest, hash_password, matches_any, parse_hex_digest};
use crate::rules::RuleError;
use crate::selector::{PubsubDefault, Selector};
use crate::split::{merge_selectors, split_args};

/// One user: what `ACL SETUSER` builds and `AUTH` authenticates as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    name: Vec<u8>,
    enabled: bool,
    nopass: bool,
    skip_sanitize_payload: bool,
    passwords: OrderedMap<Digest, ()>,
    root: Selector,
    selectors: Vec<Selector>,
}

/// Why `ACL SETUSER` (or a rule list anywhere) was refused; the user is left unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetUserError {
    /// The name has blanks or NUL bytes.
    #[error("Usernames can't contain spaces or null characters")]
    InvalidUsername,
    /// A `(` argument is never closed.
    #[error("Unmatched parenthesis in acl selector starting at '{}'.", String::from_utf8_lossy(.start))]
    UnmatchedParenthesis {
        /// The argument that opened the selector.
        start: Vec<u8>,
    },
    /// One rule failed.
    #[error("Error in ACL SETUSER modifier '{}': {error}", String::from_utf8_lossy(.op))]
    Rule {
        /// The rule as given (a selector spread over arguments is joined with spaces).
        op: Vec<u8>,
        /// What is wrong with it.
        error: RuleError,
    },
}

impl SetUserError {
    /// The error text with the rule's exact bytes (the server adds `ERR `).
    pub fn message(&self) -> Vec<u8> {
        let quoted = |head: &str, bytes: &[u8], tail: &str| {
            let mut m = head.as_bytes().to_vec();
            m.extend_from_slice(bytes);
            m.extend_from_slice(tail.as_bytes());
            m
        };
        match self {
            SetUserError::InvalidUsername => self.to_string().into_bytes(),
            SetUserError::UnmatchedParenthesis { start } => quoted(
                "Unmatched parenthesis in acl selector starting at '",
                start,
                "'.",
            ),
            SetUserError::Rule { op, error } => quoted(
                "Error in ACL SETUSER modifier '",
                op,
                &format!("': {error}"),
            ),
        }
    }
}

impl User {
    /// A new user as Redis creates one: off, no password, no permission (channels aside
    /// with `allchannels`), payloads sanitized.
    pub fn new(name: &[u8], pubsub: PubsubDefault) -> User {
        User {
            name: name.to_vec(),
            enabled: false,
            nopass: false,
            skip_sanitize_payload: false,
            passwords: OrderedMap::default(),
            root: Selector::new(pubsub),
            selectors: Vec::new(),
        }
    }

    /// The name.
    pub fn name(&self) -> &[u8] {
        &self.name
    }

    /// `on`: the user may authenticate.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// `nopass`: any password authenticates (for `default`: no AUTH is needed).
    pub fn is_nopass(&self) -> bool {
        self.nopass
    }

    /// Whether RESTORE payloads of this user get deep sanitization (`sanitize-payload`,
    /// the default; `skip-sanitize-payload` turns it off).
    pub fn sanitize_payload(&self) -> bool {
        !self.skip_sanitize_payload
    }

    /// The password digests, in the order they were added.
    pub fn passwords(&self) -> impl Iterator<Item = &Digest> {
        self.passwords.iter().map(|(d, ())| d)
    }

    /// The root selector: the rules given outside parentheses.
    #[inline]
    pub fn root(&self) -> &Selector {
        &self.root
    }

    /// The selectors added with `(...)`, in order.
    #[inline]
    pub fn selectors(&self) -> &[Selector] {
        &self.selectors
    }

    /// The root selector, then the others: a command is allowed if one of them allows it.
    pub fn all_selectors(&self) -> impl Iterator<Item = &Selector> {
        std::iter::once(&self.root).chain(&self.selectors)
    }

    /// Whether `password` authenticates this user (flag `on` aside): `nopass`, or its
    /// digest equals one of the user's, compared in constant time.
    pub fn password_matches(&self, password: &[u8]) -> bool {
        let digest = hash_password(password);
        let found = matches_any(self.passwords(), &digest);
        self.nopass || found
    }

    /// Applies rules as `ACL SETUSER` does: a selector may be spread over several
    /// arguments; all rules apply or, on the first error, none.
    pub fn apply_rules(
        &mut self,
        catalog: &Catalog,
        pubsub: PubsubDefault,
        rules: &[&[u8]],
    ) -> Result<(), SetUserError> {
        let merged =
            merge_selectors(rules).map_err(|start| SetUserError::UnmatchedParenthesis {
                start: rules[start].to_vec(),
            })?;
        let mut staged = self.clone();
        for op in &merged {
            staged
                .apply(catalog, pubsub, op)
                .map_err(|error| SetUserError::Rule {
                    op: op.to_vec(),
                    error,
                })?;
        }
        *self = staged;
        Ok(())
    }

    /// Applies one user rule (Redis's ACLSetUser); on error the user is unchanged. An
    /// empty rule does nothing.
    pub fn apply(
        &mut self,
        catalog: &Catalog,
        pubsub: PubsubDefault,
        op: &[u8],
    ) -> Result<(), RuleError> {
        let is = |word: &str| op.eq_ignore_ascii_case(word.as_bytes());
        if op.is_empty() {
        } else if is("on") {
            self.enabled = true;
        } else if is("off") {
            self.enabled = false;
        } else if is("skip-sanitize-payload") {
            self.skip_sanitize_payload = true;
        } else if is("sanitize-payload") {
            self.skip_sanitize_payload = false;
        } else if is("nopass") {
            self.nopass = true;
            self.passwords.clear();
        } else if is("resetpass") {
            self.nopass = false;
            self.passwords.clear();
        } else if is("clearselectors") {
            self.selectors.clear();
        } else if is("reset") {
            self.passwords.clear();
            self.nopass = false;
            self.enabled = false;
            self.skip_sanitize_payload = false;
            self.selectors.clear();
            // resetkeys, resetchannels (allchannels with that default), -@all.
            self.root = Selector::new(pubsub);
        } else {
            match op {
                [b'>', password @ ..] => self.add_password(hash_password(password)),
                [b'#', hex @ ..] => {
                    self.add_password(parse_hex_digest(hex).ok_or(RuleError::BadHash)?)
                }
                [b'<', password @ ..] => self.remove_password(&hash_password(password))?,
                [b'!', hex @ ..] => {
                    self.remove_password(&parse_hex_digest(hex).ok_or(RuleError::BadHash)?)?
                }
                [b'(', body @ .., b')'] => {
                    // Redis ignores the rules of a body with unbalanced quotes (or after a
                    // NUL) and adds an empty selector; here that is a syntax error.
                    let tokens = split_args(body).ok_or(RuleError::Syntax)?;
                    let mut selector = Selector::new(pubsub);
                    for token in &tokens {
                        selector.apply(catalog, token)?;
                    }
                    self.selectors.push(selector);
                }
                _ => self.root.apply(catalog, op)?,
            }
        }
        Ok(())
    }

    /// `resetpass`, then `>password` or `nopass`.
    pub(crate) fn set_only_password(&mut self, password: Option<&[u8]>) {
        self.passwords.clear();
        self.nopass = password.is_none();
        if let Some(p) = password {
            self.add_password(hash_password(p));
        }
    }

    fn add_password(&mut self, digest: Digest) {
        if !self.passwords.contains(&digest) {
            self.passwords.push(digest, ());
        }
        self.nopass = false;
    }

    fn remove_password(&mut self, digest: &Digest) -> Result<(), RuleError> {
        self.passwords
            .remove(digest)
            .ok_or(RuleError::NoSuchPassword)
    }
}
