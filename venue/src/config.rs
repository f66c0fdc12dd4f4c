//! Venue configuration: `config/venue.ron` and the instrument master `config/instruments.ron`.
//!
//! Parsed raw first (`*File` types mirror the RON text, prices as decimal strings so
//! that 0.05 stays exact), then validated into checked types the engine uses. Every
//! error names the field and the likely remedy.

use crate::fixed::{parse_e8_str, DecimalError};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a configuration file could not be used.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: RON syntax or shape error: {message}")]
    Parse { path: String, message: String },
    #[error("{field}: {value:?} is not a decimal number ({source})")]
    Decimal {
        field: String,
        value: String,
        source: DecimalError,
    },
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
}

fn invalid(field: impl Into<String>, problem: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.into(),
        problem: problem.into(),
    }
}

fn dec(field: &str, value: &str) -> Result<i64, ConfigError> {
    parse_e8_str(value).map_err(|source| ConfigError::Decimal {
        field: field.to_string(),
        value: value.to_string(),
        source,
    })
}

// ---------------------------------------------------------------------------
// Instrument master
// ---------------------------------------------------------------------------

/// Market segment of an instrument (decides tick tables, bands and costs elsewhere).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Segment {
    EquityIntraday,
    EquityDelivery,
    Futures,
    Options,
}

/// One row of a tick table as written in RON: prices below `below` use `tick`.
#[derive(Debug, Clone, Deserialize)]
pub struct TickRowFile {
    /// Upper bound (exclusive) of the price range; `None` for the last row.
    pub below: Option<String>,
    pub tick: String,
}

/// Price band as written in RON.
#[derive(Debug, Clone, Deserialize)]
pub enum BandFile {
    /// No limit-price protection.
    NoBand,
    /// ± percent of the reference price (futures: 3).
    Percent(String),
    /// Options premium rule: reference ≤ `abs_below` → ± `abs`, above → ± `percent` %.
    OptionsPremium {
        abs_below: String,
        abs: String,
        percent: String,
    },
}

/// One instrument as written in RON.
#[derive(Debug, Clone, Deserialize)]
pub struct InstrumentFile {
    pub id: u32,
    pub symbol: String,
    pub segment: Segment,
    /// Tick by reference price (NSE decides the tick from the price band of the
    /// stock, not from each order's price).
    pub ticks: Vec<TickRowFile>,
    pub lot_size: String,
    pub band: BandFile,
    pub reference_price: String,
}

/// The instrument master file.
#[derive(Debug, Clone, Deserialize)]
pub struct InstrumentsFile {
    /// Date the tick and band rules took effect (rules change; keep the date with them).
    pub effective_date: String,
    pub instruments: Vec<InstrumentFile>,
}

/// Checked price band.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriceBand {
    None,
    /// Half-width in basis points of the reference price (3 % = 300 bp).
    PercentBp(i64),
    OptionsPremium {
        abs_below_e8: i64,
        abs_e8: i64,
        percent_bp: i64,
    },
}

impl PriceBand {
    /// Inclusive [low, high] limit prices allowed around `reference_e8`.
    pub fn limits(&self, reference_e8: i64) -> (i64, i64) {
        let half = match *self {
            PriceBand::None => return (i64::MIN, i64::MAX),
            PriceBand::PercentBp(bp) => mul_bp(reference_e8, bp),
            PriceBand::OptionsPremium {
                abs_below_e8,
                abs_e8,
                percent_bp,
            } => {
                if reference_e8 <= abs_below_e8 {
                    abs_e8
                } else {
                    mul_bp(reference_e8, percent_bp)
                }
            }
        };
        (
            reference_e8.saturating_sub(half).max(0),
            reference_e8.saturating_add(half),
        )
    }
}

fn mul_bp(v: i64, bp: i64) -> i64 {
    ((v as i128 * bp as i128) / 10_000) as i64
}

/// A checked instrument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instrument {
    pub id: u32,
    pub symbol: String,
    pub segment: Segment,
    /// (upper bound exclusive, tick), ascending; last bound is `i64::MAX`.
    pub ticks_e8: Vec<(i64, i64)>,
    pub lot_size_e8: i64,
    pub band: PriceBand,
    pub reference_price_e8: i64,
}

