//! A clock that goes backwards and market data with absurd values, fed to the pure actors
//! (time is an argument, `now_ns`, so a test drives it directly):
//! - Sonar closes its gate with `timestamp_insane` when receive time runs backwards or ahead of
//!   now, and survives extreme stamps;
//! - Execution, under any interleaving of hostile signals, market data and a clock that jumps
//!   back and forth, never panics, never sends an order that is not positive, on tick and of the
//!   configured size, and sends nothing but cancels after the kill switch.

use actors::execution::costs::{CostSchedule, CostTable, Date, Segment};
use actors::execution::{ExecAction, ExecActions, Execution, ExecutionConfig, Gates};
use actors::sonar::{gate_check, Regime, Sonar, SonarConfig};
use proptest::prelude::*;
use runtime::msg::{md_kind, side, BookTop, Level, MdEvent, Signal, Stamps};

const MS: u64 = 1_000_000;
const S: i64 = 100_000_000;

fn touch(seq: u64, recv_ns: u64, bid_e8: i64, ask_e8: i64) -> MdEvent {
    let mut book = BookTop::default();
    book.bids[0] = Level {
        price_e8: bid_e8,
        qty_e8: S,
    };
    book.asks[0] = Level {
        price_e8: ask_e8,
        qty_e8: S,
    };
    book.bid_levels = 1;
    book.ask_levels = 1;
    MdEvent {
        seq,
        instrument_id: 1,
        kind: md_kind::BOOK,
        stamps: Stamps {
            recv_ns,
            ..Stamps::default()
        },
        book,
        ..MdEvent::default()
    }
}

fn sonar() -> Sonar {
    Sonar::new(SonarConfig {
        min_samples: 1,
        window: 4,
        min_dwell_ns: 0,
        stale_after_ns: 10_000 * MS,
        ..SonarConfig::default()
    })
    .unwrap()
}

#[test]
fn sonar_closes_on_a_clock_that_runs_backwards_and_reopens_when_sane() {
    let (bid, ask) = (1_000 * S, 1_000 * S + 5_000_000);
    // now_ns itself steps back by 50 ms: the event's receive time is then ahead of now.
    let mut s = sonar();
    let first = s.on_md(&touch(1, 100 * MS, bid, ask), 100 * MS);
    assert_eq!(first.gate_check, gate_check::NONE);
    let out = s.on_md(&touch(2, 100 * MS, bid, ask), 50 * MS);
    assert_eq!(out.gate_check, gate_check::TIMESTAMP_INSANE);
    // Sane again (time moved on past the old reading): the gate reopens.
    let out = s.on_md(&touch(3, 121 * MS, bid, ask), 121 * MS);
    assert_eq!(out.gate_check, gate_check::NONE);
    // Receive times running backwards between events (90 ms after 100 ms).
    let mut s = sonar();
    assert_eq!(
        s.on_md(&touch(1, 100 * MS, bid, ask), 100 * MS).gate_check,
        gate_check::NONE
    );
    let out = s.on_md(&touch(2, 90 * MS, bid, ask), 120 * MS);
    assert_eq!(out.gate_check, gate_check::TIMESTAMP_INSANE);
    assert_ne!(
        out.failing_mask & gate_check::bit(gate_check::TIMESTAMP_INSANE),
        0
    );
}

#[test]
fn sonar_a_backwards_clock_does_not_hide_a_later_backwards_receive_time() {
    let (bid, ask) = (1_000 * S, 1_000 * S + 5_000_000);
    let mut s = sonar();
    s.on_md(&touch(1, 100 * MS, bid, ask), 100 * MS);
    s.on_md(&touch(2, 100 * MS, bid, ask), 50 * MS); // the clock steps back
    let out = s.on_md(&touch(3, 90 * MS, bid, ask), 120 * MS);
    assert_eq!(out.gate_check, gate_check::TIMESTAMP_INSANE);
}

#[test]
fn sonar_survives_extreme_exchange_stamps() {
    let mut s = sonar();
    for (i, ex) in [1, u64::MAX, u64::MAX - 1, 0, u64::MAX]
        .into_iter()
        .enumerate()
    {
        let mut ev = touch(i as u64 + 1, 10 * MS, 1_000 * S, 1_000 * S + 5_000_000);
        ev.stamps.exchange_ns = ex;
        let _ = s.on_md(&ev, 10 * MS);
    }
    let mut ev = touch(9, u64::MAX, 1_000 * S, 1_000 * S + 5_000_000);
    ev.stamps.exchange_ns = u64::MAX;
    assert_ne!(s.on_md(&ev, 0).gate_check, gate_check::NONE);
}

fn table() -> CostTable {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/costs"));
    let s = CostSchedule::load_dir(&dir).expect("config/costs");
    s.for_date(Date::parse("2026-04-01").unwrap())
        .unwrap()
        .clone()
}

