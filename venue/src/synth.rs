//! Seeded synthetic order flow with Markov-switching regimes.
//!
//! Each event picks an instrument and, by its regime, a passive limit order, a
//! cancellation or a marketable order, and sends it through the real matching engine
//! as the market account. The regimes differ in who trades:
//!
//! - **calm**: few aggressive orders; their side leans towards the heavier side of the
//!   book (buyers arrive when bids outweigh asks): book imbalance predicts the next
//!   mid moves;
//! - **trending**: more aggressive orders, the same imbalance coupling plus a drift in
//!   the trend's direction;
//! - **chaotic**: many aggressive orders, buy or sell by a coin, each sized to the
//!   liquidity it hits (a deep side empties as easily as a thin one), so imbalance
//!   carries no information about the next move.
//!
//! Same seed and same engine state → the same events (ChaCha8 stream, integer time).

use crate::config::{Instrument, SynthFile};
use crate::matching::{ExecEvent, MatchingEngine, NewOrder, OrderRef, MARKET_ACCOUNT};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use runtime::msg::{order_type, side, tif};

/// Market regime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Regime {
    Calm = 0,
    Trending = 1,
    Chaotic = 2,
}

/// Levels on each side used for the imbalance the flow reacts to.
pub const IMBALANCE_LEVELS: usize = 3;

/// In the chaotic regime aggressors lean against the imbalance by this much
/// (p_buy = 0.5 − k × imbalance). Even with side-blind flow, a thin side's best price
/// moves first (its few orders are cancelled or swept sooner): that mechanical drift
/// makes imbalance predictive by itself; this lean offsets it, measured by the
/// `imbalance_predicts_moves_except_when_chaotic` test over several seeds.
const CHAOTIC_CONTRARIAN: f64 = 0.5;

#[derive(Debug, Clone)]
struct Inst {
    id: u32,
    tick_e8: i64,
    lot_e8: i64,
    reference_e8: i64,
    band_lo_e8: i64,
    band_hi_e8: i64,
    regime: Regime,
    trend_up: bool,
    last_mid_e8: i64,
}

/// What one step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SynthAction {
    Limit {
        instrument_id: u32,
        side: u8,
        price_e8: i64,
        qty_e8: i64,
    },
    Market {
        instrument_id: u32,
        side: u8,
        qty_e8: i64,
    },
    Cancel {
        instrument_id: u32,
        venue_order_id: u64,
    },
    /// Nothing to cancel.
    Idle { instrument_id: u32 },
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SynthStats {
    pub events: u64,
    pub limits: u64,
    pub markets: u64,
    pub cancels: u64,
    pub regime_switches: u64,
    pub events_by_regime: [u64; 3],
}

/// The synthetic market.
#[derive(Debug, Clone)]
pub struct SynthFlow {
    cfg: SynthFile,
    rng: ChaCha8Rng,
    inst: Vec<Inst>,
    next_event_ns: u64,
    next_clid: u64,
    stats: SynthStats,
    scratch: Vec<(i64, i64, u32)>,
}

impl SynthFlow {
    pub fn new(cfg: &SynthFile, instruments: &[Instrument], seed: u64, start_ns: u64) -> Self {
        let inst = instruments
            .iter()
            .map(|i| {
                let (lo, hi) = i.band.limits(i.reference_price_e8);
                Inst {
                    id: i.id,
                    tick_e8: i.tick_e8(),
                    lot_e8: i.lot_size_e8,
                    reference_e8: i.reference_price_e8,
                    band_lo_e8: lo,
                    band_hi_e8: hi,
                    regime: Regime::Calm,
                    trend_up: true,
                    last_mid_e8: i.reference_price_e8,
                }
            })
            .collect();
        let mut s = SynthFlow {
            cfg: cfg.clone(),
            rng: ChaCha8Rng::seed_from_u64(seed),
            inst,
            next_event_ns: start_ns,
            next_clid: 1,
            stats: SynthStats::default(),
            scratch: Vec::with_capacity(64),
        };
        s.next_event_ns = start_ns + s.interarrival_ns();
        s
    }

    pub fn stats(&self) -> SynthStats {
        self.stats
    }

    pub fn next_event_ns(&self) -> u64 {
        self.next_event_ns
    }

    /// Move the schedule so the next event comes one inter-arrival gap after `now_ns`.
    pub fn rebase(&mut self, now_ns: u64) {
        self.next_event_ns = now_ns + self.interarrival_ns();
    }

    pub fn regime(&self, instrument_id: u32) -> Option<Regime> {
        self.inst
            .iter()
            .find(|i| i.id == instrument_id)
            .map(|i| i.regime)
    }

