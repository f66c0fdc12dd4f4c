//! Execution: `signal.ring` (+ `md.ring` cursor 2 for LTP and marks) → `Execution` → the
//! venue's order entry (TCP); venue responses back into the state machine; every state change
//! journaled, and forwarded to Sentinel on `orders.ring`.
//!
//! # Restart and reconciliation
//!
//! On construction the journal is opened and replayed (`Journal::open`); a journal that held
//! open orders puts Execution in the not-reconciled state (`Execution::restore`), in which it
//! quotes nothing. After the next Logon the wrapper reconciles: version 1 of the venue protocol
//! has no query for an account's open orders or position, but the venue cancels every order of
//! a session when the session closes (cancel on disconnect, `venue::sim::SimVenue::close_session`),
//! and it refuses a second session of the same account while the first is open. So once a new
//! Logon is accepted the venue holds none of our orders, and the wrapper reconciles against an
//! empty list: every journaled open order is closed as gone, quoting resumes, and new client
//! order ids continue after the journal's highest (no duplicates).
//!
//! A fill the venue sent on the old session that never reached the journal (the process died
//! between the venue's fill and our read) is not lost: after `LogonAck` the venue reports the
//! account's position in each instrument, counting every fill it matched
//! (`OrderClient::logon_positions`), and the reconciliation takes it
//! (`reconcile(&[], Some(venue_position))`). A correction is valued at the mark, so it moves
//! no P&L, and journaled; the position, corrected or not, is reported to Sentinel as
//! `order_event_kind::POSITION` (absolute: a fill Sentinel missed is made good too), whose
//! limits apply at once. Without market data yet there is no mark: quoting
//! stays blocked and the reconciliation is tried again once there is one. A position that
//! differs is reconciled on a first start too (a journal from another venue day, or none).
//!
//! The same path runs when the connection drops while running: the journal is re-read, the
//! state restored, and nothing is quoted until the next Logon has been reconciled.

use super::{
    cursor, now_ns, ring_err, LiveEnv, LiveError, Stages, MAX_BATCH, PUBLISH_INTERVAL_NS,
    STAGE_TICK_TO_ORDER_INTENDED, STAGE_TICK_TO_ORDER_INTENDED_NAME,
};
use crate::execution::feedback::IntentFeedback;
use crate::execution::journal::{jkind, Journal};
use crate::execution::{ExecAction, ExecActions, Execution, Gates, VenueEvent, MAX_OPEN_ORDERS};
use crate::sonar::Regime;
use runtime::actor::Actor;
use runtime::control::{topic, ActorCounters, ControlBlock};
use runtime::hist::stage;
use runtime::msg::{
    order_event_kind as oek, order_type, tif, IntentEvent, MdEvent, OrderEvent, OrderIntent,
    Signal, Stamps,
};
use runtime::ring::broadcast::{Publisher, Recv, Subscriber};
use runtime::ring::spsc::{Consumer, Producer};
use runtime::rings::{
    IntentEventRing, IntentRing, MdRing, OrdersRing, SignalRing, INTENT_EVENTS_RING, INTENT_RING,
    MD_RING, ORDERS_RING, SIGNAL_RING,
};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use venue::client::{is_closing, ClientConfig, OrderClient};
use venue::protocol::{CancelOrderMsg, Frame, Logon, ModifyOrderMsg, NewOrderMsg};

/// Reject reason Execution gives itself when an order's bytes could not be written (no session
/// or a socket error): the order never reached the venue.
pub const REJECT_NOT_SENT: u16 = 0xFF01;

pub const RECONNECT_MIN_NS: u64 = 10_000_000;
pub const RECONNECT_MAX_NS: u64 = 1_000_000_000;
const CONNECT_TIMEOUT_MS: u64 = 200;
/// Orders tracked for modify quantities and cancel lateness (open orders plus a margin for
/// orders closing while new ones open).
const TRACKED: usize = 2 * MAX_OPEN_ORDERS;

// Stage indexes in `Stages`.
const ST_TICK_TO_ORDER: usize = 0;
const ST_HOP: usize = 1;
const ST_CANCEL_LATENESS: usize = 2;
const ST_INTENDED: usize = 3;

/// A request that was not sent: the state machine is told as if the venue had refused it.
#[derive(Clone, Copy, Debug)]
enum NotSent {
    New(u64),
    Modify(u64),
}

#[derive(Clone, Copy, Default)]
struct Tracked {
    cid: u64,
    qty_e8: i64,
    leaves_e8: i64,
    placed_ns: u64,
}

