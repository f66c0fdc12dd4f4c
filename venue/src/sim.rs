//! The venue's core without sockets: matching engine + synthetic flow + latency
//! injection + market-data sequencing, driven by `now_ns` from the caller.
//!
//! The TCP server ([`crate::server`]) is a thin shell around it; a deterministic
//! backtest drives the same object from one thread with a simulated clock:
//!
//! ```no_run
//! # use venue::sim::{SimVenue, Request, VenueSink, SessionId};
//! # use venue::protocol::Frame;
//! # fn demo(cfg: venue::config::VenueConfig) {
//! struct Sink;
//! impl VenueSink for Sink {
//!     fn to_session(&mut self, s: SessionId, f: &Frame<'static>) { /* Execution's input */ }
//!     fn market_data(&mut self, seq: u64, frame_bytes: &[u8]) { /* decode → Feed::on_frame */ }
//! }
//! let mut v = SimVenue::new(&cfg, 0).unwrap();
//! let s = v.open_session(7, 7007).unwrap();
//! let mut now_ns = 0;
//! while now_ns < 1_000_000_000 {
//!     now_ns += 100_000;
//!     v.advance(now_ns, &mut Sink);
//! }
//! # }
//! ```

use crate::book::L2Book;
use crate::config::{MarketFile, VenueConfig};
use crate::latency::{DelayLine, LatencyControl, LatencyModel};
use crate::matching::{
    cancel_reason, ExecEvent, MatchingEngine, Modify, NewOrder, OrderRef, MARKET_ACCOUNT,
};
use crate::protocol::{
    encode, encode_book_delta, encode_snapshot, CancelOrderMsg, CancelRejectedMsg, CancelledMsg,
    DeltaLevel, FillMsg, Frame, ModifiedMsg, ModifyOrderMsg, NewOrderMsg, OrderAcceptedMsg,
    OrderOpenMsg, RejectedMsg, TradePrintMsg, MAX_DELTA_LEVELS,
};
use crate::synth::SynthFlow;
use std::collections::VecDeque;
use thiserror::Error;

/// Index of an order-entry session.
pub type SessionId = u32;

/// An order-entry request as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    New(NewOrderMsg),
    Cancel(CancelOrderMsg),
    Modify(ModifyOrderMsg),
}

