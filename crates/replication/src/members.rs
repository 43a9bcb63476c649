//! Membership changes of a running instance: a member added, a member removed with its
//! cut (docs/REPLICATION.md, "Membership").
//!
//! Removing a member is done in two steps by whoever coordinates the change (the cluster
//! manager): every survivor first *fences* the removed one (drops it, and from then on
//! accepts its ops only up to what it already holds), then every survivor *raises* its cut
//! to the largest of the fenced positions. After the fence no survivor takes a new op of
//! the removed member, so that largest position is final: every survivor ends up with
//! exactly the removed member's ops up to it, through relay from the others.

use crate::{Peer, Replication};
use concord_crdt::{Origin, ReplicaId, VersionVector};
use concord_engine::Engine;

/// Why a membership change was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberError {
    /// Replica ids are 1..65535.
    #[error("replica id must be 1..65535")]
    Zero,
    /// An instance cannot add or remove itself.
    #[error("replica id {0} is this instance")]
    Myself(ReplicaId),
    /// A removed id never comes back: its ops past the cut are refused for good.
    #[error("replica id {0} was removed from this database; a returning instance needs a new id")]
    Removed(ReplicaId),
    /// Only a member (or an already removed one) can be removed.
    #[error("replica id {0} is not a member of this database")]
    NotMember(ReplicaId),
}

impl Replication {
    /// Adds `id` as a member: links to and from it are accepted, and stability waits for
    /// its reports. Returns false when it already was a member.
    pub fn add_member(&mut self, id: ReplicaId) -> Result<bool, MemberError> {
        self.check_id(id)?;
        if self.cfg.removed.contains_key(&id) {
            return Err(MemberError::Removed(id));
        }
        if !self.cfg.members.insert(id) {
            return Ok(false);
        }
        self.peers.insert(id, Peer::new());
        self.epoch += 1;
        Ok(true)
    }

    /// Removes `id` (or raises the cut of an already removed one): its ops are accepted
    /// from now on only up to the cut, which is what this instance holds of it joined
    /// with `raise_to` (of `id`'s origins only). Returns the cut.
    pub fn remove_member(
        &mut self,
        e: &mut Engine,
        id: ReplicaId,
        raise_to: &VersionVector,
    ) -> Result<VersionVector, MemberError> {
        self.check_id(id)?;
        let was_member = self.cfg.members.remove(&id);
        if !was_member && !self.cfg.removed.contains_key(&id) {
            return Err(MemberError::NotMember(id));
        }
        let held = only(e.vv(), id);
        let cut = self.cfg.removed.entry(id).or_default();
        cut.join(&held);
        cut.join(&only(raise_to, id));
        let cut = cut.clone();
        if was_member {
            self.peers.remove(&id);
            self.staging.remove(&id);
            self.relay.remove(&id);
            self.missing.remove(&id);
            // Ops that arrived before the fence and wait for their dependencies are past
            // what this instance reports as held: they would make it hold more than the
            // cut the others agree on.
            self.inbox.drop_past(id, &cut);
        }
        // Links pull again: what the others hold up to the cut may now be relayed here.
        self.epoch += 1;
        Ok(cut)
    }

    /// The removed members and their cuts.
    pub fn removed(&self) -> &std::collections::BTreeMap<ReplicaId, VersionVector> {
        &self.cfg.removed
    }

    /// Whether `id` is or was a member (ops and dependencies may name it).
    pub(crate) fn known(&self, id: ReplicaId) -> bool {
        self.cfg.members.contains(&id) || self.cfg.removed.contains_key(&id)
    }

    /// How far ops of `origin` are accepted: no limit for a member, the cut for a removed
    /// one (0 for one it never issued).
    pub(crate) fn limit(&self, origin: Origin) -> u64 {
        match self.cfg.removed.get(&origin.id) {
            Some(cut) => cut.get(origin),
            None => u64::MAX,
        }
    }

    /// A snapshot merged from a peer may hold more of a removed member than the cut this
    /// instance fenced at (the peer fenced later): the cut covers what is held.
    pub(crate) fn cover_held(&mut self, e: &Engine) {
        for (id, cut) in self.cfg.removed.iter_mut() {
            cut.join(&only(e.vv(), *id));
        }
    }

    fn check_id(&self, id: ReplicaId) -> Result<(), MemberError> {
        if id == 0 {
            return Err(MemberError::Zero);
        }
        if id == self.cfg.me {
            return Err(MemberError::Myself(id));
        }
        Ok(())
    }
}

/// The entries of `vv` for the origins (every incarnation) of `id`.
pub fn only(vv: &VersionVector, id: ReplicaId) -> VersionVector {
    vv.iter().filter(|(o, _)| o.id == id).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;
    use concord_engine::EngineConfig;

    fn instance(me: ReplicaId, members: &[ReplicaId]) -> (Replication, Engine) {
        let r = Replication::new(Config::new(me, members.iter().copied().collect(), "db"));
        let e = Engine::new(EngineConfig {
            origin: Origin::new(me, 1),
            backlog_bytes: 1 << 20,
            hlc_floor: concord_crdt::Hlc::new(0, 0),
        });
        (r, e)
    }

    #[test]
    fn add_then_remove_then_never_again() {
        let (mut r, mut e) = instance(1, &[1, 2]);
        assert_eq!(r.add_member(3), Ok(true));
        assert_eq!(r.add_member(3), Ok(false));
        assert!(r.peers().contains_key(&3));
        assert_eq!(r.add_member(1), Err(MemberError::Myself(1)));
        assert_eq!(r.add_member(0), Err(MemberError::Zero));
        let raise: VersionVector = "3.1=5,2.1=9".parse().expect("vv");
        let cut = r.remove_member(&mut e, 3, &raise).expect("removed");
        assert_eq!(cut.to_string(), "3.1=5", "only the removed id's origins");
        assert!(!r.peers().contains_key(&3));
        assert_eq!(r.limit(Origin::new(3, 1)), 5);
        assert_eq!(r.limit(Origin::new(3, 2)), 0);
        assert_eq!(r.limit(Origin::new(2, 1)), u64::MAX);
        assert_eq!(r.add_member(3), Err(MemberError::Removed(3)));
        // Raising again only raises.
        let lower: VersionVector = "3.1=2".parse().expect("vv");
        let cut = r.remove_member(&mut e, 3, &lower).expect("raised");
        assert_eq!(cut.to_string(), "3.1=5");
        assert_eq!(
            r.remove_member(&mut e, 4, &VersionVector::new()),
            Err(MemberError::NotMember(4))
        );
        assert!(
            r.check_hello(
                crate::PROTO_VERSION.to_string().as_bytes(),
                b"db",
                b"3",
                b"1"
            )
            .is_err(),
            "a removed member cannot link"
        );
    }
}
