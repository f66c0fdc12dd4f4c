//! Chaos: the whole engine trading against the simulated venue while actors are SIGKILLed at
//! random (Execution among them, right after it sent an order) and the venue connection is cut
//! (the venue process SIGKILLed, or frozen with SIGSTOP and thawed). Afterwards, with the kill
//! switch set: every actor is back and beating, no order is left open, and the position every
//! component reports equals the sum of the fills in the order journal.
//!
//! `CHAOS_SECS` sets how long the chaos lasts (120 s by default, the CI version; `make chaos`
//! passes more); `CHAOS_SEED` replays a run (the seed is printed either way). The test runs under
//! a watchdog of `CHAOS_SECS` + 300 s and waits for conditions with deadlines.

mod common;
use common::*;

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use runtime::control::{actor_state, engine_state, ControlBlock};

use runtime::msg::{order_event_kind as oek, side, OrderEvent};

/// Seeded xorshift64*: the run is replayable from the printed seed.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const SENTINEL: usize = 3;
const EXECUTION: usize = 4;

fn signal(pid: u32, sig: i32) {
    assert_ne!(pid, 0);
    // Safety: kill(2) on a process of the engine under test (pid read just before).
    unsafe { libc::kill(pid as i32, sig) };
}

/// Position and fill count from summing the journal's fill records directly (independent of
/// `Journal::recover`): buys add, sells subtract, position corrections to the venue's
/// (POSITION, and POSITION_FIX of older journals) add their signed change.
fn journal_fill_sum(path: &Path) -> (i64, u64) {
    use actors::execution::journal::{
        jkind, FILE_MAGIC, HEADER_LEN as HEADER, RECORD_LEN, RECORD_MARKER as MARKER,
    };
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.len() >= HEADER && bytes[..8] == FILE_MAGIC);
    let (mut pos, mut fills) = (0i64, 0u64);
    for rec in bytes[HEADER..].chunks_exact(RECORD_LEN) {
        if u32::from_le_bytes(rec[..4].try_into().unwrap()) != MARKER {
            break;
        }
        let ev: OrderEvent = bytemuck::pod_read_unaligned(&rec[8..]);
        match ev.kind {
            oek::PARTIALLY_FILLED | oek::FILLED if ev.fill_qty_e8 != 0 => {
                fills += 1;
                pos += if ev.side == side::BUY {
                    ev.fill_qty_e8
                } else {
                    -ev.fill_qty_e8
                };
            }
            jkind::POSITION_FIX | oek::POSITION => pos += ev.fill_qty_e8,
            _ => {}
        }
    }
    (pos, fills)
}

fn all_running(c: &ControlBlock) -> bool {
    c.engine_state() != engine_state::HALTED
        && (0..c.actor_count()).all(|i| c.slot(i).state() == actor_state::RUNNING)
}

