//! Deterministic backtest: the same Oracle, Sonar, Sentinel and Execution state machines the
//! live wrappers run, driven in one thread by a recorded market (Binance level data or LOBSTER
//! order-by-order data) with a simulated clock, seeded latencies and the venue's queue-position
//! models for our passive orders. No shared memory, no sockets, no wall clock: the same data,
//! configuration and seed give the same [`BacktestReport`], byte for byte.
//!
//! # The simulation
//!
//! Two sides, one simulated clock (ns):
//!
//! - **Exchange side**, at each recorded event's time: the recorded book is updated and our
//!   resting orders move in their queues ([`venue::queue::LevelQueueModel`] on Binance depth
//!   and trades: we join the back of our level, trades at our price eat the queue ahead first,
//!   unexplained level decreases are cancellations, `cancel_ahead_probability` of them ahead of
//!   us; [`venue::queue::FifoQueueModel`] on LOBSTER: the exact FIFO position by order id).
//!   Our requests reach this side after a one-way order latency; its responses (accepted and
//!   open when an order joins its level, fills, cancels) reach Execution after another.
//! - **Strategy side**: each recorded event becomes an `MdEvent` (top of book or trade, with
//!   `exchange_ns` and `recv_ns` stamps, gap/resync/crossed flags) delivered after a feed
//!   latency, and handled exactly as live: Sonar (regime and gate), Sentinel (mark, lockdown),
//!   Execution's gates, `on_md`, Oracle's signal into `on_signal`, `on_tick`; Execution's
//!   reports go to Sentinel. While Execution has orders open a 1 ms timer tick runs, so the
//!   200 ms cancels leave on time in quiet markets too.
//!
//! Latencies come from [`venue::latency::LatencyModel`] (base + uniform jitter + rare
//! spikes), one seeded generator per direction; each direction is FIFO (a message never
//! overtakes an earlier one, as on a TCP connection).
//!
//! A modification is simulated as cancel + new order at the new price (time priority lost, the
//! rule Eurex applies to price changes); a fill of the old order while the replacement travels
//! reduces what the replacement may still fill, so our fills never exceed the order's quantity.
//!
//! # Costs and instruments
//!
//! By default the replayed instrument is costed as **NSE equity intraday** with the cost
//! table in force on the latest date of `config/costs` (prices are taken as rupees:
//! a BTCUSDT price of 60,000 is costed as a ₹60,000 share). [`BacktestConfig::segment`] and
//! [`BacktestConfig::cost_date`] select another segment or table. The strategy file decides
//! the tick size and order quantity (they must match the data: see `config/backtest/`).

mod sim;

use crate::config::StrategyConfig;
use crate::execution::costs::{CostError, CostSchedule, Date, Segment};
use serde::Serialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Recorded data formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataFormat {
    /// Binance websocket recordings (`<local ts> <json>` lines, gzip).
    Binance,
    /// LOBSTER message file (the orderbook file beside it is found by name).
    Lobster,
}

impl DataFormat {
    /// From a file name: `*.csv` → LOBSTER, anything else → Binance.
    pub fn guess(path: &Path) -> DataFormat {
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
        {
            DataFormat::Lobster
        } else {
            DataFormat::Binance
        }
    }

    pub fn parse(text: &str) -> Option<DataFormat> {
        match text.to_ascii_lowercase().as_str() {
            "binance" => Some(DataFormat::Binance),
            "lobster" => Some(DataFormat::Lobster),
            _ => None,
        }
    }
}

/// One direction's latency: base + uniform(0, jitter] + a spike with its probability.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Latency {
    pub one_way_ns: u64,
    pub jitter_ns: u64,
    pub spike_probability: f64,
    pub spike_ns: u64,
}

/// What to run.
#[derive(Clone, Debug, PartialEq)]
pub struct BacktestConfig {
    /// Binance recording (`.gz`) or LOBSTER message file (`…_message_L.csv`).
    pub data: PathBuf,
    pub format: DataFormat,
    /// Strategy file (RON, [`StrategyConfig`]); `None` = the built-in defaults.
    pub strategy: Option<PathBuf>,
    /// Directory the strategy's `costs_dir` is relative to (the repository root).
    pub root: PathBuf,
    pub seed: u64,
    /// Segment the instrument is costed as; `None` = the strategy's (equity intraday by default).
    pub segment: Option<Segment>,
    /// Trading date that picks the cost table; `None` = the newest table.
    pub cost_date: Option<Date>,
    /// Strategy → exchange (and back: the same model, its own generator).
    pub order_latency: Latency,
    /// Exchange event → strategy.
    pub feed_latency: Latency,
    /// Level data: share of unexplained level decreases that were ahead of our order.
    pub cancel_ahead_probability: f64,
}

