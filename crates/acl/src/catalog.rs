//! The command vocabulary rules name: every command and subcommand with a dense id, its
//! categories and whether it needs no authentication. The server builds it once from its
//! command table; users keep one bit per id.

use std::collections::BTreeMap;

use crate::category::{Categories, Category};

/// A command's dense id in a [`Catalog`] (its bit in a selector's command bitmap).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CommandId(u32);

impl CommandId {
    /// The id as an index (0, 1, 2, ... in the order commands were added).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// One command or subcommand of a [`Catalog`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandInfo {
    /// Its id.
    pub id: CommandId,
    /// Full lower-case name: `get`, or `config|get` for a subcommand.
    pub name: String,
    /// The container command of a subcommand.
    pub parent: Option<CommandId>,
    /// The subcommands of a container command, in the order they were added.
    pub subcommands: Vec<CommandId>,
    /// Its ACL categories (explicit and implicit, as the caller computed them).
    pub categories: Categories,
    /// Redis's NO_AUTH flag: every user may run it, whatever the rules say.
    pub no_auth: bool,
}

/// Why a command could not be added to a [`Catalog`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// Names are non-empty lower-case ASCII without spaces or `|`.
    #[error("invalid command name '{0}'")]
    InvalidName(String),
    /// The name is taken.
    #[error("duplicate command name '{0}'")]
    Duplicate(String),
    /// A subcommand's parent must be a top-level command of this catalog.
    #[error("'{0}' cannot have subcommands")]
    BadParent(String),
    /// More commands than ids.
    #[error("too many commands")]
    Full,
}

/// The commands ACL rules can name, each with a dense [`CommandId`].
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    commands: Vec<CommandInfo>,
    by_name: BTreeMap<String, CommandId>,
    /// Per category: the ids `+@cat` turns on. A top-level command of the category
    /// brings all its subcommands along, whatever their own categories (as Redis does).
    category_members: [Vec<CommandId>; Category::ALL.len()],
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Adds a top-level command; `name` is lower-cased.
    pub fn add_command(
        &mut self,
        name: &str,
        categories: Categories,
        no_auth: bool,
    ) -> Result<CommandId, CatalogError> {
        let name = checked_name(name)?;
        self.push(name, None, categories, no_auth)
    }

    /// Adds a subcommand (`sub` without its parent's name) to a top-level command.
    pub fn add_subcommand(
        &mut self,
        parent: CommandId,
        sub: &str,
        categories: Categories,
        no_auth: bool,
    ) -> Result<CommandId, CatalogError> {
        let sub = checked_name(sub)?;
        let Some(p) = self.get(parent) else {
            return Err(CatalogError::BadParent(format!("#{}", parent.0)));
        };
        if p.parent.is_some() {
            return Err(CatalogError::BadParent(p.name.clone()));
        }
        let full = format!("{}|{}", p.name, sub);
        let id = self.push(full, Some(parent), categories, no_auth)?;
        self.commands[parent.index()].subcommands.push(id);
        Ok(id)
    }

    fn push(
        &mut self,
        name: String,
        parent: Option<CommandId>,
        categories: Categories,
        no_auth: bool,
    ) -> Result<CommandId, CatalogError> {
        if self.by_name.contains_key(&name) {
            return Err(CatalogError::Duplicate(name));
        }
        let id = CommandId(u32::try_from(self.commands.len()).map_err(|_| CatalogError::Full)?);
        let parent_cats = parent.map_or(Categories::NONE, |p| self.commands[p.index()].categories);
        for (i, c) in Category::ALL.into_iter().enumerate() {
            if categories.has(c) || parent_cats.has(c) {
                self.category_members[i].push(id);
            }
        }
        self.by_name.insert(name.clone(), id);
        self.commands.push(CommandInfo {
            id,
            name,
            parent,
            subcommands: Vec::new(),
            categories,
            no_auth,
        });
        Ok(id)
    }

    /// The command of an id.
    pub fn get(&self, id: CommandId) -> Option<&CommandInfo> {
        self.commands.get(id.index())
    }

    /// The command a rule names (`get`, `CONFIG|get`: ASCII case ignored). As in Redis,
    /// only `parent|sub` reaches a subcommand.
    pub fn lookup(&self, name: &[u8]) -> Option<&CommandInfo> {
        let lower = std::str::from_utf8(name).ok()?.to_ascii_lowercase();
        self.by_name.get(&lower).and_then(|id| self.get(*id))
    }

    /// Number of commands and subcommands.
    pub fn len(&self) -> usize {
        self.commands.len()
    }

    /// Whether the catalog has no command.
    pub fn is_empty(&self) -> bool {
        self.commands.is_empty()
    }

    /// Every command and subcommand, by id.
    pub fn iter(&self) -> impl Iterator<Item = &CommandInfo> {
        self.commands.iter()
    }

    /// What `ACL CAT <category>` lists: the commands and subcommands that are themselves
    /// in the category, each container followed by its subcommands.
    pub fn commands_in(&self, category: Category) -> Vec<&str> {
        let mut out = Vec::new();
        for top in self.commands.iter().filter(|c| c.parent.is_none()) {
            if top.categories.has(category) {
                out.push(top.name.as_str());
            }
            for sub in &top.subcommands {
                let sub = &self.commands[sub.index()];
                if sub.categories.has(category) {
                    out.push(sub.name.as_str());
                }
            }
        }
        out
    }

    /// The ids `+@category` and `-@category` set.
    pub(crate) fn category_members(&self, category: Category) -> &[CommandId] {
        let i = Category::ALL
            .iter()
            .position(|c| *c == category)
            .unwrap_or_default();
        &self.category_members[i]
    }
}

