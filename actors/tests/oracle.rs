//! Oracle on hand-built books; expected values worked out by hand.
mod common;
use actors::oracle::{book_metrics, LevelWeights, Oracle, OracleConfig, StrengthMode};
use common::*;
use runtime::msg::{md_flags, BOOK_DEPTH};

fn cfg_two_levels() -> OracleConfig {
    OracleConfig {
        levels: 2,
        // λ = ln 2: weights 1, 0.5 (each level counts half the one before).
        weights: LevelWeights::ExpDecay {
            lambda: std::f64::consts::LN_2,
        },
        strength: StrengthMode::Tanh { gain: 2.0 },
        emit_threshold: 0.05,
    }
}

/// bids 100.00×10, 99.95×20; asks 100.05×30, 100.10×10; a third level that
/// `levels = 2` must ignore.
fn known_book(seq: u64, recv_ns: u64) -> runtime::msg::MdEvent {
    book(
        seq,
        recv_ns,
        &[(100.00, 10.0), (99.95, 20.0), (99.90, 1000.0)],
        &[(100.05, 30.0), (100.10, 10.0), (100.15, 1.0)],
    )
}

#[test]
fn wobi_imbalance_microprice_on_a_known_book() {
    let cfg = cfg_two_levels();
    let w = cfg.weights_array().unwrap();
    assert!((w[0] - 1.0).abs() < 1e-12 && (w[1] - 0.5).abs() < 1e-12);
    let m = book_metrics(&known_book(1, 1).book, 2, &w).unwrap();
    // WOBI = (1·(10−30) + 0.5·(20−10)) / (1·(10+30) + 0.5·(20+10)) = (−20+5)/(40+15) = −15/55
    assert!((m.wobi - (-15.0 / 55.0)).abs() < 1e-12, "wobi {}", m.wobi);
    // Unweighted: (10+20 − (30+10)) / 70 = −10/70 → −14.2857 %
    assert!(
        (m.imbalance_pct - (-100.0 / 7.0)).abs() < 1e-9,
        "imb {}",
        m.imbalance_pct
    );
    // Microprice = (100.00·30 + 100.05·10)/40 = (3000 + 1000.5)/40 = 100.0125
    assert_eq!(m.microprice_e8, 10_001_250_000);
    // Per level: (10−30)/40 = −0.5; (20−10)/30 = 1/3; beyond `levels`: 0.
    assert!((m.level_imbalance[0] + 0.5).abs() < 1e-12);
    assert!((m.level_imbalance[1] - 1.0 / 3.0).abs() < 1e-12);
    assert_eq!(m.level_imbalance[2..], [0.0; BOOK_DEPTH - 2]);
}

#[test]
fn equal_weights_reduce_wobi_to_plain_imbalance() {
    let cfg = OracleConfig {
        levels: 3,
        weights: LevelWeights::ExpDecay { lambda: 0.0 },
        ..cfg_two_levels()
    };
    let w = cfg.weights_array().unwrap();
    let m = book_metrics(&known_book(1, 1).book, 3, &w).unwrap();
    // bids 10+20+1000 = 1030, asks 30+10+1 = 41: (1030−41)/(1071) = 989/1071
    assert!((m.wobi - 989.0 / 1071.0).abs() < 1e-12);
    assert!((m.imbalance_pct - 100.0 * 989.0 / 1071.0).abs() < 1e-9);
}

#[test]
fn signal_carries_metrics_and_recv_stamp() {
    let mut o = Oracle::new(cfg_two_levels()).unwrap();
    let mut ev = known_book(7, 123_456);
    ev.stamps.exchange_ns = 999;
    let s = o.on_md(&ev, 200_000).expect("first book always emits");
    assert_eq!(s.md_seq, 7);
    assert_eq!(
        s.stamps.recv_ns, 123_456,
        "recv_ns copied unchanged for tick-to-order"
    );
    assert_eq!(s.stamps.exchange_ns, 999);
    assert_eq!(s.stamps.publish_ns, 200_000);
    assert_eq!(s.best_bid_e8, e8(100.00));
    assert_eq!(s.best_ask_e8, e8(100.05));
    assert_eq!(s.best_bid_qty_e8, e8(10.0));
    assert_eq!(s.best_ask_qty_e8, e8(30.0));
    // tanh(2 · −15/55) = tanh(−0.5454…) ≈ −0.4971 (tanh x = (e^{2x}−1)/(e^{2x}+1),
    // e^{−1.0909} = 0.33596 → (0.33596−1)/(0.33596+1) = −0.49705)
    assert!(
        (s.strength - (-0.49705)).abs() < 1e-4,
        "strength {}",
        s.strength
    );
    assert!(s.strength < 0.0, "more ask liquidity → bearish");
}

