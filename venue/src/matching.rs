//! The matching engine: one order-by-order book per instrument, strict price-time
//! priority, trades at the resting order's price, partial fills, self-trade prevention
//! that cancels the resting order (NSE's default, by PAN: `stp_id`), tick-size and
//! limit-price-band checks, broker-style rate limits and a modification cap.
//!
//! Pure and deterministic: every call takes `now_ns` and appends [`ExecEvent`]s to a
//! caller-owned buffer; no clock, no I/O, no randomness. The server, the synthetic
//! flow and a backtest all drive the same code.
//!
//! Memory: order slots, the client-id index and the level arrays are allocated at
//! construction from [`MatchingRules`] limits; the book refuses (`BOOK_FULL`) instead
//! of growing. Rate-limit state grows once per new account (not per order).

use crate::config::{Instrument, MatchingRules, RateLimits};
use runtime::msg::{order_type, side, tif};
use std::collections::HashMap;

/// Reject and cancel-reject reason codes (carried on the wire as `u16`).
pub mod reject {
    pub const UNKNOWN_INSTRUMENT: u16 = 1;
    pub const BAD_SIDE: u16 = 2;
    pub const BAD_ORDER_TYPE: u16 = 3;
    pub const BAD_TIF: u16 = 4;
    pub const BAD_QTY: u16 = 5;
    /// Quantity not a whole number of lots.
    pub const BAD_LOT: u16 = 6;
    pub const BAD_PRICE: u16 = 7;
    /// Price not a multiple of the tick.
    pub const BAD_TICK: u16 = 8;
    /// Limit price outside the price band (limit price protection).
    pub const OUTSIDE_BAND: u16 = 9;
    pub const RATE_LIMIT_SECOND: u16 = 10;
    pub const RATE_LIMIT_MINUTE: u16 = 11;
    pub const RATE_LIMIT_DAY: u16 = 12;
    /// The order reached its modification cap.
    pub const MODIFY_CAP: u16 = 13;
    /// No live order with that id for this account (already filled or cancelled: too late).
    pub const UNKNOWN_ORDER: u16 = 14;
    pub const DUPLICATE_CLIENT_ORDER_ID: u16 = 15;
    /// The book is at its configured order or level limit.
    pub const BOOK_FULL: u16 = 16;
    /// A modification would leave no open quantity (new quantity ≤ filled).
    pub const QTY_BELOW_FILLED: u16 = 17;
    /// Request on an order-entry session that has not logged on.
    pub const NOT_LOGGED_ON: u16 = 18;
    /// The venue is halted (kill, replay ended).
    pub const HALTED: u16 = 19;
    /// Human name of a reason code.
    pub fn name(code: u16) -> &'static str {
        match code {
            UNKNOWN_INSTRUMENT => "unknown instrument",
            BAD_SIDE => "bad side",
            BAD_ORDER_TYPE => "bad order type",
            BAD_TIF => "bad time in force",
            BAD_QTY => "bad quantity",
            BAD_LOT => "quantity not a multiple of the lot size",
            BAD_PRICE => "bad price",
            BAD_TICK => "price not a multiple of the tick size",
            OUTSIDE_BAND => "price outside the limit price band",
            RATE_LIMIT_SECOND => "rate limit: orders per second",
            RATE_LIMIT_MINUTE => "rate limit: orders per minute",
            RATE_LIMIT_DAY => "rate limit: orders per day",
            MODIFY_CAP => "modification cap reached",
            UNKNOWN_ORDER => "unknown order (filled, cancelled or never existed)",
            DUPLICATE_CLIENT_ORDER_ID => "duplicate client order id",
            BOOK_FULL => "book full",
            QTY_BELOW_FILLED => "new quantity not above the filled quantity",
            NOT_LOGGED_ON => "not logged on",
            HALTED => "venue halted",
            _ => "unknown reason",
        }
    }
}

/// Why an open order left the book without a fill.
pub mod cancel_reason {
    pub const USER_REQUESTED: u16 = 1;
    /// Self-trade prevention cancelled this resting order.
    pub const SELF_TRADE: u16 = 2;
    /// Unfilled rest of an IOC order.
    pub const IOC_REMAINDER: u16 = 3;
    /// Unfilled rest of a market order (empty book or band reached).
    pub const MARKET_REMAINDER: u16 = 4;
    /// The owning session disconnected or logged out (cancel on disconnect).
    pub const SESSION_CLOSED: u16 = 5;
    /// Mass cancel by the venue (kill switch, halt).
    pub const VENUE: u16 = 6;
}

/// (price_e8, qty_e8).
pub type PriceQty = (i64, i64);

/// Largest order quantity accepted (10⁹ units): level sums stay far from overflow.
pub const MAX_QTY_E8: i64 = 1_000_000_000 * runtime::msg::PRICE_SCALE;

/// Account of the synthetic flow and the replayed market: never rate limited.
pub const MARKET_ACCOUNT: u32 = 0;

