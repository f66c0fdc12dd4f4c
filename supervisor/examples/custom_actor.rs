//! Your own actor kind, registered and placed in a topology: copy this file to add a strategy.
//!
//! The engine's actors are ordinary types implementing `runtime::actor::Actor`. The supervisor
//! runs each one in its own process, pinned to the core the topology names, inside the same loop
//! as the built-in actors (kill switch, heartbeat, stop requests, idling, latency histograms).
//! All you write is `poll`: do a bounded amount of work, return how much.
//!
//! This example defines the kind `momentum`: it reads trades and books from the market-data ring
//! and, when the price has moved `threshold_ticks` in one direction, sends an order intent to
//! Execution on `intent.ring`: join the bid after a rise, the ask after a fall. Execution takes
//! passive LIMIT DAY orders only and applies every gate it applies to its own quotes (kill
//! switch, Sentinel's lockdown, Sonar's regime and data gate, position limit, order-to-trade
//! ratio, order rate; not its NEV check: judging the strategy's edge after costs is yours), then
//! journals the order, reports it to Sentinel and cancels it 200 ms later if unfilled. A refused
//! intent is counted with its reason (`intents_refused`, `blocked_by_*` in Execution's
//! telemetry), so a strategy never talks to the venue itself. The defaults match the default
//! engine's instrument (NIFTY future: tick ₹0.10, lot 75).
//!
//! Execution answers every intent on `intent_events.ring`: the order's SENT (with the client
//! order id to cancel by), or why there is none (refused, blocked by a gate, dropped), and then
//! the order's life (open, fills, cancelled...), each tagged with the intent's `seq`. This
//! strategy keeps one thing outstanding at a time: it sends nothing while an intent is
//! unanswered or its order is working (for at most `answer_timeout_ms`), and it keeps its
//! position from its fills within `max_position_lots`.
//!
//! Run it (it needs no venue: with no Feed running it simply sees no trades):
//!
//! ```text
//! cargo run -p supervisor --example custom_actor -- start --topology examples/topology-custom.ron
//! cargo run -p supervisor --example custom_actor -- status --topology examples/topology-custom.ron
//! ```
//!
//! To trade, add the line below to a copy of the default `topology.ron` and start that file with
//! this binary: it registers the engine's kinds too, so Feed, Execution and the rest run beside
//! your strategy. `supervisor/tests/custom_actor.rs` does exactly that against the simulated
//! venue (orders placed, a SIGKILL survived, nothing sent after the kill switch).
//!
//! The topology places it like any built-in kind:
//!
//! ```ron
//! (name: "momo", kind: "momentum", core: 1, idle: Backoff(), restart: permanent,
//!  config: Some("momentum.ron")),
//! ```

use std::process::ExitCode;

use runtime::actor::Actor;
use runtime::control::{topic, ActorCounters, ControlBlock};
use runtime::msg::{
    intent_action, intent_event_kind as iek, md_kind, order_event_kind as oek, order_type, side,
    tif, IntentEvent, OrderIntent, PRICE_SCALE,
};
use runtime::ring::{Producer, Recv, Subscriber};
use runtime::rings::{
    IntentEventRing, IntentRing, MdRing, INTENT_EVENTS_RING, INTENT_RING, MD_RING,
};
use serde::Deserialize;
use std::sync::Arc;
use supervisor::{run_cli, ActorEnv};

/// Messages handled per `poll` at most: a limit, so the loop comes back to the kill switch and
/// the heartbeat in bounded time even when the market is busy.
const BATCH: usize = 64;

/// `config:` file of a `momentum` actor (all fields optional).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, default)]
struct MomentumConfig {
    /// Price move, in ticks, that triggers an intent.
    threshold_ticks: i64,
    /// Tick size in price units ×10^8.
    tick_e8: i64,
    /// Quantity of each order ×10^8.
    qty_e8: i64,
    instrument_id: u32,
    /// The most this strategy holds either way, in orders of `qty_e8`.
    max_position_lots: i64,
    /// How long to wait for an intent's order to end before sending again anyway. Execution
    /// cancels at 200 ms; a restarted Execution no longer reports the orders it recovered.
    answer_timeout_ms: u64,
    /// This actor's cursor on `md.ring` and on `intent_events.ring`: every reader has its own.
    /// 0-4 belong to the engine's actors (Oracle, Sonar, Execution, UI, Sentinel); user actors
    /// take 5-15, one each.
    md_cursor: usize,
}

impl Default for MomentumConfig {
    fn default() -> Self {
        MomentumConfig {
            threshold_ticks: 5,
            tick_e8: PRICE_SCALE / 10, // ₹0.10, the default engine's NIFTY future
            qty_e8: 75 * PRICE_SCALE,  // one lot (at most Execution's order_qty_e8)
            instrument_id: 1,
            max_position_lots: 2,
            answer_timeout_ms: 1_000,
            md_cursor: 5,
        }
    }
}

