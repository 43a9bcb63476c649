//! The command table: names, arities, flags and key positions (what COMMAND reports), and
//! the handler of each data command.

use crate::Engine;
use crate::args::Args;
use crate::cmd::{bits, geo, hashes, hll, keys, lists, server, sets, streams, strings, zsets};
use crate::error::{CmdError, CmdResult};
use concord_resp::Out;
use std::sync::OnceLock;

/// A data command's handler.
pub type Handler = fn(&mut Engine, Args, &mut Out) -> CmdResult;

/// Command flags, as COMMAND INFO lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u16);

impl Flags {
    /// Modifies the dataset.
    pub const WRITE: Flags = Flags(1);
    /// Only reads.
    pub const READONLY: Flags = Flags(2);
    /// May grow memory use.
    pub const DENYOOM: Flags = Flags(4);
    /// O(1) or O(log n).
    pub const FAST: Flags = Flags(8);
    /// Administrative.
    pub const ADMIN: Flags = Flags(16);
    /// Pub/sub related.
    pub const PUBSUB: Flags = Flags(32);
    /// Not allowed in scripts.
    pub const NOSCRIPT: Flags = Flags(64);
    /// Allowed while loading.
    pub const LOADING: Flags = Flags(128);
    /// Allowed on a stale replica.
    pub const STALE: Flags = Flags(256);
    /// Does not need authentication.
    pub const NO_AUTH: Flags = Flags(512);
    /// Allowed inside MULTI only as the connection sees fit.
    pub const NO_MULTI: Flags = Flags(1024);
    /// May block the client.
    pub const BLOCKING: Flags = Flags(2048);

    const NAMES: [(Flags, &'static str); 12] = [
        (Flags::WRITE, "write"),
        (Flags::READONLY, "readonly"),
        (Flags::DENYOOM, "denyoom"),
        (Flags::ADMIN, "admin"),
        (Flags::PUBSUB, "pubsub"),
        (Flags::NOSCRIPT, "noscript"),
        (Flags::LOADING, "loading"),
        (Flags::STALE, "stale"),
        (Flags::FAST, "fast"),
        (Flags::NO_AUTH, "no_auth"),
        (Flags::NO_MULTI, "no_multi"),
        (Flags::BLOCKING, "blocking"),
    ];

    /// Whether every flag of `other` is set.
    pub fn has(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// The flag names, in COMMAND INFO order.
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(f, _)| self.has(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, o: Flags) -> Flags {
        Flags(self.0 | o.0)
    }
}

/// One command: what COMMAND reports about it and how to run it.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: exact when positive, minimum when negative; the name counts.
    pub arity: i32,
    /// Flags.
    pub flags: Flags,
    /// First key position (0 when none).
    pub first_key: i32,
    /// Last key position (-1 means the last argument).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// ACL categories without the `@`.
    pub group: &'static str,
    /// The data handler; `None` for commands the connection layer runs.
    pub handler: Option<Handler>,
}

const W: Flags = Flags(1 | 4);
const WF: Flags = Flags(1 | 4 | 8);
const WD: Flags = Flags(1);
const WDF: Flags = Flags(1 | 8);
const R: Flags = Flags(2);
const RB: Flags = Flags(2 | 64 | 2048);
const WB: Flags = Flags(1 | 64 | 2048);
const WDB: Flags = Flags(1 | 4 | 64 | 2048);
const RF: Flags = Flags(2 | 8);
const CONN: Flags = Flags(64 | 128 | 256 | 8);
const ADM: Flags = Flags(16 | 64 | 128 | 256);
const PS: Flags = Flags(32 | 64 | 128 | 256);

macro_rules! c {
    ($name:expr, $arity:expr, $flags:expr, $f:expr, $l:expr, $s:expr, $g:expr, $h:expr) => {
        CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $f,
            last_key: $l,
            step: $s,
            group: $g,
            handler: $h,
        }
    };
}

