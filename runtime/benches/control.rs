//! The control plane's costs against their floors, in one run on two pinned cores
//! (`cargo bench -p runtime --bench control`).
//!
//! - **Kill switch → seen**: how long after `ControlBlock::kill` an actor's loop (spinning, a
//!   no-op actor) has seen the word, measured by the loop itself (its clock read after the load
//!   minus the time stored in the word), between two threads and between two processes (this
//!   binary re-executes itself as the actor process, block in a fresh /dev/shm directory).
//!   Floor: one way of an AtomicU64 ping-pong (half its round trip) in the same run.
//! - **Loop pass**: the fixed cost of one `ActorLoop::run_pass` with a no-op actor against a bare
//!   loop that only loads the kill word (the least any loop must do).
//! - **Telemetry**: `SeqLock<ExecutionTelemetry>` write and read against a plain copy of the same
//!   bytes.
//! - **Histogram publication** (what an actor pays a few times a second): publish into hist.shm
//!   and read back (decode), against serialising the same histogram into a Vec.
//!
//! Options: `--kills N` (CONTROL_BENCH_KILLS, default 20,000 per kill test).
use std::hint::{black_box, spin_loop};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;
use runtime::actor::{Actor, ActorLoop, RunOutcome};
use runtime::clock::{Clock, MonotonicClock};
use runtime::control::{actor_state, ActorSpec, ControlBlock};
use runtime::hist::{new_histogram, stage, HistogramPublisher, HistogramReader, HistogramRegion};
use runtime::idle::IdleStrategy;
use runtime::seqlock::SeqLock;
use runtime::shm::ShmDir;
use runtime::telemetry::ExecutionTelemetry;

const CHILD_ARG: &str = "--control-actor-child";
/// Give up on a wait after this long: a dead peer must not hang the benchmark.
const STALL_LIMIT: Duration = Duration::from_secs(20);

fn kills() -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--kills")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| std::env::var("CONTROL_BENCH_KILLS").ok())
        .map(|v| v.replace('_', "").parse().expect("--kills: a number"))
        .unwrap_or(20_000)
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

/// Spin until `done()`, failing after STALL_LIMIT.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let mut spins = 0u32;
    let mut since: Option<Instant> = None;
    while !done() {
        spin_loop();
        spins += 1;
        if spins == 1 << 20 {
            spins = 0;
            let start = *since.get_or_insert_with(Instant::now);
            assert!(
                start.elapsed() < STALL_LIMIT,
                "{what}: stalled for {STALL_LIMIT:?}"
            );
        }
    }
}

/// An actor with nothing to do: the loop's own cost is all that is measured.
struct Noop;
impl Actor for Noop {
    fn poll(&mut self, _now_ns: u64) -> usize {
        0
    }
}

/// One way of an AtomicU64 ping-pong: half of each round trip.
fn floor_one_way(
    trips: u64,
    (c0, c1): (core_affinity::CoreId, core_affinity::CoreId),
) -> Histogram<u64> {
    #[repr(align(128))]
    struct Word(AtomicU64);
    let word = Arc::new(Word(AtomicU64::new(0)));
    let warmup = trips / 10;
    let total = warmup + trips;
    let echo = {
        let word = word.clone();
        std::thread::spawn(move || {
            pin(c1);
            for i in 0..total {
                wait_until("floor echo", || word.0.load(Ordering::Acquire) == 2 * i + 1);
                word.0.store(2 * i + 2, Ordering::Release);
            }
        })
    };
    pin(c0);
    let mut hist = new_histogram();
    for i in 0..total {
        let t0 = MonotonicClock.now_ns();
        word.0.store(2 * i + 1, Ordering::Release);
        wait_until("floor", || word.0.load(Ordering::Acquire) == 2 * i + 2);
        if i >= warmup {
            hist.saturating_record((MonotonicClock.now_ns() - t0) / 2);
        }
    }
    echo.join().expect("floor echo thread");
    hist
}

