//! Sentinel: lockdown on slow and missing acks, lifting, RTT percentiles, OTR,
//! risk limits and the heartbeat watchdog. Times in the comments are worked by hand.
use actors::sentinel::{LockdownReason, Sentinel, SentinelAction, SentinelActions, SentinelConfig};
use runtime::msg::{
    emergency_action, get_str, order_event_kind as oek, side, Emergency, OrderEvent,
};
use runtime::telemetry::{SentinelCheckpoint, CHECKPOINT_PENDING_ACKS};

const MS: u64 = 1_000_000;
const S: u64 = 1_000 * MS;
const E8: i64 = 100_000_000;

fn cfg() -> SentinelConfig {
    SentinelConfig {
        rtt_lockdown_ns: 20 * MS,
        healthy_period_ns: 2 * S,
        ack_give_up_ns: 10 * S,
        otr_min_orders: 1_000,
        ..Default::default()
    }
}

fn ev(kind: u8, cid: u64) -> OrderEvent {
    OrderEvent {
        kind,
        client_order_id: cid,
        side: side::BUY,
        price_e8: 100 * E8,
        qty_e8: E8,
        ltp_e8: 100 * E8,
        ..Default::default()
    }
}

fn sent(cid: u64, at_ns: u64) -> OrderEvent {
    OrderEvent {
        request_sent_ns: at_ns,
        ..ev(oek::SENT, cid)
    }
}

fn ack(kind: u8, cid: u64, at_ns: u64) -> OrderEvent {
    let mut e = ev(kind, cid);
    e.stamps.recv_ns = at_ns;
    e
}

fn fill(cid: u64, side_code: u8, qty: i64, price: i64) -> OrderEvent {
    OrderEvent {
        side: side_code,
        fill_qty_e8: qty * E8,
        fill_price_e8: price * E8,
        ..ev(oek::FILLED, cid)
    }
}

fn emergencies(out: &SentinelActions) -> Vec<Emergency> {
    out.iter()
        .filter_map(|a| match a {
            SentinelAction::Emergency(e) => Some(*e),
            _ => None,
        })
        .collect()
}

fn entered(out: &SentinelActions) -> Option<LockdownReason> {
    out.iter().find_map(|a| match a {
        SentinelAction::EnterLockdown { reason } => Some(*reason),
        _ => None,
    })
}

fn lifted(out: &SentinelActions) -> bool {
    out.iter()
        .any(|a| matches!(a, SentinelAction::LiftLockdown))
}

#[test]
fn fast_ack_measures_rtt_without_lockdown() {
    let mut s = Sentinel::new(cfg()).unwrap();
    let mut out = SentinelActions::new();
    s.on_order_event(&sent(1, 10 * MS), 10 * MS, &mut out);
    s.on_order_event(&ack(oek::ACCEPTED, 1, 15 * MS), 15 * MS, &mut out);
    // The later OPEN of the same order is not a second sample.
    s.on_order_event(&ack(oek::OPEN, 1, 16 * MS), 16 * MS, &mut out);
    assert!(out.is_empty());
    let st = s.rtt_stats();
    assert_eq!((st.latest_ns, st.samples), (5 * MS, 1));
    assert_eq!(s.pending_acks(), 0);
}

#[test]
fn slow_ack_trips_lockdown_and_it_lifts_after_the_healthy_period() {
    let mut s = Sentinel::new(cfg()).unwrap();
    let mut out = SentinelActions::new();
    s.on_order_event(&sent(1, MS), MS, &mut out);
    // Acknowledged at 26 ms: RTT 25 ms > 20 ms.
    s.on_order_event(&ack(oek::ACCEPTED, 1, 26 * MS), 26 * MS, &mut out);
    assert_eq!(entered(&out), Some(LockdownReason::RttHigh));
    let e = emergencies(&out);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].action, emergency_action::LOCKDOWN);
    assert_eq!(get_str(&e[0].reason), "lockdown: rtt 25000 us > 20000 us");
    assert!(s.in_lockdown());
    // Healthy period 2 s from the bad sample at 26 ms: still locked at 2.026 s − 1 ns …
    out.clear();
    s.on_tick(26 * MS + 2 * S - 1, &mut out);
    assert!(out.is_empty() && s.in_lockdown());
    // … lifted at 2.026 s.
    s.on_tick(26 * MS + 2 * S, &mut out);
    assert!(lifted(&out));
    assert!(!s.in_lockdown());
    assert_eq!(s.stats().lockdowns, 1);
}

