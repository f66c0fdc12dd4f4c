//! The synthetic market both chains are driven with, and the fixed-rate schedule.
//!
//! Every event is a book update whose imbalance flips side (bids heavy, then asks heavy, ...),
//! so Oracle's strength swings between about +0.93 and −0.93 and it emits a signal for every
//! event; Execution cancels the order the previous signal placed (the signal turned against it)
//! and joins the new touch. The touch walks up one tick per event for 7 events, then falls back
//! 7 ticks in one move (a saw tooth): mid moves are 7 up for 1 down, an order-0 entropy of 0.54,
//! below Sonar's `attack_below`, so Sonar's regime is Attack and the gate open, as in a market
//! the strategy trades. The price never drifts, whatever the run length.

use runtime::msg::{md_kind, BookTop, Level, MdEvent, Stamps, BOOK_DEPTH, PRICE_SCALE};

/// Events per saw tooth (7 up moves, 1 down move).
pub const SAW_TEETH: u64 = 8;

/// Shape of the synthetic book.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SynthBook {
    pub instrument_id: u32,
    /// Price step between levels and per saw-tooth move.
    pub tick_e8: i64,
    /// Best bid at the bottom of the saw tooth.
    pub base_bid_e8: i64,
    /// Levels per side (≤ [`BOOK_DEPTH`]).
    pub levels: u32,
    /// Quantity of each level on the heavy side.
    pub heavy_qty_e8: i64,
    /// Quantity of each level on the light side.
    pub light_qty_e8: i64,
}

impl Default for SynthBook {
    /// RELIANCE-like: instrument 2 of `config/instruments.ron`, ₹1,399.00, tick ₹0.10.
    fn default() -> Self {
        SynthBook {
            instrument_id: 2,
            tick_e8: PRICE_SCALE / 10,
            base_bid_e8: 1_399 * PRICE_SCALE,
            levels: 5,
            heavy_qty_e8: 10 * PRICE_SCALE,
            light_qty_e8: PRICE_SCALE,
        }
    }
}

impl SynthBook {
    /// Check the shape; the message says which field is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.tick_e8 <= 0 {
            return Err(format!("tick_e8 = {} must be > 0", self.tick_e8));
        }
        if self.levels == 0 || self.levels as usize > BOOK_DEPTH {
            return Err(format!(
                "levels = {} must be 1 ..= {BOOK_DEPTH}",
                self.levels
            ));
        }
        if self.base_bid_e8 <= i64::from(self.levels) * self.tick_e8 {
            return Err(format!(
                "base_bid_e8 = {} leaves no room for {} levels of {}",
                self.base_bid_e8, self.levels, self.tick_e8
            ));
        }
        if self.heavy_qty_e8 <= self.light_qty_e8 || self.light_qty_e8 <= 0 {
            return Err("need heavy_qty_e8 > light_qty_e8 > 0".into());
        }
        Ok(())
    }

    /// Best bid of event `i` (0-based).
    pub fn best_bid_e8(&self, i: u64) -> i64 {
        self.base_bid_e8 + (i % SAW_TEETH) as i64 * self.tick_e8
    }

    /// Whether event `i` has the heavy side on the bids (Oracle's strength > 0).
    pub fn bids_heavy(i: u64) -> bool {
        i.is_multiple_of(2)
    }

    /// Event `i` (0-based; its `seq` is `i + 1`) with `stamps`.
    pub fn event(&self, i: u64, stamps: Stamps) -> MdEvent {
        let bid = self.best_bid_e8(i);
        let ask = bid + self.tick_e8;
        let (bid_qty, ask_qty) = if Self::bids_heavy(i) {
            (self.heavy_qty_e8, self.light_qty_e8)
        } else {
            (self.light_qty_e8, self.heavy_qty_e8)
        };
        let mut book = BookTop {
            bid_levels: self.levels,
            ask_levels: self.levels,
            changes: 2,
            ..BookTop::default()
        };
        for k in 0..self.levels as usize {
            let step = k as i64 * self.tick_e8;
            book.bids[k] = Level {
                price_e8: bid - step,
                qty_e8: bid_qty,
            };
            book.asks[k] = Level {
                price_e8: ask + step,
                qty_e8: ask_qty,
            };
        }
        MdEvent {
            seq: i + 1,
            venue_seq: i + 1,
            stamps,
            instrument_id: self.instrument_id,
            kind: md_kind::BOOK,
            book,
            ..MdEvent::default()
        }
    }
}