/// Kill, wait for the actor's slot to say HALTED, take the latency it measured, re-arm, wait for
/// RUNNING; `kills` times.
fn drive_kills(control: &ControlBlock, kills: u64) -> Histogram<u64> {
    let slot = control.slot(0);
    let mut hist = new_histogram();
    let warmup = kills / 10;
    for i in 0..warmup + kills {
        wait_until("actor running", || slot.state() == actor_state::RUNNING);
        // A short, varying pause so the kill lands at different points of the actor's pass.
        for _ in 0..(i % 64) {
            spin_loop();
        }
        assert!(control.kill("bench", "kill latency"));
        wait_until("actor halted", || slot.state() == actor_state::HALTED);
        let (_, latency_ns) = slot
            .kill_seen()
            .expect("latency recorded before HALTED is read");
        if i >= warmup {
            hist.saturating_record(latency_ns);
        }
        assert!(control.rearm("bench"));
    }
    slot.request_stop();
    hist
}

fn run_actor(control: Arc<ControlBlock>) {
    let mut lp = ActorLoop::new(control, 0, MonotonicClock, IdleStrategy::Spin).expect("loop");
    assert_eq!(lp.run(&mut Noop, None), RunOutcome::Stopped);
}

fn kill_threads(
    kills: u64,
    (c0, c1): (core_affinity::CoreId, core_affinity::CoreId),
) -> Histogram<u64> {
    let control = Arc::new(
        ControlBlock::anonymous(
            "bench",
            &[ActorSpec::new("actor", "bench", Some(c1.id as u32))],
        )
        .expect("block"),
    );
    let actor = {
        let control = control.clone();
        std::thread::spawn(move || {
            pin(c1);
            run_actor(control);
        })
    };
    pin(c0);
    let hist = drive_kills(&control, kills);
    actor.join().expect("actor thread");
    hist
}

fn kill_processes(
    kills: u64,
    (c0, c1): (core_affinity::CoreId, core_affinity::CoreId),
) -> Histogram<u64> {
    let base = tempfile_dir();
    let engine = format!("control-bench-{}", std::process::id());
    let dir = ShmDir::create(Some(&base), &engine).expect("engine dir");
    let control = ControlBlock::create(
        &dir,
        &engine,
        &[ActorSpec::new("actor", "bench", Some(c1.id as u32))],
    )
    .expect("block");
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args([
            CHILD_ARG,
            base.to_str().expect("utf-8 path"),
            &engine,
            &c1.id.to_string(),
        ])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn actor process");
    pin(c0);
    let hist = drive_kills(&control, kills);
    let status = child.wait().expect("actor process");
    assert!(status.success(), "actor process failed: {status}");
    dir.remove_all().expect("clean up");
    let _ = std::fs::remove_dir(&base);
    hist
}

/// A private base directory under /dev/shm (where the engine's regions live in production).
fn tempfile_dir() -> std::path::PathBuf {
    let base = std::path::PathBuf::from(format!("/dev/shm/control-bench-{}", std::process::id()));
    std::fs::create_dir_all(&base).expect("base dir");
    base
}

fn child_main(args: &[String]) {
    let base = std::path::Path::new(&args[0]);
    let dir = ShmDir::open(Some(base), &args[1]).expect("engine dir");
    pin(core_affinity::CoreId {
        id: args[2].parse().expect("core"),
    });
    run_actor(Arc::new(ControlBlock::attach(&dir).expect("attach")));
}

/// Mean ns per iteration of `f`, best of 5 runs of `iters`.
fn ns_per_op(iters: u64, mut f: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let t0 = Instant::now();
            for _ in 0..iters {
                f();
            }
            t0.elapsed().as_nanos() as f64 / iters as f64
        })
        .fold(f64::INFINITY, f64::min)
}

fn row(name: &str, h: &Histogram<u64>, floor_p50: u64) {
    println!(
        "{name:<34} {:>8} {:>8} {:>8} {:>8} {:>8} {:>7.2}x",
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.9),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
        h.value_at_quantile(0.5) as f64 / floor_p50.max(1) as f64
    );
}