/// Where the venue's output goes.
pub trait VenueSink {
    /// A response for one session (after its outbound delay).
    fn to_session(&mut self, session: SessionId, frame: &Frame<'static>);
    /// One encoded market-data frame (BookDelta or TradePrint) with stream sequence `seq`.
    fn market_data(&mut self, seq: u64, frame_bytes: &[u8]);
}

/// Why a venue could not be built.
#[derive(Debug, Error)]
pub enum SimError {
    #[error("replay: {0}")]
    Replay(#[from] crate::replay::binance::ReplayError),
    #[error("replay source not served by the venue yet: {0} (use venue::replay and venue::queue in-process)")]
    Unsupported(&'static str),
    #[error("replay instrument {0} is not in the instrument master")]
    UnknownInstrument(u32),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SessionError {
    #[error("account 0 is the market's own account")]
    ReservedAccount,
    #[error("account {0} already has a session")]
    AccountInUse(u32),
    #[error("too many sessions")]
    TooMany,
    #[error("the venue keeps positions for {0} accounts and has no room for another")]
    TooManyAccounts(usize),
    #[error("session's inbound queue is full")]
    QueueFull,
    #[error("no such session")]
    NoSession,
}

#[derive(Debug, Clone)]
struct Session {
    account: u32,
    stp_id: u64,
    inbound: DelayLine<Request>,
    outbound: DelayLine<Frame<'static>>,
}

#[derive(Debug, Clone, Copy)]
enum MdItem {
    Delta {
        seq: u64,
        instrument_id: u32,
        venue_ns: u64,
        levels: usize,
    },
    Trade {
        seq: u64,
        msg: TradePrintMsg,
    },
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    pub requests: u64,
    pub responses: u64,
    pub md_frames: u64,
    pub synth_events: u64,
    pub dropped_on_close: u64,
}

/// An account's position in one instrument: every fill of every session it had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AccountPosition {
    pub instrument_id: u32,
    /// Bought minus sold (quantity e8).
    pub position_e8: i64,
    pub bought_e8: i64,
    pub sold_e8: i64,
}

/// Accounts whose positions the venue keeps (every account that ever logged on).
pub const ACCOUNTS_MAX: usize = 4_096;

/// Requests queued per session before `submit` refuses.
pub const SESSION_QUEUE_MAX: usize = 65_536;
/// Synthetic events processed per `advance` call at most (a limit on catch-up work).
pub const SYNTH_EVENTS_PER_ADVANCE_MAX: usize = 200_000;

/// The venue core.
pub struct SimVenue {
    engine: MatchingEngine,
    synth: Option<SynthFlow>,
    market_replay: Option<crate::replay_venue::ReplayVenue>,
    replay_errors: u64,
    latency: LatencyModel,
    md_delay: bool,
    sessions: Vec<Option<Session>>,
    max_sessions: usize,
    /// Positions by account (at most [`ACCOUNTS_MAX`]), one entry per instrument, in the
    /// order of `published`. Kept for the venue's life: sessions come and go.
    positions: Vec<(u32, Vec<AccountPosition>)>,
    /// venue_ns = now_ns + offset (wall clock for the server, anything for a backtest).
    venue_time_offset_ns: i128,
    events: Vec<ExecEvent>,
    md_seq: u64,
    md_released_seq: u64,
    md_line: DelayLine<MdItem>,
    md_levels: VecDeque<DeltaLevel>,
    batch: Vec<(u32, DeltaLevel)>,
    published: Vec<(u32, L2Book)>,
    scratch: Vec<u8>,
    stats: SimStats,
}

impl SimVenue {
    /// Build from a checked configuration. `venue_time_offset_ns` maps the caller's
    /// clock to venue event times (0 in a backtest).
    pub fn new(cfg: &VenueConfig, venue_time_offset_ns: i128) -> Result<SimVenue, SimError> {
        let engine = MatchingEngine::new(&cfg.instruments, cfg.rate_limits, cfg.matching);
        let (synth, market_replay) = match &cfg.market {
            MarketFile::Synthetic(s) => {
                (Some(SynthFlow::new(s, &cfg.instruments, cfg.seed, 0)), None)
            }
            MarketFile::Replay(r) => match &r.source {
                crate::config::ReplaySource::Binance {
                    paths,
                    instrument_id,
                } => {
                    if cfg.instrument(*instrument_id).is_none() {
                        return Err(SimError::UnknownInstrument(*instrument_id));
                    }
                    let rep =
                        crate::replay::binance::BinanceReplay::open(paths, Default::default())?;
                    (
                        None,
                        Some(crate::replay_venue::ReplayVenue::new(
                            rep,
                            *instrument_id,
                            r.speed,
                            r.cancel_ahead_probability,
                        )),
                    )
                }
                crate::config::ReplaySource::Lobster { .. } => {
                    return Err(SimError::Unsupported("LOBSTER"))
                }
                crate::config::ReplaySource::Capture { .. } => {
                    return Err(SimError::Unsupported("capture"))
                }
            },
        };
        let max_levels = if market_replay.is_some() {
            20_000
        } else {
            cfg.matching.max_levels_per_side as usize
        };
        let ctl = LatencyControl::new(&cfg.latency);
        Ok(SimVenue {
            engine,
            synth,
            market_replay,
            replay_errors: 0,
            latency: LatencyModel::new(ctl, cfg.seed ^ 0x5eed_1a7e),
            md_delay: cfg.latency.apply_to_market_data,
            sessions: Vec::new(),
            max_sessions: cfg.max_sessions as usize,
            positions: Vec::new(),
            venue_time_offset_ns,
            events: Vec::with_capacity(1024),
            md_seq: 0,
            md_released_seq: 0,
            md_line: DelayLine::with_capacity(1 << 20),
            md_levels: VecDeque::with_capacity(1 << 16),
            batch: Vec::with_capacity(256),
            published: cfg
                .instruments
                .iter()
                .map(|i| (i.id, L2Book::new(max_levels)))
                .collect(),
            scratch: Vec::with_capacity(1 << 16),
            stats: SimStats::default(),
        })
    }

    pub fn engine(&self) -> &MatchingEngine {
        &self.engine
    }

    /// Direct access (tests, a backtest that injects market orders).
    pub fn engine_mut(&mut self) -> &mut MatchingEngine {
        &mut self.engine
    }

    pub fn latency_control(&self) -> LatencyControl {
        self.latency.control().clone()
    }

    pub fn stats(&self) -> SimStats {
        self.stats
    }

    /// Last market-data sequence released to subscribers.
    pub fn md_released_seq(&self) -> u64 {
        self.md_released_seq
    }

    pub fn instrument_ids(&self) -> Vec<u32> {
        self.published.iter().map(|p| p.0).collect()
    }

    fn venue_ns(&self, now_ns: u64) -> u64 {
        (now_ns as i128 + self.venue_time_offset_ns).max(0) as u64
    }

    /// Seed the synthetic books (call once at start).
    pub fn start(&mut self, now_ns: u64, sink: &mut impl VenueSink) {
        if let Some(s) = self.synth.as_mut() {
            // The flow's clock starts at the caller's `now_ns`.
            s.rebase(now_ns);
            self.events.clear();
            let mut events = std::mem::take(&mut self.events);
            if let Some(s) = self.synth.as_mut() {
                s.seed_books(&mut self.engine, now_ns, &mut events);
            }
            self.route(&mut events, now_ns);
            self.events = events;
        }
        self.release(now_ns, sink);
    }

    pub fn open_session(&mut self, account: u32, stp_id: u64) -> Result<SessionId, SessionError> {
        if account == MARKET_ACCOUNT {
            return Err(SessionError::ReservedAccount);
        }
        if self.sessions.iter().flatten().any(|s| s.account == account) {
            return Err(SessionError::AccountInUse(account));
        }
        let free = self.sessions.iter().any(|s| s.is_none());
        if !free && self.sessions.len() >= self.max_sessions {
            return Err(SessionError::TooMany);
        }
        if self.position_book(account).is_none() {
            return Err(SessionError::TooManyAccounts(ACCOUNTS_MAX));
        }
        let s = Session {
            account,
            stp_id,
            inbound: DelayLine::with_capacity(SESSION_QUEUE_MAX),
            outbound: DelayLine::with_capacity(SESSION_QUEUE_MAX * 8),
        };
        if let Some(i) = self.sessions.iter().position(|s| s.is_none()) {
            self.sessions[i] = Some(s);
            return Ok(i as SessionId);
        }
        // (No free slot and the table full was refused above.)
        self.sessions.push(Some(s));
        Ok((self.sessions.len() - 1) as SessionId)
    }

    /// End a session: its queued requests and undelivered responses are dropped and
    /// its open orders cancelled (cancel on disconnect).
    pub fn close_session(&mut self, id: SessionId, now_ns: u64) {
        let Some(s) = self.sessions.get_mut(id as usize).and_then(|s| s.take()) else {
            return;
        };
        self.stats.dropped_on_close += (s.inbound.len() + s.outbound.len()) as u64;
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        match self.market_replay.as_mut() {
            Some(r) => r.cancel_all(s.account, now_ns, &mut events),
            None => {
                self.engine
                    .cancel_all(s.account, cancel_reason::SESSION_CLOSED, &mut events);
            }
        }
        self.route(&mut events, now_ns);
        self.events = events;
    }

    /// Queue a request; it reaches the engine after the inbound one-way delay.
    pub fn submit(&mut self, id: SessionId, req: Request, now_ns: u64) -> Result<(), SessionError> {
        let d = self.latency.sample_ns();
        let s = self
            .sessions
            .get_mut(id as usize)
            .and_then(|s| s.as_mut())
            .ok_or(SessionError::NoSession)?;
        s.inbound
            .push(now_ns, d, req)
            .map_err(|_| SessionError::QueueFull)?;
        self.stats.requests += 1;
        Ok(())
    }

    /// Time of the next thing due (request, synthetic event, response or md frame).
    pub fn next_due_ns(&self) -> Option<u64> {
        let mut t = self.synth.as_ref().map(|s| s.next_event_ns());
        let mut take = |x: Option<u64>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for s in self.sessions.iter().flatten() {
            take(s.inbound.next_due_ns());
            take(s.outbound.next_due_ns());
        }
        take(self.md_line.next_due_ns());
        take(self.market_replay.as_ref().and_then(|r| r.pending_due_ns()));
        t
    }

    /// Replay mode: whether the recording has been fully published.
    pub fn replay_finished(&self) -> bool {
        self.market_replay.as_ref().is_some_and(|r| r.finished())
    }

    /// Replay mode: the replayed market's book as published.
    pub fn replay_book(&self) -> Option<&L2Book> {
        self.market_replay.as_ref().map(|r| r.book())
    }

    /// Replay errors (a corrupt line ends the replay; counted here).
    pub fn replay_errors(&self) -> u64 {
        self.replay_errors
    }

    /// Run everything due at or before `now_ns`, in time order, and release output.
    pub fn advance(&mut self, now_ns: u64, sink: &mut impl VenueSink) {
        let mut events = std::mem::take(&mut self.events);
        let mut synth_budget = SYNTH_EVENTS_PER_ADVANCE_MAX;
        loop {
            // Earliest due request (ties: lowest session id), against the next synthetic event.
            let mut best: Option<(u64, usize)> = None;
            for (i, s) in self.sessions.iter().enumerate() {
                if let Some(t) = s.as_ref().and_then(|s| s.inbound.next_due_ns()) {
                    if t <= now_ns && best.is_none_or(|b| t < b.0) {
                        best = Some((t, i));
                    }
                }
            }
            let mut synth_t = self
                .synth
                .as_ref()
                .map(|s| s.next_event_ns())
                .filter(|&t| t <= now_ns && synth_budget > 0);
            if let Some(r) = self.market_replay.as_mut() {
                match r.next_due_ns(now_ns) {
                    Ok(t) => synth_t = t.filter(|&t| t <= now_ns && synth_budget > 0),
                    Err(_) => {
                        // A damaged recording ends the replay; the market stays as it was.
                        self.replay_errors += 1;
                        r.stop();
                    }
                }
            }
            events.clear();
            match (best, synth_t) {
                (Some((t, i)), st) if st.is_none_or(|st| t <= st) => {
                    let Some(s) = self.sessions[i].as_mut() else {
                        break;
                    };
                    let Some(req) = s.inbound.pop_due(t) else {
                        break;
                    };
                    let (account, stp_id) = (s.account, s.stp_id);
                    self.process(account, stp_id, req, t, &mut events);
                    self.route(&mut events, t);
                }
                (_, Some(t)) => {
                    if let Some(s) = self.synth.as_mut() {
                        s.step(&mut self.engine, &mut events);
                    }
                    if let Some(r) = self.market_replay.as_mut() {
                        r.step(t, &mut events);
                    }
                    synth_budget -= 1;
                    self.stats.synth_events += 1;
                    self.route(&mut events, t);
                }
                _ => break,
            }
        }
        self.events = events;
        self.release(now_ns, sink);
    }

    fn process(
        &mut self,
        account: u32,
        stp_id: u64,
        req: Request,
        now_ns: u64,
        out: &mut Vec<ExecEvent>,
    ) {
        if let Some(r) = self.market_replay.as_mut() {
            r.request(account, req, now_ns, out);
            return;
        }
        match req {
            Request::New(m) => self.engine.new_order(
                &NewOrder {
                    account,
                    stp_id,
                    client_order_id: m.client_order_id,
                    instrument_id: m.instrument_id,
                    side: m.side,
                    order_type: m.order_type,
                    tif: m.tif,
                    price_e8: m.price_e8,
                    qty_e8: m.qty_e8,
                },
                now_ns,
                out,
            ),
            Request::Cancel(m) => self.engine.cancel(
                &OrderRef {
                    account,
                    client_order_id: m.client_order_id,
                    venue_order_id: m.venue_order_id,
                },
                now_ns,
                out,
            ),
            Request::Modify(m) => self.engine.modify(
                &Modify {
                    order: OrderRef {
                        account,
                        client_order_id: m.client_order_id,
                        venue_order_id: m.venue_order_id,
                    },
                    price_e8: m.price_e8,
                    qty_e8: m.qty_e8,
                },
                now_ns,
                out,
            ),
        }
    }

    /// The account's position in every instrument, in instrument order (all zero for an
    /// account the venue has never seen). What the server reports after each `LogonAck`.
    pub fn positions(&self, account: u32) -> Vec<AccountPosition> {
        match self.positions.iter().find(|p| p.0 == account) {
            Some(p) => p.1.clone(),
            None => self.flat_book(),
        }
    }

    /// Every instrument at zero, in instrument order.
    fn flat_book(&self) -> Vec<AccountPosition> {
        self.published
            .iter()
            .map(|p| AccountPosition {
                instrument_id: p.0,
                ..Default::default()
            })
            .collect()
    }

    /// The account's entry, made on first use; `None` when [`ACCOUNTS_MAX`] accounts have one.
    fn position_book(&mut self, account: u32) -> Option<&mut Vec<AccountPosition>> {
        let i = match self.positions.iter().position(|p| p.0 == account) {
            Some(i) => i,
            None => {
                if self.positions.len() >= ACCOUNTS_MAX {
                    return None;
                }
                let book = self.flat_book();
                self.positions.push((account, book));
                self.positions.len() - 1
            }
        };
        Some(&mut self.positions[i].1)
    }

    fn book_fill(&mut self, account: u32, instrument_id: u32, side: u8, qty_e8: i64) {
        let Some(book) = self.position_book(account) else {
            // Cannot happen: an account trades only through a session, and a session is
            // opened only once its account has an entry.
            return;
        };
        let Some(p) = book.iter_mut().find(|p| p.instrument_id == instrument_id) else {
            return;
        };
        if side == runtime::msg::side::BUY {
            p.bought_e8 = p.bought_e8.saturating_add(qty_e8);
            p.position_e8 = p.position_e8.saturating_add(qty_e8);
        } else {
            p.sold_e8 = p.sold_e8.saturating_add(qty_e8);
            p.position_e8 = p.position_e8.saturating_sub(qty_e8);
        }
    }

    fn session_of(&self, account: u32) -> Option<usize> {
        self.sessions
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.account == account))
    }

