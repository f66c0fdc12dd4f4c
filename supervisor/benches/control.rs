//! Control-plane latencies of a real engine (the `supervisor` binary and its actor processes):
//!
//! - **kill switch**: the flag written → the last hot actor has seen it (each actor's loop records
//!   the kill word's age when it first sees it; the trial's latency is the largest over the hot
//!   actors, every kind but `ui`, the monitoring service); the same over every actor, the UI
//!   included, is printed beside it, then each actor's own figure and how long `kill()` kept its
//!   caller (it wakes every parked actor; those on the caller's core may run before it returns);
//! - **restart**: SIGKILL of one actor → the first heartbeat of its new process (the new
//!   process's own timestamp of that beat, in its slot).
//!
//! Each is compared in the same run with its floor: for the kill switch, one doorbell rung from the
//! housekeeping core → a thread parked on it on the actors' other core runs (the least any kill
//! that must wake a parked actor there costs; the actors' longest idle sleep is printed as the
//! bound if a wake were missed, and the same floor with the sleeper's timeout at 50 µs and
//! 100 ms: a tail that does not grow with the timeout is the woken core late to run, not a lost
//! wake); for a restart, fork + exec + exit of `/bin/true` (the least a new
//! process costs) and a bare `supervisor --version` (exec of our binary, no engine).
//!
//! The bench polls the control block with short sleeps, never by spinning or yielding: it runs on
//! the housekeeping core beside actors it measures, and a poller that keeps that core busy delays
//! their wake-ups (BENCHMARKS.md has the runs with both kinds of polling).
//!
//! Scenarios (the layouts of topology.ron with every kind replaced by `idle`, since only the
//! built-in kind is linked into the bare binary):
//! - `default`: the shipped 2-core layout (Backoff actors sharing cores 0 and 1);
//! - `spin`: one busy-spinning actor alone on core 1, the rest Backoff on core 0.
//!
//! Run: `cargo bench -p supervisor --bench control` (`-- --trials N`, default 30).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use runtime::clock::monotonic_ns;
use runtime::control::{actor_state, ActorSpec, ControlBlock};
use runtime::idle::IdleStrategy;
use runtime::shm::ShmDir;
use supervisor::topology::{parse, TopologyFile};

const BIN: &str = env!("CARGO_BIN_EXE_supervisor");
const DEADLINE: Duration = Duration::from_secs(20);
/// How often the bench re-reads the control block while it waits: short against the latencies
/// measured (actors stamp their own times, so this adds no error), long enough to leave the core
/// to the actors.
const POLL: Duration = Duration::from_micros(50);

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

struct Engine {
    _tmp: tempfile::TempDir,
    child: Child,
    control: ControlBlock,
}

impl Drop for Engine {
    fn drop(&mut self) {
        // Safety: kill(2) on the supervisor this bench started (its actors die with it).
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let _ = self.child.wait();
    }
}

/// The shipped topology.ron with `idle` kinds, a private shm base, no venue or UI, and an
/// intensity the restart trials cannot exceed.
fn engine_from(raw: &TopologyFile, name: &str) -> Engine {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("shm");
    std::fs::create_dir(&base).unwrap();
    let mut t = raw.clone();
    t.engine = name.to_string();
    t.shm_dir = Some(base.clone());
    t.venue = None;
    t.ui = None;
    t.supervision.intensity.max_restarts = 10_000;
    for a in &mut t.actors {
        a.kind = "idle".into();
        a.config = None;
    }
    let file = tmp.path().join("topology.ron");
    std::fs::write(
        &file,
        ron::ser::to_string_pretty(&t, Default::default()).unwrap(),
    )
    .unwrap();
    let log_path = tmp.path().join("supervisor.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(BIN)
        .args(["start", "--topology"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let mut control = None;
    wait_until("the control block", || {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "the supervisor exited ({status}): {}",
                std::fs::read_to_string(&log_path).unwrap_or_default()
            );
        }
        control = ShmDir::open(Some(&base), name)
            .ok()
            .and_then(|d| ControlBlock::attach(&d).ok());
        control.is_some()
    });
    let control = control.unwrap();
    wait_until("every actor running", || {
        (0..control.actor_count()).all(|i| control.slot(i).state() == actor_state::RUNNING)
    });
    Engine {
        _tmp: tmp,
        child,
        control,
    }
}

fn hist() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).unwrap()
}

fn us(ns: u64) -> String {
    format!("{:.1} µs", ns as f64 / 1000.0)
}

