//! A price-level (L2) book: absolute quantity per price, as Binance diffs, LOBSTER
//! rows and the venue's BookDelta frames describe it.
//!
//! Each side is a sorted ring buffer (`VecDeque`) with the best level at the back:
//! an insert or removal moves the shorter half, so updates near the top *and* far
//! out (Binance diffs carry levels thousands of ticks away) move few bytes, and the
//! best level is one load. Capacity is reserved up front; the number of levels per
//! side is limited and beyond it the update is refused (typed error), never grown.

use runtime::msg::{side, Level, BOOK_DEPTH};
use std::collections::VecDeque;
use thiserror::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum BookError {
    #[error("book side full ({0} levels): raise the level limit or check the feed")]
    Full(usize),
    #[error("invalid level: price {price_e8}, qty {qty_e8} (price must be > 0, qty ≥ 0)")]
    BadLevel { price_e8: i64, qty_e8: i64 },
    #[error("bad side code {0}")]
    BadSide(u8),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct L {
    key: i64,
    qty: i64,
}

/// One side of an L2 book.
#[derive(Debug, Clone)]
pub struct L2Side {
    is_bid: bool,
    levels: VecDeque<L>,
    max_levels: usize,
}

impl L2Side {
    fn new(is_bid: bool, max_levels: usize) -> Self {
        L2Side {
            is_bid,
            levels: VecDeque::with_capacity(max_levels),
            max_levels,
        }
    }
    #[inline]
    fn key(&self, price_e8: i64) -> i64 {
        if self.is_bid {
            price_e8
        } else {
            -price_e8
        }
    }
    #[inline]
    fn price(&self, key: i64) -> i64 {
        if self.is_bid {
            key
        } else {
            -key
        }
    }

    #[inline]
    fn find(&self, key: i64) -> Result<usize, usize> {
        // Most updates land near the top (the back): check the last few first.
        let n = self.levels.len();
        let lim = n.min(4);
        for j in 1..=lim {
            let k = self.levels[n - j].key;
            if k == key {
                return Ok(n - j);
            }
            if k < key {
                return Err(n - j + 1);
            }
        }
        // Otherwise bisect the ring's two contiguous halves with the standard
        // (branch-free) slice search.
        let (a, b) = self.levels.as_slices();
        match b.first() {
            Some(f) if f.key <= key => match b.binary_search_by(|l| l.key.cmp(&key)) {
                Ok(i) => Ok(a.len() + i),
                Err(i) => Err(a.len() + i),
            },
            _ => a.binary_search_by(|l| l.key.cmp(&key)),
        }
    }

    /// Set the absolute quantity at a price (0 removes the level). Returns the previous quantity.
    #[inline]
    pub fn set(&mut self, price_e8: i64, qty_e8: i64) -> Result<i64, BookError> {
        if price_e8 <= 0 || qty_e8 < 0 {
            return Err(BookError::BadLevel { price_e8, qty_e8 });
        }
        let key = self.key(price_e8);
        match self.find(key) {
            Ok(i) => {
                let prev = self.levels[i].qty;
                if qty_e8 == 0 {
                    let _ = self.levels.remove(i);
                } else {
                    self.levels[i].qty = qty_e8;
                }
                Ok(prev)
            }
            Err(i) => {
                if qty_e8 != 0 {
                    if self.levels.len() >= self.max_levels {
                        return Err(BookError::Full(self.max_levels));
                    }
                    self.levels.insert(i, L { key, qty: qty_e8 });
                }
                Ok(0)
            }
        }
    }

    /// Quantity at a price (0 when absent).
    pub fn qty_at(&self, price_e8: i64) -> i64 {
        match self.find(self.key(price_e8)) {
            Ok(i) => self.levels[i].qty,
            Err(_) => 0,
        }
    }

    pub fn best(&self) -> Option<(i64, i64)> {
        self.levels.back().map(|l| (self.price(l.key), l.qty))
    }

    pub fn len(&self) -> usize {
        self.levels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.levels.is_empty()
    }

    /// (price, qty), best first.
    pub fn iter(&self) -> impl Iterator<Item = (i64, i64)> + '_ {
        self.levels.iter().rev().map(|l| (self.price(l.key), l.qty))
    }

    pub fn clear(&mut self) {
        self.levels.clear();
    }
}

/// A two-sided price-level book.
#[derive(Debug, Clone)]
pub struct L2Book {
    pub bids: L2Side,
    pub asks: L2Side,
}

impl L2Book {
    pub fn new(max_levels_per_side: usize) -> Self {
        L2Book {
            bids: L2Side::new(true, max_levels_per_side),
            asks: L2Side::new(false, max_levels_per_side),
        }
    }

