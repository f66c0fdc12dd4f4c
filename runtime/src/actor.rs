//! The one loop every actor runs.
//!
//! An actor is a state machine with a [`Actor::poll`] that does a bounded amount of work (drain
//! up to N messages, check its deadlines against `now_ns`) and returns how much it did. The
//! [`ActorLoop`] owns everything around it, identically for every actor:
//!
//! 1. read the kill word (one Acquire load). On first sight: [`Actor::on_kill`] once, slot
//!    HALTED, kill-to-seen latency recorded; on a cleared word after a halt: [`Actor::on_rearm`],
//!    slot RUNNING again;
//! 2. heartbeat + 1 and the time of progress, so the supervisor sees a live loop (a halted actor
//!    still beats: the supervisor must not restart it);
//! 3. a stop request from the supervisor: [`Actor::on_stop`], slot STOPPED, [`PassOutcome::Stop`];
//! 4. [`Actor::poll`] while running, [`Actor::poll_halted`] (never sends orders) while halted;
//! 5. processing latency of passes that did work into a local HdrHistogram; its percentiles and
//!    the actor's counters published a few times a second, on a pass without work;
//! 6. idle by the actor's [`IdleStrategy`] when the pass did nothing. Its sleeping phase parks
//!    on the actor's doorbell: the loop marks the actor parked, polls once more (a message that
//!    landed meanwhile is handled, not slept through), then waits on the futex until a producer
//!    of one of its [`Actor::wake_topics`] calls `ControlBlock::notify`, the kill switch flips,
//!    the back-off sleep ends or [`Actor::next_deadline_ns`] comes.
//!
//! Deadlines (200 ms cancels, lockdown timers) belong in `poll`, checked against `now_ns` every
//! pass, never in executor timers (see `shared/notes/glommio.md`).

use crate::clock::{Clock, MonotonicClock};
use crate::control::{actor_state, ActorCounters, ActorSlot, ControlBlock};
use crate::hist::{self, new_histogram, HistogramPublisher};
use crate::idle::{IdleConfigError, IdleStrategy, Idler};
use hdrhistogram::Histogram;
use std::future::Future;
use std::sync::Arc;

/// How often the loop publishes latency percentiles and counters, by default (4 Hz).
pub const DEFAULT_PUBLISH_INTERVAL_NS: u64 = 250_000_000;

/// An actor's logic, driven by [`ActorLoop`].
pub trait Actor {
    /// Do a bounded amount of work (e.g. drain at most a batch of messages, fire due timers) and
    /// return how much was done; 0 lets the loop idle.
    fn poll(&mut self, now_ns: u64) -> usize;

    /// While the kill switch is set, instead of `poll`: drain inputs that must still be processed
    /// (acknowledgements and fills of the cancels sent in `on_kill`, journal writes) without
    /// sending anything new. Default: nothing.
    fn poll_halted(&mut self, _now_ns: u64) -> usize {
        0
    }

    /// The kill switch was seen: cancel everything, send nothing new. Called once per kill.
    fn on_kill(&mut self, _now_ns: u64) {}

    /// The supervisor asked for a graceful stop: flush journals, release resources.
    fn on_stop(&mut self, _now_ns: u64) {}

    /// The kill switch was re-armed by an operator: the loop polls again after this.
    fn on_rearm(&mut self, _now_ns: u64) {}

    /// Counters to publish in the actor's slot (messages in/out, errors); `None` to leave them.
    fn counters(&self) -> Option<ActorCounters> {
        None
    }

    /// The topics ([`crate::control::topic`]) whose producers should wake this actor when it
    /// sleeps idle: its inputs on the critical path. Default: none (it wakes on its back-off
    /// timer, the kill switch or a re-arm only).
    fn wake_topics(&self) -> u32 {
        0
    }

    /// The next time (monotonic ns) at which `poll` has something due without any input (a
    /// paced send, a timer); an idle sleep ends by then. Default: none.
    fn next_deadline_ns(&self) -> Option<u64> {
        None
    }
}