fn report(label: &str, h: &Histogram<u64>) -> (u64, u64) {
    let (p50, p99) = (h.value_at_quantile(0.5), h.value_at_quantile(0.99));
    println!(
        "  {label:<44} n={:<4} p50 {:>10}  p99 {:>10}  max {:>10}",
        h.len(),
        us(p50),
        us(p99),
        us(h.max())
    );
    (p50, p99)
}

/// What the kill-switch trials measured, ns per trial.
struct KillTrials {
    /// Flag written → the last of the hot actors saw it.
    last_hot: Histogram<u64>,
    /// Flag written → the last of every actor saw it.
    last_seen: Histogram<u64>,
    /// Flag written → each actor saw it, by slot.
    per_actor: Vec<Histogram<u64>>,
    /// How long `kill()` kept its caller (it wakes every parked actor; actors on the caller's
    /// core may run before it returns).
    call: Histogram<u64>,
}

/// Kill-switch trials: set, wait for every actor to have seen it, re-arm, wait for RUNNING.
/// `hot` names the hot actors' slot indices.
fn kill_switch(e: &Engine, hot: &[usize], trials: u32) -> KillTrials {
    let c = &e.control;
    let n = c.actor_count();
    let mut t = KillTrials {
        last_hot: hist(),
        last_seen: hist(),
        per_actor: (0..n).map(|_| hist()).collect(),
        call: hist(),
    };
    for _ in 0..trials {
        // Let every actor fall back into its deepest idle state, as in a quiet market.
        std::thread::sleep(Duration::from_millis(20));
        let called_ns = monotonic_ns();
        assert!(c.kill("bench", "kill-switch latency trial"));
        t.call
            .record(monotonic_ns().saturating_sub(called_ns).max(1))
            .unwrap();
        wait_until("every actor to see the kill", || {
            (0..n).all(|i| c.slot(i).kill_seen().is_some())
        });
        let seen = |i: usize| c.slot(i).kill_seen().map_or(0, |s| s.1).max(1);
        for (i, h) in t.per_actor.iter_mut().enumerate() {
            h.record(seen(i)).unwrap();
        }
        let worst = (0..n).map(seen).max().unwrap_or(1);
        let worst_hot = hot.iter().map(|&i| seen(i)).max().unwrap_or(1);
        t.last_seen.record(worst).unwrap();
        t.last_hot.record(worst_hot).unwrap();
        assert!(c.rearm("bench"));
        wait_until("every actor running again", || {
            (0..n).all(|i| {
                c.slot(i).state() == actor_state::RUNNING && c.slot(i).kill_seen().is_none()
            })
        });
    }
    t
}

/// The kill switch's floor: the bench's thread (on the housekeeping core) rings one doorbell of an
/// anonymous control block; a thread pinned to `sleeper_core`, parked on that doorbell as an idle
/// actor parks (`park_begin` → `park_wait` for at most `sleep_us`, the actors' longest idle sleep),
/// stamps when it runs again. ns per trial, after 20 ms idle, as in the kill trials.
fn doorbell_floor(sleeper_core: usize, sleep_us: u32, trials: u32) -> Histogram<u64> {
    let control = Arc::new(
        ControlBlock::anonymous(
            "doorbell-floor",
            &[ActorSpec::new("sleeper", "idle", Some(sleeper_core as u32))],
        )
        .expect("anonymous control block"),
    );
    // `rung_ns`: the ring's time while a trial is in flight, else 0 (the sleeper clears it);
    // `seen_ns`: that trial's latency once the sleeper ran, else 0.
    let rung_ns = Arc::new(AtomicU64::new(0));
    let seen_ns = Arc::new(AtomicU64::new(0));
    let sleeper = {
        let (control, rung_ns, seen_ns) = (control.clone(), rung_ns.clone(), seen_ns.clone());
        std::thread::spawn(move || {
            supervisor::machine::pin_current_thread(sleeper_core).expect("pin the sleeper");
            for _ in 0..trials {
                loop {
                    let seq = control.park_begin(0);
                    if rung_ns.load(Ordering::Acquire) == 0 {
                        control.park_wait(0, seq, sleep_us);
                    }
                    control.park_end(0);
                    let rung = rung_ns.load(Ordering::Acquire);
                    if rung != 0 {
                        seen_ns.store(
                            monotonic_ns().saturating_sub(rung).max(1),
                            Ordering::Release,
                        );
                        rung_ns.store(0, Ordering::Release);
                        break;
                    }
                }
            }
        })
    };
    let mut h = hist();
    for _ in 0..trials {
        std::thread::sleep(Duration::from_millis(20));
        seen_ns.store(0, Ordering::Relaxed);
        rung_ns.store(monotonic_ns().max(1), Ordering::Release);
        control.ring_doorbell(0);
        wait_until("the parked thread to run", || {
            seen_ns.load(Ordering::Acquire) != 0
        });
        h.record(seen_ns.load(Ordering::Acquire)).unwrap();
    }
    sleeper.join().expect("the sleeper thread");
    h
}

