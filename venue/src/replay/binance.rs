//! Binance recordings (`<local ts> <json>` lines, gzip), replayed with Binance's own
//! book-building rule and gap detection from the update ids (see
//! `../shared/data/binance/README.md`).
//!
//! Decoding borrows from the line buffer (no allocation per message); levels are
//! parsed straight into the book and into a reused scratch array.

use super::json::{JsonError, PairIter, Scanner};
use crate::book::{BookError, L2Book};
use crate::fixed::{parse_e8, parse_u64, DecimalError};
use crate::protocol::DeltaLevel;
use runtime::msg::side;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a line could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum LineError {
    #[error("line has no `<timestamp> <json>` shape")]
    NoTimestamp,
    #[error("local timestamp is neither 16 (µs) nor 19 (ns) digits")]
    BadTimestamp,
    #[error("json: {0}")]
    Json(#[from] JsonError),
    #[error("field {field}: {source}")]
    Decimal {
        field: &'static str,
        source: DecimalError,
    },
    #[error("field {0} missing or not an integer")]
    Field(&'static str),
}

/// Why a replay stopped.
#[derive(Debug, Error)]
pub enum ReplayError {
    #[error("cannot open {path}: {source} (the recordings live in ../shared/data/binance)")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: read error at line {line}: {source}")]
    Read {
        path: PathBuf,
        line: u64,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {source}")]
    Line {
        path: PathBuf,
        line: u64,
        source: LineError,
    },
    #[error("{path}:{line}: line longer than {limit} bytes")]
    LineTooLong {
        path: PathBuf,
        line: u64,
        limit: usize,
    },
    #[error("{path}:{line}: book: {source}")]
    Book {
        path: PathBuf,
        line: u64,
        source: BookError,
    },
}

/// A decoded message, borrowing the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg<'a> {
    Snapshot {
        last_update_id: u64,
        exchange_ms: u64,
        bids: &'a [u8],
        asks: &'a [u8],
    },
    Depth {
        exchange_ms: u64,
        first_id: u64,
        last_id: u64,
        /// `pu` (futures only).
        prev_last_id: Option<u64>,
        bids: &'a [u8],
        asks: &'a [u8],
    },
    Trade {
        trade_id: u64,
        price_e8: i64,
        qty_e8: i64,
        trade_ms: u64,
        buyer_is_maker: bool,
    },
    Ticker {
        update_id: u64,
        bid_e8: i64,
        bid_qty_e8: i64,
        ask_e8: i64,
        ask_qty_e8: i64,
        /// `E` or `T` when present (futures), else 0.
        exchange_ms: u64,
    },
    /// markPrice and streams we do not use.
    Other,
}

fn dec(field: &'static str, b: &[u8]) -> Result<i64, LineError> {
    parse_e8(b).map_err(|source| LineError::Decimal { field, source })
}

fn int(field: &'static str, b: &[u8]) -> Result<u64, LineError> {
    parse_u64(b).ok_or(LineError::Field(field))
}

/// Split a recorder line into the local timestamp (ns) and the JSON text.
pub fn split_line(line: &[u8]) -> Result<(u64, &[u8]), LineError> {
    let sp = line
        .iter()
        .position(|&c| c == b' ')
        .ok_or(LineError::NoTimestamp)?;
    let ts = parse_u64(&line[..sp]).ok_or(LineError::BadTimestamp)?;
    let ns = match sp {
        19 => ts,
        16 => ts.checked_mul(1_000).ok_or(LineError::BadTimestamp)?,
        _ => return Err(LineError::BadTimestamp),
    };
    Ok((ns, &line[sp + 1..]))
}

/// Decode one JSON message.
pub fn decode_json(json: &[u8]) -> Result<Msg<'_>, LineError> {
    let mut s = Scanner::new(json);
    s.expect(b'{')?;
    let mut stream: Option<&[u8]> = None;
    let mut data: Option<&[u8]> = None;
    // Fast path: the recorder writes `{"stream":"…","data":{…}}`: decode `data` in place
    // instead of skipping over it first.
    if s.peek()? == b'"' {
        let save = s.pos;
        if s.string()? == b"stream" {
            s.expect(b':')?;
            let st = s.string()?;
            s.expect(b',')?;
            if s.string()? == b"data" {
                s.expect(b':')?;
                let start = s.pos;
                let rest = &json[start..];
                return decode_stream(st, rest);
            }
        }
        s.pos = save;
    }
    // Snapshot fields.
    let mut last_update_id = None;
    let mut e_ms = 0u64;
    let mut bids: &[u8] = &[];
    let mut asks: &[u8] = &[];
    if s.peek()? != b'}' {
        loop {
            let key = s.string()?;
            s.expect(b':')?;
            match key {
                b"stream" => stream = Some(s.string()?),
                b"data" => data = Some(s.raw_value()?),
                b"lastUpdateId" => last_update_id = Some(int("lastUpdateId", s.atom()?)?),
                b"E" => e_ms = int("E", s.atom()?)?,
                b"bids" => bids = s.raw_value()?,
                b"asks" => asks = s.raw_value()?,
                _ => s.skip_value(0)?,
            }
            if !s.more(b'}')? {
                break;
            }
        }
    }
    if let Some(id) = last_update_id {
        return Ok(Msg::Snapshot {
            last_update_id: id,
            exchange_ms: e_ms,
            bids,
            asks,
        });
    }
    let (Some(stream), Some(data)) = (stream, data) else {
        return Ok(Msg::Other);
    };
    decode_stream(stream, data)
}

/// Decode a stream message's `data` object (trailing bytes after it are ignored).
fn decode_stream<'a>(stream: &[u8], data: &'a [u8]) -> Result<Msg<'a>, LineError> {
    let kind = match stream.iter().position(|&c| c == b'@') {
        Some(i) => &stream[i + 1..],
        None => return Ok(Msg::Other),
    };
    if kind.starts_with(b"depth") {
        decode_depth(data)
    } else if kind == b"trade" {
        decode_trade(data)
    } else if kind == b"bookTicker" {
        decode_ticker(data)
    } else {
        Ok(Msg::Other)
    }
}

