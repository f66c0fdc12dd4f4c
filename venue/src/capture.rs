//! The venue's binary capture format: what a replay produced (snapshots, applied
//! diffs, trades, tickers) as fixed-size 32-byte little-endian records, so a session
//! can be replayed again without gzip or JSON, tens of millions of level updates a second.
//!
//! File: a 32-byte header (magic `VNCAP001`, version, record size, instrument id,
//! record count), then records. A record is `kind u8, side u8, flags u16, count u32,
//! a u64, b i64, c i64`:
//!
//! | kind | meaning | count | a | b | c |
//! |---|---|---|---|---|---|
//! | 1 depth | applied diff, followed by `count` level records | levels | local ns | exchange ns | last update id |
//! | 2 level | one price level (side, absolute qty; 0 = removed) | 0 | 0 | price e8 | qty e8 |
//! | 3 snapshot | book replaced by the `count` level records that follow | levels | local ns | exchange ns | update id |
//! | 4 trade | followed by 1 level record (aggressor side, price, qty) | 1 | local ns | exchange ns | trade id |
//! | 5 ticker | followed by 2 level records (best bid, best ask) | 2 | local ns | exchange ns | update id |
//!
//! Depth flags: bit 0 = a gap preceded this diff, bit 1 = the book was untrusted.

use crate::book::{BookError, L2Book};
use crate::replay::binance::{DepthStatus, Event};
use runtime::msg::side;
use std::io::{Seek, SeekFrom, Write};
use std::path::Path;
use thiserror::Error;

pub const MAGIC: &[u8; 8] = b"VNCAP001";
pub const VERSION: u32 = 1;
pub const RECORD_BYTES: usize = 32;
pub const HEADER_BYTES: usize = 32;

pub mod kind {
    pub const DEPTH: u8 = 1;
    pub const LEVEL: u8 = 2;
    pub const SNAPSHOT: u8 = 3;
    pub const TRADE: u8 = 4;
    pub const TICKER: u8 = 5;
}

pub mod flags {
    pub const GAP: u16 = 1;
    pub const UNTRUSTED: u16 = 2;
}

#[derive(Debug, Error)]
pub enum CaptureError {
    #[error("capture I/O: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a capture file (bad magic, version or record size)")]
    BadHeader,
    #[error("capture truncated: header says {expected} records, file holds {found}")]
    Truncated { expected: u64, found: u64 },
    #[error("record {index}: {problem}")]
    BadRecord { index: u64, problem: &'static str },
    #[error("record {index}: book: {source}")]
    Book { index: u64, source: BookError },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Rec {
    kind: u8,
    side: u8,
    flags: u16,
    count: u32,
    a: u64,
    b: i64,
    c: i64,
}

impl Rec {
    #[inline]
    fn bytes(&self) -> [u8; RECORD_BYTES] {
        let mut r = [0u8; RECORD_BYTES];
        r[0] = self.kind;
        r[1] = self.side;
        r[2..4].copy_from_slice(&self.flags.to_le_bytes());
        r[4..8].copy_from_slice(&self.count.to_le_bytes());
        r[8..16].copy_from_slice(&self.a.to_le_bytes());
        r[16..24].copy_from_slice(&self.b.to_le_bytes());
        r[24..32].copy_from_slice(&self.c.to_le_bytes());
        r
    }
    #[inline]
    fn read(r: &[u8; RECORD_BYTES]) -> Rec {
        let u64_at = |o: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&r[o..o + 8]);
            u64::from_le_bytes(a)
        };
        Rec {
            kind: r[0],
            side: r[1],
            flags: u16::from_le_bytes([r[2], r[3]]),
            count: u32::from_le_bytes([r[4], r[5], r[6], r[7]]),
            a: u64_at(8),
            b: u64_at(16) as i64,
            c: u64_at(24) as i64,
        }
    }
}

/// Writes a capture (buffered); [`CaptureWriter::finish`] fixes the record count.
pub struct CaptureWriter<W: Write + Seek> {
    out: std::io::BufWriter<W>,
    records: u64,
    instrument_id: u32,
}

impl CaptureWriter<std::fs::File> {
    pub fn create(path: &Path, instrument_id: u32) -> Result<Self, CaptureError> {
        Self::new(std::fs::File::create(path)?, instrument_id)
    }
}

