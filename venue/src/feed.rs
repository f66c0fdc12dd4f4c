//! The Feed actor's logic as a pure state machine: market-data frames in (with the
//! receive time the caller measured), normalised [`MdEvent`]s and requests out.
//!
//! It keeps one L2 book per instrument, checks the stream sequence (gaps), validates
//! every level (corrupt values never reach the book), flags crossed books and stale
//! data, and resynchronises from snapshots. No I/O and no clock: the live actor feeds
//! it frames from [`crate::client::MdClient`] and calls [`Feed::poll`] with the time;
//! a backtest does the same with simulated time.

use crate::book::L2Book;
use crate::protocol::{DeltaLevel, Frame, Header};
use runtime::msg::{md_flags, md_kind, BookTop, MdEvent, Stamps, Trade};

/// Limits and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeedConfig {
    /// An instrument with no update (or venue heartbeat) for this long is stale.
    pub stale_after_ns: u64,
    pub max_levels_per_side: usize,
    /// Values outside (0, max] are corrupt (a price of 0 or −1, an overflowed field).
    pub max_price_e8: i64,
    pub max_qty_e8: i64,
}

impl Default for FeedConfig {
    fn default() -> Self {
        FeedConfig {
            stale_after_ns: 2_000_000_000,
            max_levels_per_side: 8_192,
            // ₹10 crore a unit, 10^9 units: far above anything real, far below overflow.
            max_price_e8: 1_000_000_000 * runtime::msg::PRICE_SCALE,
            max_qty_e8: 1_000_000_000 * runtime::msg::PRICE_SCALE,
        }
    }
}

/// What the Feed wants done.
// `MdEvent` is large, but actions go into a reused Vec: boxing would allocate per event.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeedAction {
    /// Publish on the market-data ring (`seq` and `stamps.recv_ns`/`exchange_ns` set;
    /// the publisher sets `stamps.publish_ns`).
    Publish(MdEvent),
    /// Ask the venue for a snapshot (0 = every instrument).
    RequestSnapshot { instrument_id: u32 },
}

/// Counters for the cockpit and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedCounters {
    pub frames: u64,
    pub deltas: u64,
    pub trades: u64,
    pub snapshots: u64,
    /// Sequence gaps detected.
    pub gaps: u64,
    /// Books rebuilt from a snapshot after losing sync.
    pub resyncs: u64,
    /// Transitions into a crossed or locked book.
    pub crossed: u64,
    /// Transitions into staleness.
    pub stale: u64,
    /// Frames refused for corrupt values.
    pub corrupt: u64,
    /// Frames older than the expected sequence (duplicates).
    pub duplicates: u64,
    /// Deltas ignored while the instrument waited for a snapshot.
    pub unsynced_drops: u64,
    pub unknown_instrument: u64,
    pub disconnects: u64,
}

#[derive(Debug, Clone)]
struct Inst {
    id: u32,
    book: L2Book,
    synced: bool,
    /// Lost sync at least once (the next snapshot is a resync).
    lost: bool,
    crossed: bool,
    stale: bool,
    last_update_ns: u64,
}

/// The Feed state machine.
#[derive(Debug, Clone)]
pub struct Feed {
    cfg: FeedConfig,
    inst: Vec<Inst>,
    /// Next stream sequence expected (None until the first snapshot).
    expected_seq: Option<u64>,
    seq_out: u64,
    counters: FeedCounters,
    snapshot_requested: bool,
}

impl Feed {
    pub fn new(cfg: FeedConfig, instrument_ids: &[u32]) -> Self {
        Feed {
            cfg,
            inst: instrument_ids
                .iter()
                .map(|&id| Inst {
                    id,
                    book: L2Book::new(cfg.max_levels_per_side),
                    synced: false,
                    lost: false,
                    crossed: false,
                    stale: false,
                    last_update_ns: 0,
                })
                .collect(),
            expected_seq: None,
            seq_out: 0,
            counters: FeedCounters::default(),
            snapshot_requested: false,
        }
    }

    pub fn counters(&self) -> FeedCounters {
        self.counters
    }

