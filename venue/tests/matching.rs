//! Matching rules, with expected values worked out by hand in the comments.

use runtime::msg::{order_type, side, tif};
use venue::config::{parse_instruments, MatchingRules, RateLimits};
use venue::matching::{
    cancel_reason, reject, ExecEvent, MatchingEngine, Modify, NewOrder, OrderRef,
};

const S: i64 = 100_000_000; // 1.0 in e8

fn instruments() -> Vec<venue::config::Instrument> {
    // Instrument 1: tick 0.10 at 1,000-5,000, lot 1, band ±10 % of 1,000 → 900 .. 1,100.
    // Instrument 2: futures lot 75, tick 0.10 (index 15,000-30,000), ±3 % of 25,000 → 24,250 .. 25,750.
    parse_instruments(
        r#"(effective_date: "2025-04-15", instruments: [
        (id: 1, symbol: "EQ", segment: EquityIntraday,
         ticks: [(below: Some("250"), tick: "0.01"), (below: Some("1000"), tick: "0.05"), (below: Some("5000"), tick: "0.10"), (below: None, tick: "1")],
         lot_size: "1", band: Percent("10"), reference_price: "1000"),
        (id: 2, symbol: "FUT", segment: Futures,
         ticks: [(below: Some("15000"), tick: "0.05"), (below: Some("30000"), tick: "0.10"), (below: None, tick: "0.20")],
         lot_size: "75", band: Percent("3"), reference_price: "25000"),
    ])"#,
        "test",
    )
    .unwrap()
}

fn engine() -> MatchingEngine {
    MatchingEngine::new(
        &instruments(),
        RateLimits {
            per_second: 1000,
            per_minute: 100_000,
            per_day: 1_000_000,
            count_cancels: false,
        },
        MatchingRules::default(),
    )
}

fn limit(account: u32, clid: u64, sd: u8, px: i64, qty: i64) -> NewOrder {
    NewOrder {
        account,
        stp_id: account as u64 * 1000,
        client_order_id: clid,
        instrument_id: 1,
        side: sd,
        order_type: order_type::LIMIT,
        tif: tif::DAY,
        price_e8: px * S,
        qty_e8: qty * S,
    }
}

fn fills(ev: &[ExecEvent]) -> Vec<(u32, u64, i64, i64, i64, bool)> {
    ev.iter()
        .filter_map(|e| match *e {
            ExecEvent::Fill {
                account,
                client_order_id,
                price_e8,
                qty_e8,
                leaves_qty_e8,
                maker,
                ..
            } => Some((
                account,
                client_order_id,
                price_e8 / S,
                qty_e8 / S,
                leaves_qty_e8 / S,
                maker,
            )),
            _ => None,
        })
        .collect()
}

fn rejected(ev: &[ExecEvent]) -> Option<u16> {
    ev.iter().find_map(|e| match *e {
        ExecEvent::Rejected { reason, .. } | ExecEvent::CancelRejected { reason, .. } => {
            Some(reason)
        }
        _ => None,
    })
}

#[test]
fn price_time_priority_and_resting_price() {
    let mut e = engine();
    let mut ev = Vec::new();
    // Three sellers: A at 1001 (first), B at 1000, C at 1000 (after B).
    e.new_order(&limit(1, 1, side::SELL, 1001, 5), 1, &mut ev);
    e.new_order(&limit(2, 1, side::SELL, 1000, 5), 2, &mut ev);
    e.new_order(&limit(3, 1, side::SELL, 1000, 5), 3, &mut ev);
    ev.clear();
    // A buyer of 12 at 1002 takes the best price first (B then C at 1000, time order),
    // then A at 1001: 5 + 5 + 2. Every trade prints at the resting order's price.
    e.new_order(&limit(4, 9, side::BUY, 1002, 12), 4, &mut ev);
    assert_eq!(
        fills(&ev),
        vec![
            (2, 1, 1000, 5, 0, true),
            (4, 9, 1000, 5, 7, false),
            (3, 1, 1000, 5, 0, true),
            (4, 9, 1000, 5, 2, false),
            (1, 1, 1001, 2, 3, true),
            (4, 9, 1001, 2, 0, false),
        ]
    );
    // Fully filled: no Open for the buyer; A rests with 3.
    assert!(!ev.iter().any(|e| matches!(e, ExecEvent::Open { .. })));
    assert_eq!(e.best(1), (None, Some((1001 * S, 3 * S))));
    e.check_invariants().unwrap();
}

