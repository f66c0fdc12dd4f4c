//! Execution: passive quoting under every gate.
//!
//! On each [`Signal`] Execution may join the best bid (strength > 0) or the
//! best ask (strength < 0) with a limit order, and, when the signal is strong
//! (|strength| ≥ `ladder_min_strength`), a ladder of up to
//! `ladder_max_orders` orders on adjacent ticks behind the touch. Every order,
//! ladder rungs included, must pass, in this order (the first failure is
//! counted in [`ExecMetrics::blocked`]):
//!
//! 1. kill switch clear ([`Execution::on_kill`] latches until [`Execution::rearm`]);
//! 2. reconciled with the venue after a restart ([`Execution::reconcile`]);
//! 3. Sentinel not in lockdown; 4. Sonar regime Attack; 5. Sonar gate open;
//! 6. room in the order table; 7. position limit;
//! 8. NEV > `nev.min_nev_inr` ([`nev`]);
//! 9. OTR budget: the projected penalty-relevant OTR (this order and its
//!    eventual cancel) stays within budget;
//! 10. a token from each of the second, minute and day buckets ([`rate`]).
//!
//! Every order not filled `cancel_after_ns` (200 ms) after it was placed is
//! cancelled by the actor's own [`timers::TimerWheel`], checked in
//! [`Execution::on_tick`] (call it every poll); the lateness (cancel time −
//! deadline) is recorded. A resting order left behind by the touch is moved
//! to the new touch with a modification while it has modifications left
//! (`max_modifications_per_order`) and the gates allow; a signal that turns
//! against an order cancels it. Lockdown and kill cancel every resting order.
//! Cancels are never held back by rate limits (safety first) but count in OTR.
//!
//! Outputs are [`ExecAction`]s: orders for the venue, and [`OrderEvent`]s to
//! journal (and forward to Sentinel). The caller must journal every
//! `Report`/`Journal` action before it sends the `Send*` actions that follow
//! it in the same buffer (they come in that order: intent, send, sent).

pub mod costs;
pub mod feedback;
pub mod journal;
pub mod nev;
pub mod otr;
pub mod rate;
pub mod timers;

use crate::sentinel::rtt::{RttStats, RttWindow};
use crate::sonar::{gate_check, Regime};
use crate::ActionBuf;
use costs::{CostTable, CostsInr, Segment, TradeSide};
use journal::{jkind, RecoveredOrderState, RecoveredState};
use nev::{FillProbability, NevConfig, NevEstimate, NevMarket};
use otr::{OtrBands, OtrCounter};
use rate::{RateConfig, RateLimiter};
use runtime::msg::{
    intent_action, md_kind, order_event_kind as oek, order_type, side, tif, MdEvent, OrderEvent,
    OrderIntent, Signal, Stamps, PRICE_SCALE,
};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use thiserror::Error;
use timers::{TimerHandle, TimerWheel};

/// Largest order table (open orders at once).
pub const MAX_OPEN_ORDERS: usize = 64;
/// Largest ladder.
pub const MAX_LADDER: usize = nev::MAX_LEVELS;
/// Output room per call: kill/lockdown cancel every open order (2 actions
/// each), a signal may also re-peg every order and place a full ladder.
pub const EXEC_ACTIONS: usize = 4 * MAX_OPEN_ORDERS + 3 * MAX_LADDER + 8;
pub type ExecActions = ActionBuf<ExecAction, EXEC_ACTIONS>;

/// Realised-NEV fills awaiting their horizon.
const PENDING_MARKS: usize = 256;

/// What Execution asks the world to do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ExecAction {
    /// Send a new passive limit order (day order).
    SendNew {
        client_order_id: u64,
        side: u8,
        price_e8: i64,
        qty_e8: i64,
    },
    /// Move a resting order.
    SendModify {
        client_order_id: u64,
        price_e8: i64,
        qty_e8: i64,
    },
    SendCancel {
        client_order_id: u64,
    },
    /// An order state change: journal it, then forward it to Sentinel (orders.ring).
    Report(OrderEvent),
    /// A journal-only record ([`journal::jkind`]: intent, reconciliation).
    Journal(OrderEvent),
}

impl Default for ExecAction {
    fn default() -> Self {
        ExecAction::SendCancel { client_order_id: 0 }
    }
}

/// What the venue said about one of our orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VenueEvent {
    /// Gateway/broker accepted it (not yet on the book).
    Accepted {
        client_order_id: u64,
        venue_order_id: u64,
    },
    /// Resting on the book.
    Open {
        client_order_id: u64,
        venue_order_id: u64,
    },
    /// A (partial) fill; `leaves_qty_e8` = 0 when complete.
    Fill {
        client_order_id: u64,
        price_e8: i64,
        qty_e8: i64,
        leaves_qty_e8: i64,
    },
    Cancelled {
        client_order_id: u64,
    },
    Rejected {
        client_order_id: u64,
        reason: u16,
    },
    /// A cancel or modify was refused (e.g. already filled).
    CancelRejected {
        client_order_id: u64,
        reason: u16,
    },
    Modified {
        client_order_id: u64,
        price_e8: i64,
        qty_e8: i64,
        leaves_qty_e8: i64,
    },
}

/// One of our orders as the venue lists it (for reconciliation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VenueOrder {
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub side: u8,
    pub price_e8: i64,
    pub leaves_qty_e8: i64,
}

/// The state of the other actors Execution obeys, read from the control block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Gates {
    pub regime: Regime,
    /// Sonar's first failing gate check (0 = open).
    pub gate_check: u32,
    pub lockdown: bool,
}

/// Why an order was not placed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum BlockReason {
    Killed = 0,
    NotReconciled = 1,
    Lockdown = 2,
    Regime = 3,
    Gate = 4,
    OrderTable = 5,
    PositionLimit = 6,
    Nev = 7,
    OtrBudget = 8,
    RateLimit = 9,
}

pub const BLOCK_REASONS: usize = 10;

impl BlockReason {
    pub const ALL: [BlockReason; BLOCK_REASONS] = [
        BlockReason::Killed,
        BlockReason::NotReconciled,
        BlockReason::Lockdown,
        BlockReason::Regime,
        BlockReason::Gate,
        BlockReason::OrderTable,
        BlockReason::PositionLimit,
        BlockReason::Nev,
        BlockReason::OtrBudget,
        BlockReason::RateLimit,
    ];

    pub fn name(self) -> &'static str {
        match self {
            BlockReason::Killed => "killed",
            BlockReason::NotReconciled => "not_reconciled",
            BlockReason::Lockdown => "lockdown",
            BlockReason::Regime => "regime",
            BlockReason::Gate => "gate",
            BlockReason::OrderTable => "order_table",
            BlockReason::PositionLimit => "position_limit",
            BlockReason::Nev => "nev",
            BlockReason::OtrBudget => "otr_budget",
            BlockReason::RateLimit => "rate_limit",
        }
    }
}

