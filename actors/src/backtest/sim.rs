//! The backtest's event loop (see the module documentation of [`super`]).

use super::{BacktestConfig, BacktestError, BacktestReport, DataFormat, Latency, ReportCosts};
use crate::config::StrategyConfig;
use crate::execution::costs::{CostTable, Segment};
use crate::execution::{BlockReason, ExecAction, ExecActions, Execution, Gates, VenueEvent};
use crate::oracle::Oracle;
use crate::sentinel::{Sentinel, SentinelAction, SentinelActions};
use crate::sonar::Sonar;
use runtime::msg::{
    emergency_action, md_flags, md_kind, order_event_kind as oek, side, MdEvent, Stamps, Trade,
    PRICE_SCALE,
};
use std::collections::VecDeque;
use venue::book::L2Book;
use venue::config::LatencyConfig;
use venue::feed::book_top;
use venue::latency::{LatencyControl, LatencyModel};
use venue::protocol::DeltaLevel;
use venue::queue::{FifoQueueModel, LevelQueueModel, QueueConfig, QueueEvent};
use venue::replay::binance::{BinanceReplay, DepthStatus, Event, ReplayOptions};
use venue::replay::lobster::{self, kind, LobsterBook, Message, PRICE_TO_E8, SIZE_TO_E8};

/// Reject reason for an order the simulated exchange cannot represent (e.g. a fractional
/// share on LOBSTER data).
const REJECT_UNREPRESENTABLE: u16 = 0xFF02;
/// Cancel refused: the order is no longer at the exchange (filled, or unknown).
const CANCEL_REJECT_GONE: u16 = 1;
/// The run continues this long after the last recorded event so resting orders get their
/// cancels and responses (bounded: the loop stops there whatever is pending).
const TAIL_NS: u64 = 10_000_000_000;

/// One direction of latency: seeded samples, FIFO (never earlier than the previous message).
struct Direction {
    model: LatencyModel,
    last_due_ns: u64,
}

impl Direction {
    fn new(l: &Latency, seed: u64) -> Self {
        let ctl = LatencyControl::new(&LatencyConfig {
            one_way_ns: l.one_way_ns,
            jitter_ns: l.jitter_ns,
            spike_probability: l.spike_probability,
            spike_ns: l.spike_ns,
            apply_to_market_data: true,
        });
        Direction {
            model: LatencyModel::new(ctl, seed),
            last_due_ns: 0,
        }
    }

    fn due(&mut self, now_ns: u64) -> u64 {
        let d = now_ns
            .saturating_add(self.model.sample_ns())
            .max(self.last_due_ns);
        self.last_due_ns = d;
        d
    }
}

