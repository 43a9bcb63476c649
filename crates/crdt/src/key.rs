//! The state of one key: a value per type, the read-time type choice, and expiry.

use crate::clock::Stamp;
use crate::coll::{Blob, OrMap, OrSet};
use crate::counter::Counted;
use crate::ctx::{Ctx, Seen};
use crate::digest::Digest;
use crate::hll::Hll;
use crate::list::{Level, List};
use crate::op::{Content, OpKind, Ttl};
use crate::reg::MvReg;
use crate::stream::Stream;
use crate::vv::VersionVector;
use crate::zset::ZSet;

/// The data types a key can hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// A string (and counters).
    Str,
    /// A hash.
    Hash,
    /// A set.
    Set,
    /// A sorted set.
    ZSet,
    /// A list.
    List,
    /// A HyperLogLog (a string to TYPE and GET, as in Redis).
    Hll,
    /// A stream.
    Stream,
}

impl Kind {
    /// The name TYPE replies.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Str => "string",
            Kind::Hash => "hash",
            Kind::Set => "set",
            Kind::ZSet => "zset",
            Kind::List => "list",
            Kind::Hll => "string",
            Kind::Stream => "stream",
        }
    }
}

/// Every type's value on a key, kept and merged by its own rules, plus the expiry register.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct KeyState {
    /// The string value.
    pub string: Option<Box<Counted<Blob>>>,
    /// The hash value.
    pub hash: Option<Box<OrMap>>,
    /// The set value.
    pub set: Option<Box<OrSet>>,
    /// The sorted-set value.
    pub zset: Option<Box<ZSet>>,
    /// The list value.
    pub list: Option<Box<List>>,
    /// The HyperLogLog value, with its kept removals.
    pub hll: Option<Box<Hll>>,
    /// The stream value.
    pub stream: Option<Box<Stream>>,
    /// The expiry changes; `None` in a change means "no expiry".
    pub expiry: Option<Box<MvReg<Option<u64>>>>,
    /// When the key was last used, or how often (eviction's bookkeeping).
    pub access: Access,
}

/// A key's last use (seconds) or its use frequency (a logarithmic counter and the minute
/// it last decayed), as the eviction policy reads it. Each instance keeps its own: it is
/// never encoded, merged or compared, so states that differ only here are equal.
#[derive(Clone, Copy, Debug, Default)]
pub struct Access(pub u32);

impl PartialEq for Access {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl KeyState {
    /// Starts bringing a string value's register into the cache (see
    /// [`crate::scanmap::ScanMap::prefetch`]).
    pub fn prefetch_string(&self) {
        if let Some(c) = &self.string {
            crate::scanmap::prefetch(&**c);
        }
    }

    /// Starts bringing a string value's bytes into the cache, once its register is there.
    pub fn prefetch_string_bytes(&self) {
        if let Some(v) = self.string.as_ref().and_then(|c| c.base.get()) {
            crate::scanmap::prefetch(&**v);
        }
    }

    /// Like [`KeyState::apply`], but takes the values out of `kind` instead of copying
    /// them, for an op nobody keeps after it is applied.
    pub fn apply_owned(&mut self, stamp: Stamp, ctx: &Ctx<'_>, kind: &mut OpKind) {
        match kind {
            OpKind::SetStr(v, ttl) => self.set_str(stamp, ctx, std::mem::take(v), ttl),
            OpKind::ListInsert {
                prefix,
                digit,
                values,
            } => self.insert_list(stamp, ctx, prefix, *digit, std::mem::take(values)),
            _ => self.apply(stamp, ctx, kind),
        }
    }

    fn set_str(&mut self, stamp: Stamp, ctx: &Ctx<'_>, v: Blob, ttl: &Ttl) {
        self.remove_values_except(Some(Kind::Str), ctx);
        self.string
            .get_or_insert_with(Default::default)
            .write(stamp, ctx, v);
        if let Ttl::Set(at) = ttl {
            self.expiry
                .get_or_insert_with(Default::default)
                .write(stamp, ctx, *at);
        }
    }

    fn insert_list(
        &mut self,
        stamp: Stamp,
        ctx: &Ctx<'_>,
        prefix: &[Level],
        digit: u64,
        values: impl IntoIterator<Item = crate::small::SmallBlob>,
    ) {
        self.remove_values_except(Some(Kind::List), ctx);
        self.list
            .get_or_insert_with(Default::default)
            .insert_values(stamp, prefix, digit, values);
    }

