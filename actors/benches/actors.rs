//! Per-call cost of the trading state machines, each beside its floor.
//!
//! `cargo bench -p actors --bench actors` prints HdrHistogram percentiles (ns)
//! of single calls timed with `Instant` pairs, next to the cost of an empty
//! timed call (the measurement floor), and the journal append beside a raw
//! `write` of the same bytes (its physical floor). A last section runs the
//! 200 ms cancel deadline in a busy poll loop on the real clock and reports
//! how late the cancels left (state machine and loop only, no rings or I/O).
use actors::execution::costs::{CostSchedule, Date};
use actors::execution::journal::{FsyncPolicy, Journal, RECORD_LEN};
use actors::execution::nev::NevConfig;
use actors::execution::timers::TimerWheel;
use actors::execution::{ExecActions, Execution, ExecutionConfig, Gates, VenueEvent};
use actors::oracle::{Oracle, OracleConfig};
use actors::sonar::{Regime, Sonar, SonarConfig};
use hdrhistogram::Histogram;
use runtime::msg::{md_kind, BookTop, Level, MdEvent, OrderEvent, Signal, Stamps};
use std::hint::black_box;
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

const N: usize = 200_000;

fn report(name: &str, h: &Histogram<u64>) {
    println!(
        "{name:<44} p50 {:>7} p99 {:>7} p99.9 {:>7} max {:>9} ns  (n={})",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
        h.len()
    );
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 10_000_000_000, 3).unwrap()
}

fn time<F: FnMut(usize)>(name: &str, mut f: F) {
    let mut h = hist();
    for i in 0..N {
        let t = Instant::now();
        f(i);
        let dt = t.elapsed().as_nanos() as u64;
        h.record(dt.max(1)).unwrap();
    }
    report(name, &h);
}

fn books() -> Vec<MdEvent> {
    // A random walk of 5-level books, 1 ms apart (deterministic LCG).
    let mut x = 42u64;
    let mut rnd = move || {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        x >> 33
    };
    let mut bid = 20_000i64;
    (0..N as u64)
        .map(|i| {
            bid += (rnd() % 3) as i64 - 1;
            let mut b = BookTop {
                bid_levels: 5,
                ask_levels: 5,
                ..Default::default()
            };
            for k in 0..5 {
                b.bids[k] = Level {
                    price_e8: (bid - k as i64) * 5_000_000,
                    qty_e8: (1 + rnd() % 20) as i64 * 100_000_000,
                };
                b.asks[k] = Level {
                    price_e8: (bid + 1 + k as i64) * 5_000_000,
                    qty_e8: (1 + rnd() % 20) as i64 * 100_000_000,
                };
            }
            MdEvent {
                seq: i + 1,
                stamps: Stamps {
                    recv_ns: (i + 1) * 1_000_000,
                    ..Default::default()
                },
                instrument_id: 1,
                kind: md_kind::BOOK,
                book: b,
                ..Default::default()
            }
        })
        .collect()
}