/// What one pass did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PassOutcome {
    /// `poll` did this much work.
    Worked(usize),
    /// `poll` found nothing to do (the loop idled).
    Idle,
    /// The kill switch is set; `poll_halted` did this much work.
    Halted(usize),
    /// A stop was requested and honoured: leave the loop.
    Stop,
}

/// Why [`ActorLoop::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunOutcome {
    /// A stop request was honoured.
    Stopped,
    /// `max_passes` passes ran.
    PassLimit,
}

/// Errors building an [`ActorLoop`].
#[derive(Debug, thiserror::Error)]
pub enum ActorLoopError {
    #[error(
        "actor slot {index} does not exist: the control block has {actor_count} configured actors"
    )]
    NoSuchSlot { index: usize, actor_count: usize },
    #[error("idle strategy: {0}")]
    Idle(#[from] IdleConfigError),
}

/// Drives one [`Actor`] against its slot in the control block.
pub struct ActorLoop<C: Clock = MonotonicClock> {
    control: Arc<ControlBlock>,
    slot_index: usize,
    clock: C,
    idler: Idler,
    started: bool,
    halted: bool,
    /// The kill word this incarnation last acted on (0 = none).
    seen_kill_word: u64,
    passes: u64,
    /// Processing time of passes with work: since start (published to `hist.shm`) and since
    /// the last publication (its percentiles go to the slot).
    proc_total: Histogram<u64>,
    proc_interval: Histogram<u64>,
    /// Kill-to-seen latency of every kill this incarnation saw.
    kill_latency: Histogram<u64>,
    publisher: Option<HistogramPublisher>,
    proc_stage: Option<u32>,
    publish_interval_ns: u64,
    last_publish_ns: u64,
    /// A kill was seen: publish the kill-latency histogram at the next pass.
    kill_hist_pending: bool,
}

impl<C: Clock> ActorLoop<C> {
    /// A loop for the actor in slot `slot_index`, reading time from `clock`, idling by `idle`.
    pub fn new(
        control: Arc<ControlBlock>,
        slot_index: usize,
        clock: C,
        idle: IdleStrategy,
    ) -> Result<Self, ActorLoopError> {
        if slot_index >= control.actor_count() {
            return Err(ActorLoopError::NoSuchSlot {
                index: slot_index,
                actor_count: control.actor_count(),
            });
        }
        let idler = Idler::new(idle)?;
        Ok(Self {
            control,
            slot_index,
            clock,
            idler,
            started: false,
            halted: false,
            seen_kill_word: 0,
            passes: 0,
            proc_total: new_histogram(),
            proc_interval: new_histogram(),
            kill_latency: new_histogram(),
            publisher: None,
            proc_stage: None,
            publish_interval_ns: DEFAULT_PUBLISH_INTERVAL_NS,
            last_publish_ns: 0,
            kill_hist_pending: false,
        })
    }

    /// Publish this actor's histograms into `hist.shm`: processing time under `proc_stage`
    /// (e.g. [`hist::stage::ORACLE_PROC`]; `None` to skip) and kill-to-seen latency under
    /// [`hist::stage::KILL_SWITCH`].
    pub fn with_histograms(
        mut self,
        publisher: HistogramPublisher,
        proc_stage: Option<u32>,
    ) -> Self {
        self.publisher = Some(publisher);
        self.proc_stage = proc_stage;
        self
    }

    /// How often percentiles and counters are published (default 250 ms). A publication waits
    /// for a pass without work, unless 4 intervals have passed.
    pub fn with_publish_interval_ns(mut self, interval_ns: u64) -> Self {
        self.publish_interval_ns = interval_ns.max(1);
        self
    }

    pub fn control(&self) -> &Arc<ControlBlock> {
        &self.control
    }

    pub fn slot(&self) -> &ActorSlot {
        self.control.slot(self.slot_index)
    }

    pub fn slot_index(&self) -> usize {
        self.slot_index
    }

    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Whether the loop is halted by the kill switch.
    pub fn is_halted(&self) -> bool {
        self.halted
    }

    /// Passes run so far.
    pub fn passes(&self) -> u64 {
        self.passes
    }

