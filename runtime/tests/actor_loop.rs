//! The actor loop: kill switch seen within one pass, on_kill exactly once, nothing polled while
//! killed, heartbeats continue, stop and rearm paths, published latency and counters.

use runtime::actor::{Actor, ActorLoop, ActorLoopError, PassOutcome, RunOutcome};
use runtime::clock::{Clock, ManualClock, MonotonicClock};
use runtime::control::{actor_state, ActorCounters, ActorSpec, ControlBlock};
use runtime::hist::{stage, HistogramPublisher, HistogramReader, HistogramRegion};
use runtime::idle::IdleStrategy;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

fn watchdog(limit: Duration) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        while !flag.load(Ordering::Acquire) {
            if start.elapsed() > limit {
                eprintln!("watchdog: actor loop test still running after {limit:?}");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    done
}

/// Counts every callback; each poll does `work` units and advances the manual clock by
/// `poll_cost_ns` (so processing latency is known exactly).
#[derive(Default)]
struct Counting {
    polls: u64,
    halted_polls: u64,
    kills: u64,
    stops: u64,
    rearms: u64,
    work: usize,
    clock: Option<ManualClock>,
    poll_cost_ns: u64,
    last_kill_ns: u64,
}

impl Actor for Counting {
    fn poll(&mut self, _now_ns: u64) -> usize {
        self.polls += 1;
        if let Some(c) = &self.clock {
            c.advance(self.poll_cost_ns);
        }
        self.work
    }
    fn poll_halted(&mut self, _now_ns: u64) -> usize {
        self.halted_polls += 1;
        0
    }
    fn on_kill(&mut self, now_ns: u64) {
        self.kills += 1;
        self.last_kill_ns = now_ns;
    }
    fn on_stop(&mut self, _now_ns: u64) {
        self.stops += 1;
    }
    fn on_rearm(&mut self, _now_ns: u64) {
        self.rearms += 1;
    }
    fn counters(&self) -> Option<ActorCounters> {
        Some(ActorCounters {
            msgs_in: self.polls,
            msgs_out: self.polls / 2,
            errors: 0,
        })
    }
}

fn block() -> Arc<ControlBlock> {
    Arc::new(
        ControlBlock::anonymous(
            "eng",
            &[
                ActorSpec::new("feed", "feed", None),
                ActorSpec::new("oracle", "oracle", None),
            ],
        )
        .unwrap(),
    )
}

fn manual_loop(control: &Arc<ControlBlock>, clock: &ManualClock) -> ActorLoop<ManualClock> {
    ActorLoop::new(control.clone(), 1, clock.clone(), IdleStrategy::Spin).unwrap()
}

#[test]
fn runs_polls_and_heartbeats() {
    let control = block();
    let clock = ManualClock::new(1_000);
    let mut lp = manual_loop(&control, &clock);
    let mut actor = Counting {
        work: 3,
        ..Default::default()
    };
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Worked(3));
    let slot = control.slot(1);
    assert_eq!(slot.state(), actor_state::RUNNING);
    assert_eq!((slot.heartbeat(), slot.last_progress_ns()), (1, 1_000));
    actor.work = 0;
    clock.advance(10);
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Idle);
    assert_eq!((slot.heartbeat(), slot.last_progress_ns()), (2, 1_010));
    assert_eq!(slot.work_done(), 3);
    assert_eq!(actor.polls, 2);
    // The other slot is untouched.
    assert_eq!(control.slot(0).heartbeat(), 0);
}

