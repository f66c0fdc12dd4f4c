//! A recorded market served as the venue's market: the recording's book changes and
//! trades are published at the configured speed, and our orders are matched against
//! it: marketable orders take displayed liquidity (each displayed lot once, until the
//! level changes), passive orders wait in the queue-position model
//! ([`crate::queue::LevelQueueModel`]) and fill from recorded trades.
//!
//! Produces the same [`ExecEvent`]s as the matching engine, so [`crate::sim::SimVenue`]
//! routes both the same way.

use crate::book::L2Book;
use crate::config::Speed;
use crate::matching::{cancel_reason, reject, ExecEvent};
use crate::protocol::DeltaLevel;
use crate::queue::{LevelQueueModel, QueueConfig, QueueEvent};
use crate::replay::binance::{BinanceReplay, DepthStatus, Event, ReplayError};
use crate::sim::Request;
use runtime::msg::{order_type, side, tif};

#[derive(Debug, Clone, Copy)]
enum Next {
    Book {
        due_ns: u64,
    },
    Trade {
        due_ns: u64,
        price_e8: i64,
        qty_e8: i64,
        aggressor_side: u8,
        trade_id: u64,
    },
}

#[derive(Debug, Clone, Copy)]
struct Own {
    vid: u64,
    account: u32,
    clid: u64,
    side: u8,
    price_e8: i64,
    qty_e8: i64,
    leaves_e8: i64,
}

/// The replayed market.
pub struct ReplayVenue {
    replay: BinanceReplay,
    instrument_id: u32,
    speed: Speed,
    model: LevelQueueModel,
    book: L2Book,
    /// (recorded ns, caller ns) of the first event: the speed mapping's origin.
    base: Option<(u64, u64)>,
    next: Option<Next>,
    levels: Vec<DeltaLevel>,
    finished: bool,
    own: Vec<Own>,
    next_vid: u64,
    next_trade_id: u64,
    /// Displayed quantity we took per level (side, price, qty), until the level changes.
    taken: Vec<(u8, i64, i64)>,
    qev: Vec<QueueEvent>,
}

impl ReplayVenue {
    pub fn new(
        replay: BinanceReplay,
        instrument_id: u32,
        speed: Speed,
        cancel_ahead_probability: f64,
    ) -> Self {
        ReplayVenue {
            replay,
            instrument_id,
            speed,
            model: LevelQueueModel::new(QueueConfig {
                cancel_ahead_probability,
                // The venue's latency injection already delayed the request.
                order_latency_ns: 0,
                feed_latency_ns: 0,
            }),
            book: L2Book::new(20_000),
            base: None,
            next: None,
            levels: Vec::with_capacity(8192),
            finished: false,
            own: Vec::with_capacity(64),
            next_vid: 1,
            next_trade_id: 1 << 40,
            taken: Vec::with_capacity(64),
            qev: Vec::with_capacity(64),
        }
    }

    /// Due time of the event read ahead, if any (no reading).
    pub fn pending_due_ns(&self) -> Option<u64> {
        self.next.map(|n| match n {
            Next::Book { due_ns } | Next::Trade { due_ns, .. } => due_ns,
        })
    }

    /// End the replay (after an error).
    pub fn stop(&mut self) {
        self.finished = true;
        self.next = None;
    }

    pub fn finished(&self) -> bool {
        self.finished && self.next.is_none()
    }

    pub fn book(&self) -> &L2Book {
        &self.book
    }

    fn due(&mut self, rec_ns: u64, now_ns: u64) -> u64 {
        let (r0, n0) = *self.base.get_or_insert((rec_ns, now_ns));
        let dt = rec_ns.saturating_sub(r0);
        match self.speed {
            Speed::RealTime => n0 + dt,
            Speed::Multiple(x) => n0 + (dt as f64 / x) as u64,
            Speed::AsFastAsPossible => n0,
        }
    }

