//! INFO: the sections Redis reports, plus Concord's `crdt` section.

use crate::{Shared, mem};
use concord_engine::Engine;
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// The Redis version Concord reports; clients pick features by it.
pub const REDIS_VERSION: &str = "7.2.0";

const DEFAULT: &[&str] = &[
    "server",
    "clients",
    "memory",
    "persistence",
    "stats",
    "replication",
    "cpu",
    "modules",
    "errorstats",
    "cluster",
    "keyspace",
    "crdt",
];
const ALL_EXTRA: &[&str] = &["commandstats", "latencystats"];

fn human(bytes: usize) -> String {
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2}G", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.2}M", b / (1024.0 * 1024.0))
    } else if b >= 1024.0 {
        format!("{:.2}K", b / 1024.0)
    } else {
        format!("{bytes}B")
    }
}

/// Renders INFO for the requested sections (none: the default set).
pub(crate) fn render(sh: &Shared, e: &mut Engine, args: &[&[u8]]) -> String {
    let mut wanted: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    if wanted.is_empty() || wanted.iter().any(|w| w == "default") {
        wanted.extend(DEFAULT.iter().map(|s| s.to_string()));
    }
    if wanted.iter().any(|w| w == "all" || w == "everything") {
        wanted.extend(DEFAULT.iter().chain(ALL_EXTRA).map(|s| s.to_string()));
    }
    let order: Vec<&str> = DEFAULT.iter().chain(ALL_EXTRA).copied().collect();
    let mut s = String::new();
    for sec in order {
        if !wanted.iter().any(|w| w == sec) {
            continue;
        }
        if !s.is_empty() {
            s.push_str("\r\n");
        }
        section(sh, e, sec, &mut s);
    }
    s
}

