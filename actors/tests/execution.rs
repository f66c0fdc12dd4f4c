//! Execution on hand-built scenarios: NEV, every gate on its own, the 200 ms
//! cancel, rate limits, modification cap, ladder, OTR budget, kill, lockdown,
//! fills and PnL after costs. Expected values are worked out in the comments.
mod common;
use actors::execution::costs::{CostSchedule, CostTable, Date, Segment, TradeSide};
use actors::execution::feedback::IntentFeedback;
use actors::execution::journal::{jkind, FsyncPolicy, Journal};
use actors::execution::nev::{self, NevConfig, NevMarket};
use actors::execution::rate::RateConfig;
use actors::execution::{
    BlockReason, ExecAction, ExecActions, Execution, ExecutionConfig, Gates, IntentOutcome,
    IntentRefusal, VenueEvent, VenueOrder, MAX_OPEN_ORDERS,
};
use actors::sonar::{gate_check, Regime};
use common::{e8, touch, trade, MS};
use runtime::msg::{
    intent_action, intent_event_kind as iek, order_event_kind as oek, order_type, side, tif,
    IntentEvent, OrderIntent, Signal, Stamps,
};
use std::path::PathBuf;

fn table() -> CostTable {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/costs"));
    let s = CostSchedule::load_dir(&dir).expect("config/costs");
    s.for_date(Date::parse("2026-04-01").unwrap())
        .unwrap()
        .clone()
}

/// ₹1,000 stock, tick ₹0.05, 1 share per order; alpha 200 ticks at full
/// strength so that a strong signal pays the ~₹1 round-trip costs.
fn cfg() -> ExecutionConfig {
    ExecutionConfig {
        segment: Segment::EquityIntraday,
        tick_size_e8: e8(0.05),
        order_qty_e8: e8(1.0),
        min_strength: 0.3,
        ladder_min_strength: 0.8,
        ladder_max_orders: 3,
        max_position_e8: e8(10.0),
        otr_min_orders: 50,
        nev: NevConfig {
            alpha_ticks_at_full_strength: 200.0,
            fill_prob_prior: 0.5,
            adverse_selection_bp: 0.5,
            ..Default::default()
        },
        ..Default::default()
    }
}

const OPEN: Gates = Gates {
    regime: Regime::Attack,
    gate_check: gate_check::NONE,
    lockdown: false,
};

fn exec(c: ExecutionConfig) -> Execution {
    let mut x = Execution::new(c, table()).unwrap();
    let mut out = ExecActions::new();
    x.on_gates(OPEN, 0, &mut out);
    x
}

fn sig(bid: f64, ask: f64, strength: f64, recv_ns: u64) -> Signal {
    Signal {
        instrument_id: 1,
        best_bid_e8: e8(bid),
        best_ask_e8: e8(ask),
        microprice_e8: (e8(bid) + e8(ask)) / 2,
        strength,
        stamps: Stamps {
            recv_ns,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn sends(out: &ExecActions) -> Vec<(u64, u8, i64, i64)> {
    out.iter()
        .filter_map(|a| match *a {
            ExecAction::SendNew {
                client_order_id,
                side,
                price_e8,
                qty_e8,
            } => Some((client_order_id, side, price_e8, qty_e8)),
            _ => None,
        })
        .collect()
}

fn news(out: &ExecActions) -> Vec<(u64, u8, i64)> {
    sends(out)
        .into_iter()
        .map(|(cid, side, price_e8, _)| (cid, side, price_e8))
        .collect()
}

fn cancels(out: &ExecActions) -> Vec<u64> {
    out.iter()
        .filter_map(|a| match *a {
            ExecAction::SendCancel { client_order_id } => Some(client_order_id),
            _ => None,
        })
        .collect()
}

#[test]
fn nev_worked_example() {
    // Buy 1 share at the bid ₹1,000.00; ask 1,000.10; microprice 1,000.05; strength 0.5;
    // alpha 200 ticks × ₹0.05 = ₹10 at full strength → fair = 1,000.05 + 5 = 1,005.05.
    // Capture = 1,005.05 − 1,000.00 = ₹5.05.
    // Buy side costs at ₹1,000: exchange 0.0297, IPFT 0.001, SEBI 0.001, stamp 0.03,
    //   brokerage min(0.30, 20) = 0.30, GST 18 % × (0.30 + 0.0297 + 0.001) = 0.059526
    //   → 0.421226.
    // Exit sell at ₹1,005.05: STT 0.2512625, exchange 0.029850, IPFT 0.001005,
    //   SEBI 0.001005, brokerage 0.301515, GST 18 % × 0.332370 = 0.059827 → 0.644464.
    // Costs 1.065690; adverse 0.5 bp × ₹1,000 = 0.05; P = 0.5.
    // NEV = 0.5 × (5.05 − 1.065690 − 0.05) = 1.967155.
    let c = NevConfig {
        alpha_ticks_at_full_strength: 200.0,
        adverse_selection_bp: 0.5,
        ..Default::default()
    };
    let m = NevMarket {
        microprice_e8: e8(1_000.05),
        mid_e8: e8(1_000.05),
        strength: 0.5,
        tick_size_e8: e8(0.05),
    };
    let est = nev::estimate(
        &c,
        &table(),
        Segment::EquityIntraday,
        TradeSide::Buy,
        e8(1_000.0),
        e8(1.0),
        &m,
        0.5,
    );
    assert_eq!(est.fair_e8, e8(1_005.05));
    assert!((est.capture_inr - 5.05).abs() < 1e-9);
    assert!((est.costs_inr - 1.065690).abs() < 1e-5, "{}", est.costs_inr);
    assert!((est.adverse_inr - 0.05).abs() < 1e-9);
    assert!((est.nev_inr - 1.967155).abs() < 1e-5, "{}", est.nev_inr);
    // The same signal with 1 tick of alpha: capture 0.10 < costs → negative.
    let weak = NevConfig {
        alpha_ticks_at_full_strength: 1.0,
        ..c
    };
    let est = nev::estimate(
        &weak,
        &table(),
        Segment::EquityIntraday,
        TradeSide::Buy,
        e8(1_000.0),
        e8(1.0),
        &m,
        0.5,
    );
    assert!(est.nev_inr < 0.0);
}

#[test]
fn joins_the_best_bid_and_carries_the_recv_stamp() {
    let mut x = exec(cfg());
    let mut out = ExecActions::new();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 777), 10 * MS, &mut out);
    // Intent (journal), then the send, then the SENT report.
    let a = out.as_slice();
    assert_eq!(a.len(), 3);
    assert!(
        matches!(a[0], ExecAction::Journal(e) if e.kind == jkind::INTENT && e.client_order_id == 1)
    );
    assert_eq!(
        a[1],
        ExecAction::SendNew {
            client_order_id: 1,
            side: side::BUY,
            price_e8: e8(1_000.0),
            qty_e8: e8(1.0)
        }
    );
    let ExecAction::Report(sent) = a[2] else {
        panic!("{:?}", a[2])
    };
    assert_eq!(sent.kind, oek::SENT);
    assert_eq!(
        sent.stamps.recv_ns, 777,
        "tick-to-order: recv_ns unchanged from the market data"
    );
    assert_eq!(sent.request_sent_ns, 10 * MS);
    // Bearish signal: join the best ask (and cancel the buy it turned against).
    out.clear();
    x.on_signal(&sig(1_000.0, 1_000.10, -0.5, 778), 11 * MS, &mut out);
    assert_eq!(cancels(&out), [1]);
    assert_eq!(news(&out), [(2, side::SELL, e8(1_000.10))]);
    // A weak signal quotes nothing.
    out.clear();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.1, 779), 12 * MS, &mut out);
    assert!(news(&out).is_empty());
}