    /// Applies one op's effect on this key.
    pub fn apply(&mut self, stamp: Stamp, ctx: &Ctx<'_>, kind: &OpKind) {
        match kind {
            OpKind::SetStr(v, ttl) => self.set_str(stamp, ctx, v.clone(), ttl),
            OpKind::IncrStr(a) => {
                self.remove_values_except(Some(Kind::Str), ctx);
                self.string
                    .get_or_insert_with(Default::default)
                    .incr(stamp, *a);
            }
            OpKind::DelKey | OpKind::FlushAll => self.remove_seen(ctx),
            OpKind::Expire(at) => {
                self.expiry
                    .get_or_insert_with(Default::default)
                    .write(stamp, ctx, *at);
            }
            OpKind::HSet(pairs) => {
                self.remove_values_except(Some(Kind::Hash), ctx);
                let h = self.hash.get_or_insert_with(Default::default);
                for (f, v) in pairs {
                    h.write(f, stamp, ctx, v.clone());
                }
            }
            OpKind::HIncr(f, a) => {
                self.remove_values_except(Some(Kind::Hash), ctx);
                self.hash
                    .get_or_insert_with(Default::default)
                    .incr(f, stamp, *a);
            }
            OpKind::HDel(fields) => {
                self.remove_values_except(Some(Kind::Hash), ctx);
                if let Some(h) = &mut self.hash {
                    for f in fields {
                        h.remove(f, ctx);
                    }
                }
            }
            OpKind::SAdd(members) => {
                self.remove_values_except(Some(Kind::Set), ctx);
                let s = self.set.get_or_insert_with(Default::default);
                for m in members {
                    s.add(m, stamp, ctx);
                }
            }
            OpKind::SRem(members) => {
                self.remove_values_except(Some(Kind::Set), ctx);
                if let Some(s) = &mut self.set {
                    for m in members {
                        s.remove(m, ctx);
                    }
                }
            }
            OpKind::ZAdd(members) => {
                self.remove_values_except(Some(Kind::ZSet), ctx);
                let z = self.zset.get_or_insert_with(Default::default);
                for (m, score) in members {
                    z.add(m, stamp, ctx, *score);
                }
            }
            OpKind::ZIncr(m, delta) => {
                self.remove_values_except(Some(Kind::ZSet), ctx);
                self.zset
                    .get_or_insert_with(Default::default)
                    .incr(m, stamp, ctx, *delta);
            }
            OpKind::ZRem(members) => {
                self.remove_values_except(Some(Kind::ZSet), ctx);
                if let Some(z) = &mut self.zset {
                    for m in members {
                        z.remove(m, ctx);
                    }
                }
            }
            OpKind::ListInsert {
                prefix,
                digit,
                values,
            } => self.insert_list(stamp, ctx, prefix, *digit, values.iter().cloned()),
            OpKind::ListRemove(ranges) => {
                self.remove_values_except(Some(Kind::List), ctx);
                if let Some(l) = &mut self.list {
                    for (from, to) in ranges {
                        l.remove_range(from, to, ctx);
                    }
                }
            }
            OpKind::ListSet(pos, value) => {
                self.remove_values_except(Some(Kind::List), ctx);
                if let Some(l) = &mut self.list {
                    l.set(pos, stamp, value);
                }
            }
            OpKind::PfAdd(regs) => {
                self.remove_values_except(Some(Kind::Hll), ctx);
                self.hll
                    .get_or_insert_with(Default::default)
                    .add(stamp, ctx, regs);
            }
            OpKind::XAdd { id, fields } => {
                self.remove_values_except(Some(Kind::Stream), ctx);
                self.stream
                    .get_or_insert_with(Default::default)
                    .add(stamp, ctx, *id, fields);
            }
            OpKind::XDel(keys) | OpKind::XTrim(keys) => {
                self.remove_values_except(Some(Kind::Stream), ctx);
                if let Some(s) = &mut self.stream {
                    s.delete(keys, matches!(kind, OpKind::XDel(_)));
                }
            }
            OpKind::XGroupCreate {
                name,
                id,
                mkstream,
                read,
            } => {
                self.remove_values_except(Some(Kind::Stream), ctx);
                let st = self.stream.get_or_insert_with(Default::default);
                if *mkstream {
                    st.create(stamp, ctx);
                }
                st.group_start(stamp, ctx, name, (*id, *read), true);
            }
            OpKind::XGroupSetId(name, id, read) => {
                if let Some(st) = &mut self.stream {
                    st.group_start(stamp, ctx, name, (*id, *read), false);
                }
            }
            OpKind::XGroupAdvance(name, part, id, read) => {
                if let Some(st) = &mut self.stream {
                    st.group_advance(stamp, ctx, name, *part, *id, *read);
                }
            }
            OpKind::XGroupDestroy(name) => {
                self.stream
                    .get_or_insert_with(Default::default)
                    .group_destroy(stamp.dot, name);
            }
            OpKind::XSetId {
                id,
                added,
                max_deleted,
            } => {
                self.remove_values_except(Some(Kind::Stream), ctx);
                if let Some(s) = &mut self.stream {
                    s.set_id(stamp, *id, *added, *max_deleted);
                }
            }
            OpKind::HllDel => {
                self.hll
                    .get_or_insert_with(Default::default)
                    .remove(stamp.dot);
            }
            OpKind::Restore(content) => {
                self.remove_values_except(None, ctx);
                match content {
                    Content::Str(v) => {
                        self.string = Some(Box::new(Counted::with(stamp, v.clone())));
                    }
                    Content::Hash(pairs) => {
                        let h = self.hash.get_or_insert_with(Default::default);
                        for (f, v) in pairs {
                            h.write(f, stamp, ctx, v.clone());
                        }
                    }
                    Content::Set(members) => {
                        let s = self.set.get_or_insert_with(Default::default);
                        for m in members {
                            s.add(m, stamp, ctx);
                        }
                    }
                    Content::ZSet(members) => {
                        let z = self.zset.get_or_insert_with(Default::default);
                        for (m, score) in members {
                            z.add(m, stamp, ctx, *score);
                        }
                    }
                    Content::Stream(entries, last) => {
                        let st = self.stream.get_or_insert_with(Default::default);
                        for (id, f) in entries {
                            st.add(stamp, ctx, *id, f);
                        }
                        st.set_id(stamp, (*last).max(st.top()), None, None);
                        if entries.is_empty() {
                            st.create(stamp, ctx);
                        }
                    }
                    Content::Hll(regs) => {
                        self.hll
                            .get_or_insert_with(Default::default)
                            .add(stamp, ctx, regs);
                    }
                    Content::List(values) => {
                        self.list.get_or_insert_with(Default::default).insert(
                            stamp,
                            &[],
                            crate::list::MID,
                            values,
                        );
                    }
                }
            }
        }
        self.drop_empty();
    }

