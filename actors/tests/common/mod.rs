//! Builders for hand-made market data shared by the integration tests.
#![allow(dead_code)]

use runtime::msg::{md_kind, side, BookTop, Level, MdEvent, Stamps, Trade, PRICE_SCALE};

/// Rupees (or any currency) with up to 8 decimals → `*_e8`.
pub fn e8(x: f64) -> i64 {
    (x * PRICE_SCALE as f64).round() as i64
}

/// A book event from (price, qty) levels, best first.
pub fn book(seq: u64, recv_ns: u64, bids: &[(f64, f64)], asks: &[(f64, f64)]) -> MdEvent {
    let mut b = BookTop::default();
    for (i, &(p, q)) in bids.iter().enumerate() {
        b.bids[i] = Level {
            price_e8: e8(p),
            qty_e8: e8(q),
        };
    }
    for (i, &(p, q)) in asks.iter().enumerate() {
        b.asks[i] = Level {
            price_e8: e8(p),
            qty_e8: e8(q),
        };
    }
    b.bid_levels = bids.len() as u32;
    b.ask_levels = asks.len() as u32;
    MdEvent {
        seq,
        venue_seq: seq,
        stamps: Stamps {
            recv_ns,
            ..Default::default()
        },
        instrument_id: 1,
        kind: md_kind::BOOK,
        book: b,
        ..Default::default()
    }
}

/// A one-level book around `bid` / `ask`.
pub fn touch(seq: u64, recv_ns: u64, bid: f64, ask: f64) -> MdEvent {
    book(seq, recv_ns, &[(bid, 10.0)], &[(ask, 10.0)])
}

pub fn trade(seq: u64, recv_ns: u64, price: f64, qty: f64, buy: bool) -> MdEvent {
    MdEvent {
        seq,
        venue_seq: seq,
        stamps: Stamps {
            recv_ns,
            ..Default::default()
        },
        instrument_id: 1,
        kind: md_kind::TRADE,
        trade: Trade {
            price_e8: e8(price),
            qty_e8: e8(qty),
            trade_id: seq,
            aggressor_side: if buy { side::BUY } else { side::SELL },
            _pad: [0; 7],
        },
        ..Default::default()
    }
}

pub const MS: u64 = 1_000_000;