#[test]
fn partial_fill_then_rest_and_events_in_order() {
    let mut e = engine();
    let mut ev = Vec::new();
    e.new_order(&limit(1, 1, side::SELL, 1000, 4), 1, &mut ev);
    ev.clear();
    e.new_order(&limit(2, 7, side::BUY, 1000, 10), 2, &mut ev);
    // Accepted, maker fill, taker fill (leaves 6), Trade, Open with 6, then levels.
    assert!(matches!(
        ev[0],
        ExecEvent::Accepted {
            client_order_id: 7,
            ..
        }
    ));
    assert_eq!(
        fills(&ev),
        vec![(1, 1, 1000, 4, 0, true), (2, 7, 1000, 4, 6, false)]
    );
    assert!(
        matches!(ev[3], ExecEvent::Trade { qty_e8, aggressor_side, .. } if qty_e8 == 4 * S && aggressor_side == side::BUY)
    );
    assert!(matches!(ev[4], ExecEvent::Open { leaves_qty_e8, .. } if leaves_qty_e8 == 6 * S));
    assert_eq!(e.best(1), (Some((1000 * S, 6 * S)), None));
    // Levels published: ask 1000 gone, bid 1000 now 6.
    let levels: Vec<_> = ev
        .iter()
        .filter_map(|e| match *e {
            ExecEvent::Level {
                side,
                price_e8,
                qty_e8,
                ..
            } => Some((side, price_e8 / S, qty_e8 / S)),
            _ => None,
        })
        .collect();
    assert_eq!(levels, vec![(side::SELL, 1000, 0), (side::BUY, 1000, 6)]);
    e.check_invariants().unwrap();
}

#[test]
fn self_trade_prevention_cancels_resting_order() {
    let mut e = engine();
    let mut ev = Vec::new();
    // Same PAN (stp_id 1000) rests a sell at 1000 (5), another account at 1000 behind it (3).
    e.new_order(&limit(1, 1, side::SELL, 1000, 5), 1, &mut ev);
    e.new_order(&limit(2, 1, side::SELL, 1000, 3), 2, &mut ev);
    ev.clear();
    let mut buy = limit(1, 2, side::BUY, 1000, 4);
    buy.stp_id = 1000;
    e.new_order(&buy, 3, &mut ev);
    // Own resting order cancelled (reason SELF_TRADE), then 3 trade with account 2, rest 1 rests.
    assert!(ev.iter().any(|e| matches!(e,
        ExecEvent::Cancelled { account: 1, client_order_id: 1, reason, cancelled_qty_e8, .. }
            if *reason == cancel_reason::SELF_TRADE && *cancelled_qty_e8 == 5 * S)));
    assert_eq!(
        fills(&ev),
        vec![(2, 1, 1000, 3, 0, true), (1, 2, 1000, 3, 1, false)]
    );
    assert_eq!(e.best(1), (Some((1000 * S, S)), None));
    assert_eq!(e.stats().self_trade_cancels, 1);
    e.check_invariants().unwrap();
}

