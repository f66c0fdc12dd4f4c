//! The live wrappers wired as the engine wires them: one thread per actor running the real
//! `ActorLoop`, real rings in a temporary shared-memory directory, a real control block and
//! histogram region, against the real venue server (in-process, loopback) with a fast seeded
//! synthetic market. Checks: market data flows Feed → Oracle → Execution, orders reach the venue
//! and their acknowledgements come back, Sentinel times round trips; the kill switch cancels
//! every open order and nothing new leaves afterwards (counted at the venue); an Execution
//! restarted from its journal reconciles and never reuses a client order id, and takes the
//! position the venue reports (fills it never journaled) and tells Sentinel.
//!
//! Runs under a watchdog: a hang fails after 120 s instead of blocking CI.

use actors::config::StrategyConfig;
use actors::execution::journal::Journal;
use actors::live::{self, ExecutionActor, LiveEnv};
use runtime::actor::{ActorLoop, RunOutcome};
use runtime::clock::MonotonicClock;
use runtime::control::{actor_state, ActorSpec, ControlBlock};
use runtime::hist::{stage, HistogramReader, HistogramRegion};
use runtime::idle::IdleStrategy;
use runtime::shm::ShmDir;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use venue::config::{nse_equity, MarketFile, SynthFile, VenueConfig};
use venue::server;

const FEED: usize = 0;
const ORACLE: usize = 1;
const SONAR: usize = 2;
const EXECUTION: usize = 3;
const SENTINEL: usize = 4;
const KINDS: [&str; 5] = ["feed", "oracle", "sonar", "execution", "sentinel"];

fn watchdog<F: FnOnce() + Send + 'static>(limit: Duration, f: F) {
    let (tx, rx) = mpsc::channel();
    let h = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => h.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(e) = h.join() {
                std::panic::resume_unwind(e)
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("watchdog: test hung for {limit:?}"),
    }
}

