//! Ring latency and throughput against the physical floor and peer queues, in one run on two
//! pinned cores (`make bench-ring`).
//!
//! Round trips (each timed individually into an HdrHistogram, after a warm-up):
//! - floor: one AtomicU64 ping-pong (store, then spin on load), the cost of moving one cache
//!   line to the other core and back;
//! - our SPSC ring between two threads and between two processes (this binary re-executes
//!   itself as the echo process, rings in a fresh /dev/shm/<engine>/ directory);
//! - rtrb, crossbeam-channel (busy `try_recv`), std::sync::mpsc (blocking `recv`).
//!
//! One-way throughput with 64-byte messages, single and batched (32), for our ring and rtrb.
//!
//! Each test runs `--reps` times (default 3), interleaved; the table shows the repetition with
//! the median p50. The last line is `ring_rtt_ratio_to_floor=<x> ring_vs_rtrb_throughput=<y>`:
//! x = our inter-process p50 round trip / the floor's p50, y = our single-message throughput /
//! rtrb's.
//!
//! Options (or environment): `--trips N` (RING_BENCH_TRIPS, default 1,000,000 round trips per
//! test; std mpsc uses N/50), `--messages N` (RING_BENCH_MESSAGES, default 20,000,000 per
//! throughput test), `--reps N` (RING_BENCH_REPS, default 3).
use std::hint::spin_loop;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use bytemuck::{Pod, Zeroable};
use hdrhistogram::Histogram;
use runtime::ring::{Consumer, Producer, Spsc};
use runtime::shm::ShmDir;

/// Round-trip message: 56 bytes, so with the slot's commit word it fills one cache line.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
struct Ping {
    seq: u64,
    body: [u64; 6],
}
runtime::shm_safe!(Ping);

/// Throughput message: 64 bytes.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
struct Msg64 {
    seq: u64,
    body: [u64; 7],
}
runtime::shm_safe!(Msg64);

const RTT_CAP: usize = 1024;
const TPUT_CAP: usize = 4096;
const BATCH: usize = 32;
const WARMUP_TRIPS: u64 = 20_000;
/// Give up on a wait after this long: a dead peer must not hang the benchmark.
const STALL_LIMIT: Duration = Duration::from_secs(20);
const CHILD_ARG: &str = "--ring-echo-child";

type PingRing = Spsc<Ping, RTT_CAP>;

struct Config {
    trips: u64,
    messages: u64,
    reps: usize,
    /// Run only tests whose name contains this (for tuning; the summary line needs all).
    only: Option<String>,
}

fn config() -> Config {
    let args: Vec<String> = std::env::args().collect();
    let get = |flag: &str, env: &str, default: u64| -> u64 {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
            .or_else(|| std::env::var(env).ok())
            .map(|v| {
                v.replace('_', "")
                    .parse()
                    .unwrap_or_else(|_| panic!("{flag}/{env}: not a number: {v}"))
            })
            .unwrap_or(default)
    };
    Config {
        trips: get("--trips", "RING_BENCH_TRIPS", 1_000_000).max(1_000),
        messages: get("--messages", "RING_BENCH_MESSAGES", 20_000_000).max(10_000),
        reps: get("--reps", "RING_BENCH_REPS", 3).clamp(1, 9) as usize,
        only: args
            .iter()
            .position(|a| a == "--only")
            .and_then(|i| args.get(i + 1).cloned()),
    }
}

/// A spin-wait with a limit: panics with `what` if the other side stalls for STALL_LIMIT.
struct Stall {
    spins: u32,
    since: Option<Instant>,
}

impl Stall {
    fn new() -> Self {
        Stall {
            spins: 0,
            since: None,
        }
    }

    #[inline(always)]
    fn wait(&mut self, what: &str) {
        spin_loop();
        self.spins += 1;
        if self.spins == 1 << 20 {
            self.spins = 0;
            let since = *self.since.get_or_insert_with(Instant::now);
            assert!(
                since.elapsed() < STALL_LIMIT,
                "{what}: other side stalled for {STALL_LIMIT:?}"
            );
        }
    }