#[test]
fn tick_lot_and_band_rejections() {
    let mut e = engine();
    let mut ev = Vec::new();
    // 1000.05 is not a multiple of 0.10.
    let mut o = limit(1, 1, side::BUY, 1000, 1);
    o.price_e8 = 1000 * S + 5_000_000;
    e.new_order(&o, 1, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::BAD_TICK));
    // Band 900 .. 1,100 inclusive: 1,100 accepted, 1,100.10 refused, 899.90 refused.
    ev.clear();
    e.new_order(&limit(1, 2, side::SELL, 1100, 1), 2, &mut ev);
    assert_eq!(rejected(&ev), None);
    ev.clear();
    let mut o = limit(1, 3, side::SELL, 1100, 1);
    o.price_e8 += 10_000_000;
    e.new_order(&o, 3, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::OUTSIDE_BAND));
    ev.clear();
    let mut o = limit(1, 4, side::BUY, 899, 1);
    o.price_e8 += 90_000_000;
    e.new_order(&o, 4, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::OUTSIDE_BAND));
    // Futures: lot 75; 100 is not a multiple. ±3 % of 25,000 → 25,750 ok, 25,750.10 refused.
    ev.clear();
    let mut f = limit(1, 5, side::BUY, 25_000, 100);
    f.instrument_id = 2;
    e.new_order(&f, 5, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::BAD_LOT));
    ev.clear();
    f.qty_e8 = 150 * S;
    f.price_e8 = 25_750 * S + 10_000_000;
    e.new_order(&f, 6, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::OUTSIDE_BAND));
    ev.clear();
    f.price_e8 = 25_750 * S;
    e.new_order(&f, 7, &mut ev);
    assert_eq!(rejected(&ev), None);
    // A modification into the band's outside is refused too.
    ev.clear();
    e.modify(
        &Modify {
            order: OrderRef {
                account: 1,
                client_order_id: 5,
                venue_order_id: 0,
            },
            price_e8: 25_760 * S,
            qty_e8: 150 * S,
        },
        8,
        &mut ev,
    );
    assert_eq!(rejected(&ev), Some(reject::OUTSIDE_BAND));
    // Unknown instrument, bad side, zero quantity.
    ev.clear();
    let mut u = limit(1, 9, side::BUY, 1000, 1);
    u.instrument_id = 99;
    e.new_order(&u, 9, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::UNKNOWN_INSTRUMENT));
    ev.clear();
    e.new_order(&limit(1, 10, 7, 1000, 1), 10, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::BAD_SIDE));
    ev.clear();
    e.new_order(&limit(1, 11, side::BUY, 1000, 0), 11, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::BAD_QTY));
}

#[test]
fn rate_limits_per_second_minute_day() {
    let mut e = MatchingEngine::new(
        &instruments(),
        RateLimits {
            per_second: 3,
            per_minute: 5,
            per_day: 7,
            count_cancels: false,
        },
        MatchingRules::default(),
    );
    let mut ev = Vec::new();
    let t0 = 1_000_000_000u64;
    let mut clid = 0;
    let mut send = |e: &mut MatchingEngine, now: u64, ev: &mut Vec<ExecEvent>| {
        clid += 1;
        ev.clear();
        e.new_order(&limit(1, clid, side::BUY, 950, 1), now, ev);
        rejected(ev)
    };
    // 3 per second: the 4th within the same instant is refused.
    for _ in 0..3 {
        assert_eq!(send(&mut e, t0, &mut ev), None);
    }
    assert_eq!(send(&mut e, t0, &mut ev), Some(reject::RATE_LIMIT_SECOND));
    // Tokens refill continuously: after 1/3 s one token is back.
    assert_eq!(send(&mut e, t0 + 333_333_334, &mut ev), None);
    // 4 used of the minute's 5; one more after another 1/3 s, then the minute is empty.
    assert_eq!(send(&mut e, t0 + 666_666_667, &mut ev), None);
    assert_eq!(
        send(&mut e, t0 + 2_000_000_000, &mut ev),
        Some(reject::RATE_LIMIT_MINUTE)
    );
    // Another account has its own budget.
    ev.clear();
    e.new_order(&limit(2, 1, side::BUY, 950, 1), t0, &mut ev);
    assert_eq!(rejected(&ev), None);
    // After a minute the minute bucket is full again (5), but the day allows 7 in all: 5 used.
    let t1 = t0 + 61_000_000_000;
    assert_eq!(send(&mut e, t1, &mut ev), None);
    assert_eq!(send(&mut e, t1, &mut ev), None);
    assert_eq!(send(&mut e, t1, &mut ev), Some(reject::RATE_LIMIT_DAY));
}

