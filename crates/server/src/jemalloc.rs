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

/// Reads control `name`, starting from `value`; `None` when jemalloc refuses.
///
/// # Safety
/// `T` must be the control's C type (`size_t`, `bool`, `const char *`, ...).
unsafe fn read<T: Copy>(name: &CStr, mut value: T) -> Option<T> {
    let mut len = std::mem::size_of::<T>();
    // SAFETY: `name` is NUL-terminated; `value` and `len` describe a buffer of the
    // control's type (the caller's promise).
    let r = unsafe {
        mallctl(
            name.as_ptr(),
            (&raw mut value).cast::<c_void>(),
            &mut len,
            ptr::null_mut(),
            0,
        )
    };
    (r == 0).then_some(value)
}

/// Writes `value` to control `name`; jemalloc's error number (0: done).
///
/// # Safety
/// `T` must be the control's C type.
unsafe fn write<T>(name: &CStr, mut value: T) -> i32 {
    // SAFETY: `name` is NUL-terminated; the new value points at a `T` of its size (the
    // control's type, the caller's promise).
    unsafe {
        mallctl(
            name.as_ptr(),
            ptr::null_mut(),
            ptr::null_mut(),
            (&raw mut value).cast::<c_void>(),
            std::mem::size_of::<T>(),
        )
    }
}

/// jemalloc's statistics as they are now (its cached counters are refreshed first).
pub fn stats() -> AllocatorStats {
    // SAFETY: `epoch` is a uint64_t control (writing it refreshes the statistics); the
    // `stats.*` controls read here are size_t.
    unsafe {
        write(c"epoch", 1u64);
        AllocatorStats {
            allocated: read(c"stats.allocated", 0usize).unwrap_or(0),
            active: read(c"stats.active", 0usize).unwrap_or(0),
            resident: read(c"stats.resident", 0usize).unwrap_or(0),
            retained: read(c"stats.retained", 0usize).unwrap_or(0),
        }
    }
}

/// jemalloc's version, as INFO's `mem_allocator` shows it ("jemalloc-5.3.0").
pub fn version() -> String {
    // SAFETY: `version` is a `const char *` control.
    let v = unsafe { read(c"version", ptr::null::<c_char>()) };
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return "jemalloc".into();
    };
    // SAFETY: jemalloc's version string is NUL-terminated and lives for the process.
    let text = unsafe { CStr::from_ptr(v) }.to_string_lossy();
    // "5.3.0-0-g54eaed1d8b56b1aa528be3bdd1877e59c56fa90c": the release is enough.
    let release = text.split('-').next().unwrap_or_default();
    format!("jemalloc-{release}")
}

/// Turns jemalloc's background threads on or off (`jemalloc-bg-thread`): with them, pages
/// freed by the process are returned to the system off the request path.
pub fn set_background_thread(on: bool) -> Result<(), String> {
    // SAFETY: `background_thread` is a bool control.
    match unsafe { write(c"background_thread", on) } {
        0 => Ok(()),
        r => Err(format!("jemalloc refused background threads (error {r})")),
    }
}

/// Whether jemalloc's background threads run.
pub fn background_thread() -> bool {
    // SAFETY: `background_thread` is a bool control.
    unsafe { read(c"background_thread", false) }.unwrap_or(false)
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