#[test]
fn emits_only_on_threshold_move_or_price_change() {
    let mut o = Oracle::new(cfg_two_levels()).unwrap();
    assert!(o.on_md(&known_book(1, 1), 1).is_some());
    // Same book: nothing new.
    assert!(o.on_md(&known_book(2, 2), 2).is_none());
    // Touch bid 10 → 11: WOBI = (−19+5)/(41+15) = −0.25, strength tanh(−0.5) = −0.4621;
    // change 0.035 < 0.05 → suppressed.
    let mut ev = known_book(3, 3);
    ev.book.bids[0].qty_e8 = e8(11.0);
    assert!(o.on_md(&ev, 3).is_none());
    assert_eq!(o.suppressed(), 2);
    // Touch bid 10 → 30: WOBI = (0+5)/(60+15) = 1/15, strength tanh(0.1333) = +0.1326:
    // a move of 0.63 → emitted.
    ev.book.bids[0].qty_e8 = e8(30.0);
    let s = o.on_md(&ev, 4).expect("large strength move emits");
    assert!((s.wobi - 1.0 / 15.0).abs() < 1e-12);
    // Best ask price moves, quantities as before: emitted although strength is unchanged.
    ev.book.asks[0].price_e8 = e8(100.10);
    ev.book.asks[1].price_e8 = e8(100.15);
    let s = o.on_md(&ev, 5).expect("price change emits");
    assert_eq!(s.best_ask_e8, e8(100.10));
    assert_eq!(s.seq, 3, "signals are numbered densely");
}

#[test]
fn bad_books_produce_no_signal() {
    let mut o = Oracle::new(cfg_two_levels()).unwrap();
    let mut crossed = known_book(1, 1);
    crossed.flags = md_flags::CROSSED;
    assert!(o.on_md(&crossed, 1).is_none());
    let one_sided = book(2, 2, &[(100.0, 1.0)], &[]);
    assert!(o.on_md(&one_sided, 2).is_none());
    assert!(o.on_md(&trade(3, 3, 100.0, 1.0, true), 3).is_none());
}

#[test]
fn zscore_strength_is_zero_during_warmup_and_clipped_after() {
    let cfg = OracleConfig {
        strength: StrengthMode::ZScore {
            alpha: 0.5,
            clip: 2.0,
            warmup_events: 3,
        },
        emit_threshold: 0.0,
        ..cfg_two_levels()
    };
    let mut o = Oracle::new(cfg).unwrap();
    // Alternate WOBI between a = 1/15 (bid 30) and b = −15/55, then jump to all-bid.
    let mut ev = known_book(1, 1);
    let s1 = o.on_md(&ev, 1).unwrap();
    assert_eq!(s1.strength, 0.0, "warm-up");
    ev.book.bids[0].qty_e8 = e8(30.0);
    ev.book.bids[0].price_e8 = e8(100.01);
    let s2 = o.on_md(&ev, 2).unwrap();
    assert_eq!(s2.strength, 0.0, "warm-up");
    ev.book.asks[0].qty_e8 = e8(0.001);
    ev.book.asks[1].qty_e8 = e8(0.001);
    ev.book.bids[0].price_e8 = e8(100.02);
    let s3 = o.on_md(&ev, 3).unwrap();
    // EWMA with α = 0.5 (mean and variance include the current book):
    //   book 1: w = −15/55 = −0.272727 → μ = −0.272727, σ² = 0
    //   book 2: w = 5/75 = 0.066667, d = 0.339394 → μ = −0.103030,
    //           σ² = 0.5·(0 + 0.5·0.339394²) = 0.028797
    //   book 3: w = (29.999 + 0.5·19.999)/(30.001 + 0.5·20.001) = 0.999925,
    //           d = 1.102955 → μ = 0.448447, σ² = 0.5·(0.028797 + 0.5·1.102955²) = 0.318526
    //   z = (0.999925 − 0.448447)/√0.318526 = 0.977137; strength = z / clip(2) = 0.488568
    assert!((s3.strength - 0.488568).abs() < 1e-5, "{}", s3.strength);
    // A book far beyond the usual: z/clip > 1 is clipped to 1. Same book again
    // moves μ toward it, so alternate back to book 1's shape first.
    let mut o2 = Oracle::new(OracleConfig {
        strength: StrengthMode::ZScore {
            alpha: 0.1,
            clip: 1.0,
            warmup_events: 1,
        },
        emit_threshold: 0.0,
        ..cfg_two_levels()
    })
    .unwrap();
    let base = known_book(1, 1);
    for i in 0..20 {
        // WOBI alternates −15/55 and −14/56 (touch bid 10 ↔ 11): small variance.
        let mut b = base;
        b.book.bids[0].qty_e8 = e8(if i % 2 == 0 { 10.0 } else { 11.0 });
        b.book.bids[0].price_e8 = e8(100.0) - i;
        o2.on_md(&b, i as u64);
    }
    let mut far = base;
    far.book.asks[0].qty_e8 = e8(0.001);
    far.book.bids[0].price_e8 = e8(99.0);
    assert_eq!(o2.on_md(&far, 100).unwrap().strength, 1.0);
}

#[test]
fn bad_configuration_is_an_error_not_a_panic() {
    assert!(Oracle::new(OracleConfig {
        levels: 0,
        ..Default::default()
    })
    .is_err());
    assert!(Oracle::new(OracleConfig {
        levels: BOOK_DEPTH + 1,
        ..Default::default()
    })
    .is_err());
    let neg = OracleConfig {
        weights: LevelWeights::Explicit(vec![1.0, -1.0]),
        ..Default::default()
    };
    assert!(Oracle::new(neg).is_err());
    let zero = OracleConfig {
        weights: LevelWeights::Explicit(vec![]),
        ..Default::default()
    };
    assert!(Oracle::new(zero).is_err());
}
