//! LOBSTER files: a message file (time, type, order id, size, price × 10⁴, direction)
//! and an orderbook file (ask price 1, ask size 1, bid price 1, bid size 1, … for L
//! levels; row k is the book after message k; an empty level is −9999999999 (bid) or
//! 9999999999 (ask) with size 0). No header.
//!
//! The book is rebuilt order by order: every order id keeps its side, price, size and
//! arrival number, which the exact FIFO queue model ([`crate::queue::FifoQueueModel`])
//! uses. Orders resting before the first message (the file does not list them) are
//! derived from the first orderbook row and treated as one anonymous order per level,
//! ahead of everything that arrives later.

use crate::book::{BookError, L2Book};
use runtime::msg::side;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// LOBSTER prices are dollars × 10⁴; ours are × 10⁸.
pub const PRICE_TO_E8: i64 = 10_000;
/// Sizes are shares; ours are × 10⁸.
pub const SIZE_TO_E8: i64 = 100_000_000;
pub const EMPTY_BID: i64 = -9_999_999_999;
pub const EMPTY_ASK: i64 = 9_999_999_999;
/// Largest price accepted (dollars × 10⁴): $100 million a share, far above any listing,
/// far below where × 10⁴ would overflow.
pub const MAX_PRICE: i64 = 1_000_000_000_000;
/// Largest size accepted (shares): 10¹⁰, so sums of a level stay far from overflow.
pub const MAX_SIZE: i64 = 10_000_000_000;

/// Message types.
pub mod kind {
    pub const NEW: u8 = 1;
    pub const PARTIAL_CANCEL: u8 = 2;
    pub const DELETE: u8 = 3;
    pub const EXECUTE_VISIBLE: u8 = 4;
    pub const EXECUTE_HIDDEN: u8 = 5;
    pub const HALT: u8 = 7;
}

#[derive(Debug, Error)]
pub enum LobsterError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{file} line {line}: {problem}")]
    Parse {
        file: &'static str,
        line: usize,
        problem: String,
    },
    #[error("message {line}: {problem}")]
    Inconsistent { line: usize, problem: String },
    #[error("message {line}: book: {source}")]
    Book { line: usize, source: BookError },
}

/// One message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// Nanoseconds after midnight.
    pub time_ns: u64,
    pub kind: u8,
    pub order_id: u64,
    pub size: i64,
    /// Dollars × 10⁴.
    pub price: i64,
    /// [`side::BUY`] or [`side::SELL`] (the resting order's side for executions).
    pub side: u8,
}

/// Seconds after midnight with up to 9 decimals → ns, exactly.
fn parse_time_ns(t: &str) -> Option<u64> {
    let (int, frac) = match t.split_once('.') {
        Some((a, b)) => (a, b),
        None => (t, ""),
    };
    if frac.len() > 9 || int.is_empty() {
        return None;
    }
    let s: u64 = int.parse().ok()?;
    let mut f: u64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..9 {
        f *= 10;
    }
    s.checked_mul(1_000_000_000)?.checked_add(f)
}

/// Parse a message file's text.
pub fn parse_messages(text: &str) -> Result<Vec<Message>, LobsterError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let err = |p: &str| LobsterError::Parse {
            file: "message",
            line: i + 1,
            problem: p.to_string(),
        };
        let f: Vec<&str> = line.split(',').map(|x| x.trim()).collect();
        if f.len() < 6 {
            return Err(err(
                "expected 6 columns: time,type,order id,size,price,direction",
            ));
        }
        let time_ns = parse_time_ns(f[0]).ok_or_else(|| err("bad time"))?;
        let kind: u8 = f[1].parse().map_err(|_| err("bad type"))?;
        if !matches!(kind, 1..=5 | 7) {
            return Err(err("type must be 1-5 or 7"));
        }
        let order_id: u64 = f[2].parse().map_err(|_| err("bad order id"))?;
        let size: i64 = f[3].parse().map_err(|_| err("bad size"))?;
        let price: i64 = f[4].parse().map_err(|_| err("bad price"))?;
        let dir: i64 = f[5].parse().map_err(|_| err("bad direction"))?;
        let side = match dir {
            1 => side::BUY,
            -1 => side::SELL,
            _ => return Err(err("direction must be 1 or -1")),
        };
        if size < 0 || (kind != kind::HALT && (size == 0 || price <= 0)) {
            return Err(err("size and price must be positive"));
        }
        if size > MAX_SIZE || !(-MAX_PRICE..=MAX_PRICE).contains(&price) {
            return Err(err(
                "size or price out of range (size ≤ 10^10 shares, price ≤ $10^8)",
            ));
        }
        out.push(Message {
            time_ns,
            kind,
            order_id,
            size,
            price,
            side,
        });
    }
    Ok(out)
}

