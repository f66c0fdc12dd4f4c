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
    sentinel: Sentinel,
    orders: Consumer<OrderEvent, 16_384>,
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
}

impl SentinelActor {
    pub fn new(env: LiveEnv) -> Result<Self, LiveError> {
        let sentinel = Sentinel::new(env.strategy.sentinel.clone())
            .map_err(|e| LiveError::Strategy(e.to_string()))?;
        let orders = OrdersRing::attach(&env.dir, ORDERS_RING)
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
        Ok(SentinelActor {
            inherited_lockdown_until_ns,
            sentinel,
            orders,
            emergencies,
            md,
            stages: Stages::new(
                env.hist,
                env.slot_index,
                &[(stage::RTT, None), (stage::ORDER_TO_FILL, None)],
            ),
            control: env.control,
            slot_index: env.slot_index,
            out: SentinelActions::new(),
            timed: [Timed::default(); TIMED_ORDERS],
            timed_next: 0,
            events: 0,
            emergencies_sent: 0,
            emergencies_dropped: 0,
            last_heartbeat_ns: 0,
            last_publish_ns: 0,
        })
    }

    pub fn sentinel(&mut self) -> &mut Sentinel {
        &mut self.sentinel
    }

    /// RTT samples recorded into the histogram so far.
    pub fn rtt_samples(&self) -> u64 {
        self.stages.histogram(0).len()
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
        let mut work = 0;
        while work < MAX_BATCH {
            let Some(ev) = self.orders.try_pop() else {
                break;
            };
            work += 1;
            self.events += 1;
            self.time_event(&ev);
            let t = now_ns();
            self.sentinel.on_order_event(&ev, t, &mut self.out);
            self.apply_actions(t);
        }
        // The latest mid from market data (bounded; only the last book of the batch matters).
        let mut mark = 0i64;
        for _ in 0..MAX_BATCH {
            match self.md.poll() {
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
            self.sentinel.on_mark(mark, t, &mut self.out);
        }
        self.sample_heartbeats(t);
        self.sentinel.on_tick(t, &mut self.out);
        self.apply_actions(t);
        if let Some(until) = self.inherited_lockdown_until_ns {
            if self.sentinel.in_lockdown() {
                // This incarnation has its own reason now; it lifts it itself.
                self.inherited_lockdown_until_ns = None;
            } else if t >= until {
                self.inherited_lockdown_until_ns = None;
                self.control.set_lockdown(false, 0, t);
            }
        }
        if t.saturating_sub(self.last_publish_ns) >= PUBLISH_INTERVAL_NS {
            self.last_publish_ns = t;
            let tel = self.sentinel.telemetry(t);
            self.control.sentinel_telemetry().write(&tel);
        }
        self.stages.maybe_publish(t, false);
        work
    }

    fn poll_halted(&mut self, now: u64) -> usize {
        // Sentinel keeps watching while the engine is halted (the cancels' acks, heartbeats).
        self.poll(now)
    }

    fn on_stop(&mut self, now: u64) {
        self.stages.maybe_publish(now, true);
    }

    fn wake_topics(&self) -> u32 {
        // Order reports drive OTR, limits and the round trip.
        topic::ORDERS
    }

    fn counters(&self) -> Option<ActorCounters> {
        Some(ActorCounters {
            msgs_in: self.events,
            msgs_out: self.emergencies_sent,
            errors: self.emergencies_dropped,
        })
    }
}
