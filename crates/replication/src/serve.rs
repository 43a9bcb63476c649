//! The serving (upstream) side of a link: a peer's pull answered from the op log (partial
//! sync) or from a snapshot streamed as the link drains (full sync).

use super::*;

impl Replication {
    /// Handles a request that arrived on a link this instance serves.
    pub fn serve_request(&mut self, link: &mut Serve, msg: Msg) -> Result<(), LinkError> {
        match msg {
            Msg::Pull { vv, origins, me } => {
                if let Some(bad) = origins.iter().find(|o| !self.known(**o)) {
                    return Err(LinkError::UnknownReplica(*bad));
                }
                if me.is_some_and(|m| m.id != link.peer) {
                    return Err(LinkError::Protocol(
                        "a pull names another replica's origin".into(),
                    ));
                }
                link.me = me;
                link.origins = origins.into_iter().collect();
                link.sent = vv;
                link.cursor = 0;
                link.queue.clear();
                // A stream under way ends at the next serve; the pull gets a new answer.
                if let Some(id) = link.stream.take() {
                    link.dropped = Some(id);
                }
                link.pulled = true;
                link.last_heartbeat = None;
                Ok(())
            }
            Msg::Report { vv } => {
                if let Some(p) = self.peers.get_mut(&link.peer) {
                    p.report = Some(vv);
                }
                Ok(())
            }
            Msg::Publish { .. } => Ok(()),
            _ => Err(LinkError::Protocol(
                "stream message on a request link".into(),
            )),
        }
    }

    /// Starts a full sync on a served link: streamed from the engine when it can, else
    /// encoded at once (another stream runs).
    fn full_sync(&mut self, e: &mut Engine, link: &mut Serve, now: u64) -> Vec<Msg> {
        let format = proto::state_format(link.version);
        let (vv, hlc, keys) = match e.stream_begin(format) {
            Some((id, head)) => {
                link.stream = Some(id);
                (head.vv, head.hlc, head.keys)
            }
            None => {
                let snap = e.snapshot(self.cfg.snapshot_keys_per_chunk, format);
                link.queue
                    .extend(snap.chunks.into_iter().map(Msg::SnapChunkRaw));
                link.queue.push_back(Msg::SnapEnd);
                (snap.vv, snap.hlc, snap.keys)
            }
        };
        if let Some(p) = self.peers.get_mut(&link.peer) {
            p.full_syncs_served += 1;
        }
        link.sent = vv.clone();
        link.cursor = e.log().end_position();
        link.last_heartbeat = Some(now);
        vec![Msg::SnapBegin { vv, hlc, keys }]
    }

    /// The next messages for a served link, about `budget` bytes of ops at most. Empty
    /// when there is nothing to send now.
    pub fn serve(&mut self, e: &mut Engine, link: &mut Serve, budget: usize, now: u64) -> Vec<Msg> {
        if let Some(id) = link.dropped.take() {
            e.stream_cancel(id);
        }
        let mut out = Vec::new();
        if !link.pulled || self.paused {
            return out;
        }
        if !link.queue.is_empty() {
            let mut bytes = 0;
            while let Some(m) = link.queue.pop_front() {
                if let Msg::SnapChunkRaw(c) = &m {
                    bytes += c.len();
                }
                out.push(m);
                if bytes >= budget {
                    break;
                }
            }
            return out;
        }
        if let Some(id) = link.stream {
            // A streamed snapshot: encoded as the link drains, `budget` bytes at a time.
            let mut bytes = 0;
            loop {
                match e.stream_next(id, self.cfg.snapshot_keys_per_chunk) {
                    StreamPart::Chunk(c) => {
                        bytes += c.len();
                        out.push(Msg::SnapChunkRaw(c));
                        if bytes >= budget {
                            return out;
                        }
                    }
                    StreamPart::Done => {
                        link.stream = None;
                        out.push(Msg::SnapEnd);
                        return out;
                    }
                    StreamPart::Gone => {
                        // Its state is lost: a new full sync replaces what was sent.
                        link.stream = None;
                        out.extend(self.full_sync(e, link, now));
                        return out;
                    }
                }
            }
        }
        if link.cursor == 0 && link.last_heartbeat.is_none() {
            // The answer to a pull: the backlog covers the peer, or a full sync.
            let log = e.log();
            let covered = log
                .floor()
                .iter()
                .all(|(o, s)| !link.origins.contains(&o.id) || link.sent.get(o) >= s);
            if !covered {
                return self.full_sync(e, link, now);
            }
            link.cursor = log.first_position();
            out.push(Msg::Partial);
            if let Some(p) = self.peers.get_mut(&link.peer)
                && !link.counted
            {
                p.partial_syncs_served += 1;
                link.counted = true;
            }
            link.last_heartbeat = Some(now);
        }
        let log = e.log();
        if link.cursor < log.first_position() {
            // Trimmed past the cursor: fine if nothing trimmed was still owed.
            let owed = log.floor().iter().any(|(o, s)| {
                link.origins.contains(&o.id) && Some(o) != link.me && link.sent.get(o) < s
            });
            if owed {
                // Start over: the next serve answers with a full sync.
                link.cursor = 0;
                link.last_heartbeat = None;
                return out;
            }
            link.cursor = log.first_position();
        }
        let mut groups = Vec::new();
        let mut bytes = 0;
        while bytes < budget {
            let Some(g) = log.at(link.cursor) else {
                break;
            };
            link.cursor += 1;
            let first = g.first();
            // The peer issued its current origin's ops itself: sending them back would
            // only make it decode and drop them.
            if !link.origins.contains(&first.origin.id)
                || Some(first.origin) == link.me
                || link.sent.contains(&first)
            {
                continue;
            }
            for d in g.dots() {
                link.sent.add(d);
            }
            bytes += g.bytes.len();
            groups.push(std::sync::Arc::clone(&g.bytes));
        }
        if !groups.is_empty() {
            out.push(Msg::OpsRaw(groups));
        }
        if link
            .last_heartbeat
            .is_none_or(|t| now >= t + self.cfg.heartbeat_ms)
            || !out.is_empty()
        {
            link.last_heartbeat = Some(now);
            out.push(Msg::Heartbeat {
                vv: e.vv().clone(),
                wall_ms: now,
            });
        }
        out
    }
}