    /// Turn engine events into delayed responses and sequenced market data.
    fn route(&mut self, events: &mut Vec<ExecEvent>, now_ns: u64) {
        let venue_ns = self.venue_ns(now_ns);
        self.batch.clear();
        for ev in events.iter() {
            match *ev {
                ExecEvent::Level {
                    instrument_id,
                    side,
                    price_e8,
                    qty_e8,
                    ..
                } => self.batch.push((
                    instrument_id,
                    DeltaLevel {
                        side,
                        price_e8,
                        qty_e8,
                    },
                )),
                ExecEvent::Trade {
                    instrument_id,
                    price_e8,
                    qty_e8,
                    aggressor_side,
                    trade_id,
                } => {
                    self.md_seq += 1;
                    let item = MdItem::Trade {
                        seq: self.md_seq,
                        msg: TradePrintMsg {
                            instrument_id,
                            aggressor_side,
                            price_e8,
                            qty_e8,
                            trade_id,
                            venue_ns,
                        },
                    };
                    self.push_md(now_ns, item);
                }
                _ => {
                    let Some(account) = ev.account() else {
                        continue;
                    };
                    if account == MARKET_ACCOUNT {
                        continue;
                    }
                    // The position moves when the engine matches, whether or not the
                    // response ever reaches the client.
                    if let ExecEvent::Fill {
                        instrument_id,
                        side,
                        qty_e8,
                        ..
                    } = *ev
                    {
                        self.book_fill(account, instrument_id, side, qty_e8);
                    }
                    let Some(si) = self.session_of(account) else {
                        continue;
                    };
                    let frame = response_frame(ev, venue_ns);
                    let d = self.latency.sample_ns();
                    if let Some(s) = self.sessions[si].as_mut() {
                        // A full outbound line means the client stopped reading; the
                        // server closes such sessions (slow consumer) before this matters.
                        let _ = s.outbound.push(now_ns, d, frame);
                    }
                }
            }
        }
        // One BookDelta per instrument touched by this request, in first-touch order.
        let mut k = 0;
        while k < self.batch.len() {
            let iid = self.batch[k].0;
            if self.batch[..k].iter().any(|b| b.0 == iid) {
                k += 1;
                continue;
            }
            // Split into frames of at most MAX_DELTA_LEVELS levels (a replayed snapshot can be larger).
            let mut n = 0;
            for j in k..self.batch.len() {
                if self.batch[j].0 != iid {
                    continue;
                }
                self.md_levels.push_back(self.batch[j].1);
                n += 1;
                if n == MAX_DELTA_LEVELS {
                    self.md_seq += 1;
                    let item = MdItem::Delta {
                        seq: self.md_seq,
                        instrument_id: iid,
                        venue_ns,
                        levels: n,
                    };
                    self.push_md(now_ns, item);
                    n = 0;
                }
            }
            if n > 0 {
                self.md_seq += 1;
                let item = MdItem::Delta {
                    seq: self.md_seq,
                    instrument_id: iid,
                    venue_ns,
                    levels: n,
                };
                self.push_md(now_ns, item);
            }
            k += 1;
        }
        events.clear();
    }