/// Order latency by default: 1 ms ± 0.5 ms, a 10 ms spike one time in a thousand (a broker
/// near the exchange; retail APIs are 50-80 ms: set it).
pub const DEFAULT_ORDER_LATENCY: Latency = Latency {
    one_way_ns: 1_000_000,
    jitter_ns: 500_000,
    spike_probability: 0.001,
    spike_ns: 10_000_000,
};
/// Feed latency by default: 0.5 ms ± 0.2 ms.
pub const DEFAULT_FEED_LATENCY: Latency = Latency {
    one_way_ns: 500_000,
    jitter_ns: 200_000,
    spike_probability: 0.0,
    spike_ns: 0,
};

impl BacktestConfig {
    /// Defaults for `data`: format from the name, built-in strategy, seed 1, default latencies,
    /// half of unexplained decreases ahead of us, the repository this crate was built from.
    pub fn new(data: impl Into<PathBuf>) -> Self {
        let data = data.into();
        BacktestConfig {
            format: DataFormat::guess(&data),
            data,
            strategy: None,
            root: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/..")),
            seed: 1,
            segment: None,
            cost_date: None,
            order_latency: DEFAULT_ORDER_LATENCY,
            feed_latency: DEFAULT_FEED_LATENCY,
            cancel_ahead_probability: 0.5,
        }
    }
}

/// Costs paid, by component (rupees).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ReportCosts {
    pub stt: f64,
    pub exchange: f64,
    pub ipft: f64,
    pub sebi: f64,
    pub stamp: f64,
    pub gst: f64,
    pub brokerage: f64,
}

impl ReportCosts {
    pub fn total(&self) -> f64 {
        self.stt + self.exchange + self.ipft + self.sebi + self.stamp + self.gst + self.brokerage
    }
}

/// The outcome of a run. Keys serialize in this order; money in rupees, quantities in units.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BacktestReport {
    pub data: String,
    pub format: DataFormat,
    pub seed: u64,
    pub segment: String,
    pub cost_table: String,
    /// Market events handed to the strategy (book updates and trades).
    pub events: u64,
    /// Simulated time from the first to the last recorded event (s).
    pub duration_s: f64,
    /// New orders sent.
    pub orders: u64,
    /// Fill events (a partial fill counts once per piece).
    pub fills: u64,
    /// Orders with at least one fill.
    pub orders_filled: u64,
    pub fill_rate: f64,
    pub cancel_rate: f64,
    pub cancels: u64,
    pub modifies: u64,
    pub rejects: u64,
    pub otr_raw: f64,
    pub otr_penalty: f64,
    pub bought_qty: f64,
    pub sold_qty: f64,
    /// Net position at the end (units): bought − sold.
    pub position: f64,
    /// Cash flows plus the position marked at the last mid, before costs.
    pub pnl_gross: f64,
    pub costs: ReportCosts,
    /// `pnl_gross − costs`.
    pub pnl_net: f64,
    /// Sum of the NEV estimated for each order when it was placed.
    pub nev_expected: f64,
    /// Each fill marked at the mid `nev_horizon_ns` later, after entry and exit costs.
    pub nev_realised: f64,
    /// Share of the run Sonar spent in Attack (%).
    pub attack_pct: f64,
    pub lockdowns: u64,
    /// Orders not placed, by the first gate that refused them.
    pub blocked_regime: u64,
    pub blocked_gate: u64,
    pub blocked_lockdown: u64,
    pub blocked_nev: u64,
    pub blocked_rate: u64,
    pub blocked_otr: u64,
    /// The 200 ms deadline cancels and how late the last-percentile one left (µs).
    pub deadline_cancels: u64,
    pub cancel_lateness_p99_us: f64,
}

