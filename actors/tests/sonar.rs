//! Sonar: entropy of known sequences, hysteresis, and every gate check on its own.
mod common;
use actors::sonar::entropy::RollingEntropy;
use actors::sonar::{gate_check, gate_check_name, EntropySource, Regime, Sonar, SonarConfig};
use common::*;
use runtime::msg::{md_flags, md_kind, MdEvent};

#[test]
fn entropy_of_known_sequences() {
    let mut e = RollingEntropy::new(8);
    for _ in 0..8 {
        e.push(true);
    }
    // All one sign: p = 1 → H = −1·log₂1 = 0.
    assert_eq!(e.entropy(), 0.0);
    for i in 0..8 {
        e.push(i % 2 == 0);
    }
    // Balanced alternation: p = ½ each → H = −2·½·log₂½ = 1.
    assert!((e.entropy() - 1.0).abs() < 1e-12);
    for i in 0..8 {
        e.push(i % 4 != 0);
    }
    // 6 up, 2 down (3:1): H = −¾log₂¾ − ¼log₂¼ = 0.75·0.415037 + 0.25·2 = 0.311278 + 0.5 = 0.811278
    assert_eq!(e.counts(), (2, 6));
    assert!((e.entropy() - 0.811278).abs() < 1e-6, "{}", e.entropy());
}

#[test]
fn window_forgets_old_symbols() {
    let mut e = RollingEntropy::new(4);
    for up in [false, false, true, true, true, true] {
        e.push(up);
    }
    // Only the last four (all up) remain.
    assert_eq!(e.counts(), (0, 4));
    assert_eq!(e.entropy(), 0.0);
}

fn trade_cfg() -> SonarConfig {
    SonarConfig {
        source: EntropySource::TradeSigns,
        window: 4,
        min_samples: 4,
        attack_below: 0.5,
        veto_above: 0.95,
        min_dwell_ns: 0,
        stale_after_ns: 10_000 * MS,
        ..Default::default()
    }
}

/// Feed trades with the given aggressor signs; returns the regime after each.
fn feed(s: &mut Sonar, seq: &mut u64, signs: &[bool]) -> Vec<Regime> {
    signs
        .iter()
        .map(|&b| {
            *seq += 1;
            s.on_md(&trade(*seq, *seq * MS, 100.0, 1.0, b), *seq * MS)
                .regime
        })
        .collect()
}

#[test]
fn hysteresis_does_not_flap_around_one_threshold() {
    let mut s = Sonar::new(trade_cfg()).unwrap();
    let mut seq = 0;
    // Fewer than min_samples: stays Veto although all buys.
    assert_eq!(
        feed(&mut s, &mut seq, &[true, true, true]),
        [Regime::Veto; 3]
    );
    assert_eq!(s.entropy(), None);
    // 4th buy: H = 0 < 0.5 → Attack.
    assert_eq!(feed(&mut s, &mut seq, &[true]), [Regime::Attack]);
    // Window (T,T,T,F): 3:1, H = 0.811 < 0.95 → stays Attack.
    assert_eq!(feed(&mut s, &mut seq, &[false]), [Regime::Attack]);
    // Window (T,T,F,F): H = 1.0 > 0.95 → Veto.
    assert_eq!(feed(&mut s, &mut seq, &[false]), [Regime::Veto]);
    // Now entropy swings 1.0 ↔ 0.811 across veto_above again and again:
    // (T,F,F,T) 1.0; (F,F,T,T) 1.0; (F,T,T,T) 0.811; (T,T,T,F) 0.811; (T,T,F,F) 1.0 …
    // 0.811 is not below attack_below (0.5), so the regime stays Veto throughout.
    let swings = [
        true, true, true, false, false, true, true, true, false, false,
    ];
    assert_eq!(feed(&mut s, &mut seq, &swings), [Regime::Veto; 10]);
    assert_eq!(s.regime_changes, 2, "exactly Veto→Attack and Attack→Veto");
}