/// The Execution actor.
pub struct ExecutionActor {
    exec: Execution,
    journal: Journal,
    journal_path: PathBuf,
    addr: Option<SocketAddr>,
    logon: Logon,
    client: Option<OrderClient>,
    signals: Consumer<Signal, 4_096>,
    /// Order intents of user strategy actors.
    intents: Consumer<OrderIntent, 4_096>,
    /// What became of those intents and their orders, for the strategies.
    intent_events: Publisher<IntentEvent, 4_096>,
    feedback: IntentFeedback,
    md: Subscriber<MdEvent, 65_536>,
    orders_out: Producer<OrderEvent, 16_384>,
    control: Arc<ControlBlock>,
    instrument_id: u32,
    cancel_after_ns: u64,
    stages: Stages,
    xo: Box<ExecActions>,
    venue_buf: Vec<VenueEvent>,
    local_rejects: Vec<NotSent>,
    /// Deadlines of the 200 ms cancels queued in this batch of actions (their lateness is
    /// recorded when their bytes are written).
    queued_deadlines_ns: Vec<u64>,
    tracked: [Tracked; TRACKED],
    needs_reconcile: bool,
    /// Our instrument's position as the venue reported it at the last Logon (`None`: not
    /// reported, or no session).
    venue_position_e8: Option<i64>,
    /// The last reconciliation could not value a position correction (no market data yet):
    /// it is tried again once there is a mark.
    reconcile_waits_for_mark: bool,
    lost: bool,
    journal_failed: bool,
    next_connect_ns: u64,
    backoff_ns: u64,
    last_publish_ns: u64,
    // Counters.
    signals_in: u64,
    signals_dropped: u64,
    intents_in: u64,
    venue_events: u64,
    sends: u64,
    send_errors: u64,
    report_drops: u64,
    reconciliations: u64,
    logons: u64,
    /// Reports pushed on orders.ring since Sentinel was last notified (once per pass).
    orders_to_notify: bool,
    /// Events published on intent_events.ring since the strategies were last notified.
    events_to_notify: bool,
}

impl ExecutionActor {
    pub fn new(env: LiveEnv) -> Result<Self, LiveError> {
        let costs = env.cost_table()?;
        let mut cfg = env.strategy.execution.clone();
        cfg.instrument_id = env.instrument_id;
        let cancel_after_ns = cfg.cancel_after_ns;
        let mut exec =
            Execution::new(cfg, costs).map_err(|e| LiveError::Strategy(e.to_string()))?;
        let (mut journal, state) = Journal::open(&env.journal_path, env.strategy.journal_fsync)?;
        // The periodic fsync (~0.2 ms) would block this loop, and every signal behind it.
        let place = env.place_helper_thread.clone();
        journal.sync_in_background(move || {
            if let Some(place) = place {
                place();
            }
        })?;
        // A journal with history: its open orders and position come back, and quoting waits
        // for reconciliation with the venue (even with no open order: the last run may have
        // died between a send and its journal record).
        let needs_reconcile = state.records > 0;
        let mut feedback = IntentFeedback::new();
        if needs_reconcile {
            exec.restore(&state)?;
            // The journal says which recovered orders are strategies' intents': their lives
            // go on being reported, tagged with the same intent seqs.
            feedback.restore(&state);
        }
        let signals = SignalRing::attach(&env.dir, SIGNAL_RING)
            .and_then(|r| r.consumer())
            .map_err(ring_err(SIGNAL_RING))?;
        // Resumes where the previous incarnation stopped; intents older than
        // `intent_max_age_ns` by then are refused as stale, not sent.
        let intents = IntentRing::attach(&env.dir, INTENT_RING)
            .and_then(|r| r.consumer())
            .map_err(ring_err(INTENT_RING))?;
        // A restarted Execution publishes on after its predecessor's last event.
        let intent_events = IntentEventRing::attach(&env.dir, INTENT_EVENTS_RING)
            .and_then(|r| r.publisher())
            .map_err(ring_err(INTENT_EVENTS_RING))?;
        let md = MdRing::attach(&env.dir, MD_RING)
            .and_then(|r| r.subscribe(cursor::EXECUTION))
            .map_err(ring_err(MD_RING))?;
        let orders_out = OrdersRing::attach(&env.dir, ORDERS_RING)
            .and_then(|r| r.producer())
            .map_err(ring_err(ORDERS_RING))?;
        let mut name = [0u8; 16];
        runtime::msg::put_str(&mut name, "execution");
        Ok(ExecutionActor {
            orders_to_notify: false,
            intent_events,
            feedback,
            events_to_notify: false,
            exec,
            journal,
            journal_path: env.journal_path,
            addr: env.venue_order_addr,
            logon: Logon {
                account: env.account,
                heartbeat_ms: 0,
                stp_id: env.stp_id,
                name,
            },
            client: None,
            signals,
            intents,
            md,
            orders_out,
            control: env.control,
            instrument_id: env.instrument_id,
            cancel_after_ns,
            stages: Stages::new(
                env.hist,
                env.slot_index,
                &[
                    (stage::TICK_TO_ORDER, None),
                    (stage::HOP_ORACLE_EXECUTION, None),
                    (stage::CANCEL_LATENESS, None),
                    (
                        STAGE_TICK_TO_ORDER_INTENDED,
                        Some(STAGE_TICK_TO_ORDER_INTENDED_NAME),
                    ),
                ],
            ),
            xo: Box::new(ExecActions::new()),
            venue_buf: Vec::with_capacity(MAX_BATCH),
            local_rejects: Vec::with_capacity(MAX_OPEN_ORDERS + crate::execution::MAX_LADDER),
            queued_deadlines_ns: Vec::with_capacity(crate::execution::EXEC_ACTIONS),
            tracked: [Tracked::default(); TRACKED],
            needs_reconcile,
            venue_position_e8: None,
            reconcile_waits_for_mark: false,
            lost: false,
            journal_failed: false,
            next_connect_ns: 0,
            backoff_ns: RECONNECT_MIN_NS,
            last_publish_ns: 0,
            signals_in: 0,
            signals_dropped: 0,
            intents_in: 0,
            venue_events: 0,
            sends: 0,
            send_errors: 0,
            report_drops: 0,
            reconciliations: 0,
            logons: 0,
        })
    }