/// Every command Concord knows.
pub static COMMANDS: &[CommandSpec] = &[
    // connection and server (run by the connection layer)
    c!("ping", -1, Flags(8 | 256), 0, 0, 0, "connection", None),
    c!("echo", 2, Flags(8 | 128 | 256), 0, 0, 0, "connection", None),
    c!(
        "hello",
        -1,
        Flags(64 | 128 | 256 | 8 | 512),
        0,
        0,
        0,
        "connection",
        None
    ),
    c!(
        "auth",
        -2,
        Flags(64 | 128 | 256 | 8 | 512),
        0,
        0,
        0,
        "connection",
        None
    ),
    c!(
        "select",
        2,
        Flags(128 | 256 | 8),
        0,
        0,
        0,
        "connection",
        None
    ),
    c!(
        "quit",
        -1,
        Flags(64 | 128 | 256 | 8 | 512),
        0,
        0,
        0,
        "connection",
        None
    ),
    c!(
        "reset",
        1,
        Flags(64 | 128 | 256 | 8 | 512),
        0,
        0,
        0,
        "connection",
        None
    ),
    c!("client", -2, CONN, 0, 0, 0, "connection", None),
    c!("command", -1, Flags(128 | 256), 0, 0, 0, "connection", None),
    c!("info", -1, Flags(128 | 256), 0, 0, 0, "dangerous", None),
    c!("config", -2, ADM, 0, 0, 0, "admin", None),
    c!("save", 1, Flags(16 | 64 | 1024), 0, 0, 0, "admin", None),
    c!("bgsave", -1, Flags(16 | 64), 0, 0, 0, "admin", None),
    c!("bgrewriteaof", 1, Flags(16 | 64), 0, 0, 0, "admin", None),
    c!("lastsave", 1, Flags(128 | 256 | 8), 0, 0, 0, "admin", None),
    c!(
        "shutdown",
        -1,
        Flags(16 | 64 | 128 | 256 | 1024),
        0,
        0,
        0,
        "admin",
        None
    ),
    c!("time", 1, Flags(128 | 256 | 8), 0, 0, 0, "fast", None),
    c!(
        "multi",
        1,
        Flags(64 | 128 | 256 | 8),
        0,
        0,
        0,
        "transaction",
        None
    ),
    c!(
        "exec",
        1,
        Flags(64 | 128 | 256),
        0,
        0,
        0,
        "transaction",
        None
    ),
    c!(
        "discard",
        1,
        Flags(64 | 128 | 256 | 8),
        0,
        0,
        0,
        "transaction",
        None
    ),
    c!(
        "watch",
        -2,
        Flags(64 | 128 | 256 | 8),
        1,
        -1,
        1,
        "transaction",
        None
    ),
    c!(
        "unwatch",
        1,
        Flags(64 | 128 | 256 | 8),
        0,
        0,
        0,
        "transaction",
        None
    ),
    c!("subscribe", -2, PS, 0, 0, 0, "pubsub", None),
    c!("unsubscribe", -1, PS, 0, 0, 0, "pubsub", None),
    c!("psubscribe", -2, PS, 0, 0, 0, "pubsub", None),
    c!("punsubscribe", -1, PS, 0, 0, 0, "pubsub", None),
    c!(
        "publish",
        3,
        Flags(32 | 128 | 256 | 8),
        0,
        0,
        0,
        "pubsub",
        None
    ),
    c!("pubsub", -2, Flags(32 | 128 | 256), 0, 0, 0, "pubsub", None),
    c!("function", -2, Flags(64), 0, 0, 0, "scripting", None),
    c!("dbsize", 1, RF, 0, 0, 0, "keyspace", Some(server::dbsize)),
    c!(
        "flushall",
        -1,
        WD,
        0,
        0,
        0,
        "keyspace",
        Some(server::flushall)
    ),
    c!(
        "flushdb",
        -1,
        WD,
        0,
        0,
        0,
        "keyspace",
        Some(server::flushall)
    ),
    c!(
        "crdt.digest",
        1,
        R,
        0,
        0,
        0,
        "admin",
        Some(server::crdt_digest)
    ),
    c!("crdt.link", 5, ADM, 0, 0, 0, "admin", None),
    c!("crdt.sync", 2, ADM, 0, 0, 0, "admin", None),
    // keys
    c!("del", -2, WD, 1, -1, 1, "keyspace", Some(keys::del)),
    c!("unlink", -2, WDF, 1, -1, 1, "keyspace", Some(keys::del)),
    c!("exists", -2, RF, 1, -1, 1, "keyspace", Some(keys::exists)),
    c!("touch", -2, RF, 1, -1, 1, "keyspace", Some(keys::exists)),
    c!("type", 2, RF, 1, 1, 1, "keyspace", Some(keys::type_)),
    c!("keys", 2, R, 0, 0, 0, "keyspace", Some(keys::keys)),
    c!("scan", -2, R, 0, 0, 0, "keyspace", Some(keys::scan)),
    c!(
        "randomkey",
        1,
        R,
        0,
        0,
        0,
        "keyspace",
        Some(keys::randomkey)
    ),
    c!("rename", 3, WD, 1, 2, 1, "keyspace", Some(keys::rename)),
    c!("renamenx", 3, WDF, 1, 2, 1, "keyspace", Some(keys::rename)),
    c!("copy", -3, W, 1, 2, 1, "keyspace", Some(keys::copy)),
    c!("expire", -3, WDF, 1, 1, 1, "keyspace", Some(keys::expire)),
    c!("pexpire", -3, WDF, 1, 1, 1, "keyspace", Some(keys::expire)),
    c!("expireat", -3, WDF, 1, 1, 1, "keyspace", Some(keys::expire)),
    c!(
        "pexpireat",
        -3,
        WDF,
        1,
        1,
        1,
        "keyspace",
        Some(keys::expire)
    ),
    c!("ttl", 2, RF, 1, 1, 1, "keyspace", Some(keys::ttl)),
    c!("pttl", 2, RF, 1, 1, 1, "keyspace", Some(keys::pttl)),
    c!(
        "expiretime",
        2,
        RF,
        1,
        1,
        1,
        "keyspace",
        Some(keys::expiretime)
    ),
    c!(
        "pexpiretime",
        2,
        RF,
        1,
        1,
        1,
        "keyspace",
        Some(keys::expiretime)
    ),
    c!("persist", 2, WDF, 1, 1, 1, "keyspace", Some(keys::persist)),
    c!("object", -2, R, 2, 2, 1, "keyspace", Some(keys::object)),
    // strings
    c!("get", 2, RF, 1, 1, 1, "string", Some(strings::get)),
    c!("set", -3, W, 1, 1, 1, "string", Some(strings::set)),
    c!("setnx", 3, WF, 1, 1, 1, "string", Some(strings::setnx)),
    c!("setex", 4, W, 1, 1, 1, "string", Some(strings::setex)),
    c!("psetex", 4, W, 1, 1, 1, "string", Some(strings::setex)),
    c!("getset", 3, WF, 1, 1, 1, "string", Some(strings::getset)),
    c!("getdel", 2, WDF, 1, 1, 1, "string", Some(strings::getdel)),
    c!("getex", -2, WDF, 1, 1, 1, "string", Some(strings::getex)),
    c!("mget", -2, RF, 1, -1, 1, "string", Some(strings::mget)),
    c!("mset", -3, W, 1, -1, 2, "string", Some(strings::mset)),
    c!("msetnx", -3, W, 1, -1, 2, "string", Some(strings::msetnx)),
    c!("append", 3, WF, 1, 1, 1, "string", Some(strings::append)),
    c!("strlen", 2, RF, 1, 1, 1, "string", Some(strings::strlen)),
    c!("getrange", 4, R, 1, 1, 1, "string", Some(strings::getrange)),
    c!("substr", 4, R, 1, 1, 1, "string", Some(strings::getrange)),
    c!("setrange", 4, W, 1, 1, 1, "string", Some(strings::setrange)),
    c!("incr", 2, WF, 1, 1, 1, "string", Some(strings::incr)),
    c!("decr", 2, WF, 1, 1, 1, "string", Some(strings::decr)),
    c!("incrby", 3, WF, 1, 1, 1, "string", Some(strings::incrby)),
    c!("decrby", 3, WF, 1, 1, 1, "string", Some(strings::decrby)),
    c!(
        "incrbyfloat",
        3,
        WF,
        1,
        1,
        1,
        "string",
        Some(strings::incrbyfloat)
    ),
    c!("lcs", -3, R, 1, 2, 1, "string", Some(strings::lcs)),
    c!("setbit", 4, W, 1, 1, 1, "bitmap", Some(bits::setbit)),
    c!("getbit", 3, RF, 1, 1, 1, "bitmap", Some(bits::getbit)),
    c!("bitcount", -2, R, 1, 1, 1, "bitmap", Some(bits::bitcount)),
    c!("bitpos", -3, R, 1, 1, 1, "bitmap", Some(bits::bitpos)),
    c!("bitop", -4, W, 2, -1, 1, "bitmap", Some(bits::bitop)),
    c!("bitfield", -2, W, 1, 1, 1, "bitmap", Some(bits::bitfield)),
    c!(
        "bitfield_ro",
        -2,
        RF,
        1,
        1,
        1,
        "bitmap",
        Some(bits::bitfield)
    ),
    // hashes
    c!("hset", -4, WF, 1, 1, 1, "hash", Some(hashes::hset)),
    c!("hmset", -4, WF, 1, 1, 1, "hash", Some(hashes::hset)),
    c!("hsetnx", 4, WF, 1, 1, 1, "hash", Some(hashes::hsetnx)),
    c!("hget", 3, RF, 1, 1, 1, "hash", Some(hashes::hget)),
    c!("hmget", -3, RF, 1, 1, 1, "hash", Some(hashes::hmget)),
    c!("hgetall", 2, R, 1, 1, 1, "hash", Some(hashes::hgetall)),
    c!("hkeys", 2, R, 1, 1, 1, "hash", Some(hashes::hgetall)),
    c!("hvals", 2, R, 1, 1, 1, "hash", Some(hashes::hgetall)),
    c!("hdel", -3, WDF, 1, 1, 1, "hash", Some(hashes::hdel)),
    c!("hexists", 3, RF, 1, 1, 1, "hash", Some(hashes::hexists)),
    c!("hlen", 2, RF, 1, 1, 1, "hash", Some(hashes::hlen)),
    c!("hstrlen", 3, RF, 1, 1, 1, "hash", Some(hashes::hstrlen)),
    c!("hincrby", 4, WF, 1, 1, 1, "hash", Some(hashes::hincrby)),
    c!(
        "hincrbyfloat",
        4,
        WF,
        1,
        1,
        1,
        "hash",
        Some(hashes::hincrbyfloat)
    ),
    c!(
        "hrandfield",
        -2,
        R,
        1,
        1,
        1,
        "hash",
        Some(hashes::hrandfield)
    ),
    c!("hscan", -3, R, 1, 1, 1, "hash", Some(hashes::hscan)),
    // sets
    c!("sadd", -3, WF, 1, 1, 1, "set", Some(sets::sadd)),
    c!("srem", -3, WDF, 1, 1, 1, "set", Some(sets::srem)),
    c!("smembers", 2, R, 1, 1, 1, "set", Some(sets::smembers)),
    c!("sismember", 3, RF, 1, 1, 1, "set", Some(sets::sismember)),
    c!("smismember", -3, RF, 1, 1, 1, "set", Some(sets::smismember)),
    c!("scard", 2, RF, 1, 1, 1, "set", Some(sets::scard)),
    c!("spop", -2, WDF, 1, 1, 1, "set", Some(sets::spop)),
    c!(
        "srandmember",
        -2,
        R,
        1,
        1,
        1,
        "set",
        Some(sets::srandmember)
    ),
    c!("smove", 4, WF, 1, 2, 1, "set", Some(sets::smove)),
    c!("sinter", -2, R, 1, -1, 1, "set", Some(sets::salgebra)),
    c!("sunion", -2, R, 1, -1, 1, "set", Some(sets::salgebra)),
    c!("sdiff", -2, R, 1, -1, 1, "set", Some(sets::salgebra)),
    c!(
        "sinterstore",
        -3,
        W,
        1,
        -1,
        1,
        "set",
        Some(sets::salgebra_store)
    ),
    c!(
        "sunionstore",
        -3,
        W,
        1,
        -1,
        1,
        "set",
        Some(sets::salgebra_store)
    ),
    c!(
        "sdiffstore",
        -3,
        W,
        1,
        -1,
        1,
        "set",
        Some(sets::salgebra_store)
    ),
    c!("sintercard", -3, R, 0, 0, 0, "set", Some(sets::sintercard)),
    c!("sscan", -3, R, 1, 1, 1, "set", Some(sets::sscan)),
    // streams
    c!("xadd", -5, WF, 1, 1, 1, "stream", Some(streams::xadd)),
    c!("xrange", -4, R, 1, 1, 1, "stream", Some(streams::xrange)),
    c!("xrevrange", -4, R, 1, 1, 1, "stream", Some(streams::xrange)),
    c!("xlen", 2, RF, 1, 1, 1, "stream", Some(streams::xlen)),
    c!("xdel", -3, WDF, 1, 1, 1, "stream", Some(streams::xdel)),
    c!("xtrim", -4, WD, 1, 1, 1, "stream", Some(streams::xtrim)),
    c!("xread", -4, RB, 0, 0, 0, "stream", Some(streams::xread)),
    c!("xsetid", -3, WDF, 1, 1, 1, "stream", Some(streams::xsetid)),
    c!("xinfo", -2, R, 0, 0, 0, "stream", Some(streams::xinfo)),
    c!("xgroup", -2, W, 0, 0, 0, "stream", Some(streams::xgroup)),
    c!(
        "xreadgroup",
        -7,
        WB,
        0,
        0,
        0,
        "stream",
        Some(streams::xreadgroup)
    ),
    c!("xack", -4, WDF, 1, 1, 1, "stream", Some(streams::xack)),
    c!(
        "xpending",
        -3,
        R,
        1,
        1,
        1,
        "stream",
        Some(streams::xpending)
    ),
    c!("xclaim", -6, WDF, 1, 1, 1, "stream", Some(streams::xclaim)),
    c!(
        "xautoclaim",
        -6,
        WDF,
        1,
        1,
        1,
        "stream",
        Some(streams::xautoclaim)
    ),
    // geo
    c!("geoadd", -5, W, 1, 1, 1, "geo", Some(geo::geoadd)),
    c!("geopos", -2, R, 1, 1, 1, "geo", Some(geo::geopos)),
    c!("geodist", -4, R, 1, 1, 1, "geo", Some(geo::geodist)),
    c!("geohash", -2, R, 1, 1, 1, "geo", Some(geo::geohash)),
    c!("georadius", -6, W, 1, 1, 1, "geo", Some(geo::georadius)),
    c!("georadius_ro", -6, R, 1, 1, 1, "geo", Some(geo::georadius)),
    c!(
        "georadiusbymember",
        -5,
        W,
        1,
        1,
        1,
        "geo",
        Some(geo::georadius)
    ),
    c!(
        "georadiusbymember_ro",
        -5,
        R,
        1,
        1,
        1,
        "geo",
        Some(geo::georadius)
    ),
    c!("geosearch", -7, R, 1, 1, 1, "geo", Some(geo::georadius)),
    c!(
        "geosearchstore",
        -8,
        W,
        1,
        2,
        1,
        "geo",
        Some(geo::georadius)
    ),
    // HyperLogLog
    c!("pfadd", -2, WF, 1, 1, 1, "hyperloglog", Some(hll::pfadd)),
    c!(
        "pfcount",
        -2,
        R,
        1,
        -1,
        1,
        "hyperloglog",
        Some(hll::pfcount)
    ),
    c!(
        "pfmerge",
        -2,
        W,
        1,
        -1,
        1,
        "hyperloglog",
        Some(hll::pfmerge)
    ),
    // lists
    c!("lpush", -3, WF, 1, 1, 1, "list", Some(lists::lpush)),
    c!("rpush", -3, WF, 1, 1, 1, "list", Some(lists::lpush)),
    c!("lpushx", -3, WF, 1, 1, 1, "list", Some(lists::lpushx)),
    c!("rpushx", -3, WF, 1, 1, 1, "list", Some(lists::lpushx)),
    c!("lpop", -2, WDF, 1, 1, 1, "list", Some(lists::lpop)),
    c!("rpop", -2, WDF, 1, 1, 1, "list", Some(lists::lpop)),
    c!("llen", 2, RF, 1, 1, 1, "list", Some(lists::llen)),
    c!("lindex", 3, R, 1, 1, 1, "list", Some(lists::lindex)),
    c!("lrange", 4, R, 1, 1, 1, "list", Some(lists::lrange)),
    c!("lset", 4, W, 1, 1, 1, "list", Some(lists::lset)),
    c!("linsert", 5, W, 1, 1, 1, "list", Some(lists::linsert)),
    c!("lrem", 4, WD, 1, 1, 1, "list", Some(lists::lrem)),
    c!("ltrim", 4, WD, 1, 1, 1, "list", Some(lists::ltrim)),
    c!("lpos", -3, R, 1, 1, 1, "list", Some(lists::lpos)),
    c!("lmove", 5, W, 1, 2, 1, "list", Some(lists::lmove)),
    c!("rpoplpush", 3, W, 1, 2, 1, "list", Some(lists::rpoplpush)),
    c!("lmpop", -4, WD, 0, 0, 0, "list", Some(lists::lmpop)),
    c!("blpop", -3, WB, 1, -2, 1, "list", Some(lists::blpop)),
    c!("brpop", -3, WB, 1, -2, 1, "list", Some(lists::blpop)),
    c!("blmove", 6, WDB, 1, 2, 1, "list", Some(lists::blmove)),
    c!(
        "brpoplpush",
        4,
        WDB,
        1,
        2,
        1,
        "list",
        Some(lists::brpoplpush)
    ),
    c!("blmpop", -5, WB, 0, 0, 0, "list", Some(lists::blmpop)),
    // sorted sets
    c!("zadd", -4, WF, 1, 1, 1, "sortedset", Some(zsets::zadd)),
    c!("zincrby", 4, WF, 1, 1, 1, "sortedset", Some(zsets::zincrby)),
    c!("zrem", -3, WDF, 1, 1, 1, "sortedset", Some(zsets::zrem)),
    c!("zscore", 3, RF, 1, 1, 1, "sortedset", Some(zsets::zscore)),
    c!(
        "zmscore",
        -3,
        RF,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zmscore)
    ),
    c!("zcard", 2, RF, 1, 1, 1, "sortedset", Some(zsets::zcard)),
    c!("zcount", 4, RF, 1, 1, 1, "sortedset", Some(zsets::zcount)),
    c!(
        "zlexcount",
        4,
        RF,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zcount)
    ),
    c!("zrank", -3, RF, 1, 1, 1, "sortedset", Some(zsets::zrank)),
    c!("zrevrank", -3, RF, 1, 1, 1, "sortedset", Some(zsets::zrank)),
    c!("zrange", -4, R, 1, 1, 1, "sortedset", Some(zsets::zrange)),
    c!(
        "zrangestore",
        -5,
        W,
        1,
        2,
        1,
        "sortedset",
        Some(zsets::zrangestore)
    ),
    c!(
        "zrevrange",
        -4,
        R,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zrevrange)
    ),
    c!(
        "zrangebyscore",
        -4,
        R,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zrangeby)
    ),
    c!(
        "zrevrangebyscore",
        -4,
        R,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zrangeby)
    ),
    c!(
        "zrangebylex",
        -4,
        R,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zrangeby)
    ),
    c!(
        "zrevrangebylex",
        -4,
        R,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zrangeby)
    ),
    c!("zpopmin", -2, WDF, 1, 1, 1, "sortedset", Some(zsets::zpop)),
    c!("zpopmax", -2, WDF, 1, 1, 1, "sortedset", Some(zsets::zpop)),
    c!(
        "zrandmember",
        -2,
        R,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zrandmember)
    ),
    c!(
        "zremrangebyrank",
        4,
        WD,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zremrange)
    ),
    c!(
        "zremrangebyscore",
        4,
        WD,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zremrange)
    ),
    c!(
        "zremrangebylex",
        4,
        WD,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zremrange)
    ),
    c!("zunion", -3, R, 0, 0, 0, "sortedset", Some(zsets::zsetop)),
    c!("zinter", -3, R, 0, 0, 0, "sortedset", Some(zsets::zsetop)),
    c!("zdiff", -3, R, 0, 0, 0, "sortedset", Some(zsets::zsetop)),
    c!(
        "zunionstore",
        -4,
        W,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zsetop_store)
    ),
    c!(
        "zinterstore",
        -4,
        W,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zsetop_store)
    ),
    c!(
        "zdiffstore",
        -4,
        W,
        1,
        1,
        1,
        "sortedset",
        Some(zsets::zsetop_store)
    ),
    c!(
        "zintercard",
        -3,
        R,
        0,
        0,
        0,
        "sortedset",
        Some(zsets::zintercard)
    ),
    c!("zscan", -3, R, 1, 1, 1, "sortedset", Some(zsets::zscan)),
];