fn decode_depth(data: &[u8]) -> Result<Msg<'_>, LineError> {
    let mut s = Scanner::new(data);
    s.expect(b'{')?;
    let (mut e, mut first, mut last, mut pu) = (0, None, None, None);
    let (mut b, mut a): (&[u8], &[u8]) = (&[], &[]);
    loop {
        let key = s.string()?;
        s.expect(b':')?;
        match key {
            b"E" => e = int("E", s.atom()?)?,
            b"U" => first = Some(int("U", s.atom()?)?),
            b"u" => last = Some(int("u", s.atom()?)?),
            b"pu" => pu = Some(int("pu", s.atom()?)?),
            b"b" => b = s.raw_value()?,
            b"a" => a = s.raw_value()?,
            _ => s.skip_value(0)?,
        }
        if !s.more(b'}')? {
            break;
        }
    }
    Ok(Msg::Depth {
        exchange_ms: e,
        first_id: first.ok_or(LineError::Field("U"))?,
        last_id: last.ok_or(LineError::Field("u"))?,
        prev_last_id: pu,
        bids: b,
        asks: a,
    })
}

fn decode_trade(data: &[u8]) -> Result<Msg<'_>, LineError> {
    let mut s = Scanner::new(data);
    s.expect(b'{')?;
    let (mut t, mut p, mut q, mut tm, mut m) = (None, None, None, 0, None);
    loop {
        let key = s.string()?;
        s.expect(b':')?;
        match key {
            b"t" => t = Some(int("t", s.atom()?)?),
            b"p" => p = Some(dec("p", s.string()?)?),
            b"q" => q = Some(dec("q", s.string()?)?),
            b"T" => tm = int("T", s.atom()?)?,
            b"m" => {
                m = Some(match s.atom()? {
                    b"true" => true,
                    b"false" => false,
                    _ => return Err(LineError::Field("m")),
                })
            }
            _ => s.skip_value(0)?,
        }
        if !s.more(b'}')? {
            break;
        }
    }
    Ok(Msg::Trade {
        trade_id: t.ok_or(LineError::Field("t"))?,
        price_e8: p.ok_or(LineError::Field("p"))?,
        qty_e8: q.ok_or(LineError::Field("q"))?,
        trade_ms: tm,
        buyer_is_maker: m.ok_or(LineError::Field("m"))?,
    })
}