fn section(sh: &Shared, e: &mut Engine, sec: &str, s: &mut String) {
    let up = sh.started.elapsed().as_secs();
    let hz = sh.hot().hz;
    match sec {
        "server" => {
            let _ = write!(
                s,
                "# Server\r\nredis_version:{REDIS_VERSION}\r\nconcord_version:{}\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:epoll\r\nprocess_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\nserver_time_usec:{}\r\nuptime_in_seconds:{up}\r\nuptime_in_days:{}\r\nhz:{hz}\r\nconfigured_hz:{hz}\r\nexecutable:{}\r\nconfig_file:{}\r\n",
                env!("CARGO_PKG_VERSION"),
                std::env::consts::OS,
                std::env::consts::ARCH,
                std::process::id(),
                sh.run_id,
                sh.port,
                crate::wall_ms() * 1000,
                up / 86400,
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                sh.cfg
                    .config_file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
            );
        }
        "clients" => {
            let (n, max_in, max_out) = {
                let clients = crate::lock(&sh.clients);
                // The largest query buffer among the clients now (its allocation, as
                // Redis shows it), and the largest output waiting.
                let max_in = clients
                    .values()
                    .map(|c| {
                        let (len, free) = c.query.get();
                        len + free
                    })
                    .max()
                    .unwrap_or(0);
                let max_out = clients.values().map(|c| c.output_bytes()).max();
                (clients.len(), max_in, max_out.unwrap_or(0))
            };
            let max = sh.hot().maxclients;
            let b = sh.blocked.lock().unwrap_or_else(|p| p.into_inner()).len();
            let t = sh
                .tracking
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .client_count();
            let _ = write!(
                s,
                "# Clients\r\nconnected_clients:{n}\r\ncluster_connections:0\r\nmaxclients:{max}\r\nclient_recent_max_input_buffer:{max_in}\r\nclient_recent_max_output_buffer:{max_out}\r\nblocked_clients:{b}\r\ntracking_clients:{t}\r\nclients_in_timeout_table:0\r\n"
            );
        }
        "memory" => {
            let used = mem::used();
            let max = sh.hot().maxmemory as usize;
            let peak = mem::peak();
            let rss = crate::measure::rss().unwrap_or(used);
            let a = crate::jemalloc::stats();
            let ratio = |num: usize, den: usize| {
                if den > 0 {
                    num as f64 / den as f64
                } else {
                    1.0
                }
            };
            let diff = |x: usize, y: usize| x as i64 - y as i64;
            let _ = write!(
                s,
                "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nused_memory_peak:{peak}\r\nused_memory_peak_human:{}\r\nused_memory_dataset:{used}\r\nallocator_allocated:{}\r\nallocator_active:{}\r\nallocator_resident:{}\r\nmaxmemory:{max}\r\nmaxmemory_human:{}\r\nmaxmemory_policy:{}\r\nallocator_frag_ratio:{:.2}\r\nallocator_frag_bytes:{}\r\nallocator_rss_ratio:{:.2}\r\nallocator_rss_bytes:{}\r\nrss_overhead_ratio:{:.2}\r\nrss_overhead_bytes:{}\r\nmem_fragmentation_ratio:{:.2}\r\nmem_fragmentation_bytes:{}\r\nmem_allocator:{}\r\ncrdt_backlog_bytes:{}\r\n",
                human(used),
                human(rss),
                human(peak),
                a.allocated,
                a.active,
                a.resident,
                human(max),
                e.eviction_policy().name(),
                ratio(a.active, a.allocated),
                diff(a.active, a.allocated),
                ratio(a.resident, a.active),
                diff(a.resident, a.active),
                ratio(rss, a.resident),
                diff(rss, a.resident),
                ratio(rss, used),
                diff(rss, used),
                crate::jemalloc::version(),
                e.log().bytes(),
            );
        }
        "persistence" => persistence(sh, e, s),
        "stats" => {
            let acl = sh
                .access
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .log
                .stats();
            let (tkeys, titems, tprefixes) = sh
                .tracking
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .totals();
            let (channels, patterns) = {
                let ps = crate::lock(&sh.pubsub);
                (ps.numchannels(), ps.numpat())
            };
            let _ = write!(
                s,
                "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{}\r\ninstantaneous_ops_per_sec:{}\r\nrejected_connections:{}\r\nexpired_keys:{}\r\nevicted_keys:{}\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\ntotal_error_replies:{}\r\nlatest_fork_usec:{}\r\ntotal_forks:{}\r\ntracking_total_keys:{tkeys}\r\ntracking_total_items:{titems}\r\ntracking_total_prefixes:{tprefixes}\r\nacl_access_denied_auth:{}\r\nacl_access_denied_cmd:{}\r\nacl_access_denied_key:{}\r\nacl_access_denied_channel:{}\r\n",
                sh.connections.load(Ordering::Relaxed),
                sh.commands.load(Ordering::Relaxed),
                sh.ops_rate.per_sec(),
                sh.rejected_conns.load(Ordering::Relaxed),
                e.stats.expired_keys,
                e.stats.evicted_keys,
                e.stats.keyspace_hits,
                e.stats.keyspace_misses,
                channels,
                patterns,
                sh.errors.total(),
                sh.persist.latest_fork_usec.load(Ordering::Relaxed),
                sh.persist.forks.load(Ordering::Relaxed),
                acl.auth,
                acl.command,
                acl.key,
                acl.channel,
            );
        }
        "replication" => {
            s.push_str("# Replication\r\n");
            match sh.follow.status() {
                Some(status) => crate::follow::write_info(&status, s),
                None => s.push_str("role:master\r\n"),
            }
            let _ = write!(
                s,
                "connected_slaves:0\r\nmaster_failover_state:no-failover\r\nmaster_replid:{}\r\nmaster_repl_offset:0\r\nrepl_backlog_active:0\r\n",
                sh.run_id
            );
        }
        "cpu" => {
            use crate::measure::{Who, cpu};
            let (me, children, thread) = (cpu(Who::Process), cpu(Who::Children), cpu(Who::Thread));
            // INFO runs on the network thread, Redis's "main thread" here.
            let _ = write!(
                s,
                "# CPU\r\nused_cpu_sys:{:.6}\r\nused_cpu_user:{:.6}\r\nused_cpu_sys_children:{:.6}\r\nused_cpu_user_children:{:.6}\r\nused_cpu_sys_main_thread:{:.6}\r\nused_cpu_user_main_thread:{:.6}\r\n",
                me.sys, me.user, children.sys, children.user, thread.sys, thread.user
            );
        }
        "modules" => s.push_str("# Modules\r\n"),
        "errorstats" => {
            s.push_str("# Errorstats\r\n");
            sh.errors.write_info(s);
        }
        "cluster" => s.push_str("# Cluster\r\ncluster_enabled:0\r\n"),
        "latencystats" => s.push_str("# Latencystats\r\n"),
        "keyspace" => {
            s.push_str("# Keyspace\r\n");
            // Counted as writes happen: INFO never walks the keys. Expired keys count
            // until deleted, as in Redis.
            let (keys, expires) = (e.live_keys(), e.expiring_count());
            if keys > 0 {
                let _ = write!(s, "db0:keys={keys},expires={expires},avg_ttl=0\r\n");
            }
        }
        "commandstats" => {
            s.push_str("# Commandstats\r\n");
            for (id, st) in e.cmdstats.iter().enumerate() {
                if st.calls == 0 && st.rejected == 0 {
                    continue;
                }
                let usec = st.nanos / 1000;
                let per = if st.calls > 0 {
                    st.nanos as f64 / 1000.0 / st.calls as f64
                } else {
                    0.0
                };
                let _ = write!(
                    s,
                    "cmdstat_{}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
                    concord_engine::full_name(id),
                    st.calls,
                    usec,
                    st.rejected,
                    st.failed
                );
            }
        }
        "crdt" => {
            let o = e.origin();
            let r = sh.repl.lock().unwrap_or_else(|p| p.into_inner());
            let peers = r.peers();
            let full: u64 = peers.values().map(|p| p.full_syncs).sum();
            let partial: u64 = peers.values().map(|p| p.partial_syncs).sum();
            let _ = write!(
                s,
                "# CRDT\r\ncrdt_replica_id:{}\r\ncrdt_incarnation:{}\r\ncrdt_db:{}\r\ncrdt_vv:{}\r\ncrdt_hlc:{}\r\ncrdt_sync:{}\r\ncrdt_peers:{}\r\ncrdt_backlog_groups:{}\r\ncrdt_backlog_bytes:{}\r\ncrdt_backlog_budget:{}\r\ncrdt_local_ops:{}\r\ncrdt_remote_ops:{}\r\ncrdt_full_syncs:{full}\r\ncrdt_partial_syncs:{partial}\r\ncrdt_waiting_ops:{}\r\ncrdt_unstable_keys:{}\r\ncrdt_merge_keys_left:{}\r\ncrdt_snapshot_streaming:{}\r\n",
                o.id,
                o.incarnation,
                sh.cfg.db_name,
                e.vv(),
                e.hlc().0,
                if r.paused() { "paused" } else { "running" },
                peers.len(),
                e.log().len(),
                e.log().bytes(),
                e.log().budget(),
                e.stats.local_ops,
                e.stats.remote_ops,
                r.waiting_ops(),
                e.unstable_count(),
                e.merge_left(),
                u8::from(e.streaming()),
            );
            let now = crate::wall_ms();
            let addrs = sh.peer_addrs.lock().unwrap_or_else(|p| p.into_inner());
            let due = sh.next_attempt.lock().unwrap_or_else(|p| p.into_inner());
            let uptime = sh.uptime_ms();
            for (id, p) in peers {
                let addr = addrs.get(id).map_or("", |a| a.addr.as_str());
                let (lag_ops, lag_ms) = r.lag(e, *id, now);
                let (pending_ops, pending_ms) = r.pending(e, *id, now);
                // Whether the peer holds a link to this instance (the other direction).
                let served = u8::from(
                    sh.served
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .serves(*id),
                );
                // -1: no attempt is waiting (the link is up, being made, or paused).
                let next = due.get(id).map_or(-1, |(at, _)| {
                    i64::try_from(at.saturating_sub(uptime)).unwrap_or(i64::MAX)
                });
                let _ = write!(
                    s,
                    "crdt_peer{id}:addr={addr},state={},protocol={},lag_ops={lag_ops},lag_ms={lag_ms},pending_ops={pending_ops},pending_ms={pending_ms},bytes_in={},bytes_out={},full_syncs={},partial_syncs={},full_syncs_served={},partial_syncs_served={},served={served},link_errors={},next_attempt_in_ms={next},last_error={}\r\n",
                    p.state.name(),
                    p.protocol,
                    p.bytes_in,
                    p.bytes_out,
                    p.full_syncs,
                    p.partial_syncs,
                    p.full_syncs_served,
                    p.partial_syncs_served,
                    p.link_errors,
                    p.last_error.replace(['\r', '\n', ','], " "),
                );
            }
            let removed: Vec<String> = r
                .removed()
                .iter()
                .map(|(id, cut)| format!("{id}:{cut}"))
                .collect();
            let _ = write!(
                s,
                "crdt_removed:{}\r\ncrdt_writes:{}\r\n",
                removed.join(" "),
                crate::cmd::member::writes_state(sh)
            );
        }
        _ => {}
    }
}

