//! Order-to-Trade Ratio: raw and penalty-relevant counts, exemption bands and
//! the exchange penalty slabs.
//!
//! OTR = (new orders + modifications + cancellations) / trades, per day.
//! Orders entered or modified close to the last traded price are exempt from
//! the penalty: cash and futures within ±0.75 % of LTP; options within ±40 %
//! of the premium's LTP or ±₹20, whichever is wider. A cancellation inherits
//! the exemption of the order's last entry or modification: whoever reports a
//! cancel passes the order's price and the LTP at that entry or modification.
//! With no trade yet, the ratio divides by 1 (the count of orders itself).

use super::costs::Segment;
use serde::{Deserialize, Serialize};

/// Exemption bands (exchange rules; configurable because they change).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OtrBands {
    /// Cash and futures: exempt within this many basis points of LTP (75 = 0.75 %).
    pub cash_futures_band_bp: u32,
    /// Options: exempt within this many basis points of the premium's LTP …
    pub options_band_bp: u32,
    /// … or within this absolute distance, whichever is wider (₹20).
    pub options_band_min_e8: i64,
}

impl Default for OtrBands {
    fn default() -> Self {
        Self {
            cash_futures_band_bp: 75,
            options_band_bp: 4_000,
            options_band_min_e8: 20 * runtime::msg::PRICE_SCALE,
        }
    }
}

impl OtrBands {
    /// Whether an order at `price_e8` entered when the last trade was at
    /// `ltp_e8` is exempt from the OTR penalty. Unknown LTP (≤ 0) → not exempt.
    pub fn is_exempt(&self, segment: Segment, price_e8: i64, ltp_e8: i64) -> bool {
        if ltp_e8 <= 0 || price_e8 <= 0 {
            return false;
        }
        // Integer arithmetic so the band edge (exactly 0.75 %) is decided exactly.
        let dist = (price_e8 as i128 - ltp_e8 as i128).abs();
        let pct_ok = |bp: u32| dist * 10_000 <= ltp_e8 as i128 * bp as i128;
        if segment.is_options() {
            pct_ok(self.options_band_bp) || dist <= self.options_band_min_e8 as i128
        } else {
            pct_ok(self.cash_futures_band_bp)
        }
    }
}

/// Penalty per order in paise for a day's OTR (exchange slabs of 2020).
pub fn penalty_paise_per_order(otr: f64) -> u32 {
    match otr {
        x if x < 50.0 => 0,
        x if x < 250.0 => 2,
        x if x < 500.0 => 10,
        x if x < 1_000.0 => 15,
        x if x < 2_000.0 => 20,
        _ => 25,
    }
}

/// Counts of one trading day.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OtrCounter {
    /// New orders, modifications and cancellations.
    pub orders_raw: u64,
    /// The same without exempt ones.
    pub orders_penalty: u64,
    /// Trades (each fill, partial or full, is one trade).
    pub trades: u64,
}

impl OtrCounter {
    pub fn record_order(&mut self, exempt: bool) {
        self.orders_raw += 1;
        if !exempt {
            self.orders_penalty += 1;
        }
    }

    pub fn record_trade(&mut self) {
        self.trades += 1;
    }

    pub fn otr_raw(&self) -> f64 {
        self.orders_raw as f64 / self.trades.max(1) as f64
    }

    pub fn otr_penalty(&self) -> f64 {
        self.orders_penalty as f64 / self.trades.max(1) as f64
    }

    /// Penalty-relevant OTR if `extra` more non-exempt orders were counted.
    pub fn projected_penalty(&self, extra: u64) -> f64 {
        (self.orders_penalty + extra) as f64 / self.trades.max(1) as f64
    }

    /// Whether `extra` more non-exempt orders keep the penalty OTR within
    /// `budget`. Below `min_orders` penalty-relevant orders the ratio is not
    /// judged (a day's first orders have no trades to divide by yet).
    pub fn allows(&self, extra: u64, budget: f64, min_orders: u64) -> bool {
        self.orders_penalty + extra <= min_orders || self.projected_penalty(extra) <= budget
    }

    /// Estimated penalty in rupees for the day so far (penalty orders × slab).
    pub fn penalty_inr(&self) -> f64 {
        self.orders_penalty as f64 * penalty_paise_per_order(self.otr_penalty()) as f64 / 100.0
    }
}
