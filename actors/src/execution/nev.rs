//! Net Expected Value of a passive order, in rupees.
//!
//! For an order of `q` units at price `p` on side `s` (+1 buy, −1 sell):
//!
//! - fair value `F = microprice + strength · (alpha_ticks · tick + alpha_bp · mid / 10⁴)`:
//!   where the signal says the price is going (strength ∈ −1 … +1);
//! - capture `C = s · (F − p) · q`: what a fill at `p` is worth against `F`;
//! - costs `K`: this side's costs at `p` plus the exit side's at `F`, from the
//!   cost table (STT, exchange, IPFT, SEBI, stamp, GST, brokerage);
//! - adverse selection `A = adverse_selection_bp / 10⁴ · p · q`: a passive fill
//!   is more likely when the market moves through us;
//! - fill probability `P` (per ladder level, learnt: [`FillProbability`]).
//!
//! `NEV = P · (C − K − A) − overhead`. Capture, costs and adverse selection
//! all happen only if the order fills, hence the common factor `P`; `overhead`
//! is the cost every order pays, filled or not (its share of the rate and OTR
//! budgets), so a low fill probability shrinks NEV below zero. The brief's
//! `capture · P − costs − allowance` is the same with costs stated per filled order.
//! An order is placed only when `NEV > min_nev_inr`.

use super::costs::{notional_inr, CostTable, Segment, TradeSide};
use serde::{Deserialize, Serialize};

/// Ladder levels the fill-probability estimate distinguishes.
pub const MAX_LEVELS: usize = 8;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct NevConfig {
    /// Expected move at |strength| = 1, in ticks.
    pub alpha_ticks_at_full_strength: f64,
    /// Expected move at |strength| = 1, in basis points of the mid (adds to ticks).
    pub alpha_bp_at_full_strength: f64,
    /// Prior fill probability at the touch (level 0).
    pub fill_prob_prior: f64,
    /// Prior at ladder level k is `prior · decay^k`.
    pub fill_prob_level_decay: f64,
    /// Weight of each finished order in the learnt fill probability (EWMA).
    pub fill_prob_ewma_alpha: f64,
    pub adverse_selection_bp: f64,
    /// Charged to every order, filled or not (₹).
    pub order_overhead_inr: f64,
    /// Place only when NEV exceeds this (₹).
    pub min_nev_inr: f64,
}

impl Default for NevConfig {
    fn default() -> Self {
        Self {
            alpha_ticks_at_full_strength: 1.0,
            alpha_bp_at_full_strength: 0.0,
            fill_prob_prior: 0.3,
            fill_prob_level_decay: 0.5,
            fill_prob_ewma_alpha: 0.05,
            adverse_selection_bp: 0.5,
            order_overhead_inr: 0.0,
            min_nev_inr: 0.0,
        }
    }
}

impl NevConfig {
    pub fn validate(&self) -> Result<(), String> {
        let p01 = |n: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(format!("execution.nev.{n} = {v}: must be within 0 … 1"))
            }
        };
        p01("fill_prob_prior", self.fill_prob_prior)?;
        p01("fill_prob_level_decay", self.fill_prob_level_decay)?;
        p01("fill_prob_ewma_alpha", self.fill_prob_ewma_alpha)?;
        for (n, v) in [
            (
                "alpha_ticks_at_full_strength",
                self.alpha_ticks_at_full_strength,
            ),
            ("alpha_bp_at_full_strength", self.alpha_bp_at_full_strength),
            ("adverse_selection_bp", self.adverse_selection_bp),
            ("order_overhead_inr", self.order_overhead_inr),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("execution.nev.{n} = {v}: must be finite and ≥ 0"));
            }
        }
        if !self.min_nev_inr.is_finite() {
            return Err("execution.nev.min_nev_inr must be finite".into());
        }
        Ok(())
    }
}

/// Learnt fill probability per ladder level: an EWMA of outcomes (1 = the
/// order filled at least partly, 0 = it ended unfilled), seeded with the prior.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FillProbability {
    p: [f64; MAX_LEVELS],
    alpha: f64,
}

impl FillProbability {
    pub fn new(cfg: &NevConfig) -> Self {
        let mut p = [0.0; MAX_LEVELS];
        for (k, pk) in p.iter_mut().enumerate() {
            *pk = cfg.fill_prob_prior * cfg.fill_prob_level_decay.powi(k as i32);
        }
        Self {
            p,
            alpha: cfg.fill_prob_ewma_alpha,
        }
    }

    pub fn get(&self, level: usize) -> f64 {
        self.p[level.min(MAX_LEVELS - 1)]
    }

    pub fn record(&mut self, level: usize, filled: bool) {
        let p = &mut self.p[level.min(MAX_LEVELS - 1)];
        *p += self.alpha * ((filled as u8 as f64) - *p);
    }
}

/// What the NEV decision saw, for metrics and the journal of decisions.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NevEstimate {
    pub fair_e8: i64,
    pub capture_inr: f64,
    pub costs_inr: f64,
    pub adverse_inr: f64,
    pub fill_prob: f64,
    pub nev_inr: f64,
}

/// Market view the estimate needs.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NevMarket {
    pub microprice_e8: i64,
    pub mid_e8: i64,
    pub strength: f64,
    pub tick_size_e8: i64,
}

/// Fair value implied by the signal.
pub fn fair_value_e8(cfg: &NevConfig, m: &NevMarket) -> i64 {
    let shift = m.strength
        * (cfg.alpha_ticks_at_full_strength * m.tick_size_e8 as f64
            + cfg.alpha_bp_at_full_strength * m.mid_e8 as f64 / 1e4);
    // `as` saturates (and takes NaN to 0); the sum saturates too, at prices near i64::MAX.
    m.microprice_e8.saturating_add(shift.round() as i64)
}

#[allow(clippy::too_many_arguments)]
pub fn estimate(
    cfg: &NevConfig,
    costs: &CostTable,
    segment: Segment,
    side: TradeSide,
    price_e8: i64,
    qty_e8: i64,
    market: &NevMarket,
    fill_prob: f64,
) -> NevEstimate {
    let fair_e8 = fair_value_e8(cfg, market);
    let sign = match side {
        TradeSide::Buy => 1.0,
        TradeSide::Sell => -1.0,
    };
    let capture_inr = sign * notional_inr(fair_e8.saturating_sub(price_e8), qty_e8);
    let exit = match side {
        TradeSide::Buy => TradeSide::Sell,
        TradeSide::Sell => TradeSide::Buy,
    };
    let costs_inr = costs
        .fill_costs_inr(segment, side, price_e8, qty_e8)
        .total()
        + costs.fill_costs_inr(segment, exit, fair_e8, qty_e8).total();
    let adverse_inr = cfg.adverse_selection_bp / 1e4 * notional_inr(price_e8, qty_e8).abs();
    let nev_inr = fill_prob * (capture_inr - costs_inr - adverse_inr) - cfg.order_overhead_inr;
    NevEstimate {
        fair_e8,
        capture_inr,
        costs_inr,
        adverse_inr,
        fill_prob,
        nev_inr,
    }
}