/// Subcommands of container commands, with their arities (the command and the
/// subcommand both count), as Redis 7.2 declares them.
pub static SUBCOMMANDS: &[(&str, &str, i32)] = &[
    ("object", "encoding", 3),
    ("object", "freq", 3),
    ("object", "idletime", 3),
    ("object", "refcount", 3),
    ("object", "help", 2),
    ("xgroup", "create", -5),
    ("xgroup", "setid", -5),
    ("xgroup", "destroy", 4),
    ("xgroup", "createconsumer", 5),
    ("xgroup", "delconsumer", 5),
    ("xgroup", "help", 2),
    ("xinfo", "stream", -3),
    ("xinfo", "groups", 3),
    ("xinfo", "consumers", 4),
    ("xinfo", "help", 2),
    ("client", "id", 2),
    ("client", "getname", 2),
    ("client", "setname", 3),
    ("client", "setinfo", 4),
    ("client", "list", -2),
    ("client", "info", 2),
    ("client", "kill", -3),
    ("client", "unblock", -3),
    ("client", "no-evict", 3),
    ("client", "no-touch", 3),
    ("client", "reply", 3),
    ("client", "help", 2),
    ("config", "get", -3),
    ("config", "set", -4),
    ("config", "resetstat", 2),
    ("config", "rewrite", 2),
    ("config", "help", 2),
    ("command", "count", 2),
    ("command", "info", -2),
    ("command", "docs", -2),
    ("command", "list", -2),
    ("command", "getkeys", -3),
    ("command", "help", 2),
    ("pubsub", "channels", -2),
    ("pubsub", "numsub", -2),
    ("pubsub", "numpat", 2),
    ("pubsub", "shardchannels", -2),
    ("pubsub", "shardnumsub", -2),
    ("pubsub", "help", 2),
    ("function", "flush", -2),
    ("function", "help", 2),
];

