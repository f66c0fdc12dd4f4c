//! Sentinel: `orders.ring` → `Sentinel`; heartbeats of every actor slot; lockdown into the
//! control block and emergencies onto `emergency.ring`; RTT and order-to-fill histograms.

use super::{cursor, now_ns, ring_err, LiveEnv, LiveError, Stages, MAX_BATCH, PUBLISH_INTERVAL_NS};
use crate::sentinel::{Sentinel, SentinelAction, SentinelActions};
use runtime::actor::Actor;
use runtime::control::{actor_state, topic, ActorCounters, ControlBlock};
use runtime::hist::stage;
use runtime::msg::{md_kind, order_event_kind as oek, Emergency, MdEvent, OrderEvent};
use runtime::ring::broadcast::{Recv, Subscriber};
use runtime::ring::spsc::{Consumer, Producer};
use runtime::rings::{EmergencyRing, MdRing, OrdersRing, EMERGENCY_RING, MD_RING, ORDERS_RING};
use std::sync::Arc;

/// Orders whose acknowledgement and first fill are being timed at once.
const TIMED_ORDERS: usize = 512;
/// Heartbeats are sampled at most this often.
const HEARTBEAT_SAMPLE_NS: u64 = 1_000_000;

#[derive(Clone, Copy, Default)]
struct Timed {
    cid: u64,
    sent_ns: u64,
    acked: bool,
}

/// The Sentinel actor.
pub struct SentinelActor {
    orders: Consumer<OrderEvent, 16_384>,
    /// Everything else: the state each report of `orders.ring` is folded into (a field of its
    /// own so that the ring can hand it the reports and then the checkpoint).
    guard: Guard,
}

struct Guard {
    sentinel: Sentinel,
    emergencies: Producer<Emergency, 256>,
    md: Subscriber<MdEvent, 65_536>,
    control: Arc<ControlBlock>,
    slot_index: usize,
    out: SentinelActions,
    stages: Stages,
    timed: [Timed; TIMED_ORDERS],
    timed_next: usize,
    events: u64,
    emergencies_sent: u64,
    emergencies_dropped: u64,
    last_heartbeat_ns: u64,
    last_publish_ns: u64,
    /// A lockdown left in the control block by a previous incarnation: kept until this one has
    /// watched a healthy period itself (it knows nothing of the old one's reasons).
    inherited_lockdown_until_ns: Option<u64>,
    /// Checkpoints saved, by every incarnation (the next one's number tells the slot).
    checkpoint_saves: u64,
    /// The last checkpoint's limit latches, to save again when a mark alone changes them.
    saved_limits: u64,
}

impl SentinelActor {
    pub fn new(env: LiveEnv) -> Result<Self, LiveError> {
        let mut sentinel = Sentinel::new(env.strategy.sentinel.clone())
            .map_err(|e| LiveError::Strategy(e.to_string()))?;
        let mut orders = OrdersRing::attach(&env.dir, ORDERS_RING)
            .and_then(|r| r.consumer())
            .map_err(ring_err(ORDERS_RING))?;
        let emergencies = EmergencyRing::attach(&env.dir, EMERGENCY_RING)
            .and_then(|r| r.producer())
            .map_err(ring_err(EMERGENCY_RING))?;
        // Marks only: start at the newest event, history is of no use for a mark.
        let md = MdRing::attach(&env.dir, MD_RING)
            .and_then(|r| r.subscribe_latest(cursor::SENTINEL))
            .map_err(ring_err(MD_RING))?;
        let inherited_lockdown_until_ns = env
            .control
            .lockdown()
            .0
            .then(|| now_ns() + env.strategy.sentinel.healthy_period_ns);
        // Carry on from the previous incarnation's risk state, and step over the reports it
        // had folded in but not yet released from the ring (it died in between).
        let mut out = SentinelActions::new();
        let mut checkpoint_saves = 0;
        let mut saved_limits = 0;
        if let Some(cp) = env.control.load_sentinel_checkpoint() {
            orders
                .skip_to(cp.orders_pos)
                .map_err(|source| LiveError::Checkpoint {
                    orders_pos: cp.orders_pos,
                    source,
                })?;
            sentinel.restore(&cp, now_ns(), &mut out);
            checkpoint_saves = cp.saves;
            saved_limits = cp.halted_limits;
        }
        let mut actor = SentinelActor {
            orders,
            guard: Guard {
                inherited_lockdown_until_ns,
                sentinel,
                emergencies,
                md,
                stages: Stages::new(
                    env.hist,
                    env.slot_index,
                    &[(stage::RTT, None), (stage::ORDER_TO_FILL, None)],
                ),
                control: env.control,
                slot_index: env.slot_index,
                out,
                timed: [Timed::default(); TIMED_ORDERS],
                timed_next: 0,
                events: 0,
                emergencies_sent: 0,
                emergencies_dropped: 0,
                last_heartbeat_ns: 0,
                last_publish_ns: 0,
                checkpoint_saves,
                saved_limits,
            },
        };
        actor.guard.apply_actions(now_ns());
        Ok(actor)
    }