impl BacktestReport {
    /// Compact JSON with the keys in declaration order.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a report of numbers and strings serializes")
    }

    /// Pretty JSON (same keys, same order).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report of numbers and strings serializes")
    }

    /// A table for people.
    pub fn to_table(&self) -> String {
        let c = &self.costs;
        let rows: Vec<(&str, String)> = vec![
            ("data", self.data.clone()),
            ("format / seed", format!("{:?} / {}", self.format, self.seed)),
            ("costed as", format!("{} ({})", self.segment, self.cost_table)),
            ("events", self.events.to_string()),
            ("duration", format!("{:.1} s", self.duration_s)),
            ("orders", self.orders.to_string()),
            (
                "fills",
                format!("{} ({} orders filled)", self.fills, self.orders_filled),
            ),
            ("fill rate", format!("{:.1} %", 100.0 * self.fill_rate)),
            ("cancel rate", format!("{:.1} %", 100.0 * self.cancel_rate)),
            (
                "cancels / modifies / rejects",
                format!("{} / {} / {}", self.cancels, self.modifies, self.rejects),
            ),
            (
                "OTR raw / penalty",
                format!("{:.2} / {:.2}", self.otr_raw, self.otr_penalty),
            ),
            (
                "bought / sold / position",
                format!(
                    "{:.4} / {:.4} / {:.4}",
                    self.bought_qty, self.sold_qty, self.position
                ),
            ),
            ("PnL gross", format!("₹{:.2}", self.pnl_gross)),
            (
                "costs",
                format!(
                    "₹{:.2} (STT {:.2}, exchange {:.2}, IPFT {:.4}, SEBI {:.4}, stamp {:.2}, GST {:.2}, brokerage {:.2})",
                    c.total(),
                    c.stt,
                    c.exchange,
                    c.ipft,
                    c.sebi,
                    c.stamp,
                    c.gst,
                    c.brokerage
                ),
            ),
            ("PnL net", format!("₹{:.2}", self.pnl_net)),
            (
                "NEV expected / realised",
                format!("₹{:.2} / ₹{:.2}", self.nev_expected, self.nev_realised),
            ),
            ("attack", format!("{:.1} %", self.attack_pct)),
            ("lockdowns", self.lockdowns.to_string()),
            (
                "blocked: regime/gate/lockdown/nev/rate/otr",
                format!(
                    "{} / {} / {} / {} / {} / {}",
                    self.blocked_regime,
                    self.blocked_gate,
                    self.blocked_lockdown,
                    self.blocked_nev,
                    self.blocked_rate,
                    self.blocked_otr
                ),
            ),
            (
                "deadline cancels (p99 lateness)",
                format!(
                    "{} ({:.0} µs)",
                    self.deadline_cancels, self.cancel_lateness_p99_us
                ),
            ),
        ];
        let w = rows
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        let mut s = String::new();
        for (k, v) in rows {
            s.push_str(&format!("{k:<w$}  {v}\n"));
        }
        s
    }
}

/// Why a backtest could not run.
#[derive(Debug, Error)]
pub enum BacktestError {
    #[error("data file {0} does not exist")]
    NoData(PathBuf),
    #[error("{0}: a LOBSTER message file must be named …_message_<levels>.csv (its orderbook file is found by replacing _message_ with _orderbook_)")]
    LobsterName(PathBuf),
    #[error("strategy: {0}")]
    Strategy(#[from] crate::config::ConfigError),
    #[error("strategy: {0}")]
    Invalid(String),
    #[error("cost table: {0}")]
    Costs(#[from] CostError),
    #[error("Binance replay: {0}")]
    Binance(#[from] venue::replay::binance::ReplayError),
    #[error("LOBSTER replay: {0}")]
    Lobster(#[from] venue::replay::lobster::LobsterError),
    #[error("{0}: no market events (empty or unreadable file)")]
    Empty(PathBuf),
}

/// The orderbook file beside a LOBSTER message file.
pub fn lobster_orderbook_path(message: &Path) -> Result<PathBuf, BacktestError> {
    let name = message
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| BacktestError::LobsterName(message.to_path_buf()))?;
    if !name.contains("_message_") {
        return Err(BacktestError::LobsterName(message.to_path_buf()));
    }
    Ok(message.with_file_name(name.replacen("_message_", "_orderbook_", 1)))
}

/// Run a backtest.
pub fn run(cfg: &BacktestConfig) -> Result<BacktestReport, BacktestError> {
    if !cfg.data.is_file() {
        return Err(BacktestError::NoData(cfg.data.clone()));
    }
    let mut strategy = match &cfg.strategy {
        Some(p) => StrategyConfig::load(p)?,
        None => StrategyConfig::default(),
    };
    if let Some(seg) = cfg.segment {
        strategy.execution.segment = seg;
        strategy.sentinel.segment = seg;
    }
    strategy.validate().map_err(BacktestError::Invalid)?;
    let schedule = CostSchedule::load_dir(&cfg.root.join(&strategy.costs_dir))?;
    let table = match cfg.cost_date {
        Some(d) => schedule.for_date(d)?.clone(),
        None => schedule
            .tables()
            .last()
            .cloned()
            .ok_or_else(|| BacktestError::Invalid("no cost table".into()))?,
    };
    sim::run(cfg, strategy, table)
}