#[test]
fn a_silent_venue_trips_lockdown_from_the_tick() {
    let mut s = Sentinel::new(cfg()).unwrap();
    let mut out = SentinelActions::new();
    s.on_order_event(&sent(7, MS), MS, &mut out);
    // Waited exactly 20 ms at 21 ms: not yet beyond the threshold.
    s.on_tick(21 * MS, &mut out);
    assert!(out.is_empty());
    // 1 ns later it is.
    s.on_tick(21 * MS + 1, &mut out);
    assert_eq!(entered(&out), Some(LockdownReason::AckOverdue));
    // While the ack is outstanding it stays locked, however long.
    out.clear();
    s.on_tick(5 * S, &mut out);
    assert!(out.is_empty() && s.in_lockdown());
    // The ack arrives at 5 s (RTT 4.999 s, itself bad): lift 2 s after that.
    s.on_order_event(&ack(oek::OPEN, 7, 5 * S), 5 * S, &mut out);
    s.on_tick(7 * S - 1, &mut out);
    assert!(!lifted(&out));
    s.on_tick(7 * S, &mut out);
    assert!(lifted(&out));
}

#[test]
fn a_lost_ack_is_given_up_and_lockdown_lifts_later() {
    let mut s = Sentinel::new(cfg()).unwrap();
    let mut out = SentinelActions::new();
    s.on_order_event(&sent(1, 0), 0, &mut out);
    s.on_tick(30 * MS, &mut out);
    assert!(s.in_lockdown());
    // Given up after 10 s (bad at 10 s + 1 ns), lifted 2 s after that.
    s.on_tick(10 * S + 1, &mut out);
    assert_eq!(s.stats().acks_lost, 1);
    assert_eq!(s.pending_acks(), 0);
    out.clear();
    s.on_tick(12 * S, &mut out);
    assert!(!lifted(&out));
    s.on_tick(12 * S + 1, &mut out);
    assert!(lifted(&out));
}

#[test]
fn rtt_percentiles_nearest_rank() {
    let mut s = Sentinel::new(cfg()).unwrap();
    let mut out = SentinelActions::new();
    // RTTs 1, 2, …, 19 ms (under the threshold), in a scrambled order.
    let mut t = 0;
    for k in [
        7u64, 3, 19, 1, 11, 5, 13, 17, 2, 9, 4, 15, 6, 18, 8, 10, 12, 14, 16,
    ] {
        s.on_order_event(&sent(k, t), t, &mut out);
        s.on_order_event(&ack(oek::ACCEPTED, k, t + k * MS), t + k * MS, &mut out);
        t += S;
    }
    let st = s.rtt_stats();
    // n = 19: p50 = ⌈9.5⌉ = 10th smallest = 10 ms; p99 = ⌈18.81⌉ = 19th = 19 ms.
    assert_eq!(st.samples, 19);
    assert_eq!(st.p50_ns, 10 * MS);
    assert_eq!(st.p99_ns, 19 * MS);
    assert_eq!(st.latest_ns, 16 * MS);
    assert!(!s.in_lockdown());
}

