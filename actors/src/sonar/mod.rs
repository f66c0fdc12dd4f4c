//! Sonar: market regime (Attack/Veto from entropy, with hysteresis) and the
//! zero-trust data gate.
//!
//! **Entropy.** Sonar keeps the last `window` symbols of a binary stream and
//! computes the normalised Shannon entropy `H ∈ [0, 1]` of their frequencies
//! (order 0: how mixed the symbols are, not their order). Two sources
//! ([`EntropySource`]):
//! - `MidMoves`: the sign of every *change* of the touch mid-price (unchanged
//!   mids are skipped; a move is up or down). A one-way market gives H → 0.
//! - `TradeSigns`: the aggressor side of every print (buy or sell). One-sided
//!   aggression gives H → 0.
//!
//! Low entropy means order flow is predictable: **Attack** (quoting allowed);
//! high entropy means noise: **Veto**. Hysteresis: Veto → Attack only when
//! `H < attack_below`, Attack → Veto only when `H > veto_above`
//! (`attack_below < veto_above`), and each regime is held at least
//! `min_dwell_ns`, so entropy hovering around one threshold cannot flap the regime.
//! Until `min_samples` symbols were seen the regime stays Veto.
//!
//! **Gate.** Open only while every check holds; the first failing check (lowest
//! code, [`gate_check`]) is reported.

pub mod entropy;