fn decode_ticker(data: &[u8]) -> Result<Msg<'_>, LineError> {
    let mut s = Scanner::new(data);
    s.expect(b'{')?;
    let (mut u, mut b, mut bq, mut a, mut aq, mut e) = (None, None, None, None, None, 0);
    loop {
        let key = s.string()?;
        s.expect(b':')?;
        match key {
            b"u" => u = Some(int("u", s.atom()?)?),
            b"b" => b = Some(dec("b", s.string()?)?),
            b"B" => bq = Some(dec("B", s.string()?)?),
            b"a" => a = Some(dec("a", s.string()?)?),
            b"A" => aq = Some(dec("A", s.string()?)?),
            b"E" | b"T" => e = int("E", s.atom()?)?,
            _ => s.skip_value(0)?,
        }
        if !s.more(b'}')? {
            break;
        }
    }
    Ok(Msg::Ticker {
        update_id: u.ok_or(LineError::Field("u"))?,
        bid_e8: b.ok_or(LineError::Field("b"))?,
        bid_qty_e8: bq.ok_or(LineError::Field("B"))?,
        ask_e8: a.ok_or(LineError::Field("a"))?,
        ask_qty_e8: aq.ok_or(LineError::Field("A"))?,
        exchange_ms: e,
    })
}

/// What the replay did with a depth diff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DepthStatus {
    /// Applied; the book is in sync.
    Applied,
    /// Older than the snapshot: dropped (Binance rule).
    Stale,
    /// A break in the `U`/`u`/`pu` chain just before this diff: applied, but the book
    /// is untrusted until the next snapshot.
    GapApplied,
    /// Applied to a book that never had a snapshot (or lost sync): untrusted.
    Untrusted,
}

/// A replayed event. Book events have already been applied to [`BinanceReplay::book`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    Snapshot {
        local_ns: u64,
        exchange_ns: u64,
        last_update_id: u64,
        /// Update id the book now reflects: the snapshot's, or the last remembered diff
        /// applied on top of it.
        synced_to: u64,
    },
    Depth {
        local_ns: u64,
        exchange_ns: u64,
        first_id: u64,
        last_id: u64,
        status: DepthStatus,
        levels: &'a [DeltaLevel],
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
    Other {
        local_ns: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// No snapshot seen; `prev` is the last diff's `u` (chain still checked).
    NoSnapshot {
        prev: Option<u64>,
    },
    AwaitFirst {
        snapshot_id: u64,
    },
    Synced {
        prev: u64,
    },
    /// Chain broken: untrusted until a snapshot.
    Broken {
        prev: u64,
    },
}

/// Counters of a replay.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub lines: u64,
    pub snapshots: u64,
    pub depth_msgs: u64,
    pub level_updates: u64,
    pub stale_diffs: u64,
    pub gaps: u64,
    pub trades: u64,
    pub tickers: u64,
    pub other: u64,
}

/// Options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplayOptions {
    /// Apply diffs before any snapshot (spot recordings have none); the book is then
    /// flagged untrusted, but every level it holds is a real recorded quantity.
    pub apply_without_snapshot: bool,
    pub max_levels_per_side: usize,
    pub max_line_bytes: usize,
}

impl Default for ReplayOptions {
    fn default() -> Self {
        ReplayOptions {
            apply_without_snapshot: true,
            max_levels_per_side: 20_000,
            max_line_bytes: 8 << 20,
        }
    }
}

/// Applies decoded lines to a book with Binance's rule (no I/O): the part of a replay
/// a caller can drive line by line.
pub struct BookBuilder {
    book: L2Book,
    sync: Sync,
    stats: ReplayStats,
    levels: Vec<DeltaLevel>,
    opts: ReplayOptions,
    /// Diffs seen while the book was untrusted (the recorder subscribes before it asks
    /// for the REST snapshot, so diffs newer than the snapshot can precede it in the
    /// file): (U, u, pu, range in `pending_levels`). Bounded by [`PENDING_DIFFS_MAX`].
    pending: Vec<(u64, u64, Option<u64>, usize, usize)>,
    pending_levels: Vec<DeltaLevel>,
}

