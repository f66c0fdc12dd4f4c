//! Oracle: order-book imbalance signals.
//!
//! For every book update it computes, over the top `levels` levels:
//! - **WOBI** (weighted order book imbalance)
//!   `Σ wᵢ (bidᵢ − askᵢ) / Σ wᵢ (bidᵢ + askᵢ)`, −1 (all asks) … +1 (all bids), with level
//!   weights `wᵢ` from [`LevelWeights`] (level 0 is the touch);
//! - **liquidity imbalance %**: the same ratio unweighted, × 100;
//! - **microprice**: `(bid·ask_qty + ask·bid_qty) / (bid_qty + ask_qty)` at the touch, the
//!   touch mid leaning toward the side with less liquidity (where the price is likely to go);
//! - **per-level imbalance** `(bidᵢ − askᵢ)/(bidᵢ + askᵢ)` for the cockpit's heatmap;
//! - a signed **strength** in −1 … +1 from WOBI (see [`StrengthMode`]).
//!
//! A [`Signal`] is emitted only when the strength moved by more than
//! `emit_threshold` since the last emitted one, or a best price changed, so the
//! signal ring carries information, not noise. `stamps.recv_ns` (and
//! `exchange_ns`, `intended_ns`) are copied unchanged from the market-data event
//! so tick-to-order latency can be measured end to end.

use runtime::msg::{md_flags, md_kind, BookTop, MdEvent, Signal, BOOK_DEPTH};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// How the levels are weighted in WOBI.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum LevelWeights {
    /// `wᵢ = exp(−λ·i)`: λ = 0 weights every level equally; λ = 0.5 halves roughly
    /// every 1.4 levels.
    ExpDecay { lambda: f64 },
    /// Explicit weights, touch first; missing levels weigh 0.
    Explicit(Vec<f64>),
}