    pub fn side_mut(&mut self, side_code: u8) -> Result<&mut L2Side, BookError> {
        match side_code {
            side::BUY => Ok(&mut self.bids),
            side::SELL => Ok(&mut self.asks),
            s => Err(BookError::BadSide(s)),
        }
    }

    pub fn side(&self, side_code: u8) -> Option<&L2Side> {
        match side_code {
            side::BUY => Some(&self.bids),
            side::SELL => Some(&self.asks),
            _ => None,
        }
    }

    #[inline]
    pub fn set(&mut self, side_code: u8, price_e8: i64, qty_e8: i64) -> Result<i64, BookError> {
        self.side_mut(side_code)?.set(price_e8, qty_e8)
    }

    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    pub fn best_bid(&self) -> Option<(i64, i64)> {
        self.bids.best()
    }

    pub fn best_ask(&self) -> Option<(i64, i64)> {
        self.asks.best()
    }

    /// Best bid ≥ best ask.
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some(b), Some(a)) if b.0 >= a.0)
    }

    /// Fill the top [`BOOK_DEPTH`] levels of each side; returns (bid levels, ask levels).
    pub fn top(
        &self,
        bids: &mut [Level; BOOK_DEPTH],
        asks: &mut [Level; BOOK_DEPTH],
    ) -> (u32, u32) {
        let mut nb = 0;
        for (i, (p, q)) in self.bids.iter().take(BOOK_DEPTH).enumerate() {
            bids[i] = Level {
                price_e8: p,
                qty_e8: q,
            };
            nb += 1;
        }
        for l in bids.iter_mut().skip(nb) {
            *l = Level::default();
        }
        let mut na = 0;
        for (i, (p, q)) in self.asks.iter().take(BOOK_DEPTH).enumerate() {
            asks[i] = Level {
                price_e8: p,
                qty_e8: q,
            };
            na += 1;
        }
        for l in asks.iter_mut().skip(na) {
            *l = Level::default();
        }
        (nb as u32, na as u32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_order_and_update() {
        let mut b = L2Book::new(8);
        b.set(side::BUY, 100, 5).unwrap();
        b.set(side::BUY, 102, 1).unwrap();
        b.set(side::BUY, 101, 2).unwrap();
        b.set(side::SELL, 105, 3).unwrap();
        b.set(side::SELL, 103, 4).unwrap();
        assert_eq!(b.best_bid(), Some((102, 1)));
        assert_eq!(b.best_ask(), Some((103, 4)));
        assert_eq!(
            b.bids.iter().collect::<Vec<_>>(),
            vec![(102, 1), (101, 2), (100, 5)]
        );
        assert_eq!(b.set(side::BUY, 102, 0), Ok(1));
        assert_eq!(b.best_bid(), Some((101, 2)));
        // Removing an absent level is a no-op.
        assert_eq!(b.set(side::BUY, 99, 0), Ok(0));
        assert_eq!(b.bids.len(), 2);
        assert!(!b.is_crossed());
        b.set(side::BUY, 103, 1).unwrap();
        assert!(b.is_crossed());
        assert_eq!(
            b.set(side::BUY, -1, 1),
            Err(BookError::BadLevel {
                price_e8: -1,
                qty_e8: 1
            })
        );
        assert_eq!(b.set(3, 1, 1), Err(BookError::BadSide(3)));
    }

    #[test]
    fn full_side_refuses_new_levels_but_updates_existing() {
        let mut b = L2Book::new(2);
        b.set(side::SELL, 10, 1).unwrap();
        b.set(side::SELL, 11, 1).unwrap();
        assert_eq!(b.set(side::SELL, 12, 1), Err(BookError::Full(2)));
        assert_eq!(b.set(side::SELL, 11, 7), Ok(1));
    }

    #[test]
    fn matches_a_reference_model_on_random_updates() {
        // Against a BTreeMap model, many random updates (deterministic LCG).
        use std::collections::BTreeMap;
        let mut m: BTreeMap<i64, i64> = BTreeMap::new();
        let mut b = L2Book::new(10_000);
        let mut x: u64 = 12345;
        for _ in 0..20_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let p = 1 + ((x >> 33) % 300) as i64;
            let q = ((x >> 20) % 4) as i64;
            b.set(side::BUY, p, q).unwrap();
            if q == 0 {
                m.remove(&p);
            } else {
                m.insert(p, q);
            }
            assert_eq!(b.best_bid(), m.iter().next_back().map(|(a, b)| (*a, *b)));
        }
        assert_eq!(
            b.bids.iter().collect::<Vec<_>>(),
            m.iter().rev().map(|(a, b)| (*a, *b)).collect::<Vec<_>>()
        );
    }
}