#[test]
fn otr_counts_exemptions_and_locks_down_over_budget() {
    let c = SentinelConfig {
        otr_penalty_budget: 2.0,
        otr_min_orders: 5,
        ..cfg()
    };
    let mut s = Sentinel::new(c).unwrap();
    let mut out = SentinelActions::new();
    let mut t = 0;
    let mut send = |s: &mut Sentinel, out: &mut SentinelActions, cid: u64, price: i64| {
        let e = OrderEvent {
            price_e8: price,
            ltp_e8: 1_000 * E8,
            ..sent(cid, t)
        };
        s.on_order_event(&e, t, out);
        s.on_order_event(&ack(oek::ACCEPTED, cid, t + MS), t + MS, out);
        t += 10 * MS;
    };
    // 4 orders at LTP (exempt) and 5 at ₹1,010 (1 % away: penalty-relevant).
    for cid in 1..=4 {
        send(&mut s, &mut out, cid, 1_000 * E8);
    }
    for cid in 5..=9 {
        send(&mut s, &mut out, cid, 1_010 * E8);
    }
    // 5 penalty orders = otr_min_orders: not judged yet.
    assert_eq!((s.otr().orders_raw, s.otr().orders_penalty), (9, 5));
    assert!(!s.in_lockdown());
    // A cancel of a penalty order counts too: 6 penalty orders, 0 trades → 6 > 2.
    let cancel = OrderEvent {
        price_e8: 1_010 * E8,
        ltp_e8: 1_000 * E8,
        ..ev(oek::CANCEL_SENT, 5)
    };
    s.on_order_event(&cancel, 200 * MS, &mut out);
    assert_eq!(entered(&out), Some(LockdownReason::OtrBudget));
    assert_eq!(s.otr().otr_raw(), 10.0);
    // Three trades at 300 ms: after the 1st and 2nd the OTR is 6/1 and 6/2 = 3, still
    // over (bad at 300 ms); after the 3rd 6/3 = 2 ≤ 2. Lift 2 s after 300 ms.
    for cid in 1..=3 {
        s.on_order_event(&fill(cid, side::BUY, 1, 1_000), 300 * MS, &mut out);
    }
    assert_eq!(s.otr().otr_penalty(), 2.0);
    out.clear();
    s.on_tick(300 * MS + 2 * S - 1, &mut out);
    assert!(!lifted(&out));
    s.on_tick(300 * MS + 2 * S, &mut out);
    assert!(lifted(&out));
}

fn halts(out: &SentinelActions) -> Vec<String> {
    emergencies(out)
        .iter()
        .filter(|e| e.action == emergency_action::HALT_ALL)
        .map(|e| get_str(&e.reason))
        .collect()
}

#[test]
fn position_notional_and_loss_limits_halt_once_and_hold_lockdown() {
    let c = SentinelConfig {
        position_limit_e8: 10 * E8,
        notional_limit_e8: 1_500 * E8,
        daily_loss_limit_e8: 100 * E8,
        ..cfg()
    };
    let mut s = Sentinel::new(c).unwrap();
    let mut out = SentinelActions::new();
    // Buy 5 @ ₹100: position 5, notional ₹500, PnL 0: nothing.
    s.on_order_event(&fill(1, side::BUY, 5, 100), MS, &mut out);
    assert!(out.is_empty());
    // Mark ₹310: notional 5 × 310 = ₹1,550 > ₹1,500 → halt, and lockdown.
    s.on_mark(310 * E8, 2 * MS, &mut out);
    assert_eq!(halts(&out), ["notional 1550 > limit 1500"]);
    assert_eq!(entered(&out), Some(LockdownReason::NotionalLimit));
    let t = s.telemetry(2 * MS);
    assert_eq!(
        (t.lockdown, t.lockdown_reason, t.notional_e8),
        (1, 4, 1_550 * E8)
    );
    // Mark ₹79: PnL 5 × (79 − 100) = −₹105 < −₹100 → halt for loss (notional latched).
    out.clear();
    s.on_mark(79 * E8, 3 * MS, &mut out);
    assert_eq!(halts(&out), ["daily loss 105 > limit 100"]);
    // Buy 6 more: position 11 > 10 → halt for position. Repeating adds nothing.
    out.clear();
    s.on_order_event(&fill(2, side::BUY, 6, 79), 4 * MS, &mut out);
    s.on_order_event(&fill(3, side::BUY, 1, 79), 5 * MS, &mut out);
    assert_eq!(halts(&out), ["position 11 > limit 10"]);
    assert_eq!(s.stats().position_e8, 12 * E8);
    assert_eq!(s.stats().halts, 3);
    // While a limit is breached the lockdown holds, however long.
    s.on_tick(100 * S, &mut out);
    assert!(s.in_lockdown());
    // Flat again at ₹100 (sold 12 @ 100: PnL = −5·100 − 7·79 + 12·100 = +147): within
    // every limit; the lockdown lifts 2 s after the last bad observation.
    out.clear();
    s.on_mark(100 * E8, 101 * S, &mut out);
    let sell = OrderEvent {
        side: side::SELL,
        fill_qty_e8: 12 * E8,
        fill_price_e8: 100 * E8,
        ..ev(oek::FILLED, 4)
    };
    s.on_order_event(&sell, 101 * S, &mut out);
    assert_eq!(s.stats().pnl_e8, 147 * E8);
    s.on_tick(103 * S - 1, &mut out);
    assert!(s.in_lockdown());
    s.on_tick(103 * S, &mut out);
    assert!(lifted(&out));
}

