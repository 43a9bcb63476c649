//! Memory accounting: a global allocator wrapper that counts live bytes, so INFO can
//! report `used_memory` without a C allocator.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};
use tikv_jemallocator::Jemalloc as System;

/// Live bytes, as far as threads have reported them (each may hold back up to `FLUSH`).
static LIVE: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// How many bytes a thread counts on its own before it adds them to `LIVE`: an atomic
/// add per allocation and per free cost several percent of a small command.
const FLUSH: isize = 64 * 1024;

thread_local! {
    // Const-initialised and without a destructor: safe to touch inside the allocator.
    static PENDING: Cell<isize> = const { Cell::new(0) };
}

/// Adds `delta` bytes to this thread's pending count, passing it on past `FLUSH`.
#[inline]
fn count(delta: isize) {
    let flushed = PENDING.try_with(|p| {
        let v = p.get() + delta;
        if v.abs() >= FLUSH {
            p.set(0);
            v
        } else {
            p.set(v);
            0
        }
    });
    match flushed {
        Ok(0) => {}
        Ok(v) => {
            LIVE.fetch_add(v, Ordering::Relaxed);
        }
        Err(_) => {
            LIVE.fetch_add(delta, Ordering::Relaxed);
        }
    }
}

/// The system allocator, counting the bytes it has live. The binary installs it with
/// `#[global_allocator]`.
pub struct CountingAlloc;

// SAFETY: every call forwards to `System` with the same arguments; the counters are
// plain atomics and never affect the allocation itself.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        count(-(layout.size() as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(layout.size() as isize);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// Bytes currently allocated, to within `FLUSH` per thread (0 when the counting allocator
/// is not installed).
pub fn used() -> usize {
    let v = LIVE.load(Ordering::Relaxed).max(0) as usize;
    PEAK.fetch_max(v, Ordering::Relaxed);
    v
}

/// The largest value [`used`] has reported.
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed).max(used())
}

/// [`used`] with this thread's uncounted bytes added: exact for what this thread
/// allocated and freed, as eviction needs when it measures what a delete gave back.
pub fn used_here() -> usize {
    let mine = PENDING.try_with(|p| p.get()).unwrap_or(0);
    (LIVE.load(Ordering::Relaxed) + mine).max(0) as usize
}

/// The memory `maxmemory` is compared with: what is allocated, less the replication
/// backlog (which Redis does not count either: evicting keys only to make room for the
/// backlog of their own deletes would never end).
pub(crate) fn counted(e: &concord_engine::Engine) -> usize {
    used_here().saturating_sub(e.log().bytes())
}

/// Before a command, past `maxmemory`: evicts keys as the policy says, at most
/// `budget` of them. Whether memory is still past the limit (then writes that may grow
/// it are refused).
pub(crate) fn make_room(e: &mut concord_engine::Engine, maxmemory: u64, budget: usize) -> bool {
    let limit = usize::try_from(maxmemory).unwrap_or(usize::MAX);
    let mut evicted = 0;
    while counted(e) > limit {
        if evicted >= budget || e.evict_one().is_none() {
            return true;
        }
        evicted += 1;
    }
    false
}

/// `disable-thp yes`: transparent huge pages off for this process, as Redis does, since
/// they make fork's copy-on-write (background snapshots) copy 2 MB per touched page.
/// Only logged when the kernel refuses.
pub fn disable_thp() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: PR_SET_THP_DISABLE only sets a flag of the calling process.
        let r = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
        if r != 0 {
            tracing::warn!(
                "could not disable transparent huge pages: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}