    pub fn book(&self, instrument_id: u32) -> Option<&L2Book> {
        self.inst
            .iter()
            .find(|i| i.id == instrument_id)
            .map(|i| &i.book)
    }

    /// Whether the instrument's book is in sync with the venue.
    pub fn is_synced(&self, instrument_id: u32) -> bool {
        self.inst.iter().any(|i| i.id == instrument_id && i.synced)
    }

    fn idx(&self, instrument_id: u32) -> Option<usize> {
        self.inst.iter().position(|i| i.id == instrument_id)
    }

    fn next_seq(&mut self) -> u64 {
        self.seq_out += 1;
        self.seq_out
    }

    fn status(
        &mut self,
        i: usize,
        flags: u32,
        venue_seq: u64,
        now_ns: u64,
        out: &mut Vec<FeedAction>,
    ) {
        let ev = MdEvent {
            seq: self.next_seq(),
            venue_seq,
            stamps: Stamps {
                recv_ns: now_ns,
                ..Stamps::default()
            },
            instrument_id: self.inst[i].id,
            kind: md_kind::STATUS,
            flags,
            ..MdEvent::default()
        };
        out.push(FeedAction::Publish(ev));
    }

    fn request_snapshot(&mut self, out: &mut Vec<FeedAction>) {
        if !self.snapshot_requested {
            self.snapshot_requested = true;
            out.push(FeedAction::RequestSnapshot { instrument_id: 0 });
        }
    }

    /// Every instrument loses sync (a gap could have hidden any instrument's events).
    fn lose_all(&mut self, flags: u32, venue_seq: u64, now_ns: u64, out: &mut Vec<FeedAction>) {
        for i in 0..self.inst.len() {
            if self.inst[i].synced {
                self.inst[i].synced = false;
                self.inst[i].lost = true;
                self.status(i, flags, venue_seq, now_ns, out);
            }
        }
    }

    fn valid_level(&self, price_e8: i64, qty_e8: i64) -> bool {
        price_e8 > 0
            && price_e8 <= self.cfg.max_price_e8
            && qty_e8 >= 0
            && qty_e8 <= self.cfg.max_qty_e8
    }

    fn book_event(
        &mut self,
        i: usize,
        venue_seq: u64,
        exchange_ns: u64,
        recv_ns: u64,
        changes: u32,
        flags: u32,
    ) -> MdEvent {
        let mut top = BookTop::default();
        let (nb, na) = self.inst[i].book.top(&mut top.bids, &mut top.asks);
        top.bid_levels = nb;
        top.ask_levels = na;
        top.changes = changes;
        let crossed = self.inst[i].book.is_crossed();
        let mut f = flags;
        if crossed {
            f |= md_flags::CROSSED;
            if !self.inst[i].crossed {
                self.counters.crossed += 1;
            }
        }
        self.inst[i].crossed = crossed;
        MdEvent {
            seq: self.next_seq(),
            venue_seq,
            stamps: Stamps {
                exchange_ns,
                recv_ns,
                ..Stamps::default()
            },
            instrument_id: self.inst[i].id,
            kind: md_kind::BOOK,
            flags: f,
            book: top,
            ..MdEvent::default()
        }
    }

    /// Sequence check for a sequenced frame. Returns false when the frame is to be dropped.
    fn check_seq(&mut self, seq: u64, recv_ns: u64, out: &mut Vec<FeedAction>) -> bool {
        match self.expected_seq {
            None => true,
            Some(e) if seq == e => {
                self.expected_seq = Some(e + 1);
                true
            }
            Some(e) if seq < e => {
                self.counters.duplicates += 1;
                false
            }
            Some(_) => {
                self.counters.gaps += 1;
                self.lose_all(md_flags::GAP, seq, recv_ns, out);
                self.request_snapshot(out);
                self.expected_seq = Some(seq + 1);
                true
            }
        }
    }

