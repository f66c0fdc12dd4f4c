//! Oracle: `md.ring` (cursor 0) → `Oracle` → `signal.ring`.

use super::{cursor, now_ns, ring_err, LiveEnv, LiveError, Stages, MAX_BATCH, PUBLISH_INTERVAL_NS};
use crate::oracle::Oracle;
use runtime::actor::Actor;
use runtime::control::{topic, ActorCounters, ControlBlock};
use runtime::hist::stage;
use runtime::msg::{MdEvent, Signal};
use runtime::ring::broadcast::{Recv, Subscriber};
use runtime::ring::spsc::Producer;
use runtime::rings::{MdRing, SignalRing, MD_RING, SIGNAL_RING};
use std::sync::Arc;

/// The Oracle actor.
pub struct OracleActor {
    oracle: Oracle,
    md: Subscriber<MdEvent, 65_536>,
    signals: Producer<Signal, 4_096>,
    control: Arc<ControlBlock>,
    stages: Stages,
    events: u64,
    sent: u64,
    /// Signals dropped because Execution's ring was full (Execution stalled).
    dropped: u64,
    overruns: u64,
    overrun_lost: u64,
    last_publish_ns: u64,
}

impl OracleActor {
    pub fn new(env: LiveEnv) -> Result<Self, LiveError> {
        let oracle = Oracle::new(env.strategy.oracle.clone())
            .map_err(|e| LiveError::Strategy(e.to_string()))?;
        let md = MdRing::attach(&env.dir, MD_RING)
            .and_then(|r| r.subscribe(cursor::ORACLE))
            .map_err(ring_err(MD_RING))?;
        let signals = SignalRing::attach(&env.dir, SIGNAL_RING)
            .and_then(|r| r.producer())
            .map_err(ring_err(SIGNAL_RING))?;
        Ok(OracleActor {
            oracle,
            md,
            signals,
            stages: Stages::new(env.hist, env.slot_index, &[(stage::HOP_FEED_ORACLE, None)]),
            control: env.control,
            events: 0,
            sent: 0,
            dropped: 0,
            overruns: 0,
            overrun_lost: 0,
            last_publish_ns: 0,
        })
    }

    /// Overruns of the broadcast cursor and the messages they lost.
    pub fn overruns(&self) -> (u64, u64) {
        (self.overruns, self.overrun_lost)
    }
}

impl Actor for OracleActor {
    fn poll(&mut self, now: u64) -> usize {
        let mut work = 0;
        while work < MAX_BATCH {
            match self.md.poll() {
                Recv::Msg { msg, .. } => {
                    work += 1;
                    self.events += 1;
                    let t = now_ns();
                    if msg.stamps.publish_ns != 0 {
                        self.stages
                            .record(0, t.saturating_sub(msg.stamps.publish_ns));
                    }
                    if let Some(mut sig) = self.oracle.on_md(&msg, t) {
                        sig.stamps.publish_ns = now_ns();
                        match self.signals.try_push(&sig) {
                            Ok(_) => {
                                self.sent += 1;
                                // At once, not per batch: the signal is the order's trigger.
                                self.control.notify(topic::SIGNAL);
                            }
                            Err(_) => self.dropped += 1,
                        }
                    }
                }
                Recv::Overrun { lost } => {
                    // The book in the next event is complete (each carries the top levels), so
                    // the Oracle simply continues; Sonar closes the gate on overruns.
                    self.overruns += 1;
                    self.overrun_lost += lost;
                    work += 1;
                }
                Recv::Empty => break,
            }
        }
        if now.saturating_sub(self.last_publish_ns) >= PUBLISH_INTERVAL_NS {
            self.last_publish_ns = now;
            self.control
                .oracle_telemetry()
                .write(&self.oracle.telemetry(now));
        }
        self.stages.maybe_publish(now, false);
        work
    }

    fn poll_halted(&mut self, now: u64) -> usize {
        // Signals keep flowing while halted (Execution drops them): the cockpit shows them.
        self.poll(now)
    }

    fn on_stop(&mut self, now: u64) {
        self.stages.maybe_publish(now, true);
    }

    fn wake_topics(&self) -> u32 {
        topic::MD
    }

    fn counters(&self) -> Option<ActorCounters> {
        Some(ActorCounters {
            msgs_in: self.events,
            msgs_out: self.sent,
            errors: self.dropped + self.overruns,
        })
    }
}