/// A new order request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NewOrder {
    pub account: u32,
    /// Self-trade prevention group (a PAN); 0 = none.
    pub stp_id: u64,
    pub client_order_id: u64,
    pub instrument_id: u32,
    pub side: u8,
    pub order_type: u8,
    pub tif: u8,
    pub price_e8: i64,
    pub qty_e8: i64,
}

/// Which order a cancel or modify refers to: the venue id when non-zero, else the
/// account's client order id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OrderRef {
    pub account: u32,
    pub client_order_id: u64,
    pub venue_order_id: u64,
}

/// A modification: new limit price and new total quantity (filled part included).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Modify {
    pub order: OrderRef,
    pub price_e8: i64,
    pub qty_e8: i64,
}

/// What happened, in order. Fills come in maker/taker pairs followed by one `Trade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecEvent {
    Accepted {
        account: u32,
        client_order_id: u64,
        venue_order_id: u64,
        instrument_id: u32,
        side: u8,
        price_e8: i64,
        qty_e8: i64,
    },
    /// Resting on the book.
    Open {
        account: u32,
        client_order_id: u64,
        venue_order_id: u64,
        instrument_id: u32,
        side: u8,
        price_e8: i64,
        leaves_qty_e8: i64,
    },
    Fill {
        account: u32,
        client_order_id: u64,
        venue_order_id: u64,
        instrument_id: u32,
        side: u8,
        price_e8: i64,
        qty_e8: i64,
        leaves_qty_e8: i64,
        trade_id: u64,
        /// True for the resting (passive) side.
        maker: bool,
    },
    Cancelled {
        account: u32,
        client_order_id: u64,
        venue_order_id: u64,
        instrument_id: u32,
        side: u8,
        price_e8: i64,
        cancelled_qty_e8: i64,
        reason: u16,
    },
    Rejected {
        account: u32,
        client_order_id: u64,
        instrument_id: u32,
        reason: u16,
    },
    CancelRejected {
        account: u32,
        client_order_id: u64,
        venue_order_id: u64,
        reason: u16,
    },
    Modified {
        account: u32,
        client_order_id: u64,
        venue_order_id: u64,
        instrument_id: u32,
        side: u8,
        price_e8: i64,
        qty_e8: i64,
        leaves_qty_e8: i64,
        priority_kept: bool,
    },
    /// Public print.
    Trade {
        instrument_id: u32,
        price_e8: i64,
        qty_e8: i64,
        aggressor_side: u8,
        trade_id: u64,
    },
    /// Aggregate quantity at a price level after this request (0 = level gone).
    Level {
        instrument_id: u32,
        side: u8,
        price_e8: i64,
        qty_e8: i64,
        orders: u32,
    },
}

impl ExecEvent {
    /// Account the event is addressed to (`None` for public market data).
    pub fn account(&self) -> Option<u32> {
        match *self {
            ExecEvent::Accepted { account, .. }
            | ExecEvent::Open { account, .. }
            | ExecEvent::Fill { account, .. }
            | ExecEvent::Cancelled { account, .. }
            | ExecEvent::Rejected { account, .. }
            | ExecEvent::CancelRejected { account, .. }
            | ExecEvent::Modified { account, .. } => Some(account),
            ExecEvent::Trade { .. } | ExecEvent::Level { .. } => None,
        }
    }
}

/// A resting order as the book sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RestingOrder {
    pub venue_order_id: u64,
    pub client_order_id: u64,
    pub account: u32,
    pub stp_id: u64,
    pub instrument_id: u32,
    pub side: u8,
    pub price_e8: i64,
    pub qty_e8: i64,
    pub leaves_qty_e8: i64,
    pub modifications: u32,
}

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy)]
struct Slot {
    order: RestingOrder,
    prev: u32,
    next: u32,
    generation: u32,
    live: bool,
    book: u32,
}

#[derive(Debug, Clone, Copy)]
struct LevelQ {
    /// Price for bids, −price for asks: ascending, best at the end for both sides.
    key: i64,
    qty_e8: i64,
    count: u32,
    head: u32,
    tail: u32,
}

struct SideBook {
    levels: Vec<LevelQ>,
    is_bid: bool,
}

impl SideBook {
    fn key(&self, price_e8: i64) -> i64 {
        if self.is_bid {
            price_e8
        } else {
            -price_e8
        }
    }
    fn price(&self, key: i64) -> i64 {
        if self.is_bid {
            key
        } else {
            -key
        }
    }
    fn find(&self, price_e8: i64) -> Result<usize, usize> {
        let k = self.key(price_e8);
        self.levels.binary_search_by(|l| l.key.cmp(&k))
    }
    fn best(&self) -> Option<&LevelQ> {
        self.levels.last()
    }
}

struct Book {
    instrument: Instrument,
    tick_e8: i64,
    band_lo_e8: i64,
    band_hi_e8: i64,
    bids: SideBook,
    asks: SideBook,
    orders: u32,
}

/// Token bucket in integer units: one token = `window_ns` units, so refill is exact.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    units: u128,
    cap_units: u128,
    per_ns: u128,
    window_ns: u128,
    last_ns: u64,
}

