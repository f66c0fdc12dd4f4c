//! The dated cost tables in config/costs against worked examples (figures from
//! shared/notes/india-market.md, worked by hand in the comments).
use actors::execution::costs::{CostError, CostSchedule, CostTable, Date, Segment, TradeSide};
use std::path::PathBuf;

fn schedule() -> CostSchedule {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/costs"));
    assert!(
        dir.is_dir(),
        "cost tables missing: expected {}",
        dir.display()
    );
    CostSchedule::load_dir(&dir).expect("config/costs loads")
}

fn d(s: &str) -> Date {
    Date::parse(s).unwrap()
}

const CRORE: f64 = 1e7;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn futures_round_trip_one_crore_april_2026_is_5_7_bp() {
    let s = schedule();
    let t = s.for_date(d("2026-04-01")).unwrap();
    let c = t.round_trip_inr(Segment::Futures, CRORE);
    // Buy and sell ₹1,00,00,000 each:
    //   STT 0.05 % of the sell           = ₹5,000
    //   exchange 0.00173 % × 2 sides     = ₹173 × 2 = ₹346
    //   IPFT 0.0001 % × 2                = ₹10 × 2 = ₹20
    //   SEBI 0.0001 % × 2                = ₹20
    //   stamp 0.002 % of the buy         = ₹200
    //   brokerage min(0.03 % = ₹3,000, ₹20) × 2 = ₹40
    //   GST 18 % × (40 + 346 + 20)       = ₹73.08
    //   total ₹5,699.08 = 5.699 bp of ₹1 crore (notes: ≈ 5.7 bp)
    assert!(close(c.stt, 5_000.0), "{c:?}");
    assert!(close(c.exchange, 346.0));
    assert!(close(c.ipft, 20.0));
    assert!(close(c.sebi, 20.0));
    assert!(close(c.stamp, 200.0));
    assert!(close(c.brokerage, 40.0));
    assert!(close(c.gst, 73.08));
    assert!(close(c.total(), 5_699.08));
    let bp = c.total() / CRORE * 1e4;
    assert!((bp - 5.7).abs() < 0.01, "{bp} bp");
}

#[test]
fn futures_before_april_2026_pay_the_old_stt() {
    let s = schedule();
    // 31 March 2026 is still the previous period: STT 0.02 % = ₹2,000, the rest as above:
    // 5,699.08 − 5,000 + 2,000 = ₹2,699.08.
    let t = s.for_date(d("2026-03-31")).unwrap();
    assert_eq!(t.effective_from, d("2024-10-01"));
    let c = t.round_trip_inr(Segment::Futures, CRORE);
    assert!(close(c.stt, 2_000.0));
    assert!(close(c.total(), 2_699.08));
    // Before the first table there is no answer, and the error says why.
    let err = s.for_date(d("2024-09-30")).unwrap_err();
    assert!(matches!(err, CostError::NoTableFor(..)), "{err}");
}

#[test]
fn equity_intraday_round_trip_one_crore_is_3_6_bp() {
    let t = schedule().for_date(d("2026-11-24")).unwrap().clone();
    let c = t.round_trip_inr(Segment::EquityIntraday, CRORE);
    //   STT 0.025 % of the sell          = ₹2,500
    //   exchange 0.00297 % × 2           = ₹297 × 2 = ₹594
    //   IPFT ₹20, SEBI ₹20 (as futures)
    //   stamp 0.003 % of the buy         = ₹300
    //   brokerage ₹20 × 2                = ₹40
    //   GST 18 % × (40 + 594 + 20)       = ₹117.72
    //   total ₹3,591.72 = 3.59 bp (notes: ≈ 3.6 bp)
    assert!(close(c.stt, 2_500.0));
    assert!(close(c.exchange, 594.0));
    assert!(close(c.stamp, 300.0));
    assert!(close(c.gst, 117.72));
    assert!(close(c.total(), 3_591.72));
    assert!((c.total() / CRORE * 1e4 - 3.6).abs() < 0.01);
}

#[test]
fn options_round_trip_and_small_ticket_brokerage() {
    let t = schedule().for_date(d("2026-04-06")).unwrap().clone();
    let c = t.round_trip_inr(Segment::Options, CRORE);
    //   STT 0.15 % of premium sold       = ₹15,000
    //   exchange 0.03503 % × 2           = ₹7,006
    //   IPFT 0.0005 % × 2                = ₹100
    //   SEBI ₹20, stamp 0.003 % = ₹300, brokerage flat ₹20 × 2 = ₹40
    //   GST 18 % × (40 + 7,006 + 20)     = ₹1,271.88
    //   total ₹23,737.88 = 23.7 bp of premium (notes: ≈ 23.8)
    assert!(close(c.total(), 23_737.88), "{}", c.total());
    // ₹10,000 ticket: flat brokerage ₹40 a round trip + 18 % GST on it = ₹47.20,
    // i.e. 47 bp before any tax (the notes' small-ticket warning).
    let small = t.round_trip_inr(Segment::Options, 10_000.0);
    assert!(close(small.brokerage * 1.18, 47.2));
}

#[test]
fn one_side_costs_depend_on_the_side() {
    let t = schedule().for_date(d("2026-05-01")).unwrap().clone();
    // Sell ₹1 lakh of futures: STT ₹50, no stamp; buy: stamp ₹2, no STT.
    let sell = t.side_costs_inr(Segment::Futures, TradeSide::Sell, 100_000.0);
    let buy = t.side_costs_inr(Segment::Futures, TradeSide::Buy, 100_000.0);
    assert!(close(sell.stt, 50.0) && sell.stamp == 0.0);
    assert!(close(buy.stamp, 2.0) && buy.stt == 0.0);
    // Brokerage below its cap: 0.03 % of ₹1 lakh = ₹30 → capped at ₹20; of ₹50,000 = ₹15.
    assert!(close(buy.brokerage, 20.0));
    let half = t.side_costs_inr(Segment::Futures, TradeSide::Buy, 50_000.0);
    assert!(close(half.brokerage, 15.0));
    // From price and quantity in e8: 100 units at ₹1,000 = ₹1 lakh.
    let e = t.fill_costs_inr(
        Segment::Futures,
        TradeSide::Sell,
        1_000 * 100_000_000,
        100 * 100_000_000,
    );
    assert!(close(e.total(), sell.total()));
}

#[test]
fn bad_tables_and_dates_are_clear_errors() {
    assert!(
        Date::parse("2026-02-29").is_err(),
        "2026 is not a leap year"
    );
    assert!(Date::parse("2028-02-29").is_ok());
    assert!(Date::parse("2026-4-1").is_err());
    assert!(Date::parse("yesterday").is_err());
    let s = schedule();
    let mut bad = s.tables()[0].clone();
    bad.futures.stt_sell_pct = -0.05;
    let err = bad.validate().unwrap_err().to_string();
    assert!(err.contains("Futures.stt_sell_pct"), "{err}");
    let text = "CostTable(name: \"x\")";
    assert!(matches!(
        CostTable::from_ron(text, "inline"),
        Err(CostError::Parse { .. })
    ));
    let dup = CostSchedule::new(vec![s.tables()[0].clone(), s.tables()[0].clone()]);
    assert!(matches!(dup, Err(CostError::DuplicateDate(..))));
}