    /// Process one decoded market-data frame received at `recv_ns`.
    pub fn on_frame(&mut self, h: &Header, f: &Frame<'_>, recv_ns: u64, out: &mut Vec<FeedAction>) {
        self.counters.frames += 1;
        match f {
            Frame::BookDelta(d) => {
                self.counters.deltas += 1;
                if !self.check_seq(h.seq, recv_ns, out) {
                    return;
                }
                let Some(i) = self.idx(d.instrument_id) else {
                    self.counters.unknown_instrument += 1;
                    return;
                };
                self.inst[i].last_update_ns = recv_ns;
                self.inst[i].stale = false;
                if !self.inst[i].synced {
                    self.counters.unsynced_drops += 1;
                    return;
                }
                // Validate the whole frame before touching the book.
                if d.levels().any(|l| !self.valid_level(l.price_e8, l.qty_e8)) {
                    self.corrupt(i, h.seq, recv_ns, out);
                    return;
                }
                let mut full = false;
                for l in d.levels() {
                    if self.inst[i].book.set(l.side, l.price_e8, l.qty_e8).is_err() {
                        full = true;
                        break;
                    }
                }
                if full {
                    self.corrupt(i, h.seq, recv_ns, out);
                    return;
                }
                let ev = self.book_event(i, h.seq, d.venue_ns, recv_ns, d.len() as u32, 0);
                out.push(FeedAction::Publish(ev));
            }
            Frame::TradePrint(t) => {
                self.counters.trades += 1;
                if !self.check_seq(h.seq, recv_ns, out) {
                    return;
                }
                let Some(i) = self.idx(t.instrument_id) else {
                    self.counters.unknown_instrument += 1;
                    return;
                };
                self.inst[i].last_update_ns = recv_ns;
                self.inst[i].stale = false;
                if !self.valid_level(t.price_e8, t.qty_e8) || t.qty_e8 == 0 {
                    self.counters.corrupt += 1;
                    self.status(i, md_flags::CORRUPT, h.seq, recv_ns, out);
                    return;
                }
                let ev = MdEvent {
                    seq: self.next_seq(),
                    venue_seq: h.seq,
                    stamps: Stamps {
                        exchange_ns: t.venue_ns,
                        recv_ns,
                        ..Stamps::default()
                    },
                    instrument_id: t.instrument_id,
                    kind: md_kind::TRADE,
                    flags: 0,
                    trade: Trade {
                        price_e8: t.price_e8,
                        qty_e8: t.qty_e8,
                        trade_id: t.trade_id,
                        aggressor_side: t.aggressor_side,
                        _pad: [0; 7],
                    },
                    ..MdEvent::default()
                };
                out.push(FeedAction::Publish(ev));
            }
            Frame::Snapshot(s) => {
                self.counters.snapshots += 1;
                self.snapshot_requested = false;
                let Some(i) = self.idx(s.instrument_id) else {
                    self.counters.unknown_instrument += 1;
                    return;
                };
                // A snapshot is the book as of stream sequence h.seq.
                match self.expected_seq {
                    Some(e) if h.seq + 1 < e => {
                        // Older than deltas already passed by: this instrument's deltas in
                        // between were dropped, so the snapshot cannot be completed. Ask again.
                        self.counters.duplicates += 1;
                        self.request_snapshot(out);
                        return;
                    }
                    Some(e) if h.seq + 1 > e => {
                        // Frames e..=seq never arrived: other instruments may have missed events.
                        self.counters.gaps += 1;
                        self.lose_all(md_flags::GAP, h.seq, recv_ns, out);
                        self.expected_seq = Some(h.seq + 1);
                    }
                    None => self.expected_seq = Some(h.seq + 1),
                    Some(_) => {}
                }
                let valid = s
                    .bids()
                    .chain(s.asks())
                    .all(|(p, q)| self.valid_level(p, q) && q > 0);
                let ordered = is_strictly(s.bids().map(|l| l.0), |a, b| a > b)
                    && is_strictly(s.asks().map(|l| l.0), |a, b| a < b);
                if !valid || !ordered {
                    self.corrupt(i, h.seq, recv_ns, out);
                    return;
                }
                let inst = &mut self.inst[i];
                inst.book.clear();
                let mut full = false;
                for (p, q) in s.bids() {
                    full |= inst.book.bids.set(p, q).is_err();
                }
                for (p, q) in s.asks() {
                    full |= inst.book.asks.set(p, q).is_err();
                }
                if full {
                    self.corrupt(i, h.seq, recv_ns, out);
                    return;
                }
                let resync = inst.lost;
                inst.synced = true;
                inst.lost = false;
                inst.stale = false;
                inst.last_update_ns = recv_ns;
                if resync {
                    self.counters.resyncs += 1;
                }
                let n = (s.bid_count() + s.ask_count()) as u32;
                let ev = self.book_event(i, h.seq, s.venue_ns, recv_ns, n, md_flags::RESYNC);
                out.push(FeedAction::Publish(ev));
                // Ask again for any instrument still waiting (e.g. after a gap).
                if self.inst.iter().any(|x| !x.synced) {
                    self.snapshot_requested = false;
                }
            }
            Frame::Heartbeat(_) => {
                // A market-data heartbeat carries the last sequence sent.
                if let Some(e) = self.expected_seq {
                    if h.seq >= e {
                        self.counters.gaps += 1;
                        self.lose_all(md_flags::GAP, h.seq, recv_ns, out);
                        self.request_snapshot(out);
                        self.expected_seq = Some(h.seq + 1);
                    }
                }
                for x in &mut self.inst {
                    x.last_update_ns = recv_ns;
                }
            }
            _ => {}
        }
    }