#[test]
fn chaos_kills_and_venue_cuts_leave_no_open_order_and_a_consistent_position() {
    let secs: u64 = std::env::var("CHAOS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let seed: u64 = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("chaos: CHAOS_SECS={secs} CHAOS_SEED={seed}");
    watchdog(Duration::from_secs(secs + 300), move || chaos(secs, seed));
}

fn chaos(secs: u64, seed: u64) {
    let mut rng = Rng(seed);
    // Restart intensity high enough that chaos itself never trips the escalation (tested in
    // engine.rs); everything else is the default topology's.
    let mut e = Engine::start("chaos", 10_000);
    let c = e.control();
    wait_until("every actor RUNNING", DEADLINE, || all_running(&c));
    let t0 = exec_t(&c).orders_sent;
    wait_until(
        "the strategy's first order",
        Duration::from_secs(90),
        || exec_t(&c).orders_sent > t0,
    );

    let start = Instant::now();
    let mut counts = [0u32; 4]; // actor kills, execution mid-order kills, venue kills, venue freezes
    let mut mid_order_hits = 0u32;
    while start.elapsed() < Duration::from_secs(secs) {
        e.assert_supervisor_alive();
        match rng.below(10) {
            0..=4 => {
                let i = rng.below(ACTORS.len() as u64) as usize;
                let pid = c.slot(i).pid();
                println!(
                    "{:>6.1}s kill {} ({pid})",
                    start.elapsed().as_secs_f64(),
                    ACTORS[i]
                );
                signal(pid, libc::SIGKILL);
                counts[0] += 1;
            }
            5..=6 => {
                // Kill Execution right after it sent an order: that order is live at the venue
                // (or in flight) and only the journal knows it.
                let sent = exec_t(&c).orders_sent;
                let end = Instant::now() + Duration::from_secs(5);
                let mut hit = false;
                while Instant::now() < end {
                    if exec_t(&c).orders_sent > sent {
                        hit = true;
                        break;
                    }
                    std::thread::sleep(Duration::from_micros(200));
                }
                let pid = c.slot(EXECUTION).pid();
                signal(pid, libc::SIGKILL);
                mid_order_hits += hit as u32;
                println!(
                    "{:>6.1}s kill execution ({pid}) {}",
                    start.elapsed().as_secs_f64(),
                    if hit {
                        "right after an order"
                    } else {
                        "(no order within 5 s)"
                    }
                );
                counts[1] += 1;
            }
            7..=8 => {
                let v = e.venue_pid().expect("a venue process");
                println!("{:>6.1}s kill venue ({v})", start.elapsed().as_secs_f64());
                signal(v, libc::SIGKILL);
                counts[2] += 1;
            }
            _ => {
                let v = e.venue_pid().expect("a venue process");
                let ms = 100 + rng.below(1400);
                println!(
                    "{:>6.1}s freeze venue ({v}) {ms} ms",
                    start.elapsed().as_secs_f64()
                );
                signal(v, libc::SIGSTOP);
                std::thread::sleep(Duration::from_millis(ms));
                signal(v, libc::SIGCONT);
                counts[3] += 1;
            }
        }
        // Wait for the engine to recover before the next blow (a blow while restarting tests the
        // supervisor's start path, not recovery), then a random pause.
        let sup = e.supervisor_pid();
        wait_until(
            "recovery: every actor RUNNING and a venue",
            DEADLINE,
            || {
                all_running(&c)
                    && children_of(sup)
                        .iter()
                        .any(|&p| cmdline(p).contains("venue-serve"))
            },
        );
        std::thread::sleep(Duration::from_millis(200 + rng.below(1800)));
    }
    println!(
        "chaos over after {:.0}s: {} actor kills, {} Execution kills ({} right after an order), \
         {} venue kills, {} venue freezes",
        start.elapsed().as_secs_f64(),
        counts[0],
        counts[1],
        mid_order_hits,
        counts[2],
        counts[3]
    );
    e.assert_supervisor_alive();

    // Settle: every actor back and beating, trading resumed (a new order after the chaos).
    wait_until("every actor RUNNING after the chaos", DEADLINE, || {
        all_running(&c)
    });
    let beats: Vec<u64> = (0..c.actor_count())
        .map(|i| c.slot(i).heartbeat())
        .collect();
    wait_until("every heartbeat to advance", DEADLINE, || {
        (0..c.actor_count()).all(|i| c.slot(i).heartbeat() > beats[i])
    });
    // A chaos that ends with a venue freeze, or an order whose ack died with a venue, leaves
    // Sentinel's lockdown on for its healthy period (2 s) after the last late or given-up (10
    // s) ack: it must lift by itself.
    wait_until(
        "Sentinel's lockdown lifted after the chaos",
        DEADLINE,
        || !c.lockdown().0,
    );
    let (code, out, err) = e.cli(&["status", "--json", "--sample-ms", "0"]);
    assert_eq!(code, 0, "{out}{err}");
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(status["state"], "RUNNING", "{out}");
    for a in status["actors"].as_array().unwrap() {
        assert_eq!(a["state"], "RUNNING", "{a}");
        assert!(a["pid"].as_u64().unwrap() > 0, "{a}");
        println!(
            "  {:<10} pid {:>7} generation {:>3} restarts {:>3}",
            a["name"].as_str().unwrap(),
            a["pid"],
            a["generation"],
            a["restarts"]
        );
    }
    let feed = feed_t(&c);
    let sonar = sonar_t(&c);
    println!(
        "feed (since its last start): md_seq {} venue_seq {} gaps {} resyncs {} reconnects {} \
         corrupt {} connected {}",
        feed.md_seq,
        feed.venue_seq,
        feed.gaps,
        feed.resyncs,
        feed.reconnects,
        feed.corrupt,
        feed.connected
    );
    println!(
        "sonar (since its last start): events {} gaps {} overruns {} overrun_lost {} corrupt {}",
        sonar.events, sonar.gaps, sonar.overruns, sonar.overrun_lost, sonar.corrupt
    );
    // Market data flows again: Feed reconnected and publishes, Sonar consumes.
    wait_until("Feed connected and publishing", DEADLINE, || {
        feed_t(&c).connected == 1
    });
    let (md0, ev0) = (feed_t(&c).md_seq, sonar_t(&c).events);
    wait_until("new market data through Feed and Sonar", DEADLINE, || {
        feed_t(&c).md_seq > md0 && sonar_t(&c).events > ev0
    });
    // No corrupt message was seen on the ring by its consumer.
    assert_eq!(sonar_t(&c).corrupt, 0, "Sonar saw corrupt md events");

    let x = exec_t(&c);
    println!(
        "execution (since its last start): orders_sent {} fills {} open {} position_e8 {} \
         blocked: regime {} gate {} lockdown {} kill {} nev {} rate {} otr {}",
        x.orders_sent,
        x.fills,
        x.open_orders,
        x.position_e8,
        x.blocked_by_regime,
        x.blocked_by_gate,
        x.blocked_by_lockdown,
        x.blocked_by_kill,
        x.blocked_by_nev,
        x.blocked_by_rate,
        x.blocked_by_otr
    );
    // Kill switch: Execution cancels what it has open and sends nothing new.
    let (code, out, err) = e.cli(&["kill", "--reason", "chaos over", "--by", "chaos-test"]);
    assert_eq!(code, 0, "{out}{err}");
    // Every actor halts, the cockpit's process included.
    let end = Instant::now() + DEADLINE;
    while !(0..c.actor_count()).all(|i| c.slot(i).state() == actor_state::HALTED) {
        let states: Vec<String> = (0..c.actor_count())
            .map(|i| format!("{}={}", ACTORS[i], c.slot(i).state()))
            .collect();
        assert!(
            Instant::now() < end,
            "not every actor HALTED {DEADLINE:?} after the kill switch: {states:?}\n{}",
            e.log_tail()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    wait_until("Execution to report no open order", DEADLINE, || {
        exec_t(&c).open_orders == 0
    });
    let journal = e.journal();
    let mut recovered = None;
    wait_until("the journal to show every order closed", DEADLINE, || {
        let r = actors::execution::journal::Journal::recover(&journal).expect("journal");
        let done = r.open_orders.is_empty();
        recovered = Some(r);
        done
    });
    let r = recovered.unwrap();
    assert!(!r.damaged, "the journal is damaged");
    assert_eq!(r.ignored_tail_bytes, 0, "a torn record after a settled run");
    let (sum_e8, fills) = journal_fill_sum(&journal);
    let exec = exec_t(&c);
    let sentinel = sentinel_t(&c);
    println!(
        "journal: {} records, {} fills, position {} (independent sum {sum_e8}, {fills} fills); \
         Execution position {} open {}; Sentinel position {}",
        r.records, r.fills, r.position_e8, exec.position_e8, exec.open_orders, sentinel.position_e8
    );
    assert!(
        fills > 0,
        "no fill during the whole run: the chaos tested nothing"
    );
    assert_eq!(
        r.fills, fills,
        "Journal::recover and the raw records disagree on fills"
    );
    assert_eq!(
        r.position_e8, sum_e8,
        "position = sum of the journal's fills"
    );
    assert_eq!(
        exec.position_e8, sum_e8,
        "Execution's position = sum of fills"
    );
    // Sentinel too, though it was killed and Execution died between journal and ring: every
    // reconciliation tells it the absolute position (it publishes every 50 ms).
    wait_until("Sentinel's position to be the journal's", DEADLINE, || {
        sentinel_t(&c).position_e8 == sum_e8
    });
    e.assert_supervisor_alive();
}

/// Sentinel SIGKILLed five times while the engine trades: every incarnation carries on from the
/// risk state its predecessor saved, so once trading stops its OTR equals Execution's (which
/// never restarted) and its position the sum of the journal's fills, not the counts since its
/// own last start. (The default market sends orders in bursts, so the kills follow the first
/// orders at random intervals rather than waiting for an order each.)
#[test]
fn sigkilled_sentinel_carries_its_position_and_otr_on() {
    watchdog(Duration::from_secs(300), || {
        let mut rng = Rng(0x5E47_1E11);
        let mut e = Engine::start("sentinel-kills", 1_000);
        let c = e.control();
        wait_until("every actor RUNNING", DEADLINE, || all_running(&c));
        wait_until(
            "the strategy's first orders",
            Duration::from_secs(90),
            || exec_t(&c).orders_sent >= 2,
        );
        for round in 0..5 {
            let pid = c.slot(SENTINEL).pid();
            signal(pid, libc::SIGKILL);
            wait_until("Sentinel back", DEADLINE, || {
                let s = c.slot(SENTINEL);
                s.state() == actor_state::RUNNING && s.pid() != pid
            });
            // The slot's heartbeat counts on across incarnations: beating is its moving on.
            let beats = c.slot(SENTINEL).heartbeat();
            wait_until("the new Sentinel beating", DEADLINE, || {
                c.slot(SENTINEL).heartbeat() > beats
            });
            let x = exec_t(&c);
            println!(
                "kill {round}: Sentinel {pid} after {} orders, {} fills",
                x.orders_sent, x.fills
            );
            std::thread::sleep(Duration::from_millis(200 + rng.below(1800)));
        }
        let (code, out, err) = e.cli(&["kill", "--reason", "test over", "--by", "test"]);
        assert_eq!(code, 0, "{out}{err}");
        wait_until("Execution halted with no open order", DEADLINE, || {
            c.slot(EXECUTION).state() == actor_state::HALTED && exec_t(&c).open_orders == 0
        });
        let otr_raw = |x: &runtime::telemetry::ExecutionTelemetry| {
            (x.orders_sent + x.cancels_sent + x.modifies_sent) as f64 / x.fills.max(1) as f64
        };
        let (sum_e8, journal_fills) = journal_fill_sum(&e.journal());
        // Sentinel publishes every 50 ms; the cancels' reports may still be on the ring.
        let t0 = Instant::now();
        let (x, s) = loop {
            let (x, s) = (exec_t(&c), sentinel_t(&c));
            if (s.position_e8 == sum_e8 && s.otr_raw == otr_raw(&x)) || t0.elapsed() > DEADLINE {
                break (x, s);
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert_eq!(x.fills, journal_fills, "Execution never restarted");
        assert_eq!(
            (s.position_e8, s.otr_raw),
            (sum_e8, otr_raw(&x)),
            "Sentinel's position and OTR vs the journal's fills and Execution's counts ({} sent, \
             {} cancels, {} modifies, {} fills)",
            x.orders_sent,
            x.cancels_sent,
            x.modifies_sent,
            x.fills
        );
        e.assert_supervisor_alive();
    });
}