fn main() {
    let evs = books();
    println!("-- per call, {N} calls each (ns; an Instant pair is the floor)");
    time("floor: empty timed call", |i| {
        black_box(i);
    });
    time("floor: copy one MdEvent (592 B)", |i| {
        black_box(evs[i]);
    });
    let mut oracle = Oracle::new(OracleConfig::default()).unwrap();
    time("Oracle::on_md (5 levels)", |i| {
        black_box(oracle.on_md(&evs[i], evs[i].stamps.recv_ns));
    });
    let mut sonar = Sonar::new(SonarConfig::default()).unwrap();
    time("Sonar::on_md", |i| {
        black_box(sonar.on_md(&evs[i], evs[i].stamps.recv_ns));
    });

    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/costs"));
    let table = CostSchedule::load_dir(&dir)
        .unwrap()
        .for_date(Date::parse("2026-04-01").unwrap())
        .unwrap()
        .clone();
    let cfg = ExecutionConfig {
        nev: NevConfig {
            alpha_ticks_at_full_strength: 200.0,
            ..Default::default()
        },
        rate: actors::execution::rate::RateConfig {
            per_second: 0,
            per_minute: 0,
            per_day: 0,
        },
        otr_min_orders: u64::MAX / 4,
        ..Default::default()
    };
    let open = Gates {
        regime: Regime::Attack,
        gate_check: 0,
        lockdown: false,
    };
    let mut out = ExecActions::new();
    let sigs: Vec<Signal> = evs
        .iter()
        .filter_map(|e| Oracle::new(OracleConfig::default()).unwrap().on_md(e, 0))
        .collect();
    // Veto: the signal is evaluated and refused at the first gate.
    let mut x = Execution::new(cfg.clone(), table.clone()).unwrap();
    time("Execution::on_signal, regime Veto (refused)", |i| {
        x.on_signal(&sigs[i % sigs.len()], i as u64 * 1_000_000, &mut out);
        out.clear();
    });
    // Attack: NEV for every rung, orders placed; fills close them so the table never fills.
    let mut x = Execution::new(cfg.clone(), table.clone()).unwrap();
    x.on_gates(open, 0, &mut out);
    let mut ids = Vec::with_capacity(64);
    time("Execution::on_signal, Attack (NEV, some place)", |i| {
        let now = i as u64 * 1_000_000;
        x.on_signal(&sigs[i % sigs.len()], now, &mut out);
        out.clear();
        // Untimed part of the loop body still counts; keep it small: fill at most a few.
        x.open_order_ids(&mut ids);
        for &c in ids.iter().take(4) {
            x.on_venue(
                &VenueEvent::Fill {
                    client_order_id: c,
                    price_e8: 100_000_000_000,
                    qty_e8: 100_000_000,
                    leaves_qty_e8: 0,
                },
                now,
                &mut out,
            );
        }
        out.clear();
    });
    println!(
        "   (of those {N} signals, {} placed orders)",
        x.metrics().orders_sent
    );
    let mut x = Execution::new(cfg.clone(), table.clone()).unwrap();
    time("Execution::on_tick, nothing due", |i| {
        x.on_tick(i as u64 * 1_000, &mut out);
    });
    let mut w = TimerWheel::new(1_000_000, 512, 256);
    time("TimerWheel insert + expire (1 timer)", |i| {
        let now = i as u64 * 1_000_000;
        w.insert(now + 200_000_000, i as u64).unwrap();
        w.expire(now, |_, _| true);
    });

    println!(
        "-- journal append vs a raw write of the same {RECORD_LEN} bytes (page cache, no fsync)"
    );
    let tmp = std::env::temp_dir().join(format!("actors-bench-{}", std::process::id()));
    let (mut j, _) = Journal::open(&tmp.with_extension("journal"), FsyncPolicy::Never).unwrap();
    let ev = OrderEvent {
        client_order_id: 1,
        kind: 1,
        ..Default::default()
    };
    time("Journal::append (Never)", |i| {
        j.append(&ev, i as u64).unwrap();
    });
    let mut raw = std::fs::File::create(tmp.with_extension("raw")).unwrap();
    let bytes = [7u8; RECORD_LEN];
    time("floor: File::write_all of the same bytes", |_| {
        raw.write_all(&bytes).unwrap();
    });
    let _ = std::fs::remove_file(tmp.with_extension("journal"));
    let _ = std::fs::remove_file(tmp.with_extension("raw"));

    println!(
        "-- 200 ms cancel deadline in a busy poll loop on the real clock (state machine only)"
    );
    let mut x = Execution::new(
        ExecutionConfig {
            max_open_orders: 64,
            ..cfg
        },
        table,
    )
    .unwrap();
    x.on_gates(open, 0, &mut out);
    let t0 = Instant::now();
    let now = || t0.elapsed().as_nanos() as u64;
    let mut placed = 0u64;
    let mut next_place = 0u64;
    let end = 3_000_000_000u64; // 3 s
    loop {
        let t = now();
        if t > end {
            break;
        }
        if t >= next_place {
            // One order every 5 ms, each at a new price (a rising market).
            let mut s = sigs[0];
            s.best_bid_e8 = 100_000_000_000 + placed as i64 * 5_000_000;
            s.best_ask_e8 = s.best_bid_e8 + 5_000_000;
            s.microprice_e8 = s.best_bid_e8 + 2_500_000;
            s.strength = 0.5;
            x.on_signal(&s, t, &mut out);
            placed += 1;
            next_place = t + 5_000_000;
        }
        x.on_tick(t, &mut out);
        // The venue confirms cancels at once, so the table frees up.
        let cancels: Vec<u64> = out
            .iter()
            .filter_map(|a| match *a {
                actors::execution::ExecAction::SendCancel { client_order_id } => {
                    Some(client_order_id)
                }
                _ => None,
            })
            .collect();
        out.clear();
        for c in cancels {
            x.on_venue(&VenueEvent::Cancelled { client_order_id: c }, t, &mut out);
        }
        out.clear();
    }
    let m = x.metrics();
    println!(
        "orders placed {}, open at the end {}, blocked {:?}",
        m.orders_sent,
        x.open_orders(),
        m.blocked
    );
    println!(
        "deadline cancels {:>6}: lateness p50 {} ns, p99 {} ns, max {} ns (goal: p99 < 1 ms)",
        m.timer_cancels,
        m.cancel_lateness.p50_ns,
        m.cancel_lateness.p99_ns,
        m.cancel_lateness.max_ns
    );
}
