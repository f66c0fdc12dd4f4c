//! Live wrappers: each trading actor's pure state machine wired to the engine's rings, the
//! control block, `hist.shm` and (Feed, Execution) the venue's TCP sessions.
//!
//! Each wrapper implements [`runtime::actor::Actor`]; the supervisor's child process builds one
//! with [`build`] from a plain [`LiveEnv`] (no supervisor types: the supervisor depends on this
//! crate, not the reverse) and drives it with `runtime::actor::ActorLoop`. Every `poll` does
//! bounded work ([`MAX_BATCH`] messages per input) and allocates nothing after construction.
//!
//! # Broadcast cursors on `md.ring`
//!
//! | cursor | reader |
//! |---|---|
//! | [`cursor::ORACLE`] = 0 | Oracle |
//! | [`cursor::SONAR`] = 1 | Sonar |
//! | [`cursor::EXECUTION`] = 2 | Execution (LTP and book for marks) |
//! | [`cursor::UI`] = 3 | the UI actor |
//! | [`cursor::SENTINEL`] = 4 | Sentinel (mark price for the loss limit; starts at the latest) |
//!
//! A restarted actor takes its cursor back and resumes at the persisted position.
//!
//! # Blocking
//!
//! Nothing blocks while connected. A (re)connection attempt does: Feed's connect waits at most
//! 100 ms, Execution's connect + Logon at most 2 × 200 ms, and both back off (10 ms doubling to
//! 1 s) between attempts, so a missing venue costs a pass at most that much now and then. The
//! kill switch is still seen at the next pass; Execution has nothing to cancel while its
//! session is down (the venue cancels a closed session's orders).
//!
//! # Histograms
//!
//! The actor loop publishes each actor's processing time (`*_proc`) when the supervisor builds it
//! with `ActorLoop::with_histograms(publisher, stage::proc_stage_for_kind(kind))`. The wrappers
//! publish the chain's stages themselves, under the same publisher number (the slot index):
//! Oracle `hop_feed_oracle`; Execution `tick_to_order`, `hop_oracle_execution`,
//! `cancel_lateness` and the user stage [`STAGE_TICK_TO_ORDER_INTENDED`]; Sentinel `rtt` and
//! `order_to_fill`.

mod execution;
mod feed;
mod oracle;
mod sentinel;
mod sonar;

pub use execution::{venue_event, ExecutionActor, REJECT_NOT_SENT};
pub use feed::FeedActor;
pub use oracle::OracleActor;
pub use sentinel::SentinelActor;
pub use sonar::SonarActor;

use crate::config::StrategyConfig;
use crate::execution::costs::{CostError, CostSchedule, CostTable, Date};
use hdrhistogram::Histogram;
use runtime::actor::Actor;
use runtime::control::ControlBlock;
use runtime::hist::{HistogramPublisher, HistogramRegion};
use runtime::shm::ShmDir;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;

/// Messages taken from one input per `poll` at most.
pub const MAX_BATCH: usize = 256;
/// How often wrappers publish telemetry and their histograms.
pub const PUBLISH_INTERVAL_NS: u64 = 50_000_000;
/// Tick-to-order measured from a benchmark event's intended send time (`stamps.intended_ns`),
/// published by Execution as a user stage so coordinated omission does not hide queueing.
pub const STAGE_TICK_TO_ORDER_INTENDED: u32 = runtime::hist::stage::FIRST_USER_STAGE;
pub const STAGE_TICK_TO_ORDER_INTENDED_NAME: &str = "tick_to_order_intended";

/// Broadcast cursors on `md.ring` (see the module documentation).
pub mod cursor {
    pub const ORACLE: usize = 0;
    pub const SONAR: usize = 1;
    pub const EXECUTION: usize = 2;
    pub const UI: usize = 3;
    pub const SENTINEL: usize = 4;
}