impl<W: Write + Seek> CaptureWriter<W> {
    pub fn new(w: W, instrument_id: u32) -> Result<Self, CaptureError> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, w);
        out.write_all(&header(instrument_id, 0))?;
        Ok(CaptureWriter {
            out,
            records: 0,
            instrument_id,
        })
    }

    fn put(&mut self, r: Rec) -> Result<(), CaptureError> {
        self.out.write_all(&r.bytes())?;
        self.records += 1;
        Ok(())
    }

    fn level(&mut self, side_code: u8, price_e8: i64, qty_e8: i64) -> Result<(), CaptureError> {
        self.put(Rec {
            kind: kind::LEVEL,
            side: side_code,
            b: price_e8,
            c: qty_e8,
            ..Rec::default()
        })
    }

    /// Record one replay event; `book` is the replay's book after the event (snapshots
    /// are written from it).
    pub fn write_event(&mut self, ev: &Event<'_>, book: &L2Book) -> Result<(), CaptureError> {
        match *ev {
            Event::Snapshot {
                local_ns,
                exchange_ns,
                synced_to,
                ..
            } => {
                let n = book.bids.len() + book.asks.len();
                self.put(Rec {
                    kind: kind::SNAPSHOT,
                    count: n as u32,
                    a: local_ns,
                    b: exchange_ns as i64,
                    c: synced_to as i64,
                    ..Rec::default()
                })?;
                for (p, q) in book.bids.iter() {
                    self.level(side::BUY, p, q)?;
                }
                for (p, q) in book.asks.iter() {
                    self.level(side::SELL, p, q)?;
                }
            }
            Event::Depth {
                local_ns,
                exchange_ns,
                last_id,
                status,
                levels,
                ..
            } => {
                if status == DepthStatus::Stale {
                    return Ok(());
                }
                let f = match status {
                    DepthStatus::GapApplied => flags::GAP | flags::UNTRUSTED,
                    DepthStatus::Untrusted => flags::UNTRUSTED,
                    _ => 0,
                };
                self.put(Rec {
                    kind: kind::DEPTH,
                    flags: f,
                    count: levels.len() as u32,
                    a: local_ns,
                    b: exchange_ns as i64,
                    c: last_id as i64,
                    ..Rec::default()
                })?;
                for l in levels {
                    self.level(l.side, l.price_e8, l.qty_e8)?;
                }
            }
            Event::Trade {
                local_ns,
                exchange_ns,
                trade_id,
                price_e8,
                qty_e8,
                aggressor_side,
            } => {
                self.put(Rec {
                    kind: kind::TRADE,
                    count: 1,
                    a: local_ns,
                    b: exchange_ns as i64,
                    c: trade_id as i64,
                    ..Rec::default()
                })?;
                self.level(aggressor_side, price_e8, qty_e8)?;
            }
            Event::Ticker {
                local_ns,
                exchange_ns,
                update_id,
                bid_e8,
                bid_qty_e8,
                ask_e8,
                ask_qty_e8,
            } => {
                self.put(Rec {
                    kind: kind::TICKER,
                    count: 2,
                    a: local_ns,
                    b: exchange_ns as i64,
                    c: update_id as i64,
                    ..Rec::default()
                })?;
                self.level(side::BUY, bid_e8, bid_qty_e8)?;
                self.level(side::SELL, ask_e8, ask_qty_e8)?;
            }
            Event::Other { .. } => {}
        }
        Ok(())
    }

    /// Flush and write the record count into the header.
    pub fn finish(mut self) -> Result<u64, CaptureError> {
        self.out.flush()?;
        let mut w = self
            .out
            .into_inner()
            .map_err(|e| CaptureError::Io(e.into_error()))?;
        w.seek(SeekFrom::Start(0))?;
        w.write_all(&header(self.instrument_id, self.records))?;
        w.flush()?;
        Ok(self.records)
    }
}

fn header(instrument_id: u32, records: u64) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[12..16].copy_from_slice(&(RECORD_BYTES as u32).to_le_bytes());
    h[16..20].copy_from_slice(&instrument_id.to_le_bytes());
    h[24..32].copy_from_slice(&records.to_le_bytes());
    h
}

/// A decoded capture event; book events are already applied to [`CaptureReplay::book`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CapEvent {
    Snapshot {
        local_ns: u64,
        exchange_ns: u64,
        update_id: u64,
        levels: u32,
    },
    Depth {
        local_ns: u64,
        exchange_ns: u64,
        last_id: u64,
        flags: u16,
        levels: u32,
    },
    Trade {
        local_ns: u64,
        exchange_ns: u64,
        trade_id: u64,
        price_e8: i64,
        qty_e8: i64,
        aggressor_side: u8,
    },
    Ticker {
        local_ns: u64,
        exchange_ns: u64,
        update_id: u64,
        bid_e8: i64,
        bid_qty_e8: i64,
        ask_e8: i64,
        ask_qty_e8: i64,
    },
}

/// Replays a capture held in memory.
pub struct CaptureReplay {
    data: Vec<u8>,
    pos: usize,
    index: u64,
    records: u64,
    book: L2Book,
    pub instrument_id: u32,
    level_updates: u64,
}

impl CaptureReplay {
    pub fn open(path: &Path, max_levels_per_side: usize) -> Result<Self, CaptureError> {
        Self::from_bytes(std::fs::read(path)?, max_levels_per_side)
    }