#[test]
fn kill_is_seen_within_one_pass_and_handled_once() {
    let control = block();
    let clock = ManualClock::new(1_000);
    let mut lp = manual_loop(&control, &clock);
    let mut actor = Counting {
        work: 1,
        ..Default::default()
    };
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Worked(1));

    // Killed at t = 1,200; the next pass runs at t = 1,700.
    assert!(control.kill_at("test", "halt", 1_200, 0));
    clock.set(1_700).unwrap();
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Halted(0));
    assert_eq!(actor.kills, 1);
    assert_eq!(actor.last_kill_ns, 1_700);
    assert_eq!(actor.polls, 1, "no poll on the pass that saw the kill");
    let slot = control.slot(1);
    assert_eq!(slot.state(), actor_state::HALTED);
    assert_eq!(slot.kill_seen(), Some((1_700, 500)));
    assert_eq!(lp.kill_latency_histogram().len(), 1);
    assert_eq!(lp.kill_latency_histogram().max(), 500);

    // Later passes: still halted, heartbeat advancing, no poll, no second on_kill.
    for i in 0..100 {
        clock.advance(1);
        assert_eq!(lp.run_pass(&mut actor), PassOutcome::Halted(0));
        assert_eq!(slot.heartbeat(), 3 + i);
    }
    assert_eq!((actor.kills, actor.polls, actor.halted_polls), (1, 1, 101));
    assert_eq!(slot.state(), actor_state::HALTED);
    assert!(lp.is_halted());
}

#[test]
fn a_loop_started_after_the_kill_halts_on_its_first_pass() {
    let control = block();
    control.kill_at("test", "before start", 5, 0);
    let clock = ManualClock::new(10);
    let mut lp = manual_loop(&control, &clock);
    let mut actor = Counting::default();
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Halted(0));
    assert_eq!((actor.kills, actor.polls), (1, 0));
    assert_eq!(control.slot(1).state(), actor_state::HALTED);
}

#[test]
fn rearm_resumes_polling_once() {
    let control = block();
    let clock = ManualClock::new(100);
    let mut lp = manual_loop(&control, &clock);
    let mut actor = Counting::default();
    lp.run_pass(&mut actor);
    control.kill_at("op", "test", 100, 0);
    lp.run_pass(&mut actor);
    lp.run_pass(&mut actor);
    assert!(control.rearm("op"));
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Idle);
    assert_eq!((actor.kills, actor.rearms, actor.polls), (1, 1, 2));
    let slot = control.slot(1);
    assert_eq!(slot.state(), actor_state::RUNNING);
    assert_eq!(slot.kill_seen(), None);
    // A second kill is a new kill: on_kill again.
    control.kill_at("op", "again", 150, 0);
    clock.set(160).unwrap();
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Halted(0));
    assert_eq!(actor.kills, 2);
    assert_eq!(slot.kill_seen(), Some((160, 10)));
}

#[test]
fn rearm_and_kill_between_two_passes_keeps_the_actor_halted() {
    let control = block();
    let clock = ManualClock::new(100);
    let mut lp = manual_loop(&control, &clock);
    let mut actor = Counting::default();
    control.kill_at("op", "one", 100, 0);
    lp.run_pass(&mut actor);
    control.rearm("op");
    control.kill_at("op", "two", 300, 0);
    clock.set(350).unwrap();
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Halted(0));
    // It never ran in between: no rearm callback, no poll; the new kill's latency is recorded.
    assert_eq!((actor.kills, actor.rearms, actor.polls), (1, 0, 0));
    assert_eq!(control.slot(1).kill_seen(), Some((350, 50)));
    assert_eq!(lp.kill_latency_histogram().len(), 2);
}

#[test]
fn stop_request_calls_on_stop_and_leaves_the_loop() {
    let control = block();
    let clock = ManualClock::new(0);
    let mut lp = manual_loop(&control, &clock);
    let mut actor = Counting {
        work: 1,
        ..Default::default()
    };
    assert_eq!(lp.run(&mut actor, Some(5)), RunOutcome::PassLimit);
    assert_eq!((actor.polls, control.slot(1).heartbeat()), (5, 5));
    control.slot(1).request_stop();
    assert_eq!(lp.run(&mut actor, None), RunOutcome::Stopped);
    assert_eq!((actor.stops, actor.polls), (1, 5));
    assert_eq!(control.slot(1).state(), actor_state::STOPPED);
    // Counters were published on the way out.
    assert_eq!(control.slot(1).counters().msgs_in, 5);
}