/// Execution's correction to the venue's position (fills Sentinel never heard of): Sentinel
/// takes the absolute position, values the change at the report's mark (P&L unmoved, no
/// trade for the OTR), and a limit it breaches halts at once.
#[test]
fn a_position_correction_sets_the_position_and_its_limits_apply() {
    let c = SentinelConfig {
        position_limit_e8: 10 * E8,
        ..cfg()
    };
    let mut s = Sentinel::new(c).unwrap();
    let mut out = SentinelActions::new();
    // Bought 4 @ ₹100, marked ₹100.
    s.on_order_event(&fill(1, side::BUY, 4, 100), MS, &mut out);
    s.on_mark(100 * E8, MS, &mut out);
    let trades = s.stats().otr.trades;
    let fix = |position: i64, change: i64, mark: i64| OrderEvent {
        kind: oek::POSITION,
        qty_e8: position * E8,
        fill_qty_e8: change * E8,
        fill_price_e8: mark * E8,
        ..Default::default()
    };
    // The venue says 7 (Execution's own figure was 5: Sentinel had missed a fill too). The
    // absolute figure wins; 3 more at ₹100 moves no P&L.
    s.on_order_event(&fix(7, 2, 100), 2 * MS, &mut out);
    assert!(out.is_empty());
    assert_eq!((s.stats().position_e8, s.stats().pnl_e8), (7 * E8, 0));
    assert_eq!(s.stats().otr.trades, trades);
    // Mark ₹110: P&L 7 × 10 = ₹70.
    s.on_mark(110 * E8, 3 * MS, &mut out);
    assert_eq!(s.stats().pnl_e8, 70 * E8);
    // Short 12 at ₹110 (sold 19 the venue knows of): past the limit of 10 → halt.
    s.on_order_event(&fix(-12, -19, 110), 4 * MS, &mut out);
    assert_eq!(halts(&out), ["position 12 > limit 10"]);
    assert_eq!(
        (s.stats().position_e8, s.stats().pnl_e8),
        (-12 * E8, 70 * E8)
    );
}

#[test]
fn stalled_heartbeat_requests_one_restart() {
    let mut s = Sentinel::new(SentinelConfig {
        heartbeat_stall_ns: S,
        ..cfg()
    })
    .unwrap();
    let mut out = SentinelActions::new();
    s.on_heartbeat(2, 5, 0);
    s.on_heartbeat(3, 1, 0);
    s.on_heartbeat(2, 6, 500 * MS); // actor 2 alive at 0.5 s; actor 3 never moves again
    s.on_heartbeat(3, 1, 900 * MS);
    s.on_tick(S, &mut out);
    assert!(
        out.is_empty(),
        "actor 3 unchanged for exactly 1 s: not yet stalled"
    );
    s.on_tick(S + 1, &mut out);
    let e = emergencies(&out);
    assert_eq!(e.len(), 1);
    assert_eq!(
        (e[0].action, e[0].actor_index),
        (emergency_action::RESTART_ACTOR, 3)
    );
    assert_eq!(get_str(&e[0].reason), "actor 3 heartbeat stalled 1000 ms");
    // Actor 2 stalls at 1.5 s + 1 ns; actor 3 is not asked twice.
    out.clear();
    s.on_tick(1_500 * MS + 1, &mut out);
    let e = emergencies(&out);
    assert_eq!(e.len(), 1);
    assert_eq!(e[0].actor_index, 2);
    // Actor 3 comes back (restarted: its counter starts again at 0): re-armed,
    // stalls again 1 s later.
    out.clear();
    s.on_heartbeat(3, 0, 2 * S);
    s.on_tick(3 * S + 1, &mut out);
    assert_eq!(
        emergencies(&out)
            .iter()
            .filter(|e| e.actor_index == 3)
            .count(),
        1
    );
    assert_eq!(s.stats().restarts_requested, 3);
}

