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
use runtime::msg::{intent_action, md_kind, order_type, side, tif, OrderIntent, PRICE_SCALE};
use runtime::ring::{Producer, Recv, Subscriber};
use runtime::rings::{IntentRing, MdRing, INTENT_RING, MD_RING};
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
    /// This actor's cursor on `md.ring`: every reader has its own. 0-4 belong to the engine's
    /// actors (Oracle, Sonar, Execution, UI, Sentinel); user actors take 5-15, one each.
    md_cursor: usize,
}

impl Default for MomentumConfig {
    fn default() -> Self {
        MomentumConfig {
            threshold_ticks: 5,
            tick_e8: PRICE_SCALE / 10, // ₹0.10, the default engine's NIFTY future
            qty_e8: 75 * PRICE_SCALE,  // one lot (at most Execution's order_qty_e8)
            instrument_id: 1,
            md_cursor: 5,
        }
    }
}

/// The strategy's state: a pure function of the trades it has seen.
struct Momentum {
    cfg: MomentumConfig,
    md: Subscriber<runtime::msg::MdEvent, 65_536>,
    intents: Producer<OrderIntent, 4_096>,
    /// To ring Execution's doorbell after pushing an intent (it may be parked).
    control: Arc<ControlBlock>,
    /// Price at which the current move started.
    anchor_e8: Option<i64>,
    /// The latest touch (0 = none yet): the price a passive order joins.
    bid_e8: i64,
    ask_e8: i64,
    seq: u64,
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
        Ok(Momentum {
            cfg,
            md,
            intents,
            control: env.control.clone(),
            anchor_e8: None,
            bid_e8: 0,
            ask_e8: 0,
            seq: 0,
            counters: ActorCounters::default(),
        })
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
        let mut work = 0;
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
                    if let Some(order_side) = self.on_trade(msg.trade.price_e8) {
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
                                self.counters.msgs_out += 1;
                                // Wake the parked readers of intent.ring (a fence and a load if none).
                                self.control.notify(topic::INTENT);
                            }
                            Err(_) => self.counters.errors += 1,
                        }
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

    fn on_kill(&mut self, _now_ns: u64) {
        // Nothing to cancel here: Execution owns the orders. Forget the move in progress so
        // nothing stale fires after a re-arm.
        self.anchor_e8 = None;
    }

    fn counters(&self) -> Option<ActorCounters> {
        Some(self.counters)
    }

    /// Feed's market data wakes this actor when it is parked (idle `Backoff`), so a trade is
    /// acted on at once rather than after the back-off sleep.
    fn wake_topics(&self) -> u32 {
        topic::MD
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