use entropy::RollingEntropy;
use runtime::msg::{md_flags, md_kind, side, MdEvent};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Gate check codes (`runtime::telemetry::gate_check`, shared with the
/// control block and the cockpit): 0 none, 1 feed_gap, 2 stale_data,
/// 3 crossed_book, 4 spread_too_wide, 5 timestamp_insane, 6 ring_overrun,
/// 7 feed_disconnected, 8 corrupt_data.
pub use runtime::telemetry::gate_check;
pub use runtime::telemetry::gate_check_name;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum EntropySource {
    #[default]
    MidMoves,
    TradeSigns,
}

/// Market regime. Codes as `runtime::telemetry::REGIME_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
#[repr(u32)]
pub enum Regime {
    Attack = runtime::telemetry::REGIME_ATTACK,
    #[default]
    Veto = runtime::telemetry::REGIME_VETO,
}

impl Regime {
    /// The control block / telemetry code.
    pub fn code(self) -> u32 {
        self as u32
    }

    /// From a control-block code; unknown codes read as Veto (fail closed).
    pub fn from_code(code: u32) -> Self {
        if code == runtime::telemetry::REGIME_ATTACK {
            Regime::Attack
        } else {
            Regime::Veto
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SonarConfig {
    pub source: EntropySource,
    /// Symbols in the rolling window.
    pub window: usize,
    /// Symbols needed before the regime may leave Veto.
    pub min_samples: usize,
    /// Enter Attack when entropy falls below this.
    pub attack_below: f64,
    /// Return to Veto when entropy rises above this.
    pub veto_above: f64,
    /// Least time a regime is held before it may change.
    pub min_dwell_ns: u64,
    /// Data is stale when the last event was received longer ago than this.
    pub stale_after_ns: u64,
    /// Tick size of the instrument (for the spread check in ticks).
    pub tick_size_e8: i64,
    /// Widest acceptable spread in ticks (0 = no check).
    pub max_spread_ticks: u32,
    /// Widest acceptable spread in basis points of the mid (0 = no check).
    pub max_spread_bp: f64,
    /// Largest acceptable exchange → receive delay (needs a wall-clock offset).
    pub max_exchange_lag_ns: u64,
    /// Largest acceptable amount by which exchange time may lead receive time.
    pub max_exchange_lead_ns: u64,
    /// Largest acceptable backward step of exchange time between events.
    pub max_exchange_backstep_ns: u64,
    /// Clean book events needed after a ring overrun before the gate reopens.
    pub overrun_recovery_books: u32,
}

impl Default for SonarConfig {
    fn default() -> Self {
        Self {
            source: EntropySource::MidMoves,
            window: 64,
            min_samples: 32,
            attack_below: 0.75,
            veto_above: 0.9,
            min_dwell_ns: 500_000_000,
            stale_after_ns: 2_000_000_000,
            tick_size_e8: 5_000_000, // ₹0.05
            max_spread_ticks: 10,
            max_spread_bp: 0.0,
            max_exchange_lag_ns: 1_000_000_000,
            max_exchange_lead_ns: 100_000_000,
            max_exchange_backstep_ns: 1_000_000,
            overrun_recovery_books: 1,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SonarConfigError {
    #[error("sonar.window = {0}: must be 1 ..= 65536 symbols")]
    Window(usize),
    #[error(
        "sonar.min_samples = {0} exceeds sonar.window = {1}: the regime could never leave Veto"
    )]
    MinSamples(usize, usize),
    #[error("sonar thresholds attack_below = {0}, veto_above = {1}: need 0 ≤ attack_below < veto_above ≤ 1 for hysteresis")]
    Thresholds(f64, f64),
    #[error("sonar.tick_size_e8 = {0}: must be > 0 when max_spread_ticks is set")]
    TickSize(i64),
    #[error("sonar.max_spread_bp = {0}: must be finite and ≥ 0")]
    SpreadBp(f64),
}

impl SonarConfig {
    pub fn validate(&self) -> Result<(), SonarConfigError> {
        if self.window == 0 || self.window > 65536 {
            return Err(SonarConfigError::Window(self.window));
        }
        if self.min_samples > self.window {
            return Err(SonarConfigError::MinSamples(self.min_samples, self.window));
        }
        let (a, v) = (self.attack_below, self.veto_above);
        if !(a >= 0.0 && a < v && v <= 1.0) {
            return Err(SonarConfigError::Thresholds(a, v));
        }
        if self.max_spread_ticks > 0 && self.tick_size_e8 <= 0 {
            return Err(SonarConfigError::TickSize(self.tick_size_e8));
        }
        if !(self.max_spread_bp.is_finite() && self.max_spread_bp >= 0.0) {
            return Err(SonarConfigError::SpreadBp(self.max_spread_bp));
        }
        Ok(())
    }
}

/// What Sonar says after each input; `changed` is true when regime or gate
/// changed (the wrapper then publishes them to the control block).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SonarOutput {
    pub regime: Regime,
    /// First failing [`gate_check`] code (0 = gate open).
    pub gate_check: u32,
    /// Every failing check, bit [`gate_check::bit`]`(code)`.
    pub failing_mask: u32,
    /// Entropy of the window (0 … 1), `None` before `min_samples` symbols.
    pub entropy: Option<f64>,
    pub changed: bool,
}

impl SonarOutput {
    pub fn gate_open(&self) -> bool {
        self.gate_check == gate_check::NONE
    }
}

/// The Sonar state machine.
#[derive(Clone, Debug)]
pub struct Sonar {
    cfg: SonarConfig,
    window: RollingEntropy,
    regime: Regime,
    regime_since_ns: Option<u64>,
    attack_ns_closed: u64,
    first_event_ns: Option<u64>,
    last_mid_x2: Option<i64>,
    // gate state
    gap: bool,
    disconnected: bool,
    stale_flag: bool,
    crossed: bool,
    spread_bad: bool,
    ts_insane: bool,
    corrupt: bool,
    overrun_books_left: u32,
    last_recv_ns: Option<u64>,
    /// Newest receive time that was not in the future when it came (0 = none): receive times
    /// must not run back behind it, whatever the clock did meanwhile.
    newest_recv_ns: u64,
    last_exchange_ns: u64,
    last_seq: u64,
    wall_offset_ns: Option<i64>,
    last_output: (Regime, u32),
    last_md_seq: u64,
    /// Messages lost on the ring, as reported or inferred from sequence jumps.
    pub lost_messages: u64,
    /// Regime changes so far.
    pub regime_changes: u64,
    /// Counters for telemetry.
    pub counters: SonarCounters,
}

/// Event counts since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SonarCounters {
    pub events: u64,
    pub gaps: u64,
    pub overruns: u64,
    pub corrupt: u64,
    pub crossed: u64,
    /// Transitions into stale (by time or by the feed's flag).
    pub stale: u64,
}

impl Sonar {
    pub fn new(cfg: SonarConfig) -> Result<Self, SonarConfigError> {
        cfg.validate()?;
        Ok(Self {
            window: RollingEntropy::new(cfg.window),
            cfg,
            regime: Regime::Veto,
            regime_since_ns: None,
            attack_ns_closed: 0,
            first_event_ns: None,
            last_mid_x2: None,
            gap: false,
            disconnected: false,
            stale_flag: false,
            crossed: false,
            spread_bad: false,
            ts_insane: false,
            corrupt: false,
            overrun_books_left: 0,
            last_recv_ns: None,
            newest_recv_ns: 0,
            last_exchange_ns: 0,
            last_seq: 0,
            wall_offset_ns: None,
            last_output: (Regime::Veto, gate_check::STALE_DATA),
            last_md_seq: 0,
            lost_messages: 0,
            regime_changes: 0,
            counters: SonarCounters::default(),
        })
    }

    pub fn config(&self) -> &SonarConfig {
        &self.cfg
    }

    /// `wall-clock ns − monotonic ns`, so exchange time (Unix epoch) can be
    /// compared with receive time (monotonic). The live wrapper measures it at
    /// start; the backtest passes its simulated offset. Without it the
    /// exchange-lag check is skipped (the other timestamp checks still run).
    pub fn set_wall_clock_offset(&mut self, offset_ns: i64) {
        self.wall_offset_ns = Some(offset_ns);
    }

    pub fn regime(&self) -> Regime {
        self.regime
    }

    pub fn entropy(&self) -> Option<f64> {
        (self.window.len() >= self.cfg.min_samples.max(1)).then(|| self.window.entropy())
    }

    /// Symbols in the window.
    pub fn samples(&self) -> usize {
        self.window.len()
    }

    /// The first failing gate check at `now_ns` (0 = open).
    pub fn gate_check(&self, now_ns: u64) -> u32 {
        let mask = self.failing_mask(now_ns);
        if mask == 0 {
            gate_check::NONE
        } else {
            mask.trailing_zeros()
        }
    }

    /// Every failing check at `now_ns`, bit `gate_check::bit(code)`.
    pub fn failing_mask(&self, now_ns: u64) -> u32 {
        let fresh = match self.last_recv_ns {
            Some(t) => now_ns.saturating_sub(t) <= self.cfg.stale_after_ns,
            None => false,
        };
        let mut m = 0;
        let mut set = |cond: bool, code: u32| {
            if cond {
                m |= gate_check::bit(code);
            }
        };
        set(self.gap, gate_check::FEED_GAP);
        set(!fresh || self.stale_flag, gate_check::STALE_DATA);
        set(self.crossed, gate_check::CROSSED_BOOK);
        set(self.spread_bad, gate_check::SPREAD_TOO_WIDE);
        set(self.ts_insane, gate_check::TIMESTAMP_INSANE);
        set(self.overrun_books_left > 0, gate_check::RING_OVERRUN);
        set(self.disconnected, gate_check::FEED_DISCONNECTED);
        set(self.corrupt, gate_check::CORRUPT_DATA);
        m
    }

    /// Snapshot for the control block's Sonar telemetry.
    pub fn telemetry(&self, now_ns: u64) -> runtime::telemetry::SonarTelemetry {
        let mask = self.failing_mask(now_ns);
        runtime::telemetry::SonarTelemetry {
            updated_ns: now_ns,
            md_seq: self.last_md_seq,
            entropy: self.entropy().unwrap_or(0.0),
            regime: self.regime.code(),
            gate_open: (mask == 0) as u32,
            failing_check: self.gate_check(now_ns),
            failing_mask: mask,
            regime_changes: self.regime_changes,
            events: self.counters.events,
            gaps: self.counters.gaps,
            overruns: self.counters.overruns,
            overrun_lost: self.lost_messages,
            corrupt: self.counters.corrupt,
            crossed: self.counters.crossed,
            stale: self.counters.stale,
        }
    }

    /// The live wrapper lost `lost` messages on the broadcast ring.
    pub fn on_overrun(&mut self, lost: u64, now_ns: u64) -> SonarOutput {
        self.lost_messages += lost;
        self.counters.overruns += 1;
        self.overrun_books_left = self.cfg.overrun_recovery_books.max(1);
        self.output(now_ns)
    }

    /// Time passes: staleness and dwell-time transitions.
    pub fn on_tick(&mut self, now_ns: u64) -> SonarOutput {
        self.update_regime(now_ns);
        self.output(now_ns)
    }

    /// One market-data event.
    pub fn on_md(&mut self, ev: &MdEvent, now_ns: u64) -> SonarOutput {
        // Ring sequence: dense from 1; a jump means this consumer lost events
        // even if the wrapper did not report it.
        self.counters.events += 1;
        self.first_event_ns.get_or_insert(now_ns);
        self.last_md_seq = ev.seq;
        if self.last_seq != 0 && ev.seq > self.last_seq + 1 {
            let lost = ev.seq - self.last_seq - 1;
            self.lost_messages += lost;
            self.counters.overruns += 1;
            self.overrun_books_left = self.cfg.overrun_recovery_books.max(1);
        }
        if ev.seq > self.last_seq {
            self.last_seq = ev.seq;
        }
        self.check_timestamps(ev, now_ns);
        let flags = ev.flags;
        self.corrupt = flags & md_flags::CORRUPT != 0;
        self.stale_flag = flags & md_flags::STALE != 0;
        self.counters.corrupt += self.corrupt as u64;
        if flags & md_flags::GAP != 0 {
            self.gap = true;
            self.counters.gaps += 1;
        }
        if flags & md_flags::DISCONNECTED != 0 {
            self.disconnected = true;
        }
        match ev.kind {
            md_kind::STATUS => {
                // The feed lost its book; only a resync book clears this.
                if flags & md_flags::DISCONNECTED == 0 {
                    self.gap = true;
                }
            }
            md_kind::BOOK => {
                if flags & md_flags::RESYNC != 0 {
                    self.gap = false;
                    self.disconnected = flags & md_flags::DISCONNECTED != 0;
                }
                if !self.corrupt {
                    self.check_book(ev);
                    if self.overrun_books_left > 0 {
                        self.overrun_books_left -= 1;
                    }
                }
            }
            md_kind::TRADE => {
                if self.cfg.source == EntropySource::TradeSigns && !self.corrupt {
                    match ev.trade.aggressor_side {
                        side::BUY => self.window.push(true),
                        side::SELL => self.window.push(false),
                        _ => {}
                    }
                }
            }
            _ => self.corrupt = true,
        }
        self.update_regime(now_ns);
        self.output(now_ns)
    }

    fn check_timestamps(&mut self, ev: &MdEvent, now_ns: u64) {
        let recv = if ev.stamps.recv_ns != 0 {
            ev.stamps.recv_ns
        } else {
            now_ns
        };
        let mut insane = recv > now_ns || recv < self.newest_recv_ns;
        if recv <= now_ns {
            self.newest_recv_ns = self.newest_recv_ns.max(recv);
        }
        let ex = ev.stamps.exchange_ns;
        if ex != 0 {
            if self.last_exchange_ns != 0 {
                insane |=
                    ex.saturating_add(self.cfg.max_exchange_backstep_ns) < self.last_exchange_ns;
            }
            if let Some(off) = self.wall_offset_ns {
                let recv_wall = recv as i128 + off as i128;
                let lag = recv_wall - ex as i128;
                insane |= lag > self.cfg.max_exchange_lag_ns as i128
                    || -lag > self.cfg.max_exchange_lead_ns as i128;
            }
            self.last_exchange_ns = self.last_exchange_ns.max(ex);
        }
        self.ts_insane = insane;
        // Freshness follows the newest receive time, never moves backwards.
        self.last_recv_ns = Some(self.last_recv_ns.map_or(recv, |l| l.max(recv)).min(now_ns));
    }

    fn check_book(&mut self, ev: &MdEvent) {
        let b = &ev.book;
        if b.bid_levels == 0 || b.ask_levels == 0 {
            self.crossed = false;
            self.spread_bad = true;
            return;
        }
        let (bid, ask) = (b.bids[0].price_e8, b.asks[0].price_e8);
        self.crossed = ev.flags & md_flags::CROSSED != 0 || bid >= ask;
        if self.crossed {
            self.counters.crossed += 1;
            self.spread_bad = false;
            return;
        }
        let spread = ask - bid;
        let mut wide = false;
        if self.cfg.max_spread_ticks > 0 {
            wide |= spread > self.cfg.max_spread_ticks as i64 * self.cfg.tick_size_e8;
        }
        if self.cfg.max_spread_bp > 0.0 {
            let mid = (bid as f64 + ask as f64) / 2.0;
            wide |= mid <= 0.0 || spread as f64 / mid * 1e4 > self.cfg.max_spread_bp;
        }
        self.spread_bad = wide;
        if self.cfg.source == EntropySource::MidMoves {
            let mid_x2 = bid + ask;
            if let Some(prev) = self.last_mid_x2 {
                if mid_x2 != prev {
                    self.window.push(mid_x2 > prev);
                }
            }
            self.last_mid_x2 = Some(mid_x2);
        }
    }

    fn update_regime(&mut self, now_ns: u64) {
        let Some(h) = self.entropy() else { return };
        let dwell_ok = self
            .regime_since_ns
            .is_none_or(|since| now_ns.saturating_sub(since) >= self.cfg.min_dwell_ns);
        let next = match self.regime {
            Regime::Veto if h < self.cfg.attack_below && dwell_ok => Regime::Attack,
            Regime::Attack if h > self.cfg.veto_above && dwell_ok => Regime::Veto,
            r => r,
        };
        if self.regime_since_ns.is_none() {
            // Dwell counts from the first time the regime was evaluated.
            self.regime_since_ns = Some(now_ns);
        }
        if next != self.regime {
            if self.regime == Regime::Attack {
                let since = self.regime_since_ns.unwrap_or(now_ns);
                self.attack_ns_closed += now_ns.saturating_sub(since);
            }
            self.regime = next;
            self.regime_since_ns = Some(now_ns);
            self.regime_changes += 1;
        }
    }

    /// Time spent in Attack up to `now_ns` (for the backtest's `attack_pct`:
    /// divide by the time since the first event, [`Sonar::first_event_ns`]).
    pub fn attack_ns(&self, now_ns: u64) -> u64 {
        let open = match (self.regime, self.regime_since_ns) {
            (Regime::Attack, Some(since)) => now_ns.saturating_sub(since),
            _ => 0,
        };
        self.attack_ns_closed + open
    }

    /// When the first market-data event was handled (`None` before any).
    pub fn first_event_ns(&self) -> Option<u64> {
        self.first_event_ns
    }

    fn output(&mut self, now_ns: u64) -> SonarOutput {
        let mask = self.failing_mask(now_ns);
        let gate = if mask == 0 {
            gate_check::NONE
        } else {
            mask.trailing_zeros()
        };
        if gate == gate_check::STALE_DATA && self.last_output.1 != gate_check::STALE_DATA {
            self.counters.stale += 1;
        }
        let changed = (self.regime, gate) != self.last_output;
        self.last_output = (self.regime, gate);
        SonarOutput {
            regime: self.regime,
            gate_check: gate,
            failing_mask: mask,
            entropy: self.entropy(),
            changed,
        }
    }
}
