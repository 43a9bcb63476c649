//! The table's data, one file per group of commands, joined into one array at compile time.

mod connection;
mod generic;
mod geo;
mod hash;
mod list;
mod server;
mod set;
mod sorted_set;
mod stream;
mod string;

use super::spec::CommandSpec;

/// The groups, in the order their commands take ids.
const GROUPS: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    server::COMMANDS,
    generic::COMMANDS,
    string::COMMANDS,
    hash::COMMANDS,
    set::COMMANDS,
    stream::COMMANDS,
    geo::COMMANDS,
    list::COMMANDS,
    sorted_set::COMMANDS,
];

/// How many commands the groups hold.
const fn total(groups: &[&[CommandSpec]]) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < groups.len() {
        n += groups[i].len();
        i += 1;
    }
    n
}

const COUNT: usize = total(GROUPS);

/// The groups' commands in one array.
const fn join<const N: usize>(groups: &[&[CommandSpec]]) -> [CommandSpec; N] {
    let mut out = [groups[0][0]; N];
    let mut k = 0;
    let mut i = 0;
    while i < groups.len() {
        let mut j = 0;
        while j < groups[i].len() {
            out[k] = groups[i][j];
            k += 1;
            j += 1;
        }
        i += 1;
    }
    assert!(k == N, "every command of every group is copied once");
    out
}

/// Every top-level command, in id order.
pub(super) static ALL: [CommandSpec; COUNT] = join(GROUPS);