impl Bucket {
    fn new(tokens: u32, window_ns: u64, now_ns: u64) -> Bucket {
        let cap = tokens as u128 * window_ns as u128;
        Bucket {
            units: cap,
            cap_units: cap,
            per_ns: tokens as u128,
            window_ns: window_ns as u128,
            last_ns: now_ns,
        }
    }
    fn refill(&mut self, now_ns: u64) {
        let dt = now_ns.saturating_sub(self.last_ns) as u128;
        self.units = (self.units + dt * self.per_ns).min(self.cap_units);
        self.last_ns = self.last_ns.max(now_ns);
    }
    fn has(&self) -> bool {
        self.units >= self.window_ns
    }
    fn take(&mut self) {
        self.units -= self.window_ns;
    }
}

#[derive(Debug, Clone, Copy)]
struct RateState {
    second: Bucket,
    minute: Bucket,
    day: Bucket,
}

/// Counters for reports and the cockpit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EngineStats {
    pub new_orders: u64,
    pub cancels: u64,
    pub modifies: u64,
    pub rejects: u64,
    pub trades: u64,
    pub self_trade_cancels: u64,
}

/// The matching engine for every instrument of the master.
pub struct MatchingEngine {
    books: Vec<Book>,
    /// Instrument id → index in `books` (ids are small; a dense table).
    book_index: HashMap<u32, u32>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    by_client: HashMap<(u32, u64), u64>,
    rates: HashMap<u32, RateState>,
    limits: RateLimits,
    rules: MatchingRules,
    next_trade_id: u64,
    stats: EngineStats,
    /// Levels touched by the current request, flushed as `Level` events at its end.
    touched: Vec<(u32, u8, i64)>,
}

impl MatchingEngine {
    pub fn new(instruments: &[Instrument], limits: RateLimits, rules: MatchingRules) -> Self {
        let max_orders =
            (rules.max_orders_per_instrument as usize).saturating_mul(instruments.len());
        let mut books = Vec::with_capacity(instruments.len());
        let mut book_index = HashMap::with_capacity(instruments.len());
        for (i, ins) in instruments.iter().enumerate() {
            let (lo, hi) = ins.band.limits(ins.reference_price_e8);
            books.push(Book {
                tick_e8: ins.tick_e8(),
                band_lo_e8: lo,
                band_hi_e8: hi,
                instrument: ins.clone(),
                bids: SideBook {
                    levels: Vec::with_capacity(rules.max_levels_per_side as usize),
                    is_bid: true,
                },
                asks: SideBook {
                    levels: Vec::with_capacity(rules.max_levels_per_side as usize),
                    is_bid: false,
                },
                orders: 0,
            });
            book_index.insert(ins.id, i as u32);
        }
        // Slots are created on demand up to `max_orders` (so a test engine is cheap), then reused.
        MatchingEngine {
            books,
            book_index,
            slots: Vec::with_capacity(max_orders.min(1 << 16)),
            free: Vec::with_capacity(max_orders.min(1 << 16)),
            by_client: HashMap::with_capacity(max_orders.min(1 << 16)),
            rates: HashMap::new(),
            limits,
            rules,
            next_trade_id: 1,
            stats: EngineStats::default(),
            touched: Vec::with_capacity(64),
        }
    }

    pub fn stats(&self) -> EngineStats {
        self.stats
    }

    pub fn instruments(&self) -> impl Iterator<Item = &Instrument> {
        self.books.iter().map(|b| &b.instrument)
    }

    pub fn instrument(&self, instrument_id: u32) -> Option<&Instrument> {
        self.book(instrument_id).map(|b| &b.instrument)
    }

    fn book(&self, instrument_id: u32) -> Option<&Book> {
        self.book_index
            .get(&instrument_id)
            .map(|&i| &self.books[i as usize])
    }

    /// Move the reference price of the band (the exchange's dynamic band update).
    /// Orders already resting are not re-checked here.
    pub fn set_reference_price(&mut self, instrument_id: u32, reference_e8: i64) -> bool {
        let Some(&bi) = self.book_index.get(&instrument_id) else {
            return false;
        };
        let b = &mut self.books[bi as usize];
        let (lo, hi) = b.instrument.band.limits(reference_e8);
        b.band_lo_e8 = lo;
        b.band_hi_e8 = hi;
        true
    }

    /// Best bid and ask (price, aggregate qty), if any.
    pub fn best(&self, instrument_id: u32) -> (Option<PriceQty>, Option<PriceQty>) {
        match self.book(instrument_id) {
            None => (None, None),
            Some(b) => (
                b.bids.best().map(|l| (b.bids.price(l.key), l.qty_e8)),
                b.asks.best().map(|l| (b.asks.price(l.key), l.qty_e8)),
            ),
        }
    }

