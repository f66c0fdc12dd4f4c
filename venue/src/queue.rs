//! Queue-position models for our passive orders against recorded markets.
//!
//! The recorded market does not contain our orders, so a fill is inferred:
//!
//! - [`LevelQueueModel`] (price-level data such as Binance): our order joins the back
//!   of its level (the displayed quantity is ahead of it); trades printing at our price
//!   consume the queue ahead first; a shrinking level not explained by trades is
//!   cancellations, a configurable share of which were ahead of us; a trade at a worse
//!   price means the market went through our level. Each trade's quantity is handed out
//!   once, in priority order across all our orders: never two fills from the same
//!   displayed quantity.
//! - [`FifoQueueModel`] (order-by-order data, LOBSTER): the exact FIFO position, by
//!   order id and arrival number.
//!
//! Our requests take effect after the order-entry latency (`order_latency_ns`); what
//! the strategy sees is delayed by `feed_latency_ns` (the driver applies it to market
//! events it hands on; [`QueueConfig::visible_at_ns`]).
//!
//! Assumption (level data): a trade is seen before the depth update that reflects it,
//! as Binance's trade stream usually leads its depth stream; otherwise the decrease is
//! first taken for cancellations.

use crate::book::L2Book;
use crate::replay::lobster::{kind, Applied, LobsterBook};
use runtime::msg::side;

/// Model settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueConfig {
    /// Share of unexplained level decreases that happened ahead of our order (0..=1).
    pub cancel_ahead_probability: f64,
    /// Our request → the matching engine.
    pub order_latency_ns: u64,
    /// The venue's event → our strategy.
    pub feed_latency_ns: u64,
}

impl QueueConfig {
    /// When the strategy may see a market event that happened at `event_ns`.
    pub fn visible_at_ns(&self, event_ns: u64) -> u64 {
        event_ns.saturating_add(self.feed_latency_ns)
    }
}

/// A fill or state change of one of our orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueEvent {
    /// Reached the venue and joined its level with `ahead` in front.
    Active {
        id: u64,
        ts_ns: u64,
        ahead: i64,
    },
    Fill {
        id: u64,
        ts_ns: u64,
        price: i64,
        qty: i64,
        leaves: i64,
    },
    Cancelled {
        id: u64,
        ts_ns: u64,
        leaves: i64,
    },
    /// A cancel arrived after the order was filled (too late).
    CancelTooLate {
        id: u64,
        ts_ns: u64,
    },
}

/// One of our passive orders in a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwnOrder {
    pub id: u64,
    pub side: u8,
    pub price: i64,
    pub leaves: i64,
    /// Quantity in front of us at our level.
    pub ahead: i64,
    pub active: bool,
    arrive_ns: u64,
    cancel_at_ns: Option<u64>,
    /// Placement order (time priority among our own orders).
    seq: u64,
    /// Displayed quantity at our level when we last looked.
    level_seen: i64,
    /// Traded at our price since the last depth update there.
    traded_since: i64,
    /// LOBSTER: arrival number of the last market order ahead of us.
    arrival_mark: u64,
}

/// Is `price` at or better than `other` for a resting order of `side`?
fn at_or_better(side_code: u8, price: i64, other: i64) -> bool {
    if side_code == side::BUY {
        price >= other
    } else {
        price <= other
    }
}

fn priority_sort(orders: &mut [OwnOrder]) {
    // Better price first, then time.
    orders.sort_by(|a, b| {
        let pa = if a.side == side::BUY {
            -a.price
        } else {
            a.price
        };
        let pb = if b.side == side::BUY {
            -b.price
        } else {
            b.price
        };
        (a.side, pa, a.seq).cmp(&(b.side, pb, b.seq))
    });
}

/// Level-data queue model for one instrument. Prices and quantities in the book's units (e8).
#[derive(Debug, Clone)]
pub struct LevelQueueModel {
    cfg: QueueConfig,
    /// Probability in parts per million (integer arithmetic keeps runs reproducible).
    cancel_ppm: i64,
    orders: Vec<OwnOrder>,
    next_seq: u64,
}

impl LevelQueueModel {
    pub fn new(cfg: QueueConfig) -> Self {
        LevelQueueModel {
            cfg,
            cancel_ppm: (cfg.cancel_ahead_probability.clamp(0.0, 1.0) * 1e6).round() as i64,
            orders: Vec::with_capacity(64),
            next_seq: 0,
        }
    }

    pub fn orders(&self) -> &[OwnOrder] {
        &self.orders
    }

    pub fn order(&self, id: u64) -> Option<&OwnOrder> {
        self.orders.iter().find(|o| o.id == id)
    }