    /// Read ahead to the next publishable event; its due time, if any.
    pub fn next_due_ns(&mut self, now_ns: u64) -> Result<Option<u64>, ReplayError> {
        while self.next.is_none() && !self.finished {
            let Some((ev, rbook)) = self.replay.next_with_book()? else {
                self.finished = true;
                break;
            };
            match ev {
                Event::Snapshot {
                    local_ns,
                    exchange_ns,
                    ..
                } => {
                    // Publish the difference between what the market shows and the snapshot.
                    self.levels.clear();
                    for (sd, mine, theirs) in [
                        (side::BUY, &self.book.bids, &rbook.bids),
                        (side::SELL, &self.book.asks, &rbook.asks),
                    ] {
                        for (p, _) in mine.iter() {
                            if theirs.qty_at(p) == 0 {
                                self.levels.push(DeltaLevel {
                                    side: sd,
                                    price_e8: p,
                                    qty_e8: 0,
                                });
                            }
                        }
                        for (p, q) in theirs.iter() {
                            if mine.qty_at(p) != q {
                                self.levels.push(DeltaLevel {
                                    side: sd,
                                    price_e8: p,
                                    qty_e8: q,
                                });
                            }
                        }
                    }
                    let t = if exchange_ns > 0 {
                        exchange_ns
                    } else {
                        local_ns
                    };
                    let due_ns = self.due(t, now_ns);
                    self.next = Some(Next::Book { due_ns });
                }
                Event::Depth {
                    local_ns,
                    exchange_ns,
                    status,
                    levels,
                    ..
                } => {
                    if status == DepthStatus::Stale {
                        continue;
                    }
                    self.levels.clear();
                    self.levels.extend_from_slice(levels);
                    let t = if exchange_ns > 0 {
                        exchange_ns
                    } else {
                        local_ns
                    };
                    let due_ns = self.due(t, now_ns);
                    self.next = Some(Next::Book { due_ns });
                }
                Event::Trade {
                    local_ns,
                    exchange_ns,
                    trade_id,
                    price_e8,
                    qty_e8,
                    aggressor_side,
                } => {
                    let t = if exchange_ns > 0 {
                        exchange_ns
                    } else {
                        local_ns
                    };
                    let due_ns = self.due(t, now_ns);
                    self.next = Some(Next::Trade {
                        due_ns,
                        price_e8,
                        qty_e8,
                        aggressor_side,
                        trade_id,
                    });
                }
                Event::Ticker { .. } | Event::Other { .. } => {}
            }
        }
        Ok(self.next.map(|n| match n {
            Next::Book { due_ns } | Next::Trade { due_ns, .. } => due_ns,
        }))
    }

    /// Publish the pending event (call when due).
    pub fn step(&mut self, now_ns: u64, out: &mut Vec<ExecEvent>) {
        let Some(n) = self.next.take() else { return };
        match n {
            Next::Book { .. } => {
                for i in 0..self.levels.len() {
                    let l = self.levels[i];
                    // Values come from a checked replay: set cannot fail except on a full side.
                    let _ = self.book.set(l.side, l.price_e8, l.qty_e8);
                    self.model.on_level(l.side, l.price_e8, l.qty_e8);
                    self.taken.retain(|t| !(t.0 == l.side && t.1 == l.price_e8));
                    out.push(ExecEvent::Level {
                        instrument_id: self.instrument_id,
                        side: l.side,
                        price_e8: l.price_e8,
                        qty_e8: l.qty_e8,
                        orders: 0,
                    });
                }
            }
            Next::Trade {
                price_e8,
                qty_e8,
                aggressor_side,
                trade_id,
                ..
            } => {
                out.push(ExecEvent::Trade {
                    instrument_id: self.instrument_id,
                    price_e8,
                    qty_e8,
                    aggressor_side,
                    trade_id,
                });
                self.qev.clear();
                let mut qev = std::mem::take(&mut self.qev);
                self.model
                    .on_trade(now_ns, price_e8, qty_e8, aggressor_side, &mut qev);
                self.queue_events(&qev, out);
                self.qev = qev;
            }
        }
    }

    fn queue_events(&mut self, qev: &[QueueEvent], out: &mut Vec<ExecEvent>) {
        for e in qev {
            match *e {
                QueueEvent::Fill {
                    id,
                    price,
                    qty,
                    leaves,
                    ..
                } => {
                    let Some(k) = self.own.iter().position(|o| o.vid == id) else {
                        continue;
                    };
                    let o = &mut self.own[k];
                    o.leaves_e8 = leaves;
                    self.next_trade_id += 1;
                    out.push(ExecEvent::Fill {
                        account: o.account,
                        client_order_id: o.clid,
                        venue_order_id: o.vid,
                        instrument_id: self.instrument_id,
                        side: o.side,
                        price_e8: price,
                        qty_e8: qty,
                        leaves_qty_e8: leaves,
                        trade_id: self.next_trade_id,
                        maker: true,
                    });
                    if leaves == 0 {
                        self.own.swap_remove(k);
                    }
                }
                QueueEvent::Cancelled { id, leaves, .. } => {
                    let Some(k) = self.own.iter().position(|o| o.vid == id) else {
                        continue;
                    };
                    let o = self.own.swap_remove(k);
                    out.push(ExecEvent::Cancelled {
                        account: o.account,
                        client_order_id: o.clid,
                        venue_order_id: o.vid,
                        instrument_id: self.instrument_id,
                        side: o.side,
                        price_e8: o.price_e8,
                        cancelled_qty_e8: leaves,
                        reason: cancel_reason::USER_REQUESTED,
                    });
                }
                QueueEvent::Active { .. } | QueueEvent::CancelTooLate { .. } => {}
            }
        }
    }

