//! `synthetic-feed`: a user actor kind that stands in for Feed in the benchmark's copy of the
//! topology. It publishes [`crate::synth::SynthBook`] events on the real `md.ring` at the rate
//! the bench process commands through [`crate::ctl::BenchCtl`], each stamped with its intended
//! send time (`intended_ns`), the time it was really published (`recv_ns` = `publish_ns`) and
//! the wall clock (`exchange_ns`, so Sonar's timestamp checks pass).
//!
//! It runs in the actor loop like any kind, with the topology's idle strategy: between two due
//! events it returns 0 and the loop idles, exactly as the real Feed does between two packets.
//! When it wakes late, the events that fell due meanwhile are published at once (up to
//! [`MAX_BATCH`] per pass), and their latency, counted from the intended time, includes the
//! wait: market data that arrives while the Feed sleeps waits the same way.

use crate::ctl::{BenchCtl, StepCmd, StepReport};
use crate::synth::{Schedule, SynthBook};
use runtime::actor::Actor;
use runtime::clock::{monotonic_ns, wall_clock_ns};
use runtime::control::{topic, ActorCounters, ControlBlock};
use runtime::msg::{MdEvent, Stamps};
use runtime::ring::Publisher;
use runtime::rings::{MdRing, MD_RING};
use runtime::shm::ShmDir;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Events published per pass at most (a late generator catches up in bounded passes).
pub const MAX_BATCH: u64 = 256;
/// The kind's name in topologies.
pub const KIND: &str = "synthetic-feed";

/// The `config:` file of a `synthetic-feed` actor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyntheticFeedConfig {
    /// The bench's control file ([`BenchCtl`]).
    pub control_path: PathBuf,
    #[serde(default)]
    pub book: SynthBook,
}

impl SyntheticFeedConfig {
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("synthetic-feed config {}: {e}", path.display()))?;
        let cfg: Self = ron::from_str(&text)
            .map_err(|e| anyhow::anyhow!("synthetic-feed config {}: {e}", path.display()))?;
        cfg.book
            .validate()
            .map_err(|e| anyhow::anyhow!("synthetic-feed config {}: book.{e}", path.display()))?;
        Ok(cfg)
    }
}

/// The synthetic feed.
pub struct SyntheticFeed {
    book: SynthBook,
    md: Publisher<MdEvent, 65_536>,
    ctl: BenchCtl,
    cmd: StepCmd,
    report: StepReport,
    /// Index of the next event in the current step.
    next: u64,
    /// Events since start (the book's phase and the events' `seq`).
    total: u64,
    /// wall − monotonic, for `exchange_ns`.
    wall_offset_ns: i64,
    /// Where md.ring's parked readers are woken (`None`: nobody to wake, as in unit tests).
    control: Option<Arc<ControlBlock>>,
}

impl SyntheticFeed {
    /// Attach to `md.ring` in `dir` and to the control file.
    pub fn new(
        dir: &ShmDir,
        control: Arc<ControlBlock>,
        cfg: &SyntheticFeedConfig,
    ) -> anyhow::Result<Self> {
        let md = MdRing::attach(dir, MD_RING)?.publisher()?;
        let ctl = BenchCtl::attach(&cfg.control_path)?;
        let mut feed = Self::with_parts(cfg.book, md, ctl);
        feed.control = Some(control);
        Ok(feed)
    }

    pub fn with_parts(book: SynthBook, md: Publisher<MdEvent, 65_536>, ctl: BenchCtl) -> Self {
        let total = md.next_seq();
        SyntheticFeed {
            book,
            md,
            ctl,
            cmd: StepCmd {
                step: 0,
                rate_per_s: 0,
                start_ns: 0,
                events: 0,
            },
            report: StepReport::default(),
            next: 0,
            total,
            wall_offset_ns: wall_clock_ns() as i64 - monotonic_ns() as i64,
            control: None,
        }
    }
}

impl Actor for SyntheticFeed {
    fn poll(&mut self, _now_ns: u64) -> usize {
        let cmd = self.ctl.read_command();
        if cmd.step != self.cmd.step {
            self.cmd = cmd;
            self.next = 0;
            self.report = StepReport {
                step: cmd.step,
                total: self.total,
                ..StepReport::default()
            };
            self.ctl.report(&self.report);
        }
        if self.next >= self.cmd.events || self.cmd.rate_per_s == 0 {
            return 0;
        }
        let schedule = Schedule {
            start_ns: self.cmd.start_ns,
            rate_per_s: self.cmd.rate_per_s,
        };
        let due = schedule
            .due_by(monotonic_ns())
            .min(self.cmd.events)
            .min(self.next + MAX_BATCH);
        let mut work = 0;
        while self.next < due {
            let intended_ns = schedule.intended_ns(self.next);
            let t = monotonic_ns();
            let stamps = Stamps {
                exchange_ns: (t as i64 + self.wall_offset_ns) as u64,
                recv_ns: t,
                publish_ns: t,
                intended_ns,
            };
            let ev = self.book.event(self.total, stamps);
            self.md.publish(&ev);
            self.total += 1;
            self.next += 1;
            work += 1;
            self.report.max_lag_ns = self.report.max_lag_ns.max(t.saturating_sub(intended_ns));
            self.report.last_publish_ns = t;
        }
        if work > 0 {
            // Like Feed: wake md.ring's parked readers once per batch.
            if let Some(control) = &self.control {
                control.notify(topic::MD);
            }
            self.report.published = self.next;
            self.report.total = self.total;
            self.ctl.report(&self.report);
        }
        work
    }

    /// The next event's intended send time: the loop's idle sleep ends then, as a real Feed's
    /// ends when its socket has data.
    fn next_deadline_ns(&self) -> Option<u64> {
        if self.next >= self.cmd.events || self.cmd.rate_per_s == 0 {
            return None;
        }
        let schedule = Schedule {
            start_ns: self.cmd.start_ns,
            rate_per_s: self.cmd.rate_per_s,
        };
        Some(schedule.intended_ns(self.next))
    }

    fn counters(&self) -> Option<ActorCounters> {
        Some(ActorCounters {
            msgs_in: 0,
            msgs_out: self.total,
            errors: 0,
        })
    }
}