/// Intended send times at a fixed offered rate: event `i` of a step is due at
/// `start_ns + i · 10^9 / rate`, whatever happened to earlier events (no coordinated omission).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Schedule {
    pub start_ns: u64,
    pub rate_per_s: u64,
}

impl Schedule {
    /// Intended time of event `i` (exact integer arithmetic, no drift).
    pub fn intended_ns(&self, i: u64) -> u64 {
        let rate = self.rate_per_s.max(1) as u128;
        self.start_ns + (i as u128 * 1_000_000_000 / rate) as u64
    }

    /// Events due by `now_ns` (those with `intended_ns(i) ≤ now_ns`).
    pub fn due_by(&self, now_ns: u64) -> u64 {
        if now_ns < self.start_ns {
            return 0;
        }
        let elapsed = (now_ns - self.start_ns) as u128;
        let mut n = (elapsed * self.rate_per_s as u128 / 1_000_000_000) as u64 + 1;
        // The estimate can be one short where `intended_ns` rounded down; bounded by 2 steps.
        for _ in 0..2 {
            if self.intended_ns(n) <= now_ns {
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saw_tooth_and_flipping_imbalance() {
        let b = SynthBook::default();
        b.validate().unwrap();
        let e0 = b.event(0, Stamps::default());
        assert_eq!(e0.seq, 1);
        assert_eq!(e0.book.bids[0].price_e8, 1_399 * PRICE_SCALE);
        assert_eq!(
            e0.book.asks[0].price_e8,
            1_399 * PRICE_SCALE + PRICE_SCALE / 10
        );
        assert_eq!(
            e0.book.bids[4].price_e8,
            1_399 * PRICE_SCALE - 4 * PRICE_SCALE / 10
        );
        assert_eq!(e0.book.bids[0].qty_e8, 10 * PRICE_SCALE);
        assert_eq!(e0.book.asks[0].qty_e8, PRICE_SCALE);
        let e1 = b.event(1, Stamps::default());
        assert_eq!(e1.book.bids[0].qty_e8, PRICE_SCALE);
        assert_eq!(
            e1.book.bids[0].price_e8,
            1_399 * PRICE_SCALE + PRICE_SCALE / 10
        );
        // Event 7 is the top of the tooth (+0.70), event 8 back at the bottom.
        assert_eq!(b.best_bid_e8(7), 1_399 * PRICE_SCALE + 7 * PRICE_SCALE / 10);
        assert_eq!(b.best_bid_e8(8), 1_399 * PRICE_SCALE);
    }

    #[test]
    fn bad_shapes_are_refused() {
        let bad = SynthBook {
            levels: 9,
            ..SynthBook::default()
        };
        assert!(bad.validate().unwrap_err().contains("levels"));
        let bad = SynthBook {
            light_qty_e8: 20 * PRICE_SCALE,
            ..SynthBook::default()
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn schedule_is_exact() {
        // 3 events a second from t = 1 s: due at 1 s, 1.333… s, 1.666… s.
        let s = Schedule {
            start_ns: 1_000_000_000,
            rate_per_s: 3,
        };
        assert_eq!(s.intended_ns(0), 1_000_000_000);
        assert_eq!(s.intended_ns(1), 1_333_333_333);
        assert_eq!(s.intended_ns(2), 1_666_666_666);
        assert_eq!(s.intended_ns(3), 2_000_000_000);
        assert_eq!(s.due_by(999_999_999), 0);
        assert_eq!(s.due_by(1_000_000_000), 1);
        assert_eq!(s.due_by(1_333_333_332), 1);
        assert_eq!(s.due_by(1_333_333_333), 2);
        assert_eq!(s.due_by(1_333_333_334), 2);
        assert_eq!(s.due_by(2_000_000_000), 4);
    }
}