    #[inline(always)]
    fn reset(&mut self) {
        self.spins = 0;
        self.since = None;
    }
}

fn cores() -> (core_affinity::CoreId, core_affinity::CoreId) {
    let ids = core_affinity::get_core_ids().unwrap_or_default();
    assert!(
        ids.len() >= 2,
        "needs two cores to pin to, found {}",
        ids.len()
    );
    (ids[0], ids[1])
}

fn pin(core: core_affinity::CoreId) {
    assert!(
        core_affinity::set_for_current(core),
        "could not pin to {core:?}"
    );
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("histogram bounds")
}

#[derive(Clone)]
struct Rtt {
    name: &'static str,
    hist: Histogram<u64>,
}

/// Time `trips` round trips of `trip`, after a warm-up; `trip(i)` must complete round trip i.
fn time_trips(trips: u64, mut trip: impl FnMut(u64)) -> Histogram<u64> {
    for i in 0..WARMUP_TRIPS {
        trip(i);
    }
    let mut hist = histogram();
    for i in WARMUP_TRIPS..WARMUP_TRIPS + trips {
        let t0 = Instant::now();
        trip(i);
        let rtt_ns = t0.elapsed().as_nanos() as u64;
        hist.saturating_record(rtt_ns.max(1));
    }
    hist
}

fn timer_overhead(trips: u64) -> Histogram<u64> {
    let mut hist = histogram();
    for _ in 0..trips {
        let t0 = Instant::now();
        let rtt_ns = t0.elapsed().as_nanos() as u64;
        hist.saturating_record(rtt_ns.max(1));
    }
    hist
}

fn floor(trips: u64, (c0, c1): (core_affinity::CoreId, core_affinity::CoreId)) -> Histogram<u64> {
    #[repr(align(128))]
    struct Word(AtomicU64);
    let word = Arc::new(Word(AtomicU64::new(0)));
    let total = WARMUP_TRIPS + trips;
    let echo = {
        let word = Arc::clone(&word);
        std::thread::spawn(move || {
            pin(c1);
            let mut stall = Stall::new();
            for i in 0..total {
                while word.0.load(Ordering::Acquire) != 2 * i + 1 {
                    stall.wait("floor echo");
                }
                stall.reset();
                word.0.store(2 * i + 2, Ordering::Release);
            }
        })
    };
    pin(c0);
    let mut stall = Stall::new();
    let hist = time_trips(trips, |i| {
        word.0.store(2 * i + 1, Ordering::Release);
        while word.0.load(Ordering::Acquire) != 2 * i + 2 {
            stall.wait("floor");
        }
        stall.reset();
    });
    echo.join().expect("floor echo thread");
    hist
}

/// The echo side of a ring round trip: pop a ping, push it back, `total` times.
fn ring_echo(rx: &mut Consumer<Ping, RTT_CAP>, tx: &mut Producer<Ping, RTT_CAP>, total: u64) {
    let mut stall = Stall::new();
    for _ in 0..total {
        let msg = loop {
            if let Some(m) = rx.try_pop() {
                break m;
            }
            stall.wait("ring echo");
        };
        stall.reset();
        while tx.try_push(&msg).is_err() {
            stall.wait("ring echo push");
        }
    }
}

/// The timed side: push ping i, wait for its echo.
fn ring_ping(
    trips: u64,
    tx: &mut Producer<Ping, RTT_CAP>,
    rx: &mut Consumer<Ping, RTT_CAP>,
) -> Histogram<u64> {
    let mut stall = Stall::new();
    time_trips(trips, |i| {
        let ping = Ping {
            seq: i,
            body: [i; 6],
        };
        while tx.try_push(&ping).is_err() {
            stall.wait("ring ping push");
        }
        loop {
            if let Some(m) = rx.try_pop() {
                debug_assert_eq!(m.seq, i);
                break;
            }
            stall.wait("ring ping");
        }
        stall.reset();
    })
}