/// A realistic latency histogram: 1M samples spread log-uniformly over 1 µs … 10 ms.
fn realistic_histogram() -> Histogram<u64> {
    let mut h = new_histogram();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..1_000_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let exponent = 3.0 + 4.0 * (x >> 11) as f64 / (1u64 << 53) as f64;
        h.saturating_record(10f64.powf(exponent) as u64);
    }
    h
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == CHILD_ARG) {
        child_main(&args[i + 1..]);
        return;
    }
    // `cargo bench` passes --bench; nothing else to parse.
    let kills = kills();
    let cores = cores();
    println!(
        "control plane, pinned to cores {} and {}; {kills} kills per test",
        cores.0.id, cores.1.id
    );

    let floor = floor_one_way(kills * 10, cores);
    let threads = kill_threads(kills, cores);
    let processes = kill_processes(kills, cores);
    let floor_p50 = floor.value_at_quantile(0.5);
    println!(
        "\nlatency, ns                          p50      p90      p99    p99.9      max  p50/floor"
    );
    row("floor: one way, AtomicU64 ping-pong", &floor, floor_p50);
    row("kill → seen by a loop, threads", &threads, floor_p50);
    row("kill → seen by a loop, processes", &processes, floor_p50);

    // Loop pass cost, single thread, no kill.
    let control = Arc::new(
        ControlBlock::anonymous("bench", &[ActorSpec::new("a", "bench", None)]).expect("block"),
    );
    let mut lp =
        ActorLoop::new(control.clone(), 0, MonotonicClock, IdleStrategy::Spin).expect("loop");
    let mut noop = Noop;
    let pass_ns = ns_per_op(2_000_000, || {
        black_box(lp.run_pass(&mut noop));
    });
    let bare_ns = ns_per_op(2_000_000, || {
        black_box(control.kill_word());
        spin_loop();
    });
    let clock_ns = ns_per_op(2_000_000, || {
        black_box(MonotonicClock.now_ns());
    });

    // Telemetry: seqlock write/read against a plain copy of the same 288 bytes.
    let lock = SeqLock::new(ExecutionTelemetry::default());
    let mut t = ExecutionTelemetry::default();
    let write_ns = ns_per_op(2_000_000, || {
        t.orders_sent += 1;
        lock.write(black_box(&t));
    });
    let read_ns = ns_per_op(2_000_000, || {
        black_box(lock.read());
    });
    let src = ExecutionTelemetry::default();
    let mut dst = ExecutionTelemetry::default();
    let copy_ns = ns_per_op(2_000_000, || {
        dst = *black_box(&src);
        black_box(&mut dst);
    });

    // Histogram publication.
    let h = realistic_histogram();
    let region = HistogramRegion::anonymous().expect("region");
    let mut publisher = HistogramPublisher::new(region.clone(), 0);
    let publish_ns = ns_per_op(200, || {
        publisher
            .publish(stage::RTT, black_box(&h), 0)
            .expect("publish");
    });
    let mut serializer = V2Serializer::new();
    let mut buf = Vec::new();
    let mut encoded_bytes = 0;
    let serialize_ns = ns_per_op(200, || {
        buf.clear();
        encoded_bytes = serializer
            .serialize(black_box(&h), &mut buf)
            .expect("serialize");
    });
    let mut reader = HistogramReader::new(region);
    let read_hist_ns = ns_per_op(200, || {
        black_box(reader.read(stage::RTT).expect("read"));
    });

    println!("\ncost per operation, ns                 ours     peer  ratio  (peer)");
    let cost = |name: &str, ours: f64, peer: f64, peer_name: &str| {
        println!(
            "{name:<34} {ours:>8.1} {peer:>8.1} {:>6.2}  ({peer_name})",
            ours / peer
        );
    };
    cost(
        "actor loop pass, no-op actor",
        pass_ns,
        bare_ns,
        "kill-word load + spin hint",
    );
    cost(
        "monotonic clock read",
        clock_ns,
        bare_ns,
        "kill-word load + spin hint",
    );
    cost(
        "telemetry seqlock write (288 B)",
        write_ns,
        copy_ns,
        "plain copy",
    );
    cost(
        "telemetry seqlock read (288 B)",
        read_ns,
        copy_ns,
        "plain copy",
    );
    cost(
        "histogram publish",
        publish_ns,
        serialize_ns,
        "V2 serialise into a Vec",
    );
    println!(
        "{:<34} {read_hist_ns:>8.1}  (decode of {encoded_bytes} bytes, {} samples)",
        "histogram read",
        h.len()
    );
    println!(
        "publishing at 4 Hz costs {:.4} % of a core",
        publish_ns * 4.0 / 1e9 * 100.0
    );
    println!(
        "kill_seen_ratio_to_floor={:.2} kill_seen_processes_p99_ns={} loop_pass_ns={:.1}",
        processes.value_at_quantile(0.5) as f64 / floor_p50.max(1) as f64,
        processes.value_at_quantile(0.99),
        pass_ns
    );
}