/// Poll `cond` until it holds; fail with `what` after `limit`.
fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(
            t0.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn repo_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A strategy that trades on the synthetic market: tick 0.10 (the venue's instrument at
/// ₹1,400), a large alpha assumption so NEV is positive after NSE costs, a permissive entropy
/// regime, 5 ms order deadlines, an RTT lockdown far above a loaded test box's loopback RTT, OTR budget out of reach.
fn strategy() -> StrategyConfig {
    let mut s = StrategyConfig::default();
    let tick = 10_000_000;
    s.sonar.tick_size_e8 = tick;
    s.sonar.window = 32;
    s.sonar.min_samples = 8;
    s.sonar.attack_below = 0.98;
    s.sonar.veto_above = 0.995;
    s.sonar.min_dwell_ns = 10_000_000;
    s.sonar.max_spread_ticks = 50;
    s.sonar.stale_after_ns = 2_000_000_000;
    s.execution.tick_size_e8 = tick;
    s.execution.instrument_id = 1;
    s.execution.min_strength = 0.05;
    // A short deadline: on a 2,000 events/s market the signal turns against most orders
    // within 200 ms; at 5 ms the deadline cancel (and its lateness) is the common case.
    s.execution.cancel_after_ns = 5_000_000;
    s.execution.nev.alpha_ticks_at_full_strength = 500.0;
    s.execution.nev.fill_prob_prior = 0.5;
    s.execution.rate.per_second = 200;
    s.execution.rate.per_minute = 0;
    s.execution.rate.per_day = 0;
    s.execution.otr_min_orders = 1_000_000_000;
    s.execution.max_position_e8 = 1_000_000 * 100_000_000;
    s.sentinel.rtt_lockdown_ns = 5_000_000_000;
    s.sentinel.ack_give_up_ns = 10_000_000_000;
    s.sentinel.otr_min_orders = 1_000_000_000;
    s.sentinel.heartbeat_stall_ns = 60_000_000_000;
    s.sentinel.position_limit_e8 = 1_000_000 * 100_000_000;
    s.sentinel.notional_limit_e8 = i64::MAX / 4;
    s.sentinel.daily_loss_limit_e8 = i64::MAX / 4;
    s.validate().expect("test strategy is valid");
    s
}

fn venue_config() -> VenueConfig {
    let synth = SynthFile {
        events_per_second: 2_000.0,
        ..SynthFile::default()
    };
    let mut cfg = VenueConfig::for_tests(
        vec![nse_equity(1, "RELI", "1400.00").unwrap()],
        MarketFile::Synthetic(synth),
    );
    cfg.rate_limits.per_second = 100_000;
    cfg.rate_limits.per_minute = 1_000_000;
    cfg.rate_limits.per_day = 10_000_000;
    cfg
}

struct Engine {
    _tmp: tempfile::TempDir,
    dir: ShmDir,
    control: Arc<ControlBlock>,
    hist: Arc<HistogramRegion>,
    journal: PathBuf,
    strategy: StrategyConfig,
    venue: server::ServerHandle,
    threads: Vec<Option<JoinHandle<RunOutcome>>>,
}

impl Engine {
    fn start(strategy: StrategyConfig) -> Engine {
        let tmp = tempfile::tempdir().unwrap();
        let dir = ShmDir::create(Some(tmp.path()), "live-test").unwrap();
        let specs: Vec<ActorSpec> = KINDS.iter().map(|k| ActorSpec::new(k, k, None)).collect();
        let control = Arc::new(ControlBlock::create(&dir, "live-test", &specs).unwrap());
        let hist = HistogramRegion::create(&dir).unwrap();
        runtime::rings::create_all(&dir).unwrap();
        let venue = server::start(venue_config()).unwrap();
        let journal = tmp.path().join("orders.journal");
        let mut e = Engine {
            _tmp: tmp,
            dir,
            control,
            hist,
            journal,
            strategy,
            venue,
            threads: Vec::new(),
        };
        for i in 0..KINDS.len() {
            let h = e.spawn(i);
            e.threads.push(Some(h));
        }
        e
    }

    fn env(&self, slot: usize) -> LiveEnv {
        let mut env = LiveEnv::new(
            self.dir.clone(),
            self.control.clone(),
            self.hist.clone(),
            slot,
            self.strategy.clone(),
            &repo_root(),
        );
        env.venue_md_addr = Some(self.venue.market_data_addr());
        env.venue_order_addr = Some(self.venue.order_entry_addr());
        env.journal_path = self.journal.clone();
        env.instrument_id = 1;
        env.cost_date = Some(actors::execution::costs::Date::parse("2026-04-01").unwrap());
        env
    }

    fn spawn(&self, slot: usize) -> JoinHandle<RunOutcome> {
        let env = self.env(slot);
        let control = self.control.clone();
        control.slot(slot).begin_incarnation(
            std::process::id(),
            runtime::clock::monotonic_ns(),
            false,
        );
        std::thread::Builder::new()
            .name(KINDS[slot].into())
            .spawn(move || {
                let mut actor = live::build(KINDS[slot], env).expect("actor builds");
                let idle = IdleStrategy::Backoff {
                    spin_iterations: 10,
                    yield_iterations: 10,
                    min_sleep_us: 50,
                    max_sleep_us: 500,
                };
                let mut lp = ActorLoop::new(control, slot, MonotonicClock, idle).unwrap();
                lp.run(actor.as_mut(), None)
            })
            .unwrap()
    }

    fn stop_actor(&mut self, slot: usize) {
        self.control.slot(slot).request_stop();
        let h = self.threads[slot].take().expect("running");
        assert_eq!(h.join().unwrap(), RunOutcome::Stopped);
    }

    fn exec(&self) -> runtime::telemetry::ExecutionTelemetry {
        self.control.execution_telemetry().read().unwrap()
    }

    fn stop_all(mut self) {
        for slot in (0..KINDS.len()).rev() {
            if self.threads[slot].is_some() {
                self.stop_actor(slot);
            }
        }
    }
}

fn hist_count(hist: &Arc<HistogramRegion>, st: u32) -> u64 {
    HistogramReader::new(hist.clone())
        .read(st)
        .map(|h| h.len())
        .unwrap_or(0)
}

fn journal_next_cid(path: &Path) -> u64 {
    Journal::recover(path).unwrap().next_client_order_id
}

#[test]
fn live_chain_kill_switch_and_restart() {
    watchdog(Duration::from_secs(120), || {
        let mut e = Engine::start(strategy());
        let limit = Duration::from_secs(30);

        // 1. The chain works: events flow, orders reach the venue and are acknowledged.
        wait_until(limit, "orders sent and acknowledged", || {
            let s = e.control.sentinel_telemetry().read().unwrap();
            e.exec().orders_sent >= 5 && s.rtt_samples >= 5
        });
        let feed = e.control.feed_telemetry().read().unwrap();
        assert_eq!(feed.connected, 1);
        assert!(feed.events > 0 && feed.book_updates > 0, "{feed:?}");
        let oracle = e.control.oracle_telemetry().read().unwrap();
        assert!(oracle.signals_sent > 0, "{oracle:?}");
        assert!(e.venue.counters().requests.load(Ordering::Relaxed) >= 5);
        // Each stage published its histogram: tick-to-order by Execution, the round trip by
        // Sentinel, the hops by Oracle and Execution.
        wait_until(limit, "histograms published", || {
            hist_count(&e.hist, stage::TICK_TO_ORDER) >= 5
                && hist_count(&e.hist, stage::RTT) >= 5
                && hist_count(&e.hist, stage::HOP_FEED_ORACLE) > 0
                && hist_count(&e.hist, stage::HOP_ORACLE_EXECUTION) > 0
        });
        // Unfilled orders are cancelled at their 200 ms deadline; the lateness is recorded.
        wait_until(limit, "deadline cancels timed", || {
            e.exec().cancels_on_deadline > 0 && hist_count(&e.hist, stage::CANCEL_LATENESS) > 0
        });

        // 2. Kill switch: every open order cancelled, then nothing new.
        assert!(e.control.kill("test", "live kill test"));
        wait_until(limit, "Execution halted with no open order", || {
            e.control.slot(EXECUTION).state() == actor_state::HALTED && {
                let x = e.exec();
                x.open_orders == 0
            }
        });
        // The venue received exactly what Execution sent (new + cancel + modify).
        let sent = |x: &runtime::telemetry::ExecutionTelemetry| {
            x.orders_sent + x.cancels_sent + x.modifies_sent
        };
        wait_until(limit, "venue count equal to Execution's", || {
            let x = e.exec();
            e.venue.counters().requests.load(Ordering::Relaxed) == sent(&x)
        });
        let at_kill = e.exec();
        let venue_at_kill = e.venue.counters().requests.load(Ordering::Relaxed);
        let signals_at_kill = e.control.slot(EXECUTION).counters().msgs_in;
        // Market data and signals keep flowing into the halted Execution...
        wait_until(limit, "signals consumed while halted", || {
            e.control.slot(EXECUTION).counters().msgs_in > signals_at_kill + 20
        });
        // ...and none of them became a request at the venue.
        let after = e.exec();
        assert_eq!(
            after.orders_sent, at_kill.orders_sent,
            "no new order after the kill"
        );
        assert_eq!(after.modifies_sent, at_kill.modifies_sent);
        assert_eq!(
            e.venue.counters().requests.load(Ordering::Relaxed),
            venue_at_kill,
            "the venue saw nothing after the kill's cancels"
        );

        // 3. Re-arm, trade again, then restart Execution from its journal.
        assert!(e.control.rearm("test"));
        let before_restart = e.exec().orders_sent;
        wait_until(limit, "orders after the re-arm", || {
            e.exec().orders_sent >= before_restart + 3
        });
        e.stop_actor(EXECUTION);
        let next_cid_before = journal_next_cid(&e.journal);
        assert!(next_cid_before > 1);
        // The restarted actor restores, waits for its Logon (the venue releases the old
        // session's account when it sees the socket close), reconciles, and quotes again.
        let env = e.env(EXECUTION);
        let control = e.control.clone();
        control.slot(EXECUTION).begin_incarnation(
            std::process::id(),
            runtime::clock::monotonic_ns(),
            true,
        );
        let (tx, rx) = mpsc::channel();
        let h = std::thread::spawn(move || {
            let mut a = ExecutionActor::new(env).expect("restarts from its journal");
            assert!(
                a.awaiting_reconcile(),
                "a journal with history needs reconciling"
            );
            let mut lp = ActorLoop::new(
                control.clone(),
                EXECUTION,
                MonotonicClock,
                IdleStrategy::Backoff {
                    spin_iterations: 10,
                    yield_iterations: 10,
                    min_sleep_us: 50,
                    max_sleep_us: 500,
                },
            )
            .unwrap();
            let out = lp.run(&mut a, None);
            let m = a.execution().metrics();
            tx.send((a.reconciliations(), m.orders_sent, m.orders_rejected))
                .unwrap();
            out
        });
        // The new incarnation's telemetry counts from zero; only its own publications count.
        let restarted_ns = runtime::clock::monotonic_ns();
        wait_until(limit, "orders from the restarted Execution", || {
            let x = e.exec();
            x.updated_ns > restarted_ns && x.orders_sent >= 3
        });
        e.control.slot(EXECUTION).request_stop();
        assert_eq!(h.join().unwrap(), RunOutcome::Stopped);
        let (reconciliations, sent_after, rejected_after) = rx.recv().unwrap();
        assert_eq!(reconciliations, 1, "one Logon, one reconciliation");
        assert!(sent_after >= 3);
        // New ids continue after the journal's: exactly `sent_after` more were used.
        assert_eq!(
            journal_next_cid(&e.journal),
            next_cid_before + sent_after,
            "client order ids continue after the journal's last"
        );
        assert_eq!(
            rejected_after, 0,
            "the venue refused nothing (no duplicate id)"
        );
        e.threads[EXECUTION] = None;
        let _ = (FEED, ORACLE, SONAR, SENTINEL);
        e.stop_all();
    });
}

#[test]
fn live_lockdown_on_slow_venue_and_lift_when_healthy() {
    watchdog(Duration::from_secs(120), || {
        let mut s = strategy();
        // The default 20 ms threshold (co-location) and a short healthy period.
        s.sentinel.rtt_lockdown_ns = 20_000_000;
        s.sentinel.healthy_period_ns = 500_000_000;
        let e = Engine::start(s);
        let limit = Duration::from_secs(30);
        wait_until(limit, "orders acknowledged", || {
            e.control.sentinel_telemetry().read().unwrap().rtt_samples >= 3
        });
        // 30 ms each way: every round trip is at least 60 ms.
        e.venue.set_latency(30_000_000, 0);
        wait_until(limit, "Sentinel's lockdown in the control block", || {
            e.control.lockdown().0
        });
        let (_, reason, _) = e.control.lockdown();
        assert!(
            reason == runtime::telemetry::lockdown_reason::RTT_OVER_THRESHOLD
                || reason == runtime::telemetry::lockdown_reason::ACK_TIMEOUT,
            "reason {reason}"
        );
        // Execution saw it: resting orders cancelled, new ones refused.
        wait_until(limit, "Execution blocked by the lockdown", || {
            let x = e.exec();
            x.blocked_by_lockdown > 0 && x.open_orders == 0
        });
        // A fast venue again: the lockdown lifts after the healthy period.
        e.venue.set_latency(0, 0);
        wait_until(limit, "lockdown lifted", || !e.control.lockdown().0);
        e.stop_all();
    });
}

/// Sentinel restarted three times while the engine trades: each incarnation carries on from
/// the risk state its predecessor saved in the control block, so once trading stops its
/// position and OTR equal Execution's (which never restarted) instead of counting only the
/// fills since its own start.
#[test]
fn live_sentinel_restarts_carry_its_risk_state_on() {
    watchdog(Duration::from_secs(180), || {
        let mut e = Engine::start(strategy());
        let limit = Duration::from_secs(60);
        let sentinel = |e: &Engine| e.control.sentinel_telemetry().read().unwrap();
        for round in 0..3 {
            // Fills in this incarnation's lifetime, so that a restart that forgot them shows.
            let fills = e.exec().fills;
            wait_until(limit, "a fill before the restart", || {
                e.exec().fills > fills
            });
            e.stop_actor(SENTINEL);
            let restarted_ns = runtime::clock::monotonic_ns();
            e.threads[SENTINEL] = Some(e.spawn(SENTINEL));
            wait_until(limit, "the restarted Sentinel's telemetry", || {
                sentinel(&e).updated_ns > restarted_ns
            });
            println!("restart {round}: after {} fills", e.exec().fills);
        }
        let fills = e.exec().fills;
        wait_until(limit, "a fill after the last restart", || {
            e.exec().fills > fills
        });
        // Stop trading: every open order cancelled, nothing new.
        assert!(e.control.kill("test", "sentinel restart test"));
        wait_until(limit, "Execution halted with no open order", || {
            e.control.slot(EXECUTION).state() == actor_state::HALTED && e.exec().open_orders == 0
        });
        let otr_raw = |x: &runtime::telemetry::ExecutionTelemetry| {
            (x.orders_sent + x.cancels_sent + x.modifies_sent) as f64 / x.fills.max(1) as f64
        };
        // Sentinel publishes every 50 ms; the cancels' reports may still be on the ring.
        let t0 = Instant::now();
        let (x, s) = loop {
            let (x, s) = (e.exec(), sentinel(&e));
            let agreed = s.position_e8 == x.position_e8 && s.otr_raw == otr_raw(&x);
            if agreed || t0.elapsed() > limit {
                break (x, s);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(
            (s.position_e8, s.otr_raw),
            (x.position_e8, otr_raw(&x)),
            "Sentinel's position and OTR vs Execution's ({} sent, {} cancels, {} modifies, \
             {} fills)",
            x.orders_sent,
            x.cancels_sent,
            x.modifies_sent,
            x.fills
        );
        e.stop_all();
    });
}

/// Fills the journal never saw (here: made on Execution's account while Execution was down,
/// which is what a crash between the venue's Fill and the journal leaves): the restarted
/// Execution takes the position the venue reports after Logon, journals the correction, and
/// Sentinel gets the same figure. The kill switch stays set throughout, so no order of
/// Execution's moves the position meanwhile.
#[test]
fn live_a_restarted_execution_takes_the_fills_it_never_saw_from_the_venue() {
    use runtime::msg::{order_type, side, tif};
    use venue::client::{ClientConfig, OrderClient};
    use venue::protocol::{Frame, Logon, NewOrderMsg};
    watchdog(Duration::from_secs(120), || {
        let mut e = Engine::start(strategy());
        let limit = Duration::from_secs(30);
        let sentinel = |e: &Engine| e.control.sentinel_telemetry().read().unwrap();
        wait_until(limit, "orders sent", || e.exec().orders_sent >= 3);
        assert!(e.control.kill("test", "fills behind Execution's back"));
        wait_until(limit, "Execution halted with no open order", || {
            e.control.slot(EXECUTION).state() == actor_state::HALTED && e.exec().open_orders == 0
        });
        e.stop_actor(EXECUTION);
        let journaled_e8 = Journal::recover(&e.journal).unwrap().position_e8;
        wait_until(limit, "Sentinel to agree with the journal", || {
            sentinel(&e).position_e8 == journaled_e8
        });

        // Execution's account buys 3 at market while Execution is down (logon retried until
        // the venue has closed Execution's session).
        let env = e.env(EXECUTION);
        let logon = Logon {
            account: env.account,
            heartbeat_ms: 0,
            stp_id: env.stp_id,
            name: [0; 16],
        };
        let t0 = Instant::now();
        let mut c = loop {
            match OrderClient::connect(e.venue.order_entry_addr(), logon, ClientConfig::default()) {
                Ok(c) => break c,
                Err(err) => {
                    assert!(t0.elapsed() < limit, "log on as Execution's account: {err}");
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
        };
        assert_eq!(
            c.logon_positions()[0].position_e8,
            journaled_e8,
            "the venue's position is the journal's before the fills behind its back"
        );
        c.send_new_order(NewOrderMsg {
            client_order_id: 1 << 40,
            instrument_id: 1,
            side: side::BUY,
            order_type: order_type::MARKET,
            tif: tif::IOC,
            price_e8: 0,
            qty_e8: 3 * 100_000_000,
            send_ns: 0,
        })
        .unwrap();
        // The order ends with a fill leaving nothing, or with its remainder cancelled.
        let (mut bought_e8, mut done) = (0i64, false);
        while !done {
            assert!(t0.elapsed() < limit, "the market order never ended");
            c.poll(64, |_, f| match f {
                Frame::Fill(m) => {
                    bought_e8 += m.qty_e8;
                    done |= m.leaves_qty_e8 == 0;
                }
                Frame::Cancelled(_) | Frame::Rejected(_) => done = true,
                _ => {}
            })
            .unwrap();
            std::thread::sleep(Duration::from_micros(200));
        }
        assert!(bought_e8 > 0, "the synthetic book had no offer to buy from");
        drop(c);
        let venue_e8 = journaled_e8 + bought_e8;

        // Restarted (still killed: it sends nothing), it logs on, reconciles, and takes the
        // venue's position; Sentinel follows; the journal keeps it for the next restart.
        let restarted_ns = runtime::clock::monotonic_ns();
        e.threads[EXECUTION] = Some(e.spawn(EXECUTION));
        wait_until(
            limit,
            "the restarted Execution to take the venue's position",
            || {
                let x = e.exec();
                x.updated_ns > restarted_ns && x.position_e8 == venue_e8
            },
        );
        wait_until(limit, "Sentinel to take the venue's position", || {
            sentinel(&e).position_e8 == venue_e8
        });
        let orders_after = e.venue.counters().requests.load(Ordering::Relaxed);
        wait_until(limit, "the correction in the journal", || {
            Journal::recover(&e.journal).unwrap().position_e8 == venue_e8
        });
        assert_eq!(e.exec().orders_sent, 0, "a killed Execution sent an order");
        assert_eq!(
            e.venue.counters().requests.load(Ordering::Relaxed),
            orders_after
        );
        e.stop_all();
    });
}

/// A user strategy's intents on `intent.ring` (what `supervisor/examples/custom_actor.rs`
/// writes) become orders at the venue through Execution's gates, are journaled and reported to
/// Sentinel, and stop at the kill switch. Execution's own quoting is switched off (no NEV is
/// ever enough), so every order at the venue is an intent's. The strategy learns, on
/// `intent_events.ring`, each order's client order id and life, tagged with its intent.
#[test]
fn live_intents_of_a_user_strategy_reach_the_venue_until_the_kill_switch() {
    use runtime::msg::{
        intent_action, intent_event_kind as iek, md_kind, order_event_kind as oek, order_type,
        side, tif, IntentEvent, OrderIntent,
    };
    use runtime::ring::Recv;
    use runtime::rings::{
        IntentEventRing, IntentRing, MdRing, INTENT_EVENTS_RING, INTENT_RING, MD_RING,
    };
    watchdog(Duration::from_secs(120), || {
        let mut s = strategy();
        s.execution.nev.min_nev_inr = 1e12;
        let e = Engine::start(s);
        let limit = Duration::from_secs(30);
        let mut md = MdRing::attach(&e.dir, MD_RING)
            .unwrap()
            .subscribe_latest(5)
            .unwrap();
        let mut intents = IntentRing::attach(&e.dir, INTENT_RING)
            .unwrap()
            .producer()
            .unwrap();
        let mut answers = IntentEventRing::attach(&e.dir, INTENT_EVENTS_RING)
            .unwrap()
            .subscribe(5)
            .unwrap();
        let mut events: Vec<IntentEvent> = vec![];
        let mut drain = |events: &mut Vec<IntentEvent>| loop {
            match answers.poll() {
                Recv::Msg { msg, .. } => events.push(msg),
                Recv::Overrun { lost } => panic!("{lost} intent events lost"),
                Recv::Empty => break,
            }
        };
        let tick = 10_000_000;
        let mut bid_e8 = 0;
        let mut seq = 0;
        // One passive buy, two ticks under the latest bid, every 20 ms.
        let mut push = |md: &mut runtime::ring::Subscriber<_, 65_536>| {
            while let Recv::Msg { msg, .. } = md.poll() {
                let msg: runtime::msg::MdEvent = msg;
                if msg.kind == md_kind::BOOK && msg.book.bid_levels > 0 {
                    bid_e8 = msg.book.bids[0].price_e8;
                }
            }
            if bid_e8 > 0 {
                seq += 1;
                let now = runtime::clock::monotonic_ns();
                let it = OrderIntent {
                    seq,
                    stamps: runtime::msg::Stamps {
                        recv_ns: now,
                        publish_ns: now,
                        ..Default::default()
                    },
                    price_e8: bid_e8 - 2 * tick,
                    qty_e8: 100_000_000,
                    instrument_id: 1,
                    action: intent_action::NEW,
                    side: side::BUY,
                    order_type: order_type::LIMIT,
                    tif: tif::DAY,
                    ..Default::default()
                };
                intents.try_push(&it).expect("Execution keeps up");
                e.control.notify(runtime::control::topic::INTENT);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        wait_until(limit, "three intents placed", || {
            push(&mut md);
            e.exec().intents_placed >= 3
        });
        let x = e.exec();
        assert_eq!(
            x.orders_sent, x.intents_placed,
            "only intents became orders"
        );
        assert_eq!(x.intents_refused, 0, "{x:?}");
        wait_until(limit, "the venue saw them and Sentinel timed them", || {
            e.venue.counters().requests.load(Ordering::Relaxed) >= 3
                && e.control.sentinel_telemetry().read().unwrap().rtt_samples >= 3
        });
        // Every order's intent reached the journal before its bytes left: the journal has used
        // at least as many client order ids as Execution reports sent.
        let journal = Journal::recover(&e.journal).unwrap();
        assert!(
            journal.next_client_order_id > x.orders_sent,
            "journal next id {} for {} orders sent",
            journal.next_client_order_id,
            x.orders_sent
        );

        // The kill switch: intents are still read, none becomes an order.
        assert!(e.control.kill("test", "intent kill test"));
        wait_until(limit, "Execution halted with no open order", || {
            e.control.slot(EXECUTION).state() == actor_state::HALTED && e.exec().open_orders == 0
        });
        let sent = |x: &runtime::telemetry::ExecutionTelemetry| {
            x.orders_sent + x.cancels_sent + x.modifies_sent
        };
        wait_until(limit, "venue count equal to Execution's", || {
            e.venue.counters().requests.load(Ordering::Relaxed) == sent(&e.exec())
        });
        // Telemetry published after the halt (it is published every few ms, so an older copy
        // may not count the last decisions taken before the kill).
        let halted_ns = runtime::clock::monotonic_ns();
        wait_until(limit, "Execution's telemetry after the halt", || {
            e.exec().updated_ns > halted_ns
        });
        let at_kill = e.exec();
        let venue_at_kill = e.venue.counters().requests.load(Ordering::Relaxed);
        for _ in 0..10 {
            push(&mut md);
        }
        wait_until(
            limit,
            "the halted Execution to refuse ten intents for the kill",
            || {
                let x = e.exec();
                x.intents == at_kill.intents + 10
                    && x.blocked_by_kill == at_kill.blocked_by_kill + 10
            },
        );
        assert_eq!(
            e.exec().orders_sent,
            at_kill.orders_sent,
            "no order after the kill"
        );
        // What the strategy learnt: every placed order's id and life, tagged with its intent,
        // each ended (filled or cancelled: none is open), and the ten refusals for the kill.
        wait_until(
            limit,
            "the answers to the ten intents after the kill",
            || {
                drain(&mut events);
                events.iter().filter(|v| v.kind == iek::BLOCKED).count() >= 10
            },
        );
        // Their seq is their position on the ring: read from the start, 0, 1, 2...
        assert!(events.iter().enumerate().all(|(i, v)| v.seq == i as u64));
        let pushed = seq;
        let sent: Vec<&IntentEvent> = events.iter().filter(|v| v.kind == oek::SENT).collect();
        assert_eq!(sent.len() as u64, at_kill.orders_sent, "one SENT per order");
        for s in &sent {
            assert!(s.intent_seq >= 1 && s.intent_seq <= pushed, "{s:?}");
            let life: Vec<&IntentEvent> = events
                .iter()
                .filter(|v| v.client_order_id == s.client_order_id && v.kind < 64)
                .collect();
            assert!(
                life.iter().all(|v| v.intent_seq == s.intent_seq),
                "one order, one intent: {life:?}"
            );
            assert_eq!(life[0].kind, oek::SENT, "{life:?}");
            let last = life.last().unwrap();
            assert!(
                last.kind == oek::CANCELLED || last.kind == oek::FILLED,
                "order {} ended with {}: {life:?}",
                s.client_order_id,
                last.kind
            );
        }
        let killed = actors::execution::BlockReason::Killed as u16;
        let for_kill: Vec<u64> = events
            .iter()
            .filter(|v| v.kind == iek::BLOCKED && v.reason == killed)
            .map(|v| v.intent_seq)
            .collect();
        assert_eq!(
            for_kill,
            (pushed - 9..=pushed).collect::<Vec<_>>(),
            "the last ten intents, refused for the kill"
        );
        assert!(events.iter().all(|v| v.kind != iek::REFUSED));
        // Every intent got exactly one answer: its order's SENT, or why there is none (a gate;
        // Sonar's regime stops most of them here).
        let mut answers: Vec<u64> = events
            .iter()
            .filter(|v| {
                matches!(
                    v.kind,
                    oek::SENT | iek::BLOCKED | iek::REFUSED | iek::DROPPED
                )
            })
            .map(|v| v.intent_seq)
            .collect();
        answers.sort_unstable();
        assert_eq!(answers, (1..=pushed).collect::<Vec<_>>());
        assert_eq!(
            e.venue.counters().requests.load(Ordering::Relaxed),
            venue_at_kill,
            "the venue saw nothing after the kill's cancels"
        );
        e.stop_all();
    });
}