fn ring_threads(
    trips: u64,
    (c0, c1): (core_affinity::CoreId, core_affinity::CoreId),
) -> Histogram<u64> {
    let ping = PingRing::anonymous().expect("ring");
    let pong = PingRing::anonymous().expect("ring");
    let (mut ping_rx, mut pong_tx) = (ping.consumer().unwrap(), pong.producer().unwrap());
    let total = WARMUP_TRIPS + trips;
    let echo = std::thread::spawn(move || {
        pin(c1);
        ring_echo(&mut ping_rx, &mut pong_tx, total);
    });
    pin(c0);
    let (mut ping_tx, mut pong_rx) = (ping.producer().unwrap(), pong.consumer().unwrap());
    let hist = ring_ping(trips, &mut ping_tx, &mut pong_rx);
    echo.join().expect("ring echo thread");
    hist
}

fn ring_processes(
    trips: u64,
    (c0, c1): (core_affinity::CoreId, core_affinity::CoreId),
) -> Histogram<u64> {
    let engine = format!("ringbench-{}", std::process::id());
    let dir = ShmDir::create(None, &engine).expect("engine dir in /dev/shm");
    let ping = PingRing::create(&dir, "ping").expect("ping ring");
    let pong = PingRing::create(&dir, "pong").expect("pong ring");
    let total = WARMUP_TRIPS + trips;
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([CHILD_ARG, &engine, &total.to_string(), &c1.id.to_string()])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn echo process");
    pin(c0);
    let (mut ping_tx, mut pong_rx) = (ping.producer().unwrap(), pong.consumer().unwrap());
    let hist = ring_ping(trips, &mut ping_tx, &mut pong_rx);
    let status = child.wait().expect("wait echo process");
    assert!(status.success(), "echo process failed: {status}");
    dir.remove_all().expect("remove bench rings");
    hist
}

/// Entry point of the re-executed echo process.
fn echo_child(args: &[String]) {
    let [engine, total, core] = args else {
        panic!("usage: {CHILD_ARG} <engine> <trips> <core>");
    };
    let total: u64 = total.parse().expect("trips");
    let core: usize = core.parse().expect("core");
    pin(core_affinity::CoreId { id: core });
    let dir = ShmDir::open(None, engine).expect("engine dir");
    let ping = PingRing::attach(&dir, "ping").expect("ping ring");
    let pong = PingRing::attach(&dir, "pong").expect("pong ring");
    let (mut rx, mut tx) = (ping.consumer().unwrap(), pong.producer().unwrap());
    ring_echo(&mut rx, &mut tx, total);
}

fn rtrb_rtt(
    trips: u64,
    (c0, c1): (core_affinity::CoreId, core_affinity::CoreId),
) -> Histogram<u64> {
    let (mut ping_tx, mut ping_rx) = rtrb::RingBuffer::<Ping>::new(RTT_CAP);
    let (mut pong_tx, mut pong_rx) = rtrb::RingBuffer::<Ping>::new(RTT_CAP);
    let total = WARMUP_TRIPS + trips;
    let echo = std::thread::spawn(move || {
        pin(c1);
        let mut stall = Stall::new();
        for _ in 0..total {
            let m = loop {
                if let Ok(m) = ping_rx.pop() {
                    break m;
                }
                stall.wait("rtrb echo");
            };
            stall.reset();
            while pong_tx.push(m).is_err() {
                stall.wait("rtrb echo push");
            }
        }
    });
    pin(c0);
    let mut stall = Stall::new();
    let hist = time_trips(trips, |i| {
        let ping = Ping {
            seq: i,
            body: [i; 6],
        };
        while ping_tx.push(ping).is_err() {
            stall.wait("rtrb push");
        }
        while pong_rx.pop().is_err() {
            stall.wait("rtrb ping");
        }
        stall.reset();
    });
    echo.join().expect("rtrb echo");
    hist
}