    /// Up to `max` levels of one side, best first: (price, qty, orders).
    pub fn levels(
        &self,
        instrument_id: u32,
        side_code: u8,
        max: usize,
        out: &mut Vec<(i64, i64, u32)>,
    ) {
        out.clear();
        let Some(b) = self.book(instrument_id) else {
            return;
        };
        let s = if side_code == side::BUY {
            &b.bids
        } else {
            &b.asks
        };
        for l in s.levels.iter().rev().take(max) {
            out.push((s.price(l.key), l.qty_e8, l.count));
        }
    }

    /// Number of levels on one side.
    pub fn depth(&self, instrument_id: u32, side_code: u8) -> usize {
        match self.book(instrument_id) {
            None => 0,
            Some(b) => {
                if side_code == side::BUY {
                    b.bids.levels.len()
                } else {
                    b.asks.levels.len()
                }
            }
        }
    }

    /// Orders of a level in priority order (for tests and the synthetic flow).
    pub fn level_orders(
        &self,
        instrument_id: u32,
        side_code: u8,
        price_e8: i64,
        out: &mut Vec<RestingOrder>,
    ) {
        out.clear();
        let Some(b) = self.book(instrument_id) else {
            return;
        };
        let s = if side_code == side::BUY {
            &b.bids
        } else {
            &b.asks
        };
        if let Ok(i) = s.find(price_e8) {
            let mut cur = s.levels[i].head;
            let mut guard = s.levels[i].count as usize + 1;
            while cur != NIL && guard > 0 {
                out.push(self.slots[cur as usize].order);
                cur = self.slots[cur as usize].next;
                guard -= 1;
            }
        }
    }

    /// The `k`-th order (mod the number found, walking at most 64) of `account` at the
    /// `depth`-th level from the top: how the synthetic flow picks what to cancel.
    pub fn pick_order(
        &self,
        instrument_id: u32,
        side_code: u8,
        depth: usize,
        account: u32,
        k: usize,
    ) -> Option<u64> {
        let b = self.book(instrument_id)?;
        let s = if side_code == side::BUY {
            &b.bids
        } else {
            &b.asks
        };
        let n = s.levels.len();
        if depth >= n {
            return None;
        }
        let lvl = &s.levels[n - 1 - depth];
        let mut found: [u64; 64] = [0; 64];
        let mut m = 0;
        let mut cur = lvl.head;
        while cur != NIL && m < 64 {
            let sl = &self.slots[cur as usize];
            if sl.order.account == account {
                found[m] = sl.order.venue_order_id;
                m += 1;
            }
            cur = sl.next;
        }
        if m == 0 {
            None
        } else {
            Some(found[k % m])
        }
    }

    /// Look up a live order.
    pub fn order(&self, venue_order_id: u64) -> Option<&RestingOrder> {
        self.slot_of(venue_order_id)
            .map(|s| &self.slots[s as usize].order)
    }

    fn slot_of(&self, venue_order_id: u64) -> Option<u32> {
        let low = (venue_order_id & 0xffff_ffff) as u32;
        let generation = (venue_order_id >> 32) as u32;
        if low == 0 {
            return None;
        }
        let s = low - 1;
        let slot = self.slots.get(s as usize)?;
        (slot.live && slot.generation == generation).then_some(s)
    }

    fn resolve(&self, r: &OrderRef) -> Option<u32> {
        let vid = if r.venue_order_id != 0 {
            r.venue_order_id
        } else {
            *self.by_client.get(&(r.account, r.client_order_id))?
        };
        let s = self.slot_of(vid)?;
        (self.slots[s as usize].order.account == r.account).then_some(s)
    }

    /// Check and consume one request from the account's budget.
    fn rate_check(&mut self, account: u32, now_ns: u64) -> Result<(), u16> {
        if account == MARKET_ACCOUNT {
            return Ok(());
        }
        let l = self.limits;
        let st = self.rates.entry(account).or_insert_with(|| RateState {
            second: Bucket::new(l.per_second, 1_000_000_000, now_ns),
            minute: Bucket::new(l.per_minute, 60_000_000_000, now_ns),
            day: Bucket::new(l.per_day, 86_400_000_000_000, now_ns),
        });
        st.second.refill(now_ns);
        st.minute.refill(now_ns);
        st.day.refill(now_ns);
        if !st.second.has() {
            return Err(reject::RATE_LIMIT_SECOND);
        }
        if !st.minute.has() {
            return Err(reject::RATE_LIMIT_MINUTE);
        }
        if !st.day.has() {
            return Err(reject::RATE_LIMIT_DAY);
        }
        st.second.take();
        st.minute.take();
        st.day.take();
        Ok(())
    }

    fn check_price(b: &Book, price_e8: i64) -> Result<(), u16> {
        if price_e8 <= 0 {
            return Err(reject::BAD_PRICE);
        }
        if price_e8 % b.tick_e8 != 0 {
            return Err(reject::BAD_TICK);
        }
        if price_e8 < b.band_lo_e8 || price_e8 > b.band_hi_e8 {
            return Err(reject::OUTSIDE_BAND);
        }
        Ok(())
    }