    /// Send a passive limit order at `send_ns`; it joins its level at `send_ns + order_latency_ns`.
    pub fn submit(&mut self, id: u64, side_code: u8, price: i64, qty: i64, send_ns: u64) {
        self.next_seq += 1;
        self.orders.push(OwnOrder {
            id,
            side: side_code,
            price,
            leaves: qty,
            ahead: 0,
            active: false,
            arrive_ns: send_ns.saturating_add(self.cfg.order_latency_ns),
            cancel_at_ns: None,
            seq: self.next_seq,
            level_seen: 0,
            traded_since: 0,
            arrival_mark: 0,
        });
    }

    /// Send a cancel at `send_ns`; effective after the order latency.
    pub fn cancel(&mut self, id: u64, send_ns: u64) -> bool {
        let at = send_ns.saturating_add(self.cfg.order_latency_ns);
        match self.orders.iter_mut().find(|o| o.id == id) {
            Some(o) => {
                o.cancel_at_ns = Some(at);
                true
            }
            None => false,
        }
    }

    /// Bring requests due by `ts_ns` into effect. Call with each market event's time
    /// before handing the event to the model (`book` as it is before the event).
    pub fn on_time(&mut self, ts_ns: u64, book: &L2Book, out: &mut Vec<QueueEvent>) {
        for o in self.orders.iter_mut() {
            if !o.active && o.arrive_ns <= ts_ns {
                o.active = true;
                let displayed = book.side(o.side).map(|s| s.qty_at(o.price)).unwrap_or(0);
                o.ahead = displayed;
                o.level_seen = displayed;
                out.push(QueueEvent::Active {
                    id: o.id,
                    ts_ns: o.arrive_ns,
                    ahead: displayed,
                });
            }
        }
        let mut i = 0;
        while i < self.orders.len() {
            let o = self.orders[i];
            if let Some(at) = o.cancel_at_ns {
                if at <= ts_ns {
                    out.push(QueueEvent::Cancelled {
                        id: o.id,
                        ts_ns: at,
                        leaves: o.leaves,
                    });
                    self.orders.remove(i);
                    continue;
                }
            }
            i += 1;
        }
    }

    /// A level's displayed quantity is now `new_qty`.
    pub fn on_level(&mut self, side_code: u8, price: i64, new_qty: i64) {
        for o in self
            .orders
            .iter_mut()
            .filter(|o| o.active && o.side == side_code && o.price == price)
        {
            let decrease = o
                .level_seen
                .saturating_sub(new_qty)
                .saturating_sub(o.traded_since);
            if decrease > 0 {
                let ahead_cancelled =
                    (decrease as i128 * self.cancel_ppm as i128 / 1_000_000) as i64;
                o.ahead = o.ahead.saturating_sub(ahead_cancelled).max(0);
            }
            // Never more in front of us than is displayed.
            o.ahead = o.ahead.min(new_qty.max(0));
            o.level_seen = new_qty;
            o.traded_since = 0;
        }
    }

    /// A trade printed: `aggressor_side` took `qty` at `price`.
    pub fn on_trade(
        &mut self,
        ts_ns: u64,
        price: i64,
        qty: i64,
        aggressor_side: u8,
        out: &mut Vec<QueueEvent>,
    ) {
        let passive = if aggressor_side == side::BUY {
            side::SELL
        } else {
            side::BUY
        };
        priority_sort(&mut self.orders);
        let mut remaining = qty;
        let mut consumed_at_price = 0i64;
        for o in self.orders.iter_mut() {
            if !o.active
                || o.side != passive
                || !at_or_better(passive, o.price, price)
                || o.leaves == 0
            {
                continue;
            }
            if o.price == price {
                o.traded_since = o.traded_since.saturating_add(qty);
                // Market quantity already consumed by this trade in front of an earlier
                // order of ours was also in front of this one.
                o.ahead = o.ahead.saturating_sub(consumed_at_price).max(0);
                let take = remaining.min(o.ahead);
                o.ahead -= take;
                consumed_at_price += take;
                remaining -= take;
            }
            // At our price after the queue ahead, or a trade through our price.
            let fill = remaining.min(o.leaves);
            if fill > 0 {
                o.leaves -= fill;
                remaining -= fill;
                out.push(QueueEvent::Fill {
                    id: o.id,
                    ts_ns,
                    price: o.price,
                    qty: fill,
                    leaves: o.leaves,
                });
            }
        }
        self.orders.retain(|o| o.leaves > 0 || !o.active);
    }
}

/// Exact FIFO model on order-by-order data (LOBSTER units: shares, dollars × 10⁴).
#[derive(Debug, Clone)]
pub struct FifoQueueModel {
    cfg: QueueConfig,
    orders: Vec<OwnOrder>,
    next_seq: u64,
}

impl FifoQueueModel {
    pub fn new(cfg: QueueConfig) -> Self {
        FifoQueueModel {
            cfg,
            orders: Vec::with_capacity(64),
            next_seq: 0,
        }
    }

