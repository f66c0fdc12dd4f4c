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

/// Tests that spin on two cores run one at a time within a test binary: on a 2-core machine two
/// spinning pairs would mostly measure the scheduler.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Waiting in a test loop: spin briefly, then yield so the other side gets the CPU even when
/// the machine is busy (the tests check correctness, not speed).
#[derive(Default)]
pub struct Backoff(u32);

impl Backoff {
    pub fn wait(&mut self) {
        self.0 += 1;
        if self.0 < 64 {
            std::hint::spin_loop();
        } else {
            self.0 = 0;
            std::thread::yield_now();
        }
    }
}