    pub fn from_bytes(data: Vec<u8>, max_levels_per_side: usize) -> Result<Self, CaptureError> {
        if data.len() < HEADER_BYTES
            || &data[..8] != MAGIC
            || data[8..12] != VERSION.to_le_bytes()
            || data[12..16] != (RECORD_BYTES as u32).to_le_bytes()
        {
            return Err(CaptureError::BadHeader);
        }
        let mut n = [0u8; 8];
        n.copy_from_slice(&data[24..32]);
        let records = u64::from_le_bytes(n);
        let found = ((data.len() - HEADER_BYTES) / RECORD_BYTES) as u64;
        if found < records {
            return Err(CaptureError::Truncated {
                expected: records,
                found,
            });
        }
        let instrument_id = u32::from_le_bytes([data[16], data[17], data[18], data[19]]);
        Ok(CaptureReplay {
            data,
            pos: HEADER_BYTES,
            index: 0,
            records,
            book: L2Book::new(max_levels_per_side),
            instrument_id,
            level_updates: 0,
        })
    }

    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// Start again from the first record with an empty book.
    pub fn rewind(&mut self) {
        self.pos = HEADER_BYTES;
        self.index = 0;
        self.book.clear();
        self.level_updates = 0;
    }

    pub fn level_updates(&self) -> u64 {
        self.level_updates
    }

    #[inline]
    fn rec(&mut self) -> Result<Rec, CaptureError> {
        if self.index >= self.records {
            return Err(CaptureError::BadRecord {
                index: self.index,
                problem: "a header promises more level records than the file holds",
            });
        }
        let mut r = [0u8; RECORD_BYTES];
        r.copy_from_slice(&self.data[self.pos..self.pos + RECORD_BYTES]);
        self.pos += RECORD_BYTES;
        self.index += 1;
        Ok(Rec::read(&r))
    }

    #[inline]
    fn level(&mut self) -> Result<Rec, CaptureError> {
        let r = self.rec()?;
        if r.kind != kind::LEVEL || (r.side != side::BUY && r.side != side::SELL) {
            return Err(CaptureError::BadRecord {
                index: self.index - 1,
                problem: "expected a level record",
            });
        }
        Ok(r)
    }

    /// The next event, `None` at the end.
    pub fn next_event(&mut self) -> Result<Option<CapEvent>, CaptureError> {
        if self.index >= self.records {
            return Ok(None);
        }
        let h = self.rec()?;
        let at = self.index - 1;
        let book_err = |source| CaptureError::Book { index: at, source };
        Ok(Some(match h.kind {
            kind::SNAPSHOT => {
                self.book.clear();
                for _ in 0..h.count {
                    let l = self.level()?;
                    self.book.set(l.side, l.b, l.c).map_err(book_err)?;
                }
                self.level_updates += h.count as u64;
                CapEvent::Snapshot {
                    local_ns: h.a,
                    exchange_ns: h.b as u64,
                    update_id: h.c as u64,
                    levels: h.count,
                }
            }
            kind::DEPTH => {
                // Hot loop: check the bounds once, then read the level records in place.
                let n = h.count as usize;
                if self.index + n as u64 > self.records {
                    return Err(CaptureError::BadRecord {
                        index: at,
                        problem: "a header promises more level records than the file holds",
                    });
                }
                let end = self.pos + n * RECORD_BYTES;
                for (k, r) in self.data[self.pos..end]
                    .chunks_exact(RECORD_BYTES)
                    .enumerate()
                {
                    let side_code = r[1];
                    if r[0] != kind::LEVEL || (side_code != side::BUY && side_code != side::SELL) {
                        return Err(CaptureError::BadRecord {
                            index: at + 1 + k as u64,
                            problem: "expected a level record",
                        });
                    }
                    let mut p = [0u8; 8];
                    p.copy_from_slice(&r[16..24]);
                    let mut q = [0u8; 8];
                    q.copy_from_slice(&r[24..32]);
                    self.book
                        .set(side_code, i64::from_le_bytes(p), i64::from_le_bytes(q))
                        .map_err(book_err)?;
                }
                self.pos = end;
                self.index += n as u64;
                self.level_updates += h.count as u64;
                CapEvent::Depth {
                    local_ns: h.a,
                    exchange_ns: h.b as u64,
                    last_id: h.c as u64,
                    flags: h.flags,
                    levels: h.count,
                }
            }
            kind::TRADE => {
                let l = self.level()?;
                CapEvent::Trade {
                    local_ns: h.a,
                    exchange_ns: h.b as u64,
                    trade_id: h.c as u64,
                    price_e8: l.b,
                    qty_e8: l.c,
                    aggressor_side: l.side,
                }
            }
            kind::TICKER => {
                let b = self.level()?;
                let a = self.level()?;
                CapEvent::Ticker {
                    local_ns: h.a,
                    exchange_ns: h.b as u64,
                    update_id: h.c as u64,
                    bid_e8: b.b,
                    bid_qty_e8: b.c,
                    ask_e8: a.b,
                    ask_qty_e8: a.c,
                }
            }
            _ => {
                return Err(CaptureError::BadRecord {
                    index: at,
                    problem: "unknown record kind where an event should start",
                })
            }
        }))
    }
}