/// One strong-enough signal on a fresh Execution whose state `setup` changes;
/// returns what was sent and what blocked it.
fn attempt(
    c: ExecutionConfig,
    setup: impl FnOnce(&mut Execution, &mut ExecActions),
) -> (usize, [u64; 10]) {
    let mut x = exec(c);
    let mut out = ExecActions::new();
    setup(&mut x, &mut out);
    out.clear();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), 10 * MS, &mut out);
    (news(&out).len(), x.metrics().blocked)
}

fn only(reason: BlockReason) -> [u64; 10] {
    let mut b = [0; 10];
    b[reason as usize] = 1;
    b
}

#[test]
fn no_order_while_any_gate_is_closed() {
    // Control: everything open → one order.
    assert_eq!(attempt(cfg(), |_, _| {}), (1, [0; 10]));
    assert_eq!(
        attempt(cfg(), |x, o| x.on_kill(0, o)),
        (0, only(BlockReason::Killed))
    );
    assert_eq!(
        attempt(cfg(), |x, _| x.restore(&Default::default()).unwrap()),
        (0, only(BlockReason::NotReconciled))
    );
    assert_eq!(
        attempt(cfg(), |x, o| x.on_gates(
            Gates {
                lockdown: true,
                ..OPEN
            },
            0,
            o
        )),
        (0, only(BlockReason::Lockdown))
    );
    assert_eq!(
        attempt(cfg(), |x, o| x.on_gates(
            Gates {
                regime: Regime::Veto,
                ..OPEN
            },
            0,
            o
        )),
        (0, only(BlockReason::Regime))
    );
    for code in 1..=8 {
        assert_eq!(
            attempt(cfg(), |x, o| x.on_gates(
                Gates {
                    gate_check: code,
                    ..OPEN
                },
                0,
                o
            )),
            (0, only(BlockReason::Gate)),
            "gate check {code}"
        );
    }
    // Position: limit 10, already long 10 (filled earlier) → a buy would make 11.
    assert_eq!(
        attempt(
            ExecutionConfig {
                max_position_e8: e8(1.0),
                ..cfg()
            },
            |x, o| {
                x.on_signal(&sig(999.0, 999.10, 0.5, 1), 0, o);
                x.on_venue(
                    &VenueEvent::Fill {
                        client_order_id: 1,
                        price_e8: e8(999.0),
                        qty_e8: e8(1.0),
                        leaves_qty_e8: 0,
                    },
                    1,
                    o,
                );
            }
        ),
        (0, only(BlockReason::PositionLimit))
    );
    // NEV: alpha of 1 tick cannot pay ~₹1 of costs.
    let weak = ExecutionConfig {
        nev: NevConfig {
            alpha_ticks_at_full_strength: 1.0,
            ..cfg().nev
        },
        ..cfg()
    };
    assert_eq!(attempt(weak, |_, _| {}), (0, only(BlockReason::Nev)));
    // Rate: 1 order per second, already used by an order at ₹999.
    let slow = ExecutionConfig {
        rate: RateConfig {
            per_second: 1,
            per_minute: 0,
            per_day: 0,
        },
        ..cfg()
    };
    assert_eq!(
        attempt(slow, |x, o| x.on_signal(&sig(999.0, 999.10, 0.5, 1), 0, o)),
        (0, only(BlockReason::RateLimit))
    );
    // Order table: room for one, taken.
    let small = ExecutionConfig {
        max_open_orders: 1,
        ..cfg()
    };
    assert_eq!(
        attempt(small, |x, o| x.on_signal(&sig(999.0, 999.10, 0.5, 1), 0, o)),
        (0, only(BlockReason::OrderTable))
    );
}