/// The strategy's state: a pure function of the trades it has seen.
struct Momentum {
    cfg: MomentumConfig,
    md: Subscriber<runtime::msg::MdEvent, 65_536>,
    intents: Producer<OrderIntent, 4_096>,
    /// Execution's answers to our intents and our orders' lives.
    answers: Subscriber<IntentEvent, 4_096>,
    /// To ring Execution's doorbell after pushing an intent (it may be parked).
    control: Arc<ControlBlock>,
    /// Price at which the current move started.
    anchor_e8: Option<i64>,
    /// The latest touch (0 = none yet): the price a passive order joins.
    bid_e8: i64,
    ask_e8: i64,
    seq: u64,
    /// The intent sent and not yet answered, or whose order is still working (its seq): while
    /// there is one, nothing more is sent.
    outstanding: Option<u64>,
    outstanding_since_ns: u64,
    /// Net position from our fills, ×10^8 (a restarted strategy starts flat: a real one would
    /// restore it, e.g. from Execution's journal, before trading).
    position_e8: i64,
    counters: ActorCounters,
}

impl Momentum {
    fn new(env: &ActorEnv) -> anyhow::Result<Momentum> {
        let cfg = match env.config_path() {
            Some(path) => ron::from_str(&std::fs::read_to_string(path)?)?,
            None => MomentumConfig::default(),
        };
        // The supervisor created every ring before starting us. A restarted process takes its
        // cursor back and resumes where the previous one stopped.
        let md = MdRing::attach(&env.dir, MD_RING)?.subscribe(cfg.md_cursor)?;
        let intents = IntentRing::attach(&env.dir, INTENT_RING)?.producer()?;
        let answers =
            IntentEventRing::attach(&env.dir, INTENT_EVENTS_RING)?.subscribe(cfg.md_cursor)?;
        Ok(Momentum {
            cfg,
            md,
            intents,
            answers,
            control: env.control.clone(),
            anchor_e8: None,
            bid_e8: 0,
            ask_e8: 0,
            // Seqs go on from the clock, so a restarted strategy's intents never reuse an
            // earlier incarnation's (whose answers may still be on the ring).
            seq: runtime::clock::monotonic_ns(),
            outstanding: None,
            outstanding_since_ns: 0,
            position_e8: 0,
            counters: ActorCounters::default(),
        })
    }

    /// What Execution said about an intent or its order.
    fn on_answer(&mut self, ev: &IntentEvent) {
        if ev.kind == oek::PARTIALLY_FILLED || ev.kind == oek::FILLED {
            self.position_e8 += if ev.side == side::BUY {
                ev.fill_qty_e8
            } else {
                -ev.fill_qty_e8
            };
        }
        if self.outstanding != Some(ev.intent_seq) {
            return; // an earlier incarnation's intent, or a CANCEL's answer
        }
        let over = match ev.kind {
            // Not placed: the reason is in `ev.reason` (Execution's IntentRefusal or
            // BlockReason code); a real strategy would log or back off here.
            iek::REFUSED | iek::BLOCKED | iek::DROPPED => true,
            // Filled, cancelled, rejected, or GONE: Execution restarted and the venue no
            // longer had it (filled or cancelled meanwhile; Execution's position carries any
            // fill it missed). SENT, ACCEPTED, OPEN, a partial fill: still working.
            k => iek::ends_order(k),
        };
        if over {
            self.outstanding = None;
        }
    }

    /// Execution's answers waiting on the ring, at most a batch.
    fn drain_answers(&mut self) -> usize {
        let mut work = 0;
        for _ in 0..BATCH {
            match self.answers.poll() {
                Recv::Msg { msg, .. } => {
                    work += 1;
                    self.counters.msgs_in += 1;
                    self.on_answer(&msg);
                }
                Recv::Overrun { lost } => {
                    // Answers lost: what is working is unknown now; Execution cancels every
                    // order at 200 ms, so wait for nothing and start afresh.
                    self.counters.errors += lost;
                    self.outstanding = None;
                }
                Recv::Empty => break,
            }
        }
        work
    }

    /// Whether a new order on `order_side` keeps the position within the limit.
    fn within_limit(&self, order_side: u8) -> bool {
        let max_e8 = self.cfg.max_position_lots * self.cfg.qty_e8;
        if order_side == side::BUY {
            self.position_e8 + self.cfg.qty_e8 <= max_e8
        } else {
            self.position_e8 - self.cfg.qty_e8 >= -max_e8
        }
    }