#[test]
fn modification_priority_rules_and_cap() {
    let rules = MatchingRules {
        max_modifications_per_order: 2,
        ..MatchingRules::default()
    };
    let mut e = MatchingEngine::new(
        &instruments(),
        RateLimits {
            per_second: 1000,
            per_minute: 100_000,
            per_day: 1_000_000,
            count_cancels: false,
        },
        rules,
    );
    let mut ev = Vec::new();
    // Bids at 1000: A (10), then B (10).
    e.new_order(&limit(1, 1, side::BUY, 1000, 10), 1, &mut ev);
    e.new_order(&limit(2, 1, side::BUY, 1000, 10), 2, &mut ev);
    let a = OrderRef {
        account: 1,
        client_order_id: 1,
        venue_order_id: 0,
    };
    // Quantity decrease keeps priority: A still first.
    ev.clear();
    e.modify(
        &Modify {
            order: a,
            price_e8: 1000 * S,
            qty_e8: 6 * S,
        },
        3,
        &mut ev,
    );
    assert!(
        matches!(ev[0], ExecEvent::Modified { priority_kept: true, leaves_qty_e8, .. } if leaves_qty_e8 == 6 * S)
    );
    let mut orders = Vec::new();
    e.level_orders(1, side::BUY, 1000 * S, &mut orders);
    assert_eq!(
        orders.iter().map(|o| o.account).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert_eq!(e.best(1).0, Some((1000 * S, 16 * S)));
    // Quantity increase loses priority: A goes behind B.
    ev.clear();
    e.modify(
        &Modify {
            order: a,
            price_e8: 1000 * S,
            qty_e8: 8 * S,
        },
        4,
        &mut ev,
    );
    assert!(matches!(
        ev[0],
        ExecEvent::Modified {
            priority_kept: false,
            ..
        }
    ));
    e.level_orders(1, side::BUY, 1000 * S, &mut orders);
    assert_eq!(
        orders.iter().map(|o| o.account).collect::<Vec<_>>(),
        vec![2, 1]
    );
    // Third modification exceeds the cap of 2.
    ev.clear();
    e.modify(
        &Modify {
            order: a,
            price_e8: 1000 * S,
            qty_e8: 7 * S,
        },
        5,
        &mut ev,
    );
    assert_eq!(rejected(&ev), Some(reject::MODIFY_CAP));
    // B: a price change that crosses a resting ask trades at the ask's price.
    e.new_order(&limit(3, 1, side::SELL, 1001, 4), 6, &mut ev);
    ev.clear();
    let b = OrderRef {
        account: 2,
        client_order_id: 1,
        venue_order_id: 0,
    };
    e.modify(
        &Modify {
            order: b,
            price_e8: 1002 * S,
            qty_e8: 10 * S,
        },
        7,
        &mut ev,
    );
    assert_eq!(
        fills(&ev),
        vec![(3, 1, 1001, 4, 0, true), (2, 1, 1001, 4, 6, false)]
    );
    assert_eq!(e.best(1), (Some((1002 * S, 6 * S)), None));
    // Quantity at or below the filled part is refused: B filled 4, new total 4.
    ev.clear();
    e.modify(
        &Modify {
            order: b,
            price_e8: 1002 * S,
            qty_e8: 4 * S,
        },
        8,
        &mut ev,
    );
    assert_eq!(rejected(&ev), Some(reject::QTY_BELOW_FILLED));
    e.check_invariants().unwrap();
}

#[test]
fn priority_reset_setting_applies_to_decrease() {
    let rules = MatchingRules {
        keep_priority_on_qty_decrease: false,
        ..MatchingRules::default()
    };
    let mut e = MatchingEngine::new(&instruments(), RateLimits::default(), rules);
    let mut ev = Vec::new();
    e.new_order(&limit(1, 1, side::SELL, 1000, 10), 1, &mut ev);
    e.new_order(&limit(2, 1, side::SELL, 1000, 10), 2, &mut ev);
    e.modify(
        &Modify {
            order: OrderRef {
                account: 1,
                client_order_id: 1,
                venue_order_id: 0,
            },
            price_e8: 1000 * S,
            qty_e8: 5 * S,
        },
        3,
        &mut ev,
    );
    let mut orders = Vec::new();
    e.level_orders(1, side::SELL, 1000 * S, &mut orders);
    assert_eq!(
        orders.iter().map(|o| o.account).collect::<Vec<_>>(),
        vec![2, 1]
    );
}

#[test]
fn cancel_ioc_market_and_unknown_orders() {
    let mut e = engine();
    let mut ev = Vec::new();
    e.new_order(&limit(1, 1, side::SELL, 1000, 5), 1, &mut ev);
    ev.clear();
    // IOC buy 8 at 1000: 5 fill, 3 cancelled as IOC remainder, nothing rests.
    let mut ioc = limit(2, 1, side::BUY, 1000, 8);
    ioc.tif = tif::IOC;
    e.new_order(&ioc, 2, &mut ev);
    assert_eq!(fills(&ev).len(), 2);
    assert!(ev.iter().any(
        |e| matches!(e, ExecEvent::Cancelled { reason, cancelled_qty_e8, .. }
        if *reason == cancel_reason::IOC_REMAINDER && *cancelled_qty_e8 == 3 * S)
    ));
    assert_eq!(e.best(1), (None, None));
    // Market sell into an empty book: cancelled whole.
    ev.clear();
    let mut mkt = limit(2, 2, side::SELL, 0, 2);
    mkt.order_type = order_type::MARKET;
    e.new_order(&mkt, 3, &mut ev);
    assert!(ev.iter().any(|e| matches!(e, ExecEvent::Cancelled { reason, .. } if *reason == cancel_reason::MARKET_REMAINDER)));
    // Cancel of a filled order: too late.
    ev.clear();
    e.cancel(
        &OrderRef {
            account: 1,
            client_order_id: 1,
            venue_order_id: 0,
        },
        4,
        &mut ev,
    );
    assert_eq!(rejected(&ev), Some(reject::UNKNOWN_ORDER));
    // Cancel by venue id, and only by the owner.
    ev.clear();
    e.new_order(&limit(1, 2, side::BUY, 990, 5), 5, &mut ev);
    let vid = ev
        .iter()
        .find_map(|e| match *e {
            ExecEvent::Accepted { venue_order_id, .. } => Some(venue_order_id),
            _ => None,
        })
        .unwrap();
    ev.clear();
    e.cancel(
        &OrderRef {
            account: 9,
            client_order_id: 0,
            venue_order_id: vid,
        },
        6,
        &mut ev,
    );
    assert_eq!(rejected(&ev), Some(reject::UNKNOWN_ORDER));
    ev.clear();
    e.cancel(
        &OrderRef {
            account: 1,
            client_order_id: 0,
            venue_order_id: vid,
        },
        7,
        &mut ev,
    );
    assert!(
        matches!(ev[0], ExecEvent::Cancelled { reason, .. } if reason == cancel_reason::USER_REQUESTED)
    );
    assert_eq!(e.best(1), (None, None));
    // The freed slot's id is not reusable: a stale id is unknown.
    e.new_order(&limit(1, 3, side::BUY, 990, 5), 8, &mut ev);
    ev.clear();
    e.cancel(
        &OrderRef {
            account: 1,
            client_order_id: 0,
            venue_order_id: vid,
        },
        9,
        &mut ev,
    );
    assert_eq!(rejected(&ev), Some(reject::UNKNOWN_ORDER));
    // Duplicate live client order id.
    ev.clear();
    e.new_order(&limit(1, 3, side::BUY, 991, 5), 10, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::DUPLICATE_CLIENT_ORDER_ID));
    e.check_invariants().unwrap();
}

#[test]
fn book_limits_reject_instead_of_growing() {
    let rules = MatchingRules {
        max_levels_per_side: 2,
        ..MatchingRules::default()
    };
    let mut e = MatchingEngine::new(
        &instruments(),
        RateLimits {
            per_second: 1000,
            per_minute: 100_000,
            per_day: 1_000_000,
            count_cancels: false,
        },
        rules,
    );
    let mut ev = Vec::new();
    e.new_order(&limit(1, 1, side::BUY, 990, 1), 1, &mut ev);
    e.new_order(&limit(1, 2, side::BUY, 991, 1), 2, &mut ev);
    e.new_order(&limit(1, 3, side::BUY, 991, 1), 3, &mut ev); // same level: fine
    ev.clear();
    e.new_order(&limit(1, 4, side::BUY, 992, 1), 4, &mut ev);
    assert_eq!(rejected(&ev), Some(reject::BOOK_FULL));
}