    fn find(&self, account: u32, clid: u64, vid: u64) -> Option<usize> {
        self.own.iter().position(|o| {
            o.account == account
                && if vid != 0 {
                    o.vid == vid
                } else {
                    o.clid == clid
                }
        })
    }

    /// Handle one of our requests (after its inbound delay).
    pub fn request(&mut self, account: u32, req: Request, now_ns: u64, out: &mut Vec<ExecEvent>) {
        match req {
            Request::New(m) => {
                let bad = if m.instrument_id != self.instrument_id {
                    Some(reject::UNKNOWN_INSTRUMENT)
                } else if m.side != side::BUY && m.side != side::SELL {
                    Some(reject::BAD_SIDE)
                } else if m.order_type != order_type::LIMIT && m.order_type != order_type::MARKET {
                    Some(reject::BAD_ORDER_TYPE)
                } else if m.tif != tif::DAY && m.tif != tif::IOC {
                    Some(reject::BAD_TIF)
                } else if m.qty_e8 <= 0 {
                    Some(reject::BAD_QTY)
                } else if m.order_type == order_type::LIMIT && m.price_e8 <= 0 {
                    Some(reject::BAD_PRICE)
                } else if self.find(account, m.client_order_id, 0).is_some() {
                    Some(reject::DUPLICATE_CLIENT_ORDER_ID)
                } else {
                    None
                };
                if let Some(reason) = bad {
                    out.push(ExecEvent::Rejected {
                        account,
                        client_order_id: m.client_order_id,
                        instrument_id: m.instrument_id,
                        reason,
                    });
                    return;
                }
                let vid = self.next_vid;
                self.next_vid += 1;
                out.push(ExecEvent::Accepted {
                    account,
                    client_order_id: m.client_order_id,
                    venue_order_id: vid,
                    instrument_id: m.instrument_id,
                    side: m.side,
                    price_e8: m.price_e8,
                    qty_e8: m.qty_e8,
                });
                let is_market = m.order_type == order_type::MARKET;
                let mut leaves = m.qty_e8;
                // Take displayed liquidity, best first, each displayed lot once.
                let opp = if m.side == side::BUY {
                    &self.book.asks
                } else {
                    &self.book.bids
                };
                let mut takes: [(i64, i64); 64] = [(0, 0); 64];
                let mut nt = 0;
                for (p, q) in opp.iter() {
                    if leaves == 0 || nt == takes.len() {
                        break;
                    }
                    let crosses = is_market
                        || if m.side == side::BUY {
                            p <= m.price_e8
                        } else {
                            p >= m.price_e8
                        };
                    if !crosses {
                        break;
                    }
                    let opp_side = if m.side == side::BUY {
                        side::SELL
                    } else {
                        side::BUY
                    };
                    let already: i64 = self
                        .taken
                        .iter()
                        .filter(|t| t.0 == opp_side && t.1 == p)
                        .map(|t| t.2)
                        .sum();
                    let take = leaves.min(q - already);
                    if take > 0 {
                        takes[nt] = (p, take);
                        nt += 1;
                        leaves -= take;
                    }
                }
                let opp_side = if m.side == side::BUY {
                    side::SELL
                } else {
                    side::BUY
                };
                for &(p, q) in &takes[..nt] {
                    self.taken.push((opp_side, p, q));
                    self.next_trade_id += 1;
                    out.push(ExecEvent::Fill {
                        account,
                        client_order_id: m.client_order_id,
                        venue_order_id: vid,
                        instrument_id: m.instrument_id,
                        side: m.side,
                        price_e8: p,
                        qty_e8: q,
                        leaves_qty_e8: 0, // fixed below
                        trade_id: self.next_trade_id,
                        maker: false,
                    });
                }
                // Leaves after each fill, in order.
                let mut rem = m.qty_e8;
                let n = out.len();
                for e in out[n - nt..].iter_mut() {
                    if let ExecEvent::Fill {
                        qty_e8,
                        leaves_qty_e8,
                        ..
                    } = e
                    {
                        rem -= *qty_e8;
                        *leaves_qty_e8 = rem;
                    }
                }
                if leaves == 0 {
                    return;
                }
                if is_market || m.tif == tif::IOC {
                    out.push(ExecEvent::Cancelled {
                        account,
                        client_order_id: m.client_order_id,
                        venue_order_id: vid,
                        instrument_id: m.instrument_id,
                        side: m.side,
                        price_e8: m.price_e8,
                        cancelled_qty_e8: leaves,
                        reason: if is_market {
                            cancel_reason::MARKET_REMAINDER
                        } else {
                            cancel_reason::IOC_REMAINDER
                        },
                    });
                    return;
                }
                self.own.push(Own {
                    vid,
                    account,
                    clid: m.client_order_id,
                    side: m.side,
                    price_e8: m.price_e8,
                    qty_e8: m.qty_e8,
                    leaves_e8: leaves,
                });
                self.model.submit(vid, m.side, m.price_e8, leaves, now_ns);
                self.qev.clear();
                let mut qev = std::mem::take(&mut self.qev);
                self.model.on_time(now_ns, &self.book, &mut qev);
                self.qev = qev;
                out.push(ExecEvent::Open {
                    account,
                    client_order_id: m.client_order_id,
                    venue_order_id: vid,
                    instrument_id: m.instrument_id,
                    side: m.side,
                    price_e8: m.price_e8,
                    leaves_qty_e8: leaves,
                });
            }
            Request::Cancel(c) => match self.find(account, c.client_order_id, c.venue_order_id) {
                None => out.push(ExecEvent::CancelRejected {
                    account,
                    client_order_id: c.client_order_id,
                    venue_order_id: c.venue_order_id,
                    reason: reject::UNKNOWN_ORDER,
                }),
                Some(k) => {
                    let vid = self.own[k].vid;
                    self.model.cancel(vid, now_ns);
                    let mut qev = std::mem::take(&mut self.qev);
                    qev.clear();
                    self.model.on_time(now_ns, &self.book, &mut qev);
                    self.queue_events(&qev, out);
                    self.qev = qev;
                }
            },
            Request::Modify(md) => {
                match self.find(account, md.client_order_id, md.venue_order_id) {
                    None => out.push(ExecEvent::CancelRejected {
                        account,
                        client_order_id: md.client_order_id,
                        venue_order_id: md.venue_order_id,
                        reason: reject::UNKNOWN_ORDER,
                    }),
                    Some(k) => {
                        let o = self.own[k];
                        let filled = o.qty_e8 - o.leaves_e8;
                        let new_leaves = md.qty_e8 - filled;
                        if new_leaves <= 0 || md.price_e8 <= 0 {
                            out.push(ExecEvent::CancelRejected {
                                account,
                                client_order_id: o.clid,
                                venue_order_id: o.vid,
                                reason: if new_leaves <= 0 {
                                    reject::QTY_BELOW_FILLED
                                } else {
                                    reject::BAD_PRICE
                                },
                            });
                            return;
                        }
                        // Replayed data has no place for a modified order in the recorded
                        // queue: it goes to the back of its (new) level.
                        let mut qev = std::mem::take(&mut self.qev);
                        qev.clear();
                        self.model.cancel(o.vid, now_ns);
                        self.model.on_time(now_ns, &self.book, &mut qev);
                        self.model
                            .submit(o.vid, o.side, md.price_e8, new_leaves, now_ns);
                        self.model.on_time(now_ns, &self.book, &mut qev);
                        self.qev = qev;
                        let own = &mut self.own[k];
                        own.price_e8 = md.price_e8;
                        own.qty_e8 = md.qty_e8;
                        own.leaves_e8 = new_leaves;
                        out.push(ExecEvent::Modified {
                            account,
                            client_order_id: o.clid,
                            venue_order_id: o.vid,
                            instrument_id: self.instrument_id,
                            side: o.side,
                            price_e8: md.price_e8,
                            qty_e8: md.qty_e8,
                            leaves_qty_e8: new_leaves,
                            priority_kept: false,
                        });
                    }
                }
            }
        }
    }

    /// Cancel every order of an account (session closed).
    pub fn cancel_all(&mut self, account: u32, now_ns: u64, out: &mut Vec<ExecEvent>) {
        let ids: Vec<u64> = self
            .own
            .iter()
            .filter(|o| o.account == account)
            .map(|o| o.vid)
            .collect();
        for vid in ids {
            self.model.cancel(vid, now_ns);
        }
        let mut qev = std::mem::take(&mut self.qev);
        qev.clear();
        self.model.on_time(now_ns, &self.book, &mut qev);
        self.queue_events(&qev, out);
        for e in out.iter_mut() {
            if let ExecEvent::Cancelled {
                reason, account: a, ..
            } = e
            {
                if *a == account {
                    *reason = cancel_reason::SESSION_CLOSED;
                }
            }
        }
        self.qev = qev;
    }
}