#[test]
fn minimum_dwell_holds_a_regime_until_it_elapses() {
    let cfg = SonarConfig {
        min_dwell_ns: 100 * MS,
        ..trade_cfg()
    };
    let mut s = Sonar::new(cfg).unwrap();
    // Four buys at t = 1..4 ms: first evaluation at t = 4 ms → Attack at once
    // (no regime held yet).
    for i in 1..=4u64 {
        s.on_md(&trade(i, i * MS, 100.0, 1.0, true), i * MS);
    }
    assert_eq!(s.regime(), Regime::Attack);
    // Two sells at t = 5, 6 ms: H = 1.0 > 0.95 but Attack held only 2 ms.
    s.on_md(&trade(5, 5 * MS, 100.0, 1.0, false), 5 * MS);
    let out = s.on_md(&trade(6, 6 * MS, 100.0, 1.0, false), 6 * MS);
    assert_eq!(out.regime, Regime::Attack);
    // t = 103.999 ms: 99.999 ms since entering Attack at 4 ms: still held.
    assert_eq!(s.on_tick(104 * MS - 1).regime, Regime::Attack);
    // t = 104 ms: dwell elapsed, entropy still 1.0 → Veto, reported as a change.
    let out = s.on_tick(104 * MS);
    assert_eq!(out.regime, Regime::Veto);
    assert!(out.changed);
    // Attack from 4 ms to 104 ms: 100 ms of the 103 ms since the first event (1 ms).
    assert_eq!(s.attack_ns(200 * MS), 100 * MS);
    assert_eq!(s.first_event_ns(), Some(MS));
}

fn gate_cfg() -> SonarConfig {
    SonarConfig {
        stale_after_ns: 50 * MS,
        tick_size_e8: e8(0.05),
        max_spread_ticks: 4,
        max_spread_bp: 0.0,
        max_exchange_lag_ns: 200 * MS,
        max_exchange_lead_ns: 10 * MS,
        max_exchange_backstep_ns: MS,
        ..Default::default()
    }
}

/// Sonar with one good book at t = 10 ms (gate open).
fn open_sonar() -> Sonar {
    let mut s = Sonar::new(gate_cfg()).unwrap();
    assert_eq!(
        s.gate_check(0),
        gate_check::STALE_DATA,
        "no data yet: closed"
    );
    let out = s.on_md(&touch(1, 10 * MS, 100.0, 100.05), 10 * MS);
    assert_eq!(out.gate_check, gate_check::NONE);
    assert!(out.changed);
    s
}

#[test]
fn feed_gap_closes_until_resync() {
    let mut s = open_sonar();
    let mut ev = touch(2, 11 * MS, 100.0, 100.05);
    ev.flags = md_flags::GAP;
    assert_eq!(s.on_md(&ev, 11 * MS).gate_check, gate_check::FEED_GAP);
    // A normal book after the gap does not reopen it …
    assert_eq!(
        s.on_md(&touch(3, 12 * MS, 100.0, 100.05), 12 * MS)
            .gate_check,
        gate_check::FEED_GAP
    );
    // … a resync book does.
    let mut ev = touch(4, 13 * MS, 100.0, 100.05);
    ev.flags = md_flags::RESYNC;
    assert_eq!(s.on_md(&ev, 13 * MS).gate_check, gate_check::NONE);
}

#[test]
fn stale_data_closes_after_the_bound() {
    let mut s = open_sonar();
    // Last event received at 10 ms, bound 50 ms: open through 60 ms, closed after.
    assert_eq!(s.on_tick(60 * MS).gate_check, gate_check::NONE);
    let out = s.on_tick(60 * MS + 1);
    assert_eq!(out.gate_check, gate_check::STALE_DATA);
    assert!(out.changed);
    // Fresh data reopens.
    assert_eq!(
        s.on_md(&touch(2, 70 * MS, 100.0, 100.05), 70 * MS)
            .gate_check,
        gate_check::NONE
    );
    // Feed's own stale flag closes too.
    let mut ev = touch(3, 71 * MS, 100.0, 100.05);
    ev.flags = md_flags::STALE;
    assert_eq!(s.on_md(&ev, 71 * MS).gate_check, gate_check::STALE_DATA);
}

#[test]
fn crossed_book_closes() {
    let mut s = open_sonar();
    assert_eq!(
        s.on_md(&touch(2, 11 * MS, 100.05, 100.05), 11 * MS)
            .gate_check,
        gate_check::CROSSED_BOOK
    );
    assert_eq!(
        s.on_md(&touch(3, 12 * MS, 100.0, 100.05), 12 * MS)
            .gate_check,
        gate_check::NONE
    );
    let mut ev = touch(4, 13 * MS, 100.0, 100.05);
    ev.flags = md_flags::CROSSED;
    assert_eq!(s.on_md(&ev, 13 * MS).gate_check, gate_check::CROSSED_BOOK);
}

