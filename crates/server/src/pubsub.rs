//! Publish/subscribe on one instance: channels and patterns, delivered to each
//! subscriber's queue, whose bytes count against the pub/sub output buffer limits.

use crate::limits::{ClassLimit, SoftWatch};
use bytes::Bytes;
use concord_engine::glob_match;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::mpsc;

/// What a connection task receives besides its socket.
#[derive(Debug)]
pub enum Msg {
    /// A message on a channel the client subscribed to.
    Message { channel: Bytes, payload: Bytes },
    /// A message matched by a pattern the client subscribed to.
    PMessage {
        pattern: Bytes,
        channel: Bytes,
        payload: Bytes,
    },
    /// The reply that ends a blocking command, and the append-only file batch that must
    /// be durable before it is sent (0: none).
    Reply(bytes::Bytes, u64),
    /// Settings changed: look at them again (an idle client's timeout, say).
    Refresh,
    /// A MONITOR line, ready to write.
    Monitor(Bytes),
    /// A message on a shard channel the client subscribed to (SPUBLISH).
    SMessage { channel: Bytes, payload: Bytes },
    /// Keys a tracking client must drop from its cache (`None`: every key), for itself
    /// or, `redirected`, for the client it redirects to.
    Invalidate {
        keys: Option<Vec<Bytes>>,
        redirected: bool,
    },
    /// The client a tracking client redirects to went away (its id).
    RedirBroken(u64),
}

/// The three namespaces of pub/sub: channels, patterns over channels, and shard
/// channels (SSUBSCRIBE/SPUBLISH, apart from the others).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Space {
    /// SUBSCRIBE's channels.
    Channel,
    /// PSUBSCRIBE's patterns.
    Pattern,
    /// SSUBSCRIBE's shard channels.
    Shard,
}

impl Msg {
    /// The bytes a message holds while it waits for its subscriber.
    pub fn cost(&self) -> usize {
        match self {
            Msg::Message { channel, payload } | Msg::SMessage { channel, payload } => {
                channel.len() + payload.len() + 32
            }
            Msg::PMessage {
                pattern,
                channel,
                payload,
            } => pattern.len() + channel.len() + payload.len() + 40,
            Msg::Monitor(line) => line.len(),
            Msg::Invalidate { keys, .. } => {
                48 + keys
                    .as_ref()
                    .map_or(0, |k| k.iter().map(|k| k.len() + 16).sum())
            }
            Msg::RedirBroken(_) => 48,
            Msg::Reply(..) | Msg::Refresh => 0,
        }
    }
}

/// The sending side of a client's queue.
pub type Tx = mpsc::Sender<Msg>;

/// A subscriber's queue and how many bytes of messages wait in it.
#[derive(Clone)]
pub struct Mailbox {
    /// The client's queue.
    pub tx: Tx,
    /// Bytes of messages sent and not yet written to the client.
    pub waiting: Arc<AtomicUsize>,
    /// How long the waiting bytes have stayed above the soft limit.
    watch: Arc<Mutex<SoftWatch>>,
    /// Closes the connection (CLIENT KILL, output limits), even one stuck writing.
    pub kill: Arc<crate::kill::Kill>,
}

impl Mailbox {
    /// A mailbox for a client's queue.
    pub fn new(tx: Tx) -> Mailbox {
        Mailbox {
            tx,
            waiting: Arc::new(AtomicUsize::new(0)),
            watch: Arc::new(Mutex::new(SoftWatch::default())),
            kill: Arc::default(),
        }
    }

    /// Queues a message; a client past its limits (or whose queue is full) is told to
    /// close instead, as Redis disconnects a subscriber past its output limits.
    pub(crate) fn deliver(&self, m: Msg, limit: &ClassLimit) -> bool {
        let cost = m.cost();
        let waiting = self.waiting.fetch_add(cost, Ordering::AcqRel) + cost;
        let over = self.watch.lock().unwrap_or_else(|p| p.into_inner()).over(
            limit,
            waiting,
            Instant::now(),
        );
        if !over && self.tx.try_send(m).is_ok() {
            return true;
        }
        self.waiting.fetch_sub(cost, Ordering::AcqRel);
        self.kill.fire();
        false
    }

    /// The connection wrote a message out: its bytes no longer wait.
    pub fn taken(&self, m: &Msg) {
        self.waiting.fetch_sub(m.cost(), Ordering::AcqRel);
    }
}

/// Subscriptions of every client.
#[derive(Default)]
pub struct PubSub {
    channels: HashMap<Bytes, HashMap<u64, Mailbox>>,
    patterns: HashMap<Bytes, HashMap<u64, Mailbox>>,
    shards: HashMap<Bytes, HashMap<u64, Mailbox>>,
    /// The pub/sub class's output limits.
    pub limit: Option<ClassLimit>,
}