    pub fn sentinel(&mut self) -> &mut Sentinel {
        &mut self.guard.sentinel
    }

    /// RTT samples recorded into the histogram so far.
    pub fn rtt_samples(&self) -> u64 {
        self.guard.stages.histogram(0).len()
    }
}

impl Guard {
    /// One report from `orders.ring`.
    fn on_report(&mut self, ev: &OrderEvent) {
        self.events += 1;
        self.time_event(ev);
        let t = now_ns();
        self.sentinel.on_order_event(ev, t, &mut self.out);
        self.apply_actions(t);
    }

    /// Save the risk state with `orders_pos`, the ring position it is good up to. Two slots,
    /// written in turn: a Sentinel killed while writing one leaves the other, which matches the
    /// ring (the position is committed only after the save).
    fn save_checkpoint(&mut self, orders_pos: u64) {
        self.checkpoint_saves += 1;
        let cp = self.sentinel.checkpoint(orders_pos, self.checkpoint_saves);
        self.saved_limits = cp.halted_limits;
        self.control.save_sentinel_checkpoint(&cp);
    }

    fn find_timed(&self, cid: u64) -> Option<usize> {
        self.timed
            .iter()
            .position(|t| t.cid == cid && t.sent_ns != 0)
    }

    /// RTT (sent → first acknowledgement) and order-to-fill (sent → first fill), from the
    /// stamps Execution put on the events: `request_sent_ns` of SENT is when the order's bytes
    /// were written, `stamps.recv_ns` of a response is when its bytes were read.
    fn time_event(&mut self, ev: &OrderEvent) {
        match ev.kind {
            oek::SENT => {
                // Oldest entry overwritten when full (bounded memory).
                self.timed[self.timed_next] = Timed {
                    cid: ev.client_order_id,
                    sent_ns: ev.request_sent_ns.max(1),
                    acked: false,
                };
                self.timed_next = (self.timed_next + 1) % TIMED_ORDERS;
            }
            oek::ACCEPTED | oek::OPEN | oek::REJECTED => {
                if let Some(i) = self.find_timed(ev.client_order_id) {
                    if !self.timed[i].acked {
                        self.timed[i].acked = true;
                        let rtt = ev.stamps.recv_ns.saturating_sub(self.timed[i].sent_ns);
                        self.stages.record(0, rtt);
                    }
                    if ev.kind == oek::REJECTED {
                        self.timed[i] = Timed::default();
                    }
                }
            }
            oek::PARTIALLY_FILLED | oek::FILLED => {
                if let Some(i) = self.find_timed(ev.client_order_id) {
                    let t = ev.stamps.recv_ns.saturating_sub(self.timed[i].sent_ns);
                    self.stages.record(1, t);
                    self.timed[i] = Timed::default();
                }
            }
            oek::CANCELLED => {
                if let Some(i) = self.find_timed(ev.client_order_id) {
                    self.timed[i] = Timed::default();
                }
            }
            _ => {}
        }
    }