/// Checks a container command's subcommand and arity; the error reply if it fails.
pub fn check_subcommand(id: usize, args: &[&[u8]]) -> Result<(), String> {
    // Most commands have none: one lookup instead of a scan of the table.
    if !index().has_subs[id] {
        return Ok(());
    }
    let spec = &COMMANDS[id];
    if spec.name == "command" && args.len() == 1 {
        return Ok(());
    }
    let Some(sub) = args.get(1) else {
        return Ok(());
    };
    let upper = spec.name.to_ascii_uppercase();
    match SUBCOMMANDS
        .iter()
        .find(|(c, s, _)| *c == spec.name && s.as_bytes().eq_ignore_ascii_case(sub))
    {
        None => Err(format!(
            "ERR unknown subcommand '{}'. Try {upper} HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)])
        )),
        Some((c, s, arity)) => {
            let ok = if *arity >= 0 {
                args.len() == *arity as usize
            } else {
                args.len() >= arity.unsigned_abs() as usize
            };
            if ok {
                Ok(())
            } else {
                Err(format!(
                    "ERR wrong number of arguments for '{c}|{s}' command"
                ))
            }
        }
    }
}

/// What finding a command needs, built once.
struct Index {
    /// Lower-case name to position in [`COMMANDS`].
    ids: hashbrown::HashMap<&'static [u8], usize>,
    /// Per command, whether [`SUBCOMMANDS`] lists subcommands for it.
    has_subs: Vec<bool>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| Index {
        ids: COMMANDS
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_bytes(), i))
            .collect(),
        has_subs: COMMANDS
            .iter()
            .map(|c| SUBCOMMANDS.iter().any(|(n, _, _)| *n == c.name))
            .collect(),
    })
}