#[test]
fn otr_budget_stops_quoting_outside_the_exemption_band() {
    let c = ExecutionConfig {
        otr_min_orders: 0,
        otr_penalty_budget: 2.0,
        max_open_orders: 8,
        ..cfg()
    };
    let mut x = exec(c);
    let mut out = ExecActions::new();
    // Last trade ₹1,100: a bid at ₹1,000 is 9 % away, outside ±0.75 %: penalty-relevant.
    x.on_md(&trade(1, 1, 1_100.0, 1.0, true), 1);
    // First order: projected (0 + 2)/1 = 2 ≤ 2 → placed (penalty orders 1).
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), MS, &mut out);
    assert_eq!(news(&out).len(), 1);
    // Next (new bid): (1 + 2)/1 = 3 > 2 → blocked.
    out.clear();
    x.on_signal(&sig(1_000.05, 1_000.15, 0.5, 1), 2 * MS, &mut out);
    assert!(news(&out).is_empty());
    assert_eq!(x.metrics().blocked[BlockReason::OtrBudget as usize], 1);
    // LTP back near the book: the order is exempt and goes.
    x.on_md(&trade(2, 3 * MS, 1_000.0, 1.0, true), 3 * MS);
    x.on_signal(&sig(1_000.10, 1_000.20, 0.5, 1), 4 * MS, &mut out);
    assert_eq!(news(&out).len(), 1);
    let m = x.metrics();
    assert_eq!((m.otr.orders_raw, m.otr.orders_penalty), (2, 1));
}

#[test]
fn unfilled_order_is_cancelled_at_200_ms_not_before() {
    let mut x = exec(cfg());
    let mut out = ExecActions::new();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), 10 * MS, &mut out);
    x.on_venue(
        &VenueEvent::Open {
            client_order_id: 1,
            venue_order_id: 55,
        },
        11 * MS,
        &mut out,
    );
    out.clear();
    // Deadline 10 ms + 200 ms = 210 ms.
    x.on_tick(210 * MS - 1, &mut out);
    assert!(cancels(&out).is_empty());
    // Polled 0.3 ms after the deadline: cancel now, lateness 0.3 ms.
    x.on_tick(210 * MS + 300_000, &mut out);
    assert_eq!(cancels(&out), [1]);
    let ExecAction::Report(ev) = out.as_slice()[1] else {
        panic!()
    };
    assert_eq!((ev.kind, ev.venue_order_id), (oek::CANCEL_SENT, 55));
    let m = x.metrics();
    assert_eq!(m.timer_cancels, 1);
    assert_eq!(m.cancel_lateness.latest_ns, 300_000);
    let t = x.telemetry(210 * MS + 300_000);
    assert_eq!(
        (
            t.cancels_on_deadline,
            t.cancel_lateness_p99_ns,
            t.open_orders
        ),
        (1, 300_000, 1)
    );
    // Tick-to-order of the order: placed at 10 ms for market data received at 1 ns.
    assert_eq!(t.tick_to_order_last_ns, 10 * MS - 1);
    // Not twice.
    out.clear();
    x.on_tick(400 * MS, &mut out);
    assert!(out.is_empty());
    // The venue confirms: the order is done, unfilled.
    x.on_venue(
        &VenueEvent::Cancelled { client_order_id: 1 },
        401 * MS,
        &mut out,
    );
    let m = x.metrics();
    assert_eq!(
        (m.orders_done, m.orders_cancelled_unfilled, m.cancel_rate),
        (1, 1, 1.0)
    );
    assert_eq!(x.open_orders(), 0);
}

#[test]
fn filled_order_has_no_cancel_and_pnl_is_after_costs() {
    let mut x = exec(cfg());
    let mut out = ExecActions::new();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), 0, &mut out);
    x.on_venue(
        &VenueEvent::Fill {
            client_order_id: 1,
            price_e8: e8(1_000.0),
            qty_e8: e8(1.0),
            leaves_qty_e8: 0,
        },
        50 * MS,
        &mut out,
    );
    out.clear();
    x.on_tick(300 * MS, &mut out);
    assert!(cancels(&out).is_empty(), "filled before its deadline");
    // Sell signal at a higher book: join the ask ₹1,001.00 and get filled.
    x.on_signal(&sig(1_000.90, 1_001.0, -0.5, 2), 400 * MS, &mut out);
    let sells = news(&out);
    assert_eq!(sells, [(2, side::SELL, e8(1_001.0))]);
    x.on_venue(
        &VenueEvent::Fill {
            client_order_id: 2,
            price_e8: e8(1_001.0),
            qty_e8: e8(1.0),
            leaves_qty_e8: 0,
        },
        450 * MS,
        &mut out,
    );
    let m = x.metrics();
    // Gross: bought 1,000.00, sold 1,001.00 → ₹1.00.
    assert_eq!(m.position_e8, 0);
    assert!((m.pnl_gross_inr - 1.0).abs() < 1e-9);
    // Costs: buy at 1,000 = 0.421226 (see nev_worked_example);
    // sell at 1,001: STT 0.25025, exchange 0.0297297, IPFT 0.001001, SEBI 0.001001,
    // brokerage 0.3003, GST 18 % × 0.3310307 = 0.0595855 → 0.6418673. Total 1.0630933.
    assert!(
        (m.costs.total() - 1.0630933).abs() < 1e-6,
        "{}",
        m.costs.total()
    );
    assert!((m.costs.stt - 0.25025).abs() < 1e-9);
    assert!((m.costs.stamp - 0.03).abs() < 1e-9);
    assert!((m.pnl_net_inr - (1.0 - 1.0630933)).abs() < 1e-6);
    assert_eq!((m.fills, m.orders_filled, m.fill_rate), (2, 2, 1.0));
    assert_eq!(m.otr.trades, 2);
}

#[test]
fn partial_fill_then_timer_cancels_the_rest() {
    let mut x = exec(ExecutionConfig {
        order_qty_e8: e8(3.0),
        ..cfg()
    });
    let mut out = ExecActions::new();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), 0, &mut out);
    x.on_venue(
        &VenueEvent::Fill {
            client_order_id: 1,
            price_e8: e8(1_000.0),
            qty_e8: e8(1.0),
            leaves_qty_e8: e8(2.0),
        },
        MS,
        &mut out,
    );
    let ExecAction::Report(ev) = *out.as_slice().last().unwrap() else {
        panic!()
    };
    assert_eq!(
        (ev.kind, ev.fill_qty_e8, ev.leaves_qty_e8),
        (oek::PARTIALLY_FILLED, e8(1.0), e8(2.0))
    );
    out.clear();
    x.on_tick(200 * MS, &mut out);
    assert_eq!(cancels(&out), [1]);
    x.on_venue(
        &VenueEvent::Cancelled { client_order_id: 1 },
        201 * MS,
        &mut out,
    );
    let m = x.metrics();
    // Partly filled counts as filled for the fill rate, not as an unfilled cancel.
    assert_eq!(
        (m.orders_filled, m.orders_cancelled_unfilled, m.position_e8),
        (1, 0, e8(1.0))
    );
}

