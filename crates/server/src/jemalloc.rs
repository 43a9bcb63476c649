//! What jemalloc itself reports, through its `mallctl` interface: the bytes it holds in
//! active pages and resident memory (INFO memory, MEMORY STATS), its text report (MEMORY
//! MALLOC-STATS) and purging of unused pages (MEMORY PURGE).

use std::ffi::{CStr, c_char, c_void};
use std::ptr;
use tikv_jemalloc_sys::mallctl;

/// The largest MALLOC-STATS report kept: jemalloc's is tens of KiB; more is cut off.
const MAX_REPORT: usize = 1 << 20;

/// jemalloc's counters, refreshed when read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocatorStats {
    /// Bytes in allocations the process holds (size classes, not requested sizes).
    pub allocated: usize,
    /// Bytes in pages that hold at least one allocation.
    pub active: usize,
    /// Bytes in pages jemalloc has touched and not returned (its share of RSS).
    pub resident: usize,
    /// Bytes jemalloc keeps mapped but has returned to the system.
    pub retained: usize,
}

/// Reads a `size_t` control.
fn read_usize(name: &CStr) -> Option<usize> {
    let mut v: usize = 0;
    let mut len = std::mem::size_of::<usize>();
    // SAFETY: `name` is NUL-terminated; `v` and `len` describe a buffer of a size_t, the
    // type of every control read here.
    let r = unsafe {
        mallctl(
            name.as_ptr(),
            (&raw mut v).cast::<c_void>(),
            &mut len,
            ptr::null_mut(),
            0,
        )
    };
    (r == 0).then_some(v)
}

/// jemalloc's statistics as they are now (its cached counters are refreshed first).
pub fn stats() -> AllocatorStats {
    let mut epoch: u64 = 1;
    let mut len = std::mem::size_of::<u64>();
    // SAFETY: writing the `epoch` control (a uint64_t) refreshes the statistics; old and
    // new values point at a u64 of the given length.
    unsafe {
        mallctl(
            c"epoch".as_ptr(),
            (&raw mut epoch).cast::<c_void>(),
            &mut len,
            (&raw mut epoch).cast::<c_void>(),
            std::mem::size_of::<u64>(),
        );
    }
    AllocatorStats {
        allocated: read_usize(c"stats.allocated").unwrap_or(0),
        active: read_usize(c"stats.active").unwrap_or(0),
        resident: read_usize(c"stats.resident").unwrap_or(0),
        retained: read_usize(c"stats.retained").unwrap_or(0),
    }
}

/// jemalloc's version, as INFO's `mem_allocator` shows it ("jemalloc-5.3.0").
pub fn version() -> String {
    let mut v: *const c_char = ptr::null();
    let mut len = std::mem::size_of::<*const c_char>();
    // SAFETY: `version` is a `const char *` control; the string it points to is static.
    let r = unsafe {
        mallctl(
            c"version".as_ptr(),
            (&raw mut v).cast::<c_void>(),
            &mut len,
            ptr::null_mut(),
            0,
        )
    };
    if r != 0 || v.is_null() {
        return "jemalloc".into();
    }
    // SAFETY: jemalloc's version string is NUL-terminated and lives for the process.
    let text = unsafe { CStr::from_ptr(v) }.to_string_lossy();
    // "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c": the release is enough.
    let release = text.split('-').next().unwrap_or_default();
    format!("jemalloc-{release}")
}

/// Turns jemalloc's background threads on or off (`jemalloc-bg-thread`): with them, pages
/// freed by the process are returned to the system off the request path.
pub fn set_background_thread(on: bool) -> Result<(), String> {
    let mut value = on;
    // SAFETY: `background_thread` is a bool control; the new value points at a bool of
    // the given size.
    let r = unsafe {
        mallctl(
            c"background_thread".as_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
            (&raw mut value).cast::<c_void>(),
            std::mem::size_of::<bool>(),
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(format!("jemalloc refused background threads (error {r})"))
    }
}

/// Whether jemalloc's background threads run.
pub fn background_thread() -> bool {
    let mut v = false;
    let mut len = std::mem::size_of::<bool>();
    // SAFETY: `background_thread` is a bool control; `v` and `len` describe a bool.
    let r = unsafe {
        mallctl(
            c"background_thread".as_ptr(),
            (&raw mut v).cast::<c_void>(),
            &mut len,
            ptr::null_mut(),
            0,
        )
    };
    r == 0 && v
}

/// Appends one piece of jemalloc's report to the `String` behind `opaque`.
unsafe extern "C" fn append(opaque: *mut c_void, text: *const c_char) {
    // SAFETY: `opaque` is the `&mut String` passed to malloc_stats_print by `report`,
    // alive for that call; `text` is a NUL-terminated string jemalloc owns.
    let (out, text) = unsafe { (&mut *opaque.cast::<String>(), CStr::from_ptr(text)) };
    if out.len() < MAX_REPORT {
        out.push_str(&text.to_string_lossy());
    }
}

/// jemalloc's own text report (MEMORY MALLOC-STATS), at most [`MAX_REPORT`] bytes.
pub fn report() -> String {
    let mut out = String::new();
    // SAFETY: `append` only writes to `out`, which outlives the call; the options string
    // is NUL-terminated.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(append),
            (&raw mut out).cast::<c_void>(),
            c"".as_ptr(),
        );
    }
    out
}

/// Returns the pages of every arena that hold no allocation to the system (MEMORY PURGE).
pub fn purge() -> bool {
    // 4096 is jemalloc's MALLCTL_ARENAS_ALL: the control names every arena at once.
    // SAFETY: `arena.<i>.purge` takes and returns nothing.
    let r = unsafe {
        mallctl(
            c"arena.4096.purge".as_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
            ptr::null_mut(),
            0,
        )
    };
    r == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_counters_and_the_report_are_there() {
        let held: Vec<Vec<u8>> = (0..64).map(|_| vec![1u8; 64 << 10]).collect();
        let s = stats();
        // Unit tests run under the system allocator: jemalloc holds only what it was asked.
        assert!(s.active >= s.allocated);
        assert!(s.resident >= s.active);
        assert!(version().starts_with("jemalloc-5."));
        let r = report();
        assert!(r.contains("jemalloc"), "{}", &r[..r.len().min(200)]);
        assert!(r.len() <= MAX_REPORT + 4096);
        assert!(purge());
        set_background_thread(true).unwrap();
        assert!(background_thread());
        set_background_thread(false).unwrap();
        assert!(!background_thread());
        drop(held);
    }
}