    fn push_md(&mut self, now_ns: u64, item: MdItem) {
        let d = if self.md_delay {
            self.latency.sample_ns()
        } else {
            0
        };
        if self.md_line.push(now_ns, d, item).is_err() {
            // Never expected (1 M frames in flight); keep the stream consistent by releasing now.
            let mut sink = NullSink;
            self.release(u64::MAX, &mut sink);
        }
    }

    fn release(&mut self, now_ns: u64, sink: &mut impl VenueSink) {
        for i in 0..self.sessions.len() {
            while let Some(f) = self.sessions[i]
                .as_mut()
                .and_then(|s| s.outbound.pop_due(now_ns))
            {
                self.stats.responses += 1;
                sink.to_session(i as SessionId, &f);
            }
        }
        while let Some(item) = self.md_line.pop_due(now_ns) {
            self.scratch.clear();
            let seq = match item {
                MdItem::Trade { seq, msg } => {
                    encode(&Frame::TradePrint(msg), seq, &mut self.scratch);
                    seq
                }
                MdItem::Delta {
                    seq,
                    instrument_id,
                    venue_ns,
                    levels,
                } => {
                    // The delta's levels are the first `levels` of the queue; make them
                    // contiguous when the ring wraps (rotates in place, no allocation).
                    if self.md_levels.as_slices().0.len() < levels {
                        self.md_levels.make_contiguous();
                    }
                    let levels_vec: &[DeltaLevel] = &self.md_levels.as_slices().0[..levels];
                    if let Some(book) = self.published.iter_mut().find(|p| p.0 == instrument_id) {
                        for l in levels_vec {
                            let _ = book.1.set(l.side, l.price_e8, l.qty_e8);
                        }
                    }
                    // Cannot fail: sides come from the engine, count ≤ MAX_DELTA_LEVELS.
                    let _ = encode_book_delta(
                        &mut self.scratch,
                        seq,
                        instrument_id,
                        0,
                        venue_ns,
                        levels_vec,
                    );
                    self.md_levels.drain(..levels);
                    seq
                }
            };
            self.md_released_seq = seq;
            self.stats.md_frames += 1;
            sink.market_data(seq, &self.scratch);
        }
    }