/// Why Execution refused an [`OrderIntent`] before any gate: what the intent asks is not an order
/// this Execution places.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum IntentRefusal {
    /// Another instrument, a side, order type or time in force other than buy/sell, LIMIT,
    /// DAY, no `stamps.publish_ns`, a price ≤ 0 or off the tick, a quantity ≤ 0 or above
    /// `order_qty_e8`.
    Malformed = 0,
    /// MODIFY, or an action code this build does not know.
    Unsupported = 1,
    /// Older than `intent_max_age_ns` when read.
    Stale = 2,
    /// No touch known yet, so passivity cannot be checked.
    NoTouch = 3,
    /// The price would cross the touch (a buy at or above the ask, a sell at or below the
    /// bid): Execution places passive orders only.
    Marketable = 4,
    /// CANCEL of an order that is not a live order of an intent.
    UnknownOrder = 5,
}

pub const INTENT_REFUSALS: usize = 6;

/// What became of one [`OrderIntent`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntentOutcome {
    /// A new order with this client order id (its SendNew is in the actions).
    Placed(u64),
    /// This many of the intents' orders are being cancelled.
    Cancelled(usize),
    /// Refused as what it asks is not an order Execution places.
    Refused(IntentRefusal),
    /// A gate stopped it (counted in `blocked` with the quotes').
    Blocked(BlockReason),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ExecutionConfig {
    pub segment: Segment,
    pub instrument_id: u32,
    pub tick_size_e8: i64,
    /// Quantity of each order (units e8).
    pub order_qty_e8: i64,
    /// Cancel an order this long after placement unless filled.
    pub cancel_after_ns: u64,
    /// Timer wheel resolution and size (cover `cancel_after_ns` in one turn).
    pub timer_tick_ns: u64,
    pub timer_slots: usize,
    pub max_open_orders: usize,
    /// Largest |position| (units e8), counting open orders on the same side.
    pub max_position_e8: i64,
    /// Quote only when |strength| reaches this.
    pub min_strength: f64,
    /// Ladder ("controlled flooding") when |strength| reaches this.
    pub ladder_min_strength: f64,
    pub ladder_max_orders: usize,
    pub max_modifications_per_order: u32,
    /// Move resting touch orders to the new touch with a modification.
    pub repeg: bool,
    pub rate: RateConfig,
    pub otr_bands: OtrBands,
    /// Stop quoting when the projected penalty-relevant OTR would exceed this.
    pub otr_penalty_budget: f64,
    /// The OTR budget applies after this many penalty-relevant orders.
    pub otr_min_orders: u64,
    pub nev: NevConfig,
    /// Realised NEV marks each fill at the mid this long after it.
    pub nev_horizon_ns: u64,
    /// An intent from a user strategy actor older than this when Execution reads it (its
    /// `stamps.publish_ns`) is refused as stale: after a restart or a stall, a wish made for a
    /// market that has moved on is not sent.
    pub intent_max_age_ns: u64,
}