#[test]
fn ladder_on_strong_signal_counts_every_rung() {
    let c = ExecutionConfig {
        rate: RateConfig {
            per_second: 2,
            per_minute: 0,
            per_day: 0,
        },
        ..cfg()
    };
    let mut x = exec(c);
    let mut out = ExecActions::new();
    // Strength 0.9 ≥ 0.8: rungs at 1,000.00, 999.95, 999.90; the rate allows two.
    x.on_signal(&sig(1_000.0, 1_000.10, 0.9, 1), 0, &mut out);
    assert_eq!(
        news(&out),
        [(1, side::BUY, e8(1_000.0)), (2, side::BUY, e8(999.95))]
    );
    let m = x.metrics();
    assert_eq!(m.blocked[BlockReason::RateLimit as usize], 1);
    assert_eq!(m.otr.orders_raw, 2);
    // 500 ms later one token has come back (2 per second): the missing rung goes.
    out.clear();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.9, 2), 500 * MS, &mut out);
    assert_eq!(news(&out), [(3, side::BUY, e8(999.90))]);
}

#[test]
fn modifications_follow_the_touch_up_to_the_cap() {
    let c = ExecutionConfig {
        max_modifications_per_order: 1,
        ..cfg()
    };
    let mut x = exec(c);
    let mut out = ExecActions::new();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), 0, &mut out);
    x.on_venue(
        &VenueEvent::Open {
            client_order_id: 1,
            venue_order_id: 9,
        },
        MS,
        &mut out,
    );
    out.clear();
    // Bid moves up to 1,000.05: our 1,000.00 order is left behind → modified.
    x.on_signal(&sig(1_000.05, 1_000.15, 0.5, 2), 2 * MS, &mut out);
    assert!(out.iter().any(|a| *a
        == ExecAction::SendModify {
            client_order_id: 1,
            price_e8: e8(1_000.05),
            qty_e8: e8(1.0)
        }));
    assert!(
        news(&out).is_empty(),
        "the modified order already sits at the new touch"
    );
    x.on_venue(
        &VenueEvent::Modified {
            client_order_id: 1,
            price_e8: e8(1_000.05),
            qty_e8: e8(1.0),
            leaves_qty_e8: e8(1.0),
        },
        3 * MS,
        &mut out,
    );
    out.clear();
    // Up again: the single modification is spent → cancel, and a new order joins.
    x.on_signal(&sig(1_000.10, 1_000.20, 0.5, 3), 4 * MS, &mut out);
    assert_eq!(cancels(&out), [1]);
    assert_eq!(news(&out), [(2, side::BUY, e8(1_000.10))]);
    let m = x.metrics();
    assert_eq!((m.modifies_sent, m.otr.orders_raw), (1, 4)); // new, modify, cancel, new
}

#[test]
fn kill_cancels_everything_and_nothing_new_until_rearmed() {
    let mut x = exec(cfg());
    let mut out = ExecActions::new();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.9, 1), 0, &mut out);
    assert_eq!(news(&out).len(), 3);
    out.clear();
    x.on_kill(MS, &mut out);
    let mut c = cancels(&out);
    c.sort();
    assert_eq!(c, [1, 2, 3]);
    out.clear();
    for t in 2..20 {
        x.on_signal(
            &sig(
                1_000.0 + t as f64 * 0.05,
                1_000.10 + t as f64 * 0.05,
                0.9,
                t,
            ),
            t * MS,
            &mut out,
        );
        x.on_tick(t * 100 * MS, &mut out);
    }
    assert!(news(&out).is_empty());
    assert!(
        cancels(&out).is_empty(),
        "cancels already sent are not repeated"
    );
    assert!(x.is_killed());
    x.rearm();
    x.on_signal(&sig(1_001.0, 1_001.10, 0.5, 30), 3 * 1_000 * MS, &mut out);
    assert_eq!(news(&out).len(), 1);
}

#[test]
fn lockdown_cancels_resting_orders_and_blocks_new_ones() {
    let mut x = exec(cfg());
    let mut out = ExecActions::new();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), 0, &mut out);
    out.clear();
    x.on_gates(
        Gates {
            lockdown: true,
            ..OPEN
        },
        MS,
        &mut out,
    );
    assert_eq!(cancels(&out), [1]);
    out.clear();
    x.on_signal(&sig(1_000.05, 1_000.15, 0.5, 2), 2 * MS, &mut out);
    assert!(news(&out).is_empty());
    // Lifted: quoting resumes.
    x.on_gates(OPEN, 3 * MS, &mut out);
    x.on_signal(&sig(1_000.10, 1_000.20, 0.5, 3), 4 * MS, &mut out);
    assert_eq!(news(&out).len(), 1);
}

#[test]
fn rejected_orders_are_not_cancels() {
    let mut x = exec(cfg());
    let mut out = ExecActions::new();
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), 0, &mut out);
    x.on_venue(
        &VenueEvent::Rejected {
            client_order_id: 1,
            reason: 17,
        },
        MS,
        &mut out,
    );
    let ExecAction::Report(ev) = *out.as_slice().last().unwrap() else {
        panic!()
    };
    assert_eq!((ev.kind, ev.reason), (oek::REJECTED, 17));
    let m = x.metrics();
    assert_eq!(
        (
            m.orders_done,
            m.orders_rejected,
            m.orders_cancelled_unfilled
        ),
        (1, 1, 0)
    );
    assert_eq!(x.open_orders(), 0);
    // Its timer is gone with it: nothing fires at 200 ms.
    out.clear();
    x.on_tick(300 * MS, &mut out);
    assert!(out.is_empty());
}