/// Everything a live actor needs, as plain values.
#[derive(Clone)]
pub struct LiveEnv {
    /// The engine's shared-memory directory; the rings already exist (the supervisor creates
    /// them with `runtime::rings::create_all` before any actor starts).
    pub dir: ShmDir,
    pub control: Arc<ControlBlock>,
    pub hist: Arc<HistogramRegion>,
    /// This actor's slot in the control block (also its histogram publisher number).
    pub slot_index: usize,
    pub strategy: StrategyConfig,
    /// Directory of dated cost tables (usually `<repo>/` + `strategy.costs_dir`).
    pub costs_dir: PathBuf,
    /// Trading date that selects the cost table; `None` = today (UTC).
    pub cost_date: Option<Date>,
    /// Venue order entry (Execution) and market data (Feed).
    pub venue_order_addr: Option<SocketAddr>,
    pub venue_md_addr: Option<SocketAddr>,
    /// Execution's order journal.
    pub journal_path: PathBuf,
    /// The instrument traded (Feed keeps its book; Execution quotes it).
    pub instrument_id: u32,
    /// Venue account of the order-entry session and its self-trade-prevention id.
    pub account: u32,
    pub stp_id: u64,
    /// Runs first on each helper thread a live actor starts (Execution's journal fsync), to
    /// keep it off the hot core: the supervisor pins it to the housekeeping cores. `None`:
    /// helpers stay where they start.
    pub place_helper_thread: Option<Arc<dyn Fn() + Send + Sync>>,
}

impl LiveEnv {
    /// An environment with the defaults for everything but the shared-memory pieces: the
    /// strategy's own journal path, cost directory resolved against `repo_root`, its
    /// instrument, account 1, no venue addresses.
    pub fn new(
        dir: ShmDir,
        control: Arc<ControlBlock>,
        hist: Arc<HistogramRegion>,
        slot_index: usize,
        strategy: StrategyConfig,
        repo_root: &std::path::Path,
    ) -> Self {
        LiveEnv {
            dir,
            control,
            hist,
            slot_index,
            costs_dir: repo_root.join(&strategy.costs_dir),
            cost_date: None,
            venue_order_addr: None,
            venue_md_addr: None,
            journal_path: repo_root.join(&strategy.journal_path),
            instrument_id: strategy.execution.instrument_id,
            account: 1,
            stp_id: 1,
            place_helper_thread: None,
            strategy,
        }
    }

    /// The cost table in force on [`LiveEnv::cost_date`] (today by default).
    pub fn cost_table(&self) -> Result<CostTable, LiveError> {
        let date = match self.cost_date {
            Some(d) => d,
            None => today_utc(),
        };
        let schedule = CostSchedule::load_dir(&self.costs_dir)?;
        Ok(schedule.for_date(date)?.clone())
    }
}

