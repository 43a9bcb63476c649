//! Describing users: the rules of an `ACL LIST` line (which `ACL SAVE` writes and which
//! read back give the same user), and the fields of `ACL GETUSER`.

use crate::password::to_hex;
use crate::selector::{Access, Selector};
use crate::split::push_selector_token;
use crate::user::User;

/// The fields of one selector in `ACL GETUSER`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectorInfo {
    /// `commands`: `+@all` or `-@all`, then the command rules.
    pub commands: Vec<u8>,
    /// `keys`: `~*`, or the key patterns separated by spaces.
    pub keys: Vec<u8>,
    /// `channels`: `&*`, or the channel patterns separated by spaces.
    pub channels: Vec<u8>,
}

/// The fields of `ACL GETUSER`, for the server to render as a map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserInfo {
    /// `flags`: `on`/`off`, `nopass`, `skip-sanitize-payload`/`sanitize-payload`.
    pub flags: Vec<&'static str>,
    /// `passwords`: hex digests.
    pub passwords: Vec<String>,
    /// `commands`, `keys` and `channels` at the top level: the root selector's.
    pub root: SelectorInfo,
    /// `selectors`: the others.
    pub selectors: Vec<SelectorInfo>,
}

impl User {
    /// The flags in Redis's order.
    pub fn flags(&self) -> Vec<&'static str> {
        let mut flags = vec![if self.is_enabled() { "on" } else { "off" }];
        if self.is_nopass() {
            flags.push("nopass");
        }
        flags.push(if self.sanitize_payload() {
            "sanitize-payload"
        } else {
            "skip-sanitize-payload"
        });
        flags
    }

    /// The user's rules as `ACL LIST` shows them after `user <name> `, e.g.
    /// `on nopass sanitize-payload ~* &* +@all`. Applied to a new user they give this one
    /// back.
    pub fn describe(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for flag in self.flags() {
            out.extend_from_slice(flag.as_bytes());
            out.push(b' ');
        }
        for digest in self.passwords() {
            out.push(b'#');
            out.extend_from_slice(to_hex(digest).as_bytes());
            out.push(b' ');
        }
        let root = selector_tokens(self.root());
        out.extend_from_slice(&root.join(&b' '));
        for selector in self.selectors() {
            out.extend_from_slice(b" (");
            for (i, token) in selector_tokens(selector).iter().enumerate() {
                if i > 0 {
                    out.push(b' ');
                }
                push_selector_token(&mut out, token);
            }
            out.push(b')');
        }
        out
    }

    /// The `ACL LIST` (and `ACL SAVE`) line: `user <name> <rules>`.
    pub fn acl_list_line(&self) -> Vec<u8> {
        let mut line = b"user ".to_vec();
        line.extend_from_slice(self.name());
        line.push(b' ');
        line.extend_from_slice(&self.describe());
        line
    }

    /// The fields of `ACL GETUSER`.
    pub fn info(&self) -> UserInfo {
        UserInfo {
            flags: self.flags(),
            passwords: self.passwords().map(|d| to_hex(d)).collect(),
            root: self.root().info(),
            selectors: self.selectors().iter().map(Selector::info).collect(),
        }
    }
}

impl Selector {
    /// The fields of this selector in `ACL GETUSER`.
    pub fn info(&self) -> SelectorInfo {
        let keys = if self.all_keys() {
            b"~*".to_vec()
        } else {
            let patterns: Vec<Vec<u8>> = self
                .key_patterns()
                .map(|(p, a)| key_pattern_token(p, a))
                .collect();
            patterns.join(&b' ')
        };
        let channels = if self.all_channels() {
            b"&*".to_vec()
        } else {
            let patterns: Vec<Vec<u8>> = self
                .channel_patterns()
                .map(|p| [&b"&"[..], p].concat())
                .collect();
            patterns.join(&b' ')
        };
        SelectorInfo {
            commands: self.describe_commands(),
            keys,
            channels,
        }
    }

    /// The command rules: `+@all` or `-@all`, then the rules since.
    pub fn describe_commands(&self) -> Vec<u8> {
        command_tokens(self).join(&b' ')
    }
}

/// A key pattern as a rule. A read-write `*` that is not `allkeys` is written `%RW~*`
/// (Redis writes `~*`, which reads back as `allkeys` and then refuses the patterns after
/// it); otherwise as Redis writes it.
fn key_pattern_token(pattern: &[u8], access: Access) -> Vec<u8> {
    let prefix: &[u8] = match access {
        Access::READ => b"%R~",
        Access::WRITE => b"%W~",
        _ if pattern == b"*" => b"%RW~",
        _ => b"~",
    };
    [prefix, pattern].concat()
}

/// A selector's rules: keys, channels, commands.
fn selector_tokens(selector: &Selector) -> Vec<Vec<u8>> {
    let mut tokens = Vec::new();
    if selector.all_keys() {
        tokens.push(b"~*".to_vec());
    } else {
        tokens.extend(
            selector
                .key_patterns()
                .map(|(p, a)| key_pattern_token(p, a)),
        );
    }
    if selector.all_channels() {
        tokens.push(b"&*".to_vec());
    } else {
        tokens.push(b"resetchannels".to_vec());
        tokens.extend(selector.channel_patterns().map(|p| [&b"&"[..], p].concat()));
    }
    tokens.extend(command_tokens(selector));
    tokens
}

fn command_tokens(selector: &Selector) -> Vec<Vec<u8>> {
    let first: &[u8] = if selector.allows_future_commands() {
        b"+@all"
    } else {
        b"-@all"
    };
    let mut tokens = vec![first.to_vec()];
    if selector.has_command_rules() {
        tokens.extend(
            selector
                .command_rules()
                .map(|(body, allow)| [if allow { &b"+"[..] } else { b"-" }, body].concat()),
        );
    }
    tokens
}
