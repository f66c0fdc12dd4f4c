//! Sentinel: the engine's guard.
//!
//! - **RTT** from Execution's order events: `SENT` → first of
//!   `ACCEPTED`/`OPEN`/`REJECTED`, matched by `client_order_id`. RTT = ack
//!   time (`stamps.recv_ns` of the ack event, else `now_ns`) − send time
//!   (`request_sent_ns` of the SENT event, else its `stamps.publish_ns`, else
//!   `now_ns`). Latest, and p50/p99 over the last `rtt_window` samples.
//! - **Lockdown** when an RTT exceeds `rtt_lockdown_ns`, when an ack has been
//!   outstanding longer than that (checked in [`Sentinel::on_tick`]: a silent
//!   venue sends no event to react to), or when the penalty-relevant OTR is over
//!   budget. It lifts once nothing is outstanding, OTR is within budget and no
//!   bad observation was made for `healthy_period_ns`.
//! - **OTR** raw and penalty-relevant ([`crate::execution::otr`]). Over budget
//!   (after `otr_min_orders`) is a lockdown that lasts until trades bring the
//!   ratio back under budget or [`Sentinel::reset_day`]: Execution's own
//!   projected-OTR check normally stops quoting first, so this is the backstop.
//! - **Limits**: position, notional and daily loss (gross, marked at the last
//!   mark price); a breach sends one HALT_ALL emergency (latched until
//!   [`Sentinel::reset_day`]) and holds lockdown while it lasts, so Execution
//!   stops even before the supervisor acts.
//! - **Heartbeat watchdog**: the wrapper samples each actor's heartbeat
//!   counter; one that has not moved for `heartbeat_stall_ns` gets one
//!   RESTART_ACTOR emergency (re-armed when its heartbeat moves again).

pub mod rtt;

