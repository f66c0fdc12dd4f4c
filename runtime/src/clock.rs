//! Time for the engine.
//!
//! Every timestamp the engine compares (`*_ns`) comes from `CLOCK_MONOTONIC`, which is one clock
//! for the whole machine: a value taken in the Feed process can be subtracted from a value taken in
//! Execution. It never jumps with NTP steps or with the operator changing the date. Wall-clock time
//! ([`wall_clock_ns`]) is only for logs and for comparing with exchange stamps.
//!
//! Logic that depends on time takes a [`Clock`] so the same code runs live ([`MonotonicClock`]) and
//! in tests and the deterministic backtest ([`ManualClock`]).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A source of monotonic nanoseconds.
pub trait Clock {
    /// Nanoseconds on a monotonic timeline; never decreases between two calls.
    fn now_ns(&self) -> u64;
}

/// Read a POSIX clock in nanoseconds.
fn clock_ns(id: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // Safety: `ts` is a valid, writable timespec for the duration of the call; the clock ids we
    // pass (MONOTONIC, REALTIME) exist on every Linux since 2.6, so the call cannot fail with
    // EINVAL, and EFAULT is impossible with a stack pointer.
    let rc = unsafe { libc::clock_gettime(id, &mut ts) };
    debug_assert_eq!(rc, 0, "clock_gettime failed");
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// `CLOCK_MONOTONIC` in nanoseconds: comparable across processes on this machine.
#[inline]
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// Wall-clock time, nanoseconds since the Unix epoch (`CLOCK_REALTIME`). For logs and exchange
/// stamps only: it may jump, so never subtract two of these to measure latency.
#[inline]
pub fn wall_clock_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

/// The live clock: `CLOCK_MONOTONIC` (vDSO, no system call; ~20-30 ns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MonotonicClock;

impl Clock for MonotonicClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        monotonic_ns()
    }
}

/// A clock that moves only when told to. Clones share the same time, so a test can hand one
/// clone to the code under test and advance another.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    now_ns: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock reading `start_ns`.
    pub fn new(start_ns: u64) -> Self {
        Self {
            now_ns: Arc::new(AtomicU64::new(start_ns)),
        }
    }

    /// Move to `now_ns`. Going backwards would break the [`Clock`] contract, so it is refused:
    /// the clock stays where it is and the refused value is returned as the error.
    pub fn set(&self, now_ns: u64) -> Result<(), u64> {
        let mut current = self.now_ns.load(Ordering::Acquire);
        loop {
            if now_ns < current {
                return Err(now_ns);
            }
            match self.now_ns.compare_exchange_weak(
                current,
                now_ns,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return Ok(()),
                Err(seen) => current = seen,
            }
        }
    }

    /// Move forward by `delta_ns` (saturating at `u64::MAX`); returns the new time.
    pub fn advance(&self, delta_ns: u64) -> u64 {
        let mut current = self.now_ns.load(Ordering::Acquire);
        loop {
            let next = current.saturating_add(delta_ns);
            match self.now_ns.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return next,
                Err(seen) => current = seen,
            }
        }
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_ns(&self) -> u64 {
        self.now_ns.load(Ordering::Acquire)
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    #[inline]
    fn now_ns(&self) -> u64 {
        (**self).now_ns()
    }
}

impl<C: Clock + ?Sized> Clock for Box<C> {
    #[inline]
    fn now_ns(&self) -> u64 {
        (**self).now_ns()
    }
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    #[inline]
    fn now_ns(&self) -> u64 {
        (**self).now_ns()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn monotonic_never_goes_back() {
        let mut last = monotonic_ns();
        for _ in 0..10_000 {
            let now = monotonic_ns();
            assert!(now >= last);
            last = now;
        }
    }

    #[test]
    fn monotonic_advances_across_a_sleep() {
        let before = MonotonicClock.now_ns();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let after = MonotonicClock.now_ns();
        // A sleep lasts at least its argument: the difference is a lower bound, not a timing goal.
        assert!(after - before >= 2_000_000, "{before} → {after}");
    }

    #[test]
    fn wall_clock_is_unix_epoch_nanoseconds() {
        let from_std = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        let ours = wall_clock_ns();
        // Same clock read twice in a row: within a minute of each other, and after 2020-01-01.
        assert!(ours.abs_diff(from_std) < 60_000_000_000);
        assert!(ours > 1_577_836_800_000_000_000);
    }

    #[test]
    fn manual_clock_clones_share_time() {
        let clock = ManualClock::new(100);
        let seen_by_code = clock.clone();
        assert_eq!(seen_by_code.now_ns(), 100);
        assert_eq!(clock.advance(50), 150);
        assert_eq!(seen_by_code.now_ns(), 150);
        clock.set(1_000).unwrap();
        assert_eq!(seen_by_code.now_ns(), 1_000);
    }

    #[test]
    fn manual_clock_refuses_to_go_back() {
        let clock = ManualClock::new(1_000);
        assert_eq!(clock.set(999), Err(999));
        assert_eq!(clock.now_ns(), 1_000);
        assert_eq!(clock.advance(u64::MAX), u64::MAX);
    }

    #[test]
    fn clock_works_through_references_and_boxes() {
        let clock = ManualClock::new(7);
        let boxed: Box<dyn Clock> = Box::new(clock.clone());
        assert_eq!(boxed.now_ns(), 7);
        let by_ref: &dyn Clock = &clock;
        assert_eq!(by_ref.now_ns(), 7);
        assert_eq!(Arc::new(clock).now_ns(), 7);
    }
}