/// Why a live actor could not be built.
#[derive(Debug, Error)]
pub enum LiveError {
    #[error(
        "unknown actor kind {0:?}: the built-in kinds are feed, oracle, sonar, sentinel, execution"
    )]
    UnknownKind(String),
    #[error("{kind} needs {what} in its environment (the topology's venue section)")]
    Missing {
        kind: &'static str,
        what: &'static str,
    },
    #[error("ring {ring}: {source}")]
    Ring {
        ring: &'static str,
        source: runtime::ring::RingError,
    },
    #[error("strategy: {0}")]
    Strategy(String),
    #[error("cost table: {0}")]
    Costs(#[from] CostError),
    #[error("order journal: {0}")]
    Journal(#[from] crate::execution::journal::JournalError),
    #[error("journal recovery: {0}")]
    Recovery(#[from] crate::execution::ExecError),
    #[error("Sentinel's saved risk state (good up to report {orders_pos} of orders.ring) does not match the ring: {source}. Its position and OTR counts cannot be trusted; stop the engine (`supervisor stop`) and start it afresh")]
    Checkpoint {
        orders_pos: u64,
        source: runtime::ring::SkipError,
    },
}

pub(crate) fn ring_err(ring: &'static str) -> impl FnOnce(runtime::ring::RingError) -> LiveError {
    move |source| LiveError::Ring { ring, source }
}

/// Build the live actor of a built-in `kind` (feed, oracle, sonar, sentinel, execution).
pub fn build(kind: &str, env: LiveEnv) -> Result<Box<dyn Actor>, LiveError> {
    Ok(match kind {
        "feed" => Box::new(FeedActor::new(env)?),
        "oracle" => Box::new(OracleActor::new(env)?),
        "sonar" => Box::new(SonarActor::new(env)?),
        "sentinel" => Box::new(SentinelActor::new(env)?),
        "execution" => Box::new(ExecutionActor::new(env)?),
        other => return Err(LiveError::UnknownKind(other.to_string())),
    })
}

/// The engine clock every wrapper stamps with (the same `CLOCK_MONOTONIC` the actor loop reads).
pub(crate) fn now_ns() -> u64 {
    runtime::clock::monotonic_ns()
}

/// A wrapper's own latency histograms and their publication into `hist.shm`.
pub(crate) struct Stages {
    publisher: HistogramPublisher,
    hists: Vec<(u32, Option<&'static str>, Histogram<u64>)>,
    last_publish_ns: u64,
}

impl Stages {
    pub(crate) fn new(
        region: Arc<HistogramRegion>,
        slot: usize,
        stages: &[(u32, Option<&'static str>)],
    ) -> Self {
        Stages {
            publisher: HistogramPublisher::new(region, slot as u32),
            hists: stages
                .iter()
                .map(|&(s, n)| (s, n, runtime::hist::new_histogram()))
                .collect(),
            last_publish_ns: 0,
        }
    }

    /// Record into the `i`-th stage given at construction (never allocates).
    #[inline]
    pub(crate) fn record(&mut self, i: usize, value_ns: u64) {
        self.hists[i].2.saturating_record(value_ns.max(1));
    }

    pub(crate) fn histogram(&self, i: usize) -> &Histogram<u64> {
        &self.hists[i].2
    }

    /// Publish every non-empty histogram when the interval has passed (or `force`).
    pub(crate) fn maybe_publish(&mut self, now_ns: u64, force: bool) {
        if !force && now_ns.saturating_sub(self.last_publish_ns) < PUBLISH_INTERVAL_NS {
            return;
        }
        self.last_publish_ns = now_ns;
        for (stage, name, h) in &self.hists {
            if h.is_empty() {
                continue;
            }
            // A failed publication loses one snapshot, not data (the local histogram keeps it).
            let _ = match name {
                Some(n) => self.publisher.publish_named(*stage, n, h, now_ns),
                None => self.publisher.publish(*stage, h, now_ns),
            };
        }
    }
}

/// Today's date (UTC) from the wall clock, for the cost table.
pub fn today_utc() -> Date {
    let secs = runtime::clock::wall_clock_ns() / 1_000_000_000;
    date_from_unix_days((secs / 86_400) as i64)
}

/// Civil date of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
pub fn date_from_unix_days(days: i64) -> Date {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = if m <= 2 { y + 1 } else { y };
    Date {
        year: y as u16,
        month: m,
        day: d,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_from_day_counts() {
        let d = |y, m, dd| Date {
            year: y,
            month: m,
            day: dd,
        };
        assert_eq!(date_from_unix_days(0), d(1970, 1, 1));
        // 2000-01-01 is day 10,957 (30 × 365 + 7 leap days); + 31 (Jan) + 29 (Feb, leap year).
        assert_eq!(date_from_unix_days(10_957 + 31 + 29), d(2000, 3, 1));
        assert_eq!(date_from_unix_days(10_957 + 31 + 28), d(2000, 2, 29));
        // 2026-01-01 is day 20,454 (56 × 365 + 14 leap days); + 31 + 28 + 31 → 1 April.
        assert_eq!(date_from_unix_days(20_544), d(2026, 4, 1));
    }
}
