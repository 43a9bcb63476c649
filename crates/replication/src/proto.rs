//! The peer protocol: messages exchanged on a link after the `CRDT.LINK` handshake, and
//! their framing. Every frame carries the link's protocol version; decoding never trusts a
//! length it has not checked.
//!
//! Frame: `u32 LE length` of what follows, `u8 flags` (bit 0: lz4-compressed body), body.
//! Body: `u16 LE` protocol version, `u8 tag`, fields.
//!
//! The handshake settles one version per link ([`negotiate`]): the dialer asks for the
//! newest it speaks, the other end answers with the newest both speak. The version fixes
//! the formats the link carries ([`state_format`]), so instances of two releases replicate
//! to each other during a rolling upgrade.

use concord_crdt::codec::{
    self, CodecError, Reader, STATE_FORMAT_VERSION, put_bytes, put_varint, put_vv,
};
use concord_crdt::{Blob, Hlc, KeyState, OP_FORMAT_VERSION, Op, Origin, ReplicaId, VersionVector};
use std::sync::Arc;

/// Newest version of the peer protocol this build speaks.
pub const PROTO_VERSION: u16 = 3;

/// Oldest version of the peer protocol this build still speaks.
pub const PROTO_MIN: u16 = 1;

/// The key-state format (full-sync chunks) written on a link at protocol `version`: state
/// format 1 (no record of an HLL's adds) at version 1, which every build that speaks it
/// reads, and format 2 from version 2. Chunks are read in any format this build knows
/// (each names its own: the release before negotiation wrote format 2 at version 1). Ops
/// are op format 1 on all. (Version 3 added the puller's origin to [`Msg::Pull`].)
pub fn state_format(version: u16) -> u16 {
    assert!(
        (PROTO_MIN..=PROTO_VERSION).contains(&version),
        "protocol {version}"
    );
    match version {
        1 => 1,
        _ => STATE_FORMAT_VERSION,
    }
}

/// The version a link runs at when its dialer asks for `asked` (the newest it speaks) and
/// this end speaks up to `newest`: the newest both speak.
pub fn negotiate(asked: u16, newest: u16) -> Result<u16, String> {
    assert!(
        (PROTO_MIN..=PROTO_VERSION).contains(&newest),
        "protocol {newest}"
    );
    if asked < PROTO_MIN {
        // The text ends with the versions spoken, as the release before negotiation's
        // refusal ended with the one it spoke.
        return Err(format!(
            "protocol version {asked} not supported (this instance speaks {PROTO_MIN} to {newest})"
        ));
    }
    Ok(asked.min(newest))
}

/// Largest frame accepted (a snapshot chunk holding one huge key fits).
pub const MAX_FRAME: usize = 1 << 30;

/// Bodies at least this long are compressed when compression is on.
const COMPRESS_MIN: usize = 512;

/// One message on a link.
#[derive(Debug)]
pub enum Msg {
    /// Downstream → upstream: send me every op of these origins my `vv` does not cover.
    Pull {
        /// What the puller has applied.
        vv: VersionVector,
        /// Replica ids whose ops it wants from this peer.
        origins: Vec<ReplicaId>,
        /// The puller's own origin (protocol 3 on): the ops it issues after the pull are
        /// never sent back to it. `None` on older links, which echo them.
        me: Option<Origin>,
    },
    /// Downstream → upstream: what the sender has applied (for stability).
    Report {
        /// The sender's version vector.
        vv: VersionVector,
    },
    /// Upstream → downstream: the pull is served from the backlog (partial sync).
    Partial,
    /// Upstream → downstream, decoding side: groups of ops, each applied whole.
    Ops(Vec<Arc<[Op]>>),
    /// Upstream → downstream, encoding side: groups already encoded in op format 1 (the
    /// backlog holds them so), sent as they are.
    OpsRaw(Vec<Arc<[u8]>>),
    /// Upstream → downstream: a full sync starts; the state is exactly at `vv`.
    SnapBegin {
        /// The snapshot's version vector.
        vv: VersionVector,
        /// The sender's clock high-water mark.
        hlc: Hlc,
        /// Keys in the snapshot.
        keys: u64,
    },
    /// Upstream → downstream, encoding side: encoded key states.
    SnapChunkRaw(Vec<u8>),
    /// Upstream → downstream, decoding side: the key states of one chunk, and its bytes
    /// as they came (the append-only file records them as they are).
    SnapChunk(Vec<(Blob, KeyState)>, Vec<u8>),
    /// Upstream → downstream: the snapshot is complete.
    SnapEnd,
    /// Upstream → downstream: the sender's vector and wall clock (for lag).
    Heartbeat {
        /// The sender's version vector.
        vv: VersionVector,
        /// The sender's wall clock, milliseconds.
        wall_ms: u64,
    },
    /// Either way: a PUBLISH made on the sender (best effort).
    Publish {
        /// The channel.
        channel: Blob,
        /// The message.
        message: Blob,
    },
}