impl Instrument {
    /// Tick size that applies at the reference price.
    pub fn tick_e8(&self) -> i64 {
        self.tick_at(self.reference_price_e8)
    }

    /// Tick of the table row that contains `price_e8`.
    pub fn tick_at(&self, price_e8: i64) -> i64 {
        for &(below, tick) in &self.ticks_e8 {
            if price_e8 < below {
                return tick;
            }
        }
        self.ticks_e8.last().map(|r| r.1).unwrap_or(1)
    }
}

/// Percent text ("3", "0.5") to basis points.
fn percent_to_bp(field: &str, v: &str) -> Result<i64, ConfigError> {
    let e8 = dec(field, v)?;
    // percent × 100 = bp; e8 / 10^6 = bp
    if e8 < 0 || e8 % 1_000_000 != 0 {
        return Err(invalid(
            field,
            "percent must be ≥ 0 with at most two decimals",
        ));
    }
    Ok(e8 / 1_000_000)
}

impl InstrumentFile {
    fn check(&self) -> Result<Instrument, ConfigError> {
        let f = |name: &str| format!("instrument {} ({}).{name}", self.id, self.symbol);
        if self.id == 0 {
            return Err(invalid(f("id"), "0 is reserved; ids start at 1"));
        }
        if self.ticks.is_empty() {
            return Err(invalid(f("ticks"), "at least one row is needed"));
        }
        let mut ticks = Vec::with_capacity(self.ticks.len());
        let mut prev = i64::MIN;
        for (i, row) in self.ticks.iter().enumerate() {
            let tick = dec(&f("ticks.tick"), &row.tick)?;
            if tick <= 0 {
                return Err(invalid(f("ticks.tick"), "tick must be positive"));
            }
            let below = match &row.below {
                Some(b) => dec(&f("ticks.below"), b)?,
                None if i + 1 == self.ticks.len() => i64::MAX,
                None => {
                    return Err(invalid(
                        f("ticks"),
                        "only the last row may have below: None",
                    ))
                }
            };
            if below <= prev {
                return Err(invalid(f("ticks"), "rows must ascend by `below`"));
            }
            prev = below;
            ticks.push((below, tick));
        }
        if ticks.last().map(|r| r.0) != Some(i64::MAX) {
            return Err(invalid(
                f("ticks"),
                "the last row must have below: None (covers every price)",
            ));
        }
        let lot_size_e8 = dec(&f("lot_size"), &self.lot_size)?;
        if lot_size_e8 <= 0 {
            return Err(invalid(f("lot_size"), "lot size must be positive"));
        }
        let reference_price_e8 = dec(&f("reference_price"), &self.reference_price)?;
        if reference_price_e8 <= 0 {
            return Err(invalid(f("reference_price"), "must be positive"));
        }
        let band = match &self.band {
            BandFile::NoBand => PriceBand::None,
            BandFile::Percent(p) => PriceBand::PercentBp(percent_to_bp(&f("band"), p)?),
            BandFile::OptionsPremium {
                abs_below,
                abs,
                percent,
            } => PriceBand::OptionsPremium {
                abs_below_e8: dec(&f("band.abs_below"), abs_below)?,
                abs_e8: dec(&f("band.abs"), abs)?,
                percent_bp: percent_to_bp(&f("band.percent"), percent)?,
            },
        };
        let ins = Instrument {
            id: self.id,
            symbol: self.symbol.clone(),
            segment: self.segment,
            ticks_e8: ticks,
            lot_size_e8,
            band,
            reference_price_e8,
        };
        if reference_price_e8 % ins.tick_e8() != 0 {
            return Err(invalid(
                f("reference_price"),
                "reference price is not a multiple of its tick",
            ));
        }
        Ok(ins)
    }
}

