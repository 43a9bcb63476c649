//! Concord's integration tests: real servers on loopback, real clients.
//!
//! One binary for the crate: differential tests against Debian's redis-server, protocol
//! and connection behaviour, and the worked examples that need a running server.

mod support;

mod acl;
mod cluster;
mod commands;
mod config;
mod console;
mod differential;
mod dump;
mod evict;
mod info_stats;
mod introspect;
mod limits;
mod manager;
mod manager_changes;
mod members;
mod metrics;
mod netns;
mod notify;
mod packaging;
mod peers;
mod persist;
mod rdb;
mod replicaof;
mod scripts;
mod security;
mod server;
mod sorting;
mod tls;
mod tracking;
mod upgrade;