fn crossbeam_rtt(
    trips: u64,
    (c0, c1): (core_affinity::CoreId, core_affinity::CoreId),
) -> Histogram<u64> {
    let (ping_tx, ping_rx) = crossbeam_channel::bounded::<Ping>(RTT_CAP);
    let (pong_tx, pong_rx) = crossbeam_channel::bounded::<Ping>(RTT_CAP);
    let total = WARMUP_TRIPS + trips;
    let echo = std::thread::spawn(move || {
        pin(c1);
        let mut stall = Stall::new();
        for _ in 0..total {
            let m = loop {
                if let Ok(m) = ping_rx.try_recv() {
                    break m;
                }
                stall.wait("crossbeam echo");
            };
            stall.reset();
            pong_tx
                .try_send(m)
                .expect("pong has room: one message in flight");
        }
    });
    pin(c0);
    let mut stall = Stall::new();
    let hist = time_trips(trips, |i| {
        let ping = Ping {
            seq: i,
            body: [i; 6],
        };
        ping_tx
            .try_send(ping)
            .expect("ping has room: one message in flight");
        while pong_rx.try_recv().is_err() {
            stall.wait("crossbeam ping");
        }
        stall.reset();
    });
    echo.join().expect("crossbeam echo");
    hist
}

fn mpsc_rtt(
    trips: u64,
    (c0, c1): (core_affinity::CoreId, core_affinity::CoreId),
) -> Histogram<u64> {
    let (ping_tx, ping_rx) = std::sync::mpsc::sync_channel::<Ping>(RTT_CAP);
    let (pong_tx, pong_rx) = std::sync::mpsc::sync_channel::<Ping>(RTT_CAP);
    let total = WARMUP_TRIPS.min(trips) + trips;
    let echo = std::thread::spawn(move || {
        pin(c1);
        for _ in 0..total {
            let m = ping_rx.recv_timeout(STALL_LIMIT).expect("mpsc echo: ping");
            pong_tx.send(m).expect("mpsc echo: pong");
        }
    });
    pin(c0);
    // Shorter warm-up: a blocking round trip costs tens of microseconds.
    for i in 0..WARMUP_TRIPS.min(trips) {
        ping_tx
            .send(Ping {
                seq: i,
                body: [i; 6],
            })
            .unwrap();
        pong_rx.recv_timeout(STALL_LIMIT).expect("mpsc pong");
    }
    let mut hist = histogram();
    for i in 0..trips {
        let t0 = Instant::now();
        ping_tx
            .send(Ping {
                seq: i,
                body: [i; 6],
            })
            .unwrap();
        pong_rx.recv_timeout(STALL_LIMIT).expect("mpsc pong");
        hist.saturating_record((t0.elapsed().as_nanos() as u64).max(1));
    }
    echo.join().expect("mpsc echo");
    hist
}

/// One-way throughput: a producer thread on core 1 sends `messages`, the consumer on core 0
/// receives and checks the sequence. Returns messages per second (start barrier to last receive).
fn throughput(
    messages: u64,
    (c0, c1): (core_affinity::CoreId, core_affinity::CoreId),
    produce: impl FnOnce(u64) + Send + 'static,
    consume: impl FnOnce(u64),
) -> f64 {
    let start = Arc::new(Barrier::new(2));
    let go = Arc::clone(&start);
    let producer = std::thread::spawn(move || {
        pin(c1);
        go.wait();
        produce(messages);
    });
    pin(c0);
    start.wait();
    let t0 = Instant::now();
    consume(messages);
    let secs = t0.elapsed().as_secs_f64();
    producer.join().expect("producer thread");
    messages as f64 / secs
}

fn msg(seq: u64) -> Msg64 {
    Msg64 {
        seq,
        body: [seq; 7],
    }
}