#[test]
fn inconsistent_config_is_rejected() {
    let bad = SentinelConfig {
        ack_give_up_ns: 10 * MS,
        rtt_lockdown_ns: 20 * MS,
        ..cfg()
    };
    assert!(Sentinel::new(bad).is_err());
    let bad = SentinelConfig {
        position_limit_e8: -1,
        ..cfg()
    };
    assert!(Sentinel::new(bad).is_err());
}

/// A restarted Sentinel carries on from its predecessor's checkpoint: the position it counts
/// against the limit, the cash behind the daily PnL, the OTR counts, and the halts already sent.
/// The acks a Sentinel waited for when it was killed are waited for by its successor, timed
/// from when their orders were sent: a late one still locks down, a lost one is still counted.
#[test]
fn a_restored_sentinel_times_the_acks_its_predecessor_waited_for() {
    let mut before = Sentinel::new(cfg()).unwrap();
    let mut out = SentinelActions::new();
    before.on_order_event(&sent(1, MS), MS, &mut out);
    before.on_order_event(&sent(2, 2 * MS), 2 * MS, &mut out);
    before.on_order_event(&sent(3, 3 * MS), 3 * MS, &mut out);
    before.on_order_event(&ack(oek::ACCEPTED, 2, 4 * MS), 4 * MS, &mut out);
    assert!(out.is_empty(), "2 ms round trip: nothing wrong");
    let cp = before.checkpoint(4, 1);
    let carried: Vec<(u64, u64)> = cp.pending_acks[..cp.pending_total as usize]
        .iter()
        .map(|a| (a.client_order_id, a.sent_ns))
        .collect();
    assert_eq!(carried, [(1, MS), (3, 3 * MS)], "outstanding, oldest first");

    // Order 1's ack comes 25 ms after its send: over the 20 ms limit, though the successor
    // started only 1 ms before it.
    let mut after = Sentinel::new(cfg()).unwrap();
    after.restore(&cp, 25 * MS, &mut out);
    assert!(out.is_empty(), "nothing overdue yet at restore");
    assert_eq!(after.pending_acks(), 2);
    after.on_order_event(&ack(oek::ACCEPTED, 1, 26 * MS), 26 * MS, &mut out);
    assert_eq!(entered(&out), Some(LockdownReason::RttHigh));
    assert_eq!(after.rtt_stats().latest_ns, 25 * MS);
    // One started from nothing has no send to time it from, and lets it by.
    let mut fresh = Sentinel::new(cfg()).unwrap();
    let mut fresh_out = SentinelActions::new();
    fresh.on_order_event(&ack(oek::ACCEPTED, 1, 26 * MS), 26 * MS, &mut fresh_out);
    assert!(fresh_out.is_empty());

    // Order 3's ack never comes: overdue, then given up and counted lost (10 s).
    let mut other = Sentinel::new(cfg()).unwrap();
    out.clear();
    other.restore(&cp, 5 * MS, &mut out);
    other.on_tick(3 * MS + 21 * MS, &mut out);
    assert_eq!(entered(&out), Some(LockdownReason::AckOverdue));
    other.on_tick(3 * MS + 10 * S + 1, &mut out);
    assert_eq!((other.pending_acks(), other.stats().acks_lost), (0, 2));
}

/// More acks outstanding than a checkpoint carries: the successor cannot time them all, so it
/// holds lockdown until those it knows of are answered. Counts read from the (shared, maybe
/// hostile) file are clamped.
#[test]
fn a_restored_sentinel_that_cannot_time_every_outstanding_ack_locks_down() {
    let mut before = Sentinel::new(cfg()).unwrap();
    let mut out = SentinelActions::new();
    let n = CHECKPOINT_PENDING_ACKS as u64 + 3;
    for cid in 1..=n {
        before.on_order_event(&sent(cid, MS), MS, &mut out);
    }
    assert!(out.is_empty());
    let cp = before.checkpoint(n, 1);
    assert_eq!(cp.pending_total, n);
    assert_eq!(
        cp.pending_acks[0].client_order_id, 1,
        "the oldest are carried"
    );

    let mut after = Sentinel::new(cfg()).unwrap();
    after.restore(&cp, 2 * MS, &mut out);
    assert_eq!(entered(&out), Some(LockdownReason::AckOverdue));
    assert_eq!(after.pending_acks(), CHECKPOINT_PENDING_ACKS);

    let hostile = SentinelCheckpoint {
        pending_total: u64::MAX,
        ..cp
    };
    let mut third = Sentinel::new(cfg()).unwrap();
    out.clear();
    third.restore(&hostile, 2 * MS, &mut out);
    assert_eq!(third.pending_acks(), CHECKPOINT_PENDING_ACKS);
    assert!(third.in_lockdown());
}