/// Why a frame did not decode.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    /// A frame longer than [`MAX_FRAME`].
    #[error("frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// A frame of another protocol version than the link's.
    #[error("frame of protocol version {0} on a link of version {1}")]
    Version(u16, u16),
    /// The body did not decode.
    #[error("malformed frame: {0}")]
    Codec(#[from] CodecError),
    /// The compressed body did not decompress.
    #[error("bad compressed frame")]
    Compression,
}

impl Msg {
    fn tag(&self) -> u8 {
        match self {
            Msg::Pull { .. } => 1,
            Msg::Report { .. } => 2,
            Msg::Partial => 3,
            Msg::Ops(_) | Msg::OpsRaw(_) => 4,
            Msg::SnapBegin { .. } => 5,
            Msg::SnapChunkRaw(_) | Msg::SnapChunk(..) => 6,
            Msg::SnapEnd => 7,
            Msg::Heartbeat { .. } => 8,
            Msg::Publish { .. } => 9,
        }
    }

    /// Appends this message as one frame of a link at protocol `version` to `out`;
    /// compresses large bodies if asked.
    pub fn encode(&self, version: u16, compress: bool, out: &mut Vec<u8>) {
        let format = state_format(version);
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&version.to_le_bytes());
        body.push(self.tag());
        match self {
            Msg::Pull { vv, origins, me } => {
                put_vv(&mut body, vv);
                put_varint(&mut body, origins.len() as u64);
                for o in origins {
                    put_varint(&mut body, u64::from(*o));
                }
                if version >= 3 {
                    let me = me.expect("a pull names its origin");
                    put_varint(&mut body, u64::from(me.id));
                    put_varint(&mut body, u64::from(me.incarnation));
                }
            }
            Msg::Report { vv } => put_vv(&mut body, vv),
            Msg::Partial | Msg::SnapEnd => {}
            Msg::Ops(groups) => {
                put_varint(&mut body, groups.len() as u64);
                for g in groups {
                    put_bytes(&mut body, &codec::encode_group(g));
                }
            }
            Msg::OpsRaw(groups) => {
                put_varint(&mut body, groups.len() as u64);
                for g in groups {
                    // Every protocol version so far carries op format 1.
                    assert!(
                        g.len() >= 2 && u16::from_le_bytes([g[0], g[1]]) == OP_FORMAT_VERSION,
                        "an encoded group of another op format"
                    );
                    put_bytes(&mut body, g);
                }
            }
            Msg::SnapBegin { vv, hlc, keys } => {
                put_vv(&mut body, vv);
                put_varint(&mut body, hlc.0);
                put_varint(&mut body, *keys);
            }
            Msg::SnapChunkRaw(bytes) => {
                // Encoded for this link by the snapshot: never newer than it reads.
                assert!(
                    bytes.len() >= 2 && u16::from_le_bytes([bytes[0], bytes[1]]) <= format,
                    "a snapshot chunk newer than the link's state format"
                );
                body.extend_from_slice(bytes)
            }
            Msg::SnapChunk(states, _) => body.extend_from_slice(&codec::encode_states_as(
                format,
                states.iter().map(|(k, v)| (&k[..], v)),
            )),
            Msg::Heartbeat { vv, wall_ms } => {
                put_vv(&mut body, vv);
                put_varint(&mut body, *wall_ms);
            }
            Msg::Publish { channel, message } => {
                put_bytes(&mut body, channel);
                put_bytes(&mut body, message);
            }
        }
        let (flags, body) = if compress && body.len() >= COMPRESS_MIN {
            (1u8, lz4_flex::compress_prepend_size(&body))
        } else {
            (0u8, body)
        };
        out.extend_from_slice(&((body.len() + 1) as u32).to_le_bytes());
        out.push(flags);
        out.extend_from_slice(&body);
    }

    /// Takes one complete frame of a link at protocol `version` off the front of `buf`:
    /// `Ok(None)` when more bytes are needed; the number of bytes the frame took is
    /// returned with the message.
    pub fn decode(buf: &[u8], version: u16) -> Result<Option<(Msg, usize)>, ProtoError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len > MAX_FRAME {
            return Err(ProtoError::TooLarge(len));
        }
        if len == 0 {
            return Err(CodecError::Truncated.into());
        }
        if buf.len() < 4 + len {
            return Ok(None);
        }
        let flags = buf[4];
        let raw = &buf[5..4 + len];
        let owned;
        let body = match flags {
            0 => raw,
            1 => {
                // The decompressed size is bounded like a frame.
                if raw.len() < 4 {
                    return Err(ProtoError::Compression);
                }
                let size = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
                if size > MAX_FRAME {
                    return Err(ProtoError::TooLarge(size));
                }
                owned = lz4_flex::decompress_size_prepended(raw)
                    .map_err(|_| ProtoError::Compression)?;
                &owned[..]
            }
            f => return Err(CodecError::Tag(f).into()),
        };
        Ok(Some((Self::decode_body(body, version)?, 4 + len)))
    }

    fn decode_body(body: &[u8], link: u16) -> Result<Msg, ProtoError> {
        if body.len() < 3 {
            return Err(CodecError::Truncated.into());
        }
        let version = u16::from_le_bytes([body[0], body[1]]);
        if version != link {
            return Err(ProtoError::Version(version, link));
        }
        let tag = body[2];
        let mut r = Reader::new(&body[3..]);
        let msg = match tag {
            1 => {
                let vv = r.vv()?;
                let n = r.count(1)?;
                let mut origins = Vec::with_capacity(n);
                for _ in 0..n {
                    let o = r.varint()?;
                    origins.push(
                        ReplicaId::try_from(o)
                            .map_err(|_| CodecError::Malformed("replica id exceeds 16 bits"))?,
                    );
                }
                let me = if link >= 3 {
                    let id = ReplicaId::try_from(r.varint()?)
                        .map_err(|_| CodecError::Malformed("replica id exceeds 16 bits"))?;
                    let incarnation = u32::try_from(r.varint()?)
                        .map_err(|_| CodecError::Malformed("incarnation exceeds 32 bits"))?;
                    Some(Origin::new(id, incarnation))
                } else {
                    None
                };
                Msg::Pull { vv, origins, me }
            }
            2 => Msg::Report { vv: r.vv()? },
            3 => Msg::Partial,
            4 => {
                let n = r.count(3)?;
                let mut groups = Vec::with_capacity(n);
                let mut last = None;
                for _ in 0..n {
                    let g = r.bytes()?;
                    let ops = codec::decode_group_sharing(&g, &mut last)?;
                    if ops.is_empty() {
                        return Err(CodecError::Malformed("empty op group").into());
                    }
                    groups.push(Arc::from(ops));
                }
                Msg::Ops(groups)
            }
            5 => Msg::SnapBegin {
                vv: r.vv()?,
                hlc: Hlc(r.varint()?),
                keys: r.varint()?,
            },
            6 => {
                let states = codec::decode_states(r.rest())?;
                return Ok(Msg::SnapChunk(states, r.rest().to_vec()));
            }
            7 => Msg::SnapEnd,
            8 => Msg::Heartbeat {
                vv: r.vv()?,
                wall_ms: r.varint()?,
            },
            9 => Msg::Publish {
                channel: r.bytes()?,
                message: r.bytes()?,
            },
            t => return Err(CodecError::Tag(t).into()),
        };
        if !r.rest().is_empty() {
            return Err(CodecError::Malformed("trailing bytes in frame").into());
        }
        Ok(msg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use concord_crdt::{Dot, OpKind, Origin, Stamp};
    use proptest::prelude::*;

    fn sample() -> Vec<Msg> {
        let mut vv = VersionVector::new();
        vv.raise(Origin::new(2, 7), 40);
        let op = Op {
            stamp: Stamp::new(Dot::new(Origin::new(2, 7), 41), Hlc(99)),
            deps: Arc::new(vv.clone()),
            key: b"key".to_vec().into(),
            kind: OpKind::SAdd(vec![b"m".to_vec().into(); 300]),
        };
        vec![
            Msg::Pull {
                vv: vv.clone(),
                origins: vec![1, 3],
                me: Some(Origin::new(1, 5)),
            },
            Msg::Report { vv: vv.clone() },
            Msg::Partial,
            Msg::Ops(vec![Arc::from(vec![op.clone()])]),
            Msg::OpsRaw(vec![Arc::from(codec::encode_group(&[op]))]),
            Msg::SnapBegin {
                vv: vv.clone(),
                hlc: Hlc(5),
                keys: 1,
            },
            Msg::SnapChunk(
                vec![(b"k".to_vec().into(), KeyState::default())],
                Vec::new(),
            ),
            Msg::SnapEnd,
            Msg::Heartbeat { vv, wall_ms: 12 },
            Msg::Publish {
                channel: b"c".to_vec().into(),
                message: b"m".to_vec().into(),
            },
        ]
    }

    #[test]
    fn every_message_roundtrips_at_every_version_with_and_without_compression() {
        for version in PROTO_MIN..=PROTO_VERSION {
            for compress in [false, true] {
                for m in sample() {
                    let mut buf = Vec::new();
                    m.encode(version, compress, &mut buf);
                    // Every strict prefix asks for more bytes.
                    for cut in 0..buf.len() {
                        assert!(Msg::decode(&buf[..cut], version).expect("prefix").is_none());
                    }
                    let (back, used) = Msg::decode(&buf, version)
                        .expect("decodes")
                        .expect("complete");
                    assert_eq!(used, buf.len());
                    let want = match m {
                        // Older links do not carry the puller's origin.
                        Msg::Pull { vv, origins, .. } if version < 3 => Msg::Pull {
                            vv,
                            origins,
                            me: None,
                        },
                        Msg::OpsRaw(groups) => Msg::Ops(
                            groups
                                .iter()
                                .map(|g| Arc::from(codec::decode_group(g).expect("decodes")))
                                .collect(),
                        ),
                        // A decoded chunk keeps the bytes it came as.
                        Msg::SnapChunk(states, _) => {
                            let raw = codec::encode_states_as(
                                state_format(version),
                                states.iter().map(|(k, v)| (&k[..], v)),
                            );
                            Msg::SnapChunk(states, raw)
                        }
                        m => m,
                    };
                    assert_eq!(format!("{back:?}"), format!("{want:?}"));
                }
            }
        }
    }

    #[test]
    fn frames_of_another_version_than_the_links_are_refused() {
        let mut buf = Vec::new();
        Msg::Partial.encode(PROTO_VERSION, false, &mut buf);
        assert!(matches!(
            Msg::decode(&buf, 1),
            Err(ProtoError::Version(PROTO_VERSION, 1))
        ));
        buf[5] = 9;
        assert!(matches!(
            Msg::decode(&buf, PROTO_VERSION),
            Err(ProtoError::Version(9, PROTO_VERSION))
        ));
    }

    /// A link of version 1 writes key states in format 1, which every build that speaks
    /// it reads, and reads format 2 too: the release before negotiation sent it there.
    #[test]
    fn a_version_1_link_writes_format_1_and_reads_both() {
        let states = vec![(Blob::from(&b"k"[..]), KeyState::default())];
        let mut sent = Vec::new();
        Msg::SnapChunk(states, Vec::new()).encode(1, false, &mut sent);
        // Length, flags, protocol version, tag, then the chunk's own format.
        assert_eq!(
            &sent[5..10],
            &[1, 0, 6, 1, 0],
            "format 1 on a version 1 link"
        );
        assert!(matches!(
            Msg::decode(&sent, 1),
            Ok(Some((Msg::SnapChunk(..), _)))
        ));
        let frame = |body: &[u8]| {
            let mut buf = ((body.len() + 1) as u32).to_le_bytes().to_vec();
            buf.push(0);
            buf.extend_from_slice(body);
            buf
        };
        // Framed by hand, as the release before negotiation sent it: encode() refuses to.
        let mut body = 1u16.to_le_bytes().to_vec();
        body.push(6);
        body.extend_from_slice(&codec::encode_states([(&b"k"[..], &KeyState::default())]));
        assert!(matches!(
            Msg::decode(&frame(&body), 1),
            Ok(Some((Msg::SnapChunk(..), _)))
        ));
        body[3] = 99;
        assert!(
            matches!(
                Msg::decode(&frame(&body), 1),
                Err(ProtoError::Codec(CodecError::Version(99)))
            ),
            "a format this build does not know is refused"
        );
    }

    #[test]
    fn the_newest_version_both_ends_speak_is_chosen() {
        assert_eq!(negotiate(PROTO_VERSION, PROTO_VERSION), Ok(PROTO_VERSION));
        assert_eq!(negotiate(1, PROTO_VERSION), Ok(1));
        assert_eq!(negotiate(PROTO_VERSION, 1), Ok(1));
        // A dialer newer than this build gets the newest this build speaks.
        assert_eq!(negotiate(u16::MAX, PROTO_VERSION), Ok(PROTO_VERSION));
        let refused = negotiate(0, PROTO_VERSION).expect_err("below the oldest");
        assert!(refused.ends_with(&format!("speaks {PROTO_MIN} to {PROTO_VERSION})")));
    }

    proptest! {
        /// Garbage never panics the decoder, whatever it claims.
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300), flags in 0u8..3, tag in 0u8..12) {
            let mut buf = ((bytes.len() + 4) as u32).to_le_bytes().to_vec();
            buf.push(flags);
            buf.extend_from_slice(&PROTO_VERSION.to_le_bytes());
            buf.push(tag);
            buf.extend_from_slice(&bytes);
            for version in PROTO_MIN..=PROTO_VERSION {
                let _ = Msg::decode(&buf, version);
                let _ = Msg::decode(&bytes, version);
            }
        }
    }
}