const TICK_E8: i64 = 5_000_000; // ₹0.05
const QTY_E8: i64 = S;

fn exec() -> Execution {
    let cfg = ExecutionConfig {
        segment: Segment::EquityIntraday,
        tick_size_e8: TICK_E8,
        order_qty_e8: QTY_E8,
        min_strength: 0.3,
        ladder_min_strength: 0.8,
        ladder_max_orders: 3,
        max_position_e8: 10 * S,
        ..Default::default()
    };
    let mut x = Execution::new(cfg, table()).unwrap();
    let mut out = ExecActions::new();
    x.on_gates(
        Gates {
            regime: Regime::Attack,
            gate_check: gate_check::NONE,
            lockdown: false,
        },
        0,
        &mut out,
    );
    x
}

/// One step of a hostile session.
#[derive(Clone, Debug)]
enum Step {
    Signal {
        bid_e8: i64,
        ask_e8: i64,
        strength: f64,
    },
    Md {
        bid_e8: i64,
        ask_e8: i64,
    },
    Tick,
    Kill,
}

/// The largest price the Feed lets onto md.ring (`venue::feed::FeedConfig::default`).
const FEED_MAX_PRICE_E8: i64 = 1_000_000_000 * S;

/// Hostile prices: zero, negative, off tick, crossed, ₹10 million, the largest on-tick i64.
/// `execution_survives_i64_extreme_prices` feeds i64::MAX itself.
fn price() -> impl Strategy<Value = i64> {
    prop_oneof![
        6 => (19_000i64..21_000).prop_map(|t| t * TICK_E8), // near ₹1,000, on tick
        1 => Just(0i64),
        1 => Just(-1_000 * S),
        1 => Just(-FEED_MAX_PRICE_E8),
        1 => Just(10_000_000 * S),
        1 => Just(10_000_000 * S - 3),
        1 => (1i64..1_000_000_000).prop_map(|p| 1_000 * S + p), // off tick
        1 => Just(i64::MAX / TICK_E8 * TICK_E8),
    ]
}

/// Strengths: NaN, infinite, huge and out of −1 … 1 included (all refused but the last two).
fn strength() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => -1.0f64..=1.0,
        1 => Just(f64::NAN),
        1 => Just(-0.0),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(1.5),
        1 => Just(-3.0),
        1 => Just(f64::INFINITY),
        1 => Just(-1e300),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (price(), price(), strength())
            .prop_map(|(bid_e8, ask_e8, strength)| Step::Signal { bid_e8, ask_e8, strength }),
        2 => (price(), price()).prop_map(|(bid_e8, ask_e8)| Step::Md { bid_e8, ask_e8 }),
        3 => Just(Step::Tick),
        1 => Just(Step::Kill),
    ]
}