/// Restart trials on actor `index`: SIGKILL → the new process's first heartbeat.
fn restarts(e: &Engine, index: usize, trials: u32) -> Histogram<u64> {
    let c = &e.control;
    let slot = c.slot(index);
    let mut h = hist();
    for _ in 0..trials {
        std::thread::sleep(Duration::from_millis(20));
        let generation = slot.generation();
        let pid = slot.pid();
        let killed_ns = monotonic_ns();
        // Safety: kill(2) on an actor of the engine this bench started.
        assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
        let mut first_beat_ns = 0;
        wait_until("the new process's first heartbeat", || {
            if slot.generation() != generation + 1 || slot.state() != actor_state::RUNNING {
                return false;
            }
            // The loop marks RUNNING, then beats, stamping last_progress_ns with its own clock.
            let progress = slot.last_progress_ns();
            if progress > slot.started_ns() {
                first_beat_ns = progress;
                true
            } else {
                false
            }
        });
        h.record(first_beat_ns.saturating_sub(killed_ns).max(1))
            .unwrap();
    }
    h
}

/// The floor of a restart: fork + exec + exit + reap of `program`.
fn spawn_floor(program: &str, args: &[&str], trials: u32) -> Histogram<u64> {
    let mut h = hist();
    for _ in 0..trials {
        let t0 = monotonic_ns();
        let status = Command::new(program)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        h.record((monotonic_ns() - t0).max(1)).unwrap();
    }
    h
}