    fn check_qty(b: &Book, qty_e8: i64) -> Result<(), u16> {
        if qty_e8 <= 0 || qty_e8 > MAX_QTY_E8 {
            return Err(reject::BAD_QTY);
        }
        if qty_e8 % b.instrument.lot_size_e8 != 0 {
            return Err(reject::BAD_LOT);
        }
        Ok(())
    }

    fn validate_new(&mut self, o: &NewOrder, now_ns: u64) -> Result<u32, u16> {
        let bi = *self
            .book_index
            .get(&o.instrument_id)
            .ok_or(reject::UNKNOWN_INSTRUMENT)?;
        if o.side != side::BUY && o.side != side::SELL {
            return Err(reject::BAD_SIDE);
        }
        if o.order_type != order_type::LIMIT && o.order_type != order_type::MARKET {
            return Err(reject::BAD_ORDER_TYPE);
        }
        if o.tif != tif::DAY && o.tif != tif::IOC {
            return Err(reject::BAD_TIF);
        }
        self.rate_check(o.account, now_ns)?;
        let b = &self.books[bi as usize];
        Self::check_qty(b, o.qty_e8)?;
        if o.order_type == order_type::LIMIT {
            Self::check_price(b, o.price_e8)?;
        }
        if self.by_client.contains_key(&(o.account, o.client_order_id)) {
            return Err(reject::DUPLICATE_CLIENT_ORDER_ID);
        }
        Ok(bi)
    }

    /// Enter a new order. Events: `Rejected`, or `Accepted` then fills then `Open` or
    /// `Cancelled` (IOC/market remainder), with `Trade` and `Level` events.
    pub fn new_order(&mut self, o: &NewOrder, now_ns: u64, out: &mut Vec<ExecEvent>) {
        self.stats.new_orders += 1;
        let bi = match self.validate_new(o, now_ns) {
            Ok(bi) => bi,
            Err(reason) => {
                self.stats.rejects += 1;
                out.push(ExecEvent::Rejected {
                    account: o.account,
                    client_order_id: o.client_order_id,
                    instrument_id: o.instrument_id,
                    reason,
                });
                return;
            }
        };
        // Capacity is checked before acceptance so a full book is a clean reject.
        let resting_possible = o.order_type == order_type::LIMIT && o.tif == tif::DAY;
        if resting_possible && !self.has_room(bi, o.side, o.price_e8) {
            self.stats.rejects += 1;
            out.push(ExecEvent::Rejected {
                account: o.account,
                client_order_id: o.client_order_id,
                instrument_id: o.instrument_id,
                reason: reject::BOOK_FULL,
            });
            return;
        }
        let slot = self.alloc_slot();
        let vid = self.venue_id(slot);
        {
            let s = &mut self.slots[slot as usize];
            s.order = RestingOrder {
                venue_order_id: vid,
                client_order_id: o.client_order_id,
                account: o.account,
                stp_id: o.stp_id,
                instrument_id: o.instrument_id,
                side: o.side,
                price_e8: o.price_e8,
                qty_e8: o.qty_e8,
                leaves_qty_e8: o.qty_e8,
                modifications: 0,
            };
            s.book = bi;
            s.live = true;
        }
        self.by_client.insert((o.account, o.client_order_id), vid);
        out.push(ExecEvent::Accepted {
            account: o.account,
            client_order_id: o.client_order_id,
            venue_order_id: vid,
            instrument_id: o.instrument_id,
            side: o.side,
            price_e8: o.price_e8,
            qty_e8: o.qty_e8,
        });
        let is_market = o.order_type == order_type::MARKET;
        self.match_incoming(slot, is_market, out);
        let leaves = self.slots[slot as usize].order.leaves_qty_e8;
        if leaves > 0 {
            if resting_possible {
                self.rest(slot);
                let r = self.slots[slot as usize].order;
                out.push(ExecEvent::Open {
                    account: r.account,
                    client_order_id: r.client_order_id,
                    venue_order_id: r.venue_order_id,
                    instrument_id: r.instrument_id,
                    side: r.side,
                    price_e8: r.price_e8,
                    leaves_qty_e8: r.leaves_qty_e8,
                });
            } else {
                let reason = if is_market {
                    cancel_reason::MARKET_REMAINDER
                } else {
                    cancel_reason::IOC_REMAINDER
                };
                self.finish_unrested(slot, reason, out);
            }
        } else {
            self.release(slot);
        }
        self.flush_levels(out);
    }

    /// Cancel a live order. Events: `Cancelled` + `Level`, or `CancelRejected`.
    pub fn cancel(&mut self, r: &OrderRef, now_ns: u64, out: &mut Vec<ExecEvent>) {
        self.stats.cancels += 1;
        if self.limits.count_cancels {
            if let Err(reason) = self.rate_check(r.account, now_ns) {
                self.cancel_reject(r, reason, out);
                return;
            }
        }
        let Some(slot) = self.resolve(r) else {
            self.cancel_reject(r, reject::UNKNOWN_ORDER, out);
            return;
        };
        self.cancel_slot(slot, cancel_reason::USER_REQUESTED, out);
        self.flush_levels(out);
    }