    /// The state machine (tests and the backtest's cross-checks read its metrics).
    pub fn execution(&mut self) -> &mut Execution {
        &mut self.exec
    }

    pub fn connected(&self) -> bool {
        self.client.is_some()
    }

    /// Whether quoting waits for a reconciliation with the venue.
    pub fn awaiting_reconcile(&self) -> bool {
        self.needs_reconcile
    }

    /// Reconciliations done (one per accepted Logon after a restart or a lost session).
    pub fn reconciliations(&self) -> u64 {
        self.reconciliations
    }

    /// Tick-to-order histogram (receive → order bytes written).
    pub fn tick_to_order(&self) -> &hdrhistogram::Histogram<u64> {
        self.stages.histogram(ST_TICK_TO_ORDER)
    }

    fn gates(&self) -> Gates {
        let (regime, _, _) = self.control.regime();
        let (_, gate_check, _) = self.control.gate();
        let (lockdown, _, _) = self.control.lockdown();
        Gates {
            regime: Regime::from_code(regime),
            gate_check,
            lockdown,
        }
    }

    // ------------------------------------------------------------ session

    fn try_connect(&mut self, now: u64) -> usize {
        let Some(addr) = self.addr else { return 0 };
        if now < self.next_connect_ns {
            return 0;
        }
        let cfg = ClientConfig {
            connect_timeout_ms: CONNECT_TIMEOUT_MS,
            ..ClientConfig::default()
        };
        match OrderClient::connect_with_clock(addr, self.logon, cfg, now_ns) {
            Ok(c) => {
                self.venue_position_e8 = c
                    .logon_positions()
                    .iter()
                    .find(|p| p.instrument_id == self.instrument_id)
                    .map(|p| p.position_e8);
                self.client = Some(c);
                self.logons += 1;
                self.backoff_ns = RECONNECT_MIN_NS;
                // A position that differs from ours (fills matched after our last journal
                // record, or a journal from another venue day) is reconciled even on a first
                // start: quoting on a wrong position would misjudge every limit.
                let position_differs = self
                    .venue_position_e8
                    .is_some_and(|p| p != self.exec.position_e8());
                if self.needs_reconcile || position_differs {
                    self.needs_reconcile = true;
                    self.reconcile(now_ns());
                }
                1
            }
            Err(_) => {
                // Refused, or the venue still holds our previous session (AccountInUse until
                // it sees the old socket close): try again later.
                self.send_errors += 1;
                self.next_connect_ns = now + self.backoff_ns;
                self.backoff_ns = (self.backoff_ns * 2).min(RECONNECT_MAX_NS);
                0
            }
        }
    }

