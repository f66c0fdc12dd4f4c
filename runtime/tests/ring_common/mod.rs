//! Shared helpers for the ring tests: a watchdog so a deadlock fails fast instead of hanging.
#![allow(dead_code)]
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Run `f`; if it has not returned after `limit_s` seconds, print `what` and abort the whole
/// test process (a hung ring must fail the suite, not stall CI).
pub fn watchdog<R>(what: &str, limit_s: u64, f: impl FnOnce() -> R) -> R {
    let done = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&done);
    let label = what.to_owned();
    let dog = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(limit_s);
        while !flag.load(Ordering::Acquire) {
            if Instant::now() > deadline {
                eprintln!("WATCHDOG: {label} still running after {limit_s} s: deadlock or lost message; aborting");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let out = f();
    done.store(true, Ordering::Release);
    dog.join().expect("watchdog thread");
    out
}

/// A fresh engine directory under a temporary base.
pub fn engine_dir() -> (tempfile::TempDir, runtime::shm::ShmDir) {
    let base = tempfile::tempdir().expect("tempdir");
    let dir = runtime::shm::ShmDir::create(Some(base.path()), "ringtest").expect("engine dir");
    (base, dir)
}