#[test]
fn a_halted_actor_can_still_be_stopped() {
    let control = block();
    let clock = ManualClock::new(0);
    let mut lp = manual_loop(&control, &clock);
    let mut actor = Counting::default();
    control.kill("t", "t");
    lp.run_pass(&mut actor);
    control.slot(1).request_stop();
    assert_eq!(lp.run_pass(&mut actor), PassOutcome::Stop);
    assert_eq!((actor.kills, actor.stops), (1, 1));
    assert_eq!(control.slot(1).state(), actor_state::STOPPED);
}

#[test]
fn processing_latency_and_counters_are_published_on_an_idle_pass() {
    let control = block();
    let clock = ManualClock::new(0);
    let region = HistogramRegion::anonymous().unwrap();
    let mut lp = manual_loop(&control, &clock)
        .with_publish_interval_ns(1_000_000)
        .with_histograms(
            HistogramPublisher::new(region.clone(), 1),
            Some(stage::ORACLE_PROC),
        );
    let mut actor = Counting {
        work: 1,
        clock: Some(clock.clone()),
        poll_cost_ns: 700,
        ..Default::default()
    };
    // 10 working passes of exactly 700 ns each: 7,000 ns, under the 1 ms interval.
    for _ in 0..10 {
        lp.run_pass(&mut actor);
    }
    assert_eq!(control.slot(1).latency_ns(), (0, 0), "not yet published");
    // Past the interval, but a pass with work does not publish (unless 4 intervals passed)...
    clock.set(1_500_000).unwrap();
    lp.run_pass(&mut actor);
    assert_eq!(control.slot(1).latency_ns(), (0, 0));
    // ...the next idle pass does.
    actor.work = 0;
    lp.run_pass(&mut actor);
    assert_eq!(control.slot(1).latency_ns(), (700, 700));
    assert_eq!(control.slot(1).counters().msgs_in, 12);
    let mut reader = HistogramReader::new(region);
    let h = reader.read(stage::ORACLE_PROC).expect("published");
    assert_eq!(h.len(), 11);
    assert_eq!(h.value_at_quantile(0.5), 700);
}

#[test]
fn a_busy_actor_still_publishes_after_four_intervals() {
    let control = block();
    let clock = ManualClock::new(0);
    let mut lp = manual_loop(&control, &clock).with_publish_interval_ns(1_000);
    let mut actor = Counting {
        work: 1,
        clock: Some(clock.clone()),
        poll_cost_ns: 300,
        ..Default::default()
    };
    lp.run_pass(&mut actor); // starts at 0, ends at 300
    clock.set(3_999).unwrap();
    lp.run_pass(&mut actor);
    assert_eq!(control.slot(1).latency_ns(), (0, 0));
    clock.set(4_300).unwrap();
    lp.run_pass(&mut actor);
    assert_eq!(control.slot(1).latency_ns(), (300, 300));
}

#[test]
fn kill_latency_is_published_to_the_kill_switch_stage() {
    let control = block();
    let clock = ManualClock::new(10_000);
    let region = HistogramRegion::anonymous().unwrap();
    let mut feed = ActorLoop::new(control.clone(), 0, clock.clone(), IdleStrategy::Spin)
        .unwrap()
        .with_histograms(HistogramPublisher::new(region.clone(), 0), None);
    let mut oracle = manual_loop(&control, &clock)
        .with_histograms(HistogramPublisher::new(region.clone(), 1), None);
    let (mut a, mut b) = (Counting::default(), Counting::default());
    control.kill_at("t", "t", 9_000, 0);
    feed.run_pass(&mut a); // sees it 1,000 ns late
    clock.advance(2_000);
    oracle.run_pass(&mut b); // 3,000 ns late
    let mut reader = HistogramReader::new(region);
    // Published at the pass after the one that saw the kill (the sight itself stays short).
    assert!(reader.read(stage::KILL_SWITCH).is_none());
    feed.run_pass(&mut a);
    oracle.run_pass(&mut b);
    let h = reader.read(stage::KILL_SWITCH).expect("both published");
    assert_eq!(h.len(), 2);
    assert_eq!(h.min(), 1_000);
    assert!(h.equivalent(h.max(), 3_000));
}