    /// After an accepted Logon the venue holds none of our orders (cancel on disconnect; see
    /// the module documentation): reconcile against the empty list and the position the
    /// venue reported.
    fn reconcile(&mut self, now: u64) {
        self.reconcile_waits_for_mark = false;
        match self
            .exec
            .reconcile(&[], self.venue_position_e8, now, &mut self.xo)
        {
            Ok(_) => {
                self.needs_reconcile = false;
                self.reconciliations += 1;
                self.handle_actions(now, false);
            }
            Err(crate::execution::ExecError::NoMarkForPositionFix(_)) => {
                // Quoting stays blocked; `poll` tries again once market data gives a mark.
                self.reconcile_waits_for_mark = true;
                self.xo.clear();
            }
            Err(_) => {
                // Cannot happen with an empty venue list (it needs one action per local order
                // and the buffer holds four per order); stay unreconciled rather than guess.
                self.xo.clear();
            }
        }
    }

    /// A reconciliation that waited for a mark price, once market data has given one.
    fn retry_reconcile(&mut self, now: u64) -> usize {
        if !self.reconcile_waits_for_mark || self.client.is_none() || !self.exec.has_mark() {
            return 0;
        }
        self.reconcile(now);
        1
    }

    /// The session is gone: the venue cancels our orders; rebuild from the journal and wait
    /// for the next Logon to reconcile.
    fn lose_session(&mut self, now: u64) {
        self.client = None;
        self.venue_position_e8 = None;
        self.reconcile_waits_for_mark = false;
        self.lost = false;
        self.next_connect_ns = now + self.backoff_ns;
        self.backoff_ns = (self.backoff_ns * 2).min(RECONNECT_MAX_NS);
        if self.journal.sync(now).is_err() {
            self.journal_failure();
        }
        match Journal::recover(&self.journal_path) {
            Ok(state) => {
                if self.exec.restore(&state).is_ok() {
                    self.feedback.restore(&state);
                    self.needs_reconcile = true;
                }
            }
            Err(_) => self.journal_failure(),
        }
        self.tracked = [Tracked::default(); TRACKED];
    }

    /// Write the records staged so far (one system call; none when nothing is staged).
    fn commit_journal(&mut self, now: u64) {
        if self.journal.commit(now).is_err() {
            self.journal_failure();
        }
    }

    fn journal_failure(&mut self) {
        // Without a journal a restart could duplicate or orphan orders: stop trading.
        if !self.journal_failed {
            self.journal_failed = true;
            self.control
                .kill("execution", "order journal write failed: trading halted");
        }
    }

    // ------------------------------------------------------------ actions

    fn track_find(&self, cid: u64) -> Option<usize> {
        self.tracked.iter().position(|t| t.cid == cid)
    }

    fn track(&mut self, ev: &OrderEvent) {
        if ev.client_order_id == 0 {
            return;
        }
        let i = match self.track_find(ev.client_order_id) {
            Some(i) => i,
            None => {
                if ev.kind != oek::SENT {
                    return;
                }
                match self.track_find(0) {
                    Some(i) => i,
                    // Full: forget the oldest placement (bounded memory).
                    None => (0..TRACKED)
                        .min_by_key(|&i| self.tracked[i].placed_ns)
                        .unwrap_or(0),
                }
            }
        };
        match ev.kind {
            oek::FILLED | oek::CANCELLED | oek::REJECTED => {
                self.tracked[i] = Tracked::default();
            }
            _ => {
                let t = &mut self.tracked[i];
                if t.cid != ev.client_order_id {
                    *t = Tracked {
                        cid: ev.client_order_id,
                        placed_ns: ev.stamps.publish_ns,
                        ..Tracked::default()
                    };
                }
                t.qty_e8 = ev.qty_e8;
                t.leaves_e8 = ev.leaves_qty_e8;
            }
        }
    }

