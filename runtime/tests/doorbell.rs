//! Doorbells: an idle actor parks on its own futex word and the producers of the topics it waits
//! for ring it. Checked here: a notify reaches a parked waiter of its topic and only such
//! waiters; the kill switch wakes every parked actor, and a kill between announcing a park and
//! the wait is not slept through; the actor loop announces parking before it re-checks its
//! inputs (so a message arriving in between is handled, not slept through) and never sleeps past
//! the actor's deadline. Every wait that nobody ends would last 60 s; the
//! watchdog fails the test after 20 s instead of hanging.

use runtime::actor::{Actor, ActorLoop, PassOutcome};
use runtime::clock::ManualClock;
use runtime::control::{topic, ActorSpec, ControlBlock};
use runtime::idle::IdleStrategy;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

const NEVER_US: u32 = 60_000_000;
const WATCHDOG: Duration = Duration::from_secs(20);

fn block() -> Arc<ControlBlock> {
    Arc::new(
        ControlBlock::anonymous(
            "doorbell-test",
            &[
                ActorSpec::new("feed", "feed", Some(0)),
                ActorSpec::new("oracle", "oracle", Some(0)),
                ActorSpec::new("sentinel", "sentinel", Some(0)),
            ],
        )
        .expect("anonymous control block"),
    )
}

/// Park actor `index` on another thread until its doorbell rings; returns a receiver that
/// gets `()` when the wait ended, once the actor is marked parked.
fn park_on_thread(cb: &Arc<ControlBlock>, index: usize) -> mpsc::Receiver<()> {
    let (done_tx, done_rx) = mpsc::channel();
    let waiter = cb.clone();
    thread::spawn(move || {
        let seq = waiter.park_begin(index);
        waiter.park_wait(index, seq, NEVER_US);
        waiter.park_end(index);
        let _ = done_tx.send(());
    });
    let start = Instant::now();
    while !cb.is_parked(index) {
        assert!(start.elapsed() < WATCHDOG, "the waiter never parked");
        thread::yield_now();
    }
    done_rx
}

#[test]
fn notify_rings_only_parked_waiters_of_its_topic() {
    let cb = block();
    cb.set_wake_topics(1, topic::MD);
    cb.set_wake_topics(2, topic::ORDERS);
    // Nobody parked: nothing rung.
    assert_eq!(cb.notify(topic::MD), 0);
    assert_eq!(cb.doorbells_rung(), 0);

    let oracle_woken = park_on_thread(&cb, 1);
    let sentinel_woken = park_on_thread(&cb, 2);
    // A topic neither waits for, then Sentinel's: Oracle stays parked.
    assert_eq!(cb.notify(topic::SIGNAL), 0);
    assert_eq!(cb.notify(topic::ORDERS), 1);
    assert!(
        sentinel_woken.recv_timeout(WATCHDOG).is_ok(),
        "Sentinel's doorbell did not wake it"
    );
    assert!(
        cb.is_parked(1),
        "Oracle was woken by a topic it does not wait for"
    );
    assert_eq!(cb.notify(topic::MD | topic::SIGNAL), 1);
    assert!(
        oracle_woken.recv_timeout(WATCHDOG).is_ok(),
        "Oracle's doorbell did not wake it"
    );
    assert!(!cb.is_parked(1) && !cb.is_parked(2));
    assert_eq!(cb.doorbells_rung(), 2);
}

#[test]
fn the_kill_switch_wakes_every_parked_actor() {
    let cb = block();
    // None of the three waits for a topic: only the kill switch may wake them.
    let parked: Vec<_> = (0..3).map(|index| park_on_thread(&cb, index)).collect();
    assert!(cb.kill("test", "doorbells"));
    for (index, woken) in parked.iter().enumerate() {
        assert!(
            woken.recv_timeout(WATCHDOG).is_ok(),
            "parked actor {index} slept through the kill switch"
        );
    }
    // And the re-arm too.
    let woken = park_on_thread(&cb, 1);
    assert!(cb.rearm("operator"));
    assert!(
        woken.recv_timeout(WATCHDOG).is_ok(),
        "a parked actor slept through the re-arm"
    );
}

