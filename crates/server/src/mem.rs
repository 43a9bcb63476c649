//! Memory accounting: a global allocator wrapper around jemalloc that counts the bytes
//! live allocations hold (their jemalloc size classes, as Redis's `used_memory` counts
//! usable sizes), cheaply enough to check `maxmemory` before every command.

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

/// The largest alignment jemalloc's size classes already satisfy (its quantum): larger
/// ones may round a request further, so they ask jemalloc.
const QUANTUM: usize = 16;

/// The bytes jemalloc hands out for a request of `size` bytes aligned to `align`: its size
/// class. Classes are 8, then multiples of 16 up to 128, then four per doubling.
#[inline]
pub fn size_class(size: usize, align: usize) -> usize {
    if align > QUANTUM {
        let flags = tikv_jemalloc_sys::MALLOCX_ALIGN(align);
        // SAFETY: nallocx only computes; a zero size is undefined for it, so it is not
        // passed. It answers 0 past the largest class: then the request is counted as is.
        let n = unsafe { tikv_jemalloc_sys::nallocx(size.max(1), flags) };
        return if n == 0 { size } else { n };
    }
    if size <= 8 {
        // An alignment above the size is asked of jemalloc, which rounds to it.
        return align.max(8);
    }
    if size <= 128 {
        return (size + 15) & !15;
    }
    // In (2^(k-1), 2^k] the classes are 2^(k-3) apart.
    let k = usize::BITS - (size - 1).leading_zeros();
    let step = 1usize << (k - 3);
    size.checked_add(step - 1).map_or(size, |v| v & !(step - 1))
}

/// jemalloc, counting the bytes it has live. The binary installs it with
/// `#[global_allocator]`.
pub struct CountingAlloc;

// SAFETY: every call forwards to `System` with the same arguments; the counters are
// plain atomics and never affect the allocation itself.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            count(size_class(layout.size(), layout.align()) as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        count(-(size_class(layout.size(), layout.align()) as isize));
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            count(size_class(layout.size(), layout.align()) as isize);
        }
        p
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            let (align, old) = (layout.align(), layout.size());
            count(size_class(new_size, align) as isize - size_class(old, align) as isize);
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

/// What eviction before a command achieved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Room {
    /// Memory is within `maxmemory`.
    Enough,
    /// Still past it after the command's share of evictions: the command runs, and the
    /// next commands and the background task evict more (Redis's EVICT_RUNNING).
    Short,
    /// Past it with nothing the policy may evict: writes that may grow memory are
    /// refused (Redis's EVICT_FAIL).
    Full,
}

/// Before a command, past `maxmemory`: evicts keys as the policy says, at most `budget`
/// of them.
pub(crate) fn make_room(e: &mut concord_engine::Engine, maxmemory: u64, budget: usize) -> Room {
    let limit = usize::try_from(maxmemory).unwrap_or(usize::MAX);
    let mut evicted = 0;
    while counted(e) > limit {
        if evicted >= budget {
            return Room::Short;
        }
        if e.evict_one().is_none() {
            return Room::Full;
        }
        evicted += 1;
    }
    Room::Enough
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_classes_are_jemalloc_s() {
        let mut sizes: Vec<usize> = (1..=70_000).collect();
        sizes.extend((16..40).flat_map(|k| {
            let p = 1usize << k;
            [p - 1, p, p + 1, p + p / 3]
        }));
        for size in sizes {
            for align in [1, 8, 16, 64, 4096] {
                // tikv-jemallocator asks for an alignment above the quantum or the size.
                let flags = if align > QUANTUM || align > size {
                    tikv_jemalloc_sys::MALLOCX_ALIGN(align)
                } else {
                    0
                };
                // SAFETY: size is never 0; nallocx only computes.
                let want = unsafe { tikv_jemalloc_sys::nallocx(size, flags) };
                assert_eq!(size_class(size, align), want, "size {size} align {align}");
            }
        }
    }
}