    /// Carry out `self.xo` in order, then clear it. `from_timer`: the cancels in it are the
    /// 200 ms deadline cancels (their lateness is recorded).
    ///
    /// Cancels and modifications are queued on the connection, not written one by one: they
    /// leave in the same `write` call as the next new order, ahead of it in the stream, or at
    /// the end of the batch. A signal that replaces an order thus costs one system call, not
    /// two, on the tick-to-order path (a loopback write is several µs here), and the venue
    /// still sees the cancel first.
    fn handle_actions(&mut self, now: u64, from_timer: bool) {
        let mut intent_stamps = Stamps::default();
        // When the last new order's bytes were written (0 = not written).
        let mut written_ns = 0u64;
        let n = self.xo.len();
        for k in 0..n {
            let action = self.xo.as_slice()[k];
            match action {
                ExecAction::Journal(ev) => {
                    if ev.kind == jkind::INTENT {
                        intent_stamps = ev.stamps;
                    }
                    // GONE: a strategy's order the venue no longer lists ends there (other
                    // journal-only records say nothing to strategies).
                    if let Some(ie) = self.feedback.order_event(&ev) {
                        self.publish_intent_event(ie);
                    }
                    if self.journal.stage(&ev, now).is_err() {
                        self.journal_failure();
                    }
                }
                ExecAction::Report(mut ev) => {
                    if written_ns != 0 && ev.kind == oek::SENT {
                        // Sentinel's RTT starts when the bytes left, not when we decided. (A
                        // queued cancel's or modification's report keeps the decision time:
                        // it is written later in this batch, and Sentinel times new orders
                        // only.)
                        ev.request_sent_ns = written_ns;
                    }
                    self.track(&ev);
                    if let Some(ie) = self.feedback.order_event(&ev) {
                        self.publish_intent_event(ie);
                    }
                    if self.journal.stage(&ev, now).is_err() {
                        self.journal_failure();
                    }
                    if self.orders_out.try_push(&ev).is_err() {
                        self.report_drops += 1;
                    } else {
                        self.orders_to_notify = true;
                    }
                }
                ExecAction::SendNew {
                    client_order_id,
                    side,
                    price_e8,
                    qty_e8,
                } => {
                    written_ns = 0;
                    // The intent (and every record before it) reaches the kernel before the
                    // order's bytes leave; without a journal, or once the kill switch is
                    // set, nothing new leaves at all.
                    self.commit_journal(now);
                    if self.journal_failed || self.control.is_killed() {
                        self.local_rejects.push(NotSent::New(client_order_id));
                        continue;
                    }
                    let msg = NewOrderMsg {
                        client_order_id,
                        instrument_id: self.instrument_id,
                        side,
                        order_type: order_type::LIMIT,
                        tif: tif::DAY,
                        price_e8,
                        qty_e8,
                        send_ns: 0,
                    };
                    // One write: the queued cancels and modifications, then this order.
                    match self.client.as_mut().map(|c| c.send_new_order(msg)) {
                        Some(Ok(info)) => {
                            written_ns = info.written_ns;
                            self.sends += 1;
                            self.queued_written(written_ns);
                            if intent_stamps.recv_ns != 0 {
                                self.stages.record(
                                    ST_TICK_TO_ORDER,
                                    written_ns.saturating_sub(intent_stamps.recv_ns),
                                );
                            }
                            if intent_stamps.intended_ns != 0 {
                                self.stages.record(
                                    ST_INTENDED,
                                    written_ns.saturating_sub(intent_stamps.intended_ns),
                                );
                            }
                        }
                        other => {
                            if matches!(other, Some(Err(_))) {
                                // The session is gone, and the queued requests with it (the
                                // venue cancels our orders when a session closes).
                                self.send_errors += 1;
                                self.lost = true;
                            }
                            self.local_rejects.push(NotSent::New(client_order_id));
                        }
                    }
                }
                ExecAction::SendCancel { client_order_id } => {
                    let msg = CancelOrderMsg {
                        client_order_id,
                        venue_order_id: 0,
                        instrument_id: self.instrument_id,
                        send_ns: 0,
                    };
                    match self.client.as_mut().map(|c| c.queue_cancel(msg)) {
                        Some(Ok(_)) => {
                            self.sends += 1;
                            if from_timer {
                                if let Some(i) = self.track_find(client_order_id) {
                                    // Bounded by the batch (at most EXEC_ACTIONS, the capacity).
                                    self.queued_deadlines_ns
                                        .push(self.tracked[i].placed_ns + self.cancel_after_ns);
                                }
                            }
                        }
                        // No session: the venue cancelled the order when the session closed.
                        Some(Err(_)) => {
                            self.send_errors += 1;
                            self.lost = true;
                        }
                        None => {}
                    }
                }
                ExecAction::SendModify {
                    client_order_id,
                    price_e8,
                    qty_e8,
                } => {
                    // Like a new order, a modification can add exposure: none once the kill
                    // switch is set or the journal has failed (the order stays as it is, and
                    // the kill cancels it).
                    if self.journal_failed || self.control.is_killed() {
                        self.local_rejects.push(NotSent::Modify(client_order_id));
                        continue;
                    }
                    // The venue wants the new total quantity (filled part included); the
                    // state machine gives what should remain open.
                    let filled = self
                        .track_find(client_order_id)
                        .map(|i| (self.tracked[i].qty_e8 - self.tracked[i].leaves_e8).max(0))
                        .unwrap_or(0);
                    let msg = ModifyOrderMsg {
                        client_order_id,
                        venue_order_id: 0,
                        instrument_id: self.instrument_id,
                        price_e8,
                        qty_e8: filled + qty_e8,
                        send_ns: 0,
                    };
                    match self.client.as_mut().map(|c| c.queue_modify(msg)) {
                        Some(Ok(_)) => self.sends += 1,
                        Some(Err(_)) => {
                            self.send_errors += 1;
                            self.lost = true;
                        }
                        None => {}
                    }
                }
            }
        }
        self.xo.clear();
        // What is still queued (no new order followed it) leaves now, unless the session is
        // gone (the venue cancelled our orders when it closed).
        let unsent = self.client.as_mut().filter(|c| c.unwritten_bytes() > 0);
        match unsent.filter(|_| !self.lost).map(|c| c.send_queued()) {
            Some(Ok(info)) => self.queued_written(info.written_ns),
            Some(Err(_)) => {
                self.send_errors += 1;
                self.lost = true;
            }
            None => {}
        }
        self.queued_deadlines_ns.clear();
        // Requests that never left: tell the state machine (bounded: one per order just
        // placed or modified).
        while let Some(not_sent) = self.local_rejects.pop() {
            let ev = match not_sent {
                NotSent::New(cid) => VenueEvent::Rejected {
                    client_order_id: cid,
                    reason: REJECT_NOT_SENT,
                },
                // The order rests unchanged: for the state machine, a refused modification.
                NotSent::Modify(cid) => VenueEvent::CancelRejected {
                    client_order_id: cid,
                    reason: REJECT_NOT_SENT,
                },
            };
            self.exec.on_venue(&ev, now, &mut self.xo);
            self.handle_actions(now, false);
        }
    }