    pub fn order(&self, id: u64) -> Option<&OwnOrder> {
        self.orders.iter().find(|o| o.id == id)
    }

    pub fn submit(&mut self, id: u64, side_code: u8, price: i64, size: i64, send_ns: u64) {
        self.next_seq += 1;
        self.orders.push(OwnOrder {
            id,
            side: side_code,
            price,
            leaves: size,
            ahead: 0,
            active: false,
            arrive_ns: send_ns.saturating_add(self.cfg.order_latency_ns),
            cancel_at_ns: None,
            seq: self.next_seq,
            level_seen: 0,
            traded_since: 0,
            arrival_mark: 0,
        });
    }

    pub fn cancel(&mut self, id: u64, send_ns: u64) -> bool {
        let at = send_ns.saturating_add(self.cfg.order_latency_ns);
        match self.orders.iter_mut().find(|o| o.id == id) {
            Some(o) => {
                o.cancel_at_ns = Some(at);
                true
            }
            None => false,
        }
    }

    /// Bring requests due by `ts_ns` into effect (before applying the message at `ts_ns`).
    pub fn on_time(&mut self, ts_ns: u64, book: &LobsterBook, out: &mut Vec<QueueEvent>) {
        let scale = crate::replay::lobster::PRICE_TO_E8;
        let size_scale = crate::replay::lobster::SIZE_TO_E8;
        for o in self.orders.iter_mut() {
            if !o.active && o.arrive_ns <= ts_ns {
                o.active = true;
                let displayed = book
                    .book
                    .side(o.side)
                    .map(|s| s.qty_at(o.price * scale))
                    .unwrap_or(0)
                    / size_scale;
                o.ahead = displayed;
                // Every order that has arrived so far is ahead of us.
                o.arrival_mark = book.next_arrival() - 1;
                out.push(QueueEvent::Active {
                    id: o.id,
                    ts_ns: o.arrive_ns,
                    ahead: displayed,
                });
            }
        }
        let mut i = 0;
        while i < self.orders.len() {
            let o = self.orders[i];
            if let Some(at) = o.cancel_at_ns {
                if at <= ts_ns {
                    out.push(QueueEvent::Cancelled {
                        id: o.id,
                        ts_ns: at,
                        leaves: o.leaves,
                    });
                    self.orders.remove(i);
                    continue;
                }
            }
            i += 1;
        }
    }

    /// A message was applied to the book (`a` from [`LobsterBook::apply`]).
    pub fn on_applied(&mut self, a: &Applied, out: &mut Vec<QueueEvent>) {
        let m = a.msg;
        // Ahead of us: orders resting before the file (no record) or arrived before us.
        let is_ahead = |o: &OwnOrder| a.before.is_none_or(|b| b.arrival <= o.arrival_mark);
        match m.kind {
            kind::PARTIAL_CANCEL | kind::DELETE => {
                for o in self
                    .orders
                    .iter_mut()
                    .filter(|o| o.active && o.side == m.side && o.price == m.price)
                {
                    if a.before.is_none_or(|b| b.arrival <= o.arrival_mark) {
                        o.ahead = o.ahead.saturating_sub(m.size).max(0);
                    }
                }
            }
            kind::EXECUTE_VISIBLE | kind::EXECUTE_HIDDEN => {
                priority_sort(&mut self.orders);
                let mut remaining = m.size;
                for o in self.orders.iter_mut() {
                    if !o.active
                        || o.side != m.side
                        || o.leaves == 0
                        || !at_or_better(m.side, o.price, m.price)
                    {
                        continue;
                    }
                    if m.kind == kind::EXECUTE_VISIBLE && o.price == m.price && is_ahead(o) {
                        // The execution hit an order in front of us: we move up.
                        o.ahead = o.ahead.saturating_sub(m.size).max(0);
                        remaining = 0;
                        continue;
                    }
                    if m.kind == kind::EXECUTE_HIDDEN && o.price == m.price && o.ahead > 0 {
                        // Hidden liquidity at our price while displayed orders are still in
                        // front of us (e.g. a midpoint order): it says nothing about our turn.
                        continue;
                    }
                    // The aggressor reached past us: an order behind us at our price, hidden
                    // liquidity once we are at the front, or a worse price.
                    let fill = remaining.min(o.leaves);
                    if fill > 0 {
                        o.leaves -= fill;
                        remaining -= fill;
                        out.push(QueueEvent::Fill {
                            id: o.id,
                            ts_ns: m.time_ns,
                            price: o.price,
                            qty: fill,
                            leaves: o.leaves,
                        });
                    }
                }
                self.orders.retain(|o| o.leaves > 0 || !o.active);
            }
            _ => {}
        }
    }
}