#[test]
fn a_restored_sentinel_carries_on_from_the_checkpoint() {
    let c = SentinelConfig {
        position_limit_e8: 10 * E8,
        notional_limit_e8: 0,
        daily_loss_limit_e8: 0,
        ..cfg()
    };
    let mut before = Sentinel::new(c.clone()).unwrap();
    let mut out = SentinelActions::new();
    // Orders 1 (at the LTP, ₹100) and 2 (₹102: 2 % away, outside the 0.75 % band, not
    // exempt) sent, order 1 cancelled; buy 4 @ ₹100 and buy 4 @ ₹101: position 8, cash −804;
    // OTR: 3 orders, 1 of them penalty-relevant, 2 trades.
    before.on_order_event(&sent(1, MS), MS, &mut out);
    let away = OrderEvent {
        price_e8: 102 * E8,
        ..sent(2, MS)
    };
    before.on_order_event(&away, MS, &mut out);
    before.on_order_event(&ev(oek::CANCEL_SENT, 1), 2 * MS, &mut out);
    before.on_order_event(&fill(2, side::BUY, 4, 100), 3 * MS, &mut out);
    before.on_order_event(&fill(3, side::BUY, 4, 101), 4 * MS, &mut out);
    before.on_mark(102 * E8, 5 * MS, &mut out);
    assert!(out.is_empty(), "within every limit");
    let cp = before.checkpoint(41, 7);
    assert_eq!((cp.orders_pos, cp.saves), (41, 7));
    assert_eq!(cp.cash_e8(), -804 * E8 as i128);

    let mut after = Sentinel::new(c.clone()).unwrap();
    after.restore(&cp, 6 * MS, &mut out);
    assert!(out.is_empty(), "nothing breached: no action");
    let (b, a) = (before.stats(), after.stats());
    // PnL at ₹102: 8 × 102 − 804 = +12.
    assert_eq!((a.position_e8, a.pnl_e8), (8 * E8, 12 * E8));
    assert_eq!(
        (a.position_e8, a.pnl_e8, a.otr),
        (b.position_e8, b.pnl_e8, b.otr)
    );
    assert_eq!(
        (a.otr.orders_raw, a.otr.orders_penalty, a.otr.trades),
        (3, 1, 2)
    );
    // Buy 3 more: 11 > 10 halts the restored Sentinel. One that started from zero would see
    // a position of 3 and let it through.
    let buy3 = fill(4, side::BUY, 3, 102);
    after.on_order_event(&buy3, 7 * MS, &mut out);
    assert_eq!(halts(&out), ["position 11 > limit 10"]);
    assert_eq!(entered(&out), Some(LockdownReason::PositionLimit));
    let mut fresh = Sentinel::new(c.clone()).unwrap();
    let mut fresh_out = SentinelActions::new();
    fresh.on_order_event(&buy3, 7 * MS, &mut fresh_out);
    assert!(halts(&fresh_out).is_empty());

    // The halt is latched in the next checkpoint: a successor holds lockdown at once (the
    // position is still over the limit) but does not send the halt a second time.
    let cp = after.checkpoint(42, 8);
    assert_eq!(cp.halted_limits, 1);
    let mut third = Sentinel::new(c).unwrap();
    out.clear();
    third.restore(&cp, 8 * MS, &mut out);
    assert_eq!(entered(&out), Some(LockdownReason::PositionLimit));
    assert!(third.in_lockdown());
    assert!(halts(&out).is_empty(), "the halt was already sent");
    assert_eq!(third.stats().halts, 1);
}