    /// The queued cancels and modifications were written at `written_ns`: record the lateness
    /// of the 200 ms cancels among them (none queued: nothing to do).
    fn queued_written(&mut self, written_ns: u64) {
        for &deadline_ns in &self.queued_deadlines_ns {
            self.stages
                .record(ST_CANCEL_LATENESS, written_ns.saturating_sub(deadline_ns));
        }
        self.queued_deadlines_ns.clear();
    }

    // ------------------------------------------------------------ inputs

    /// Read venue responses into `venue_buf` (bounded), then apply them.
    fn drain_venue(&mut self) -> usize {
        let Some(c) = self.client.as_mut() else {
            return 0;
        };
        let buf = &mut self.venue_buf;
        let mut closing = false;
        let r = c.poll(MAX_BATCH, |_, f| {
            if let Some(ev) = venue_event(f) {
                buf.push(ev);
                return;
            }
            match *f {
                Frame::Error(e) => closing |= is_closing(&e),
                Frame::Logout(_) => closing = true,
                _ => {}
            }
        });
        let n = self.venue_buf.len();
        // One clock read for the batch, and none on the (usual) pass without a response.
        let read_ns = if n > 0 { now_ns() } else { 0 };
        for k in 0..n {
            let ev = self.venue_buf[k];
            self.venue_events += 1;
            self.exec.on_venue(&ev, read_ns, &mut self.xo);
            self.handle_actions(read_ns, false);
        }
        self.venue_buf.clear();
        let maintained = self.client.as_mut().map(|c| c.maintain());
        if r.is_err() || closing || matches!(maintained, Some(Err(_))) {
            self.lost = true;
        }
        n
    }

    /// Market data for the last traded price and the touch: stamped with the pass's time (no
    /// latency is measured here, so no clock read per event).
    fn drain_md(&mut self, now: u64) -> usize {
        let mut n = 0;
        while n < MAX_BATCH {
            match self.md.poll() {
                Recv::Msg { msg, .. } => {
                    n += 1;
                    self.exec.on_md(&msg, now);
                }
                Recv::Overrun { .. } => n += 1,
                Recv::Empty => break,
            }
        }
        n
    }