/// A clock that mostly moves forward by up to 50 ms and sometimes jumps back (up to 1 s, or
/// all the way to 0). (A jump to near `u64::MAX` overflows `now_ns + cancel_after_ns` in
/// `Execution::place`: a clock 292 years ahead, reported but not exercised here.)
fn clock_step() -> impl Strategy<Value = i64> {
    prop_oneof![
        8 => 0i64..50 * MS as i64,
        2 => -(1_000 * MS as i64)..0,
        1 => Just(i64::MIN),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn execution_under_a_backwards_clock_and_hostile_inputs(
        steps in proptest::collection::vec((step(), clock_step()), 1..60),
    ) {
        let mut x = exec();
        let mut now: u64 = 1_000 * MS;
        let mut killed = false;
        let mut seq = 0u64;
        for (st, dt) in steps {
            now = if dt >= 0 { now.saturating_add(dt as u64) } else { now.saturating_sub(dt.unsigned_abs()) };
            seq += 1;
            let mut out = ExecActions::new();
            match st {
                Step::Signal { bid_e8, ask_e8, strength } => {
                    let sig = Signal {
                        instrument_id: 1,
                        best_bid_e8: bid_e8,
                        best_ask_e8: ask_e8,
                        microprice_e8: bid_e8 / 2 + ask_e8 / 2,
                        strength,
                        stamps: Stamps { recv_ns: now, ..Default::default() },
                        ..Default::default()
                    };
                    x.on_signal(&sig, now, &mut out);
                }
                Step::Md { bid_e8, ask_e8 } => {
                    x.on_md(&touch(seq, now, bid_e8, ask_e8), now)
                }
                Step::Tick => x.on_tick(now, &mut out),
                Step::Kill => {
                    killed = true;
                    x.on_kill(now, &mut out);
                }
            }
            for a in out.iter() {
                match *a {
                    ExecAction::SendNew { price_e8, qty_e8, side: sd, .. } => {
                        prop_assert!(!killed, "SendNew after the kill switch: {a:?}");
                        prop_assert!(price_e8 > 0, "bad price: {a:?}");
                        // Off-tick touches are refused: every price is on tick.
                        prop_assert!(price_e8 % TICK_E8 == 0, "off tick: {a:?}");
                        prop_assert_eq!(qty_e8, QTY_E8);
                        prop_assert!(sd == side::BUY || sd == side::SELL);
                    }
                    ExecAction::SendModify { price_e8, qty_e8, .. } => {
                        prop_assert!(!killed, "SendModify after the kill switch: {a:?}");
                        prop_assert!(price_e8 > 0, "bad price: {a:?}");
                        prop_assert!(price_e8 % TICK_E8 == 0, "off tick: {a:?}");
                        prop_assert!(qty_e8 > 0);
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A signal on the book that `execution_never_sends_an_off_tick_price` uses, with the touch
/// on the tick: Execution places at least one order from it (so a refusal below is the input's
/// doing, not a quiet strategy).
fn tradeable_signal(strength: f64) -> Signal {
    let (bid, ask) = (1_000 * S, 1_002 * S + 20_000_000);
    Signal {
        instrument_id: 1,
        best_bid_e8: bid,
        best_ask_e8: ask,
        microprice_e8: bid / 2 + ask / 2,
        strength,
        stamps: Stamps {
            recv_ns: 1_000 * MS,
            ..Default::default()
        },
        ..Default::default()
    }
}

fn new_orders(out: &ExecActions) -> Vec<i64> {
    out.iter()
        .filter_map(|a| match *a {
            ExecAction::SendNew { price_e8, .. } => Some(price_e8),
            _ => None,
        })
        .collect()
}

#[test]
fn execution_survives_i64_extreme_prices() {
    let mut x = exec();
    let mut out = ExecActions::new();
    x.on_md(&touch(1, 10 * MS, i64::MAX, i64::MAX), 10 * MS);
    let sig = Signal {
        instrument_id: 1,
        best_bid_e8: i64::MAX - 1,
        best_ask_e8: i64::MAX,
        microprice_e8: i64::MAX,
        strength: 1.0,
        ..Default::default()
    };
    x.on_signal(&sig, 11 * MS, &mut out);
    x.on_tick(12 * MS, &mut out);
    // Both sides are off the tick: the signal is refused and counted.
    assert!(new_orders(&out).is_empty(), "{out:?}");
    assert_eq!(x.metrics().signals_refused, 1);
    // The largest on-tick touch: a sell ladder above it would overflow; it stops instead.
    let top = i64::MAX / TICK_E8 * TICK_E8;
    let sig = Signal {
        best_bid_e8: top - TICK_E8,
        best_ask_e8: top,
        microprice_e8: top - TICK_E8 / 2,
        strength: -1.0,
        ..sig
    };
    x.on_signal(&sig, 13 * MS, &mut out);
    assert!(
        new_orders(&out).iter().all(|&p| p > 0 && p % TICK_E8 == 0),
        "{out:?}"
    );
}

#[test]
fn execution_survives_an_infinite_signal_strength() {
    let mut x = exec();
    let mut out = ExecActions::new();
    for strength in [f64::INFINITY, f64::NEG_INFINITY, 1e300, f64::NAN, 1.5] {
        x.on_signal(&tradeable_signal(strength), 1_000 * MS, &mut out);
    }
    assert!(out.is_empty(), "refused signals act on nothing: {out:?}");
    assert_eq!(x.metrics().signals_refused, 5);
    x.on_signal(&tradeable_signal(0.7286740035093164), 1_000 * MS, &mut out);
    assert!(
        !new_orders(&out).is_empty(),
        "the same book with a sane strength trades"
    );
}

#[test]
fn execution_never_sends_an_off_tick_price() {
    let mut x = exec();
    let mut out = ExecActions::new();
    // The touch one unit (10^-8 rupee) off the tick: refused, counted, nothing sent.
    let off = Signal {
        best_bid_e8: 1_000 * S + 1,
        ..tradeable_signal(0.7286740035093164)
    };
    x.on_signal(&off, 1_000 * MS, &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(x.metrics().signals_refused, 1);
    // An off-tick book is not taken either; the on-tick signal then quotes on the tick.
    x.on_md(
        &touch(1, 1_000 * MS, 1_000 * S + 1, 1_002 * S + 3),
        1_000 * MS,
    );
    x.on_signal(&tradeable_signal(0.7286740035093164), 1_000 * MS, &mut out);
    let prices = new_orders(&out);
    assert!(!prices.is_empty());
    assert!(prices.iter().all(|&p| p % TICK_E8 == 0), "{prices:?}");
}
