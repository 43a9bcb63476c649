//! Membership changes in the simulation: a member removed with the two-step cut (fence on
//! every survivor, then raise every cut to the largest fenced position), and a new member
//! added that starts empty and catches up by a full sync.

use super::{Link, Sim, new_node};
use concord_crdt::VersionVector;

impl Sim {
    /// Removes the last member that is still one, if every other member is up (the
    /// coordinator needs an answer from every survivor). Returns whether it did.
    pub(super) fn remove_one(&mut self) -> bool {
        let Some(gone) = (1..self.nodes.len())
            .rev()
            .find(|&i| !self.gone.contains(&i))
        else {
            return false;
        };
        let survivors: Vec<usize> = (0..self.nodes.len())
            .filter(|&i| i != gone && !self.gone.contains(&i))
            .collect();
        if survivors.len() < 2 || survivors.iter().any(|&i| !self.nodes[i].alive) {
            return false;
        }
        let id = self.nodes[gone].id;
        // Whether it is up or not, it takes no part any more: the network forgets it.
        self.nodes[gone].alive = false;
        self.gone.insert(gone);
        for j in 0..self.nodes.len() {
            if j != gone {
                self.disconnect(gone, j);
                self.disconnect(j, gone);
            }
        }
        let mut cut = VersionVector::new();
        for &i in &survivors {
            let n = &mut self.nodes[i];
            let fenced =
                n.r.remove_member(&mut n.e, id, &VersionVector::new())
                    .expect("fence");
            cut.join(&fenced);
        }
        for &i in &survivors {
            let n = &mut self.nodes[i];
            let raised = n.r.remove_member(&mut n.e, id, &cut).expect("raise");
            assert_eq!(raised, cut, "every survivor agrees on the cut");
        }
        // Removed without waiting (as by force): its ops past the cut are gone with it,
        // and so are other origins' ops that only it held (an origin that crashed after
        // sending them to it alone); everything else must survive.
        for r in &mut self.recs {
            let held = survivors
                .iter()
                .any(|&i| self.nodes[i].e.vv().contains(&r.dot));
            if (r.dot.origin.id == id && !cut.contains(&r.dot)) || !held {
                r.may_lose = true;
            }
        }
        self.removals += 1;
        self.members.remove(&id);
        self.removed_cuts.insert(id, cut.clone());
        self.trace.push(format!(
            "t={} removed node {} at cut {cut}",
            self.now,
            gone + 1
        ));
        true
    }

    /// Adds a new, empty member with the next free id.
    pub(super) fn add_one(&mut self) {
        let id = self.nodes.iter().map(|n| n.id).max().unwrap_or(0) + 1;
        for (i, n) in self.nodes.iter_mut().enumerate() {
            if !self.gone.contains(&i) {
                assert_eq!(n.r.add_member(id), Ok(true));
                n.e.set_peers(self.members.len());
            }
        }
        self.members.insert(id);
        let skew = self.rng.below(600_000) as i64 - 300_000;
        let node = new_node(
            id,
            1,
            &self.members,
            &self.removed_cuts,
            self.backlog,
            skew,
            self.now,
        );
        let new = self.nodes.len();
        self.nodes.push(node);
        for j in 0..new {
            self.links.insert((new, j), Link::default());
            self.links.insert((j, new), Link::default());
        }
        self.trace
            .push(format!("t={} added node {} (id {id})", self.now, new + 1));
    }
}