impl Default for ExecutionConfig {
    fn default() -> Self {
        Self {
            segment: Segment::EquityIntraday,
            instrument_id: 1,
            tick_size_e8: 5_000_000,
            order_qty_e8: PRICE_SCALE,
            cancel_after_ns: 200_000_000,
            timer_tick_ns: 1_000_000,
            timer_slots: 512,
            max_open_orders: 16,
            max_position_e8: 100 * PRICE_SCALE,
            min_strength: 0.3,
            ladder_min_strength: 0.8,
            ladder_max_orders: 3,
            max_modifications_per_order: 25,
            repeg: true,
            rate: RateConfig::default(),
            otr_bands: OtrBands::default(),
            otr_penalty_budget: 20.0,
            otr_min_orders: 50,
            nev: NevConfig::default(),
            nev_horizon_ns: 1_000_000_000,
            intent_max_age_ns: 50_000_000,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum ExecConfigError {
    #[error("execution.{0}: {1}")]
    Invalid(&'static str, String),
}

impl ExecutionConfig {
    pub fn validate(&self) -> Result<(), ExecConfigError> {
        let bad = |f: &'static str, m: String| Err(ExecConfigError::Invalid(f, m));
        if self.tick_size_e8 <= 0 {
            return bad("tick_size_e8", format!("{} must be > 0", self.tick_size_e8));
        }
        if self.order_qty_e8 <= 0 {
            return bad("order_qty_e8", format!("{} must be > 0", self.order_qty_e8));
        }
        if self.intent_max_age_ns == 0 {
            return bad("intent_max_age_ns", "must be > 0".into());
        }
        if self.cancel_after_ns == 0 || self.timer_tick_ns == 0 || self.timer_slots == 0 {
            return bad(
                "cancel_after_ns",
                "cancel_after_ns, timer_tick_ns and timer_slots must be > 0".into(),
            );
        }
        if self.max_open_orders == 0 || self.max_open_orders > MAX_OPEN_ORDERS {
            return bad(
                "max_open_orders",
                format!("{} must be 1 ..= {MAX_OPEN_ORDERS}", self.max_open_orders),
            );
        }
        if self.ladder_max_orders == 0 || self.ladder_max_orders > MAX_LADDER {
            return bad(
                "ladder_max_orders",
                format!("{} must be 1 ..= {MAX_LADDER}", self.ladder_max_orders),
            );
        }
        if !(0.0..=1.0).contains(&self.min_strength)
            || !(0.0..=1.0).contains(&self.ladder_min_strength)
        {
            return bad(
                "min_strength",
                "min_strength and ladder_min_strength must be within 0 … 1".into(),
            );
        }
        if self.max_position_e8 < 0 {
            return bad("max_position_e8", "must be ≥ 0".into());
        }
        if !(self.otr_penalty_budget.is_finite() && self.otr_penalty_budget > 0.0) {
            return bad(
                "otr_penalty_budget",
                format!("{} must be > 0", self.otr_penalty_budget),
            );
        }
        self.nev
            .validate()
            .map_err(|m| ExecConfigError::Invalid("nev", m))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OrderState {
    Sent,
    Accepted,
    Open,
}

#[derive(Clone, Copy, Debug)]
struct Order {
    cid: u64,
    venue_oid: u64,
    side: u8,
    price_e8: i64,
    qty_e8: i64,
    leaves_e8: i64,
    filled_e8: i64,
    state: OrderState,
    placed_ns: u64,
    deadline_ns: u64,
    timer: Option<TimerHandle>,
    mods: u32,
    /// LTP when entered or last modified (OTR exemption of its cancel).
    ltp_e8: i64,
    level: u8,
    cancel_pending: bool,
    modify_pending: bool,
    /// Price a pending modification moves the order to.
    modify_price_e8: i64,
    /// Placed for a user strategy's intent: Oracle's signals do not cancel or move it.
    from_intent: bool,
}

/// What [`Execution::place`] enters: a quote of Execution's own or an intent's order.
#[derive(Clone, Copy, Debug)]
struct NewOrder {
    side: u8,
    price_e8: i64,
    qty_e8: i64,
    /// Rung of the ladder (0 = the touch; intents: 0).
    level: usize,
    /// NEV estimated at placement (₹; intents: 0, Execution has no estimate of their alpha).
    nev_inr: f64,
    /// The input's stamps (recv_ns = when the market data behind it was read).
    stamps: Stamps,
    /// Seq of the user strategy's intent it is placed for (None: Execution's own quote).
    intent_seq: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
struct PendingMark {
    due_ns: u64,
    side: u8,
    price_e8: i64,
    qty_e8: i64,
    entry_costs_inr: f64,
}

/// Everything the cockpit and the backtest report want from Execution.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ExecMetrics {
    pub orders_sent: u64,
    pub modifies_sent: u64,
    pub cancels_sent: u64,
    /// Cancels sent by the 200 ms timer.
    pub timer_cancels: u64,
    /// Fill events (partial fills count each).
    pub fills: u64,
    /// Orders finished: filled (any quantity), cancelled, rejected.
    pub orders_done: u64,
    pub orders_filled: u64,
    pub orders_cancelled_unfilled: u64,
    pub orders_rejected: u64,
    /// orders_filled / orders_sent (orders with any fill).
    pub fill_rate: f64,
    /// orders_cancelled_unfilled / orders_sent.
    pub cancel_rate: f64,
    pub partial_fills: u64,
    /// Signal receive (`stamps.recv_ns`) → order decided, latest order.
    pub tick_to_order_last_ns: u64,
    pub otr: OtrCounter,
    pub otr_raw: f64,
    pub otr_penalty: f64,
    /// Σ NEV at placement (₹).
    pub nev_expected_inr: f64,
    /// Σ over fills past their horizon: (mid at horizon − fill) · signed qty − both sides' costs (₹).
    pub nev_realised_inr: f64,
    pub position_e8: i64,
    /// Cash + position at the mid (₹), before costs.
    pub pnl_gross_inr: f64,
    pub costs: CostsInr,
    pub pnl_net_inr: f64,
    pub blocked: [u64; BLOCK_REASONS],
    /// Cancel time − deadline of timer cancels.
    pub cancel_lateness: RttStats,
    /// Venue events for orders we do not know (e.g. an orphan's cancel).
    pub unknown_events: u64,
    /// Signals refused as malformed: a touch off the instrument's tick, or a strength that is
    /// not a number within −1 … 1 (Oracle's strengths always are).
    pub signals_refused: u64,
    /// Intents read from user strategy actors (`intent.ring`), those placed as orders, and
    /// those refused by [`IntentRefusal`] (index = code; gates count in `blocked`).
    pub intents: u64,
    pub intents_placed: u64,
    pub intents_refused: [u64; INTENT_REFUSALS],
}

#[derive(Clone, Copy, Debug, Default)]
struct Market {
    have: bool,
    bid_e8: i64,
    ask_e8: i64,
    microprice_e8: i64,
    strength: f64,
    stamps: Stamps,
}

/// Result of a reconciliation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReconcileSummary {
    /// Orders at the venue we had no record of: cancels sent.
    pub orphans_cancelled: u64,
    /// Local orders the venue no longer has: closed locally.
    pub gone: u64,
    /// Orders both sides know: kept (their 200 ms timers re-armed from placement).
    pub kept: u64,
    /// Position change applied to match the venue (units e8).
    pub position_fix_e8: i64,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ExecError {
    #[error("journal holds {0} open orders, more than max_open_orders = {1}: raise it to recover")]
    TooManyRecovered(usize, usize),
    #[error("reconciliation needs {0} actions but the buffer has room for {1}: reconcile in smaller batches")]
    ReconcileTooLarge(usize, usize),
    #[error("the venue's position differs from ours by {0} (e8) and there is no mark price to value the correction at yet: reconcile again after market data")]
    NoMarkForPositionFix(i64),
}

/// The Execution state machine.
#[derive(Clone, Debug)]
pub struct Execution {
    cfg: ExecutionConfig,
    costs: CostTable,
    wheel: TimerWheel,
    rate: RateLimiter,
    otr: OtrCounter,
    fill_prob: FillProbability,
    orders: Vec<Order>,
    next_cid: u64,
    event_seq: u64,
    gates: Gates,
    killed: bool,
    reconciled: bool,
    market: Market,
    ltp_e8: i64,
    position_e8: i64,
    cash_e8: i128,
    marks: VecDeque<PendingMark>,
    lateness: RttWindow,
    m: ExecMetrics,
}

impl Execution {
    /// `costs` is the table in force on the trading date
    /// ([`costs::CostSchedule::for_date`]).
    pub fn new(cfg: ExecutionConfig, costs: CostTable) -> Result<Self, ExecConfigError> {
        cfg.validate()?;
        Ok(Self {
            wheel: TimerWheel::new(cfg.timer_tick_ns, cfg.timer_slots, cfg.max_open_orders),
            rate: RateLimiter::new(&cfg.rate),
            fill_prob: FillProbability::new(&cfg.nev),
            orders: Vec::with_capacity(cfg.max_open_orders),
            marks: VecDeque::with_capacity(PENDING_MARKS),
            lateness: RttWindow::new(4096),
            cfg,
            costs,
            otr: OtrCounter::default(),
            next_cid: 1,
            event_seq: 0,
            gates: Gates::default(),
            killed: false,
            reconciled: true,
            market: Market::default(),
            ltp_e8: 0,
            position_e8: 0,
            cash_e8: 0,
            m: ExecMetrics::default(),
        })
    }

    pub fn config(&self) -> &ExecutionConfig {
        &self.cfg
    }

    pub fn open_orders(&self) -> usize {
        self.orders.len()
    }

    /// Client order ids of open orders, ascending.
    pub fn open_order_ids(&self, out: &mut Vec<u64>) {
        out.clear();
        out.extend(self.orders.iter().map(|o| o.cid));
        out.sort_unstable();
    }

    pub fn position_e8(&self) -> i64 {
        self.position_e8
    }

    /// Whether a mark price (mid, or last trade) is known: a position correction needs one.
    pub fn has_mark(&self) -> bool {
        self.mid_e8() > 0
    }

    pub fn is_killed(&self) -> bool {
        self.killed
    }

    pub fn is_reconciled(&self) -> bool {
        self.reconciled
    }

    /// Metrics at `now` (marks PnL at the last mid).
    pub fn metrics(&mut self) -> ExecMetrics {
        let mut m = self.m;
        m.otr = self.otr;
        m.otr_raw = self.otr.otr_raw();
        m.otr_penalty = self.otr.otr_penalty();
        m.fill_rate = ratio(m.orders_filled, m.orders_sent);
        m.cancel_rate = ratio(m.orders_cancelled_unfilled, m.orders_sent);
        m.position_e8 = self.position_e8;
        let mid = self.mid_e8();
        let mtm = self.position_e8 as i128 * mid as i128 / PRICE_SCALE as i128;
        m.pnl_gross_inr = (self.cash_e8 + mtm) as f64 / PRICE_SCALE as f64;
        m.pnl_net_inr = m.pnl_gross_inr - m.costs.total();
        m.cancel_lateness = self.lateness.stats();
        m
    }

    /// Snapshot for the control block's Execution telemetry (money in e8).
    pub fn telemetry(&mut self, now_ns: u64) -> runtime::telemetry::ExecutionTelemetry {
        let m = self.metrics();
        let e8 = |inr: f64| (inr * PRICE_SCALE as f64).round() as i64;
        let b = |r: BlockReason| m.blocked[r as usize];
        runtime::telemetry::ExecutionTelemetry {
            updated_ns: now_ns,
            orders_sent: m.orders_sent,
            cancels_sent: m.cancels_sent,
            modifies_sent: m.modifies_sent,
            fills: m.fills,
            partial_fills: m.partial_fills,
            rejects: m.orders_rejected,
            open_orders: self.orders.len() as u64,
            position_e8: m.position_e8,
            fill_rate: m.fill_rate,
            cancel_rate: m.cancel_rate,
            nev_expected_e8: e8(m.nev_expected_inr),
            nev_realised_e8: e8(m.nev_realised_inr),
            pnl_gross_e8: e8(m.pnl_gross_inr),
            pnl_net_e8: e8(m.pnl_net_inr),
            costs_e8: e8(m.costs.total()),
            otr_raw: m.otr_raw,
            otr_penalty: m.otr_penalty,
            otr_budget: self.cfg.otr_penalty_budget,
            blocked_by_regime: b(BlockReason::Regime),
            blocked_by_gate: b(BlockReason::Gate),
            blocked_by_lockdown: b(BlockReason::Lockdown),
            blocked_by_kill: b(BlockReason::Killed),
            blocked_by_nev: b(BlockReason::Nev),
            blocked_by_rate: b(BlockReason::RateLimit),
            blocked_by_otr: b(BlockReason::OtrBudget),
            cancels_on_deadline: m.timer_cancels,
            cancel_lateness_p99_ns: m.cancel_lateness.p99_ns,
            tick_to_order_last_ns: m.tick_to_order_last_ns,
            signals_refused: m.signals_refused,
            intents: m.intents,
            intents_placed: m.intents_placed,
            intents_refused: m.intents_refused.iter().sum(),
        }
    }

    // ---------------------------------------------------------------- inputs

    /// Control-block state (Sonar regime and gate, Sentinel lockdown). Entering
    /// lockdown cancels every resting order.
    pub fn on_gates(&mut self, gates: Gates, now_ns: u64, out: &mut ExecActions) {
        let entering = gates.lockdown && !self.gates.lockdown;
        self.gates = gates;
        if entering {
            self.cancel_all(now_ns, out);
        }
    }

    /// The kill switch: cancel everything; send nothing new until [`Execution::rearm`].
    pub fn on_kill(&mut self, now_ns: u64, out: &mut ExecActions) {
        self.killed = true;
        self.cancel_all(now_ns, out);
    }

    /// Clear the kill latch (an operator's decision).
    pub fn rearm(&mut self) {
        self.killed = false;
    }

    /// Market data: trades set the LTP (OTR bands), books the mid (marks).
    pub fn on_md(&mut self, ev: &MdEvent, now_ns: u64) {
        match ev.kind {
            md_kind::TRADE if ev.trade.price_e8 > 0 => self.ltp_e8 = ev.trade.price_e8,
            // An off-tick touch is not taken (a resting order is re-pegged to it).
            md_kind::BOOK
                if ev.book.bid_levels > 0
                    && ev.book.ask_levels > 0
                    && ev.book.bids[0].price_e8 % self.cfg.tick_size_e8 == 0
                    && ev.book.asks[0].price_e8 % self.cfg.tick_size_e8 == 0 =>
            {
                self.market.bid_e8 = ev.book.bids[0].price_e8;
                self.market.ask_e8 = ev.book.asks[0].price_e8;
                if !self.market.have {
                    self.market.microprice_e8 = midpoint_e8(self.market.bid_e8, self.market.ask_e8);
                }
            }
            _ => {}
        }
        self.settle_marks(now_ns);
    }

    /// A signal from Oracle: manage resting orders, then quote.
    pub fn on_signal(&mut self, sig: &Signal, now_ns: u64, out: &mut ExecActions) {
        if sig.instrument_id != self.cfg.instrument_id
            || sig.best_bid_e8 <= 0
            || sig.best_ask_e8 <= sig.best_bid_e8
        {
            return;
        }
        // Orders join or step off the touch a whole number of ticks away: an off-tick touch
        // would become an off-tick order (refused by the venue, still counted against the
        // rate limit and OTR). A strength outside −1 … 1 would move the fair value anywhere.
        let tick = self.cfg.tick_size_e8;
        if sig.best_bid_e8 % tick != 0
            || sig.best_ask_e8 % tick != 0
            || !(-1.0..=1.0).contains(&sig.strength)
        {
            self.m.signals_refused += 1;
            return;
        }
        self.market = Market {
            have: true,
            bid_e8: sig.best_bid_e8,
            ask_e8: sig.best_ask_e8,
            microprice_e8: sig.microprice_e8,
            strength: sig.strength,
            stamps: sig.stamps,
        };
        self.settle_marks(now_ns);
        self.manage_resting(now_ns, out);
        self.quote(now_ns, out);
    }

    /// An order intent from a user strategy actor (`intent.ring`). The strategy chooses side,
    /// price and quantity; Execution applies the gates it applies to its own quotes (kill
    /// switch, reconciliation, Sentinel's lockdown, Sonar's regime and data gate, the order
    /// table, the position limit, the OTR budget, the order rate) and the same discipline:
    /// passive LIMIT DAY orders only, cancelled `cancel_after_ns` after placement, journaled
    /// and reported to Sentinel like every other. It does not apply the NEV check: Execution
    /// has no estimate of a strategy's alpha, which is the strategy's to judge after costs.
    ///
    /// Oracle's signals never cancel or move an intent's order. The strategy cancels with
    /// CANCEL (by client order id) or CANCEL_ALL (every live order of an intent); it cannot
    /// modify (a new order after a cancel does the same, and each counts towards OTR anyway).
    pub fn on_intent(
        &mut self,
        it: &OrderIntent,
        now_ns: u64,
        out: &mut ExecActions,
    ) -> IntentOutcome {
        self.m.intents += 1;
        let outcome = self.decide_intent(it, now_ns, out);
        match outcome {
            IntentOutcome::Placed(_) => self.m.intents_placed += 1,
            IntentOutcome::Refused(r) => self.m.intents_refused[r as usize] += 1,
            IntentOutcome::Blocked(r) => self.m.blocked[r as usize] += 1,
            IntentOutcome::Cancelled(_) => {}
        }
        outcome
    }

    fn decide_intent(
        &mut self,
        it: &OrderIntent,
        now_ns: u64,
        out: &mut ExecActions,
    ) -> IntentOutcome {
        use IntentOutcome::{Blocked, Cancelled, Placed, Refused};
        if it.instrument_id != self.cfg.instrument_id || it.stamps.publish_ns == 0 {
            return Refused(IntentRefusal::Malformed);
        }
        if now_ns.saturating_sub(it.stamps.publish_ns) > self.cfg.intent_max_age_ns {
            return Refused(IntentRefusal::Stale);
        }
        match it.action {
            intent_action::NEW => {}
            intent_action::CANCEL => {
                let live = self
                    .orders
                    .iter()
                    .position(|o| o.cid == it.client_order_id && o.from_intent);
                return match live {
                    Some(i) if !self.orders[i].cancel_pending => {
                        self.send_cancel(i, now_ns, out);
                        Cancelled(1)
                    }
                    // A cancel already on its way: nothing more to do.
                    Some(_) => Cancelled(0),
                    None => Refused(IntentRefusal::UnknownOrder),
                };
            }
            intent_action::CANCEL_ALL => {
                let mut n = 0;
                for i in 0..self.orders.len() {
                    let o = &self.orders[i];
                    if o.from_intent && !o.cancel_pending && out.remaining() >= 2 {
                        self.send_cancel(i, now_ns, out);
                        n += 1;
                    }
                }
                return Cancelled(n);
            }
            _ => return Refused(IntentRefusal::Unsupported),
        }
        let ts = match it.side {
            side::BUY => TradeSide::Buy,
            side::SELL => TradeSide::Sell,
            _ => return Refused(IntentRefusal::Malformed),
        };
        let tick = self.cfg.tick_size_e8;
        if it.order_type != order_type::LIMIT
            || it.tif != tif::DAY
            || it.price_e8 <= 0
            || it.price_e8 % tick != 0
            || it.qty_e8 <= 0
            || it.qty_e8 > self.cfg.order_qty_e8
        {
            return Refused(IntentRefusal::Malformed);
        }
        let (bid, ask) = (self.market.bid_e8, self.market.ask_e8);
        if bid <= 0 || ask <= bid {
            return Refused(IntentRefusal::NoTouch);
        }
        let crosses = match ts {
            TradeSide::Buy => it.price_e8 >= ask,
            TradeSide::Sell => it.price_e8 <= bid,
        };
        if crosses {
            return Refused(IntentRefusal::Marketable);
        }
        if out.remaining() < 4 {
            // Cannot happen from the live loop (one intent per call, actions handled after
            // each); refuse rather than drop the order's journal records or report.
            return Blocked(BlockReason::OrderTable);
        }
        if let Err(r) = self
            .check_exposure(ts, it.qty_e8)
            .and_then(|()| self.check_budgets(it.price_e8, now_ns))
        {
            return Blocked(r);
        }
        let new = NewOrder {
            side: it.side,
            price_e8: it.price_e8,
            qty_e8: it.qty_e8,
            level: 0,
            nev_inr: 0.0,
            stamps: it.stamps,
            intent_seq: Some(it.seq),
        };
        match self.place(new, now_ns, out) {
            0 => Blocked(BlockReason::OrderTable),
            cid => Placed(cid),
        }
    }

    /// Time passes: fire due 200 ms cancels (call every poll).
    pub fn on_tick(&mut self, now_ns: u64, out: &mut ExecActions) {
        let mut due = [(0u64, 0u64); MAX_OPEN_ORDERS];
        let mut n = 0;
        let room = (out.remaining() / 2).min(MAX_OPEN_ORDERS);
        self.wheel.expire(now_ns, |cid, deadline| {
            if n < room {
                due[n] = (cid, deadline);
                n += 1;
                true
            } else {
                false
            }
        });
        for &(cid, deadline) in &due[..n] {
            let Some(i) = self.find(cid) else { continue };
            self.orders[i].timer = None;
            if self.orders[i].cancel_pending {
                continue;
            }
            self.lateness.push(now_ns - deadline);
            self.m.timer_cancels += 1;
            self.send_cancel(i, now_ns, out);
        }
        self.settle_marks(now_ns);
    }

    /// A venue response about one of our orders.
    pub fn on_venue(&mut self, ev: &VenueEvent, now_ns: u64, out: &mut ExecActions) {
        let cid = match *ev {
            VenueEvent::Accepted {
                client_order_id, ..
            }
            | VenueEvent::Open {
                client_order_id, ..
            }
            | VenueEvent::Fill {
                client_order_id, ..
            }
            | VenueEvent::Cancelled { client_order_id }
            | VenueEvent::Rejected {
                client_order_id, ..
            }
            | VenueEvent::CancelRejected {
                client_order_id, ..
            }
            | VenueEvent::Modified {
                client_order_id, ..
            } => client_order_id,
        };
        let Some(i) = self.find(cid) else {
            self.m.unknown_events += 1;
            return;
        };
        match *ev {
            VenueEvent::Accepted { venue_order_id, .. } => {
                let o = &mut self.orders[i];
                o.venue_oid = venue_order_id;
                if o.state == OrderState::Sent {
                    o.state = OrderState::Accepted;
                }
                self.report(i, oek::ACCEPTED, now_ns, 0, out);
            }
            VenueEvent::Open { venue_order_id, .. } => {
                let o = &mut self.orders[i];
                if venue_order_id != 0 {
                    o.venue_oid = venue_order_id;
                }
                o.state = OrderState::Open;
                self.report(i, oek::OPEN, now_ns, 0, out);
            }
            VenueEvent::Fill {
                price_e8,
                qty_e8,
                leaves_qty_e8,
                ..
            } => {
                self.on_fill(i, price_e8, qty_e8, leaves_qty_e8, now_ns, out);
            }
            VenueEvent::Cancelled { .. } => {
                self.report(i, oek::CANCELLED, now_ns, 0, out);
                self.close(i, false);
            }
            VenueEvent::Rejected { reason, .. } => {
                self.report(i, oek::REJECTED, now_ns, reason, out);
                self.m.orders_rejected += 1;
                self.close(i, true);
            }
            VenueEvent::CancelRejected { reason, .. } => {
                let o = &mut self.orders[i];
                o.cancel_pending = false;
                o.modify_pending = false;
                self.report(i, oek::CANCEL_REJECTED, now_ns, reason, out);
            }
            VenueEvent::Modified {
                price_e8,
                qty_e8,
                leaves_qty_e8,
                ..
            } => {
                let o = &mut self.orders[i];
                o.price_e8 = price_e8;
                o.qty_e8 = qty_e8;
                o.leaves_e8 = leaves_qty_e8;
                o.modify_pending = false;
                self.report(i, oek::MODIFIED, now_ns, 0, out);
            }
        }
    }

    // ---------------------------------------------------- restart and recovery

    /// Rebuild from the journal after a restart. Quoting stays blocked until
    /// [`Execution::reconcile`].
    pub fn restore(&mut self, st: &RecoveredState) -> Result<(), ExecError> {
        if st.open_orders.len() > self.cfg.max_open_orders {
            return Err(ExecError::TooManyRecovered(
                st.open_orders.len(),
                self.cfg.max_open_orders,
            ));
        }
        self.orders.clear();
        self.wheel = TimerWheel::new(
            self.cfg.timer_tick_ns,
            self.cfg.timer_slots,
            self.cfg.max_open_orders,
        );
        for r in &st.open_orders {
            self.orders.push(Order {
                cid: r.client_order_id,
                venue_oid: r.venue_order_id,
                side: r.side,
                price_e8: r.price_e8,
                qty_e8: r.qty_e8,
                leaves_e8: r.leaves_qty_e8,
                filled_e8: r.filled_qty_e8,
                state: match r.state {
                    RecoveredOrderState::Intent | RecoveredOrderState::Sent => OrderState::Sent,
                    RecoveredOrderState::Accepted => OrderState::Accepted,
                    RecoveredOrderState::Open => OrderState::Open,
                },
                placed_ns: r.placed_ns,
                deadline_ns: r.placed_ns + self.cfg.cancel_after_ns,
                timer: None,
                mods: r.modifications,
                ltp_e8: r.ltp_e8,
                level: 0,
                cancel_pending: r.cancel_sent,
                modify_pending: false,
                modify_price_e8: 0,
                from_intent: r.intent_seq.is_some(),
            });
        }
        self.position_e8 = st.position_e8;
        self.cash_e8 = st.cash_e8;
        self.next_cid = self.next_cid.max(st.next_client_order_id);
        self.event_seq = self.event_seq.max(st.last_seq);
        self.reconciled = false;
        Ok(())
    }

    /// Compare with the venue's list of our open orders (and, if known, its
    /// position): cancel orphans, close what the venue no longer has, keep the
    /// rest with their 200 ms timers, correct the position. Quoting resumes after.
    ///
    /// A position correction is valued at the mark (mid, or last trade), so it moves no
    /// P&L. With the venue's position known, the result is reported to Sentinel
    /// ([`oek::POSITION`], the absolute position), changed or not. With no mark yet it fails with
    /// [`ExecError::NoMarkForPositionFix`] before changing anything, and quoting stays
    /// blocked (even for an Execution that was reconciled) until a later call succeeds.
    pub fn reconcile(
        &mut self,
        venue: &[VenueOrder],
        venue_position_e8: Option<i64>,
        now_ns: u64,
        out: &mut ExecActions,
    ) -> Result<ReconcileSummary, ExecError> {
        let orphans = venue
            .iter()
            .filter(|v| self.find(v.client_order_id).is_none())
            .count();
        let need = 2 * orphans + self.orders.len() + 2;
        if need > out.remaining() {
            return Err(ExecError::ReconcileTooLarge(need, out.remaining()));
        }
        if let Some(p) = venue_position_e8 {
            if p != self.position_e8 && self.mid_e8() <= 0 {
                self.reconciled = false;
                return Err(ExecError::NoMarkForPositionFix(p - self.position_e8));
            }
        }
        let mut s = ReconcileSummary::default();
        // Local orders: keep those the venue lists, close the others.
        let mut i = 0;
        while i < self.orders.len() {
            match venue
                .iter()
                .find(|v| v.client_order_id == self.orders[i].cid)
            {
                Some(v) => {
                    let o = &mut self.orders[i];
                    o.leaves_e8 = v.leaves_qty_e8;
                    o.venue_oid = v.venue_order_id;
                    o.price_e8 = v.price_e8;
                    o.state = OrderState::Open;
                    o.cancel_pending = false;
                    let (deadline, cid) = (o.deadline_ns, o.cid);
                    self.orders[i].timer = self.wheel.insert(deadline, cid).ok();
                    s.kept += 1;
                    i += 1;
                }
                None => {
                    self.journal_only(i, jkind::GONE, now_ns, out);
                    self.orders.swap_remove(i);
                    s.gone += 1;
                }
            }
        }
        // Orders the venue has and we never journaled: cancel.
        for v in venue {
            if self.find(v.client_order_id).is_some() {
                continue;
            }
            out.push(ExecAction::SendCancel {
                client_order_id: v.client_order_id,
            });
            let ltp = if self.ltp_e8 > 0 {
                self.ltp_e8
            } else {
                v.price_e8
            };
            let exempt = self
                .cfg
                .otr_bands
                .is_exempt(self.cfg.segment, v.price_e8, ltp);
            self.otr.record_order(exempt);
            self.m.cancels_sent += 1;
            let ev = OrderEvent {
                client_order_id: v.client_order_id,
                venue_order_id: v.venue_order_id,
                side: v.side,
                price_e8: v.price_e8,
                qty_e8: v.leaves_qty_e8,
                leaves_qty_e8: v.leaves_qty_e8,
                ltp_e8: ltp,
                request_sent_ns: now_ns,
                kind: oek::CANCEL_SENT,
                ..self.event_base(now_ns)
            };
            out.push(ExecAction::Report(ev));
            self.next_cid = self.next_cid.max(v.client_order_id + 1);
            s.orphans_cancelled += 1;
        }
        if let Some(p) = venue_position_e8 {
            // Reported even when nothing changes: Sentinel takes the absolute figure, so a fill
            // it missed (this process died between journal and ring) is made good as well.
            let delta = p - self.position_e8;
            let mark = self.mid_e8();
            self.position_e8 = p;
            self.cash_e8 -= delta as i128 * mark as i128 / PRICE_SCALE as i128;
            let ev = OrderEvent {
                qty_e8: p,
                fill_qty_e8: delta,
                fill_price_e8: mark,
                kind: oek::POSITION,
                ..self.event_base(now_ns)
            };
            out.push(ExecAction::Report(ev));
            s.position_fix_e8 = delta;
        }
        let ev = OrderEvent {
            kind: jkind::RECONCILED,
            ..self.event_base(now_ns)
        };
        out.push(ExecAction::Journal(ev));
        self.reconciled = true;
        Ok(s)
    }

    // ---------------------------------------------------------------- internals

    fn find(&self, cid: u64) -> Option<usize> {
        self.orders.iter().position(|o| o.cid == cid)
    }

    fn mid_e8(&self) -> i64 {
        if self.market.bid_e8 > 0 && self.market.ask_e8 > 0 {
            midpoint_e8(self.market.bid_e8, self.market.ask_e8)
        } else {
            self.ltp_e8
        }
    }

    /// LTP for the OTR band: the last print, or the mid until the first print.
    fn ltp_or_mid(&self) -> i64 {
        if self.ltp_e8 > 0 {
            self.ltp_e8
        } else {
            self.mid_e8()
        }
    }

    fn event_base(&mut self, now_ns: u64) -> OrderEvent {
        self.event_seq += 1;
        OrderEvent {
            seq: self.event_seq,
            stamps: Stamps {
                recv_ns: now_ns,
                publish_ns: now_ns,
                ..Default::default()
            },
            instrument_id: self.cfg.instrument_id,
            ..Default::default()
        }
    }

    fn order_event(&mut self, i: usize, kind: u8, now_ns: u64, reason: u16) -> OrderEvent {
        let o = self.orders[i];
        OrderEvent {
            client_order_id: o.cid,
            venue_order_id: o.venue_oid,
            price_e8: o.price_e8,
            qty_e8: o.qty_e8,
            leaves_qty_e8: o.leaves_e8,
            ltp_e8: o.ltp_e8,
            request_sent_ns: o.placed_ns,
            reason,
            kind,
            side: o.side,
            ..self.event_base(now_ns)
        }
    }

    fn report(&mut self, i: usize, kind: u8, now_ns: u64, reason: u16, out: &mut ExecActions) {
        let ev = self.order_event(i, kind, now_ns, reason);
        out.push(ExecAction::Report(ev));
    }

    fn journal_only(&mut self, i: usize, kind: u8, now_ns: u64, out: &mut ExecActions) {
        let ev = self.order_event(i, kind, now_ns, 0);
        out.push(ExecAction::Journal(ev));
    }

    /// Remove a finished order. A rejected order says nothing about fill
    /// probability and is not a cancel.
    fn close(&mut self, i: usize, rejected: bool) {
        let o = self.orders.swap_remove(i);
        if let Some(h) = o.timer {
            self.wheel.cancel(h);
        }
        self.m.orders_done += 1;
        if o.filled_e8 > 0 {
            self.m.orders_filled += 1;
        } else if !rejected {
            self.m.orders_cancelled_unfilled += 1;
        }
        if !rejected {
            self.fill_prob.record(o.level as usize, o.filled_e8 > 0);
        }
    }

    fn cancel_all(&mut self, now_ns: u64, out: &mut ExecActions) {
        for i in 0..self.orders.len() {
            if !self.orders[i].cancel_pending {
                self.send_cancel(i, now_ns, out);
            }
        }
    }

    fn send_cancel(&mut self, i: usize, now_ns: u64, out: &mut ExecActions) {
        let o = &mut self.orders[i];
        o.cancel_pending = true;
        let (cid, price, ltp) = (o.cid, o.price_e8, o.ltp_e8);
        out.push(ExecAction::SendCancel {
            client_order_id: cid,
        });
        // A cancel inherits the exemption of the order's last entry/modification.
        let exempt = self.cfg.otr_bands.is_exempt(self.cfg.segment, price, ltp);
        self.otr.record_order(exempt);
        self.m.cancels_sent += 1;
        let mut ev = self.order_event(i, oek::CANCEL_SENT, now_ns, 0);
        ev.request_sent_ns = now_ns;
        out.push(ExecAction::Report(ev));
    }

    fn on_fill(
        &mut self,
        i: usize,
        price_e8: i64,
        qty_e8: i64,
        leaves_e8: i64,
        now_ns: u64,
        out: &mut ExecActions,
    ) {
        let o = &mut self.orders[i];
        let Some(ts) = TradeSide::from_code(o.side) else {
            return;
        };
        o.filled_e8 += qty_e8;
        o.leaves_e8 = leaves_e8.max(0);
        let sign: i128 = if ts == TradeSide::Buy { 1 } else { -1 };
        self.position_e8 = (self.position_e8 as i128 + sign * qty_e8 as i128) as i64;
        self.cash_e8 -= sign * qty_e8 as i128 * price_e8 as i128 / PRICE_SCALE as i128;
        let c = self
            .costs
            .fill_costs_inr(self.cfg.segment, ts, price_e8, qty_e8);
        self.m.costs.add(&c);
        self.otr.record_trade();
        self.m.fills += 1;
        if leaves_e8 > 0 {
            self.m.partial_fills += 1;
        }
        if self.marks.len() == PENDING_MARKS {
            // Full: settle the oldest early at the current mid (bounded memory).
            if let Some(pm) = self.marks.pop_front() {
                self.settle(pm);
            }
        }
        self.marks.push_back(PendingMark {
            due_ns: now_ns + self.cfg.nev_horizon_ns,
            side: self.orders[i].side,
            price_e8,
            qty_e8,
            entry_costs_inr: c.total(),
        });
        let kind = if leaves_e8 <= 0 {
            oek::FILLED
        } else {
            oek::PARTIALLY_FILLED
        };
        let mut ev = self.order_event(i, kind, now_ns, 0);
        ev.fill_qty_e8 = qty_e8;
        ev.fill_price_e8 = price_e8;
        out.push(ExecAction::Report(ev));
        if leaves_e8 <= 0 {
            self.close(i, false);
        }
    }

    fn settle_marks(&mut self, now_ns: u64) {
        if self.mid_e8() <= 0 {
            return;
        }
        while let Some(pm) = self.marks.front().copied() {
            if pm.due_ns > now_ns {
                break;
            }
            self.marks.pop_front();
            self.settle(pm);
        }
    }

    fn settle(&mut self, pm: PendingMark) {
        let mid = self.mid_e8();
        let Some(ts) = TradeSide::from_code(pm.side) else {
            return;
        };
        let (sign, exit) = match ts {
            TradeSide::Buy => (1.0, TradeSide::Sell),
            TradeSide::Sell => (-1.0, TradeSide::Buy),
        };
        let capture = sign * costs::notional_inr(mid - pm.price_e8, pm.qty_e8);
        let exit_costs = self
            .costs
            .fill_costs_inr(self.cfg.segment, exit, mid, pm.qty_e8)
            .total();
        self.m.nev_realised_inr += capture - pm.entry_costs_inr - exit_costs;
    }

    /// Gates 1-5: the ones that do not depend on the order.
    fn global_block(&self) -> Option<BlockReason> {
        if self.killed {
            Some(BlockReason::Killed)
        } else if !self.reconciled {
            Some(BlockReason::NotReconciled)
        } else if self.gates.lockdown {
            Some(BlockReason::Lockdown)
        } else if self.gates.regime != Regime::Attack {
            Some(BlockReason::Regime)
        } else if self.gates.gate_check != gate_check::NONE {
            Some(BlockReason::Gate)
        } else {
            None
        }
    }

    fn nev_market(&self) -> NevMarket {
        NevMarket {
            microprice_e8: self.market.microprice_e8,
            mid_e8: self.mid_e8(),
            strength: self.market.strength,
            tick_size_e8: self.cfg.tick_size_e8,
        }
    }

    fn estimate(&self, ts: TradeSide, price_e8: i64, level: usize) -> NevEstimate {
        nev::estimate(
            &self.cfg.nev,
            &self.costs,
            self.cfg.segment,
            ts,
            price_e8,
            self.cfg.order_qty_e8,
            &self.nev_market(),
            self.fill_prob.get(level),
        )
    }

    /// Checks 6-10 for a new order; takes the rate token when everything passes.
    fn check_new(
        &mut self,
        ts: TradeSide,
        price_e8: i64,
        level: usize,
        now_ns: u64,
    ) -> Result<NevEstimate, BlockReason> {
        self.check_exposure(ts, self.cfg.order_qty_e8)?;
        let est = self.estimate(ts, price_e8, level);
        if est.nev_inr <= self.cfg.nev.min_nev_inr {
            return Err(BlockReason::Nev);
        }
        self.check_budgets(price_e8, now_ns)?;
        Ok(est)
    }

    /// The gates before any estimate: kill switch, reconciliation, lockdown, regime, data gate,
    /// the order table, and the position limit counting every resting order on the side.
    fn check_exposure(&self, ts: TradeSide, qty_e8: i64) -> Result<(), BlockReason> {
        if let Some(r) = self.global_block() {
            return Err(r);
        }
        if self.orders.len() >= self.cfg.max_open_orders {
            return Err(BlockReason::OrderTable);
        }
        let side_code = if ts == TradeSide::Buy {
            side::BUY
        } else {
            side::SELL
        };
        let same_side: i64 = self
            .orders
            .iter()
            .filter(|o| o.side == side_code)
            .map(|o| o.leaves_e8)
            .sum();
        let exposure = match ts {
            TradeSide::Buy => self.position_e8 + same_side + qty_e8,
            TradeSide::Sell => -self.position_e8 + same_side + qty_e8,
        };
        if exposure > self.cfg.max_position_e8 {
            return Err(BlockReason::PositionLimit);
        }
        Ok(())
    }

    /// The budgets, last (the rate limiter takes its token only when everything else passed):
    /// OTR with the order and the cancel it will most likely need, then the order rate.
    fn check_budgets(&mut self, price_e8: i64, now_ns: u64) -> Result<(), BlockReason> {
        let exempt = self
            .cfg
            .otr_bands
            .is_exempt(self.cfg.segment, price_e8, self.ltp_or_mid());
        let extra = if exempt { 0 } else { 2 };
        if !self
            .otr
            .allows(extra, self.cfg.otr_penalty_budget, self.cfg.otr_min_orders)
        {
            return Err(BlockReason::OtrBudget);
        }
        if !self.rate.try_take(1, now_ns) {
            return Err(BlockReason::RateLimit);
        }
        Ok(())
    }

    fn quote(&mut self, now_ns: u64, out: &mut ExecActions) {
        let s = self.market.strength;
        if s.abs() < self.cfg.min_strength || s == 0.0 {
            return;
        }
        let ts = if s > 0.0 {
            TradeSide::Buy
        } else {
            TradeSide::Sell
        };
        let side_code = if s > 0.0 { side::BUY } else { side::SELL };
        let levels = if s.abs() >= self.cfg.ladder_min_strength {
            self.cfg.ladder_max_orders
        } else {
            1
        };
        for k in 0..levels {
            let step = k as i64 * self.cfg.tick_size_e8;
            let price_e8 = match ts {
                TradeSide::Buy => self.market.bid_e8.checked_sub(step),
                TradeSide::Sell => self.market.ask_e8.checked_add(step),
            };
            let Some(price_e8) = price_e8.filter(|&p| p > 0) else {
                break;
            };
            let occupied = |o: &Order| {
                o.side == side_code
                    && !o.cancel_pending
                    && (o.price_e8 == price_e8
                        || (o.modify_pending && o.modify_price_e8 == price_e8))
            };
            if self.orders.iter().any(occupied) {
                continue;
            }
            if out.remaining() < 3 {
                break;
            }
            match self.check_new(ts, price_e8, k, now_ns) {
                Ok(est) => {
                    let new = NewOrder {
                        side: side_code,
                        price_e8,
                        qty_e8: self.cfg.order_qty_e8,
                        level: k,
                        nev_inr: est.nev_inr,
                        stamps: self.market.stamps,
                        intent_seq: None,
                    };
                    self.place(new, now_ns, out);
                }
                Err(r) => {
                    self.m.blocked[r as usize] += 1;
                    // Deeper rungs may still pay (more capture); any other
                    // reason applies to them as well.
                    if r != BlockReason::Nev {
                        break;
                    }
                }
            }
        }
    }

    fn place(&mut self, new: NewOrder, now_ns: u64, out: &mut ExecActions) -> u64 {
        let NewOrder {
            side: side_code,
            price_e8,
            qty_e8,
            level,
            nev_inr,
            stamps: input_stamps,
            intent_seq,
        } = new;
        let cid = self.next_cid;
        self.next_cid += 1;
        let deadline_ns = now_ns + self.cfg.cancel_after_ns;
        let Ok(timer) = self.wheel.insert(deadline_ns, cid) else {
            // Cannot happen: the wheel holds max_open_orders timers and the
            // table was checked; refuse rather than leave an order without its cancel.
            self.m.blocked[BlockReason::OrderTable as usize] += 1;
            return 0;
        };
        let ltp = self.ltp_or_mid();
        self.orders.push(Order {
            cid,
            venue_oid: 0,
            side: side_code,
            price_e8,
            qty_e8,
            leaves_e8: qty_e8,
            filled_e8: 0,
            state: OrderState::Sent,
            placed_ns: now_ns,
            deadline_ns,
            timer: Some(timer),
            mods: 0,
            ltp_e8: ltp,
            level: level as u8,
            cancel_pending: false,
            modify_pending: false,
            modify_price_e8: 0,
            from_intent: intent_seq.is_some(),
        });
        let i = self.orders.len() - 1;
        let exempt = self
            .cfg
            .otr_bands
            .is_exempt(self.cfg.segment, price_e8, ltp);
        self.otr.record_order(exempt);
        self.m.orders_sent += 1;
        self.m.nev_expected_inr += nev_inr;
        if input_stamps.recv_ns != 0 {
            self.m.tick_to_order_last_ns = now_ns.saturating_sub(input_stamps.recv_ns);
        }
        // Tick-to-order: the signal's (or intent's) stamps travel on (recv_ns unchanged).
        let stamps = Stamps {
            publish_ns: now_ns,
            ..input_stamps
        };
        let mut intent = self.order_event(i, jkind::INTENT, now_ns, 0);
        intent.stamps = stamps;
        out.push(ExecAction::Journal(intent));
        if let Some(seq) = intent_seq {
            // Whose order it is, for a restarted Execution (written with the intent record).
            let mut tag = self.order_event(i, jkind::FOR_INTENT, now_ns, 0);
            tag.venue_order_id = seq;
            tag.stamps = stamps;
            out.push(ExecAction::Journal(tag));
        }
        out.push(ExecAction::SendNew {
            client_order_id: cid,
            side: side_code,
            price_e8,
            qty_e8,
        });
        let mut sent = self.order_event(i, oek::SENT, now_ns, 0);
        sent.stamps = stamps;
        out.push(ExecAction::Report(sent));
        cid
    }

    /// Cancel orders the signal turned against; move touch orders left behind.
    fn manage_resting(&mut self, now_ns: u64, out: &mut ExecActions) {
        let s = self.market.strength;
        let mut i = 0;
        while i < self.orders.len() {
            let o = self.orders[i];
            i += 1;
            if o.cancel_pending || o.modify_pending || o.from_intent || out.remaining() < 4 {
                continue;
            }
            let against = (o.side == side::BUY && s <= -self.cfg.min_strength)
                || (o.side == side::SELL && s >= self.cfg.min_strength);
            if against {
                self.send_cancel(i - 1, now_ns, out);
                continue;
            }
            let touch = if o.side == side::BUY {
                self.market.bid_e8
            } else {
                self.market.ask_e8
            };
            let behind = if o.side == side::BUY {
                o.price_e8 < touch
            } else {
                o.price_e8 > touch
            };
            if !(self.cfg.repeg && o.level == 0 && behind && o.state != OrderState::Sent) {
                continue;
            }
            if o.mods >= self.cfg.max_modifications_per_order {
                // Out of modifications: cancel (a new order may follow).
                self.send_cancel(i - 1, now_ns, out);
                continue;
            }
            if self.global_block().is_some() {
                continue; // the 200 ms timer will cancel it
            }
            let ts = if o.side == side::BUY {
                TradeSide::Buy
            } else {
                TradeSide::Sell
            };
            if self.estimate(ts, touch, 0).nev_inr <= self.cfg.nev.min_nev_inr {
                continue;
            }
            let ltp = self.ltp_or_mid();
            let exempt = self.cfg.otr_bands.is_exempt(self.cfg.segment, touch, ltp);
            if !self.otr.allows(
                if exempt { 0 } else { 2 },
                self.cfg.otr_penalty_budget,
                self.cfg.otr_min_orders,
            ) || !self.rate.try_take(1, now_ns)
            {
                continue;
            }
            let ord = &mut self.orders[i - 1];
            ord.mods += 1;
            ord.modify_pending = true;
            ord.modify_price_e8 = touch;
            ord.ltp_e8 = ltp;
            self.otr.record_order(exempt);
            self.m.modifies_sent += 1;
            out.push(ExecAction::SendModify {
                client_order_id: o.cid,
                price_e8: touch,
                qty_e8: o.leaves_e8,
            });
            let mut ev = self.order_event(i - 1, oek::MODIFY_SENT, now_ns, 0);
            ev.price_e8 = touch;
            ev.request_sent_ns = now_ns;
            out.push(ExecAction::Report(ev));
        }
    }
}

/// `(a + b) / 2` without overflow for any two prices.
fn midpoint_e8(a: i64, b: i64) -> i64 {
    ((a as i128 + b as i128) / 2) as i64
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}