#[test]
fn unknown_venue_events_are_counted_not_fatal() {
    let mut x = exec(cfg());
    let mut out = ExecActions::new();
    x.on_venue(
        &VenueEvent::Cancelled {
            client_order_id: 999,
        },
        0,
        &mut out,
    );
    assert!(out.is_empty());
    assert_eq!(x.metrics().unknown_events, 1);
}

#[test]
fn bad_config_is_an_error() {
    assert!(Execution::new(
        ExecutionConfig {
            tick_size_e8: 0,
            ..cfg()
        },
        table()
    )
    .is_err());
    assert!(Execution::new(
        ExecutionConfig {
            max_open_orders: 1_000,
            ..cfg()
        },
        table()
    )
    .is_err());
    assert!(Execution::new(
        ExecutionConfig {
            ladder_max_orders: 0,
            ..cfg()
        },
        table()
    )
    .is_err());
}

/// A user strategy's intent to place a LIMIT DAY order, stamped at `at_ns`.
fn intent(order_side: u8, price: f64, qty: f64, at_ns: u64) -> OrderIntent {
    OrderIntent {
        stamps: Stamps {
            recv_ns: at_ns,
            publish_ns: at_ns,
            ..Default::default()
        },
        price_e8: e8(price),
        qty_e8: e8(qty),
        instrument_id: 1,
        action: intent_action::NEW,
        side: order_side,
        order_type: order_type::LIMIT,
        tif: tif::DAY,
        ..Default::default()
    }
}

/// Execution with the touch ₹1,000.00 / ₹1,000.10 known from market data.
fn exec_at_touch() -> Execution {
    let mut x = exec(cfg());
    x.on_md(&touch(1, MS, 1_000.0, 1_000.10), MS);
    x
}

#[test]
fn an_intent_becomes_a_passive_order_journaled_reported_and_cancelled_at_200_ms() {
    let mut x = exec_at_touch();
    let mut out = ExecActions::new();
    // Buy 1 at ₹999.95, one tick below the bid: passive, on tick, within the size.
    let got = x.on_intent(&intent(side::BUY, 999.95, 1.0, 2 * MS), 2 * MS, &mut out);
    assert_eq!(got, IntentOutcome::Placed(1));
    assert_eq!(sends(&out), [(1, side::BUY, e8(999.95), e8(1.0))]);
    // The intent record precedes the send; the SENT report (to Sentinel) carries the intent's
    // receive stamp for tick-to-order.
    let kinds: Vec<&str> = out
        .iter()
        .map(|a| match a {
            ExecAction::Journal(e) if e.kind == jkind::INTENT => "intent",
            ExecAction::Journal(e) if e.kind == jkind::FOR_INTENT && e.venue_order_id == 0 => {
                "for intent 0"
            }
            ExecAction::SendNew { .. } => "send",
            ExecAction::Report(e) if e.kind == oek::SENT => "sent",
            _ => "other",
        })
        .collect();
    // The second record says whose order it is (intent seq 0), for a restarted Execution.
    assert_eq!(kinds, ["intent", "for intent 0", "send", "sent"]);
    let sent = out
        .iter()
        .find_map(|a| match a {
            ExecAction::Report(e) => Some(*e),
            _ => None,
        })
        .unwrap();
    assert_eq!((sent.stamps.recv_ns, sent.qty_e8), (2 * MS, e8(1.0)));
    // Oracle's signals do not touch it: a strong signal against it (sell) neither cancels
    // it nor moves it.
    out.clear();
    x.on_signal(&sig(1_000.0, 1_000.10, -0.9, 3), 3 * MS, &mut out);
    assert!(!cancels(&out).contains(&1), "{:?}", cancels(&out));
    // Unfilled at 200 ms after placement: cancelled by the timer like every order.
    out.clear();
    x.on_tick(2 * MS + 199 * MS, &mut out);
    assert!(!cancels(&out).contains(&1));
    x.on_tick(2 * MS + 201 * MS, &mut out);
    assert!(cancels(&out).contains(&1));
    let m = x.metrics();
    assert_eq!((m.intents, m.intents_placed), (1, 1));
}

#[test]
fn intents_that_are_not_passive_limit_day_orders_are_refused_with_their_reason() {
    use IntentRefusal::*;
    let mut out = ExecActions::new();
    let t = 2 * MS;
    let base = intent(side::BUY, 999.95, 1.0, t);
    let cases: [(&str, OrderIntent, IntentRefusal); 12] = [
        (
            "another instrument",
            OrderIntent {
                instrument_id: 2,
                ..base
            },
            Malformed,
        ),
        ("no side", OrderIntent { side: 0, ..base }, Malformed),
        (
            "a market order",
            OrderIntent {
                order_type: order_type::MARKET,
                ..base
            },
            Malformed,
        ),
        (
            "immediate or cancel",
            OrderIntent {
                tif: tif::IOC,
                ..base
            },
            Malformed,
        ),
        (
            "off the ₹0.05 tick",
            OrderIntent {
                price_e8: e8(999.97),
                ..base
            },
            Malformed,
        ),
        (
            "a zero price",
            OrderIntent {
                price_e8: 0,
                ..base
            },
            Malformed,
        ),
        (
            "above the configured size",
            OrderIntent {
                qty_e8: e8(2.0),
                ..base
            },
            Malformed,
        ),
        (
            "unstamped",
            OrderIntent {
                stamps: Stamps::default(),
                ..base
            },
            Malformed,
        ),
        (
            "a modification",
            OrderIntent {
                action: intent_action::MODIFY,
                ..base
            },
            Unsupported,
        ),
        (
            "a buy at the ask",
            intent(side::BUY, 1_000.10, 1.0, t),
            Marketable,
        ),
        (
            "a sell at the bid",
            intent(side::SELL, 1_000.0, 1.0, t),
            Marketable,
        ),
        (
            "a cancel of no intent's order",
            OrderIntent {
                action: intent_action::CANCEL,
                client_order_id: 7,
                ..base
            },
            UnknownOrder,
        ),
    ];
    let mut x = exec_at_touch();
    for (what, it, want) in cases {
        assert_eq!(
            x.on_intent(&it, t, &mut out),
            IntentOutcome::Refused(want),
            "{what}"
        );
    }
    // 50 ms old (the default limit) is still fresh; one nanosecond more is stale.
    let old = intent(side::BUY, 999.95, 1.0, t);
    assert_eq!(
        x.on_intent(&old, t + 50 * MS + 1, &mut out),
        IntentOutcome::Refused(Stale)
    );
    // Without a known touch, passivity cannot be checked.
    let mut blind = exec(cfg());
    assert_eq!(
        blind.on_intent(&base, t, &mut out),
        IntentOutcome::Refused(NoTouch)
    );
    assert!(sends(&out).is_empty(), "nothing was sent");
    let m = x.metrics();
    assert_eq!(m.intents, 13);
    assert_eq!(m.intents_placed, 0);
    assert_eq!(m.intents_refused, [8, 1, 1, 0, 2, 1]);
    assert_eq!(m.otr.orders_raw, 0, "a refused intent is no order");
    let ok = x.on_intent(&old, t + 50 * MS, &mut out);
    assert!(matches!(ok, IntentOutcome::Placed(_)), "{ok:?}");
}

