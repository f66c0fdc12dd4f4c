//! What the UI actor reads from, and writes to, the running engine. The one implementation is
//! [`crate::shm_view::ShmView`] over the engine's shared memory; the trait keeps the server and
//! its tests independent of how the control block is laid out.

use hdrhistogram::Histogram;
use runtime::telemetry::{
    ExecutionTelemetry, FeedTelemetry, OracleTelemetry, SentinelTelemetry, SonarTelemetry,
};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ViewError {
    /// The engine's shared memory is not there (not started, or another engine name).
    #[error("engine {engine:?} not found: {detail}")]
    NotRunning { engine: String, detail: String },
    /// The control block refused the write (e.g. attach failed, slot missing).
    #[error("control block: {0}")]
    Control(String),
}

/// One actor slot as read from the control block.
#[derive(Debug, Clone, PartialEq)]
pub struct SlotReading {
    pub index: u32,
    pub name: String,
    pub kind: String,
    pub pid: u32,
    /// Configured core (-1: not pinned).
    pub core: i32,
    /// STARTING, RUNNING, HALTED, STOPPED, DEAD… as the runtime names it.
    pub state: String,
    /// Monotonic ns of the actor's last loop pass (its heartbeat).
    pub heartbeat_ns: u64,
    pub last_progress_ns: u64,
    pub restarts: u64,
    pub msgs_in: u64,
    pub msgs_out: u64,
    /// Processing latency the actor's loop last published.
    pub latency_p50_ns: u64,
    pub latency_p99_ns: u64,
    /// When this incarnation saw the current kill (monotonic ns; 0 = not seen).
    pub kill_seen_ns: u64,
}

impl SlotReading {
    /// Hot actors are the ones the kill switch must stop: every actor but the UI itself.
    pub fn is_hot(&self) -> bool {
        !self.kind.eq_ignore_ascii_case("ui")
    }

    pub fn is_halted(&self) -> bool {
        // An actor that exited (or was never started) cannot send anything either.
        matches!(
            self.state.to_ascii_uppercase().as_str(),
            "HALTED" | "STOPPED" | "DEAD" | "EXITED" | "EMPTY"
        )
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct KillReading {
    pub set: bool,
    pub by: String,
    pub reason: String,
    pub at_ns: u64,
}

/// One stage's histogram.
#[derive(Debug, Clone)]
pub struct StageHist {
    /// Stable key: `tick_to_order`, `rtt`, `proc.<actor>`, `kill_switch`…
    pub stage: String,
    pub label: String,
    pub hist: Histogram<u64>,
    /// Exact sum of recorded values when the engine keeps one.
    pub sum_ns: Option<u128>,
}

/// Everything one sample reads.
#[derive(Debug, Clone, Default)]
pub struct EngineReading {
    /// RUNNING, LOCKDOWN, HALTED, STARTING, STOPPED.
    pub engine_state: String,
    pub uptime_ns: u64,
    pub kill: KillReading,
    pub slots: Vec<SlotReading>,
    pub oracle: Option<OracleTelemetry>,
    pub sonar: Option<SonarTelemetry>,
    pub sentinel: Option<SentinelTelemetry>,
    pub execution: Option<ExecutionTelemetry>,
    pub feed: Option<FeedTelemetry>,
    pub histograms: Vec<StageHist>,
}

pub trait EngineView: Send + Sync + 'static {
    /// The engine's name (for display and errors).
    fn engine_name(&self) -> &str;
    /// Read everything the cockpit shows; histograms (large, slow to decode) only when asked.
    fn read(&self, now_ns: u64, with_histograms: bool) -> Result<EngineReading, ViewError>;
    /// Only the actor slots: the kill watcher polls this fast, so it must be cheap.
    fn slots(&self) -> Result<Vec<SlotReading>, ViewError>;
    /// Latch the kill switch; Ok(true) if this call set it, Ok(false) if it was already set.
    fn kill(&self, by: &str, reason: &str) -> Result<bool, ViewError>;
    /// Clear the kill switch; Ok(true) if it was set.
    fn rearm(&self, by: &str) -> Result<bool, ViewError>;
    /// Tell the supervisor this process is alive (the UI actor's own heartbeat; also marks
    /// its slot RUNNING the first time).
    fn heartbeat(&self, now_ns: u64);
    /// Whether the supervisor asked the UI actor to stop.
    fn stop_requested(&self) -> bool;
    /// Record that the UI actor left its loop after a stop request.
    fn mark_stopped(&self);
}
