//! Publish/subscribe on one instance: channels and patterns, delivered to each
//! subscriber's bounded queue.

use bytes::Bytes;
use concord_engine::glob_match;
use std::collections::HashMap;
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
    /// CLIENT KILL: close the connection.
    Kill,
    /// The reply that ends a blocking command, and the append-only file batch that must
    /// be durable before it is sent (0: none).
    Reply(bytes::Bytes, u64),
}

/// The sending side of a client's queue.
pub type Tx = mpsc::Sender<Msg>;

/// Subscriptions of every client.
#[derive(Default)]
pub struct PubSub {
    channels: HashMap<Bytes, HashMap<u64, Tx>>,
    patterns: HashMap<Bytes, HashMap<u64, Tx>>,
}

impl PubSub {
    /// Subscribes `id` to a channel (or a pattern); returns whether it is new.
    pub fn subscribe(&mut self, pattern: bool, name: &Bytes, id: u64, tx: &Tx) -> bool {
        let map = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        map.entry(name.clone())
            .or_default()
            .insert(id, tx.clone())
            .is_none()
    }

    /// Unsubscribes `id`; returns whether it was subscribed.
    pub fn unsubscribe(&mut self, pattern: bool, name: &[u8], id: u64) -> bool {
        let map = if pattern {
            &mut self.patterns
        } else {
            &mut self.channels
        };
        let Some(subs) = map.get_mut(name) else {
            return false;
        };
        let was = subs.remove(&id).is_some();
        if subs.is_empty() {
            map.remove(name);
        }
        was
    }

    /// Delivers a message; returns how many clients received it. A client whose queue is
    /// full is dropped, as Redis does past its pub/sub output limit.
    pub fn publish(&mut self, channel: &Bytes, payload: &Bytes) -> usize {
        let mut n = 0;
        if let Some(subs) = self.channels.get(channel) {
            for tx in subs.values() {
                let m = Msg::Message {
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                if tx.try_send(m).is_ok() {
                    n += 1;
                } else {
                    let _ = tx.try_send(Msg::Kill);
                }
            }
        }
        for (pat, subs) in &self.patterns {
            if !glob_match(pat, channel, false) {
                continue;
            }
            for tx in subs.values() {
                let m = Msg::PMessage {
                    pattern: pat.clone(),
                    channel: channel.clone(),
                    payload: payload.clone(),
                };
                if tx.try_send(m).is_ok() {
                    n += 1;
                }
            }
        }
        n
    }

    /// Active channels, optionally filtered by a pattern.
    pub fn channels(&self, pat: Option<&[u8]>) -> Vec<Bytes> {
        self.channels
            .keys()
            .filter(|c| pat.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    /// Subscribers of a channel.
    pub fn numsub(&self, channel: &[u8]) -> usize {
        self.channels.get(channel).map_or(0, |s| s.len())
    }

    /// Number of patterns subscribed to by anyone.
    pub fn numpat(&self) -> usize {
        self.patterns.len()
    }
}