#[test]
fn intents_pass_the_same_gates_as_quotes() {
    let mut out = ExecActions::new();
    let t = 2 * MS;
    let buy = intent(side::BUY, 999.95, 1.0, t);
    // Kill switch: nothing new, until re-armed.
    let mut x = exec_at_touch();
    x.on_kill(t, &mut out);
    assert_eq!(
        x.on_intent(&buy, t, &mut out),
        IntentOutcome::Blocked(BlockReason::Killed)
    );
    x.rearm();
    assert!(matches!(
        x.on_intent(&buy, t, &mut out),
        IntentOutcome::Placed(_)
    ));
    // Sentinel's lockdown, Sonar's Veto, a closed data gate.
    for (gates, reason) in [
        (
            Gates {
                lockdown: true,
                ..OPEN
            },
            BlockReason::Lockdown,
        ),
        (
            Gates {
                regime: Regime::Veto,
                ..OPEN
            },
            BlockReason::Regime,
        ),
        (
            Gates {
                gate_check: 1,
                ..OPEN
            },
            BlockReason::Gate,
        ),
    ] {
        let mut x = exec_at_touch();
        x.on_gates(gates, t, &mut out);
        assert_eq!(
            x.on_intent(&buy, t, &mut out),
            IntentOutcome::Blocked(reason)
        );
        assert_eq!(x.metrics().blocked[reason as usize], 1);
    }
    // Position limit 10: ten resting buys of 1 fill it; the eleventh is refused (resting
    // orders count, as for quotes).
    let mut x = exec(ExecutionConfig {
        max_open_orders: 16,
        ..cfg()
    });
    x.on_md(&touch(1, MS, 1_000.0, 1_000.10), MS);
    out.clear();
    for k in 0..10 {
        let it = intent(side::BUY, 999.95 - 0.05 * k as f64, 1.0, t);
        assert!(
            matches!(x.on_intent(&it, t, &mut out), IntentOutcome::Placed(_)),
            "rung {k}"
        );
    }
    let it = intent(side::BUY, 999.0, 1.0, t);
    assert_eq!(
        x.on_intent(&it, t, &mut out),
        IntentOutcome::Blocked(BlockReason::PositionLimit)
    );
    // The order rate: those ten took the second's ten tokens (10/s by default), so a sell,
    // which the position limit would let through, waits for the next second.
    let sell = intent(side::SELL, 1_000.15, 1.0, t);
    assert_eq!(
        x.on_intent(&sell, t, &mut out),
        IntentOutcome::Blocked(BlockReason::RateLimit)
    );
    let later = intent(side::SELL, 1_000.15, 1.0, t + 1_000 * MS);
    assert!(matches!(
        x.on_intent(&later, t + 1_000 * MS, &mut out),
        IntentOutcome::Placed(_)
    ));
}

#[test]
fn cancel_all_cancels_the_intents_orders_and_leaves_executions_own() {
    let mut x = exec_at_touch();
    let mut out = ExecActions::new();
    // Execution's own quote (cid 1) from a signal, then two intents' orders (cids 2, 3).
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), MS, &mut out);
    assert_eq!(news(&out).len(), 1);
    let t = 2 * MS;
    assert_eq!(
        x.on_intent(&intent(side::BUY, 999.90, 1.0, t), t, &mut out),
        IntentOutcome::Placed(2)
    );
    assert_eq!(
        x.on_intent(&intent(side::SELL, 1_000.20, 1.0, t), t, &mut out),
        IntentOutcome::Placed(3)
    );
    out.clear();
    // CANCEL of Execution's own order is not the strategy's to make.
    let cancel = |cid: u64| OrderIntent {
        action: intent_action::CANCEL,
        client_order_id: cid,
        ..intent(side::BUY, 999.90, 1.0, t)
    };
    assert_eq!(
        x.on_intent(&cancel(1), t, &mut out),
        IntentOutcome::Refused(IntentRefusal::UnknownOrder)
    );
    assert_eq!(
        x.on_intent(&cancel(2), t, &mut out),
        IntentOutcome::Cancelled(1)
    );
    assert_eq!(
        x.on_intent(&cancel(2), t, &mut out),
        IntentOutcome::Cancelled(0),
        "already on its way"
    );
    let all = OrderIntent {
        action: intent_action::CANCEL_ALL,
        ..intent(side::BUY, 999.90, 1.0, t)
    };
    assert_eq!(x.on_intent(&all, t, &mut out), IntentOutcome::Cancelled(1));
    assert_eq!(cancels(&out), [2, 3]);
    assert_eq!(x.open_orders(), 3, "cancels sent, none confirmed yet");
}

/// The strategy's events for the reports among `out` (what the live loop publishes).
fn strategy_events(fb: &mut IntentFeedback, out: &ExecActions) -> Vec<IntentEvent> {
    out.iter()
        .filter_map(|a| match a {
            ExecAction::Report(ev) | ExecAction::Journal(ev) => fb.order_event(ev),
            _ => None,
        })
        .collect()
}