impl PubSub {
    /// No subscriptions yet; subscribers held to `limit`.
    pub fn with_limit(limit: ClassLimit) -> PubSub {
        PubSub {
            limit: Some(limit),
            ..Default::default()
        }
    }
}

impl PubSub {
    /// The subscriptions of a namespace.
    fn space(&mut self, space: Space) -> &mut HashMap<Bytes, HashMap<u64, Mailbox>> {
        match space {
            Space::Channel => &mut self.channels,
            Space::Pattern => &mut self.patterns,
            Space::Shard => &mut self.shards,
        }
    }

    /// Subscribes `id` to a channel, pattern or shard channel; returns whether it is new.
    pub fn subscribe(&mut self, space: Space, name: &Bytes, id: u64, mailbox: &Mailbox) -> bool {
        self.space(space)
            .entry(name.clone())
            .or_default()
            .insert(id, mailbox.clone())
            .is_none()
    }

    /// Unsubscribes `id`; returns whether it was subscribed.
    pub fn unsubscribe(&mut self, space: Space, name: &[u8], id: u64) -> bool {
        let map = self.space(space);
        let Some(subs) = map.get_mut(name) else {
            return false;
        };
        let was = subs.remove(&id).is_some();
        if subs.is_empty() {
            map.remove(name);
        }
        was
    }

    /// Delivers a message; returns how many clients it was for. A client past its
    /// output limits is disconnected instead.
    pub fn publish(&mut self, channel: &Bytes, payload: &Bytes) -> usize {
        self.deliver_all(channel, || (channel.clone(), payload.clone()))
    }

    /// Like [`PubSub::publish`] for a message held elsewhere: it is copied only if
    /// someone receives it (keyspace events, which mostly nobody listens to).
    pub fn publish_slices(&mut self, channel: &[u8], payload: &[u8]) -> usize {
        let mut owned: Option<(Bytes, Bytes)> = None;
        self.deliver_all(channel, || {
            owned
                .get_or_insert_with(|| {
                    (
                        Bytes::copy_from_slice(channel),
                        Bytes::copy_from_slice(payload),
                    )
                })
                .clone()
        })
    }

    /// Delivers to the subscribers of `channel` and of the patterns it matches; `msg`
    /// gives the channel and payload to send (called once per receiver).
    fn deliver_all(&mut self, channel: &[u8], mut msg: impl FnMut() -> (Bytes, Bytes)) -> usize {
        let limit = self
            .limit
            .unwrap_or(crate::limits::OutputLimits::default().pubsub);
        let mut n = 0;
        if let Some(subs) = self.channels.get(channel) {
            for mb in subs.values() {
                let (channel, payload) = msg();
                mb.deliver(Msg::Message { channel, payload }, &limit);
                n += 1;
            }
        }
        for (pat, subs) in &self.patterns {
            if !glob_match(pat, channel, false) {
                continue;
            }
            for mb in subs.values() {
                let (channel, payload) = msg();
                let m = Msg::PMessage {
                    pattern: pat.clone(),
                    channel,
                    payload,
                };
                mb.deliver(m, &limit);
                n += 1;
            }
        }
        n
    }

    /// Delivers a shard channel's message (SPUBLISH); returns how many clients it was
    /// for.
    pub fn spublish(&mut self, channel: &Bytes, payload: &Bytes) -> usize {
        let limit = self
            .limit
            .unwrap_or(crate::limits::OutputLimits::default().pubsub);
        let Some(subs) = self.shards.get(channel) else {
            return 0;
        };
        for mb in subs.values() {
            let m = Msg::SMessage {
                channel: channel.clone(),
                payload: payload.clone(),
            };
            mb.deliver(m, &limit);
        }
        subs.len()
    }

    /// Active channels (or shard channels), optionally filtered by a pattern.
    pub fn channels(&self, space: Space, pat: Option<&[u8]>) -> Vec<Bytes> {
        let map = if space == Space::Shard {
            &self.shards
        } else {
            &self.channels
        };
        map.keys()
            .filter(|c| pat.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of a channel (or a shard channel).
    pub fn numsub(&self, space: Space, channel: &[u8]) -> usize {
        let map = if space == Space::Shard {
            &self.shards
        } else {
            &self.channels
        };
        map.get(channel).map_or(0, |s| s.len())
    }

    /// Whether nobody subscribes to anything.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.patterns.is_empty()
    }

    /// Number of patterns subscribed to by anyone.
    pub fn numpat(&self) -> usize {
        self.patterns.len()
    }

    /// Channels with a subscriber (INFO's `pubsub_channels`; shard channels are counted
    /// apart, as in Redis).
    pub fn numchannels(&self) -> usize {
        self.channels.len()
    }
}