/// Parse and check an instrument master from RON text.
pub fn parse_instruments(text: &str, origin: &str) -> Result<Vec<Instrument>, ConfigError> {
    let file: InstrumentsFile = ron::from_str(text).map_err(|e| ConfigError::Parse {
        path: origin.to_string(),
        message: e.to_string(),
    })?;
    if file.instruments.is_empty() {
        return Err(invalid("instruments", "the master lists no instrument"));
    }
    let mut out: Vec<Instrument> = Vec::with_capacity(file.instruments.len());
    for i in &file.instruments {
        let c = i.check()?;
        if out.iter().any(|o| o.id == c.id || o.symbol == c.symbol) {
            return Err(invalid(
                format!("instrument {}", c.id),
                "duplicate id or symbol",
            ));
        }
        out.push(c);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Venue configuration
// ---------------------------------------------------------------------------

/// Broker-style request limits per account (Zerodha Kite: 10/s, 400/min, 5,000/day).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct RateLimits {
    pub per_second: u32,
    pub per_minute: u32,
    pub per_day: u32,
    /// Whether cancellations consume the same budget as new orders and modifications.
    #[serde(default)]
    pub count_cancels: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            per_second: 10,
            per_minute: 400,
            per_day: 5000,
            count_cancels: false,
        }
    }
}

/// Matching rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct MatchingRules {
    /// Modifications allowed per order (Kite: 25).
    pub max_modifications_per_order: u32,
    /// Keep time priority when a modification only lowers the quantity (Eurex rule);
    /// when false every modification moves the order to the back of its level.
    pub keep_priority_on_qty_decrease: bool,
    /// Orders resting per instrument (a limit; the book refuses beyond it).
    pub max_orders_per_instrument: u32,
    /// Price levels per side per instrument.
    pub max_levels_per_side: u32,
}

impl Default for MatchingRules {
    fn default() -> Self {
        MatchingRules {
            max_modifications_per_order: 25,
            keep_priority_on_qty_decrease: true,
            max_orders_per_instrument: 200_000,
            max_levels_per_side: 4_096,
        }
    }
}

/// Latency injection (microseconds in the file, ns at run time).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub struct LatencyFile {
    /// One-way delay applied to requests arriving and to responses leaving.
    pub one_way_us: u64,
    /// Uniform jitter added to each one-way delay, 0..jitter.
    pub jitter_us: u64,
    /// Probability that a delay gets `spike_us` added.
    pub spike_probability: f64,
    pub spike_us: u64,
    /// Delay market data by the same model.
    #[serde(default)]
    pub apply_to_market_data: bool,
}

impl Default for LatencyFile {
    fn default() -> Self {
        LatencyFile {
            one_way_us: 0,
            jitter_us: 0,
            spike_probability: 0.0,
            spike_us: 0,
            apply_to_market_data: false,
        }
    }
}

/// Parameters of the synthetic order flow (see [`crate::synth`]).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct SynthFile {
    /// Mean events per second per instrument (all kinds).
    pub events_per_second: f64,
    /// Levels around the mid where passive orders arrive.
    pub depth_levels: u32,
    /// Passive order size range in lots.
    pub min_lots: u32,
    pub max_lots: u32,
    /// Expected regime duration in events for calm, trending, chaotic.
    pub regime_mean_events: [f64; 3],
    /// Strength with which book imbalance steers aggressive flow in calm/trending (0..1).
    pub imbalance_coupling: f64,
    /// Drift of the trending regime: probability excess of aggressive orders in the trend's direction.
    pub trend_bias: f64,
    /// Book levels per side seeded at start.
    pub initial_levels: u32,
}

impl Default for SynthFile {
    fn default() -> Self {
        SynthFile {
            events_per_second: 2000.0,
            depth_levels: 10,
            min_lots: 1,
            max_lots: 20,
            regime_mean_events: [20_000.0, 10_000.0, 5_000.0],
            imbalance_coupling: 0.6,
            trend_bias: 0.15,
            initial_levels: 10,
        }
    }
}

/// Replay speed.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
pub enum Speed {
    RealTime,
    Multiple(f64),
    AsFastAsPossible,
}

/// Recorded data source.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum ReplaySource {
    /// Contiguous Binance files of one symbol, in order.
    Binance {
        paths: Vec<String>,
        instrument_id: u32,
    },
    /// A LOBSTER message file and its orderbook file.
    Lobster {
        message_path: String,
        orderbook_path: String,
        instrument_id: u32,
    },
    /// The venue's own binary capture.
    Capture { path: String, instrument_id: u32 },
}

/// Replay settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ReplayFile {
    pub source: ReplaySource,
    pub speed: Speed,
    /// Probability that a cancellation at our level happened ahead of our order (level data).
    pub cancel_ahead_probability: f64,
    /// Delay between the venue's event and our feed seeing it.
    pub feed_latency_us: u64,
}

