//! What one command knows of each member or field it names, found in linear time however
//! many it names.

use std::collections::HashMap;

/// Per name (member, field) a command mentions, a value of its own: a few names are found
/// by comparing them (most commands name one), many through a table, so that naming a
/// member again never costs a scan of all the others.
pub(crate) enum Named<'a, T> {
    /// Up to [`Named::FEW`] names, in the order first named.
    Few(Vec<(&'a [u8], T)>),
    /// More.
    Many(HashMap<&'a [u8], T>),
}

impl<'a, T> Named<'a, T> {
    /// Up to this many names are kept in a list.
    pub(crate) const FEW: usize = 8;

    /// Room for `n` names.
    pub(crate) fn with_capacity(n: usize) -> Self {
        if n <= Self::FEW {
            Named::Few(Vec::with_capacity(n))
        } else {
            Named::Many(HashMap::with_capacity(n))
        }
    }

    /// The value of `name`, made by `first` the first time it is named.
    pub(crate) fn entry(&mut self, name: &'a [u8], first: impl FnOnce() -> T) -> &mut T {
        match self {
            Named::Few(list) => {
                let at = match list.iter().position(|(x, _)| *x == name) {
                    Some(at) => at,
                    None => {
                        list.push((name, first()));
                        list.len() - 1
                    }
                };
                &mut list[at].1
            }
            Named::Many(map) => map.entry(name).or_insert_with(first),
        }
    }
}

impl<'a> Named<'a, ()> {
    /// Whether `name` is named here for the first time.
    pub(crate) fn first(&mut self, name: &'a [u8]) -> bool {
        let mut new = false;
        self.entry(name, || new = true);
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_made_once_is_found_again_few_or_many() {
        for n in [6usize, 40] {
            let names: Vec<String> = (0..n).map(|i| format!("f{}", i % 5)).collect();
            let mut named = Named::with_capacity(names.len());
            let mut made = 0;
            for name in &names {
                let count = named.entry(name.as_bytes(), || {
                    made += 1;
                    0
                });
                *count += 1;
            }
            assert_eq!(made, 5);
            // names[0..5] are f0..f4.
            for name in &names[..5] {
                let count = *named.entry(name.as_bytes(), || 0);
                assert_eq!(count, names.iter().filter(|x| *x == name).count());
            }
        }
    }
}