    /// Removes every value and expiry change the remover had seen.
    pub fn remove_seen(&mut self, seen: &impl Seen) {
        self.remove_values_except(None, seen);
        if let Some(e) = &mut self.expiry {
            e.remove(seen);
        }
        self.drop_empty();
    }

    /// Removes the seen parts of every type's value except `keep`'s.
    fn remove_values_except(&mut self, keep: Option<Kind>, seen: &impl Seen) {
        if keep != Some(Kind::Str)
            && let Some(s) = &mut self.string
        {
            s.remove(seen);
        }
        if keep != Some(Kind::Hash)
            && let Some(h) = &mut self.hash
        {
            h.remove_all(seen);
        }
        if keep != Some(Kind::Set)
            && let Some(s) = &mut self.set
        {
            s.remove_all(seen);
        }
        if keep != Some(Kind::ZSet)
            && let Some(z) = &mut self.zset
        {
            z.remove_all(seen);
        }
        if keep != Some(Kind::List)
            && let Some(l) = &mut self.list
        {
            l.remove_all(seen);
        }
        if keep != Some(Kind::Stream)
            && let Some(s) = &mut self.stream
        {
            s.remove_all(seen);
        }
        self.drop_empty();
    }

    fn drop_empty(&mut self) {
        if self.string.as_ref().is_some_and(|s| s.is_empty()) {
            self.string = None;
        }
        if self.hash.as_ref().is_some_and(|s| s.is_empty()) {
            self.hash = None;
        }
        if self.set.as_ref().is_some_and(|s| s.is_empty()) {
            self.set = None;
        }
        if self.zset.as_ref().is_some_and(|s| s.is_empty()) {
            self.zset = None;
        }
        if self.list.as_ref().is_some_and(|s| s.is_empty()) {
            self.list = None;
        }
        if self.hll.as_ref().is_some_and(|s| s.is_empty()) {
            self.hll = None;
        }
        if self.stream.as_ref().is_some_and(|s| s.is_empty()) {
            self.stream = None;
        }
        if self.expiry.as_ref().is_some_and(|s| s.is_empty()) {
            self.expiry = None;
        }
    }