/// The position in [`COMMANDS`] of a command, by name, ignoring case.
pub fn command_id(name: &[u8]) -> Option<usize> {
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    index().ids.get(&*lower).copied()
}

/// Finds a command by name, ignoring case.
pub fn lookup_command(name: &[u8]) -> Option<&'static CommandSpec> {
    command_id(name).map(|i| &COMMANDS[i])
}

/// Per-command counters for INFO commandstats.
#[derive(Clone, Copy, Debug, Default)]
pub struct CmdStat {
    /// Times it ran.
    pub calls: u64,
    /// Nanoseconds spent (INFO shows microseconds).
    pub nanos: u64,
    /// Runs that replied with an error.
    pub failed: u64,
    /// Calls refused before running (arity, auth, ...).
    pub rejected: u64,
}

impl CommandSpec {
    /// Whether `n` arguments (the name included) satisfy the arity.
    pub fn arity_ok(&self, n: usize) -> bool {
        if self.arity >= 0 {
            n == self.arity as usize
        } else {
            n >= self.arity.unsigned_abs() as usize
        }
    }
}

/// Runs the handler of a command whose arity and subcommand were already checked. Returns
/// false when it is not a data command.
pub(crate) fn run_checked(
    e: &mut Engine,
    spec: &CommandSpec,
    args: &[&[u8]],
    out: &mut Out,
) -> bool {
    let Some(h) = spec.handler else {
        return false;
    };
    if let Err(err) = h(e, Args(args), out) {
        out.error(&err.to_string());
    }
    true
}

/// Runs a data command: arity check, handler, error reply. Returns false when the name is
/// not a data command (the connection layer's, or unknown).
pub(crate) fn execute(e: &mut Engine, args: &[&[u8]], out: &mut Out) -> bool {
    let Some(id) = args.first().and_then(|n| command_id(n)) else {
        return false;
    };
    let spec = &COMMANDS[id];
    let Some(h) = spec.handler else {
        return false;
    };
    if !spec.arity_ok(args.len()) {
        out.error(&CmdError::Arity(spec.name.to_string()).to_string());
        return true;
    }
    if let Err(msg) = check_subcommand(id, args) {
        out.error(&msg);
        return true;
    }
    if let Err(err) = h(e, Args(args), out) {
        out.error(&err.to_string());
    }
    true
}
