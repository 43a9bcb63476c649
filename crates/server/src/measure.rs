//! What INFO measures of the process: resident memory, CPU time, and the recent rate of
//! commands (sampled as Redis samples it: every 100 ms, averaged over the last 16).

use std::sync::Mutex;
use std::time::Instant;

/// The process's resident set in bytes, from `/proc/self/statm` (`None` where there is
/// no such file).
pub(crate) fn rss() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * usize::try_from(page).ok().filter(|p| *p > 0)?)
}

/// CPU seconds used, system and user.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Cpu {
    /// In the kernel.
    pub sys: f64,
    /// In user space.
    pub user: f64,
}

/// Which threads or processes [`cpu`] reports on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Who {
    /// The whole process.
    Process,
    /// Its finished children (snapshot processes).
    Children,
    /// The calling thread.
    Thread,
}

/// CPU time used by `who` (zeros if the kernel refuses).
pub(crate) fn cpu(who: Who) -> Cpu {
    let flag = match who {
        Who::Process => libc::RUSAGE_SELF,
        Who::Children => libc::RUSAGE_CHILDREN,
        Who::Thread => libc::RUSAGE_THREAD,
    };
    // SAFETY: getrusage writes one rusage into the zeroed value it is given.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(flag, &mut ru) } != 0 {
        return Cpu::default();
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Cpu {
        sys: secs(ru.ru_stime),
        user: secs(ru.ru_utime),
    }
}

/// How many samples the rate is averaged over (Redis's STATS_METRIC_SAMPLES).
const SAMPLES: usize = 16;

/// A counter's rate per second over its recent samples.
#[derive(Default)]
pub(crate) struct Rate {
    inner: Mutex<RateInner>,
}

#[derive(Default)]
struct RateInner {
    last: Option<(Instant, u64)>,
    samples: [u64; SAMPLES],
    next: usize,
}

impl Rate {
    /// Records the counter's value `now` (call about every 100 ms).
    pub fn sample(&self, now: Instant, value: u64) {
        let mut r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((then, before)) = r.last {
            let ms = now.saturating_duration_since(then).as_millis() as u64;
            if let Some(per_sec) = value
                .saturating_sub(before)
                .saturating_mul(1000)
                .checked_div(ms)
            {
                let i = r.next;
                r.samples[i] = per_sec;
                r.next = (i + 1) % SAMPLES;
            }
        }
        r.last = Some((now, value));
    }

    /// The average rate per second over the samples.
    pub fn per_sec(&self) -> u64 {
        let r = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        r.samples.iter().sum::<u64>() / SAMPLES as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn the_rate_averages_the_last_samples() {
        let r = Rate::default();
        let t = Instant::now();
        r.sample(t, 0);
        for i in 1..=SAMPLES as u64 {
            r.sample(t + Duration::from_millis(100 * i), 100 * i);
        }
        // 100 per 100 ms in every sample.
        assert_eq!(r.per_sec(), 1000);
        assert!(rss().is_some_and(|b| b > 0));
        let c = cpu(Who::Process);
        assert!(c.user >= 0.0 && c.sys >= 0.0);
    }
}