/// What drives the market.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub enum MarketFile {
    Synthetic(SynthFile),
    Replay(ReplayFile),
}

/// Listening addresses (loopback only; port 0 picks a free port, for tests).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ListenFile {
    pub order_entry: String,
    pub market_data: String,
}

/// `config/venue.ron` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VenueFile {
    /// Path of the instrument master, relative to this file.
    pub instruments_path: String,
    pub seed: u64,
    pub listen: ListenFile,
    pub heartbeat_interval_ms: u64,
    /// A session silent for this long is closed.
    pub session_timeout_ms: u64,
    pub max_sessions: u32,
    /// Bytes buffered per connection before market data is dropped (gap) or a session closed.
    pub send_buffer_bytes: u32,
    pub rate_limits: RateLimits,
    pub matching: MatchingRules,
    pub latency: LatencyFile,
    pub market: MarketFile,
}

/// Checked venue configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct VenueConfig {
    pub seed: u64,
    pub order_entry_addr: std::net::SocketAddr,
    pub market_data_addr: std::net::SocketAddr,
    pub heartbeat_interval_ns: u64,
    pub session_timeout_ns: u64,
    pub max_sessions: u32,
    pub send_buffer_bytes: u32,
    pub rate_limits: RateLimits,
    pub matching: MatchingRules,
    pub latency: LatencyConfig,
    pub market: MarketFile,
    pub instruments: Vec<Instrument>,
}

/// Checked latency model, ns.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatencyConfig {
    pub one_way_ns: u64,
    pub jitter_ns: u64,
    pub spike_probability: f64,
    pub spike_ns: u64,
    pub apply_to_market_data: bool,
}

impl Default for LatencyConfig {
    fn default() -> Self {
        LatencyConfig {
            one_way_ns: 0,
            jitter_ns: 0,
            spike_probability: 0.0,
            spike_ns: 0,
            apply_to_market_data: false,
        }
    }
}

fn loopback(field: &str, text: &str) -> Result<std::net::SocketAddr, ConfigError> {
    let addr: std::net::SocketAddr = text
        .parse()
        .map_err(|_| invalid(field, format!("{text:?} is not ip:port")))?;
    if !addr.ip().is_loopback() {
        return Err(invalid(
            field,
            "the venue listens on loopback only (127.0.0.1:port)",
        ));
    }
    Ok(addr)
}

impl VenueFile {
    /// Validate against an already loaded instrument master.
    pub fn check(self, instruments: Vec<Instrument>) -> Result<VenueConfig, ConfigError> {
        let l = &self.latency;
        if !(0.0..=1.0).contains(&l.spike_probability) {
            return Err(invalid("latency.spike_probability", "must be within 0..=1"));
        }
        let r = &self.rate_limits;
        if r.per_second == 0 || r.per_minute == 0 || r.per_day == 0 {
            return Err(invalid("rate_limits", "limits must be positive"));
        }
        if self.heartbeat_interval_ms == 0 || self.session_timeout_ms <= self.heartbeat_interval_ms
        {
            return Err(invalid(
                "session_timeout_ms",
                "heartbeat must be > 0 and the timeout longer than the heartbeat interval",
            ));
        }
        if self.max_sessions == 0 || self.send_buffer_bytes < 65_536 {
            return Err(invalid(
                "max_sessions/send_buffer_bytes",
                "need at least one session and 64 KiB of send buffer",
            ));
        }
        if self.matching.max_orders_per_instrument == 0 || self.matching.max_levels_per_side == 0 {
            return Err(invalid("matching", "book limits must be positive"));
        }
        match &self.market {
            MarketFile::Synthetic(s) => {
                if !s.events_per_second.is_finite()
                    || s.events_per_second <= 0.0
                    || s.depth_levels == 0
                    || s.min_lots == 0
                {
                    return Err(invalid(
                        "market.Synthetic",
                        "events_per_second, depth_levels and min_lots must be positive",
                    ));
                }
                if s.max_lots < s.min_lots
                    || s.regime_mean_events.iter().any(|m| m.is_nan() || *m < 1.0)
                {
                    return Err(invalid(
                        "market.Synthetic",
                        "max_lots ≥ min_lots and regime_mean_events ≥ 1",
                    ));
                }
                if !(0.0..=1.0).contains(&s.imbalance_coupling)
                    || !(0.0..=0.5).contains(&s.trend_bias)
                {
                    return Err(invalid(
                        "market.Synthetic",
                        "imbalance_coupling within 0..=1 and trend_bias within 0..=0.5",
                    ));
                }
            }
            MarketFile::Replay(r) => {
                if !(0.0..=1.0).contains(&r.cancel_ahead_probability) {
                    return Err(invalid(
                        "market.Replay.cancel_ahead_probability",
                        "must be within 0..=1",
                    ));
                }
                if let Speed::Multiple(m) = r.speed {
                    if m.is_nan() || m <= 0.0 {
                        return Err(invalid("market.Replay.speed", "Multiple(x) needs x > 0"));
                    }
                }
            }
        }
        Ok(VenueConfig {
            seed: self.seed,
            order_entry_addr: loopback("listen.order_entry", &self.listen.order_entry)?,
            market_data_addr: loopback("listen.market_data", &self.listen.market_data)?,
            heartbeat_interval_ns: self.heartbeat_interval_ms * 1_000_000,
            session_timeout_ns: self.session_timeout_ms * 1_000_000,
            max_sessions: self.max_sessions,
            send_buffer_bytes: self.send_buffer_bytes,
            rate_limits: self.rate_limits,
            matching: self.matching,
            latency: LatencyConfig {
                one_way_ns: l.one_way_us * 1_000,
                jitter_ns: l.jitter_us * 1_000,
                spike_probability: l.spike_probability,
                spike_ns: l.spike_us * 1_000,
                apply_to_market_data: l.apply_to_market_data,
            },
            market: self.market,
            instruments,
        })
    }
}