/// The market as the exchange side sees it, for the queue models.
enum BookRef<'a> {
    Level(&'a L2Book),
    Lobster(&'a LobsterBook),
}

enum Model {
    Level(LevelQueueModel),
    Fifo(FifoQueueModel),
}

impl Model {
    /// `(price, qty)` in the model's units, `None` when not representable.
    fn units(&self, price_e8: i64, qty_e8: i64) -> Option<(i64, i64)> {
        match self {
            Model::Level(_) => Some((price_e8, qty_e8)),
            Model::Fifo(_) => {
                if price_e8 % PRICE_TO_E8 != 0 || qty_e8 % SIZE_TO_E8 != 0 {
                    None
                } else {
                    Some((price_e8 / PRICE_TO_E8, qty_e8 / SIZE_TO_E8))
                }
            }
        }
    }

    fn to_e8(&self, price: i64, qty: i64) -> (i64, i64) {
        match self {
            Model::Level(_) => (price, qty),
            Model::Fifo(_) => (price * PRICE_TO_E8, qty * SIZE_TO_E8),
        }
    }

    fn submit(&mut self, id: u64, side_code: u8, price: i64, qty: i64, at_ns: u64) {
        match self {
            Model::Level(m) => m.submit(id, side_code, price, qty, at_ns),
            Model::Fifo(m) => m.submit(id, side_code, price, qty, at_ns),
        }
    }

    fn cancel(&mut self, id: u64, at_ns: u64) -> bool {
        match self {
            Model::Level(m) => m.cancel(id, at_ns),
            Model::Fifo(m) => m.cancel(id, at_ns),
        }
    }

    fn has(&self, id: u64) -> bool {
        match self {
            Model::Level(m) => m.order(id).is_some(),
            Model::Fifo(m) => m.order(id).is_some(),
        }
    }

    fn on_time(&mut self, t: u64, book: BookRef<'_>, out: &mut Vec<QueueEvent>) {
        match (self, book) {
            (Model::Level(m), BookRef::Level(b)) => m.on_time(t, b, out),
            (Model::Fifo(m), BookRef::Lobster(b)) => m.on_time(t, b, out),
            // The driver pairs each model with its own kind of book.
            _ => {}
        }
    }
}

/// One of our orders at the simulated exchange.
#[derive(Clone, Copy)]
struct SimOrder {
    cid: u64,
    /// The model's id of the live leg.
    mid: u64,
    /// The leg a modification replaced, until its cancel takes effect (0 = none).
    old_mid: u64,
    side: u8,
    price_e8: i64,
    qty_e8: i64,
    leaves_e8: i64,
}

/// Strategy side + simulated exchange, minus the recorded book (the driver owns it).
struct Sim {
    oracle: Oracle,
    sonar: Sonar,
    sentinel: Sentinel,
    exec: Execution,
    xo: Box<ExecActions>,
    batch: Vec<ExecAction>,
    so: SentinelActions,
    gates: Gates,
    model: Model,
    inbound: Direction,
    outbound: Direction,
    feed: Direction,
    md_q: VecDeque<(u64, MdEvent)>,
    resp_q: VecDeque<(u64, VenueEvent)>,
    arrivals: VecDeque<u64>,
    orders: Vec<SimOrder>,
    qev: Vec<QueueEvent>,
    next_mid: u64,
    md_seq: u64,
    instrument_id: u32,
    tick_ns: u64,
    next_tick_ns: u64,
    events: u64,
    first_ts: Option<u64>,
    last_ts: u64,
    offset_set: bool,
    bought_e8: i128,
    sold_e8: i128,
    halts: u64,
}

impl Sim {
    fn new(
        cfg: &BacktestConfig,
        strategy: &StrategyConfig,
        table: CostTable,
        model: Model,
    ) -> Result<Sim, BacktestError> {
        let inv = |e: String| BacktestError::Invalid(e);
        let exec =
            Execution::new(strategy.execution.clone(), table).map_err(|e| inv(e.to_string()))?;
        Ok(Sim {
            oracle: Oracle::new(strategy.oracle.clone()).map_err(|e| inv(e.to_string()))?,
            sonar: Sonar::new(strategy.sonar.clone()).map_err(|e| inv(e.to_string()))?,
            sentinel: Sentinel::new(strategy.sentinel.clone()).map_err(|e| inv(e.to_string()))?,
            exec,
            xo: Box::new(ExecActions::new()),
            batch: Vec::with_capacity(ExecActions::CAPACITY),
            so: SentinelActions::new(),
            gates: Gates::default(),
            model,
            // One generator per direction, all from the seed.
            inbound: Direction::new(&cfg.order_latency, cfg.seed.wrapping_mul(3)),
            outbound: Direction::new(&cfg.order_latency, cfg.seed.wrapping_mul(3) + 1),
            feed: Direction::new(&cfg.feed_latency, cfg.seed.wrapping_mul(3) + 2),
            md_q: VecDeque::with_capacity(1024),
            resp_q: VecDeque::with_capacity(1024),
            arrivals: VecDeque::with_capacity(256),
            orders: Vec::with_capacity(64),
            qev: Vec::with_capacity(64),
            next_mid: 1,
            md_seq: 0,
            instrument_id: strategy.execution.instrument_id,
            tick_ns: strategy.execution.timer_tick_ns.max(1),
            next_tick_ns: 0,
            events: 0,
            first_ts: None,
            last_ts: 0,
            offset_set: false,
            bought_e8: 0,
            sold_e8: 0,
            halts: 0,
        })
    }

    // ------------------------------------------------------------ exchange side

    /// Requests due by `t` take effect against `book`; their consequences are queued.
    fn exchange_time(&mut self, t: u64, book: BookRef<'_>) {
        self.model.on_time(t, book, &mut self.qev);
        self.queue_events();
    }

    /// Queue-model events → responses for Execution (after the outbound latency).
    fn queue_events(&mut self) {
        for k in 0..self.qev.len() {
            let qe = self.qev[k];
            match qe {
                QueueEvent::Active { id, ts_ns, .. } => {
                    let Some(i) = self.orders.iter().position(|o| o.mid == id) else {
                        continue;
                    };
                    let o = self.orders[i];
                    let due = self.outbound.due(ts_ns);
                    if o.old_mid != 0 {
                        self.resp_q.push_back((
                            due,
                            VenueEvent::Modified {
                                client_order_id: o.cid,
                                price_e8: o.price_e8,
                                qty_e8: o.qty_e8,
                                leaves_qty_e8: o.leaves_e8,
                            },
                        ));
                    } else {
                        self.resp_q.push_back((
                            due,
                            VenueEvent::Accepted {
                                client_order_id: o.cid,
                                venue_order_id: id,
                            },
                        ));
                        self.resp_q.push_back((
                            due,
                            VenueEvent::Open {
                                client_order_id: o.cid,
                                venue_order_id: id,
                            },
                        ));
                    }
                }
                QueueEvent::Fill {
                    id,
                    ts_ns,
                    price,
                    qty,
                    ..
                } => {
                    let Some(i) = self
                        .orders
                        .iter()
                        .position(|o| o.mid == id || (o.old_mid != 0 && o.old_mid == id))
                    else {
                        continue;
                    };
                    let (price_e8, qty_e8) = self.model.to_e8(price, qty);
                    // Never more than the order still has (a replaced leg and its
                    // replacement share one order's quantity).
                    let qty_e8 = qty_e8.min(self.orders[i].leaves_e8);
                    if qty_e8 <= 0 {
                        continue;
                    }
                    self.orders[i].leaves_e8 -= qty_e8;
                    let o = self.orders[i];
                    let due = self.outbound.due(ts_ns);
                    self.resp_q.push_back((
                        due,
                        VenueEvent::Fill {
                            client_order_id: o.cid,
                            price_e8,
                            qty_e8,
                            leaves_qty_e8: o.leaves_e8,
                        },
                    ));
                    if o.leaves_e8 == 0 {
                        // Done: any other leg still in the model goes (its events are ignored).
                        for leg in [o.mid, o.old_mid] {
                            if leg != 0 && leg != id {
                                self.model.cancel(leg, ts_ns);
                            }
                        }
                        self.orders.swap_remove(i);
                    }
                }
                QueueEvent::Cancelled { id, ts_ns, .. } => {
                    if let Some(i) = self.orders.iter().position(|o| o.old_mid == id) {
                        // The replaced leg of a modification: not a cancel of the order.
                        self.orders[i].old_mid = 0;
                        continue;
                    }
                    let Some(i) = self.orders.iter().position(|o| o.mid == id) else {
                        continue;
                    };
                    let cid = self.orders[i].cid;
                    self.orders.swap_remove(i);
                    let due = self.outbound.due(ts_ns);
                    self.resp_q.push_back((
                        due,
                        VenueEvent::Cancelled {
                            client_order_id: cid,
                        },
                    ));
                }
                QueueEvent::CancelTooLate { id, ts_ns } => {
                    if let Some(o) = self.orders.iter().find(|o| o.mid == id) {
                        let cid = o.cid;
                        let due = self.outbound.due(ts_ns);
                        self.resp_q.push_back((
                            due,
                            VenueEvent::CancelRejected {
                                client_order_id: cid,
                                reason: CANCEL_REJECT_GONE,
                            },
                        ));
                    }
                }
            }
        }
        self.qev.clear();
    }

    /// A market event happened at `ts` on the exchange; the strategy sees it after the feed
    /// latency.
    fn publish(&mut self, ts: u64, exchange_ns: u64, mut ev: MdEvent) {
        if !self.offset_set && exchange_ns != 0 {
            // Recorder clocks drift from the exchange's (1.3-1.5 s in the 2024 Binance files):
            // calibrate Sonar's timestamp checks on the first event.
            self.offset_set = true;
            self.sonar
                .set_wall_clock_offset(exchange_ns as i64 - ts as i64);
        }
        let due = self.feed.due(ts);
        self.md_seq += 1;
        ev.seq = self.md_seq;
        ev.instrument_id = self.instrument_id;
        ev.stamps = Stamps {
            exchange_ns,
            recv_ns: due,
            publish_ns: due,
            intended_ns: 0,
        };
        self.events += 1;
        self.first_ts.get_or_insert(ts);
        self.last_ts = self.last_ts.max(ts);
        self.md_q.push_back((due, ev));
    }

    fn publish_book(
        &mut self,
        ts: u64,
        exchange_ns: u64,
        venue_seq: u64,
        book: &L2Book,
        changes: u32,
        mut flags: u32,
    ) {
        if book.is_crossed() {
            flags |= md_flags::CROSSED;
        }
        let ev = MdEvent {
            venue_seq,
            kind: md_kind::BOOK,
            flags,
            book: book_top(book, changes),
            ..MdEvent::default()
        };
        self.publish(ts, exchange_ns, ev);
    }

    fn publish_trade(&mut self, ts: u64, exchange_ns: u64, trade: Trade) {
        let ev = MdEvent {
            kind: md_kind::TRADE,
            trade,
            ..MdEvent::default()
        };
        self.publish(ts, exchange_ns, ev);
    }

    // ------------------------------------------------------------ strategy side

    fn on_md(&mut self, t: u64, ev: MdEvent) {
        let out = self.sonar.on_md(&ev, t);
        self.gates.regime = out.regime;
        self.gates.gate_check = out.gate_check;
        if ev.kind == md_kind::BOOK && ev.book.bid_levels > 0 && ev.book.ask_levels > 0 {
            let mid = (ev.book.bids[0].price_e8 + ev.book.asks[0].price_e8) / 2;
            self.sentinel.on_mark(mid, t, &mut self.so);
        }
        self.exec.on_gates(self.gates, t, &mut self.xo);
        self.exec.on_md(&ev, t);
        if let Some(sig) = self.oracle.on_md(&ev, t) {
            self.exec.on_signal(&sig, t, &mut self.xo);
        }
        self.exec.on_tick(t, &mut self.xo);
        self.sentinel.on_tick(t, &mut self.so);
        self.handle(t);
    }

    fn on_response(&mut self, t: u64, ev: VenueEvent) {
        self.exec.on_venue(&ev, t, &mut self.xo);
        self.handle(t);
    }

    fn on_timer(&mut self, t: u64) {
        let out = self.sonar.on_tick(t);
        self.gates.regime = out.regime;
        self.gates.gate_check = out.gate_check;
        self.sentinel.on_tick(t, &mut self.so);
        self.exec.on_gates(self.gates, t, &mut self.xo);
        self.exec.on_tick(t, &mut self.xo);
        self.handle(t);
    }

    /// Carry out Execution's actions and Sentinel's reactions until both are quiet.
    fn handle(&mut self, t: u64) {
        loop {
            self.batch.clear();
            self.batch.extend_from_slice(self.xo.as_slice());
            self.xo.clear();
            for k in 0..self.batch.len() {
                let a = self.batch[k];
                self.action(t, a);
            }
            for k in 0..self.so.len() {
                let a = self.so.as_slice()[k];
                match a {
                    SentinelAction::EnterLockdown { .. } => self.gates.lockdown = true,
                    SentinelAction::LiftLockdown => self.gates.lockdown = false,
                    SentinelAction::Emergency(e) => {
                        // The supervisor's answer to a halt is the kill switch.
                        if e.action == emergency_action::HALT_ALL && !self.exec.is_killed() {
                            self.halts += 1;
                            self.exec.on_kill(t, &mut self.xo);
                        }
                    }
                }
            }
            if !self.so.is_empty() {
                self.so.clear();
                self.exec.on_gates(self.gates, t, &mut self.xo);
            }
            if self.xo.is_empty() {
                break;
            }
        }
    }

    fn action(&mut self, t: u64, a: ExecAction) {
        match a {
            ExecAction::SendNew {
                client_order_id,
                side: sd,
                price_e8,
                qty_e8,
            } => {
                let at = self.inbound.due(t);
                let Some((p, q)) = self.model.units(price_e8, qty_e8).filter(|&(_, q)| q > 0)
                else {
                    let due = self.outbound.due(at);
                    self.resp_q.push_back((
                        due,
                        VenueEvent::Rejected {
                            client_order_id,
                            reason: REJECT_UNREPRESENTABLE,
                        },
                    ));
                    return;
                };
                let mid = self.next_mid;
                self.next_mid += 1;
                self.model.submit(mid, sd, p, q, at);
                self.arrivals.push_back(at);
                self.orders.push(SimOrder {
                    cid: client_order_id,
                    mid,
                    old_mid: 0,
                    side: sd,
                    price_e8,
                    qty_e8,
                    leaves_e8: qty_e8,
                });
                self.next_tick_ns = self.next_tick_ns.max(t + self.tick_ns);
            }
            ExecAction::SendCancel { client_order_id } => {
                let at = self.inbound.due(t);
                let live = self
                    .orders
                    .iter()
                    .find(|o| o.cid == client_order_id)
                    .copied()
                    .filter(|o| self.model.has(o.mid));
                match live {
                    Some(o) => {
                        self.model.cancel(o.mid, at);
                        if o.old_mid != 0 {
                            self.model.cancel(o.old_mid, at);
                        }
                        self.arrivals.push_back(at);
                    }
                    None => {
                        let due = self.outbound.due(at);
                        self.resp_q.push_back((
                            due,
                            VenueEvent::CancelRejected {
                                client_order_id,
                                reason: CANCEL_REJECT_GONE,
                            },
                        ));
                    }
                }
            }
            ExecAction::SendModify {
                client_order_id,
                price_e8,
                qty_e8,
            } => {
                let at = self.inbound.due(t);
                let i = self
                    .orders
                    .iter()
                    .position(|o| o.cid == client_order_id && o.old_mid == 0);
                let units = self.model.units(price_e8, qty_e8).filter(|&(_, q)| q > 0);
                match (i, units) {
                    (Some(i), Some((p, q))) if self.model.has(self.orders[i].mid) => {
                        // Cancel + replace at the new price, both effective on arrival.
                        let mid = self.next_mid;
                        self.next_mid += 1;
                        let o = &mut self.orders[i];
                        self.model.cancel(o.mid, at);
                        self.model.submit(mid, o.side, p, q, at);
                        o.old_mid = o.mid;
                        o.mid = mid;
                        o.price_e8 = price_e8;
                        o.qty_e8 = o.qty_e8 - o.leaves_e8 + qty_e8;
                        o.leaves_e8 = qty_e8;
                        self.arrivals.push_back(at);
                    }
                    _ => {
                        let due = self.outbound.due(at);
                        self.resp_q.push_back((
                            due,
                            VenueEvent::CancelRejected {
                                client_order_id,
                                reason: CANCEL_REJECT_GONE,
                            },
                        ));
                    }
                }
            }
            ExecAction::Report(ev) => {
                if matches!(ev.kind, oek::FILLED | oek::PARTIALLY_FILLED) {
                    match ev.side {
                        side::BUY => self.bought_e8 += ev.fill_qty_e8 as i128,
                        side::SELL => self.sold_e8 += ev.fill_qty_e8 as i128,
                        _ => {}
                    }
                }
                self.sentinel.on_order_event(&ev, t, &mut self.so);
            }
            // The backtest keeps no journal file: recovery is tested on the live path.
            ExecAction::Journal(_) => {}
        }
    }

    /// The next strategy-side happening: (time, rank) with rank 1 = response, 2 = market
    /// data, 3 = timer tick (the exchange side, rank 0, is the driver's).
    fn next_strategy(&self) -> Option<(u64, u8)> {
        let mut best: Option<(u64, u8)> = None;
        let mut consider = |c: Option<(u64, u8)>| {
            if let Some(c) = c {
                if best.is_none_or(|b| c < b) {
                    best = Some(c);
                }
            }
        };
        consider(self.resp_q.front().map(|&(t, _)| (t, 1)));
        consider(self.md_q.front().map(|&(t, _)| (t, 2)));
        if self.exec.open_orders() > 0 {
            consider(Some((self.next_tick_ns, 3)));
        }
        best
    }

    fn run_strategy(&mut self, rank: u8) -> u64 {
        match rank {
            1 => {
                let (t, ev) = self.resp_q.pop_front().expect("peeked");
                self.on_response(t, ev);
                t
            }
            2 => {
                let (t, ev) = self.md_q.pop_front().expect("peeked");
                self.on_md(t, ev);
                t
            }
            _ => {
                let t = self.next_tick_ns;
                self.on_timer(t);
                self.next_tick_ns = t + self.tick_ns;
                t
            }
        }
    }

    fn report(
        mut self,
        cfg: &BacktestConfig,
        segment: Segment,
        table: &str,
        end_ns: u64,
    ) -> BacktestReport {
        let m = self.exec.metrics();
        let units = |e8: i128| e8 as f64 / PRICE_SCALE as f64;
        let first = self.first_ts.unwrap_or(0);
        let span = end_ns.saturating_sub(self.sonar.first_event_ns().unwrap_or(end_ns));
        let attack_pct = if span == 0 {
            0.0
        } else {
            100.0 * self.sonar.attack_ns(end_ns) as f64 / span as f64
        };
        let c = m.costs;
        let b = |r: BlockReason| m.blocked[r as usize];
        BacktestReport {
            data: cfg.data.display().to_string(),
            format: cfg.format,
            seed: cfg.seed,
            segment: format!("{segment:?}"),
            cost_table: table.to_string(),
            events: self.events,
            duration_s: self.last_ts.saturating_sub(first) as f64 / 1e9,
            orders: m.orders_sent,
            fills: m.fills,
            orders_filled: m.orders_filled,
            fill_rate: m.fill_rate,
            cancel_rate: m.cancel_rate,
            cancels: m.cancels_sent,
            modifies: m.modifies_sent,
            rejects: m.orders_rejected,
            otr_raw: m.otr_raw,
            otr_penalty: m.otr_penalty,
            bought_qty: units(self.bought_e8),
            sold_qty: units(self.sold_e8),
            position: units(m.position_e8 as i128),
            pnl_gross: m.pnl_gross_inr,
            costs: ReportCosts {
                stt: c.stt,
                exchange: c.exchange,
                ipft: c.ipft,
                sebi: c.sebi,
                stamp: c.stamp,
                gst: c.gst,
                brokerage: c.brokerage,
            },
            pnl_net: m.pnl_net_inr,
            nev_expected: m.nev_expected_inr,
            nev_realised: m.nev_realised_inr,
            attack_pct,
            lockdowns: self.sentinel.stats().lockdowns,
            blocked_regime: b(BlockReason::Regime),
            blocked_gate: b(BlockReason::Gate),
            blocked_lockdown: b(BlockReason::Lockdown),
            blocked_nev: b(BlockReason::Nev),
            blocked_rate: b(BlockReason::RateLimit),
            blocked_otr: b(BlockReason::OtrBudget),
            deadline_cancels: m.timer_cancels,
            cancel_lateness_p99_us: m.cancel_lateness.p99_ns as f64 / 1e3,
        }
    }
}

/// A recorded market: the exchange side of the loop.
trait Market {
    /// Time of the next recorded event (`None` at the end).
    fn peek_ns(&mut self) -> Result<Option<u64>, BacktestError>;
    /// Apply the next recorded event at its time.
    fn step(&mut self, sim: &mut Sim) -> Result<(), BacktestError>;
    /// Requests arriving at `t` between recorded events.
    fn arrive(&mut self, t: u64, sim: &mut Sim);
}

// ---------------------------------------------------------------- Binance

#[derive(Clone, Copy)]
enum BinanceItem {
    Snapshot {
        ts: u64,
        ex: u64,
        id: u64,
    },
    Depth {
        ts: u64,
        ex: u64,
        id: u64,
        status: DepthStatus,
    },
    Trade {
        ts: u64,
        ex: u64,
        id: u64,
        price_e8: i64,
        qty_e8: i64,
        aggressor: u8,
    },
}

impl BinanceItem {
    fn ts(&self) -> u64 {
        match *self {
            BinanceItem::Snapshot { ts, .. }
            | BinanceItem::Depth { ts, .. }
            | BinanceItem::Trade { ts, .. } => ts,
        }
    }
}

struct BinanceMarket {
    replay: BinanceReplay,
    /// The book before the pending event (the replay's own book already includes it).
    book: L2Book,
    pending: Option<BinanceItem>,
    levels: Vec<DeltaLevel>,
    last_ts: u64,
    done: bool,
}

impl BinanceMarket {
    fn fetch(&mut self) -> Result<(), BacktestError> {
        while self.pending.is_none() && !self.done {
            let Some(ev) = self.replay.next_event()? else {
                self.done = true;
                break;
            };
            // Recorder stamps are monotonic in practice; clamp so the loop never runs back.
            let clamp = |t: u64, last: u64| t.max(last);
            let item = match ev {
                Event::Snapshot {
                    local_ns,
                    exchange_ns,
                    synced_to,
                    ..
                } => Some(BinanceItem::Snapshot {
                    ts: clamp(local_ns, self.last_ts),
                    ex: exchange_ns,
                    id: synced_to,
                }),
                Event::Depth {
                    local_ns,
                    exchange_ns,
                    last_id,
                    status,
                    levels,
                    ..
                } => {
                    self.levels.clear();
                    self.levels.extend_from_slice(levels);
                    Some(BinanceItem::Depth {
                        ts: clamp(local_ns, self.last_ts),
                        ex: exchange_ns,
                        id: last_id,
                        status,
                    })
                }
                Event::Trade {
                    local_ns,
                    exchange_ns,
                    trade_id,
                    price_e8,
                    qty_e8,
                    aggressor_side,
                } => Some(BinanceItem::Trade {
                    ts: clamp(local_ns, self.last_ts),
                    ex: exchange_ns,
                    id: trade_id,
                    price_e8,
                    qty_e8,
                    aggressor: aggressor_side,
                }),
                Event::Ticker { .. } | Event::Other { .. } => None,
            };
            if let Some(it) = item {
                self.last_ts = it.ts();
            }
            self.pending = item;
        }
        Ok(())
    }
}

impl Market for BinanceMarket {
    fn peek_ns(&mut self) -> Result<Option<u64>, BacktestError> {
        self.fetch()?;
        Ok(self.pending.map(|p| p.ts()))
    }

    fn step(&mut self, sim: &mut Sim) -> Result<(), BacktestError> {
        self.fetch()?;
        let Some(item) = self.pending.take() else {
            return Ok(());
        };
        let ts = item.ts();
        sim.exchange_time(ts, BookRef::Level(&self.book));
        match item {
            BinanceItem::Snapshot { ex, id, .. } => {
                self.book = self.replay.book().clone();
                if let Model::Level(m) = &mut sim.model {
                    // Our levels as the snapshot shows them.
                    for k in 0..m.orders().len() {
                        let o = m.orders()[k];
                        let q = self
                            .book
                            .side(o.side)
                            .map(|s| s.qty_at(o.price))
                            .unwrap_or(0);
                        m.on_level(o.side, o.price, q);
                    }
                }
                let n = (self.book.bids.len() + self.book.asks.len()) as u32;
                sim.publish_book(ts, ex, id, &self.book, n, md_flags::RESYNC);
            }
            BinanceItem::Depth { ex, id, status, .. } => {
                if status == DepthStatus::Stale {
                    return Ok(()); // dropped by Binance's rule: not part of the book
                }
                for l in &self.levels {
                    // The replay validated these levels against the same bounds.
                    let _ = self.book.set(l.side, l.price_e8, l.qty_e8);
                    if let Model::Level(m) = &mut sim.model {
                        m.on_level(l.side, l.price_e8, l.qty_e8);
                    }
                }
                let flags = if status == DepthStatus::GapApplied {
                    md_flags::GAP
                } else {
                    0
                };
                sim.publish_book(ts, ex, id, &self.book, self.levels.len() as u32, flags);
            }
            BinanceItem::Trade {
                ex,
                id,
                price_e8,
                qty_e8,
                aggressor,
                ..
            } => {
                if let Model::Level(m) = &mut sim.model {
                    m.on_trade(ts, price_e8, qty_e8, aggressor, &mut sim.qev);
                }
                sim.queue_events();
                sim.publish_trade(
                    ts,
                    ex,
                    Trade {
                        price_e8,
                        qty_e8,
                        trade_id: id,
                        aggressor_side: aggressor,
                        _pad: [0; 7],
                    },
                );
            }
        }
        Ok(())
    }

    fn arrive(&mut self, t: u64, sim: &mut Sim) {
        sim.exchange_time(t, BookRef::Level(&self.book));
    }
}

// ---------------------------------------------------------------- LOBSTER

struct LobsterMarket {
    msgs: Vec<Message>,
    book: LobsterBook,
    next: usize,
}

impl Market for LobsterMarket {
    fn peek_ns(&mut self) -> Result<Option<u64>, BacktestError> {
        Ok(self.msgs.get(self.next).map(|m| m.time_ns))
    }

    fn step(&mut self, sim: &mut Sim) -> Result<(), BacktestError> {
        let Some(&m) = self.msgs.get(self.next) else {
            return Ok(());
        };
        self.next += 1;
        let ts = m.time_ns;
        sim.exchange_time(ts, BookRef::Lobster(&self.book));
        let applied = self.book.apply(&m, self.next)?;
        if let Model::Fifo(q) = &mut sim.model {
            q.on_applied(&applied, &mut sim.qev);
        }
        sim.queue_events();
        if matches!(m.kind, kind::EXECUTE_VISIBLE | kind::EXECUTE_HIDDEN) {
            let aggressor = if m.side == side::BUY {
                side::SELL
            } else {
                side::BUY
            };
            sim.publish_trade(
                ts,
                ts,
                Trade {
                    price_e8: m.price * PRICE_TO_E8,
                    qty_e8: m.size * SIZE_TO_E8,
                    trade_id: self.next as u64,
                    aggressor_side: aggressor,
                    _pad: [0; 7],
                },
            );
        }
        if matches!(
            m.kind,
            kind::NEW | kind::PARTIAL_CANCEL | kind::DELETE | kind::EXECUTE_VISIBLE
        ) {
            sim.publish_book(ts, ts, self.next as u64, &self.book.book, 1, 0);
        }
        Ok(())
    }

    fn arrive(&mut self, t: u64, sim: &mut Sim) {
        sim.exchange_time(t, BookRef::Lobster(&self.book));
    }
}

// ---------------------------------------------------------------- the loop

pub(super) fn run(
    cfg: &BacktestConfig,
    strategy: StrategyConfig,
    table: CostTable,
) -> Result<BacktestReport, BacktestError> {
    let qcfg = QueueConfig {
        cancel_ahead_probability: cfg.cancel_ahead_probability,
        // Latencies are sampled per message by the loop (seeded), not fixed in the model.
        order_latency_ns: 0,
        feed_latency_ns: 0,
    };
    let segment = strategy.execution.segment;
    let table_name = table.name.clone();
    match cfg.format {
        DataFormat::Binance => {
            let replay = BinanceReplay::open(&[&cfg.data], ReplayOptions::default())?;
            let max_levels = ReplayOptions::default().max_levels_per_side;
            let mut market = BinanceMarket {
                replay,
                book: L2Book::new(max_levels),
                pending: None,
                levels: Vec::with_capacity(4096),
                last_ts: 0,
                done: false,
            };
            let sim = Sim::new(
                cfg,
                &strategy,
                table,
                Model::Level(LevelQueueModel::new(qcfg)),
            )?;
            drive(cfg, &mut market, sim, segment, &table_name)
        }
        DataFormat::Lobster => {
            let ob = super::lobster_orderbook_path(&cfg.data)?;
            let (msgs, rows) = lobster::load(&cfg.data, &ob)?;
            let (Some(m0), Some(r0)) = (msgs.first(), rows.first()) else {
                return Err(BacktestError::Empty(cfg.data.clone()));
            };
            let book = LobsterBook::from_first_row(r0, m0, 10_000)?;
            let mut market = LobsterMarket {
                msgs,
                book,
                next: 0,
            };
            let sim = Sim::new(
                cfg,
                &strategy,
                table,
                Model::Fifo(FifoQueueModel::new(qcfg)),
            )?;
            drive(cfg, &mut market, sim, segment, &table_name)
        }
    }
}

fn drive(
    cfg: &BacktestConfig,
    market: &mut dyn Market,
    mut sim: Sim,
    segment: Segment,
    table: &str,
) -> Result<BacktestReport, BacktestError> {
    let mut now = 0u64;
    loop {
        let tm = market.peek_ns()?;
        let ta = sim.arrivals.front().copied();
        // Exchange side first on ties: a request that arrives with a market event is matched
        // against it, and what the exchange does at t is seen by the strategy after latency.
        let exchange = match (ta, tm) {
            (Some(a), Some(m)) => Some(if a <= m { (a, true) } else { (m, false) }),
            (Some(a), None) => Some((a, true)),
            (None, Some(m)) => Some((m, false)),
            (None, None) => None,
        };
        let strategy = sim.next_strategy();
        let take_exchange = match (exchange, strategy) {
            (Some((te, _)), Some((ts, _))) => te <= ts,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let t = if take_exchange {
            exchange.map(|e| e.0).unwrap_or(now)
        } else {
            strategy.map(|s| s.0).unwrap_or(now)
        };
        if tm.is_none() && t > sim.last_ts.saturating_add(TAIL_NS) {
            break;
        }
        if take_exchange {
            let (te, is_arrival) = exchange.expect("chosen");
            if is_arrival {
                sim.arrivals.pop_front();
                market.arrive(te, &mut sim);
            } else {
                market.step(&mut sim)?;
            }
            now = now.max(te);
        } else {
            let (_, rank) = strategy.expect("chosen");
            now = now.max(sim.run_strategy(rank));
        }
    }
    if sim.events == 0 {
        return Err(BacktestError::Empty(cfg.data.clone()));
    }
    Ok(sim.report(cfg, segment, table, now))
}