#[test]
fn spread_bound_in_ticks_and_bp() {
    let mut s = open_sonar();
    // 4 ticks of 0.05 = 0.20: allowed; 0.25 is 5 ticks: too wide.
    assert_eq!(
        s.on_md(&touch(2, 11 * MS, 100.0, 100.20), 11 * MS)
            .gate_check,
        gate_check::NONE
    );
    assert_eq!(
        s.on_md(&touch(3, 12 * MS, 100.0, 100.25), 12 * MS)
            .gate_check,
        gate_check::SPREAD_TOO_WIDE
    );
    // An empty side cannot be quoted against.
    let one_sided = book(4, 13 * MS, &[(100.0, 1.0)], &[]);
    assert_eq!(
        s.on_md(&one_sided, 13 * MS).gate_check,
        gate_check::SPREAD_TOO_WIDE
    );
    // In basis points: 10 bp max; 100.00/100.15 spread 0.15 on mid 100.075 = 14.99 bp.
    let cfg = SonarConfig {
        max_spread_ticks: 0,
        max_spread_bp: 10.0,
        ..gate_cfg()
    };
    let mut s = Sonar::new(cfg).unwrap();
    assert_eq!(
        s.on_md(&touch(1, MS, 100.0, 100.05), MS).gate_check,
        gate_check::NONE
    ); // 5 bp
    assert_eq!(
        s.on_md(&touch(2, 2 * MS, 100.0, 100.15), 2 * MS).gate_check,
        gate_check::SPREAD_TOO_WIDE
    );
}

#[test]
fn insane_timestamps_close() {
    let mut s = open_sonar();
    // Receive time going backwards (9 ms after 10 ms).
    assert_eq!(
        s.on_md(&touch(2, 9 * MS, 100.0, 100.05), 12 * MS)
            .gate_check,
        gate_check::TIMESTAMP_INSANE
    );
    assert_eq!(
        s.on_md(&touch(3, 12 * MS, 100.0, 100.05), 12 * MS)
            .gate_check,
        gate_check::NONE
    );
    // Receive time in the future of now.
    assert_eq!(
        s.on_md(&touch(4, 20 * MS, 100.0, 100.05), 13 * MS)
            .gate_check,
        gate_check::TIMESTAMP_INSANE
    );

    // Exchange vs receive time with a wall-clock offset of 1,000 s:
    // recv 10 ms monotonic = 1,000.010 s wall.
    let mut s = Sonar::new(gate_cfg()).unwrap();
    s.set_wall_clock_offset(1_000_000 * MS as i64);
    let with_ex = |seq: u64, recv: u64, ex: u64| {
        let mut ev = touch(seq, recv, 100.0, 100.05);
        ev.stamps.exchange_ns = ex;
        ev
    };
    // Exchange 1,000.000 s → lag 10 ms ≤ 200 ms: sane.
    assert_eq!(
        s.on_md(&with_ex(1, 10 * MS, 1_000_000 * MS), 10 * MS)
            .gate_check,
        gate_check::NONE
    );
    // recv 1,000.300 s wall, exchange 1,000.050 s: lag 250 ms > 200 ms.
    assert_eq!(
        s.on_md(&with_ex(2, 300 * MS, 1_000_050 * MS), 300 * MS)
            .gate_check,
        gate_check::TIMESTAMP_INSANE
    );
    // recv 1,000.301 s, exchange 1,000.290 s: lag 11 ms: sane again.
    assert_eq!(
        s.on_md(&with_ex(3, 301 * MS, 1_000_290 * MS), 301 * MS)
            .gate_check,
        gate_check::NONE
    );
    // Exchange time 2 ms behind the previous event (backstep bound 1 ms).
    assert_eq!(
        s.on_md(&with_ex(4, 302 * MS, 1_000_288 * MS), 302 * MS)
            .gate_check,
        gate_check::TIMESTAMP_INSANE
    );
    // Exchange time 20 ms ahead of receive time (lead bound 10 ms).
    assert_eq!(
        s.on_md(&with_ex(5, 303 * MS, 1_000_323 * MS), 303 * MS)
            .gate_check,
        gate_check::TIMESTAMP_INSANE
    );
}

#[test]
fn ring_overrun_closes_until_a_fresh_book() {
    let mut s = open_sonar();
    let out = s.on_overrun(17, 11 * MS);
    assert_eq!(out.gate_check, gate_check::RING_OVERRUN);
    assert_eq!(s.lost_messages, 17);
    // A trade does not repair the book view.
    assert_eq!(
        s.on_md(&trade(2, 12 * MS, 100.0, 1.0, true), 12 * MS)
            .gate_check,
        gate_check::RING_OVERRUN
    );
    assert_eq!(
        s.on_md(&touch(3, 13 * MS, 100.0, 100.05), 13 * MS)
            .gate_check,
        gate_check::NONE
    );
    // A jump in the ring sequence (1 → 5, three lost) is an overrun the wrapper did not report;
    // with recovery_books = 2 the jumping book counts as the first clean one.
    let cfg = SonarConfig {
        overrun_recovery_books: 2,
        ..gate_cfg()
    };
    let mut s = Sonar::new(cfg).unwrap();
    s.on_md(&touch(1, MS, 100.0, 100.05), MS);
    assert_eq!(
        s.on_md(&touch(5, 2 * MS, 100.0, 100.05), 2 * MS).gate_check,
        gate_check::RING_OVERRUN
    );
    assert_eq!(s.lost_messages, 3);
    assert_eq!(
        s.on_md(&touch(6, 3 * MS, 100.0, 100.05), 3 * MS).gate_check,
        gate_check::NONE
    );
}