/// User + system CPU time of every actor process, in ms (/proc/PID/stat fields 14 and 15).
fn actors_cpu_ms(c: &ControlBlock) -> u64 {
    // Safety: sysconf has no preconditions.
    let ticks_per_s = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    (0..c.actor_count())
        .filter_map(|i| {
            let text = std::fs::read_to_string(format!("/proc/{}/stat", c.slot(i).pid())).ok()?;
            let rest = &text[text.rfind(')')? + 1..];
            let f: Vec<&str> = rest.split_whitespace().collect();
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum::<u64>()
        * 1000
        / ticks_per_s
}

fn longest_sleep_us(raw: &TopologyFile) -> u32 {
    raw.actors
        .iter()
        .map(|a| match a.idle {
            IdleStrategy::Backoff { max_sleep_us, .. } => max_sleep_us,
            _ => 0,
        })
        .max()
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let trials: u32 = args
        .iter()
        .position(|a| a == "--trials")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(30);
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let file: PathBuf = root.join("topology.ron");
    let src = std::fs::read_to_string(&file).expect("topology.ron at the repository root");
    let default = parse(&file, &src).expect("topology.ron parses").raw;

    // The same layout with a faster back-off: the price of a shorter kill-switch latency is CPU.
    let mut fast = default.clone();
    for a in &mut fast.actors {
        if let IdleStrategy::Backoff { max_sleep_us, .. } = &mut a.idle {
            *max_sleep_us = 50;
        }
    }

    let mut spin = default.clone();
    for a in &mut spin.actors {
        a.core = 0;
        a.idle = IdleStrategy::default_backoff();
    }
    let hot = spin
        .actors
        .iter()
        .position(|a| a.name == "execution")
        .unwrap_or(0);
    spin.actors[hot].core = 1;
    spin.actors[hot].idle = IdleStrategy::Spin;

    println!(
        "control-plane latency, {trials} trials each, {} online cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("floors:");
    let (_, true_p99) = report(
        "fork+exec+exit /bin/true",
        &spawn_floor("/bin/true", &[], trials),
    );
    let (_, version_p99) = report(
        "fork+exec+exit supervisor --version",
        &spawn_floor(BIN, &["--version"], trials),
    );
    let allowed = supervisor::machine::sched_affinity(0).expect("sched_getaffinity");
    // The doorbell floor from the housekeeping core to the other core the actors use.
    let housekeeping = default.housekeeping_cores[0];
    let actor_core = default
        .actors
        .iter()
        .map(|a| a.core)
        .find(|&c| c != housekeeping)
        .unwrap_or(housekeeping);
    supervisor::machine::pin_current_thread(housekeeping).expect("pin to the housekeeping core");
    let (wake_p50, wake_p99) = report(
        &format!("doorbell core {housekeeping} → parked thread on core {actor_core} runs"),
        &doorbell_floor(actor_core, longest_sleep_us(&default).max(1), trials),
    );
    // Whether the floor's tail is a wake ended only by the sleeper's timeout (it would grow
    // with the timeout) or the woken core being late to run (it would not).
    for sleep_us in [50, 100_000] {
        report(
            &format!("  same, the sleeper's timeout {sleep_us} µs"),
            &doorbell_floor(actor_core, sleep_us, trials),
        );
    }
    for (scenario, (label, raw)) in [
        ("default (topology.ron)", &default),
        ("default with Backoff max_sleep_us 50", &fast),
        ("spin (execution spins alone on core 1)", &spin),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("bench{}-{scenario}", std::process::id());
        // The supervisor inherits our affinity: start it unpinned, then keep the bench's own
        // polling on the housekeeping core, away from the actors' other core.
        supervisor::machine::pin_current_thread_to(&allowed).expect("restore affinity");
        let engine = engine_from(raw, &name);
        if let Err(e) = supervisor::machine::pin_current_thread(raw.housekeeping_cores[0]) {
            eprintln!("could not pin the bench to the housekeeping core: {e}");
        }
        println!("scenario {label}: {} actors", engine.control.actor_count());
        let cpu_before = actors_cpu_ms(&engine.control);
        let t0 = Instant::now();
        std::thread::sleep(Duration::from_secs(2));
        println!(
            "    idle CPU of all actors: {:.0}% of one core",
            (actors_cpu_ms(&engine.control) - cpu_before) as f64 / t0.elapsed().as_millis() as f64
                * 100.0
        );
        // The hot actors: every kind but the UI (the monitoring service). Slots are in the
        // topology's order.
        let hot: Vec<usize> = (0..raw.actors.len())
            .filter(|&i| raw.actors[i].kind != "ui")
            .collect();
        let kill = kill_switch(&engine, &hot, trials);
        let (kill_p50, kill_p99) = report(
            &format!("kill switch: set → last hot actor saw it ({})", hot.len()),
            &kill.last_hot,
        );
        report(
            "kill switch: set → every actor saw it (ui too)",
            &kill.last_seen,
        );
        for (a, h) in raw.actors.iter().zip(&kill.per_actor) {
            report(&format!("    seen by {} (core {})", a.name, a.core), h);
        }
        report("    kill() returned to its caller", &kill.call);
        let sleep_us = longest_sleep_us(raw);
        println!(
            "    kill / doorbell floor: p50 {:.2}, p99 {:.2}; kill p99 / longest idle sleep ({sleep_us} µs) = {:.2}",
            kill_p50 as f64 / wake_p50 as f64,
            kill_p99 as f64 / wake_p99 as f64,
            kill_p99 as f64 / (f64::from(sleep_us.max(1)) * 1000.0)
        );
        let index = raw
            .actors
            .iter()
            .position(|a| a.name == "execution")
            .unwrap_or(0);
        let (_, restart_p99) = report(
            &format!(
                "restart `{}`: SIGKILL → first heartbeat",
                raw.actors[index].name
            ),
            &restarts(&engine, index, trials),
        );
        println!(
            "    restart p99 / fork+exec(/bin/true) p99 = {:.1}; / exec(supervisor --version) p99 = {:.1}",
            restart_p99 as f64 / true_p99 as f64,
            restart_p99 as f64 / version_p99 as f64
        );
        if let Some(spinner) = raw.actors.iter().position(|a| a.idle == IdleStrategy::Spin) {
            // The spinning actor alone: how fast a polling loop notices the flag.
            let c = &engine.control;
            let mut h = hist();
            for _ in 0..trials {
                std::thread::sleep(Duration::from_millis(5));
                c.kill("bench", "spin trial");
                wait_until("the spinner to see it", || {
                    c.slot(spinner).kill_seen().is_some()
                });
                h.record(c.slot(spinner).kill_seen().unwrap().1.max(1))
                    .unwrap();
                c.rearm("bench");
                wait_until("the spinner to resume", || {
                    (0..c.actor_count()).all(|i| c.slot(i).kill_seen().is_none())
                });
            }
            report("kill switch: set → the spinning actor saw it", &h);
        }
    }
}