/// What the live loop does with one intent: decide, give the feedback the outcome, then carry
/// out the actions (whose reports then reach the strategy tagged). Returns the outcome, the
/// intent's own answer and the events of its actions' reports.
fn decide(
    x: &mut Execution,
    fb: &mut IntentFeedback,
    it: &OrderIntent,
    t: u64,
) -> (IntentOutcome, Option<IntentEvent>, Vec<IntentEvent>) {
    let mut out = ExecActions::new();
    let got = x.on_intent(it, t, &mut out);
    let answer = fb.answer(it, got, t);
    (got, answer, strategy_events(fb, &out))
}

#[test]
fn a_strategy_learns_each_intents_answer_and_its_orders_life_tagged_with_the_intent() {
    let mut x = exec_at_touch();
    let mut fb = IntentFeedback::new();
    let mut out = ExecActions::new();
    // Execution's own quote (cid 1): none of its reports is the strategy's.
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), MS, &mut out);
    assert_eq!(news(&out).len(), 1);
    assert!(strategy_events(&mut fb, &out).is_empty());

    // NEW, seq 7: placed as cid 2; its answer is the SENT report, tagged with seq 7.
    let t = 2 * MS;
    let buy = OrderIntent {
        seq: 7,
        ..intent(side::BUY, 999.95, 1.0, t)
    };
    let (got, answer, ev) = decide(&mut x, &mut fb, &buy, t);
    assert_eq!(got, IntentOutcome::Placed(2));
    assert_eq!(answer, None, "answered by the SENT report");
    assert_eq!(ev.len(), 1, "{ev:?}");
    assert_eq!(
        (ev[0].kind, ev[0].intent_seq, ev[0].client_order_id),
        (oek::SENT, 7, 2)
    );
    assert_eq!(
        (ev[0].side, ev[0].price_e8, ev[0].qty_e8),
        (side::BUY, e8(999.95), e8(1.0))
    );

    // Its life at the venue: accepted, open, 0.4 filled, the other 0.6 filled.
    let life = [
        VenueEvent::Accepted {
            client_order_id: 2,
            venue_order_id: 90,
        },
        VenueEvent::Open {
            client_order_id: 2,
            venue_order_id: 90,
        },
        VenueEvent::Fill {
            client_order_id: 2,
            price_e8: e8(999.95),
            qty_e8: e8(0.4),
            leaves_qty_e8: e8(0.6),
        },
        VenueEvent::Fill {
            client_order_id: 2,
            price_e8: e8(999.95),
            qty_e8: e8(0.6),
            leaves_qty_e8: 0,
        },
    ];
    let mut seen = vec![];
    for (i, v) in life.iter().enumerate() {
        out.clear();
        x.on_venue(v, t + (i as u64 + 1) * MS, &mut out);
        seen.extend(strategy_events(&mut fb, &out));
    }
    let kinds: Vec<(u8, u64, i64, i64)> = seen
        .iter()
        .map(|e| (e.kind, e.intent_seq, e.fill_qty_e8, e.leaves_qty_e8))
        .collect();
    assert_eq!(
        kinds,
        [
            (oek::ACCEPTED, 7, 0, e8(1.0)),
            (oek::OPEN, 7, 0, e8(1.0)),
            (oek::PARTIALLY_FILLED, 7, e8(0.4), e8(0.6)),
            (oek::FILLED, 7, e8(0.6), 0),
        ]
    );
    assert_eq!(seen[2].fill_price_e8, e8(999.95));
    assert_eq!(fb.open(), 0, "a filled order has no events to come");

    // Refused for what it asks: the answer carries the reason.
    let other = OrderIntent {
        seq: 8,
        instrument_id: 2,
        ..buy
    };
    let ev = decide(&mut x, &mut fb, &other, t).1.expect("an answer");
    assert_eq!(
        (ev.kind, ev.intent_seq, ev.reason, ev.client_order_id),
        (iek::REFUSED, 8, IntentRefusal::Malformed as u16, 0)
    );

    // CANCEL_ALL (seq 11) of an intent's resting order (seq 10, cid 3): the answer counts the
    // orders, then the order's cancel and its confirmation come tagged with seq 10.
    let rest = OrderIntent {
        seq: 10,
        ..intent(side::BUY, 999.90, 1.0, t)
    };
    let (got, answer, ev) = decide(&mut x, &mut fb, &rest, t);
    assert_eq!((got, answer), (IntentOutcome::Placed(3), None));
    assert_eq!(ev[0].intent_seq, 10);
    let all = OrderIntent {
        seq: 11,
        action: intent_action::CANCEL_ALL,
        ..rest
    };
    let (_, answer, ev) = decide(&mut x, &mut fb, &all, t);
    let a = answer.expect("an answer");
    assert_eq!((a.kind, a.intent_seq, a.orders), (iek::CANCELLING, 11, 1));
    assert_eq!(
        ev.iter()
            .map(|e| (e.kind, e.intent_seq, e.client_order_id))
            .collect::<Vec<_>>(),
        [(oek::CANCEL_SENT, 10, 3)]
    );
    out.clear();
    x.on_venue(
        &VenueEvent::Cancelled { client_order_id: 3 },
        t + MS,
        &mut out,
    );
    let ev = strategy_events(&mut fb, &out);
    assert_eq!((ev[0].kind, ev[0].intent_seq), (oek::CANCELLED, 10));
    assert_eq!(fb.open(), 0);

    // Under the kill switch: blocked, with the reason.
    out.clear();
    x.on_kill(t + 2 * MS, &mut out);
    let late = OrderIntent {
        seq: 12,
        ..intent(side::BUY, 999.95, 1.0, t + 3 * MS)
    };
    let ev = decide(&mut x, &mut fb, &late, t + 3 * MS)
        .1
        .expect("an answer");
    assert_eq!(
        (ev.kind, ev.intent_seq, ev.reason),
        (iek::BLOCKED, 12, BlockReason::Killed as u16)
    );
    // Read while Execution could not decide (no venue session): answered as dropped.
    let ev = IntentFeedback::dropped(&late, t + 4 * MS);
    assert_eq!(
        (
            ev.kind,
            ev.intent_seq,
            ev.client_order_id,
            ev.stamps.publish_ns
        ),
        (iek::DROPPED, 12, 0, t + 4 * MS)
    );
}

