//! Sonar: `md.ring` (cursor 1) → `Sonar` → regime and gate in the control block.

use super::{cursor, now_ns, ring_err, LiveEnv, LiveError, MAX_BATCH, PUBLISH_INTERVAL_NS};
use crate::sonar::{Sonar, SonarOutput};
use runtime::actor::Actor;
use runtime::control::{topic, ActorCounters, ControlBlock};
use runtime::msg::MdEvent;
use runtime::ring::broadcast::{Recv, Subscriber};
use runtime::rings::{MdRing, MD_RING};
use std::sync::Arc;

/// The Sonar actor.
pub struct SonarActor {
    sonar: Sonar,
    md: Subscriber<MdEvent, 65_536>,
    control: Arc<ControlBlock>,
    events: u64,
    changes: u64,
    published_once: bool,
    last_publish_ns: u64,
}

impl SonarActor {
    pub fn new(env: LiveEnv) -> Result<Self, LiveError> {
        let mut sonar = Sonar::new(env.strategy.sonar.clone())
            .map_err(|e| LiveError::Strategy(e.to_string()))?;
        // Exchange stamps are wall-clock; Sonar's timestamp checks compare them with the
        // monotonic clock shifted by this offset.
        let offset = runtime::clock::wall_clock_ns() as i64 - runtime::clock::monotonic_ns() as i64;
        sonar.set_wall_clock_offset(offset);
        let md = MdRing::attach(&env.dir, MD_RING)
            .and_then(|r| r.subscribe(cursor::SONAR))
            .map_err(ring_err(MD_RING))?;
        Ok(SonarActor {
            sonar,
            md,
            control: env.control,
            events: 0,
            changes: 0,
            published_once: false,
            last_publish_ns: 0,
        })
    }

    fn apply(&mut self, out: SonarOutput, now: u64) {
        if out.changed || !self.published_once {
            self.published_once = true;
            self.changes += 1;
            let entropy = out.entropy.unwrap_or(0.0);
            self.control.set_regime(out.regime.code(), entropy, now);
            self.control.set_gate(out.gate_open(), out.gate_check, now);
        }
    }
}

impl Actor for SonarActor {
    fn poll(&mut self, now: u64) -> usize {
        let mut work = 0;
        while work < MAX_BATCH {
            match self.md.poll() {
                Recv::Msg { msg, .. } => {
                    work += 1;
                    self.events += 1;
                    let t = now_ns();
                    let out = self.sonar.on_md(&msg, t);
                    self.apply(out, t);
                }
                Recv::Overrun { lost } => {
                    work += 1;
                    let out = self.sonar.on_overrun(lost, now);
                    self.apply(out, now);
                }
                Recv::Empty => break,
            }
        }
        let t = now_ns();
        let out = self.sonar.on_tick(t);
        self.apply(out, t);
        if t.saturating_sub(self.last_publish_ns) >= PUBLISH_INTERVAL_NS {
            self.last_publish_ns = t;
            self.control
                .sonar_telemetry()
                .write(&self.sonar.telemetry(t));
            // Refresh the entropy beside the regime (it moves without a regime change).
            let regime = self.sonar.regime().code();
            self.control
                .set_regime(regime, self.sonar.entropy().unwrap_or(0.0), t);
        }
        work
    }

    fn poll_halted(&mut self, now: u64) -> usize {
        // The regime and gate stay current while halted, so a re-arm starts from the truth.
        self.poll(now)
    }

    fn wake_topics(&self) -> u32 {
        // Every event feeds the entropy and the zero-trust checks: close the gate promptly.
        topic::MD
    }

    fn counters(&self) -> Option<ActorCounters> {
        Some(ActorCounters {
            msgs_in: self.events,
            msgs_out: self.changes,
            errors: self.sonar.counters.overruns,
        })
    }
}