    fn interarrival_ns(&mut self) -> u64 {
        // Exponential gaps: Poisson arrivals at `events_per_second` in all.
        let u: f64 = self.rng.random_range(f64::MIN_POSITIVE..1.0);
        let dt = -u.ln() / self.cfg.events_per_second * 1e9;
        (dt as u64).max(1)
    }

    /// Put `initial_levels` levels a side around the reference price of every instrument.
    pub fn seed_books(
        &mut self,
        engine: &mut MatchingEngine,
        now_ns: u64,
        out: &mut Vec<ExecEvent>,
    ) {
        for k in 0..self.inst.len() {
            let i = self.inst[k].clone();
            for lvl in 1..=self.cfg.initial_levels as i64 {
                for (sd, px) in [
                    (side::BUY, i.reference_e8 - lvl * i.tick_e8),
                    (side::SELL, i.reference_e8 + lvl * i.tick_e8),
                ] {
                    let lots = self.rng.random_range(self.cfg.min_lots..=self.cfg.max_lots) as i64;
                    let o = self.limit_order(i.id, sd, px, lots * i.lot_e8);
                    engine.new_order(&o, now_ns, out);
                }
            }
        }
    }

    fn limit_order(&mut self, iid: u32, sd: u8, px: i64, qty: i64) -> NewOrder {
        let o = NewOrder {
            account: MARKET_ACCOUNT,
            stp_id: 0,
            client_order_id: self.next_clid,
            instrument_id: iid,
            side: sd,
            order_type: order_type::LIMIT,
            tif: tif::DAY,
            price_e8: px,
            qty_e8: qty,
        };
        self.next_clid += 1;
        o
    }

    /// Book imbalance over the top levels, −1 (all asks) … +1 (all bids).
    pub fn imbalance(
        engine: &MatchingEngine,
        instrument_id: u32,
        scratch: &mut Vec<(i64, i64, u32)>,
    ) -> f64 {
        engine.levels(instrument_id, side::BUY, IMBALANCE_LEVELS, scratch);
        let qb: i64 = scratch.iter().map(|l| l.1).sum();
        engine.levels(instrument_id, side::SELL, IMBALANCE_LEVELS, scratch);
        let qa: i64 = scratch.iter().map(|l| l.1).sum();
        if qb + qa == 0 {
            0.0
        } else {
            (qb - qa) as f64 / (qb + qa) as f64
        }
    }

