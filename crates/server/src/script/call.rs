//! One script call: what runs and for whom, with its arguments borrowed from the request
//! (a lone call) or owned (a pipeline's, sent to the script thread).

use bytes::Bytes;
use concord_acl::User;
use smallvec::SmallVec;
use std::sync::Arc;

/// What a script call runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// EVAL's body.
    Body,
    /// EVALSHA's SHA1.
    Sha,
    /// FCALL's function name.
    Function,
}

/// A script call but for its arguments: what runs, how, and on whose behalf.
#[derive(Clone)]
pub(crate) struct CallHead {
    /// What the request's second argument names.
    pub target: Target,
    /// How many of the arguments after the count are KEYS.
    pub numkeys: usize,
    /// EVAL_RO / EVALSHA_RO.
    pub read_only: bool,
    /// The caller's user (its ACL rules apply to the script's commands).
    pub user: Arc<User>,
    /// The caller speaks RESP3.
    pub resp3: bool,
    /// The caller's client id: the script's changes are its own (NOLOOP).
    pub caller: u64,
    /// The caller's CLIENT TRACKING: the script's reads are remembered for it.
    pub track: Option<crate::tracking::Track>,
    /// The caller gave CLIENT CACHING for this call.
    pub caching: bool,
}

/// A script call, its arguments read where the request lies (no copy for a script
/// that runs at once).
pub(crate) struct ScriptCall<'a> {
    /// What runs and for whom.
    pub head: &'a CallHead,
    /// The whole request: the command, the script, the key count, KEYS, ARGV.
    pub req: &'a [&'a [u8]],
    /// The caller's output room.
    pub limit: usize,
}

impl ScriptCall<'_> {
    /// The body, SHA1 or function name.
    pub fn script(&self) -> &[u8] {
        self.req[1]
    }

    /// KEYS.
    pub fn keys(&self) -> &[&[u8]] {
        &self.req[3..3 + self.head.numkeys]
    }

    /// ARGV.
    pub fn args(&self) -> &[&[u8]] {
        &self.req[3 + self.head.numkeys..]
    }
}

/// A script call sent to the script thread: it owns its request.
pub(crate) struct SentCall {
    /// What runs and for whom.
    pub head: CallHead,
    /// The request (see [`ScriptCall::req`]).
    pub req: Vec<Bytes>,
    /// The caller's output room.
    pub limit: usize,
}

impl SentCall {
    /// Runs `f` with the call as a [`ScriptCall`].
    pub(super) fn with<R>(&self, limit: usize, f: impl FnOnce(&ScriptCall<'_>) -> R) -> R {
        let req: SmallVec<[&[u8]; 8]> = self.req.iter().map(|a| &a[..]).collect();
        f(&ScriptCall {
            head: &self.head,
            req: &req,
            limit,
        })
    }
}