/// One orderbook row: (ask price, ask size, bid price, bid size) per level, raw units.
pub type Row = Vec<(i64, i64, i64, i64)>;

/// Parse an orderbook file's text (every row must have 4 × L columns).
pub fn parse_orderbook(text: &str) -> Result<Vec<Row>, LobsterError> {
    let mut out = Vec::new();
    let mut width = None;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let err = |p: &str| LobsterError::Parse {
            file: "orderbook",
            line: i + 1,
            problem: p.to_string(),
        };
        let v: Result<Vec<i64>, _> = line.split(',').map(|x| x.trim().parse::<i64>()).collect();
        let v = v.map_err(|_| err("non-integer column"))?;
        for (k, &x) in v.iter().enumerate() {
            let is_price = k % 2 == 0;
            let ok = if is_price {
                x == EMPTY_ASK || x == EMPTY_BID || (0..=MAX_PRICE).contains(&x)
            } else {
                (0..=MAX_SIZE).contains(&x)
            };
            if !ok {
                return Err(err("price or size out of range"));
            }
        }
        if v.is_empty() || v.len() % 4 != 0 {
            return Err(err("columns must be a multiple of 4"));
        }
        if *width.get_or_insert(v.len()) != v.len() {
            return Err(err("rows have different widths"));
        }
        out.push(
            v.chunks_exact(4)
                .map(|c| (c[0], c[1], c[2], c[3]))
                .collect(),
        );
    }
    Ok(out)
}

/// A live order of the rebuilt book.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LobOrder {
    pub side: u8,
    /// Dollars × 10⁴.
    pub price: i64,
    pub size: i64,
    /// Arrival number: 0 for orders resting before the file starts.
    pub arrival: u64,
}

/// The order-by-order book rebuilt from messages.
#[derive(Debug, Clone)]
pub struct LobsterBook {
    pub book: L2Book,
    orders: HashMap<u64, LobOrder>,
    arrivals: u64,
    pub halted: bool,
}

/// What a message did, for the queue model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Applied {
    pub msg: Message,
    /// The order it touched as it was before the message (None for new/hidden/halt or
    /// an order resting since before the file).
    pub before: Option<LobOrder>,
}

impl LobsterBook {
    /// Start from the state before message 0: the first orderbook row with message 0 undone.
    pub fn from_first_row(
        row0: &Row,
        msg0: &Message,
        max_levels: usize,
    ) -> Result<LobsterBook, LobsterError> {
        let mut book = L2Book::new(max_levels);
        for &(ap, asz, bp, bsz) in row0 {
            if ap != EMPTY_ASK && asz > 0 {
                book.asks
                    .set(ap * PRICE_TO_E8, asz * SIZE_TO_E8)
                    .map_err(|source| LobsterError::Book { line: 0, source })?;
            }
            if bp != EMPTY_BID && bsz > 0 {
                book.bids
                    .set(bp * PRICE_TO_E8, bsz * SIZE_TO_E8)
                    .map_err(|source| LobsterError::Book { line: 0, source })?;
            }
        }
        // Undo message 0 on the aggregate levels.
        let px = msg0.price * PRICE_TO_E8;
        let q = book.side(msg0.side).map(|s| s.qty_at(px)).unwrap_or(0);
        // Values are bounded by the parsers (MAX_PRICE, MAX_SIZE), so these cannot overflow.
        let delta = msg0.size * SIZE_TO_E8;
        let undone = match msg0.kind {
            kind::NEW => q - delta,
            kind::PARTIAL_CANCEL | kind::DELETE | kind::EXECUTE_VISIBLE => q
                .checked_add(delta)
                .ok_or_else(|| LobsterError::Inconsistent {
                    line: 1,
                    problem: "level size overflows".into(),
                })?,
            _ => q,
        };
        if undone < 0 {
            return Err(LobsterError::Inconsistent {
                line: 1,
                problem: "first row smaller than the first message's size".into(),
            });
        }
        book.set(msg0.side, px, undone)
            .map_err(|source| LobsterError::Book { line: 0, source })?;
        Ok(LobsterBook {
            book,
            orders: HashMap::new(),
            arrivals: 0,
            halted: false,
        })
    }

    /// An empty book (files that start before the open).
    pub fn empty(max_levels: usize) -> LobsterBook {
        LobsterBook {
            book: L2Book::new(max_levels),
            orders: HashMap::new(),
            arrivals: 0,
            halted: false,
        }
    }

    pub fn order(&self, id: u64) -> Option<&LobOrder> {
        self.orders.get(&id)
    }

    /// Arrival number the next new order will get.
    pub fn next_arrival(&self) -> u64 {
        self.arrivals + 1
    }