/// How WOBI becomes a signed strength in −1 … +1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum StrengthMode {
    /// `tanh(gain · wobi)`: stateless; with gain 2 a WOBI of 0.5 gives 0.76.
    Tanh { gain: f64 },
    /// Clipped z-score of WOBI against its own exponentially weighted mean and
    /// variance (α = `alpha` per book event, both updated with the current book
    /// first): `clamp((wobi − μ)/σ / clip, −1, 1)`.
    /// Measures imbalance relative to what is usual for this instrument; 0 until
    /// `warmup_events` books were seen.
    ZScore {
        alpha: f64,
        clip: f64,
        warmup_events: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OracleConfig {
    /// Levels per side used (1 ..= BOOK_DEPTH).
    pub levels: usize,
    pub weights: LevelWeights,
    pub strength: StrengthMode,
    /// Emit when |strength − last emitted strength| exceeds this (or best prices change).
    pub emit_threshold: f64,
}

impl Default for OracleConfig {
    fn default() -> Self {
        Self {
            levels: 5,
            weights: LevelWeights::ExpDecay { lambda: 0.5 },
            strength: StrengthMode::Tanh { gain: 2.0 },
            emit_threshold: 0.05,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum OracleConfigError {
    #[error(
        "oracle.levels = {0}: must be between 1 and {BOOK_DEPTH} (the depth a BookTop carries)"
    )]
    Levels(usize),
    #[error("oracle weight {0} is negative or not finite: weights must be finite and ≥ 0")]
    Weight(f64),
    #[error("oracle weights over the first {0} levels sum to 0: at least one must be positive")]
    ZeroWeights(usize),
    #[error("oracle.{0} = {1} is out of range ({2})")]
    Param(&'static str, f64, &'static str),
}

impl OracleConfig {
    /// Check the configuration and resolve the weights into a fixed array.
    pub fn weights_array(&self) -> Result<[f64; BOOK_DEPTH], OracleConfigError> {
        if self.levels == 0 || self.levels > BOOK_DEPTH {
            return Err(OracleConfigError::Levels(self.levels));
        }
        let mut w = [0.0; BOOK_DEPTH];
        for (i, wi) in w.iter_mut().enumerate().take(self.levels) {
            *wi = match &self.weights {
                LevelWeights::ExpDecay { lambda } => {
                    if !lambda.is_finite() || *lambda < 0.0 {
                        return Err(OracleConfigError::Param("weights.lambda", *lambda, "≥ 0"));
                    }
                    (-lambda * i as f64).exp()
                }
                LevelWeights::Explicit(v) => v.get(i).copied().unwrap_or(0.0),
            };
            if !wi.is_finite() || *wi < 0.0 {
                return Err(OracleConfigError::Weight(*wi));
            }
        }
        if w.iter().sum::<f64>() <= 0.0 {
            return Err(OracleConfigError::ZeroWeights(self.levels));
        }
        if !(self.emit_threshold.is_finite() && self.emit_threshold >= 0.0) {
            return Err(OracleConfigError::Param(
                "emit_threshold",
                self.emit_threshold,
                "≥ 0",
            ));
        }
        match self.strength {
            StrengthMode::Tanh { gain } if !(gain.is_finite() && gain > 0.0) => {
                Err(OracleConfigError::Param("strength.gain", gain, "> 0"))
            }
            StrengthMode::ZScore { alpha, .. } if !(alpha > 0.0 && alpha <= 1.0) => Err(
                OracleConfigError::Param("strength.alpha", alpha, "0 < α ≤ 1"),
            ),
            StrengthMode::ZScore { clip, .. } if !(clip.is_finite() && clip > 0.0) => {
                Err(OracleConfigError::Param("strength.clip", clip, "> 0"))
            }
            _ => Ok(w),
        }
    }
}

/// Everything computed from one book.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BookMetrics {
    pub wobi: f64,
    pub imbalance_pct: f64,
    pub microprice_e8: i64,
    pub strength: f64,
    /// `(bidᵢ − askᵢ)/(bidᵢ + askᵢ)` per level (0 where both are empty or beyond `levels`).
    pub level_imbalance: [f64; BOOK_DEPTH],
}

/// Compute WOBI, imbalance %, microprice and per-level imbalance of a book
/// (strength left 0). `None` when either side is empty (no touch to quote).
pub fn book_metrics(
    book: &BookTop,
    levels: usize,
    weights: &[f64; BOOK_DEPTH],
) -> Option<BookMetrics> {
    if book.bid_levels == 0 || book.ask_levels == 0 {
        return None;
    }
    let (bid, ask) = (book.bids[0], book.asks[0]);
    if bid.qty_e8 <= 0 || ask.qty_e8 <= 0 {
        return None;
    }
    let mut m = BookMetrics::default();
    let (mut wnum, mut wden, mut num, mut den) = (0.0, 0.0, 0.0, 0.0);
    let n = levels.min(BOOK_DEPTH);
    for (i, &w) in weights.iter().enumerate().take(n) {
        // Levels beyond what the feed filled are zero; clamp negatives (corrupt) to 0.
        let b = if (i as u32) < book.bid_levels {
            book.bids[i].qty_e8.max(0) as f64
        } else {
            0.0
        };
        let a = if (i as u32) < book.ask_levels {
            book.asks[i].qty_e8.max(0) as f64
        } else {
            0.0
        };
        wnum += w * (b - a);
        wden += w * (b + a);
        num += b - a;
        den += b + a;
        m.level_imbalance[i] = if b + a > 0.0 { (b - a) / (b + a) } else { 0.0 };
    }
    m.wobi = if wden > 0.0 { wnum / wden } else { 0.0 };
    m.imbalance_pct = if den > 0.0 { 100.0 * num / den } else { 0.0 };
    // i128: price_e8 × qty_e8 overflows i64 for ordinary values (₹25,000 × 75 lots).
    let (bq, aq) = (bid.qty_e8 as i128, ask.qty_e8 as i128);
    m.microprice_e8 = ((bid.price_e8 as i128 * aq + ask.price_e8 as i128 * bq) / (bq + aq)) as i64;
    Some(m)
}

/// The Oracle state machine.
#[derive(Clone, Debug)]
pub struct Oracle {
    cfg: OracleConfig,
    weights: [f64; BOOK_DEPTH],
    last: BookMetrics,
    last_emitted_strength: f64,
    last_bid_e8: i64,
    last_ask_e8: i64,
    emitted_any: bool,
    seq: u64,
    // z-score state
    mean: f64,
    var: f64,
    books_seen: u64,
    /// Signals suppressed because the change was below the threshold.
    suppressed: u64,
    events: u64,
    last_md_seq: u64,
    last_bid_ask_e8: (i64, i64),
}

impl Oracle {
    pub fn new(cfg: OracleConfig) -> Result<Self, OracleConfigError> {
        let weights = cfg.weights_array()?;
        Ok(Self {
            cfg,
            weights,
            last: BookMetrics::default(),
            last_emitted_strength: 0.0,
            last_bid_e8: 0,
            last_ask_e8: 0,
            emitted_any: false,
            seq: 0,
            mean: 0.0,
            var: 0.0,
            books_seen: 0,
            suppressed: 0,
            events: 0,
            last_md_seq: 0,
            last_bid_ask_e8: (0, 0),
        })
    }

    pub fn config(&self) -> &OracleConfig {
        &self.cfg
    }

    /// Metrics of the last usable book (for the cockpit: heatmap row, WOBI, microprice).
    pub fn last_metrics(&self) -> &BookMetrics {
        &self.last
    }

    /// Snapshot for the control block's Oracle telemetry (the heatmap column
    /// is `level_imbalance`).
    pub fn telemetry(&self, now_ns: u64) -> runtime::telemetry::OracleTelemetry {
        let m = &self.last;
        runtime::telemetry::OracleTelemetry {
            md_seq: self.last_md_seq,
            updated_ns: now_ns,
            wobi: m.wobi,
            strength: m.strength,
            imbalance_pct: m.imbalance_pct,
            microprice_e8: m.microprice_e8,
            best_bid_e8: self.last_bid_ask_e8.0,
            best_ask_e8: self.last_bid_ask_e8.1,
            level_imbalance: m.level_imbalance,
            events: self.events,
            signals_sent: self.seq,
        }
    }

    /// Signals suppressed by the emit threshold so far.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }

    /// Handle one market-data event; returns the signal to send, if any.
    /// Trades, status events and books flagged corrupt or crossed produce nothing
    /// (Sonar's gate closes on those; a signal from a bad book would be a lie).
    pub fn on_md(&mut self, ev: &MdEvent, now_ns: u64) -> Option<Signal> {
        self.events += 1;
        if ev.kind != md_kind::BOOK || ev.flags & (md_flags::CORRUPT | md_flags::CROSSED) != 0 {
            return None;
        }
        let mut m = book_metrics(&ev.book, self.cfg.levels, &self.weights)?;
        m.strength = self.strength(m.wobi);
        self.last = m;
        let bid = ev.book.bids[0];
        let ask = ev.book.asks[0];
        self.last_md_seq = ev.seq;
        self.last_bid_ask_e8 = (bid.price_e8, ask.price_e8);
        let prices_moved = bid.price_e8 != self.last_bid_e8 || ask.price_e8 != self.last_ask_e8;
        let moved = (m.strength - self.last_emitted_strength).abs() > self.cfg.emit_threshold;
        if self.emitted_any && !prices_moved && !moved {
            self.suppressed += 1;
            return None;
        }
        self.emitted_any = true;
        self.last_emitted_strength = m.strength;
        self.last_bid_e8 = bid.price_e8;
        self.last_ask_e8 = ask.price_e8;
        self.seq += 1;
        let mut stamps = ev.stamps;
        stamps.publish_ns = now_ns;
        Some(Signal {
            seq: self.seq,
            md_seq: ev.seq,
            stamps,
            instrument_id: ev.instrument_id,
            _pad: 0,
            wobi: m.wobi,
            strength: m.strength,
            imbalance_pct: m.imbalance_pct,
            microprice_e8: m.microprice_e8,
            best_bid_e8: bid.price_e8,
            best_ask_e8: ask.price_e8,
            best_bid_qty_e8: bid.qty_e8,
            best_ask_qty_e8: ask.qty_e8,
        })
    }

    fn strength(&mut self, wobi: f64) -> f64 {
        match self.cfg.strength {
            StrengthMode::Tanh { gain } => (gain * wobi).tanh(),
            StrengthMode::ZScore {
                alpha,
                clip,
                warmup_events,
            } => {
                self.books_seen += 1;
                if self.books_seen == 1 {
                    self.mean = wobi;
                    self.var = 0.0;
                } else {
                    // Exponentially weighted mean/variance (West's incremental form).
                    let d = wobi - self.mean;
                    self.mean += alpha * d;
                    self.var = (1.0 - alpha) * (self.var + alpha * d * d);
                }
                if self.books_seen < warmup_events as u64 || self.var <= 1e-12 {
                    return 0.0;
                }
                let z = (wobi - self.mean) / self.var.sqrt();
                (z / clip).clamp(-1.0, 1.0)
            }
        }
    }
}