    /// Signals → quoting. `quote`: false while halted or without a session (signals are then
    /// consumed and dropped: a stale signal must not place an order later).
    fn drain_signals(&mut self, quote: bool) -> usize {
        let mut n = 0;
        while n < MAX_BATCH {
            let Some(sig) = self.signals.try_pop() else {
                break;
            };
            n += 1;
            self.signals_in += 1;
            let t = now_ns();
            if sig.stamps.publish_ns != 0 {
                self.stages
                    .record(ST_HOP, t.saturating_sub(sig.stamps.publish_ns));
            }
            if !self.may_decide(quote, t) {
                self.signals_dropped += 1;
                continue;
            }
            self.exec.on_signal(&sig, t, &mut self.xo);
            self.handle_actions(t, false);
        }
        n
    }

    /// Intents of user strategy actors, through the same gates as signals.
    fn drain_intents(&mut self, quote: bool) -> usize {
        let mut n = 0;
        while n < MAX_BATCH {
            let Some(intent) = self.intents.try_pop() else {
                break;
            };
            n += 1;
            self.intents_in += 1;
            let t = now_ns();
            // Under the kill switch (latched, or seen by `may_decide` just now) the state
            // machine refuses it for the kill and counts it (blocked_by_kill), so the
            // strategy's owner sees why nothing happens. Halted otherwise or with no venue
            // session, it is not decided on, like signals, and the strategy is told so.
            if !self.may_decide(quote, t) && !self.exec.is_killed() {
                self.publish_intent_event(IntentFeedback::dropped(&intent, t));
                continue;
            }
            self.on_intent(&intent, t);
        }
        n
    }

    /// Decide on one intent and carry the decision out. The answer is known to the feedback
    /// before the actions run, so the SENT report that follows is already tagged with it.
    fn on_intent(&mut self, intent: &OrderIntent, t: u64) {
        let outcome = self.exec.on_intent(intent, t, &mut self.xo);
        if let Some(ie) = self.feedback.answer(intent, outcome, t) {
            self.publish_intent_event(ie);
        }
        self.handle_actions(t, false);
    }

    fn publish_intent_event(&mut self, mut ie: IntentEvent) {
        // Its position on the ring: a restarted Execution goes on where its predecessor stopped.
        ie.seq = self.intent_events.next_seq();
        self.intent_events.publish(&ie);
        self.events_to_notify = true;
    }

    /// Whether an input read at `t` may lead to an order decision: quoting (not halted), a
    /// logged-on connection, and no kill switch set since the loop's pass began (honoured
    /// before this decision, not at the next pass). The state machine gets the gates as of
    /// now.
    fn may_decide(&mut self, quote: bool, t: u64) -> bool {
        if !quote || self.client.is_none() || self.lost {
            return false;
        }
        if self.control.is_killed() && !self.exec.is_killed() {
            self.kill_now(t);
            return false;
        }
        let gates = self.gates();
        self.exec.on_gates(gates, t, &mut self.xo);
        true
    }

    /// Gates and due timers at `t`, a fresh clock read taken after the inputs were drained
    /// (a 200 ms cancel must not leave late because a batch of signals came first).
    fn timers(&mut self, t: u64) -> usize {
        let gates = self.gates();
        self.exec.on_gates(gates, t, &mut self.xo);
        self.handle_actions(t, false);
        self.exec.on_tick(t, &mut self.xo);
        let n = self.xo.len();
        self.handle_actions(t, true);
        n
    }

    /// Wake a parked Sentinel once per pass for the reports pushed in it, and parked strategies
    /// for the intent events (after the orders' bytes left: never on the tick-to-order path).
    fn notify_readers(&mut self) {
        if self.orders_to_notify {
            self.orders_to_notify = false;
            self.control.notify(topic::ORDERS);
        }
        if self.events_to_notify {
            self.events_to_notify = false;
            self.control.notify(topic::INTENT_EVENTS);
        }
    }

    fn kill_now(&mut self, now: u64) {
        self.exec.on_kill(now, &mut self.xo);
        self.handle_actions(now, false);
    }

    fn housekeeping(&mut self, now: u64) {
        if self.lost {
            self.lose_session(now);
        }
        // The pass's remaining records (venue responses, reports after sends, the kill's
        // cancels) reach the kernel before the pass ends, and the fsync that may follow
        // covers them.
        self.commit_journal(now);
        if self.journal.sync_if_due(now).is_err() {
            self.journal_failure();
        }
        if now.saturating_sub(self.last_publish_ns) >= PUBLISH_INTERVAL_NS {
            self.last_publish_ns = now;
            let tel = self.exec.telemetry(now);
            self.control.execution_telemetry().write(&tel);
        }
        self.stages.maybe_publish(now, false);
    }
}