    fn corrupt(&mut self, i: usize, venue_seq: u64, now_ns: u64, out: &mut Vec<FeedAction>) {
        self.counters.corrupt += 1;
        let inst = &mut self.inst[i];
        inst.synced = false;
        inst.lost = true;
        inst.book.clear();
        self.status(i, md_flags::CORRUPT, venue_seq, now_ns, out);
        self.request_snapshot(out);
    }

    /// The connection dropped: every book is untrusted until new snapshots.
    pub fn on_disconnect(&mut self, now_ns: u64, out: &mut Vec<FeedAction>) {
        self.counters.disconnects += 1;
        for i in 0..self.inst.len() {
            self.inst[i].synced = false;
            self.inst[i].lost = true;
            self.status(i, md_flags::DISCONNECTED, 0, now_ns, out);
        }
        self.expected_seq = None;
        self.snapshot_requested = false;
    }

    /// Time-driven checks (staleness). Call every loop pass.
    pub fn poll(&mut self, now_ns: u64, out: &mut Vec<FeedAction>) {
        for i in 0..self.inst.len() {
            let x = &self.inst[i];
            if x.synced
                && !x.stale
                && now_ns.saturating_sub(x.last_update_ns) > self.cfg.stale_after_ns
            {
                self.inst[i].stale = true;
                self.counters.stale += 1;
                self.status(i, md_flags::STALE, 0, now_ns, out);
            }
        }
    }
}

/// The top [`runtime::msg::BOOK_DEPTH`] levels of a book as carried in an [`MdEvent`]
/// (backtests that replay without frames build their BOOK events with this).
pub fn book_top(book: &L2Book, changes: u32) -> BookTop {
    let mut top = BookTop::default();
    let (nb, na) = book.top(&mut top.bids, &mut top.asks);
    top.bid_levels = nb;
    top.ask_levels = na;
    top.changes = changes;
    top
}

fn is_strictly(mut it: impl Iterator<Item = i64>, ok: impl Fn(i64, i64) -> bool) -> bool {
    let Some(mut prev) = it.next() else {
        return true;
    };
    for x in it {
        if !ok(prev, x) {
            return false;
        }
        prev = x;
    }
    true
}

/// Convenience for tests and relays: apply a delta's levels to a book.
pub fn apply_levels(
    book: &mut L2Book,
    levels: &[DeltaLevel],
) -> Result<(), crate::book::BookError> {
    for l in levels {
        book.set(l.side, l.price_e8, l.qty_e8)?;
    }
    Ok(())
}