    /// Cancel every live order of an account (disconnect, logout, kill).
    pub fn cancel_all(&mut self, account: u32, reason: u16, out: &mut Vec<ExecEvent>) -> usize {
        let mut n = 0;
        for i in 0..self.slots.len() {
            let s = &self.slots[i];
            if s.live && s.order.account == account {
                self.cancel_slot(i as u32, reason, out);
                n += 1;
            }
        }
        self.flush_levels(out);
        n
    }

    fn cancel_reject(&mut self, r: &OrderRef, reason: u16, out: &mut Vec<ExecEvent>) {
        self.stats.rejects += 1;
        out.push(ExecEvent::CancelRejected {
            account: r.account,
            client_order_id: r.client_order_id,
            venue_order_id: r.venue_order_id,
            reason,
        });
    }

    /// Modify price and/or total quantity. Events: `Modified` (+ fills if the new price
    /// crosses) + `Level`s, or `CancelRejected`.
    pub fn modify(&mut self, m: &Modify, now_ns: u64, out: &mut Vec<ExecEvent>) {
        self.stats.modifies += 1;
        let Some(slot) = self.resolve(&m.order) else {
            self.cancel_reject(&m.order, reject::UNKNOWN_ORDER, out);
            return;
        };
        if let Err(reason) = self.rate_check(m.order.account, now_ns) {
            self.cancel_reject(&m.order, reason, out);
            return;
        }
        let cur = self.slots[slot as usize].order;
        if cur.modifications >= self.rules.max_modifications_per_order {
            self.cancel_reject(&m.order, reject::MODIFY_CAP, out);
            return;
        }
        let bi = self.slots[slot as usize].book;
        let b = &self.books[bi as usize];
        if let Err(reason) =
            Self::check_qty(b, m.qty_e8).and_then(|_| Self::check_price(b, m.price_e8))
        {
            self.cancel_reject(&m.order, reason, out);
            return;
        }
        let filled = cur.qty_e8 - cur.leaves_qty_e8;
        let new_leaves = m.qty_e8 - filled;
        if new_leaves <= 0 {
            self.cancel_reject(&m.order, reject::QTY_BELOW_FILLED, out);
            return;
        }
        let same_price = m.price_e8 == cur.price_e8;
        let keep = same_price
            && new_leaves <= cur.leaves_qty_e8
            && self.rules.keep_priority_on_qty_decrease;
        if !same_price && !self.has_room(bi, cur.side, m.price_e8) {
            self.cancel_reject(&m.order, reject::BOOK_FULL, out);
            return;
        }
        if keep {
            let delta = cur.leaves_qty_e8 - new_leaves;
            let s = &mut self.slots[slot as usize];
            s.order.leaves_qty_e8 = new_leaves;
            s.order.qty_e8 = m.qty_e8;
            s.order.modifications += 1;
            let o = s.order;
            let sb = self.side_mut(bi, o.side);
            if let Ok(i) = sb.find(o.price_e8) {
                sb.levels[i].qty_e8 -= delta;
            }
            self.touch(o.instrument_id, o.side, o.price_e8);
            out.push(ExecEvent::Modified {
                account: o.account,
                client_order_id: o.client_order_id,
                venue_order_id: o.venue_order_id,
                instrument_id: o.instrument_id,
                side: o.side,
                price_e8: o.price_e8,
                qty_e8: o.qty_e8,
                leaves_qty_e8: o.leaves_qty_e8,
                priority_kept: true,
            });
            self.flush_levels(out);
            return;
        }
        // Priority lost: leave the level, change, re-enter as if new (may cross).
        self.unlink(slot);
        {
            let s = &mut self.slots[slot as usize];
            s.order.price_e8 = m.price_e8;
            s.order.qty_e8 = m.qty_e8;
            s.order.leaves_qty_e8 = new_leaves;
            s.order.modifications += 1;
        }
        let o = self.slots[slot as usize].order;
        out.push(ExecEvent::Modified {
            account: o.account,
            client_order_id: o.client_order_id,
            venue_order_id: o.venue_order_id,
            instrument_id: o.instrument_id,
            side: o.side,
            price_e8: o.price_e8,
            qty_e8: o.qty_e8,
            leaves_qty_e8: o.leaves_qty_e8,
            priority_kept: false,
        });
        self.match_incoming(slot, false, out);
        if self.slots[slot as usize].order.leaves_qty_e8 > 0 {
            self.rest(slot);
        } else {
            self.release(slot);
        }
        self.flush_levels(out);
    }

    // ---- internals ---------------------------------------------------------

    fn side_mut(&mut self, bi: u32, side_code: u8) -> &mut SideBook {
        let b = &mut self.books[bi as usize];
        if side_code == side::BUY {
            &mut b.bids
        } else {
            &mut b.asks
        }
    }