    /// Processing time of passes with work since the loop started.
    pub fn processing_histogram(&self) -> &Histogram<u64> {
        &self.proc_total
    }

    /// Kill-to-seen latencies this incarnation recorded.
    pub fn kill_latency_histogram(&self) -> &Histogram<u64> {
        &self.kill_latency
    }

    /// One pass of the loop (see the module documentation for its steps).
    pub fn run_pass(&mut self, actor: &mut dyn Actor) -> PassOutcome {
        let now_ns = self.clock.now_ns();
        self.passes += 1;
        // The slot is re-borrowed from `self.control` around each `&mut self` call below, so
        // no Arc reference count is touched on the hot path.
        if !self.started {
            self.started = true;
            self.last_publish_ns = now_ns;
            // A predecessor killed while parked may have left its parked bit set.
            self.control.park_end(self.slot_index);
            self.control
                .set_wake_topics(self.slot_index, actor.wake_topics());
            self.control
                .slot(self.slot_index)
                .set_state(actor_state::RUNNING);
        }

        if self.kill_hist_pending {
            self.kill_hist_pending = false;
            if let Some(publisher) = self.publisher.as_mut() {
                let _ = publisher.publish(hist::stage::KILL_SWITCH, &self.kill_latency, now_ns);
            }
        }

        let kill_word = self.control.kill_word();
        if kill_word != 0 {
            if kill_word != self.seen_kill_word {
                self.on_kill_seen(actor, kill_word, now_ns);
            }
        } else if self.halted {
            self.halted = false;
            self.seen_kill_word = 0;
            actor.on_rearm(now_ns);
            let slot = self.control.slot(self.slot_index);
            slot.clear_kill_seen();
            slot.set_state(actor_state::RUNNING);
        }

        let slot = self.control.slot(self.slot_index);
        slot.beat(now_ns);

        if slot.stop_requested() {
            slot.set_state(actor_state::STOPPING);
            actor.on_stop(now_ns);
            self.publish(actor, now_ns);
            self.control
                .slot(self.slot_index)
                .set_state(actor_state::STOPPED);
            return PassOutcome::Stop;
        }

        let mut work = if self.halted {
            actor.poll_halted(now_ns)
        } else {
            actor.poll(now_ns)
        };
        if work > 0 {
            self.record_work(work, now_ns);
        }

        let since_publish_ns = now_ns.saturating_sub(self.last_publish_ns);
        if since_publish_ns >= self.publish_interval_ns
            && (work == 0 || since_publish_ns >= self.publish_interval_ns.saturating_mul(4))
        {
            self.publish(actor, now_ns);
        }

        // Sleep on this actor's doorbell rather than a plain sleep: producers of its wake
        // topics and the kill switch ring it, so an idle actor runs as soon as its input
        // arrives. The sleep ends by the actor's next deadline. Parking is announced before
        // the inputs and the kill word are checked once more, so nothing published or flipped
        // in between is slept through (see `ControlBlock::park_begin`).
        let deadline_ns = if work == 0 {
            actor.next_deadline_ns()
        } else {
            None
        };
        let (control, clock, slot_index, halted) =
            (&self.control, &self.clock, self.slot_index, self.halted);
        let mut late = None;
        self.idler.idle_with(work, |us| {
            let mut sleep_us = us;
            if let Some(deadline_ns) = deadline_ns {
                let now_ns = clock.now_ns();
                if deadline_ns <= now_ns {
                    return;
                }
                let until_us = (deadline_ns - now_ns).div_ceil(1_000);
                sleep_us = sleep_us.min(u32::try_from(until_us).unwrap_or(u32::MAX));
            }
            let seq = control.park_begin(slot_index);
            if control.kill_word() == kill_word {
                let now_ns = clock.now_ns();
                let found = if halted {
                    actor.poll_halted(now_ns)
                } else {
                    actor.poll(now_ns)
                };
                if found == 0 {
                    control.park_wait(slot_index, seq, sleep_us);
                } else {
                    late = Some((found, now_ns));
                }
            }
            control.park_end(slot_index);
        });
        if let Some((found, at_ns)) = late {
            // Work that arrived while parking: done by the re-check, counted like any other.
            self.idler.reset();
            self.record_work(found, at_ns);
            work = found;
        }
        match (self.halted, work) {
            (true, work) => PassOutcome::Halted(work),
            (false, 0) => PassOutcome::Idle,
            (false, work) => PassOutcome::Worked(work),
        }
    }