/// Diffs kept for a later snapshot (about 4 s of futures depth@0ms).
pub const PENDING_DIFFS_MAX: usize = 512;

/// Where a line came from, for error messages.
#[derive(Debug, Clone, Copy)]
pub struct LineRef<'p> {
    pub path: &'p Path,
    pub line: u64,
}

impl BookBuilder {
    pub fn new(opts: ReplayOptions) -> Self {
        BookBuilder {
            book: L2Book::new(opts.max_levels_per_side),
            sync: Sync::NoSnapshot { prev: None },
            stats: ReplayStats::default(),
            levels: Vec::with_capacity(4096),
            opts,
            pending: Vec::with_capacity(PENDING_DIFFS_MAX),
            pending_levels: Vec::with_capacity(PENDING_DIFFS_MAX * 16),
        }
    }

    pub fn book(&self) -> &L2Book {
        &self.book
    }

    /// Whether the book is known to equal the exchange's (snapshot + unbroken chain).
    pub fn book_trusted(&self) -> bool {
        matches!(self.sync, Sync::Synced { .. } | Sync::AwaitFirst { .. })
    }

    /// Keep an untrusted diff for a later snapshot.
    fn remember(&mut self, first_id: u64, last_id: u64, pu: Option<u64>) {
        if self.pending.len() >= PENDING_DIFFS_MAX {
            // Drop the older half; shift the level ranges.
            let keep_from = self.pending.len() / 2;
            let cut = self.pending[keep_from].3;
            self.pending.drain(..keep_from);
            self.pending_levels.drain(..cut);
            for p in &mut self.pending {
                p.3 -= cut;
                p.4 -= cut;
            }
        }
        let start = self.pending_levels.len();
        self.pending_levels.extend_from_slice(&self.levels);
        self.pending
            .push((first_id, last_id, pu, start, self.pending_levels.len()));
    }

    /// After a snapshot: apply remembered diffs newer than it, by the usual rule.
    /// Returns the update id the book reflects.
    fn apply_pending(&mut self, snapshot_id: u64, at: LineRef<'_>) -> Result<u64, ReplayError> {
        let mut synced_to = snapshot_id;
        let mut prev: Option<u64> = None;
        let pending = std::mem::take(&mut self.pending);
        for &(first_id, last_id, pu, a, b) in &pending {
            if last_id < snapshot_id {
                continue;
            }
            let ok = match prev {
                None => first_id <= snapshot_id.saturating_add(1),
                Some(p) => match pu {
                    Some(pu) => pu == p,
                    None => Some(first_id) == p.checked_add(1),
                },
            };
            if !ok {
                // Remembered diffs do not connect to the snapshot: wait for live diffs.
                break;
            }
            for i in a..b {
                let l = self.pending_levels[i];
                self.book
                    .set(l.side, l.price_e8, l.qty_e8)
                    .map_err(|source| ReplayError::Book {
                        path: at.path.to_path_buf(),
                        line: at.line,
                        source,
                    })?;
            }
            prev = Some(last_id);
            synced_to = last_id;
        }
        self.pending = pending;
        self.pending.clear();
        self.pending_levels.clear();
        self.sync = match prev {
            Some(p) => Sync::Synced { prev: p },
            None => Sync::AwaitFirst { snapshot_id },
        };
        Ok(synced_to)
    }

    pub fn stats(&self) -> ReplayStats {
        self.stats
    }

    fn err(at: LineRef<'_>, source: LineError) -> ReplayError {
        ReplayError::Line {
            path: at.path.to_path_buf(),
            line: at.line,
            source,
        }
    }

