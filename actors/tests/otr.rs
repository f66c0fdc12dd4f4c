//! OTR exemption bands, slabs and counting, worked by hand.
use actors::execution::costs::Segment;
use actors::execution::otr::{penalty_paise_per_order, OtrBands, OtrCounter};

fn e8(x: f64) -> i64 {
    (x * 1e8).round() as i64
}

#[test]
fn cash_and_futures_band_is_0_75_pct_of_ltp() {
    let b = OtrBands::default();
    let ltp = e8(1_000.0);
    // 0.75 % of ₹1,000 = ₹7.50: 1,007.50 and 992.50 are inside (edge included) …
    for seg in [
        Segment::EquityIntraday,
        Segment::EquityDelivery,
        Segment::Futures,
    ] {
        assert!(b.is_exempt(seg, e8(1_007.50), ltp));
        assert!(b.is_exempt(seg, e8(992.50), ltp));
        // … one paisa beyond is not.
        assert!(!b.is_exempt(seg, e8(1_007.51), ltp));
        assert!(!b.is_exempt(seg, e8(992.49), ltp));
    }
    // Unknown LTP: cannot prove the exemption.
    assert!(!b.is_exempt(Segment::Futures, e8(1_000.0), 0));
}

#[test]
fn options_band_is_40_pct_or_20_rupees_whichever_wider() {
    let b = OtrBands::default();
    // Premium ₹10: 40 % = ₹4 < ₹20, so ±₹20: 30.00 inside, 30.01 outside.
    assert!(b.is_exempt(Segment::Options, e8(30.00), e8(10.0)));
    assert!(b.is_exempt(Segment::Options, e8(0.05), e8(10.0)));
    assert!(!b.is_exempt(Segment::Options, e8(30.01), e8(10.0)));
    // Premium ₹100: 40 % = ₹40 > ₹20: 140.00 and 60.00 inside, 140.01 outside.
    assert!(b.is_exempt(Segment::Options, e8(140.0), e8(100.0)));
    assert!(b.is_exempt(Segment::Options, e8(60.0), e8(100.0)));
    assert!(!b.is_exempt(Segment::Options, e8(140.01), e8(100.0)));
}

#[test]
fn penalty_slabs() {
    assert_eq!(penalty_paise_per_order(49.99), 0);
    assert_eq!(penalty_paise_per_order(50.0), 2);
    assert_eq!(penalty_paise_per_order(249.9), 2);
    assert_eq!(penalty_paise_per_order(250.0), 10);
    assert_eq!(penalty_paise_per_order(500.0), 15);
    assert_eq!(penalty_paise_per_order(1_000.0), 20);
    assert_eq!(penalty_paise_per_order(2_000.0), 25);
}

#[test]
fn raw_and_penalty_ratios() {
    let mut c = OtrCounter::default();
    // 10 orders, 3 outside the band; 2 trades: raw 10/2 = 5, penalty 3/2 = 1.5.
    for i in 0..10 {
        c.record_order(i >= 3);
    }
    c.record_trade();
    c.record_trade();
    assert_eq!(c.otr_raw(), 5.0);
    assert_eq!(c.otr_penalty(), 1.5);
    // Two more penalty orders: 5/2 = 2.5.
    assert_eq!(c.projected_penalty(2), 2.5);
    assert!(c.allows(2, 2.5, 0));
    assert!(!c.allows(3, 2.5, 0)); // 6/2 = 3 > 2.5
    assert!(c.allows(3, 2.5, 6)); // still within the first 6 penalty orders
                                  // No trades: divide by 1.
    let mut z = OtrCounter::default();
    z.record_order(false);
    assert_eq!(z.otr_penalty(), 1.0);
    // Penalty estimate: OTR 60 with 60 penalty orders and 1 trade → 2 paise × 60 = ₹1.20.
    let p = OtrCounter {
        orders_raw: 60,
        orders_penalty: 60,
        trades: 1,
    };
    assert!((p.penalty_inr() - 1.2).abs() < 1e-9);
}