    /// Encode a Snapshot of the published book (consistent with [`Self::md_released_seq`]).
    pub fn snapshot_into(
        &self,
        instrument_id: u32,
        venue_now_ns: u64,
        max_levels: usize,
        out: &mut Vec<u8>,
    ) -> bool {
        let Some((_, book)) = self.published.iter().find(|p| p.0 == instrument_id) else {
            return false;
        };
        let half = max_levels / 2;
        let bids: Vec<(i64, i64)> = book.bids.iter().take(half).collect();
        let asks: Vec<(i64, i64)> = book.asks.iter().take(half).collect();
        encode_snapshot(
            out,
            self.md_released_seq,
            instrument_id,
            self.venue_ns(venue_now_ns),
            &bids,
            &asks,
        )
        .is_ok()
    }
}

struct NullSink;
impl VenueSink for NullSink {
    fn to_session(&mut self, _: SessionId, _: &Frame<'static>) {}
    fn market_data(&mut self, _: u64, _: &[u8]) {}
}

/// The wire frame for an engine event addressed to an account.
pub fn response_frame(ev: &ExecEvent, venue_ns: u64) -> Frame<'static> {
    match *ev {
        ExecEvent::Accepted {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            price_e8,
            qty_e8,
            ..
        } => Frame::OrderAccepted(OrderAcceptedMsg {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            price_e8,
            qty_e8,
            venue_ns,
        }),
        ExecEvent::Open {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            price_e8,
            leaves_qty_e8,
            ..
        } => Frame::OrderOpen(OrderOpenMsg {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            price_e8,
            leaves_qty_e8,
            venue_ns,
        }),
        ExecEvent::Fill {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            price_e8,
            qty_e8,
            leaves_qty_e8,
            trade_id,
            maker,
            ..
        } => Frame::Fill(FillMsg {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            maker: maker as u8,
            price_e8,
            qty_e8,
            leaves_qty_e8,
            trade_id,
            venue_ns,
        }),
        ExecEvent::Cancelled {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            price_e8,
            cancelled_qty_e8,
            reason,
            ..
        } => Frame::Cancelled(CancelledMsg {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            reason,
            price_e8,
            cancelled_qty_e8,
            venue_ns,
        }),
        ExecEvent::Rejected {
            client_order_id,
            instrument_id,
            reason,
            ..
        } => Frame::Rejected(RejectedMsg {
            client_order_id,
            instrument_id,
            reason,
            venue_ns,
        }),
        ExecEvent::CancelRejected {
            client_order_id,
            venue_order_id,
            reason,
            ..
        } => Frame::CancelRejected(CancelRejectedMsg {
            client_order_id,
            venue_order_id,
            reason,
            venue_ns,
        }),
        ExecEvent::Modified {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            price_e8,
            qty_e8,
            leaves_qty_e8,
            priority_kept,
            ..
        } => Frame::Modified(ModifiedMsg {
            client_order_id,
            venue_order_id,
            instrument_id,
            side,
            priority_kept: priority_kept as u8,
            price_e8,
            qty_e8,
            leaves_qty_e8,
            venue_ns,
        }),
        // Public events have no session frame; callers route them to market data.
        ExecEvent::Trade { .. } | ExecEvent::Level { .. } => {
            Frame::Heartbeat(crate::protocol::Heartbeat { send_ns: venue_ns })
        }
    }
}
