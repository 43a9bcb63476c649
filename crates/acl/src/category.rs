//! ACL categories: the groups `+@name` and `-@name` rules name, as `ACL CAT` lists them.

/// One ACL category.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// Touches keys, databases or their metadata in a type-agnostic way.
    Keyspace,
    /// Reads from keys.
    Read,
    /// Writes to keys.
    Write,
    /// Sets.
    Set,
    /// Sorted sets.
    SortedSet,
    /// Lists.
    List,
    /// Hashes.
    Hash,
    /// Strings.
    String,
    /// Bitmaps.
    Bitmap,
    /// HyperLogLog.
    HyperLogLog,
    /// Geospatial indexes.
    Geo,
    /// Streams.
    Stream,
    /// Pub/sub.
    PubSub,
    /// Administration.
    Admin,
    /// O(1) commands.
    Fast,
    /// Everything that is not fast.
    Slow,
    /// May block the connection.
    Blocking,
    /// Potentially dangerous.
    Dangerous,
    /// Affects the connection or other connections.
    Connection,
    /// MULTI/EXEC and WATCH.
    Transaction,
    /// Scripts and functions.
    Scripting,
}

impl Category {
    /// Every category, in the order `ACL CAT` lists them.
    pub const ALL: [Category; 21] = [
        Category::Keyspace,
        Category::Read,
        Category::Write,
        Category::Set,
        Category::SortedSet,
        Category::List,
        Category::Hash,
        Category::String,
        Category::Bitmap,
        Category::HyperLogLog,
        Category::Geo,
        Category::Stream,
        Category::PubSub,
        Category::Admin,
        Category::Fast,
        Category::Slow,
        Category::Blocking,
        Category::Dangerous,
        Category::Connection,
        Category::Transaction,
        Category::Scripting,
    ];

    /// The name rules use, without the `@`.
    pub fn name(self) -> &'static str {
        match self {
            Category::Keyspace => "keyspace",
            Category::Read => "read",
            Category::Write => "write",
            Category::Set => "set",
            Category::SortedSet => "sortedset",
            Category::List => "list",
            Category::Hash => "hash",
            Category::String => "string",
            Category::Bitmap => "bitmap",
            Category::HyperLogLog => "hyperloglog",
            Category::Geo => "geo",
            Category::Stream => "stream",
            Category::PubSub => "pubsub",
            Category::Admin => "admin",
            Category::Fast => "fast",
            Category::Slow => "slow",
            Category::Blocking => "blocking",
            Category::Dangerous => "dangerous",
            Category::Connection => "connection",
            Category::Transaction => "transaction",
            Category::Scripting => "scripting",
        }
    }

    /// The category of a name, ignoring ASCII case.
    pub fn parse(name: &str) -> Option<Category> {
        Category::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(name))
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of categories.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Categories(u32);

impl Categories {
    /// No category.
    pub const NONE: Categories = Categories(0);

    /// A set of the given categories (usable in `static` tables).
    pub const fn of(cats: &[Category]) -> Categories {
        let mut bits = 0;
        let mut i = 0;
        while i < cats.len() {
            bits |= 1 << (cats[i] as u32);
            i += 1;
        }
        Categories(bits)
    }

    /// Whether `c` is in the set.
    pub fn has(self, c: Category) -> bool {
        self.0 & c.bit() != 0
    }

    /// The set with `c` added.
    #[must_use]
    pub fn with(self, c: Category) -> Categories {
        Categories(self.0 | c.bit())
    }

    /// Both sets together.
    #[must_use]
    pub fn union(self, other: Categories) -> Categories {
        Categories(self.0 | other.0)
    }

    /// The categories in the set, in `ACL CAT` order.
    pub fn iter(self) -> impl Iterator<Item = Category> {
        Category::ALL.into_iter().filter(move |c| self.has(*c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.name()), Some(c));
            assert_eq!(Category::parse(&c.name().to_uppercase()), Some(c));
        }
        assert_eq!(Category::parse("nope"), None);
        let s = Categories::of(&[Category::Write, Category::String]);
        assert!(s.has(Category::Write) && !s.has(Category::Read));
        assert_eq!(
            s.iter().collect::<Vec<_>>(),
            [Category::Write, Category::String]
        );
    }
}