/// Wait on another thread with the doorbell value `seq` read earlier by `park_begin`; whether
/// that wait returned within the watchdog (it would last 60 s if nothing ended it).
fn wait_returns(cb: &Arc<ControlBlock>, index: usize, seq: u32) -> bool {
    let (tx, rx) = mpsc::channel();
    let waiter = cb.clone();
    thread::spawn(move || {
        waiter.park_wait(index, seq, NEVER_US);
        let _ = tx.send(());
    });
    rx.recv_timeout(WATCHDOG).is_ok()
}

#[test]
fn a_kill_between_park_begin_and_the_wait_is_not_lost() {
    let cb = block();
    let seq = cb.park_begin(1);
    // The kill lands after the parker announced itself and re-checked the kill word, before
    // it waits: the wait must return at once, not after its timeout.
    assert!(cb.kill("test", "between the re-check and the wait"));
    assert!(
        wait_returns(&cb, 1, seq),
        "a wait that began after the kill slept through it"
    );
    cb.park_end(1);
}

#[test]
fn a_ring_between_park_begin_and_the_wait_is_not_lost() {
    let cb = block();
    cb.set_wake_topics(1, topic::MD);
    let seq = cb.park_begin(1);
    // The producer publishes and notifies after the parker read its doorbell, before it waits.
    assert_eq!(cb.notify(topic::MD), 1);
    assert!(
        wait_returns(&cb, 1, seq),
        "a wait with a stale doorbell value slept"
    );
    cb.park_end(1);
}

/// Returns no work on its first poll and `late_work` on the second, as when a message lands
/// just after the pass looked; records the topics and deadline it reports.
struct LateArrival {
    polls: u32,
    late_work: usize,
    deadline_ns: Option<u64>,
}

impl Actor for LateArrival {
    fn poll(&mut self, _now_ns: u64) -> usize {
        self.polls += 1;
        if self.polls == 2 {
            self.late_work
        } else {
            0
        }
    }
    fn wake_topics(&self) -> u32 {
        topic::MD | topic::FIRST_USER
    }
    fn next_deadline_ns(&self) -> Option<u64> {
        self.deadline_ns
    }
}

/// Park at once, for 10 ms (the cap), on every idle pass.
fn park_at_once() -> IdleStrategy {
    IdleStrategy::Backoff {
        spin_iterations: 0,
        yield_iterations: 0,
        min_sleep_us: 10_000,
        max_sleep_us: 10_000,
    }
}

#[test]
fn the_loop_rechecks_its_inputs_after_announcing_it_parks() {
    let cb = block();
    let clock = ManualClock::new(1_000);
    let mut lp = ActorLoop::new(cb.clone(), 1, clock, park_at_once()).unwrap();
    let mut actor = LateArrival {
        polls: 0,
        late_work: 3,
        deadline_ns: None,
    };
    // First poll: nothing; the loop parks, re-polls, finds the late message and does not sleep.
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Worked(3));
    assert_eq!(actor.polls, 2);
    assert_eq!(cb.slot(1).work_done(), 3);
    assert!(!cb.is_parked(1), "left parked after the pass");
    // The actor's topics reached its slot.
    assert_eq!(cb.wake_topics(1), topic::MD | topic::FIRST_USER);
}

#[test]
fn a_passed_deadline_skips_the_sleep() {
    let cb = block();
    let clock = ManualClock::new(5_000);
    let mut lp = ActorLoop::new(cb.clone(), 1, clock, park_at_once()).unwrap();
    let mut actor = LateArrival {
        polls: 0,
        late_work: 0,
        deadline_ns: Some(4_000),
    };
    // Due already: the loop goes straight to the next pass (no park, so no re-check poll).
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Idle);
    assert_eq!(actor.polls, 1);
    assert!(!cb.is_parked(1));
}