    /// The decision, separate from I/O: given a trade price, is there an order to send?
    fn on_trade(&mut self, price_e8: i64) -> Option<u8> {
        let anchor = *self.anchor_e8.get_or_insert(price_e8);
        let moved_ticks = (price_e8 - anchor) / self.cfg.tick_e8.max(1);
        if moved_ticks.abs() < self.cfg.threshold_ticks {
            return None;
        }
        self.anchor_e8 = Some(price_e8);
        Some(if moved_ticks > 0 {
            side::BUY
        } else {
            side::SELL
        })
    }
}

impl Actor for Momentum {
    fn poll(&mut self, now_ns: u64) -> usize {
        // Answers first, so a decision below knows what is still working.
        let mut work = self.drain_answers();
        for _ in 0..BATCH {
            match self.md.poll() {
                Recv::Msg { msg, .. } => {
                    work += 1;
                    self.counters.msgs_in += 1;
                    if msg.kind == md_kind::BOOK
                        && msg.book.bid_levels > 0
                        && msg.book.ask_levels > 0
                    {
                        self.bid_e8 = msg.book.bids[0].price_e8;
                        self.ask_e8 = msg.book.asks[0].price_e8;
                    }
                    if msg.kind != md_kind::TRADE {
                        continue;
                    }
                    let Some(order_side) = self.on_trade(msg.trade.price_e8) else {
                        continue;
                    };
                    if self.outstanding.is_some()
                        && now_ns.saturating_sub(self.outstanding_since_ns)
                            < self.cfg.answer_timeout_ms * 1_000_000
                    {
                        continue;
                    }
                    if !self.within_limit(order_side) {
                        continue;
                    }
                    // Passive: join our side of the touch (Execution refuses a price that
                    // would cross it).
                    let price_e8 = if order_side == side::BUY {
                        self.bid_e8
                    } else {
                        self.ask_e8
                    };
                    if price_e8 <= 0 {
                        continue;
                    }
                    self.seq += 1;
                    let mut stamps = msg.stamps;
                    stamps.publish_ns = now_ns;
                    let intent = OrderIntent {
                        seq: self.seq,
                        stamps,
                        price_e8,
                        qty_e8: self.cfg.qty_e8,
                        instrument_id: self.cfg.instrument_id,
                        action: intent_action::NEW,
                        side: order_side,
                        order_type: order_type::LIMIT,
                        tif: tif::DAY,
                        ..Default::default()
                    };
                    // A full ring means Execution is behind: drop the idea rather than
                    // block (a stale momentum signal is worth nothing), and count it.
                    match self.intents.try_push(&intent) {
                        Ok(_) => {
                            self.outstanding = Some(self.seq);
                            self.outstanding_since_ns = now_ns;
                            self.counters.msgs_out += 1;
                            // Wake the parked readers of intent.ring (a fence and a load if none).
                            self.control.notify(topic::INTENT);
                        }
                        Err(_) => self.counters.errors += 1,
                    }
                }
                Recv::Overrun { lost } => {
                    // We fell behind the feed: forget the anchor, it is stale.
                    self.counters.errors += lost;
                    self.anchor_e8 = None;
                }
                Recv::Empty => break,
            }
        }
        work
    }

    /// Halted: keep reading the answers (the fills of orders Execution is cancelling still
    /// count in the position), send nothing.
    fn poll_halted(&mut self, _now_ns: u64) -> usize {
        self.drain_answers()
    }

    fn on_kill(&mut self, _now_ns: u64) {
        // Nothing to cancel here: Execution owns the orders and cancels them all. Forget the
        // move in progress so nothing stale fires after a re-arm.
        self.anchor_e8 = None;
    }

    fn counters(&self) -> Option<ActorCounters> {
        Some(self.counters)
    }

    /// Feed's market data and Execution's answers wake this actor when it is parked (idle
    /// `Backoff`), so a trade is acted on at once rather than after the back-off sleep.
    fn wake_topics(&self) -> u32 {
        topic::MD | topic::INTENT_EVENTS
    }
}

fn main() -> ExitCode {
    // Start from the `supervisor` binary's kinds (the engine's actors, the UI, the venue
    // simulator), add ours, and hand the registry to the standard command line: `start`,
    // `status`, `kill`, `restart momo`, `doctor`... all work as with the stock binary, and a
    // topology may hold the whole engine and the strategy together.
    let mut registry = supervisor::builtin::registry();
    registry
        .register_actor(
            "momentum",
            "example strategy: trades → intents on a price move",
            |env: &ActorEnv| Ok(Box::new(Momentum::new(env)?) as Box<dyn Actor>),
        )
        .expect("`momentum` is a new kind");
    run_cli(registry)
}