impl Actor for ExecutionActor {
    fn poll(&mut self, now: u64) -> usize {
        let mut work = 0;
        if self.client.is_none() {
            work += self.try_connect(now);
        }
        work += self.drain_venue();
        work += self.drain_md(now);
        work += self.retry_reconcile(now);
        work += self.drain_signals(true);
        work += self.drain_intents(true);
        let t = now_ns();
        work += self.timers(t);
        self.housekeeping(t);
        self.notify_readers();
        work
    }

    /// Killed: acknowledgements and fills of the cancels are processed, signals are consumed
    /// and dropped, nothing new is sent (the state machine is latched killed; its timers only
    /// cancel).
    fn poll_halted(&mut self, now: u64) -> usize {
        let mut work = 0;
        if self.client.is_none() {
            // A new session is reconciled (cancels only, nothing new) so that the venue and the
            // journal agree again before a re-arm.
            work += self.try_connect(now);
        }
        work += self.drain_venue();
        work += self.drain_md(now);
        work += self.retry_reconcile(now);
        work += self.drain_signals(false);
        work += self.drain_intents(false);
        let t = now_ns();
        work += self.timers(t);
        self.housekeeping(t);
        self.notify_readers();
        work
    }

    fn on_kill(&mut self, now: u64) {
        if !self.exec.is_killed() {
            self.kill_now(now);
        }
    }

    fn on_rearm(&mut self, _now: u64) {
        if !self.journal_failed {
            self.exec.rearm();
        }
    }

    fn on_stop(&mut self, now: u64) {
        let _ = self.journal.sync(now);
        if let Some(c) = self.client.as_mut() {
            let _ = c.send_logout();
        }
        self.stages.maybe_publish(now, true);
        let tel = self.exec.telemetry(now);
        self.control.execution_telemetry().write(&tel);
    }

    fn wake_topics(&self) -> u32 {
        // Signals and user strategies' intents trigger orders. Market data is drained on the
        // same wake-up (Oracle's signal is published after the event it read);
        // acknowledgements arrive on the venue socket, read at the next pass.
        topic::SIGNAL | topic::INTENT
    }

    fn counters(&self) -> Option<ActorCounters> {
        Some(ActorCounters {
            msgs_in: self.signals_in + self.intents_in + self.venue_events,
            msgs_out: self.sends,
            errors: self.send_errors + self.report_drops,
        })
    }
}

impl Drop for ExecutionActor {
    fn drop(&mut self) {
        // Whatever the policy, records written before an orderly drop reach the disk.
        let _ = self.journal.sync(now_ns());
    }
}

/// The order-state change a venue frame reports to the Execution state machine, if any (the
/// session frames, errors and logouts are the caller's). Shared by every driver of Execution
/// over the venue protocol.
pub fn venue_event(frame: &Frame<'_>) -> Option<VenueEvent> {
    Some(match *frame {
        Frame::OrderAccepted(m) => VenueEvent::Accepted {
            client_order_id: m.client_order_id,
            venue_order_id: m.venue_order_id,
        },
        Frame::OrderOpen(m) => VenueEvent::Open {
            client_order_id: m.client_order_id,
            venue_order_id: m.venue_order_id,
        },
        Frame::Fill(m) => VenueEvent::Fill {
            client_order_id: m.client_order_id,
            price_e8: m.price_e8,
            qty_e8: m.qty_e8,
            leaves_qty_e8: m.leaves_qty_e8,
        },
        Frame::Cancelled(m) => VenueEvent::Cancelled {
            client_order_id: m.client_order_id,
        },
        Frame::Rejected(m) => VenueEvent::Rejected {
            client_order_id: m.client_order_id,
            reason: m.reason,
        },
        Frame::CancelRejected(m) => VenueEvent::CancelRejected {
            client_order_id: m.client_order_id,
            reason: m.reason,
        },
        Frame::Modified(m) => VenueEvent::Modified {
            client_order_id: m.client_order_id,
            price_e8: m.price_e8,
            qty_e8: m.qty_e8,
            leaves_qty_e8: m.leaves_qty_e8,
        },
        _ => return None,
    })
}