fn ring_throughput(
    messages: u64,
    cores: (core_affinity::CoreId, core_affinity::CoreId),
    batch: bool,
) -> f64 {
    let ring = Spsc::<Msg64, TPUT_CAP>::anonymous().expect("ring");
    let mut tx = ring.producer().unwrap();
    let mut rx = ring.consumer().unwrap();
    throughput(
        messages,
        cores,
        move |n| {
            let mut stall = Stall::new();
            let mut seq = 0;
            if batch {
                // Built in place, like rtrb's chunk API below.
                while seq < n {
                    let k = (n - seq).min(BATCH as u64) as usize;
                    let w = tx.push_with(k, msg);
                    if w == 0 {
                        stall.wait("ring batch producer");
                    } else {
                        stall.reset();
                    }
                    seq += w as u64;
                }
            } else {
                while seq < n {
                    if tx.try_push(&msg(seq)).is_ok() {
                        seq += 1;
                        stall.reset();
                    } else {
                        stall.wait("ring producer");
                    }
                }
            }
        },
        move |n| {
            let mut stall = Stall::new();
            let mut expect = 0;
            let mut bad = 0u64;
            if batch {
                while expect < n {
                    let got = rx.pop_batch(BATCH, |_, m| {
                        bad += (m.seq != expect) as u64;
                        expect += 1;
                    });
                    if got == 0 {
                        stall.wait("ring batch consumer");
                    } else {
                        stall.reset();
                    }
                }
            } else {
                while expect < n {
                    if let Some(m) = rx.try_pop() {
                        bad += (m.seq != expect) as u64;
                        expect += 1;
                        stall.reset();
                    } else {
                        stall.wait("ring consumer");
                    }
                }
            }
            assert_eq!(bad, 0, "ring delivered out of order");
        },
    )
}

fn rtrb_throughput(
    messages: u64,
    cores: (core_affinity::CoreId, core_affinity::CoreId),
    batch: bool,
) -> f64 {
    let (mut tx, mut rx) = rtrb::RingBuffer::<Msg64>::new(TPUT_CAP);
    throughput(
        messages,
        cores,
        move |n| {
            let mut stall = Stall::new();
            let mut seq = 0;
            while seq < n {
                if batch {
                    let k = (n - seq).min(BATCH as u64).min(tx.slots() as u64) as usize;
                    if k == 0 {
                        stall.wait("rtrb batch producer");
                        continue;
                    }
                    let chunk = tx.write_chunk_uninit(k).expect("k slots are free");
                    let w = chunk.fill_from_iter((seq..seq + k as u64).map(msg));
                    seq += w as u64;
                    stall.reset();
                } else if tx.push(msg(seq)).is_ok() {
                    seq += 1;
                    stall.reset();
                } else {
                    stall.wait("rtrb producer");
                }
            }
        },
        move |n| {
            let mut stall = Stall::new();
            let mut expect = 0;
            let mut bad = 0u64;
            while expect < n {
                if batch {
                    let k = rx.slots().min(BATCH);
                    if k == 0 {
                        stall.wait("rtrb batch consumer");
                        continue;
                    }
                    let chunk = rx.read_chunk(k).expect("k slots are readable");
                    let (a, b) = chunk.as_slices();
                    for m in a.iter().chain(b) {
                        bad += (m.seq != expect) as u64;
                        expect += 1;
                    }
                    chunk.commit_all();
                    stall.reset();
                } else if let Ok(m) = rx.pop() {
                    bad += (m.seq != expect) as u64;
                    expect += 1;
                    stall.reset();
                } else {
                    stall.wait("rtrb consumer");
                }
            }
            assert_eq!(bad, 0, "rtrb delivered out of order");
        },
    )
}