    /// Apply message number `line` (1-based, for errors).
    pub fn apply(&mut self, m: &Message, line: usize) -> Result<Applied, LobsterError> {
        let bad = |p: &str| LobsterError::Inconsistent {
            line,
            problem: p.to_string(),
        };
        // Messages built by hand skip the parser's range checks: check again.
        if m.size < 0 || m.size > MAX_SIZE || m.price.abs() > MAX_PRICE {
            return Err(bad("size or price out of range"));
        }
        let px = m.price * PRICE_TO_E8;
        let sz = m.size * SIZE_TO_E8;
        let mut before = None;
        match m.kind {
            kind::NEW => {
                self.arrivals += 1;
                if self.orders.contains_key(&m.order_id) {
                    return Err(bad("new order with an id already live"));
                }
                self.orders.insert(
                    m.order_id,
                    LobOrder {
                        side: m.side,
                        price: m.price,
                        size: m.size,
                        arrival: self.arrivals,
                    },
                );
                let q = self.book.side(m.side).map(|s| s.qty_at(px)).unwrap_or(0);
                self.book
                    .set(m.side, px, q + sz)
                    .map_err(|source| LobsterError::Book { line, source })?;
            }
            kind::PARTIAL_CANCEL | kind::DELETE | kind::EXECUTE_VISIBLE => {
                if let Some(o) = self.orders.get_mut(&m.order_id) {
                    before = Some(*o);
                    if o.price != m.price || o.side != m.side || o.size < m.size {
                        return Err(bad(
                            "message does not match its order (price, side or size)",
                        ));
                    }
                    o.size -= m.size;
                    if o.size == 0 || m.kind == kind::DELETE {
                        self.orders.remove(&m.order_id);
                    }
                }
                // Unknown ids are orders from before the file: only the level changes.
                let q = self.book.side(m.side).map(|s| s.qty_at(px)).unwrap_or(0);
                if q < sz {
                    return Err(bad("level smaller than the size removed"));
                }
                self.book
                    .set(m.side, px, q - sz)
                    .map_err(|source| LobsterError::Book { line, source })?;
            }
            kind::EXECUTE_HIDDEN => {}
            kind::HALT => {
                // LOBSTER marks a halt with price −1 and resumption with price 1 (quoting 0).
                self.halted = m.price == -1;
            }
            _ => return Err(bad("unknown message type")),
        }
        Ok(Applied { msg: *m, before })
    }

    /// The top `levels` as an orderbook row in LOBSTER units.
    pub fn row(&self, levels: usize) -> Row {
        let mut asks = self.book.asks.iter();
        let mut bids = self.book.bids.iter();
        (0..levels)
            .map(|_| {
                let (ap, asz) = asks
                    .next()
                    .map(|(p, q)| (p / PRICE_TO_E8, q / SIZE_TO_E8))
                    .unwrap_or((EMPTY_ASK, 0));
                let (bp, bsz) = bids
                    .next()
                    .map(|(p, q)| (p / PRICE_TO_E8, q / SIZE_TO_E8))
                    .unwrap_or((EMPTY_BID, 0));
                (ap, asz, bp, bsz)
            })
            .collect()
    }
}

/// Load a message and orderbook file pair.
pub fn load(
    message_path: &Path,
    orderbook_path: &Path,
) -> Result<(Vec<Message>, Vec<Row>), LobsterError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| LobsterError::Read {
            path: p.to_path_buf(),
            source,
        })
    };
    let m = parse_messages(&read(message_path)?)?;
    let o = parse_orderbook(&read(orderbook_path)?)?;
    if m.len() != o.len() {
        return Err(LobsterError::Inconsistent {
            line: m.len().min(o.len()) + 1,
            problem: format!("{} messages but {} orderbook rows", m.len(), o.len()),
        });
    }
    Ok((m, o))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_parses_exactly() {
        assert_eq!(parse_time_ns("34200.004241176"), Some(34_200_004_241_176));
        assert_eq!(parse_time_ns("34200.5"), Some(34_200_500_000_000));
        assert_eq!(parse_time_ns("34200"), Some(34_200_000_000_000));
        assert_eq!(parse_time_ns("1.0000000001"), None);
        assert_eq!(parse_time_ns("x"), None);
    }

    #[test]
    fn bad_lines_are_named() {
        let e =
            parse_messages("34200.1,1,5,100,1000000,1\n34200.2,9,6,100,1000000,1\n").unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
        assert!(parse_messages("34200.1,1,5,100,1000000,0").is_err());
        assert!(parse_orderbook("1,2,3\n").is_err());
        assert!(parse_orderbook("1,2,3,4\n1,2,3,4,5,6,7,8\n").is_err());
    }
}