/// The `persistence` section, with Redis's field names where they apply.
fn persistence(sh: &Shared, e: &Engine, s: &mut String) {
    use crate::persist::BgKind;
    let p = &sh.persist;
    let st = p.writer.state();
    let running = p.running();
    let secs = |k: BgKind| {
        running
            .filter(|(kind, _)| *kind == k)
            .map_or(-1, |(_, t)| t.elapsed().as_secs() as i64)
    };
    let status = |ok: bool| if ok { "ok" } else { "err" };
    let ops = e.stats.local_ops + e.stats.remote_ops;
    let _ = write!(
        s,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\ncurrent_cow_peak:0\r\ncurrent_cow_size:0\r\ncurrent_fork_perc:0.00\r\ncurrent_save_keys_processed:0\r\ncurrent_save_keys_total:0\r\nrdb_changes_since_last_save:{}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\nrdb_last_cow_size:0\r\nrdb_last_load_keys_expired:0\r\nrdb_last_load_keys_loaded:{}\r\naof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:0\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        ops.saturating_sub(p.ops_at_save.load(Ordering::Relaxed)),
        u8::from(running.is_some_and(|(k, _)| k == BgKind::Save)),
        p.lastsave.load(Ordering::Relaxed),
        status(p.last_bgsave_ok.load(Ordering::Relaxed)),
        p.last_save_secs.load(Ordering::Relaxed),
        secs(BgKind::Save),
        p.saves.load(Ordering::Relaxed),
        p.loaded.snapshot_keys,
        u8::from(p.writer.appendonly()),
        u8::from(running.is_some_and(|(k, _)| k == BgKind::Rewrite)),
        u8::from(st.rewrite_wanted.load(Ordering::Relaxed) || p.scheduled.load(Ordering::Relaxed)),
        p.last_rewrite_secs.load(Ordering::Relaxed),
        secs(BgKind::Rewrite),
        status(p.last_rewrite_ok.load(Ordering::Relaxed)),
        p.rewrites.load(Ordering::Relaxed),
        status(st.write_ok.load(Ordering::Relaxed)),
    );
    if p.writer.appendonly() {
        let _ = write!(
            s,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:{}\r\naof_fsync:{}\r\n",
            st.aof_size.load(Ordering::Relaxed),
            st.base_size.load(Ordering::Relaxed),
            u8::from(p.scheduled.load(Ordering::Relaxed)),
            st.pending.load(Ordering::Relaxed),
            st.delayed_fsync.load(Ordering::Relaxed),
            st.fsync().as_str(),
        );
    }
    let _ = write!(
        s,
        "concord_last_load_ms:{}\r\nconcord_last_load_groups:{}\r\nconcord_last_load_truncated_bytes:{}\r\n",
        p.load_ms,
        p.loaded.groups,
        p.loaded.truncated.as_ref().map_or(0, |t| t.lost),
    );
}
