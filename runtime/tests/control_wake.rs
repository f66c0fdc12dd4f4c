//! Idle actors sleep on the control block's wake word: a kill or re-arm must wake them at once,
//! not after their sleep. Each wait here would last 60 s if nobody woke it; the watchdog fails
//! the test after 20 s, so a missed wake-up fails instead of hanging.

use runtime::control::{ActorSpec, ControlBlock};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

const NEVER_US: u32 = 60_000_000;

fn block() -> Arc<ControlBlock> {
    Arc::new(
        ControlBlock::anonymous("wake-test", &[ActorSpec::new("a", "idle", Some(0))])
            .expect("anonymous control block"),
    )
}

/// Run `waiter` on a thread and return whether it finished within 20 s.
fn finishes(waiter: impl FnOnce() + Send + 'static, waker: impl FnOnce()) -> bool {
    let (done_tx, done_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    thread::spawn(move || {
        ready_tx.send(()).unwrap();
        waiter();
        let _ = done_tx.send(());
    });
    ready_rx.recv().unwrap();
    // The waiter may or may not be inside the futex yet; either way the wake must reach it,
    // because it read the sequence before the kill.
    waker();
    done_rx.recv_timeout(Duration::from_secs(20)).is_ok()
}

#[test]
fn kill_wakes_a_sleeping_actor() {
    let cb = block();
    let seq = cb.wake_seq();
    let waiter_cb = cb.clone();
    assert!(
        finishes(
            move || waiter_cb.wait_for_wake(seq, NEVER_US),
            || {
                assert!(cb.kill("test", "wake"));
            }
        ),
        "a sleeper was not woken by the kill switch"
    );
}

#[test]
fn rearm_wakes_a_sleeping_actor() {
    let cb = block();
    assert!(cb.kill("test", "first"));
    let seq = cb.wake_seq();
    let waiter_cb = cb.clone();
    assert!(
        finishes(
            move || waiter_cb.wait_for_wake(seq, NEVER_US),
            || {
                assert!(cb.rearm("operator"));
            }
        ),
        "a sleeper was not woken by the re-arm"
    );
}

#[test]
fn a_stale_sequence_does_not_sleep() {
    // The kill happened after the sequence was read: the wait must return at once.
    let cb = block();
    let seq = cb.wake_seq();
    assert!(cb.kill("test", "before the wait"));
    let waiter_cb = cb.clone();
    assert!(
        finishes(move || waiter_cb.wait_for_wake(seq, NEVER_US), || {}),
        "a wait with a stale sequence slept"
    );
}

#[test]
fn without_a_flip_the_wait_times_out() {
    let cb = block();
    let seq = cb.wake_seq();
    let start = std::time::Instant::now();
    cb.wait_for_wake(seq, 2_000);
    // It slept (no flip), and the sequence did not move.
    assert_eq!(cb.wake_seq(), seq);
    assert!(
        start.elapsed() >= Duration::from_micros(1_000),
        "returned without sleeping"
    );
}