#[test]
fn the_feedback_remembers_at_most_an_order_tables_worth_of_orders_oldest_forgotten_first() {
    let mut fb = IntentFeedback::new();
    let base = intent(side::BUY, 999.95, 1.0, MS);
    let n = MAX_OPEN_ORDERS as u64 + 6;
    for cid in 1..=n {
        let it = OrderIntent {
            seq: 100 + cid,
            ..base
        };
        assert_eq!(fb.answer(&it, IntentOutcome::Placed(cid), MS), None);
    }
    assert_eq!((fb.open(), fb.forgotten), (MAX_OPEN_ORDERS, 6));
    let report = |cid: u64| runtime::msg::OrderEvent {
        client_order_id: cid,
        kind: oek::OPEN,
        ..Default::default()
    };
    // The six oldest are forgotten; the newest are still tagged with their intents.
    assert_eq!(fb.order_event(&report(6)), None);
    assert_eq!(fb.order_event(&report(7)).map(|e| e.intent_seq), Some(107));
    assert_eq!(
        fb.order_event(&report(n)).map(|e| e.intent_seq),
        Some(100 + n)
    );
}

/// Journal every record of `out`, as the live loop stages them, and clear it.
fn journal_all(j: &mut Journal, out: &mut ExecActions, now_ns: u64) {
    for a in out.iter() {
        if let ExecAction::Report(ev) | ExecAction::Journal(ev) = a {
            j.append(ev, now_ns).unwrap();
        }
    }
    out.clear();
}

#[test]
fn a_restarted_execution_leaves_strategies_orders_to_them_and_reports_their_lives_tagged_as_before()
{
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.journal");
    let (mut j, _) = Journal::open(&path, FsyncPolicy::Never).unwrap();
    let mut x = exec_at_touch();
    let mut fb = IntentFeedback::new();
    let mut out = ExecActions::new();
    // cid 1: Execution's own buy quote at the bid.
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5, 1), MS, &mut out);
    assert_eq!(news(&out), [(1, side::BUY, e8(1_000.0))]);
    journal_all(&mut j, &mut out, MS);
    // cid 2 and 3: a strategy's buys, intents 7 and 8.
    let t = 2 * MS;
    for (seq, price) in [(7, 999.95), (8, 999.90)] {
        let it = OrderIntent {
            seq,
            ..intent(side::BUY, price, 1.0, t)
        };
        let got = x.on_intent(&it, t, &mut out);
        assert!(matches!(got, IntentOutcome::Placed(_)), "{got:?}");
        fb.answer(&it, got, t);
        journal_all(&mut j, &mut out, t);
    }
    drop(j);

    // The process dies. Its successor replays the journal: whose each order is comes back.
    let (_, st) = Journal::open(&path, FsyncPolicy::Never).unwrap();
    let whose: Vec<(u64, Option<u64>)> = st
        .open_orders
        .iter()
        .map(|o| (o.client_order_id, o.intent_seq))
        .collect();
    assert_eq!(whose, [(1, None), (2, Some(7)), (3, Some(8))]);
    let mut y = exec(cfg());
    y.restore(&st).unwrap();
    let mut fb = IntentFeedback::new();
    fb.restore(&st);
    assert_eq!(
        fb.open(),
        2,
        "the strategy's two orders, not Execution's quote"
    );
    y.on_md(&touch(2, 10 * MS, 1_000.0, 1_000.10), 10 * MS);

    // The venue still lists 1 and 2; 3 went while Execution was down: its strategy hears GONE
    // under intent 8.
    let listed = |cid: u64, price: f64| VenueOrder {
        client_order_id: cid,
        venue_order_id: 500 + cid,
        side: side::BUY,
        price_e8: e8(price),
        leaves_qty_e8: e8(1.0),
    };
    let venue = [listed(1, 1_000.0), listed(2, 999.95)];
    y.reconcile(&venue, None, 11 * MS, &mut out).unwrap();
    let ev = strategy_events(&mut fb, &out);
    let got: Vec<(u8, u64, u64)> = ev
        .iter()
        .map(|e| (e.kind, e.intent_seq, e.client_order_id))
        .collect();
    assert_eq!(got, [(iek::GONE, 8, 3)]);
    assert_eq!(fb.open(), 1);
    out.clear();

    // A strong sell signal cancels Execution's own buy, not the strategy's.
    y.on_signal(&sig(1_000.0, 1_000.10, -0.9, 12 * MS), 12 * MS, &mut out);
    assert_eq!(cancels(&out), [1]);
    out.clear();

    // The strategy can still cancel its order by the client order id it was given, and hears
    // of the cancel under intent 7.
    let cancel = OrderIntent {
        seq: 9,
        client_order_id: 2,
        action: intent_action::CANCEL,
        ..intent(side::BUY, 999.95, 1.0, 13 * MS)
    };
    let (got, answer, ev) = decide(&mut y, &mut fb, &cancel, 13 * MS);
    assert_eq!(got, IntentOutcome::Cancelled(1));
    assert_eq!(
        answer.map(|a| (a.kind, a.intent_seq)),
        Some((iek::CANCELLING, 9))
    );
    assert_eq!(
        ev.iter()
            .map(|e| (e.kind, e.intent_seq))
            .collect::<Vec<_>>(),
        [(oek::CANCEL_SENT, 7)]
    );
    y.on_venue(
        &VenueEvent::Cancelled { client_order_id: 2 },
        14 * MS,
        &mut out,
    );
    let ev = strategy_events(&mut fb, &out);
    assert_eq!(
        ev.iter()
            .map(|e| (e.kind, e.intent_seq, e.client_order_id))
            .collect::<Vec<_>>(),
        [(oek::CANCELLED, 7, 2)]
    );
    assert_eq!(fb.open(), 0);
}
