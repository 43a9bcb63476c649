//! What a changed setting does to the running instance (the `apply` of its entry in
//! [`SETTINGS`](super::SETTINGS)), and the settings derived for the engine.

use super::{LogLevel, ServerConfig};
use crate::Shared;
use concord_engine::{Engine, EvictConfig};

/// Changes the log's level: the binary sets it up and gives this hook.
pub static LOG_LEVEL_HOOK: std::sync::OnceLock<Box<dyn Fn(LogLevel) + Send + Sync>> =
    std::sync::OnceLock::new();

/// CONFIG SET jemalloc-bg-thread: the allocator's background thread starts or stops.
pub(super) fn apply_jemalloc_bg_thread(
    _: &Shared,
    _: &mut Engine,
    c: &ServerConfig,
) -> Result<(), String> {
    crate::jemalloc::set_background_thread(c.jemalloc_bg_thread)
}

/// CONFIG SET loglevel: the log filter changes at once.
pub(super) fn apply_loglevel(_: &Shared, _: &mut Engine, c: &ServerConfig) -> Result<(), String> {
    if let Some(hook) = LOG_LEVEL_HOOK.get() {
        hook(c.loglevel);
    }
    Ok(())
}

/// Subscribers' queues are checked against the pub/sub limits when a message is published.
pub(crate) fn apply_output_limits(
    sh: &Shared,
    _: &mut Engine,
    c: &ServerConfig,
) -> Result<(), String> {
    sh.pubsub.lock().unwrap_or_else(|p| p.into_inner()).limit = Some(c.output_limits.pubsub);
    sh.tracking.lock().unwrap_or_else(|p| p.into_inner()).limit = c.output_limits.pubsub;
    Ok(())
}

/// The eviction settings the engine reads.
pub(crate) fn eviction(c: &ServerConfig) -> EvictConfig {
    EvictConfig {
        policy: c.maxmemory_policy,
        samples: c.maxmemory_samples as usize,
        lfu_log_factor: u32::try_from(c.lfu_log_factor).unwrap_or(u32::MAX),
        lfu_decay_time: u32::try_from(c.lfu_decay_time).unwrap_or(u32::MAX),
    }
}

/// CONFIG SET of an eviction setting: the engine chooses victims the new way.
pub(super) fn apply_eviction(_: &Shared, e: &mut Engine, c: &ServerConfig) -> Result<(), String> {
    e.set_eviction(eviction(c));
    Ok(())
}

/// Keys one command may evict: Redis bounds eviction by time, growing 15 % per step of
/// tenacity from 500 µs at 10; about 32 keys fit in 500 µs here. 100 means as many as
/// it takes (bounded by the keys there are).
pub(super) fn evict_budget(tenacity: u64) -> usize {
    if tenacity >= 100 {
        return usize::MAX;
    }
    (32.0 * 1.15f64.powi(tenacity as i32 - 10)).ceil().max(1.0) as usize
}

/// CONFIG SET stream-id-mode: XADD picks ids the new way.
pub(super) fn apply_stream_ids(_: &Shared, e: &mut Engine, c: &ServerConfig) -> Result<(), String> {
    e.set_stream_id_mode(c.stream_id_mode);
    Ok(())
}