fn checked_name(name: &str) -> Result<String, CatalogError> {
    let ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'|' && b != b'"' && b != b'\'');
    if ok {
        Ok(name.to_ascii_lowercase())
    } else {
        Err(CatalogError::InvalidName(name.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Category::*;

    #[test]
    fn lookup_and_categories() {
        let mut c = Catalog::new();
        let get = c
            .add_command("GET", Categories::of(&[Read, String]), false)
            .unwrap();
        let config = c.add_command("config", Categories::NONE, false).unwrap();
        let cget = c
            .add_subcommand(config, "get", Categories::of(&[Admin]), false)
            .unwrap();
        let client = c
            .add_command("client", Categories::of(&[Connection]), false)
            .unwrap();
        let cid = c
            .add_subcommand(client, "id", Categories::of(&[Fast]), false)
            .unwrap();
        assert_eq!(c.lookup(b"Get").unwrap().id, get);
        assert_eq!(c.lookup(b"CONFIG|GET").unwrap().id, cget);
        assert_eq!(c.lookup(b"config|get").unwrap().parent, Some(config));
        assert!(c.lookup(b"get|x").is_none());
        assert!(c.lookup(b"config|get|x").is_none());
        assert!(c.lookup(b"config|").is_none());
        assert!(c.lookup(b"").is_none());
        assert!(c.lookup(&[0xff]).is_none());
        assert_eq!(c.get(config).unwrap().subcommands, [cget]);
        // A container of the category brings its subcommands; a subcommand of the
        // category comes alone.
        assert_eq!(c.category_members(Connection), [client, cid]);
        assert_eq!(c.category_members(Admin), [cget]);
        assert_eq!(c.commands_in(Connection), ["client"]);
        assert_eq!(c.commands_in(Fast), ["client|id"]);
        assert_eq!(
            c.add_command("get", Categories::NONE, false),
            Err(CatalogError::Duplicate("get".into()))
        );
        assert!(c.add_command("a b", Categories::NONE, false).is_err());
        assert!(c.add_command("a|b", Categories::NONE, false).is_err());
        assert!(
            c.add_subcommand(cget, "x", Categories::NONE, false)
                .is_err()
        );
    }
}