    /// Decode one recorder line and apply it.
    pub fn apply_line(&mut self, line: &[u8], at: LineRef<'_>) -> Result<Event<'_>, ReplayError> {
        self.apply_line_with_book(line, at).map(|(e, _)| e)
    }

    /// As [`Self::apply_line`], also lending the book after the event.
    pub fn apply_line_with_book(
        &mut self,
        line: &[u8],
        at: LineRef<'_>,
    ) -> Result<(Event<'_>, &L2Book), ReplayError> {
        let ev = self.apply_inner(line, at)?;
        let this: &Self = self;
        let ev = match ev {
            Event::Depth {
                local_ns,
                exchange_ns,
                first_id,
                last_id,
                status,
                ..
            } => Event::Depth {
                local_ns,
                exchange_ns,
                first_id,
                last_id,
                status,
                levels: &this.levels,
            },
            other => other,
        };
        Ok((ev, &this.book))
    }

    /// Apply a line; a Depth event's `levels` is left empty (filled by the callers).
    fn apply_inner(&mut self, line: &[u8], at: LineRef<'_>) -> Result<Event<'static>, ReplayError> {
        self.stats.lines += 1;
        let (local_ns, json) = split_line(line).map_err(|e| Self::err(at, e))?;
        let msg = decode_json(json).map_err(|e| Self::err(at, e))?;
        match msg {
            Msg::Snapshot {
                last_update_id,
                exchange_ms,
                bids,
                asks,
            } => {
                self.book.clear();
                self.load_side(side::BUY, bids, false, true, at)?;
                self.load_side(side::SELL, asks, false, true, at)?;
                let synced_to = self.apply_pending(last_update_id, at)?;
                self.stats.snapshots += 1;
                Ok(Event::Snapshot {
                    local_ns,
                    exchange_ns: exchange_ms * 1_000_000,
                    last_update_id,
                    synced_to,
                })
            }
            Msg::Depth {
                exchange_ms,
                first_id,
                last_id,
                prev_last_id,
                bids,
                asks,
            } => {
                self.stats.depth_msgs += 1;
                let chain_ok = |prev: u64| match prev_last_id {
                    Some(pu) => pu == prev,
                    None => Some(first_id) == prev.checked_add(1),
                };
                let (status, next) = match self.sync {
                    Sync::AwaitFirst { snapshot_id } => {
                        if last_id < snapshot_id {
                            (DepthStatus::Stale, self.sync)
                        } else if first_id <= snapshot_id.saturating_add(1) {
                            (DepthStatus::Applied, Sync::Synced { prev: last_id })
                        } else {
                            // Updates between the snapshot and this diff are missing.
                            self.stats.gaps += 1;
                            (DepthStatus::GapApplied, Sync::Broken { prev: last_id })
                        }
                    }
                    Sync::Synced { prev } => {
                        if chain_ok(prev) {
                            (DepthStatus::Applied, Sync::Synced { prev: last_id })
                        } else {
                            self.stats.gaps += 1;
                            (DepthStatus::GapApplied, Sync::Broken { prev: last_id })
                        }
                    }
                    Sync::Broken { prev } => {
                        if chain_ok(prev) {
                            (DepthStatus::Untrusted, Sync::Broken { prev: last_id })
                        } else {
                            self.stats.gaps += 1;
                            (DepthStatus::GapApplied, Sync::Broken { prev: last_id })
                        }
                    }
                    Sync::NoSnapshot { prev } => {
                        if let Some(p) = prev {
                            if !chain_ok(p) {
                                self.stats.gaps += 1;
                            }
                        }
                        (
                            DepthStatus::Untrusted,
                            Sync::NoSnapshot {
                                prev: Some(last_id),
                            },
                        )
                    }
                };
                self.sync = next;
                self.levels.clear();
                let apply = match status {
                    DepthStatus::Stale => {
                        self.stats.stale_diffs += 1;
                        false
                    }
                    DepthStatus::Untrusted => {
                        matches!(self.sync, Sync::Broken { .. }) || self.opts.apply_without_snapshot
                    }
                    _ => true,
                };
                if apply || status == DepthStatus::Untrusted {
                    // Untrusted diffs are parsed (and remembered) even when not applied.
                    self.load_side(side::BUY, bids, true, apply, at)?;
                    self.load_side(side::SELL, asks, true, apply, at)?;
                }
                if !self.book_trusted() {
                    self.remember(first_id, last_id, prev_last_id);
                }
                Ok(Event::Depth {
                    local_ns,
                    exchange_ns: exchange_ms * 1_000_000,
                    first_id,
                    last_id,
                    status,
                    levels: &[],
                })
            }
            Msg::Trade {
                trade_id,
                price_e8,
                qty_e8,
                trade_ms,
                buyer_is_maker,
            } => {
                self.stats.trades += 1;
                Ok(Event::Trade {
                    local_ns,
                    exchange_ns: trade_ms * 1_000_000,
                    trade_id,
                    price_e8,
                    qty_e8,
                    // Buyer is maker → the seller crossed the spread.
                    aggressor_side: if buyer_is_maker {
                        side::SELL
                    } else {
                        side::BUY
                    },
                })
            }
            Msg::Ticker {
                update_id,
                bid_e8,
                bid_qty_e8,
                ask_e8,
                ask_qty_e8,
                exchange_ms,
            } => {
                self.stats.tickers += 1;
                Ok(Event::Ticker {
                    local_ns,
                    exchange_ns: exchange_ms * 1_000_000,
                    update_id,
                    bid_e8,
                    bid_qty_e8,
                    ask_e8,
                    ask_qty_e8,
                })
            }
            Msg::Other => {
                self.stats.other += 1;
                Ok(Event::Other { local_ns })
            }
        }
    }

    fn load_side(
        &mut self,
        side_code: u8,
        raw: &[u8],
        record: bool,
        apply: bool,
        at: LineRef<'_>,
    ) -> Result<(), ReplayError> {
        let mut it = PairIter::new(raw);
        loop {
            let pair = it
                .next_pair()
                .map_err(|e| Self::err(at, LineError::Json(e)))?;
            let Some((p, q)) = pair else {
                return Ok(());
            };
            let price_e8 = dec("price", p).map_err(|e| Self::err(at, e))?;
            let qty_e8 = dec("qty", q).map_err(|e| Self::err(at, e))?;
            if price_e8 <= 0 || qty_e8 < 0 {
                return Err(ReplayError::Book {
                    path: at.path.to_path_buf(),
                    line: at.line,
                    source: BookError::BadLevel { price_e8, qty_e8 },
                });
            }
            if apply {
                self.book
                    .set(side_code, price_e8, qty_e8)
                    .map_err(|source| ReplayError::Book {
                        path: at.path.to_path_buf(),
                        line: at.line,
                        source,
                    })?;
            }
            self.stats.level_updates += 1;
            if record {
                self.levels.push(DeltaLevel {
                    side: side_code,
                    price_e8,
                    qty_e8,
                });
            }
        }
    }
}

/// Reads recorder lines from gzip files in order (or from any reader).
pub struct LineSource {
    paths: Vec<PathBuf>,
    next_file: usize,
    reader: Option<Box<dyn BufRead + Send>>,
    cur_path: PathBuf,
    line_no: u64,
    line: Vec<u8>,
    max_line_bytes: usize,
}

impl LineSource {
    /// The next non-empty line without its end of line; `None` after the last file.
    pub fn next_line(&mut self) -> Result<Option<(&[u8], LineRef<'_>)>, ReplayError> {
        loop {
            if self.reader.is_none() {
                if self.next_file >= self.paths.len() {
                    return Ok(None);
                }
                let p = self.paths[self.next_file].clone();
                self.next_file += 1;
                self.reader = Some(open_gz(&p)?);
                self.cur_path = p;
                self.line_no = 0;
            }
            self.line.clear();
            let Some(r) = self.reader.as_mut() else {
                continue;
            };
            let limit = self.max_line_bytes as u64;
            // `&mut dyn BufRead` is itself a sized `BufRead`, so it can be limited.
            let mut r: &mut (dyn BufRead + Send) = &mut **r;
            let n = std::io::Read::take(&mut r, limit + 1)
                .read_until(b'\n', &mut self.line)
                .map_err(|source| ReplayError::Read {
                    path: self.cur_path.clone(),
                    line: self.line_no + 1,
                    source,
                })?;
            if n == 0 {
                self.reader = None;
                continue;
            }
            self.line_no += 1;
            if self.line.len() as u64 > limit {
                return Err(ReplayError::LineTooLong {
                    path: self.cur_path.clone(),
                    line: self.line_no,
                    limit: self.max_line_bytes,
                });
            }
            while matches!(self.line.last(), Some(b'\n' | b'\r')) {
                self.line.pop();
            }
            if self.line.is_empty() {
                continue;
            }
            return Ok(Some((
                &self.line,
                LineRef {
                    path: &self.cur_path,
                    line: self.line_no,
                },
            )));
        }
    }
}

/// Replays one symbol's contiguous recordings (several files, in order).
pub struct BinanceReplay {
    src: LineSource,
    builder: BookBuilder,
}

fn open_gz(path: &Path) -> Result<Box<dyn BufRead + Send>, ReplayError> {
    let f = std::fs::File::open(path).map_err(|source| ReplayError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 16, f));
    Ok(Box::new(std::io::BufReader::with_capacity(1 << 18, gz)))
}

impl BinanceReplay {
    /// Open recordings of one symbol, replayed in the order given.
    pub fn open<P: AsRef<Path>>(paths: &[P], opts: ReplayOptions) -> Result<Self, ReplayError> {
        let paths: Vec<PathBuf> = paths.iter().map(|p| p.as_ref().to_path_buf()).collect();
        for p in &paths {
            if !p.is_file() {
                return Err(ReplayError::Open {
                    path: p.clone(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
                });
            }
        }
        Ok(Self::with_source(paths, None, PathBuf::new(), opts))
    }

    /// Replay uncompressed lines from any reader (tests: edited recordings).
    pub fn from_reader(reader: Box<dyn BufRead + Send>, name: &str, opts: ReplayOptions) -> Self {
        Self::with_source(Vec::new(), Some(reader), PathBuf::from(name), opts)
    }

    fn with_source(
        paths: Vec<PathBuf>,
        reader: Option<Box<dyn BufRead + Send>>,
        cur_path: PathBuf,
        opts: ReplayOptions,
    ) -> Self {
        BinanceReplay {
            src: LineSource {
                paths,
                next_file: 0,
                reader,
                cur_path,
                line_no: 0,
                line: Vec::with_capacity(1 << 16),
                max_line_bytes: opts.max_line_bytes,
            },
            builder: BookBuilder::new(opts),
        }
    }

    pub fn book(&self) -> &L2Book {
        self.builder.book()
    }

    pub fn book_trusted(&self) -> bool {
        self.builder.book_trusted()
    }

    pub fn stats(&self) -> ReplayStats {
        self.builder.stats()
    }

    /// The next event (already applied to [`Self::book`]), or `None` at the end.
    pub fn next_event(&mut self) -> Result<Option<Event<'_>>, ReplayError> {
        let Some((line, at)) = self.src.next_line()? else {
            return Ok(None);
        };
        self.builder.apply_line(line, at).map(Some)
    }