    /// Whether any type holds a value.
    pub fn has_value(&self) -> bool {
        self.string.is_some()
            || self.hash.is_some()
            || self.set.is_some()
            || self.zset.is_some()
            || self.list.is_some()
            || self.hll.as_ref().is_some_and(|h| h.live)
            || self.stream.as_ref().is_some_and(|s| s.exists())
    }

    /// Whether nothing at all is kept (no value, no expiry change).
    pub fn is_dead(&self) -> bool {
        !self.has_value() && self.expiry.is_none() && self.hll.is_none() && self.stream.is_none()
    }

    /// The type a read shows: the one whose newest surviving write is newest.
    pub fn visible(&self) -> Option<Kind> {
        let present = [
            (Kind::Str, self.string.is_some()),
            (Kind::Hash, self.hash.is_some()),
            (Kind::Set, self.set.is_some()),
            (Kind::ZSet, self.zset.is_some()),
            (Kind::List, self.list.is_some()),
            (Kind::Hll, self.hll.as_ref().is_some_and(|h| h.live)),
            (
                Kind::Stream,
                self.stream.as_ref().is_some_and(|s| s.exists()),
            ),
        ];
        let count = present.iter().filter(|(_, p)| *p).count();
        match count {
            0 => None,
            1 => present.iter().find(|(_, p)| *p).map(|(k, _)| *k),
            _ => {
                let mut best: Option<(Kind, Stamp)> = None;
                let cands = [
                    (Kind::Str, self.string.as_ref().and_then(|s| s.newest())),
                    (Kind::Hash, self.hash.as_ref().and_then(|s| s.newest())),
                    (Kind::Set, self.set.as_ref().and_then(|s| s.newest())),
                    (Kind::ZSet, self.zset.as_ref().and_then(|s| s.newest())),
                    (Kind::List, self.list.as_ref().and_then(|s| s.newest())),
                    (
                        Kind::Hll,
                        self.hll.as_ref().filter(|h| h.live).and_then(|h| h.newest),
                    ),
                    (Kind::Stream, self.stream.as_ref().and_then(|s| s.newest())),
                ];
                for (k, s) in cands {
                    if let Some(s) = s
                        && best.is_none_or(|(_, b)| s.wins_over(&b))
                    {
                        best = Some((k, s));
                    }
                }
                best.map(|(k, _)| k)
            }
        }
    }

    /// The effective absolute expiry in milliseconds: the latest surviving change, where
    /// "no expiry" is latest of all.
    pub fn expires_at(&self) -> Option<u64> {
        let reg = self.expiry.as_ref()?;
        let mut at: Option<u64> = None;
        for (_, v) in reg.writes() {
            match v {
                None => return None,
                Some(t) => at = Some(at.map_or(*t, |a| a.max(*t))),
            }
        }
        at
    }

    /// The instance whose change set the effective expiry (ties: the smaller id): it is
    /// the one that deletes the key when it expires.
    pub fn expiry_owner(&self) -> Option<crate::clock::ReplicaId> {
        let at = self.expires_at()?;
        self.expiry
            .as_ref()?
            .writes()
            .filter(|(_, v)| *v == Some(at))
            .map(|(s, _)| s.dot.origin.id)
            .min()
    }

    /// Folds metadata that every member has seen. Only for a key every op of which
    /// (including the removals that emptied it) is in `stable`: an expiry change on a key
    /// without values is dropped, which is safe only when no member can still write to it
    /// without having seen it empty.
    pub fn compact(&mut self, stable: &VersionVector) {
        if let Some(s) = &mut self.string {
            s.compact(stable);
        }
        if let Some(h) = &mut self.hash {
            h.compact(stable);
        }
        if let Some(z) = &mut self.zset {
            z.compact(stable);
        }
        if let Some(l) = &mut self.list {
            l.compact(stable);
        }
        if let Some(h) = &mut self.hll {
            h.compact(stable);
        }
        if let Some(st) = &mut self.stream {
            st.compact(stable);
        }
        self.compact_expiry(stable);
    }