    fn record_work(&mut self, work: usize, started_ns: u64) {
        let took_ns = self.clock.now_ns().saturating_sub(started_ns);
        self.proc_total.saturating_record(took_ns);
        self.proc_interval.saturating_record(took_ns);
        self.control.slot(self.slot_index).add_work(work as u64);
    }

    fn on_kill_seen(&mut self, actor: &mut dyn Actor, word: u64, pass_start_ns: u64) {
        let slot = self.control.slot(self.slot_index);
        // The pass's time was read before the kill word, possibly before the kill itself: read
        // the clock again so the latency is measured from a time after the word was seen.
        let now_ns = self.clock.now_ns().max(pass_start_ns);
        let latency_ns = now_ns.saturating_sub(word);
        self.seen_kill_word = word;
        // Stop trading before anything else; then record when the kill was seen, before the
        // HALTED state that publishes it (whoever sees HALTED also sees the latency).
        // (A word that changed while halted is a re-arm and a new kill between two passes: the
        // actor never ran in between, so there is nothing more to cancel; record the new kill.)
        let first_sight = !self.halted;
        if first_sight {
            self.halted = true;
            actor.on_kill(now_ns);
        }
        slot.record_kill_seen(now_ns, latency_ns);
        if first_sight {
            slot.set_state(actor_state::HALTED);
        }
        self.kill_latency.saturating_record(latency_ns);
        // Rare event: published at the start of the next pass, so the cockpit shows it within
        // one pass but the actors sharing this core see the kill before the copy is made.
        self.kill_hist_pending = self.publisher.is_some();
    }

    fn publish(&mut self, actor: &mut dyn Actor, now_ns: u64) {
        let slot = self.control.slot(self.slot_index);
        self.last_publish_ns = now_ns;
        if !self.proc_interval.is_empty() {
            slot.set_latency(
                self.proc_interval.value_at_quantile(0.5),
                self.proc_interval.value_at_quantile(0.99),
            );
            self.proc_interval.reset();
        }
        if let Some(counters) = actor.counters() {
            slot.set_counters(counters, now_ns);
        }
        if let (Some(publisher), Some(stage)) = (self.publisher.as_mut(), self.proc_stage) {
            if !self.proc_total.is_empty() {
                // A failure (histogram too wide for its slot) loses one publication, not data:
                // the local histogram keeps everything and the next publication retries.
                let _ = publisher.publish(stage, &self.proc_total, now_ns);
            }
        }
    }

    /// Run passes until a stop request is honoured, or `max_passes` passes when given.
    pub fn run(&mut self, actor: &mut dyn Actor, max_passes: Option<u64>) -> RunOutcome {
        let mut passes = 0u64;
        loop {
            if max_passes.is_some_and(|max| passes >= max) {
                return RunOutcome::PassLimit;
            }
            passes += 1;
            if self.run_pass(actor) == PassOutcome::Stop {
                return RunOutcome::Stopped;
            }
        }
    }

    /// [`ActorLoop::run`] for an async executor: awaits `yield_now()` after every pass, so the
    /// supervisor's glommio wrapper can pass `|| glommio::yield_if_needed()` without this crate
    /// depending on glommio.
    pub async fn run_async<Y, F>(
        &mut self,
        actor: &mut dyn Actor,
        max_passes: Option<u64>,
        mut yield_now: Y,
    ) -> RunOutcome
    where
        Y: FnMut() -> F,
        F: Future<Output = ()>,
    {
        let mut passes = 0u64;
        loop {
            if max_passes.is_some_and(|max| passes >= max) {
                return RunOutcome::PassLimit;
            }
            passes += 1;
            if self.run_pass(actor) == PassOutcome::Stop {
                return RunOutcome::Stopped;
            }
            yield_now().await;
        }
    }
}