    /// The next event together with the book after it.
    pub fn next_with_book(&mut self) -> Result<Option<(Event<'_>, &L2Book)>, ReplayError> {
        let Some((line, at)) = self.src.next_line()? else {
            return Ok(None);
        };
        self.builder.apply_line_with_book(line, at).map(Some)
    }
}

/// The recordings folder next to the repository (`<repo>/../shared/data/binance`).
pub fn default_data_dir() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/data/binance"
    ))
}

/// The recordings grouped into contiguous sessions (pairs of consecutive days of one
/// market), in replay order. Fails with a clear message when the folder is missing.
pub fn sessions(dir: &Path) -> Result<Vec<Vec<PathBuf>>, ReplayError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ReplayError::Open {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "gz"))
        .collect();
    files.sort();
    // Group by the name without its date: "usdm_btcusdt_20230404.dat.gz" → "usdm_btcusdt".
    let mut out: Vec<(String, Vec<PathBuf>)> = Vec::new();
    for f in files {
        let name = f
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_string();
        let stem: String = name
            .split('_')
            .filter(|part| !part.starts_with("20"))
            .collect::<Vec<_>>()
            .join("_");
        let year = name
            .split('_')
            .find(|p| p.starts_with("20"))
            .map(|p| p[..4.min(p.len())].to_string())
            .unwrap_or_default();
        let key = format!("{stem}/{year}");
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) => v.push(f),
            None => out.push((key, vec![f])),
        }
    }
    Ok(out.into_iter().map(|(_, v)| v).collect())
}