    fn has_room(&self, bi: u32, side_code: u8, price_e8: i64) -> bool {
        let b = &self.books[bi as usize];
        if b.orders >= self.rules.max_orders_per_instrument {
            return false;
        }
        let s = if side_code == side::BUY {
            &b.bids
        } else {
            &b.asks
        };
        s.levels.len() < self.rules.max_levels_per_side as usize || s.find(price_e8).is_ok()
    }

    fn alloc_slot(&mut self) -> u32 {
        if let Some(s) = self.free.pop() {
            let sl = &mut self.slots[s as usize];
            sl.generation = sl.generation.wrapping_add(1);
            sl.prev = NIL;
            sl.next = NIL;
            s
        } else {
            self.slots.push(Slot {
                order: RestingOrder::default(),
                prev: NIL,
                next: NIL,
                generation: 1,
                live: false,
                book: 0,
            });
            (self.slots.len() - 1) as u32
        }
    }

    fn venue_id(&self, slot: u32) -> u64 {
        ((self.slots[slot as usize].generation as u64) << 32) | (slot as u64 + 1)
    }

    fn release(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        debug_assert!(s.live);
        s.live = false;
        let key = (s.order.account, s.order.client_order_id);
        self.by_client.remove(&key);
        self.free.push(slot);
    }

    fn touch(&mut self, instrument_id: u32, side_code: u8, price_e8: i64) {
        let t = (instrument_id, side_code, price_e8);
        if !self.touched.contains(&t) {
            self.touched.push(t);
        }
    }

    fn flush_levels(&mut self, out: &mut Vec<ExecEvent>) {
        for i in 0..self.touched.len() {
            let (iid, sd, px) = self.touched[i];
            let bi = self.book_index[&iid];
            let sb = self.side_mut(bi, sd);
            let (qty, n) = match sb.find(px) {
                Ok(j) => (sb.levels[j].qty_e8, sb.levels[j].count),
                Err(_) => (0, 0),
            };
            out.push(ExecEvent::Level {
                instrument_id: iid,
                side: sd,
                price_e8: px,
                qty_e8: qty,
                orders: n,
            });
        }
        self.touched.clear();
    }

    /// Append the order at the back of its price level.
    fn rest(&mut self, slot: u32) {
        let o = self.slots[slot as usize].order;
        let bi = self.slots[slot as usize].book;
        let sb = self.side_mut(bi, o.side);
        let i = match sb.find(o.price_e8) {
            Ok(i) => i,
            Err(i) => {
                let key = sb.key(o.price_e8);
                sb.levels.insert(
                    i,
                    LevelQ {
                        key,
                        qty_e8: 0,
                        count: 0,
                        head: NIL,
                        tail: NIL,
                    },
                );
                i
            }
        };
        let tail = sb.levels[i].tail;
        sb.levels[i].tail = slot;
        if sb.levels[i].head == NIL {
            sb.levels[i].head = slot;
        }
        sb.levels[i].qty_e8 += o.leaves_qty_e8;
        sb.levels[i].count += 1;
        if tail != NIL {
            self.slots[tail as usize].next = slot;
        }
        let s = &mut self.slots[slot as usize];
        s.prev = tail;
        s.next = NIL;
        self.books[bi as usize].orders += 1;
        self.touch(o.instrument_id, o.side, o.price_e8);
    }

    /// Remove a resting order from its level (the slot stays live).
    fn unlink(&mut self, slot: u32) {
        let (o, prev, next, bi) = {
            let s = &self.slots[slot as usize];
            (s.order, s.prev, s.next, s.book)
        };
        if prev != NIL {
            self.slots[prev as usize].next = next;
        }
        if next != NIL {
            self.slots[next as usize].prev = prev;
        }
        let sb = self.side_mut(bi, o.side);
        if let Ok(i) = sb.find(o.price_e8) {
            let l = &mut sb.levels[i];
            if l.head == slot {
                l.head = next;
            }
            if l.tail == slot {
                l.tail = prev;
            }
            l.qty_e8 -= o.leaves_qty_e8;
            l.count -= 1;
            if l.count == 0 {
                sb.levels.remove(i);
            }
        }
        self.books[bi as usize].orders -= 1;
        let s = &mut self.slots[slot as usize];
        s.prev = NIL;
        s.next = NIL;
        self.touch(o.instrument_id, o.side, o.price_e8);
    }

    fn cancel_slot(&mut self, slot: u32, reason: u16, out: &mut Vec<ExecEvent>) {
        self.unlink(slot);
        self.finish_unrested(slot, reason, out);
    }

    /// Report a cancellation of a live (not resting) slot and free it.
    fn finish_unrested(&mut self, slot: u32, reason: u16, out: &mut Vec<ExecEvent>) {
        let o = self.slots[slot as usize].order;
        out.push(ExecEvent::Cancelled {
            account: o.account,
            client_order_id: o.client_order_id,
            venue_order_id: o.venue_order_id,
            instrument_id: o.instrument_id,
            side: o.side,
            price_e8: o.price_e8,
            cancelled_qty_e8: o.leaves_qty_e8,
            reason,
        });
        self.release(slot);
    }