use crate::execution::costs::Segment;
use crate::execution::otr::{OtrBands, OtrCounter};
use crate::ActionBuf;
use core::fmt::Write as _;
use rtt::{RttStats, RttWindow};
use runtime::msg::{emergency_action, order_event_kind as oek, side, Emergency, OrderEvent};
use runtime::telemetry::{
    lockdown_reason, PendingAck, SentinelCheckpoint, SentinelTelemetry, CHECKPOINT_PENDING_ACKS,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Actors the watchdog can follow (slot indices 0 .. MAX_WATCHED).
pub const MAX_WATCHED: usize = 32;

/// Why Sentinel entered lockdown. Codes as `runtime::telemetry::lockdown_reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u32)]
pub enum LockdownReason {
    #[default]
    None = lockdown_reason::NONE,
    /// A measured round trip exceeded the threshold.
    RttHigh = lockdown_reason::RTT_OVER_THRESHOLD,
    /// An acknowledgement has been outstanding longer than the threshold.
    AckOverdue = lockdown_reason::ACK_TIMEOUT,
    PositionLimit = lockdown_reason::POSITION_LIMIT,
    NotionalLimit = lockdown_reason::NOTIONAL_LIMIT,
    DailyLossLimit = lockdown_reason::DAILY_LOSS_LIMIT,
    /// Penalty-relevant OTR over budget.
    OtrBudget = lockdown_reason::OTR_BUDGET,
}

impl LockdownReason {
    /// The control block / telemetry code.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// Outputs of the Sentinel.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum SentinelAction {
    EnterLockdown {
        reason: LockdownReason,
    },
    #[default]
    LiftLockdown,
    /// To the supervisor (emergency ring): restart an actor, halt all, or the
    /// informational LOCKDOWN notice sent with every enter/lift.
    Emergency(Emergency),
}

/// Room for the actions of one call (lockdown + notice + three limit halts +
/// restarts for every watched actor).
pub type SentinelActions = ActionBuf<SentinelAction, { 8 + MAX_WATCHED }>;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SentinelConfig {
    /// Lockdown when a round trip (or an outstanding ack) exceeds this. 20 ms is
    /// a co-location figure; retail broker APIs measure 50-80 ms or more.
    pub rtt_lockdown_ns: u64,
    /// RTT samples kept for p50/p99.
    pub rtt_window: usize,
    /// Lockdown lifts after this long without a bad observation.
    pub healthy_period_ns: u64,
    /// An ack missing this long is given up (counted lost) so lockdown can lift.
    pub ack_give_up_ns: u64,
    /// Outstanding acks tracked at once; more trips lockdown.
    pub max_pending_acks: usize,
    pub segment: Segment,
    pub otr_bands: OtrBands,
    /// Penalty-relevant OTR above this trips lockdown (exchange penalty starts at 50).
    pub otr_penalty_budget: f64,
    /// The OTR check starts after this many penalty-relevant orders.
    pub otr_min_orders: u64,
    /// |position| above this → halt (quantity e8; 0 = no limit).
    pub position_limit_e8: i64,
    /// |position| × mark above this → halt (currency e8; 0 = no limit).
    pub notional_limit_e8: i64,
    /// Loss (gross, marked) beyond this → halt (currency e8; 0 = no limit).
    pub daily_loss_limit_e8: i64,
    /// An actor whose heartbeat has not moved for this long is restarted.
    pub heartbeat_stall_ns: u64,
}

impl Default for SentinelConfig {
    fn default() -> Self {
        Self {
            rtt_lockdown_ns: 20_000_000,
            rtt_window: 1024,
            healthy_period_ns: 2_000_000_000,
            ack_give_up_ns: 10_000_000_000,
            max_pending_acks: 256,
            segment: Segment::EquityIntraday,
            otr_bands: OtrBands::default(),
            otr_penalty_budget: 20.0,
            otr_min_orders: 50,
            position_limit_e8: 1_000 * runtime::msg::PRICE_SCALE,
            notional_limit_e8: 10_000_000 * runtime::msg::PRICE_SCALE,
            daily_loss_limit_e8: 50_000 * runtime::msg::PRICE_SCALE,
            heartbeat_stall_ns: 1_000_000_000,
        }
    }
}

#[derive(Debug, Error, PartialEq)]
pub enum SentinelConfigError {
    #[error("sentinel.{0} = {1}: must be > 0")]
    Zero(&'static str, u64),
    #[error("sentinel.ack_give_up_ns ({0}) must exceed rtt_lockdown_ns ({1}), or a missing ack would be dropped before it trips lockdown")]
    GiveUp(u64, u64),
    #[error("sentinel.{0} = {1}: limits are magnitudes, must be ≥ 0 (0 = none)")]
    Negative(&'static str, i64),
    #[error("sentinel.otr_penalty_budget = {0}: must be finite and > 0")]
    Budget(f64),
}

impl SentinelConfig {
    pub fn validate(&self) -> Result<(), SentinelConfigError> {
        for (n, v) in [
            ("rtt_lockdown_ns", self.rtt_lockdown_ns),
            ("rtt_window", self.rtt_window as u64),
            ("max_pending_acks", self.max_pending_acks as u64),
            ("heartbeat_stall_ns", self.heartbeat_stall_ns),
        ] {
            if v == 0 {
                return Err(SentinelConfigError::Zero(n, v));
            }
        }
        if self.ack_give_up_ns <= self.rtt_lockdown_ns {
            return Err(SentinelConfigError::GiveUp(
                self.ack_give_up_ns,
                self.rtt_lockdown_ns,
            ));
        }
        for (n, v) in [
            ("position_limit_e8", self.position_limit_e8),
            ("notional_limit_e8", self.notional_limit_e8),
            ("daily_loss_limit_e8", self.daily_loss_limit_e8),
        ] {
            if v < 0 {
                return Err(SentinelConfigError::Negative(n, v));
            }
        }
        if !(self.otr_penalty_budget.is_finite() && self.otr_penalty_budget > 0.0) {
            return Err(SentinelConfigError::Budget(self.otr_penalty_budget));
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Watched {
    seen: bool,
    counter: u64,
    changed_ns: u64,
    restart_sent: bool,
}

/// Counters for the cockpit and the backtest report.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SentinelStats {
    pub lockdowns: u64,
    pub acks_lost: u64,
    pub restarts_requested: u64,
    pub halts: u64,
    pub position_e8: i64,
    /// Gross PnL marked at the last mark price (currency e8).
    pub pnl_e8: i64,
    pub otr: OtrCounter,
}

/// The Sentinel state machine.
#[derive(Clone, Debug)]
pub struct Sentinel {
    cfg: SentinelConfig,
    rtt: RttWindow,
    /// Orders waiting for their acknowledgement, oldest first (a checkpoint carries the
    /// oldest).
    pending: Vec<PendingAck>,
    pending_overflow: bool,
    lockdown: LockdownReason,
    lockdown_since_ns: u64,
    last_bad_ns: u64,
    emergencies_sent: u64,
    last_emergency: [u8; 48],
    otr: OtrCounter,
    position_e8: i64,
    cash_e8: i128,
    mark_e8: i64,
    halted_position: bool,
    halted_notional: bool,
    halted_loss: bool,
    watched: [Watched; MAX_WATCHED],
    emergency_seq: u64,
    stats: SentinelStats,
}

impl Sentinel {
    pub fn new(cfg: SentinelConfig) -> Result<Self, SentinelConfigError> {
        cfg.validate()?;
        Ok(Self {
            rtt: RttWindow::new(cfg.rtt_window),
            pending: Vec::with_capacity(cfg.max_pending_acks),
            cfg,
            pending_overflow: false,
            lockdown: LockdownReason::None,
            lockdown_since_ns: 0,
            last_bad_ns: 0,
            emergencies_sent: 0,
            last_emergency: [0; 48],
            otr: OtrCounter::default(),
            position_e8: 0,
            cash_e8: 0,
            mark_e8: 0,
            halted_position: false,
            halted_notional: false,
            halted_loss: false,
            watched: [Watched::default(); MAX_WATCHED],
            emergency_seq: 0,
            stats: SentinelStats::default(),
        })
    }

    pub fn config(&self) -> &SentinelConfig {
        &self.cfg
    }

    pub fn in_lockdown(&self) -> bool {
        self.lockdown != LockdownReason::None
    }

    pub fn lockdown_reason(&self) -> LockdownReason {
        self.lockdown
    }

    /// Latest, p50 and p99 round trip over the window.
    pub fn rtt_stats(&mut self) -> RttStats {
        self.rtt.stats()
    }

    pub fn otr(&self) -> &OtrCounter {
        &self.otr
    }

    /// Acks outstanding now.
    pub fn pending_acks(&self) -> usize {
        self.pending.len()
    }

    pub fn stats(&self) -> SentinelStats {
        SentinelStats {
            position_e8: self.position_e8,
            pnl_e8: self.pnl_e8(),
            otr: self.otr,
            ..self.stats
        }
    }

    /// The limit halts sent and latched until a new trading day, as
    /// [`SentinelCheckpoint::halted_limits`] bits (1 position, 2 notional, 4 daily loss).
    pub fn halted_limits(&self) -> u64 {
        self.halted_position as u64
            | (self.halted_notional as u64) << 1
            | (self.halted_loss as u64) << 2
    }

    /// The state a restarted Sentinel must carry on from (position, cash, mark, OTR counts,
    /// latched limit halts, counters, the acks it waits for, the oldest
    /// [`CHECKPOINT_PENDING_ACKS`] of them), tagged with `orders_pos`, the position in
    /// `orders.ring` up to which the reports are folded in. Not saved: the round-trip window
    /// (samples are statistics, not obligations) and the heartbeat watch (it samples afresh).
    pub fn checkpoint(&self, orders_pos: u64, saves: u64) -> SentinelCheckpoint {
        let mut cp = SentinelCheckpoint {
            saves,
            orders_pos,
            position_e8: self.position_e8,
            mark_e8: self.mark_e8,
            otr_orders_raw: self.otr.orders_raw,
            otr_orders_penalty: self.otr.orders_penalty,
            otr_trades: self.otr.trades,
            halted_limits: self.halted_limits(),
            lockdowns: self.stats.lockdowns,
            acks_lost: self.stats.acks_lost,
            restarts_requested: self.stats.restarts_requested,
            halts: self.stats.halts,
            emergencies_sent: self.emergencies_sent,
            emergency_seq: self.emergency_seq,
            ..SentinelCheckpoint::default()
        };
        cp.set_cash_e8(self.cash_e8);
        cp.pending_total = self.pending.len() as u64;
        cp.pending_overflow = self.pending_overflow as u64;
        // `pending` is kept oldest first.
        let n = self.pending.len().min(CHECKPOINT_PENDING_ACKS);
        cp.pending_acks[..n].copy_from_slice(&self.pending[..n]);
        cp
    }

    /// Carry on from a predecessor's [`Sentinel::checkpoint`]. A limit the restored state still
    /// breaches, or an OTR over budget, enters lockdown at once (into `out`); a halt the
    /// predecessor already sent is not sent again.
    pub fn restore(&mut self, cp: &SentinelCheckpoint, now_ns: u64, out: &mut SentinelActions) {
        self.position_e8 = cp.position_e8;
        self.cash_e8 = cp.cash_e8();
        self.mark_e8 = cp.mark_e8;
        self.otr = OtrCounter {
            orders_raw: cp.otr_orders_raw,
            orders_penalty: cp.otr_orders_penalty,
            trades: cp.otr_trades,
        };
        self.halted_position = cp.halted_limits & 1 != 0;
        self.halted_notional = cp.halted_limits & 2 != 0;
        self.halted_loss = cp.halted_limits & 4 != 0;
        self.stats.lockdowns = cp.lockdowns;
        self.stats.acks_lost = cp.acks_lost;
        self.stats.restarts_requested = cp.restarts_requested;
        self.stats.halts = cp.halts;
        self.emergencies_sent = cp.emergencies_sent;
        self.emergency_seq = cp.emergency_seq;
        // The acks the predecessor waited for are waited for on (their RTT and give-up
        // timers run from when the orders were sent). Counts from the file are clamped.
        let carried = (cp.pending_total.min(CHECKPOINT_PENDING_ACKS as u64) as usize)
            .min(self.cfg.max_pending_acks);
        self.pending.clear();
        self.pending.extend_from_slice(&cp.pending_acks[..carried]);
        // Acks it waited for that were not carried cannot be timed: as with more than it
        // tracks, lockdown until those it knows of are answered.
        self.pending_overflow = cp.pending_overflow != 0 || cp.pending_total > carried as u64;
        if self.pending_overflow {
            self.bad(now_ns, LockdownReason::AckOverdue, 0, out);
        }
        self.check_limits(now_ns, out);
        self.check_otr(now_ns, out);
    }

    /// Snapshot for the control block's Sentinel telemetry.
    pub fn telemetry(&mut self, now_ns: u64) -> SentinelTelemetry {
        let st = self.rtt.stats();
        SentinelTelemetry {
            updated_ns: now_ns,
            rtt_last_ns: st.latest_ns,
            rtt_p50_ns: st.p50_ns,
            rtt_p99_ns: st.p99_ns,
            rtt_threshold_ns: self.cfg.rtt_lockdown_ns,
            rtt_samples: st.total,
            lockdown: self.in_lockdown() as u32,
            lockdown_reason: self.lockdown.code(),
            lockdown_since_ns: if self.in_lockdown() {
                self.lockdown_since_ns
            } else {
                0
            },
            lockdowns: self.stats.lockdowns,
            outstanding_acks: self.pending.len() as u64,
            oldest_ack_age_ns: self
                .pending
                .iter()
                .map(|p| now_ns.saturating_sub(p.sent_ns))
                .max()
                .unwrap_or(0),
            otr_raw: self.otr.otr_raw(),
            otr_penalty: self.otr.otr_penalty(),
            otr_budget: self.cfg.otr_penalty_budget,
            position_e8: self.position_e8,
            notional_e8: self.notional_e8().min(i64::MAX as u128) as i64,
            daily_pnl_e8: self.pnl_e8(),
            emergencies_sent: self.emergencies_sent,
            last_emergency: self.last_emergency,
        }
    }

    fn notional_e8(&self) -> u128 {
        (self.position_e8 as i128 * self.mark_e8 as i128 / runtime::msg::PRICE_SCALE as i128)
            .unsigned_abs()
    }

    /// The first limit breached right now, if any.
    fn limit_breach(&self) -> Option<LockdownReason> {
        let c = &self.cfg;
        if c.position_limit_e8 > 0 && self.position_e8.unsigned_abs() > c.position_limit_e8 as u64 {
            Some(LockdownReason::PositionLimit)
        } else if c.notional_limit_e8 > 0 && self.notional_e8() > c.notional_limit_e8 as u128 {
            Some(LockdownReason::NotionalLimit)
        } else if c.daily_loss_limit_e8 > 0
            && -(self.pnl_e8() as i128) > c.daily_loss_limit_e8 as i128
        {
            Some(LockdownReason::DailyLossLimit)
        } else {
            None
        }
    }

    fn pnl_e8(&self) -> i64 {
        let mtm =
            self.position_e8 as i128 * self.mark_e8 as i128 / runtime::msg::PRICE_SCALE as i128;
        (self.cash_e8 + mtm).clamp(i64::MIN as i128, i64::MAX as i128) as i64
    }

    /// New trading day: OTR counts and limit latches start over (position and
    /// cash carry over; an intraday book is flat by then).
    pub fn reset_day(&mut self) {
        self.otr = OtrCounter::default();
        self.halted_position = false;
        self.halted_notional = false;
        self.halted_loss = false;
        self.cash_e8 =
            self.position_e8 as i128 * -(self.mark_e8 as i128) / runtime::msg::PRICE_SCALE as i128;
    }

    /// Mark price for the position (mid or last trade), from market data.
    pub fn on_mark(&mut self, mark_e8: i64, now_ns: u64, out: &mut SentinelActions) {
        if mark_e8 > 0 {
            self.mark_e8 = mark_e8;
            self.check_limits(now_ns, out);
        }
    }

    /// One order event from Execution.
    pub fn on_order_event(&mut self, ev: &OrderEvent, now_ns: u64, out: &mut SentinelActions) {
        match ev.kind {
            oek::SENT => {
                self.count_order(ev);
                let sent_ns = first_nonzero(&[ev.request_sent_ns, ev.stamps.publish_ns, now_ns]);
                if self.pending.len() < self.cfg.max_pending_acks {
                    self.pending.push(PendingAck {
                        client_order_id: ev.client_order_id,
                        sent_ns,
                    });
                } else {
                    // More unacknowledged orders than we track: the venue is
                    // not answering at the rate we send. Treat as overdue.
                    self.pending_overflow = true;
                    self.bad(now_ns, LockdownReason::AckOverdue, 0, out);
                }
            }
            oek::MODIFY_SENT | oek::CANCEL_SENT => self.count_order(ev),
            oek::ACCEPTED | oek::OPEN | oek::REJECTED => {
                if let Some(i) = self.pending_index(ev.client_order_id) {
                    let p = self.pending.remove(i);
                    let ack_ns = first_nonzero(&[ev.stamps.recv_ns, now_ns]);
                    let rtt_ns = ack_ns.saturating_sub(p.sent_ns);
                    self.rtt.push(rtt_ns);
                    if rtt_ns > self.cfg.rtt_lockdown_ns {
                        self.bad(now_ns, LockdownReason::RttHigh, rtt_ns, out);
                    }
                }
            }
            oek::PARTIALLY_FILLED | oek::FILLED | oek::CANCELLED => {
                // A fill or cancel proves the venue knew the order; an ack that
                // never came is no longer waited for (no RTT sample: unknown).
                if let Some(i) = self.pending_index(ev.client_order_id) {
                    self.pending.remove(i);
                }
                if ev.kind != oek::CANCELLED && ev.fill_qty_e8 > 0 {
                    self.on_fill(ev, now_ns, out);
                }
            }
            oek::POSITION => self.on_position(ev, now_ns, out),
            _ => {}
        }
        self.check_otr(now_ns, out);
        self.try_lift(now_ns, out);
    }

    /// Heartbeat sample of actor slot `actor_index`.
    pub fn on_heartbeat(&mut self, actor_index: u32, counter: u64, now_ns: u64) {
        let Some(w) = self.watched.get_mut(actor_index as usize) else {
            return;
        };
        if !w.seen || w.counter != counter {
            *w = Watched {
                seen: true,
                counter,
                changed_ns: now_ns,
                restart_sent: false,
            };
        }
    }

    /// Stop watching an actor (stopped on purpose, or being restarted).
    pub fn unwatch(&mut self, actor_index: u32) {
        if let Some(w) = self.watched.get_mut(actor_index as usize) {
            *w = Watched::default();
        }
    }

    /// Time passes: overdue acks, stalled actors, lockdown lifting.
    pub fn on_tick(&mut self, now_ns: u64, out: &mut SentinelActions) {
        // Overdue and given-up acks (bounded: at most max_pending_acks entries).
        let mut i = 0;
        while i < self.pending.len() {
            let p = self.pending[i];
            let waited_ns = now_ns.saturating_sub(p.sent_ns);
            if waited_ns > self.cfg.ack_give_up_ns {
                self.pending.remove(i);
                self.stats.acks_lost += 1;
                self.bad(now_ns, LockdownReason::AckOverdue, waited_ns, out);
                continue;
            }
            if waited_ns > self.cfg.rtt_lockdown_ns {
                self.bad(now_ns, LockdownReason::AckOverdue, waited_ns, out);
            }
            i += 1;
        }
        if self.pending.is_empty() {
            self.pending_overflow = false;
        }
        for idx in 0..MAX_WATCHED {
            let w = self.watched[idx];
            if w.seen
                && !w.restart_sent
                && now_ns.saturating_sub(w.changed_ns) > self.cfg.heartbeat_stall_ns
            {
                self.watched[idx].restart_sent = true;
                self.stats.restarts_requested += 1;
                let stalled_ms = (now_ns - w.changed_ns) / 1_000_000;
                self.emergency(
                    emergency_action::RESTART_ACTOR,
                    idx as u32,
                    now_ns,
                    format_args!("actor {idx} heartbeat stalled {stalled_ms} ms"),
                    out,
                );
            }
        }
        self.check_otr(now_ns, out);
        self.try_lift(now_ns, out);
    }

    fn pending_index(&self, cid: u64) -> Option<usize> {
        self.pending.iter().position(|p| p.client_order_id == cid)
    }

    fn count_order(&mut self, ev: &OrderEvent) {
        let exempt = self
            .cfg
            .otr_bands
            .is_exempt(self.cfg.segment, ev.price_e8, ev.ltp_e8);
        self.otr.record_order(exempt);
    }

    fn on_fill(&mut self, ev: &OrderEvent, now_ns: u64, out: &mut SentinelActions) {
        self.otr.record_trade();
        let sign: i128 = match ev.side {
            side::BUY => 1,
            side::SELL => -1,
            _ => return,
        };
        let q = ev.fill_qty_e8 as i128;
        self.position_e8 = (self.position_e8 as i128 + sign * q) as i64;
        self.cash_e8 -= sign * q * ev.fill_price_e8 as i128 / runtime::msg::PRICE_SCALE as i128;
        if self.mark_e8 == 0 {
            self.mark_e8 = ev.fill_price_e8;
        }
        self.check_limits(now_ns, out);
    }

    /// Execution corrected the position to the venue's (fills it never heard of). The
    /// report carries the position itself, so Sentinel lands on the venue's figure even if
    /// it had drifted from Execution's; the change is valued at the report's mark, as
    /// Execution did, and is not a trade for the OTR. Limits apply at once.
    fn on_position(&mut self, ev: &OrderEvent, now_ns: u64, out: &mut SentinelActions) {
        let delta = ev.qty_e8 as i128 - self.position_e8 as i128;
        self.position_e8 = ev.qty_e8;
        self.cash_e8 -= delta * ev.fill_price_e8 as i128 / runtime::msg::PRICE_SCALE as i128;
        if self.mark_e8 == 0 {
            self.mark_e8 = ev.fill_price_e8;
        }
        self.check_limits(now_ns, out);
    }

    fn check_limits(&mut self, now_ns: u64, out: &mut SentinelActions) {
        let pos = self.position_e8.unsigned_abs();
        let lim = self.cfg.position_limit_e8 as u64;
        if lim > 0 && pos > lim && !self.halted_position {
            self.halted_position = true;
            let (p, l) = (pos / 100_000_000, lim / 100_000_000);
            self.halt(now_ns, format_args!("position {p} > limit {l}"), out);
        }
        let notional =
            (self.position_e8 as i128 * self.mark_e8 as i128 / 100_000_000).unsigned_abs();
        let lim = self.cfg.notional_limit_e8 as u128;
        if lim > 0 && notional > lim && !self.halted_notional {
            self.halted_notional = true;
            let (n, l) = (notional / 100_000_000, lim / 100_000_000);
            self.halt(now_ns, format_args!("notional {n} > limit {l}"), out);
        }
        let loss = -(self.pnl_e8() as i128);
        let lim = self.cfg.daily_loss_limit_e8 as i128;
        if lim > 0 && loss > lim && !self.halted_loss {
            self.halted_loss = true;
            let (n, l) = (loss / 100_000_000, lim / 100_000_000);
            self.halt(now_ns, format_args!("daily loss {n} > limit {l}"), out);
        }
        if let Some(reason) = self.limit_breach() {
            self.bad(now_ns, reason, 0, out);
        }
    }

    fn halt(&mut self, now_ns: u64, reason: core::fmt::Arguments<'_>, out: &mut SentinelActions) {
        self.stats.halts += 1;
        self.emergency(emergency_action::HALT_ALL, 0, now_ns, reason, out);
    }

    fn check_otr(&mut self, now_ns: u64, out: &mut SentinelActions) {
        if !self
            .otr
            .allows(0, self.cfg.otr_penalty_budget, self.cfg.otr_min_orders)
        {
            let otr_x100 = (self.otr.otr_penalty() * 100.0) as u64;
            self.bad(now_ns, LockdownReason::OtrBudget, otr_x100, out);
        }
    }

    /// A bad observation: start (or extend) lockdown.
    fn bad(&mut self, now_ns: u64, reason: LockdownReason, value: u64, out: &mut SentinelActions) {
        self.last_bad_ns = now_ns;
        if self.in_lockdown() {
            return;
        }
        self.lockdown = reason;
        self.lockdown_since_ns = now_ns;
        self.stats.lockdowns += 1;
        out.push(SentinelAction::EnterLockdown { reason });
        let t = self.cfg.rtt_lockdown_ns / 1_000;
        match reason {
            LockdownReason::RttHigh => self.emergency(
                emergency_action::LOCKDOWN,
                0,
                now_ns,
                format_args!("lockdown: rtt {} us > {t} us", value / 1_000),
                out,
            ),
            LockdownReason::AckOverdue => self.emergency(
                emergency_action::LOCKDOWN,
                0,
                now_ns,
                format_args!("lockdown: ack missing {} us > {t} us", value / 1_000),
                out,
            ),
            _ => self.emergency(
                emergency_action::LOCKDOWN,
                0,
                now_ns,
                format_args!(
                    "lockdown: otr {}.{:02} over budget",
                    value / 100,
                    value % 100
                ),
                out,
            ),
        }
    }

    fn try_lift(&mut self, now_ns: u64, out: &mut SentinelActions) {
        if !self.in_lockdown() {
            return;
        }
        let overdue = self.pending_overflow
            || self
                .pending
                .iter()
                .any(|p| now_ns.saturating_sub(p.sent_ns) > self.cfg.rtt_lockdown_ns);
        let otr_ok = self
            .otr
            .allows(0, self.cfg.otr_penalty_budget, self.cfg.otr_min_orders);
        if !overdue
            && otr_ok
            && self.limit_breach().is_none()
            && now_ns.saturating_sub(self.last_bad_ns) >= self.cfg.healthy_period_ns
        {
            self.lockdown = LockdownReason::None;
            out.push(SentinelAction::LiftLockdown);
            self.emergency(
                emergency_action::LOCKDOWN,
                0,
                now_ns,
                format_args!("lockdown lifted"),
                out,
            );
        }
    }

    fn emergency(
        &mut self,
        action: u8,
        actor_index: u32,
        now_ns: u64,
        reason: core::fmt::Arguments<'_>,
        out: &mut SentinelActions,
    ) {
        self.emergency_seq += 1;
        let mut e = Emergency {
            seq: self.emergency_seq,
            actor_index,
            action,
            ..Default::default()
        };
        e.stamps.publish_ns = now_ns;
        let mut w = FixedText {
            buf: &mut e.reason,
            len: 0,
        };
        // FixedText never fails: it truncates what does not fit.
        let _ = w.write_fmt(reason);
        self.emergencies_sent += 1;
        self.last_emergency = e.reason;
        out.push(SentinelAction::Emergency(e));
    }
}

fn first_nonzero(v: &[u64]) -> u64 {
    v.iter().copied().find(|&x| x != 0).unwrap_or(0)
}

/// Formats into a fixed zero-padded buffer without allocating; truncates at a
/// UTF-8 boundary.
struct FixedText<'a, const N: usize> {
    buf: &'a mut [u8; N],
    len: usize,
}

impl<const N: usize> core::fmt::Write for FixedText<'_, N> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        let room = N - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}