    /// Perform the event due at [`Self::next_event_ns`] and schedule the next one.
    pub fn step(&mut self, engine: &mut MatchingEngine, out: &mut Vec<ExecEvent>) -> SynthAction {
        let now_ns = self.next_event_ns;
        self.next_event_ns = now_ns + self.interarrival_ns();
        self.stats.events += 1;
        let k = self.rng.random_range(0..self.inst.len());
        // Regime switching: leave the current regime with probability 1/mean duration.
        let r = self.inst[k].regime;
        let mean = self.cfg.regime_mean_events[r as usize];
        if self.rng.random_range(0.0..1.0) < 1.0 / mean {
            let others = match r {
                Regime::Calm => [Regime::Trending, Regime::Chaotic],
                Regime::Trending => [Regime::Calm, Regime::Chaotic],
                Regime::Chaotic => [Regime::Calm, Regime::Trending],
            };
            let nr = others[self.rng.random_range(0..2)];
            self.inst[k].regime = nr;
            // A new trend heads back towards the reference price when far from it.
            let dev = self.inst[k].last_mid_e8 - self.inst[k].reference_e8;
            self.inst[k].trend_up = if dev.abs() * 100 > self.inst[k].reference_e8 {
                dev < 0
            } else {
                self.rng.random_range(0..2) == 0
            };
            self.stats.regime_switches += 1;
        }
        let i = self.inst[k].clone();
        self.stats.events_by_regime[i.regime as usize] += 1;
        let (bb, ba) = engine.best(i.id);
        let mid = match (bb, ba) {
            (Some(b), Some(a)) => (b.0 + a.0) / 2,
            (Some(b), None) => b.0,
            (None, Some(a)) => a.0,
            (None, None) => i.last_mid_e8,
        };
        self.inst[k].last_mid_e8 = mid;
        let nb = engine.depth(i.id, side::BUY);
        let na = engine.depth(i.id, side::SELL);
        let thin = (self.cfg.initial_levels as usize / 2).max(1);
        let (p_limit, p_cancel) = match i.regime {
            Regime::Calm => (0.55, 0.30),
            Regime::Trending => (0.50, 0.30),
            Regime::Chaotic => (0.40, 0.30),
        };
        let u: f64 = self.rng.random_range(0.0..1.0);
        if nb < thin || na < thin || u < p_limit {
            // Passive order: refill a thin side first.
            let sd = if nb < thin && na >= thin {
                side::BUY
            } else if na < thin && nb >= thin {
                side::SELL
            } else if self.rng.random_range(0..2) == 0 {
                side::BUY
            } else {
                side::SELL
            };
            let tick = i.tick_e8;
            // Distance from the touch in ticks: geometric, mostly at or near the best.
            let mut d = 0i64;
            while d + 1 < self.cfg.depth_levels as i64 && self.rng.random_range(0.0..1.0) < 0.55 {
                d += 1;
            }
            let px = if sd == side::BUY {
                let touch = bb
                    .map(|b| b.0)
                    .unwrap_or_else(|| round_down(mid - tick, tick));
                // Sometimes improve inside a wide spread.
                match ba {
                    Some(a) if a.0 - touch > tick && self.rng.random_range(0.0..1.0) < 0.3 => {
                        touch + tick
                    }
                    _ => touch - d * tick,
                }
            } else {
                let touch = ba
                    .map(|a| a.0)
                    .unwrap_or_else(|| round_down(mid, tick) + tick);
                match bb {
                    Some(b) if touch - b.0 > tick && self.rng.random_range(0.0..1.0) < 0.3 => {
                        touch - tick
                    }
                    _ => touch + d * tick,
                }
            };
            let px = px.clamp(
                round_up(i.band_lo_e8.max(tick), tick),
                round_down(i.band_hi_e8, tick),
            );
            let lots = self.rng.random_range(self.cfg.min_lots..=self.cfg.max_lots) as i64;
            let qty = lots * i.lot_e8;
            self.stats.limits += 1;
            let o = self.limit_order(i.id, sd, px, qty);
            engine.new_order(&o, now_ns, out);
            return SynthAction::Limit {
                instrument_id: i.id,
                side: sd,
                price_e8: px,
                qty_e8: qty,
            };
        }
        if u < p_limit + p_cancel {
            let sd = if self.rng.random_range(0..2) == 0 {
                side::BUY
            } else {
                side::SELL
            };
            let n = if sd == side::BUY { nb } else { na };
            let depth = self
                .rng
                .random_range(0..n.min(self.cfg.depth_levels as usize).max(1));
            let pick = self.rng.random_range(0..64usize);
            return match engine.pick_order(i.id, sd, depth, MARKET_ACCOUNT, pick) {
                Some(vid) => {
                    self.stats.cancels += 1;
                    engine.cancel(
                        &OrderRef {
                            account: MARKET_ACCOUNT,
                            client_order_id: 0,
                            venue_order_id: vid,
                        },
                        now_ns,
                        out,
                    );
                    SynthAction::Cancel {
                        instrument_id: i.id,
                        venue_order_id: vid,
                    }
                }
                None => SynthAction::Idle {
                    instrument_id: i.id,
                },
            };
        }
        // Aggressive order.
        let imb = Self::imbalance(engine, i.id, &mut self.scratch);
        let c = self.cfg.imbalance_coupling;
        let dir = if i.trend_up { 1.0 } else { -1.0 };
        let p_buy = match i.regime {
            Regime::Calm => 0.5 + c * imb,
            Regime::Trending => 0.5 + c * imb + self.cfg.trend_bias * dir,
            Regime::Chaotic => 0.5 - CHAOTIC_CONTRARIAN * imb,
        }
        .clamp(0.02, 0.98);
        let sd = if self.rng.random_range(0.0..1.0) < p_buy {
            side::BUY
        } else {
            side::SELL
        };
        let lots = if i.regime == Regime::Chaotic {
            // Chaotic aggressors size their orders to the displayed liquidity they hit
            // (0.5 to 2 times the best level): a deep side is swept as easily as a thin
            // one, so depth, hence imbalance, says nothing about the next move.
            let top = if sd == side::BUY { ba } else { bb };
            let top_lots = top
                .map(|l| l.1 / i.lot_e8)
                .unwrap_or(self.cfg.max_lots as i64)
                .max(1);
            let f: f64 = self.rng.random_range(0.5..2.0);
            ((top_lots as f64 * f).round() as i64).max(1)
        } else {
            self.rng.random_range(self.cfg.min_lots..=self.cfg.max_lots) as i64
        };
        let qty = lots * i.lot_e8;
        let o = NewOrder {
            account: MARKET_ACCOUNT,
            stp_id: 0,
            client_order_id: self.next_clid,
            instrument_id: i.id,
            side: sd,
            order_type: order_type::MARKET,
            tif: tif::IOC,
            price_e8: 0,
            qty_e8: qty,
        };
        self.next_clid += 1;
        self.stats.markets += 1;
        engine.new_order(&o, now_ns, out);
        SynthAction::Market {
            instrument_id: i.id,
            side: sd,
            qty_e8: qty,
        }
    }
}

fn round_down(px: i64, tick: i64) -> i64 {
    px.div_euclid(tick) * tick
}

fn round_up(px: i64, tick: i64) -> i64 {
    -((-px).div_euclid(tick) * tick)
}