/// Parse `venue.ron` text; `instruments` resolves the master path (relative to `base_dir`).
pub fn parse_venue(text: &str, origin: &str, base_dir: &Path) -> Result<VenueConfig, ConfigError> {
    let file: VenueFile = ron::from_str(text).map_err(|e| ConfigError::Parse {
        path: origin.to_string(),
        message: e.to_string(),
    })?;
    let ipath = base_dir.join(&file.instruments_path);
    let itext = std::fs::read_to_string(&ipath).map_err(|source| ConfigError::Read {
        path: ipath.clone(),
        source,
    })?;
    let instruments = parse_instruments(&itext, &ipath.display().to_string())?;
    let mut file = file;
    // Recording paths, like the instrument master, are relative to the config file.
    if let MarketFile::Replay(r) = &mut file.market {
        let rel = |p: &mut String| {
            if Path::new(p.as_str()).is_relative() {
                *p = base_dir.join(p.as_str()).display().to_string();
            }
        };
        match &mut r.source {
            ReplaySource::Binance { paths, .. } => paths.iter_mut().for_each(rel),
            ReplaySource::Lobster {
                message_path,
                orderbook_path,
                ..
            } => {
                rel(message_path);
                rel(orderbook_path);
            }
            ReplaySource::Capture { path, .. } => rel(path),
        }
    }
    file.check(instruments)
}

/// Load `venue.ron` (and the instrument master next to it) from disk.
pub fn load(path: &Path) -> Result<VenueConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    parse_venue(&text, &path.display().to_string(), base)
}

impl VenueConfig {
    /// A configuration for tests and in-process use: the given instruments, synthetic
    /// flow switched off (`events_per_second` tiny is not "off", so callers pick the
    /// market explicitly), ephemeral loopback ports, default rules.
    pub fn for_tests(instruments: Vec<Instrument>, market: MarketFile) -> VenueConfig {
        VenueConfig {
            seed: 7,
            order_entry_addr: "127.0.0.1:0".parse().expect("literal address"),
            market_data_addr: "127.0.0.1:0".parse().expect("literal address"),
            heartbeat_interval_ns: 200_000_000,
            session_timeout_ns: 5_000_000_000,
            max_sessions: 16,
            send_buffer_bytes: 1 << 20,
            rate_limits: RateLimits::default(),
            matching: MatchingRules::default(),
            latency: LatencyConfig::default(),
            market,
            instruments,
        }
    }

    pub fn instrument(&self, id: u32) -> Option<&Instrument> {
        self.instruments.iter().find(|i| i.id == id)
    }
}