fn median_by<T: Clone>(mut runs: Vec<T>, key: impl Fn(&T) -> f64) -> T {
    runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
    runs[runs.len() / 2].clone()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == CHILD_ARG) {
        echo_child(&args[i + 1..]);
        return;
    }
    let cfg = config();
    let cores = cores();
    println!(
        "ring bench: {} round trips per test (std mpsc {}), {} messages per throughput test, {} reps, cores {} and {}",
        cfg.trips,
        cfg.trips / 50,
        cfg.messages,
        cfg.reps,
        cores.0.id,
        cores.1.id
    );
    type RttFn = fn(u64, (core_affinity::CoreId, core_affinity::CoreId)) -> Histogram<u64>;
    let rtt_tests: [(&'static str, RttFn, u64); 6] = [
        ("floor: AtomicU64 ping-pong", floor, 1),
        ("ring spsc, two threads", ring_threads, 1),
        ("ring spsc, two processes", ring_processes, 1),
        ("rtrb", rtrb_rtt, 1),
        ("crossbeam-channel, busy try_recv", crossbeam_rtt, 1),
        ("std mpsc, blocking recv", mpsc_rtt, 50),
    ];
    type TputFn = fn(u64, (core_affinity::CoreId, core_affinity::CoreId), bool) -> f64;
    let tput_tests: [(&'static str, TputFn, bool); 4] = [
        ("ring spsc, single", ring_throughput, false),
        ("ring spsc, batch 32", ring_throughput, true),
        ("rtrb, single", rtrb_throughput, false),
        ("rtrb, chunk 32", rtrb_throughput, true),
    ];
    let mut rtt_runs: Vec<Vec<Rtt>> = vec![Vec::new(); rtt_tests.len()];
    let mut tput_runs: Vec<Vec<f64>> = vec![Vec::new(); tput_tests.len()];
    let mut timer_runs = Vec::new();
    let t_start = Instant::now();
    for _ in 0..cfg.reps {
        pin(cores.0);
        timer_runs.push(Rtt {
            name: "timer: Instant::now() pair",
            hist: timer_overhead(cfg.trips),
        });
        for (k, (name, f, div)) in rtt_tests.iter().enumerate() {
            if cfg
                .only
                .as_ref()
                .is_some_and(|o| !name.contains(o.as_str()))
                && k != 0
            {
                rtt_runs[k].push(Rtt {
                    name,
                    hist: histogram(),
                });
                continue;
            }
            let hist = f((cfg.trips / div).max(1_000), cores);
            rtt_runs[k].push(Rtt { name, hist });
        }
        for (k, (name, f, batch)) in tput_tests.iter().enumerate() {
            if cfg
                .only
                .as_ref()
                .is_some_and(|o| !name.contains(o.as_str()))
            {
                tput_runs[k].push(f64::NAN);
                continue;
            }
            tput_runs[k].push(f(cfg.messages, cores, *batch));
        }
    }
    let p50 = |r: &Rtt| r.hist.value_at_quantile(0.5) as f64;
    let rtts: Vec<Rtt> = rtt_runs
        .into_iter()
        .map(|runs| median_by(runs, p50))
        .collect();
    let timer = median_by(timer_runs, p50);
    let floor_p50 = p50(&rtts[0]);
    println!();
    println!(
        "{:<36} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "round trip (ns)", "p50", "p90", "p99", "p99.9", "max", "p50/floor"
    );
    for r in std::iter::once(&timer).chain(rtts.iter()) {
        let h = &r.hist;
        println!(
            "{:<36} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10.2}",
            r.name,
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.9),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
            p50(r) / floor_p50
        );
    }
    let timer_p50 = p50(&timer);
    let ring_proc_p50 = p50(&rtts[2]);
    println!(
        "(every trip includes one Instant::now() pair, p50 {timer_p50} ns; without it the inter-process ratio would be {:.2})",
        (ring_proc_p50 - timer_p50).max(1.0) / (floor_p50 - timer_p50).max(1.0)
    );
    println!();
    println!(
        "{:<36} {:>14} {:>10}",
        "throughput, 64-byte messages", "M msg/s", "vs rtrb"
    );
    let tputs: Vec<f64> = tput_runs
        .into_iter()
        .map(|runs| median_by(runs, |x| *x))
        .collect();
    for (k, (name, _, _)) in tput_tests.iter().enumerate() {
        let peer = if k % 2 == 0 { tputs[2] } else { tputs[3] };
        println!(
            "{:<36} {:>14.1} {:>10.2}",
            name,
            tputs[k] / 1e6,
            tputs[k] / peer
        );
    }
    println!();
    println!("total bench time {:.1} s", t_start.elapsed().as_secs_f64());
    println!(
        "ring_rtt_ratio_to_floor={:.2} ring_vs_rtrb_throughput={:.2}",
        ring_proc_p50 / floor_p50,
        tputs[0] / tputs[2]
    );
}