#[test]
fn bad_slot_and_idle_config_are_errors() {
    let control = block();
    assert!(matches!(
        ActorLoop::new(control.clone(), 2, MonotonicClock, IdleStrategy::Spin),
        Err(ActorLoopError::NoSuchSlot {
            index: 2,
            actor_count: 2
        })
    ));
    let bad = IdleStrategy::Backoff {
        spin_iterations: 1,
        yield_iterations: 1,
        min_sleep_us: 0,
        max_sleep_us: 1,
    };
    assert!(matches!(
        ActorLoop::new(control, 0, MonotonicClock, bad),
        Err(ActorLoopError::Idle(_))
    ));
}

/// Drive a future to completion on this thread (the loop's futures never wait on I/O).
fn block_on<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
    }
}

/// Pending once, then ready: what `yield_if_needed` does when the executor wants the thread.
struct YieldOnce(bool);
impl Future for YieldOnce {
    type Output = ();
    fn poll(mut self: std::pin::Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

#[test]
fn run_async_yields_after_every_pass() {
    let control = block();
    let clock = ManualClock::new(0);
    let mut lp = manual_loop(&control, &clock);
    let mut actor = Counting {
        work: 1,
        ..Default::default()
    };
    let yields = std::cell::Cell::new(0u64);
    let out = block_on(lp.run_async(&mut actor, Some(7), || {
        yields.set(yields.get() + 1);
        YieldOnce(false)
    }));
    assert_eq!(out, RunOutcome::PassLimit);
    assert_eq!((actor.polls, yields.get()), (7, 7));
    control.slot(1).request_stop();
    let out = block_on(lp.run_async(&mut actor, None, || YieldOnce(false)));
    assert_eq!(out, RunOutcome::Stopped);
    assert_eq!(actor.stops, 1);
}

/// An actor that "sends an order" on every poll and notes whether the kill word was already set
/// when it did.
struct Sender {
    control: Arc<ControlBlock>,
    sent: u64,
    sent_after_kill: u64,
    kills: u64,
}

impl Actor for Sender {
    fn poll(&mut self, _now_ns: u64) -> usize {
        self.sent += 1;
        if self.control.is_killed() {
            self.sent_after_kill += 1;
        }
        1
    }
    fn on_kill(&mut self, _now_ns: u64) {
        self.kills += 1;
    }
}

#[test]
fn a_loop_on_another_thread_halts_and_keeps_heartbeating() {
    let done = watchdog(Duration::from_secs(30));
    let control = block();
    let worker = {
        let control = control.clone();
        std::thread::spawn(move || {
            let mut lp =
                ActorLoop::new(control.clone(), 0, MonotonicClock, IdleStrategy::Yield).unwrap();
            let mut actor = Sender {
                control: control.clone(),
                sent: 0,
                sent_after_kill: 0,
                kills: 0,
            };
            let outcome = lp.run(&mut actor, None);
            (outcome, actor.sent, actor.sent_after_kill, actor.kills)
        })
    };
    let slot = control.slot(0);
    while slot.heartbeat() < 1_000 {
        std::thread::yield_now();
    }
    assert!(control.kill("test", "thread test"));
    while slot.state() != actor_state::HALTED {
        std::thread::yield_now();
    }
    let heartbeat_at_halt = slot.heartbeat();
    // Heartbeats continue while halted.
    while slot.heartbeat() < heartbeat_at_halt + 1_000 {
        std::thread::yield_now();
    }
    let (seen_ns, latency_ns) = slot.kill_seen().expect("kill seen");
    assert!(seen_ns >= control.kill_word());
    assert!(latency_ns <= MonotonicClock.now_ns() - control.kill_word());
    slot.request_stop();
    let (outcome, sent, sent_after_kill, kills) = worker.join().expect("loop thread panicked");
    assert_eq!(outcome, RunOutcome::Stopped);
    assert_eq!(kills, 1);
    assert!(sent >= 1_000);
    // The kill can land between the loop's check and `poll` in the pass that was running, so at
    // most one poll saw the word set; none after the pass that noticed it.
    assert!(
        sent_after_kill <= 1,
        "{sent_after_kill} sends after the kill"
    );
    assert_eq!(slot.state(), actor_state::STOPPED);
    done.store(true, Ordering::Release);
}

/// Where the child process finds the engine directory (set only for the child).
const CHILD_DIR_ENV: &str = "RUNTIME_ACTOR_LOOP_CHILD_BASE";

/// Counts polls; publishes them as `msgs_in`.
struct ChildActor {
    polls: u64,
    kills: u64,
    stops: u64,
}

impl Actor for ChildActor {
    fn poll(&mut self, _now_ns: u64) -> usize {
        self.polls += 1;
        1
    }
    fn on_kill(&mut self, _now_ns: u64) {
        self.kills += 1;
    }
    fn on_stop(&mut self, _now_ns: u64) {
        self.stops += 1;
    }
    fn counters(&self) -> Option<ActorCounters> {
        Some(ActorCounters {
            msgs_in: self.polls,
            msgs_out: self.kills,
            errors: self.stops,
        })
    }
}

/// The child's side of `a_loop_in_another_process_halts_on_kill_and_stops_on_request`: run by
/// that test as a separate process (ignored when the suite runs normally).
#[test]
#[ignore = "child role, started by a_loop_in_another_process_halts_on_kill_and_stops_on_request"]
fn child_role_actor_process() {
    let Ok(base) = std::env::var(CHILD_DIR_ENV) else {
        // Run outside its parent (e.g. --include-ignored): nothing to attach to.
        return;
    };
    let dir = runtime::shm::ShmDir::open(Some(std::path::Path::new(&base)), "eng").unwrap();
    let control = Arc::new(ControlBlock::attach(&dir).unwrap());
    // As the supervisor's children do: start only once the parent has recorded this process,
    // or its begin_incarnation (state STARTING) could land after the first pass (RUNNING).
    let me = std::process::id();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !(control.slot(0).generation() == 1 && control.slot(0).pid() == me) {
        assert!(
            std::time::Instant::now() < deadline,
            "the parent never recorded this process"
        );
        std::thread::yield_now();
    }
    let mut lp = ActorLoop::new(control, 0, MonotonicClock, IdleStrategy::default_backoff())
        .unwrap()
        .with_publish_interval_ns(1_000_000);
    let mut actor = ChildActor {
        polls: 0,
        kills: 0,
        stops: 0,
    };
    assert_eq!(lp.run(&mut actor, None), RunOutcome::Stopped);
    assert_eq!((actor.kills, actor.stops), (1, 1));
}

#[test]
fn a_loop_in_another_process_halts_on_kill_and_stops_on_request() {
    let done = watchdog(Duration::from_secs(60));
    let tmp = tempfile::tempdir().unwrap();
    let dir = runtime::shm::ShmDir::create(Some(tmp.path()), "eng").unwrap();
    let control =
        ControlBlock::create(&dir, "eng", &[ActorSpec::new("child", "feed", None)]).unwrap();
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "child_role_actor_process",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, tmp.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let slot = control.slot(0);
    assert_eq!(
        slot.begin_incarnation(child.id(), MonotonicClock.now_ns(), false),
        1
    );

    while slot.heartbeat() < 100 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited early: {status}");
        }
        std::thread::yield_now();
    }
    assert_eq!(slot.state(), actor_state::RUNNING);
    assert!(control.kill("parent", "cross-process test"));
    while slot.state() != actor_state::HALTED {
        std::thread::yield_now();
    }
    let beats = slot.heartbeat();
    while slot.heartbeat() < beats + 10 {
        std::thread::yield_now();
    }
    let (seen_ns, latency_ns) = slot.kill_seen().expect("child recorded the kill");
    assert_eq!(
        seen_ns - latency_ns,
        control.kill_word(),
        "latency measured from the kill"
    );
    let polls_at_halt = slot.work_done();
    slot.request_stop();
    let status = child.wait().unwrap();
    assert!(status.success(), "child failed: {status}");
    assert_eq!(slot.state(), actor_state::STOPPED);
    // No poll after the pass that saw the kill; counters published on the way out.
    assert_eq!(slot.work_done(), polls_at_halt);
    let counters = slot.counters();
    assert_eq!(
        (counters.msgs_in, counters.msgs_out, counters.errors),
        (polls_at_halt, 1, 1)
    );
    done.store(true, Ordering::Release);
}