    /// Match the (unrested) order in `slot` against the opposite side.
    fn match_incoming(&mut self, slot: u32, is_market: bool, out: &mut Vec<ExecEvent>) {
        let bi = self.slots[slot as usize].book;
        let taker_side = self.slots[slot as usize].order.side;
        let maker_side = if taker_side == side::BUY {
            side::SELL
        } else {
            side::BUY
        };
        let (band_lo, band_hi) = {
            let b = &self.books[bi as usize];
            (b.band_lo_e8, b.band_hi_e8)
        };
        // Every pass removes quantity or an order, so the loop is bounded by the book size.
        loop {
            let t = self.slots[slot as usize].order;
            if t.leaves_qty_e8 <= 0 {
                break;
            }
            let sb = self.side_mut(bi, maker_side);
            let Some(best) = sb.best().copied() else {
                break;
            };
            let px = sb.price(best.key);
            let crosses = if is_market {
                // Market orders execute only inside the price band (market protection).
                px >= band_lo && px <= band_hi
            } else if taker_side == side::BUY {
                px <= t.price_e8
            } else {
                px >= t.price_e8
            };
            if !crosses {
                break;
            }
            let maker_slot = best.head;
            let m = self.slots[maker_slot as usize].order;
            if t.stp_id != 0 && m.stp_id == t.stp_id {
                self.stats.self_trade_cancels += 1;
                self.cancel_slot(maker_slot, cancel_reason::SELF_TRADE, out);
                continue;
            }
            let q = t.leaves_qty_e8.min(m.leaves_qty_e8);
            let trade_id = self.next_trade_id;
            self.next_trade_id += 1;
            self.stats.trades += 1;
            self.slots[maker_slot as usize].order.leaves_qty_e8 -= q;
            self.slots[slot as usize].order.leaves_qty_e8 -= q;
            let m_leaves = m.leaves_qty_e8 - q;
            {
                let sb = self.side_mut(bi, maker_side);
                let n = sb.levels.len();
                sb.levels[n - 1].qty_e8 -= q;
            }
            self.touch(m.instrument_id, maker_side, px);
            out.push(ExecEvent::Fill {
                account: m.account,
                client_order_id: m.client_order_id,
                venue_order_id: m.venue_order_id,
                instrument_id: m.instrument_id,
                side: maker_side,
                price_e8: px,
                qty_e8: q,
                leaves_qty_e8: m_leaves,
                trade_id,
                maker: true,
            });
            out.push(ExecEvent::Fill {
                account: t.account,
                client_order_id: t.client_order_id,
                venue_order_id: t.venue_order_id,
                instrument_id: t.instrument_id,
                side: taker_side,
                price_e8: px,
                qty_e8: q,
                leaves_qty_e8: t.leaves_qty_e8 - q,
                trade_id,
                maker: false,
            });
            out.push(ExecEvent::Trade {
                instrument_id: t.instrument_id,
                price_e8: px,
                qty_e8: q,
                aggressor_side: taker_side,
                trade_id,
            });
            if m_leaves == 0 {
                // The level's qty already dropped by q; unlink subtracts the (zero) leaves.
                self.unlink(maker_slot);
                self.release(maker_slot);
            }
        }
    }

    /// Check internal invariants (tests): level sums, counts, links, price ordering.
    pub fn check_invariants(&self) -> Result<(), String> {
        for b in &self.books {
            let mut orders = 0u32;
            for sb in [&b.bids, &b.asks] {
                for w in sb.levels.windows(2) {
                    if w[0].key >= w[1].key {
                        return Err(format!("levels out of order in {}", b.instrument.symbol));
                    }
                }
                for l in &sb.levels {
                    let mut cur = l.head;
                    let mut sum = 0;
                    let mut n = 0;
                    let mut prev = NIL;
                    while cur != NIL {
                        let s = &self.slots[cur as usize];
                        if !s.live || s.prev != prev || s.order.price_e8 != sb.price(l.key) {
                            return Err(format!("broken link at slot {cur}"));
                        }
                        sum += s.order.leaves_qty_e8;
                        n += 1;
                        prev = cur;
                        cur = s.next;
                        if n > l.count {
                            return Err("level list longer than its count".into());
                        }
                    }
                    if prev != l.tail || sum != l.qty_e8 || n != l.count || n == 0 {
                        return Err(format!(
                            "level {} qty {} count {} disagrees with its orders ({sum}, {n})",
                            sb.price(l.key),
                            l.qty_e8,
                            l.count
                        ));
                    }
                    orders += n;
                }
            }
            if orders != b.orders {
                return Err("book order count disagrees".into());
            }
        }
        for b in &self.books {
            if let (Some(bid), Some(ask)) = (b.bids.best(), b.asks.best()) {
                if b.bids.price(bid.key) >= b.asks.price(ask.key) {
                    return Err(format!("crossed book in {}", b.instrument.symbol));
                }
            }
        }
        Ok(())
    }
}