    fn apply_actions(&mut self, now: u64) {
        for a in self.out.iter() {
            match *a {
                SentinelAction::EnterLockdown { reason } => {
                    self.control.set_lockdown(true, reason.code(), now)
                }
                SentinelAction::LiftLockdown => self.control.set_lockdown(false, 0, now),
                SentinelAction::Emergency(e) => match self.emergencies.try_push(&e) {
                    Ok(_) => self.emergencies_sent += 1,
                    Err(_) => self.emergencies_dropped += 1,
                },
            }
        }
        self.out.clear();
    }

    fn sample_heartbeats(&mut self, now: u64) {
        if now.saturating_sub(self.last_heartbeat_ns) < HEARTBEAT_SAMPLE_NS {
            return;
        }
        self.last_heartbeat_ns = now;
        // Bounded: at most MAX_ACTORS slots.
        for (i, slot) in self.control.actors().enumerate() {
            if i == self.slot_index {
                continue;
            }
            match slot.state() {
                actor_state::RUNNING | actor_state::HALTED => {
                    self.sentinel.on_heartbeat(i as u32, slot.heartbeat(), now)
                }
                // Starting, stopping, stopped or dead: the supervisor owns it right now.
                _ => self.sentinel.unwatch(i as u32),
            }
        }
    }
}

impl Actor for SentinelActor {
    fn poll(&mut self, _now: u64) -> usize {
        let work = self.orders.pop_batch_checkpointed(
            MAX_BATCH,
            &mut self.guard,
            |g, _, ev| g.on_report(ev),
            |g, end| g.save_checkpoint(end),
        );
        let g = &mut self.guard;
        // The latest mid from market data (bounded; only the last book of the batch matters).
        let mut mark = 0i64;
        for _ in 0..MAX_BATCH {
            match g.md.poll() {
                Recv::Msg { msg, .. } => {
                    if msg.kind == md_kind::BOOK
                        && msg.book.bid_levels > 0
                        && msg.book.ask_levels > 0
                    {
                        mark = (msg.book.bids[0].price_e8 + msg.book.asks[0].price_e8) / 2;
                    }
                }
                Recv::Overrun { .. } => {}
                Recv::Empty => break,
            }
        }
        let t = now_ns();
        if mark > 0 {
            g.sentinel.on_mark(mark, t, &mut g.out);
        }
        g.sample_heartbeats(t);
        g.sentinel.on_tick(t, &mut g.out);
        g.apply_actions(t);
        // A mark alone can latch a limit halt: save it, so that a successor does not send the
        // halt again (the ring position is unchanged).
        if g.sentinel.halted_limits() != g.saved_limits {
            g.save_checkpoint(self.orders.position());
        }
        if let Some(until) = g.inherited_lockdown_until_ns {
            if g.sentinel.in_lockdown() {
                // This incarnation has its own reason now; it lifts it itself.
                g.inherited_lockdown_until_ns = None;
            } else if t >= until {
                g.inherited_lockdown_until_ns = None;
                g.control.set_lockdown(false, 0, t);
            }
        }
        if t.saturating_sub(g.last_publish_ns) >= PUBLISH_INTERVAL_NS {
            g.last_publish_ns = t;
            let tel = g.sentinel.telemetry(t);
            g.control.sentinel_telemetry().write(&tel);
        }
        g.stages.maybe_publish(t, false);
        work
    }

    fn poll_halted(&mut self, now: u64) -> usize {
        // Sentinel keeps watching while the engine is halted (the cancels' acks, heartbeats).
        self.poll(now)
    }

    fn on_stop(&mut self, now: u64) {
        self.guard.stages.maybe_publish(now, true);
    }

    fn wake_topics(&self) -> u32 {
        // Order reports drive OTR, limits and the round trip.
        topic::ORDERS
    }

    fn counters(&self) -> Option<ActorCounters> {
        let g = &self.guard;
        Some(ActorCounters {
            msgs_in: g.events,
            msgs_out: g.emergencies_sent,
            errors: g.emergencies_dropped,
        })
    }
}
