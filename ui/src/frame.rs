//! The JSON frames streamed to the cockpit (`/ws`). The TypeScript side is
//! `ui/web/src/protocol.ts`; ui/README.md documents both. Bump [`PROTOCOL_VERSION`] on any change
//! a client could misread.
//!
//! Money and quantities leave the engine as `*_e8` integers and arrive here converted to `f64`
//! in natural units (`*_inr`, `position`): JavaScript numbers hold integers exactly only up to
//! 2^53, which `*_e8` values pass at ₹9 crore.

use serde::{Deserialize, Serialize};

pub const PROTOCOL_VERSION: u32 = 1;

/// `[wall_ms, rtt_last_ns, rtt_p99_ns]`
pub type RttPoint = (u64, Option<u64>, Option<u64>);
/// `[wall_ms, wobi, strength, imbalance_pct]`
pub type SignalPoint = (u64, Option<f64>, Option<f64>, Option<f64>);
/// `[wall_ms, regime, entropy]`
pub type RegimePoint = (u64, Option<String>, Option<f64>);
/// `[wall_ms, pnl_net_inr, position]`
pub type PnlPoint = (u64, Option<f64>, Option<f64>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameType {
    Snapshot,
    Update,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KillInfo {
    pub set: bool,
    pub by: String,
    pub reason: String,
    /// Monotonic ns when the flag was written (0 if unknown).
    pub at_ns: u64,
}

/// The UI actor's own measurement of the last kill it wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KillLatency {
    /// Monotonic ns when the UI actor received the press.
    pub received_ns: u64,
    /// Press received → flag written.
    pub flag_written_after_ns: u64,
    /// Press received → the watcher saw the last hot actor report HALTED (None while waiting).
    pub all_halted_after_ns: Option<u64>,
    /// Press received → the latest time a hot actor recorded seeing the flag (its own clock
    /// reading in its slot), once all have halted; None when no actor recorded one.
    pub last_actor_saw_after_ns: Option<u64>,
    /// Hot actors not HALTED yet.
    pub waiting_for: Vec<String>,
    /// The bounded wait ended before every hot actor halted.
    pub timed_out: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EngineInfo {
    pub name: String,
    /// STARTING, RUNNING, LOCKDOWN, HALTED, STOPPED, or DETACHED (no shared memory to read).
    pub state: String,
    /// Why the engine cannot be seen, or "".
    pub detail: String,
    pub kill: KillInfo,
    pub kill_latency: Option<KillLatency>,
    pub uptime_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActorRow {
    pub index: u32,
    pub name: String,
    pub kind: String,
    pub pid: u32,
    /// Configured core (-1: not pinned).
    pub core: i32,
    /// Core it last ran on, from /proc (-1: unknown).
    pub last_cpu: i32,
    pub state: String,
    pub restarts: u64,
    pub heartbeat_age_ms: f64,
    pub ctx_voluntary: u64,
    pub ctx_nonvoluntary: u64,
    /// CPU over the last ~1 s window, percent of one core.
    pub cpu_pct: f64,
    pub msgs_in: u64,
    pub msgs_out: u64,
    /// Processing latency the actor last published (0: none yet).
    pub latency_p50_ns: u64,
    pub latency_p99_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoreRow {
    pub core: u32,
    pub busy_pct: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentinelInfo {
    pub rtt_last_ns: u64,
    pub rtt_p50_ns: u64,
    pub rtt_p99_ns: u64,
    pub rtt_threshold_ns: u64,
    pub rtt_samples: u64,
    pub lockdown: bool,
    pub lockdown_reason: String,
    pub lockdowns: u64,
    pub outstanding_acks: u64,
    pub oldest_ack_age_ns: u64,
    /// The last emergency Sentinel sent, or "".
    pub emergency: String,
    pub emergencies: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SonarInfo {
    /// ATTACK, VETO or UNKNOWN.
    pub regime: String,
    pub entropy: f64,
    pub gate_open: bool,
    /// First failing zero-trust check, "" when the gate is open.
    pub failing_check: String,
    /// Every failing check.
    pub failing_checks: Vec<String>,
    pub regime_changes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OracleInfo {
    pub wobi: f64,
    pub strength: f64,
    pub imbalance_pct: f64,
    pub microprice: f64,
    pub best_bid: f64,
    pub best_ask: f64,
    /// −1…+1 per level, level 0 = top of book: one heatmap column.
    pub level_imbalance: Vec<f64>,
    pub events: u64,
    pub signals_sent: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockedCounts {
    pub regime: u64,
    pub gate: u64,
    pub lockdown: u64,
    pub kill: u64,
    pub nev: u64,
    pub rate: u64,
    pub otr: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionInfo {
    pub orders_sent: u64,
    pub fills: u64,
    pub cancels: u64,
    pub rejects: u64,
    pub fill_rate_pct: f64,
    pub cancel_rate_pct: f64,
    pub nev_expected_inr: f64,
    pub nev_realised_inr: f64,
    pub pnl_gross_inr: f64,
    pub pnl_net_inr: f64,
    pub costs_inr: f64,
    pub otr_raw: f64,
    /// OTR counting only penalty-relevant orders (exemptions applied).
    pub otr_penalty: f64,
    pub otr_budget: f64,
    /// Exchange penalty per order at the current penalty-relevant OTR (NSE slabs).
    pub penalty_paise_per_order: u32,
    pub open_orders: u64,
    pub position: f64,
    pub tick_to_order_last_ns: u64,
    pub blocked: BlockedCounts,
    /// Signals refused as malformed (a touch off the instrument's tick, or a strength outside
    /// −1 … 1): nonzero means the strategy's tick size disagrees with the venue's.
    pub signals_refused: u64,
    pub intents: IntentCounts,
}

/// Order intents of user strategy actors (`intent.ring`): read, placed as orders, refused for
/// what they asked. Intents stopped by a gate count in `blocked`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntentCounts {
    pub received: u64,
    pub placed: u64,
    pub refused: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeedInfo {
    pub connected: bool,
    pub md_seq: u64,
    pub events: u64,
    pub gaps: u64,
    pub reconnects: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistBucket {
    /// Upper edge (ns, inclusive).
    pub le_ns: u64,
    /// Samples in this bucket (not cumulative).
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistInfo {
    pub stage: String,
    pub label: String,
    pub count: u64,
    pub min_ns: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub p999_ns: u64,
    pub max_ns: u64,
    pub buckets: Vec<HistBucket>,
}

/// The state every frame carries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub server_ns: u64,
    pub wall_ms: u64,
    pub engine: EngineInfo,
    pub actors: Vec<ActorRow>,
    pub cores: Vec<CoreRow>,
    pub sentinel: Option<SentinelInfo>,
    pub sonar: Option<SonarInfo>,
    pub oracle: Option<OracleInfo>,
    pub execution: Option<ExecutionInfo>,
    pub feed: Option<FeedInfo>,
    pub histograms: Vec<HistInfo>,
}

/// History a new client needs to draw its charts at once (oldest first).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// [wall_ms, rtt_last_ns, rtt_p99_ns]
    pub rtt: Vec<RttPoint>,
    /// [wall_ms, regime, entropy]
    pub regime: Vec<RegimePoint>,
    /// One heatmap column per frame (None: no Oracle data).
    pub wobi: Vec<Option<Vec<f64>>>,
    /// [wall_ms, wobi, strength, imbalance_pct]
    pub signal: Vec<SignalPoint>,
    /// [wall_ms, pnl_net_inr, position]
    pub pnl: Vec<PnlPoint>,
}

/// One message on the socket: `{type, version, seq, …state, history?}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    #[serde(rename = "type")]
    pub kind: FrameType,
    pub version: u32,
    pub seq: u64,
    #[serde(flatten)]
    pub state: State,
    /// Snapshots only.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub history: Option<History>,
}

/// Bounded history kept by the server for snapshots (same capacities as the cockpit's rings).
#[derive(Debug)]
pub struct HistoryRings {
    rtt: std::collections::VecDeque<RttPoint>,
    regime: std::collections::VecDeque<RegimePoint>,
    wobi: std::collections::VecDeque<Option<Vec<f64>>>,
    signal: std::collections::VecDeque<SignalPoint>,
    pnl: std::collections::VecDeque<PnlPoint>,
}

/// 60 s at 20 Hz.
pub const HISTORY_POINTS: usize = 1200;
/// 15 s at 20 Hz: one heatmap column per frame.
pub const WOBI_COLUMNS: usize = 300;

impl Default for HistoryRings {
    fn default() -> Self {
        HistoryRings {
            rtt: std::collections::VecDeque::with_capacity(HISTORY_POINTS),
            regime: std::collections::VecDeque::with_capacity(HISTORY_POINTS),
            wobi: std::collections::VecDeque::with_capacity(WOBI_COLUMNS),
            signal: std::collections::VecDeque::with_capacity(HISTORY_POINTS),
            pnl: std::collections::VecDeque::with_capacity(HISTORY_POINTS),
        }
    }
}

fn push_bounded<T>(q: &mut std::collections::VecDeque<T>, cap: usize, v: T) {
    if q.len() == cap {
        q.pop_front();
    }
    q.push_back(v);
}

impl HistoryRings {
    /// Record what one update frame adds to the charts.
    pub fn record(&mut self, s: &State) {
        let t = s.wall_ms;
        let sen = s.sentinel.as_ref();
        push_bounded(
            &mut self.rtt,
            HISTORY_POINTS,
            (t, sen.map(|x| x.rtt_last_ns), sen.map(|x| x.rtt_p99_ns)),
        );
        let so = s.sonar.as_ref();
        push_bounded(
            &mut self.regime,
            HISTORY_POINTS,
            (t, so.map(|x| x.regime.clone()), so.map(|x| x.entropy)),
        );
        let ex = s.execution.as_ref();
        push_bounded(
            &mut self.pnl,
            HISTORY_POINTS,
            (t, ex.map(|x| x.pnl_net_inr), ex.map(|x| x.position)),
        );
        let o = s.oracle.as_ref();
        push_bounded(
            &mut self.wobi,
            WOBI_COLUMNS,
            o.map(|x| x.level_imbalance.clone()),
        );
        push_bounded(
            &mut self.signal,
            HISTORY_POINTS,
            (
                t,
                o.map(|x| x.wobi),
                o.map(|x| x.strength),
                o.map(|x| x.imbalance_pct),
            ),
        );
    }

    pub fn to_history(&self) -> History {
        History {
            rtt: self.rtt.iter().cloned().collect(),
            regime: self.regime.iter().cloned().collect(),
            wobi: self.wobi.iter().cloned().collect(),
            signal: self.signal.iter().cloned().collect(),
            pnl: self.pnl.iter().cloned().collect(),
        }
    }
}

/// NSE order-to-trade penalty per order, in paise, for a penalty-relevant OTR (exchange notice
/// of 2020): < 50 nil; 50–250: 2; 250–500: 10; 500–1000: 15; 1000–2000: 20; ≥ 2000: 25.
pub fn otr_penalty_paise(otr: f64) -> u32 {
    if otr.is_nan() {
        return 0;
    }
    match otr {
        x if x < 50.0 => 0,
        x if x < 250.0 => 2,
        x if x < 500.0 => 10,
        x if x < 1000.0 => 15,
        x if x < 2000.0 => 20,
        _ => 25,
    }
}

/// `*_e8` fixed point → f64 units.
pub fn from_e8(v: i64) -> f64 {
    v as f64 / runtime::msg::PRICE_SCALE as f64
}
