//! ACL files (`aclfile`): `ACL LOAD` reads every line or changes nothing, `ACL SAVE`
//! writes the `ACL LIST` lines.

use std::collections::BTreeMap;
use std::fmt;

use crate::catalog::Catalog;
use crate::rules::RuleError;
use crate::split::{has_space_or_nul, merge_selectors};
use crate::user::User;
use crate::users::Users;

/// One problem of an ACL file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FileProblem {
    /// A line that is not `user <name> ...` (comments are not allowed: `ACL SAVE` would
    /// drop them).
    NotAUserLine {
        /// 1-based line number.
        line: usize,
    },
    /// A username with blanks or NUL bytes.
    InvalidUsername {
        /// 1-based line number.
        line: usize,
        /// The name.
        name: Vec<u8>,
    },
    /// A user defined twice.
    Duplicate {
        /// 1-based line number of the second definition.
        line: usize,
        /// The name.
        name: Vec<u8>,
    },
    /// A `(` never closed.
    UnmatchedParenthesis {
        /// 1-based line number.
        line: usize,
    },
    /// A rule naming an unknown command or category (every one is reported).
    UnknownCommand {
        /// 1-based line number.
        line: usize,
        /// The rule.
        rule: Vec<u8>,
    },
    /// Another rule error (only the first of a line is reported, without the rule, which
    /// could be a password).
    Rule {
        /// 1-based line number.
        line: usize,
        /// Why.
        error: RuleError,
    },
}

/// Why `ACL LOAD` changed nothing: every problem found, rendered as Redis renders them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AclFileError {
    /// The file name, as the messages show it.
    pub filename: String,
    /// The problems, in line order.
    pub problems: Vec<FileProblem>,
}

impl AclFileError {
    /// The error text (the server adds `ERR `), with names and rules as their bytes.
    pub fn message(&self) -> Vec<u8> {
        let f = self.filename.as_bytes();
        let mut m = Vec::new();
        let mut put = |parts: &[&[u8]]| parts.iter().for_each(|p| m.extend_from_slice(p));
        for p in &self.problems {
            match p {
                FileProblem::NotAUserLine { line } => put(&[
                    f,
                    b":",
                    line.to_string().as_bytes(),
                    b" should start with user keyword followed by the username. ",
                ]),
                // Redis's text starts with a stray quote; kept so messages match.
                FileProblem::InvalidUsername { line, name } => put(&[
                    b"'",
                    f,
                    b":",
                    line.to_string().as_bytes(),
                    b": username '",
                    name,
                    b"' contains invalid characters. ",
                ]),
                FileProblem::Duplicate { line, name } => put(&[
                    b"WARNING: Duplicate user '",
                    name,
                    b"' found on line ",
                    line.to_string().as_bytes(),
                    b". ",
                ]),
                FileProblem::UnmatchedParenthesis { line } => put(&[
                    f,
                    b":",
                    line.to_string().as_bytes(),
                    b": Unmatched parenthesis in selector definition.",
                ]),
                FileProblem::UnknownCommand { line, rule } => put(&[
                    f,
                    b":",
                    line.to_string().as_bytes(),
                    b": Error in applying operation '",
                    rule,
                    b"': ",
                    RuleError::UnknownCommand.to_string().as_bytes(),
                    b". ",
                ]),
                FileProblem::Rule { line, error } => put(&[
                    f,
                    b":",
                    line.to_string().as_bytes(),
                    b": ",
                    error.to_string().as_bytes(),
                    b". ",
                ]),
            }
        }
        put(&[b"WARNING: ACL errors detected, no change to the previously active ACL rules was performed"]);
        m
    }
}

impl fmt::Display for AclFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.message()))
    }
}

impl std::error::Error for AclFileError {}

/// Bytes Redis trims around each line.
fn trim<'a>(s: &'a [u8], set: &[u8]) -> &'a [u8] {
    let start = s.iter().position(|b| !set.contains(b)).unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !set.contains(b))
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

impl Users {
    /// `ACL LOAD`: the users of an ACL file's text, replacing all current ones (the
    /// settings stay). Blank lines are skipped; every other line is `user <name> <rules>`
    /// with single spaces between tokens (quotes mean nothing here, except inside a
    /// selector). A missing `default` user is created as at startup. On any problem,
    /// nothing is loaded and every problem is reported, each naming `filename` and its
    /// line.
    pub fn load_acl_file(
        &self,
        catalog: &Catalog,
        filename: &str,
        text: &[u8],
    ) -> Result<Users, AclFileError> {
        let pubsub = self.pubsub_default();
        let mut users: BTreeMap<Vec<u8>, User> = BTreeMap::new();
        let mut problems = Vec::new();
        for (i, line) in text.split(|&b| b == b'\n').enumerate() {
            let line_no = i + 1;
            let line = trim(line, b" \t\r\n");
            if line.is_empty() {
                continue;
            }
            let argv: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
            let name = match argv.as_slice() {
                [first, name, ..] if *first == b"user" => *name,
                _ => {
                    problems.push(FileProblem::NotAUserLine { line: line_no });
                    continue;
                }
            };
            if has_space_or_nul(name) {
                problems.push(FileProblem::InvalidUsername {
                    line: line_no,
                    name: name.to_vec(),
                });
                continue;
            }
            if users.contains_key(name) {
                problems.push(FileProblem::Duplicate {
                    line: line_no,
                    name: name.to_vec(),
                });
                continue;
            }
            let mut user = User::new(name, pubsub);
            match merge_selectors(&argv[2..]) {
                Err(_) => problems.push(FileProblem::UnmatchedParenthesis { line: line_no }),
                Ok(ops) => {
                    let mut reported_other = false;
                    for op in &ops {
                        let op = trim(op, b"\t\r\n");
                        match user.apply(catalog, pubsub, op) {
                            Ok(()) => {}
                            Err(RuleError::UnknownCommand) => {
                                problems.push(FileProblem::UnknownCommand {
                                    line: line_no,
                                    rule: op.to_vec(),
                                });
                            }
                            Err(error) if !reported_other => {
                                reported_other = true;
                                problems.push(FileProblem::Rule {
                                    line: line_no,
                                    error,
                                });
                            }
                            Err(_) => {}
                        }
                    }
                }
            }
            users.insert(name.to_vec(), user);
        }
        if problems.is_empty() {
            Ok(Users::from_users(catalog, pubsub, users))
        } else {
            Err(AclFileError {
                filename: filename.to_owned(),
                problems,
            })
        }
    }

    /// `ACL SAVE`: the text of an ACL file holding these users, one `ACL LIST` line each.
    pub fn to_acl_file(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for user in self.iter() {
            out.extend_from_slice(&user.acl_list_line());
            out.push(b'\n');
        }
        out
    }
}