#[test]
fn disconnect_closes_until_resync() {
    let mut s = open_sonar();
    let status = MdEvent {
        seq: 2,
        kind: md_kind::STATUS,
        flags: md_flags::DISCONNECTED,
        stamps: runtime::msg::Stamps {
            recv_ns: 11 * MS,
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        s.on_md(&status, 11 * MS).gate_check,
        gate_check::FEED_DISCONNECTED
    );
    let mut ev = touch(3, 12 * MS, 100.0, 100.05);
    ev.flags = md_flags::RESYNC;
    assert_eq!(s.on_md(&ev, 12 * MS).gate_check, gate_check::NONE);
}

#[test]
fn corrupt_event_closes_until_a_clean_one() {
    let mut s = open_sonar();
    let mut ev = touch(2, 11 * MS, 100.0, 100.05);
    ev.flags = md_flags::CORRUPT;
    assert_eq!(s.on_md(&ev, 11 * MS).gate_check, gate_check::CORRUPT_DATA);
    assert_eq!(
        s.on_md(&touch(3, 12 * MS, 100.0, 100.05), 12 * MS)
            .gate_check,
        gate_check::NONE
    );
}

#[test]
fn first_failing_check_is_reported() {
    let mut s = open_sonar();
    // Gap (1) and crossed (3) together: the gap is reported, both are in the mask.
    let mut ev = touch(2, 11 * MS, 100.05, 100.0);
    ev.flags = md_flags::GAP;
    let out = s.on_md(&ev, 11 * MS);
    assert_eq!(out.gate_check, gate_check::FEED_GAP);
    assert_eq!(out.failing_mask, (1 << 1) | (1 << 3));
    let t = s.telemetry(11 * MS);
    assert_eq!(
        (
            t.gate_open,
            t.failing_check,
            t.failing_mask,
            t.gaps,
            t.crossed
        ),
        (0, 1, 0b1010, 1, 1)
    );
    // Resync while still crossed: crossed is next.
    let mut ev = touch(3, 12 * MS, 100.05, 100.0);
    ev.flags = md_flags::RESYNC;
    assert_eq!(s.on_md(&ev, 12 * MS).gate_check, gate_check::CROSSED_BOOK);
    assert_eq!(gate_check_name(gate_check::CROSSED_BOOK), "crossed_book");
}

#[test]
fn mid_moves_source_counts_only_changes() {
    let cfg = SonarConfig {
        window: 4,
        min_samples: 4,
        min_dwell_ns: 0,
        ..gate_cfg()
    };
    let mut s = Sonar::new(cfg).unwrap();
    // Mids: 100.025, same, up, up, same, up, up → 4 up-moves (unchanged mids skipped).
    let asks = [100.05, 100.05, 100.10, 100.15, 100.15, 100.20, 100.25];
    for (i, &a) in asks.iter().enumerate() {
        let t = (i as u64 + 1) * MS;
        s.on_md(&touch(i as u64 + 1, t, 100.0, a), t);
    }
    assert_eq!(s.samples(), 4);
    assert_eq!(s.entropy(), Some(0.0));
    assert_eq!(s.regime(), Regime::Attack);
    // Regime and gate are separate verdicts: the last book (100.00 / 100.25) is
    // 5 ticks wide, over this config's 4, so the gate is closed in Attack.
    let t = s.telemetry(7 * MS);
    assert_eq!(
        (t.regime, t.gate_open, t.failing_check),
        (runtime::telemetry::REGIME_ATTACK, 0, 4)
    );
    assert_eq!((t.events, t.md_seq), (7, 7));
}

#[test]
fn inconsistent_thresholds_are_rejected() {
    let bad = SonarConfig {
        attack_below: 0.9,
        veto_above: 0.8,
        ..Default::default()
    };
    assert!(Sonar::new(bad).is_err());
    let bad = SonarConfig {
        window: 8,
        min_samples: 9,
        ..Default::default()
    };
    assert!(Sonar::new(bad).is_err());
}