    /// Compacts only what `kind` touched: the cheap form for after each op, so a write
    /// to one field of a large hash does not walk the others. Used by a lone instance, so
    /// string folds keep no merge record.
    pub fn compact_after(&mut self, stable: &VersionVector, kind: &OpKind) {
        match kind {
            OpKind::SetStr(..) | OpKind::IncrStr(_) => {
                if let Some(s) = &mut self.string {
                    s.compact_with(stable, false);
                }
            }
            OpKind::HIncr(f, _) => {
                if let Some(h) = &mut self.hash {
                    h.compact_field(f, stable);
                }
            }
            OpKind::ZIncr(m, _) => {
                if let Some(z) = &mut self.zset {
                    z.compact_member(m, stable);
                }
            }
            OpKind::ListSet(..) => {
                if let Some(l) = &mut self.list {
                    l.compact(stable);
                }
            }
            OpKind::HllDel => {
                if let Some(h) = &mut self.hll {
                    h.compact(stable);
                }
            }
            OpKind::XGroupDestroy(_) => {
                if let Some(st) = &mut self.stream {
                    st.compact(stable);
                }
            }
            _ => {}
        }
        self.compact_expiry(stable);
    }

    fn compact_expiry(&mut self, stable: &VersionVector) {
        // An expiry change on a key without values can never apply again once every op on
        // the key is stable (the caller's promise): every later write comes from a member
        // that saw the key empty, so it recreates the key and clears the expiry.
        // Nor can a stable "no expiry" change: it means the same as having none.
        let has_value = self.has_value();
        if let Some(e) = &mut self.expiry
            && (!has_value
                || e.writes()
                    .all(|(s, v)| v.is_none() && stable.contains(&s.dot)))
        {
            e.remove(stable);
        }
        self.drop_empty();
    }

    /// Joins with another replica's state of the same key.
    pub fn merge(&mut self, mine: &VersionVector, other: &KeyState, theirs: &VersionVector) {
        merge_opt(&mut self.string, &other.string, |a, b| {
            a.merge(mine, b, theirs)
        });
        merge_opt(&mut self.hash, &other.hash, |a, b| a.merge(mine, b, theirs));
        merge_opt(&mut self.set, &other.set, |a, b| a.merge(mine, b, theirs));
        merge_opt(&mut self.zset, &other.zset, |a, b| a.merge(mine, b, theirs));
        merge_opt(&mut self.list, &other.list, |a, b| a.merge(mine, b, theirs));
        merge_opt(&mut self.hll, &other.hll, |a, b| a.merge(mine, b, theirs));
        merge_opt(&mut self.stream, &other.stream, |a, b| {
            a.merge(mine, b, theirs)
        });
        merge_opt(&mut self.expiry, &other.expiry, |a, b| {
            a.merge(mine, b, theirs)
        });
        self.drop_empty();
    }

    /// Feeds a canonical encoding of the whole state into `d`.
    pub fn digest(&self, d: &mut Digest) {
        match &self.string {
            Some(s) => {
                d.u64(1);
                s.digest(d, |b, d| d.bytes(b));
            }
            None => d.u64(0),
        }
        match &self.hash {
            Some(h) => {
                d.u64(1);
                h.digest(d);
            }
            None => d.u64(0),
        }
        match &self.set {
            Some(s) => {
                d.u64(1);
                s.digest(d);
            }
            None => d.u64(0),
        }
        match &self.zset {
            Some(z) => {
                d.u64(1);
                z.digest(d);
            }
            None => d.u64(0),
        }
        match &self.list {
            Some(l) => {
                d.u64(1);
                l.digest(d);
            }
            None => d.u64(0),
        }
        match &self.hll {
            Some(h) => {
                d.u64(1);
                h.digest(d);
            }
            None => d.u64(0),
        }
        match &self.stream {
            Some(s) => {
                d.u64(1);
                s.digest(d);
            }
            None => d.u64(0),
        }
        match &self.expiry {
            Some(e) => {
                d.u64(1);
                e.digest(d, |v, d| d.u64(v.map_or(u64::MAX, |t| t)));
            }
            None => d.u64(0),
        }
    }
}

fn merge_opt<T: Default + Clone>(
    a: &mut Option<Box<T>>,
    b: &Option<Box<T>>,
    f: impl Fn(&mut T, &T),
) {
    let empty = T::default();
    match (a.as_mut(), b) {
        (None, None) => {}
        (Some(x), None) => f(x, &empty),
        (x, Some(y)) => {
            let x = match x {
                Some(x) => x,
                None => a.insert(Box::default()),
            };
            f(x, y);
        }
    }
}
