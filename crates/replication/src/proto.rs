//! The peer protocol: messages exchanged on a link after the `CRDT.LINK` handshake, and
//! their framing. Every frame carries the protocol version; decoding never trusts a length
//! it has not checked.
//!
//! Frame: `u32 LE length` of what follows, `u8 flags` (bit 0: lz4-compressed body), body.
//! Body: `u16 LE PROTO_VERSION`, `u8 tag`, fields.

use concord_crdt::codec::{self, CodecError, Reader, put_bytes, put_varint, put_vv};
use concord_crdt::{Blob, Hlc, KeyState, Op, ReplicaId, VersionVector};
use std::sync::Arc;

/// Version of the peer protocol; both ends of a link must speak the same one.
pub const PROTO_VERSION: u16 = 1;

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
    },
    /// Downstream → upstream: what the sender has applied (for stability).
    Report {
        /// The sender's version vector.
        vv: VersionVector,
    },
    /// Upstream → downstream: the pull is served from the backlog (partial sync).
    Partial,
    /// Upstream → downstream: groups of ops, each applied whole.
    Ops(Vec<Arc<[Op]>>),
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
    /// Upstream → downstream, decoding side: the key states of one chunk.
    SnapChunk(Vec<(Blob, KeyState)>),
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
    /// The peer speaks another protocol version.
    #[error("peer protocol version {0}, this build speaks {PROTO_VERSION}")]
    Version(u16),
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
            Msg::Ops(_) => 4,
            Msg::SnapBegin { .. } => 5,
            Msg::SnapChunkRaw(_) | Msg::SnapChunk(_) => 6,
            Msg::SnapEnd => 7,
            Msg::Heartbeat { .. } => 8,
            Msg::Publish { .. } => 9,
        }
    }

    /// Appends this message as one frame to `out`; compresses large bodies if asked.
    pub fn encode(&self, compress: bool, out: &mut Vec<u8>) {
        let mut body = Vec::with_capacity(64);
        body.extend_from_slice(&PROTO_VERSION.to_le_bytes());
        body.push(self.tag());
        match self {
            Msg::Pull { vv, origins } => {
                put_vv(&mut body, vv);
                put_varint(&mut body, origins.len() as u64);
                for o in origins {
                    put_varint(&mut body, u64::from(*o));
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
            Msg::SnapBegin { vv, hlc, keys } => {
                put_vv(&mut body, vv);
                put_varint(&mut body, hlc.0);
                put_varint(&mut body, *keys);
            }
            Msg::SnapChunkRaw(bytes) => body.extend_from_slice(bytes),
            Msg::SnapChunk(states) => body.extend_from_slice(&codec::encode_states(
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

    /// Takes one complete frame off the front of `buf`: `Ok(None)` when more bytes are
    /// needed; the number of bytes the frame took is returned with the message.
    pub fn decode(buf: &[u8]) -> Result<Option<(Msg, usize)>, ProtoError> {
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
        Ok(Some((Self::decode_body(body)?, 4 + len)))
    }

    fn decode_body(body: &[u8]) -> Result<Msg, ProtoError> {
        if body.len() < 3 {
            return Err(CodecError::Truncated.into());
        }
        let version = u16::from_le_bytes([body[0], body[1]]);
        if version != PROTO_VERSION {
            return Err(ProtoError::Version(version));
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
                Msg::Pull { vv, origins }
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
                return Ok(Msg::SnapChunk(states));
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
            },
            Msg::Report { vv: vv.clone() },
            Msg::Partial,
            Msg::Ops(vec![Arc::from(vec![op])]),
            Msg::SnapBegin {
                vv: vv.clone(),
                hlc: Hlc(5),
                keys: 1,
            },
            Msg::SnapChunk(vec![(b"k".to_vec().into(), KeyState::default())]),
            Msg::SnapEnd,
            Msg::Heartbeat { vv, wall_ms: 12 },
            Msg::Publish {
                channel: b"c".to_vec().into(),
                message: b"m".to_vec().into(),
            },
        ]
    }

    #[test]
    fn every_message_roundtrips_with_and_without_compression() {
        for compress in [false, true] {
            for m in sample() {
                let mut buf = Vec::new();
                m.encode(compress, &mut buf);
                // Every strict prefix asks for more bytes.
                for cut in 0..buf.len() {
                    assert!(Msg::decode(&buf[..cut]).expect("prefix").is_none());
                }
                let (back, used) = Msg::decode(&buf).expect("decodes").expect("complete");
                assert_eq!(used, buf.len());
                assert_eq!(format!("{back:?}"), format!("{m:?}"));
            }
        }
    }

    #[test]
    fn other_protocol_versions_are_refused() {
        let mut buf = Vec::new();
        Msg::Partial.encode(false, &mut buf);
        buf[5] = 9;
        assert!(matches!(Msg::decode(&buf), Err(ProtoError::Version(9))));
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
            let _ = Msg::decode(&buf);
            let _ = Msg::decode(&bytes);
        }
    }
}