/// A cash-equity instrument with NSE's tick table (from 15 Apr 2025) and no band: handy
/// for tests and examples.
pub fn nse_equity(id: u32, symbol: &str, reference_price: &str) -> Result<Instrument, ConfigError> {
    let rows = [
        ("250", "0.01"),
        ("1000", "0.05"),
        ("5000", "0.10"),
        ("10000", "0.50"),
        ("20000", "1.00"),
    ];
    let mut ticks: Vec<TickRowFile> = rows
        .iter()
        .map(|(b, t)| TickRowFile {
            below: Some(b.to_string()),
            tick: t.to_string(),
        })
        .collect();
    ticks.push(TickRowFile {
        below: None,
        tick: "5.00".into(),
    });
    InstrumentFile {
        id,
        symbol: symbol.into(),
        segment: Segment::EquityIntraday,
        ticks,
        lot_size: "1".into(),
        band: BandFile::NoBand,
        reference_price: reference_price.into(),
    }
    .check()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_config_files_parse() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/venue.ron"));
        let cfg = load(path).expect("config/venue.ron must parse");
        assert!(!cfg.instruments.is_empty());
        let nifty = cfg
            .instruments
            .iter()
            .find(|i| i.segment == Segment::Futures)
            .expect("a futures instrument");
        // 3 % band on the reference price: worked out from the file's numbers in the test below.
        assert!(matches!(nifty.band, PriceBand::PercentBp(300)));
    }

    #[test]
    fn band_limits_by_hand() {
        // Futures ±3 % of 25,000.00 → 24,250 .. 25,750.
        let b = PriceBand::PercentBp(300);
        assert_eq!(
            b.limits(25_000 * SCALE_I),
            (24_250 * SCALE_I, 25_750 * SCALE_I)
        );
        // Options: premium 30 ≤ 50 → ±20 → 10 .. 50; premium 100 → ±40 % → 60 .. 140.
        let o = PriceBand::OptionsPremium {
            abs_below_e8: 50 * SCALE_I,
            abs_e8: 20 * SCALE_I,
            percent_bp: 4000,
        };
        assert_eq!(o.limits(30 * SCALE_I), (10 * SCALE_I, 50 * SCALE_I));
        assert_eq!(o.limits(100 * SCALE_I), (60 * SCALE_I, 140 * SCALE_I));
        // Premium 10: ±20 would go negative; the floor is 0.
        assert_eq!(o.limits(10 * SCALE_I), (0, 30 * SCALE_I));
    }

    const SCALE_I: i64 = crate::fixed::SCALE;

    #[test]
    fn nse_tick_table() {
        let i = nse_equity(1, "X", "2850.00").unwrap();
        assert_eq!(i.tick_e8(), 10_000_000); // 1,000-5,000 → 0.10
        assert_eq!(i.tick_at(249 * SCALE_I), 1_000_000);
        assert_eq!(i.tick_at(250 * SCALE_I), 5_000_000);
        assert_eq!(i.tick_at(25_000 * SCALE_I), 500_000_000);
    }

    #[test]
    fn bad_files_give_named_errors() {
        let bad = r#"InstrumentsFile(effective_date: "x", instruments: [
            InstrumentFile(id: 1, symbol: "A", segment: Futures, ticks: [(below: None, tick: "0.1x")],
              lot_size: "75", band: Percent("3"), reference_price: "100")])"#;
        // `InstrumentFile(` struct names are optional in RON; a bad decimal must be named.
        match parse_instruments(bad, "t") {
            Err(ConfigError::Decimal { field, .. }) => assert!(field.contains("ticks.tick")),
            other => panic!("expected a decimal error, got {other:?}"),
        }
        let unsorted = r#"(effective_date: "x", instruments: [
            (id: 1, symbol: "A", segment: Futures, ticks: [(below: Some("10"), tick: "0.1"), (below: Some("5"), tick: "0.1"), (below: None, tick: "1")],
              lot_size: "75", band: Percent("3"), reference_price: "100")])"#;
        assert!(matches!(
            parse_instruments(unsorted, "t"),
            Err(ConfigError::Invalid { .. })
        ));
        assert!(matches!(
            parse_instruments("(", "t"),
            Err(ConfigError::Parse { .. })
        ));
    }
}
