//! The real binary with real processes: a supervisor running `idle` actors on this machine.
//!
//! Every test runs under a watchdog (a hung test fails after `WATCHDOG` and its processes are
//! killed), uses its own engine name and its own shared-memory base in a temporary directory, and
//! waits for conditions with deadlines instead of sleeping and hoping.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use runtime::control::{actor_state, engine_state, ControlBlock};
use runtime::msg::{emergency_action, put_str, Emergency};
use runtime::rings::{EmergencyRing, EMERGENCY_RING};
use runtime::shm::ShmDir;

const BIN: &str = env!("CARGO_BIN_EXE_supervisor");
const WATCHDOG: Duration = Duration::from_secs(60);
/// Generous deadline for anything the engine should do "soon" on a loaded 2-core machine.
const DEADLINE: Duration = Duration::from_secs(15);

/// Supervisor pids of running tests, killed by the watchdog when a test hangs.
static LIVE_PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Run `body` on a thread; fail the test if it has not finished within `WATCHDOG`.
fn watchdog(body: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        body();
        let _ = tx.send(());
    });
    match rx.recv_timeout(WATCHDOG) {
        Ok(()) => handle.join().expect("test body"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: re-raise its panic here.
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            for pid in LIVE_PIDS.lock().unwrap().drain(..) {
                // Safety: kill(2) on a supervisor this test binary started.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            panic!("test did not finish within {WATCHDOG:?}");
        }
    }
}

/// Poll `cond` every 2 ms until it holds or `DEADLINE` passes.
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out after {DEADLINE:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A running engine of `idle` actors.
struct Engine {
    _tmp: tempfile::TempDir,
    topology: PathBuf,
    base: PathBuf,
    name: String,
    supervisor: Option<Child>,
    log: PathBuf,
    control: Option<Arc<ControlBlock>>,
}

/// Actors line of a topology: `n` idle actors named a, b, c... alternating cores 1 and 0.
fn idle_actors(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "(name: \"{}\", kind: \"idle\", core: {}),",
                (b'a' + i as u8) as char,
                (i + 1) % 2
            )
        })
        .collect::<Vec<_>>()
        .join("\n        ")
}

impl Engine {
    /// Write a topology with `actors` and `supervision`, start the supervisor, wait until every
    /// actor runs.
    fn start(actors: &str, supervision: &str) -> Engine {
        let mut e = Engine::prepare(actors, supervision);
        e.spawn();
        e.wait_all_running();
        e
    }

    fn prepare(actors: &str, supervision: &str) -> Engine {
        let tmp = tempfile::tempdir().expect("tempdir");
        let base = tmp.path().join("shm");
        fs::create_dir(&base).unwrap();
        let name = format!(
            "sv{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let topology = tmp.path().join("topology.ron");
        fs::write(
            &topology,
            format!(
                "Topology(\n    engine: \"{name}\",\n    shm_dir: Some(\"{}\"),\n    \
                 housekeeping_cores: [0],\n    actors: [\n        {actors}\n    ],\n    \
                 supervision: ({supervision}),\n    ui: Some((addr: \"127.0.0.1:8080\")),\n)\n",
                base.display()
            ),
        )
        .unwrap();
        let log = tmp.path().join("supervisor.log");
        Engine {
            _tmp: tmp,
            topology,
            base,
            name,
            supervisor: None,
            log,
            control: None,
        }
    }

    fn spawn(&mut self) {
        let log = fs::File::create(&self.log).unwrap();
        let child = Command::new(BIN)
            .args(["start", "--topology"])
            .arg(&self.topology)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn supervisor");
        LIVE_PIDS.lock().unwrap().push(child.id());
        self.supervisor = Some(child);
    }

    fn control(&mut self) -> Arc<ControlBlock> {
        if self.control.is_none() {
            let (base, name) = (self.base.clone(), self.name.clone());
            let mut attached = None;
            wait_until("the control block", || {
                attached = ShmDir::open(Some(&base), &name)
                    .ok()
                    .and_then(|d| ControlBlock::attach(&d).ok());
                attached.is_some()
            });
            self.control = attached.map(Arc::new);
        }
        Arc::clone(self.control.as_ref().unwrap())
    }

    fn wait_all_running(&mut self) {
        let c = self.control();
        wait_until("every actor RUNNING", || {
            c.engine_state() == engine_state::RUNNING
                && (0..c.actor_count()).all(|i| c.slot(i).state() == actor_state::RUNNING)
        });
    }

    /// Run a CLI command against this engine; (exit code, stdout, stderr).
    fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN)
            .args(args)
            .arg("--topology")
            .arg(&self.topology)
            .output()
            .expect("run the CLI");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Wait for the supervisor to exit; its exit code.
    fn wait_exit(&mut self) -> i32 {
        let child = self.supervisor.as_mut().expect("started");
        let mut code = None;
        wait_until("the supervisor to exit", || {
            code = child
                .try_wait()
                .expect("try_wait")
                .map(|s| s.code().unwrap_or(-1));
            code.is_some()
        });
        let pid = child.id();
        LIVE_PIDS.lock().unwrap().retain(|&p| p != pid);
        self.supervisor = None;
        code.unwrap()
    }

    fn engine_dir(&self) -> PathBuf {
        self.base.join(&self.name)
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(mut child) = self.supervisor.take() {
            // Safety: kill(2) on the supervisor this test started; its actors die with it
            // (PR_SET_PDEATHSIG).
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
            LIVE_PIDS.lock().unwrap().retain(|&p| p != child.id());
        }
    }
}

fn sigkill(pid: u32) {
    assert_ne!(pid, 0);
    // Safety: kill(2) on an actor process of the engine under test.
    assert_eq!(unsafe { libc::kill(pid as i32, libc::SIGKILL) }, 0);
}

/// Heartbeat readings of every slot.
fn heartbeats(c: &ControlBlock) -> Vec<u64> {
    (0..c.actor_count())
        .map(|i| c.slot(i).heartbeat())
        .collect()
}

#[test]
fn sigkilled_actors_come_back_while_the_others_keep_beating() {
    watchdog(|| {
        let mut e = Engine::start(
            &idle_actors(3),
            "intensity: (max_restarts: 10, period_ms: 60000)",
        );
        let c = e.control();
        for victim in 0..3 {
            let pids: Vec<u32> = (0..3).map(|i| c.slot(i).pid()).collect();
            let generations: Vec<u64> = (0..3).map(|i| c.slot(i).generation()).collect();
            let before = heartbeats(&c);
            sigkill(pids[victim]);
            let slot = c.slot(victim);
            wait_until("the killed actor to run again", || {
                slot.generation() == generations[victim] + 1 && slot.state() == actor_state::RUNNING
            });
            assert_ne!(slot.pid(), pids[victim], "a new process");
            assert_eq!(slot.restarts(), 1);
            // The new process beats.
            let hb = slot.heartbeat();
            wait_until("the new process's heartbeat to advance", || {
                slot.heartbeat() > hb
            });
            // The others were never restarted and their heartbeat kept rising.
            let after = heartbeats(&c);
            for other in (0..3).filter(|&i| i != victim) {
                assert_eq!(c.slot(other).pid(), pids[other], "actor {other} untouched");
                assert_eq!(c.slot(other).generation(), generations[other]);
                assert!(
                    after[other] > before[other],
                    "actor {other}'s heartbeat did not advance during the restart"
                );
            }
        }
        assert!(e
            .log_text()
            .contains("`b` exited (signal 9 (SIGKILL)); restarting `b`"));
    });
}

#[test]
fn operator_restart_replaces_one_actor_only() {
    watchdog(|| {
        let mut e = Engine::start(&idle_actors(3), "");
        let c = e.control();
        let pids: Vec<u32> = (0..3).map(|i| c.slot(i).pid()).collect();
        let (code, out, err) = e.cli(&["restart", "b"]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("`b` restarted"), "{out}");
        assert_ne!(c.slot(1).pid(), pids[1]);
        assert_eq!(c.slot(1).generation(), 2);
        assert_eq!(c.slot(1).state(), actor_state::RUNNING);
        assert_eq!([c.slot(0).pid(), c.slot(2).pid()], [pids[0], pids[2]]);
        // An unknown actor is a usage error.
        let (code, _, err) = e.cli(&["restart", "zz"]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("no actor `zz`"), "{err}");
    });
}

#[test]
fn restart_intensity_exceeded_halts_the_engine() {
    watchdog(|| {
        let mut e = Engine::start(
            &idle_actors(2),
            "intensity: (max_restarts: 2, period_ms: 60000)",
        );
        let c = e.control();
        // Two restarts are allowed; the third failure within the minute halts.
        for round in 1..=2u64 {
            let slot = c.slot(0);
            sigkill(slot.pid());
            wait_until("the restart", || {
                slot.generation() == round + 1 && slot.state() == actor_state::RUNNING
            });
        }
        sigkill(c.slot(0).pid());
        assert_eq!(e.wait_exit(), 4, "exit code 4 = halted\n{}", e.log_text());
        let kill = c.kill_info().expect("kill switch set by the supervisor");
        assert_eq!(kill.by, "supervisor");
        assert!(
            kill.reason.starts_with("restart intensity exceeded"),
            "{}",
            kill.reason
        );
        assert_eq!(c.engine_state(), engine_state::HALTED);
        let log = e.log_text();
        assert!(
            log.contains("HALTING the engine: restart intensity exceeded: 3 restarts within 60000 ms (limit 2)"),
            "{log}"
        );
        // Every actor was stopped; the shared memory stays for a post-mortem status.
        assert!((0..2).all(|i| c.slot(i).pid() == 0));
        let (code, out, _) = e.cli(&["status", "--json", "--sample-ms", "0"]);
        assert_eq!(code, 4);
        let status: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(status["state"], "HALTED");
        assert_eq!(status["supervisor_running"], false);
        assert_eq!(status["kill_switch"]["by"], "supervisor");
    });
}

#[test]
fn kill_switch_halts_every_actor_until_rearmed() {
    watchdog(|| {
        let mut e = Engine::start(&idle_actors(3), "");
        let c = e.control();
        let (code, out, err) = e.cli(&["kill", "--reason", "fat finger", "--by", "tester"]);
        assert_eq!(code, 0, "{out}{err}");
        wait_until("every actor HALTED", || {
            (0..3).all(|i| {
                c.slot(i).state() == actor_state::HALTED && c.slot(i).kill_seen().is_some()
            })
        });
        let (code, out, _) = e.cli(&["status", "--json", "--sample-ms", "0"]);
        assert_eq!(code, 4, "status exits 4 while halted");
        let s: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(s["state"], "HALTED");
        assert_eq!(s["kill_switch"]["set"], true);
        assert_eq!(s["kill_switch"]["by"], "tester");
        assert_eq!(s["kill_switch"]["reason"], "fat finger");
        assert_eq!(s["ui_url"], "http://127.0.0.1:8080/");
        for a in s["actors"].as_array().unwrap() {
            assert_eq!(a["state"], "HALTED");
            assert!(a["kill_seen_latency_ns"].as_u64().is_some());
        }
        // A second kill keeps the first one's details.
        let (_, out, _) = e.cli(&["kill", "--reason", "again", "--by", "other"]);
        assert!(out.contains("already set by tester: fat finger"), "{out}");
        // Halted actors keep beating: the supervisor does not restart them.
        let hb = heartbeats(&c);
        wait_until("halted actors' heartbeats", || {
            heartbeats(&c).iter().zip(&hb).all(|(now, then)| now > then)
        });
        assert!((0..3).all(|i| c.slot(i).generation() == 1));
        let (code, _, _) = e.cli(&["rearm", "--by", "tester"]);
        assert_eq!(code, 0);
        wait_until("every actor RUNNING again", || {
            (0..3).all(|i| c.slot(i).state() == actor_state::RUNNING)
        });
        assert!(!c.is_killed());
    });
}

#[test]
fn stop_terminates_in_reverse_order_and_removes_the_shared_memory() {
    watchdog(|| {
        let mut e = Engine::start(&idle_actors(3), "");
        let (code, out, err) = e.cli(&["stop"]);
        assert_eq!(code, 0, "{out}{err}");
        assert_eq!(e.wait_exit(), 0);
        let log = e.log_text();
        let pos = |s: &str| log.find(s).unwrap_or_else(|| panic!("{s} not in {log}"));
        assert!(pos("`c` stopped (exit status 0)") < pos("`b` stopped (exit status 0)"));
        assert!(pos("`b` stopped (exit status 0)") < pos("`a` stopped (exit status 0)"));
        assert!(!e.engine_dir().exists(), "the engine directory is removed");
        let (code, _, err) = e.cli(&["status"]);
        assert_eq!(code, 3, "{err}");
        assert!(err.contains("no engine"), "{err}");
    });
}

#[test]
fn sigterm_stops_gracefully() {
    watchdog(|| {
        let mut e = Engine::start(&idle_actors(2), "");
        let pid = e.supervisor.as_ref().unwrap().id();
        // Safety: kill(2) on the supervisor this test started.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
        assert_eq!(e.wait_exit(), 0);
        assert!(e
            .log_text()
            .contains("signal SIGTERM received: stopping gracefully"));
    });
}

#[test]
fn stalled_heartbeat_is_killed_and_restarted() {
    watchdog(|| {
        let mut e = Engine::start(&idle_actors(2), "heartbeat_timeout_ms: 300");
        let c = e.control();
        let slot = c.slot(1);
        let pid = slot.pid();
        // A stopped process keeps its pid but its heartbeat freezes.
        // Safety: kill(2) on an actor of the engine under test.
        unsafe { libc::kill(pid as i32, libc::SIGSTOP) };
        wait_until("the stalled actor to be replaced", || {
            slot.generation() == 2 && slot.state() == actor_state::RUNNING
        });
        assert_ne!(slot.pid(), pid);
        assert!(
            e.log_text().contains("`b` heartbeat stalled for"),
            "{}",
            e.log_text()
        );
    });
}

#[test]
fn sentinel_emergencies_restart_an_actor_and_halt_everything() {
    watchdog(|| {
        let mut e = Engine::start(&idle_actors(2), "");
        let c = e.control();
        let dir = ShmDir::open(Some(&e.base), &e.name).unwrap();
        let ring = EmergencyRing::attach(&dir, EMERGENCY_RING).unwrap();
        let mut sentinel = ring.producer().unwrap();
        let mut msg = Emergency {
            seq: 1,
            actor_index: 1,
            action: emergency_action::RESTART_ACTOR,
            ..Default::default()
        };
        put_str(&mut msg.reason, "rtt above 25 ms");
        sentinel.try_push(&msg).unwrap();
        let slot = c.slot(1);
        wait_until("the restart Sentinel asked for", || {
            slot.generation() == 2 && slot.state() == actor_state::RUNNING
        });
        assert_eq!(c.slot(0).generation(), 1);
        let mut halt = Emergency {
            seq: 2,
            action: emergency_action::HALT_ALL,
            ..Default::default()
        };
        put_str(&mut halt.reason, "daily loss limit");
        sentinel.try_push(&halt).unwrap();
        assert_eq!(e.wait_exit(), 4);
        let kill = c.kill_info().unwrap();
        assert!(kill.reason.contains("daily loss limit"), "{}", kill.reason);
        assert!(e
            .log_text()
            .contains("Sentinel asks to restart `b`: rtt above 25 ms"));
    });
}

#[test]
fn a_second_supervisor_for_the_same_engine_is_refused() {
    watchdog(|| {
        let e = Engine::start(&idle_actors(1), "");
        let out = Command::new(BIN)
            .args(["start", "--topology"])
            .arg(&e.topology)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(5));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("is already running"), "{err}");
    });
}

#[test]
fn pinned_actors_run_on_their_cores() {
    watchdog(|| {
        let e = Engine::start(&idle_actors(2), "");
        let (code, out, _) = e.cli(&["status", "--json", "--sample-ms", "0"]);
        assert_eq!(code, 0);
        let s: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(s["state"], "RUNNING");
        for a in s["actors"].as_array().unwrap() {
            // The kernel's view of the process: allowed on, and last ran on, its core only.
            assert_eq!(a["cpus_allowed"], a["core"].to_string());
            assert_eq!(a["last_cpu"], a["core"]);
            assert!(a["pid"].as_u64().unwrap() > 0);
            assert!(a["heartbeat_age_ms"].as_u64().unwrap() < 1000);
            // The actor's other threads (glommio's blocking pool) sit on the housekeeping
            // core 0, never beside the actor on its own core.
            let pid = a["pid"].as_u64().unwrap();
            let mut threads = 0;
            for task in fs::read_dir(format!("/proc/{pid}/task")).unwrap().flatten() {
                let tid: u64 = task.file_name().to_string_lossy().parse().unwrap();
                let status = fs::read_to_string(task.path().join("status")).unwrap();
                let allowed = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
                    .unwrap()
                    .trim()
                    .to_string();
                if tid == pid {
                    assert_eq!(allowed, a["core"].to_string());
                } else {
                    assert_eq!(allowed, "0", "thread {tid} of {pid}");
                    threads += 1;
                }
            }
            assert!(threads >= 1, "glommio's blocking pool thread exists");
        }
    });
}

/// Bad topologies: `check` and `start` exit 2 with the specific, located error; never a panic.
#[test]
fn bad_topologies_exit_2_with_their_specific_error() {
    watchdog(|| {
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let cases = [
            ("unknown_kind.ron", ":6:27: actor `b`, field `kind`: unknown kind `oracel`; known kinds: execution, feed, idle, idle-process, oracle, sentinel, sonar, ui"),
            ("duplicate_name.ron", ":7:16: actor `twin`, field `name`: duplicate name"),
            ("core_offline.ron", ":5:43: actor `far`, field `core`: core 64 is not online (online cores: "),
            ("two_spinners.ron", ":6:46: actor `second`, field `core`: core 1 already has the busy actor `first`"),
            ("spinner_on_housekeeping.ron", ":5:43: actor `hog`, field `core`: a busy actor (idle: Spin) must not run on housekeeping core 0"),
            ("missing_required.ron", ":5:30: actor `exec`, field `kind`: a `execution` actor needs a `sentinel` actor"),
            ("syntax_error.ron", ":6:9:"),
            ("unknown_field.ron", "unknown field `prio`"),
            ("bad_strategy.ron", "unknown value `one_for_some`"),
        ];
        for (file, expected) in cases {
            for command in ["check", "start"] {
                let out = Command::new(BIN)
                    .arg(command)
                    .arg("--topology")
                    .arg(fixtures.join(file))
                    .output()
                    .unwrap();
                let err = String::from_utf8_lossy(&out.stderr);
                assert_eq!(out.status.code(), Some(2), "{command} {file}: {err}");
                assert!(
                    err.contains(expected),
                    "{command} {file}: expected {expected:?} in {err}"
                );
                assert!(
                    err.contains(file),
                    "{command} {file}: the file is named: {err}"
                );
                assert!(!err.contains("panicked"), "{err}");
            }
        }
    });
}

#[test]
fn venue_latency_is_written_to_the_control_block() {
    watchdog(|| {
        let mut e = Engine::start(&idle_actors(1), "");
        let c = e.control();
        let (code, out, err) = e.cli(&["venue", "latency", "25ms", "--jitter", "500us"]);
        assert_eq!(code, 0, "{out}{err}");
        let (latency, _) = c.venue_latency().expect("written");
        assert_eq!(
            (latency.one_way_ns, latency.jitter_ns),
            (25_000_000, 500_000)
        );
        let (code, _, err) = e.cli(&["venue", "latency", "25 parsecs"]);
        assert_eq!(code, 2, "{err}");
    });
}

#[test]
fn doctor_reports_each_check_and_fails_on_cores_this_machine_lacks() {
    watchdog(|| {
        let e = Engine::start(&idle_actors(2), "");
        let (code, out, err) = e.cli(&["doctor", "--json"]);
        assert_eq!(code, 0, "{out}{err}");
        let report: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(report["engine_running"], true);
        let ids: Vec<&str> = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap())
            .collect();
        for id in [
            "online_allowed",
            "isolation",
            "irq_affinity",
            "memlock",
            "io_uring",
            "virtualisation",
            "pinned:a",
            "running_there:b",
        ] {
            assert!(ids.contains(&id), "{id} missing from {ids:?}");
        }
        let pinned = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "pinned:a")
            .unwrap();
        assert_eq!(pinned["severity"], "ok", "{pinned}");
        // The production layout wants cores 0-5: on a machine with fewer, an error and exit 7.
        let sixteen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/topology-16core.ron");
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let out = Command::new(BIN)
            .args(["doctor", "--json", "--topology"])
            .arg(&sixteen)
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let online = report["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "online_allowed")
            .unwrap()
            .clone();
        if cores < 6 {
            assert_eq!(out.status.code(), Some(7));
            assert_eq!(online["severity"], "error", "{online}");
            assert!(!online["remedy"].as_str().unwrap().is_empty());
        } else {
            assert_eq!(online["severity"], "ok", "{online}");
        }
    });
}

#[test]
fn process_kinds_are_supervised_like_loop_actors() {
    watchdog(|| {
        let actors = "(name: \"a\", kind: \"idle\", core: 1),\n        \
                      (name: \"p\", kind: \"idle-process\", core: 0),";
        let mut e = Engine::start(actors, "heartbeat_timeout_ms: 300");
        let c = e.control();
        let slot = c.slot(1);
        let hb = slot.heartbeat();
        wait_until("the process kind's heartbeat", || slot.heartbeat() > hb);
        let pid = slot.pid();
        sigkill(pid);
        wait_until("the process kind to come back", || {
            slot.generation() == 2 && slot.state() == actor_state::RUNNING
        });
        let (code, _, _) = e.cli(&["kill", "--by", "tester"]);
        assert_eq!(code, 0);
        wait_until("the process kind to halt", || {
            slot.state() == actor_state::HALTED
        });
        let (code, _, _) = e.cli(&["stop"]);
        assert_eq!(code, 0);
        assert_eq!(e.wait_exit(), 0);
        assert!(
            e.log_text().contains("`p` stopped (exit status 0)"),
            "{}",
            e.log_text()
        );
    });
}

#[test]
fn sched_fifo_is_applied_or_refused_with_the_remedy() {
    watchdog(|| {
        let actors = "(name: \"rt\", kind: \"idle\", core: 1, \
                      sched_fifo: Some((priority: 10, rttime_limit_ms: Some(5000)))),";
        let mut e = Engine::prepare(actors, "");
        e.spawn();
        let c = e.control();
        let slot = c.slot(0);
        let mut exited = None;
        wait_until("the actor to run or the start to fail", || {
            exited = e.supervisor.as_mut().unwrap().try_wait().unwrap();
            exited.is_some() || slot.state() == actor_state::RUNNING
        });
        if exited.is_none() {
            // Permitted (root or CAP_SYS_NICE): the kernel reports SCHED_FIFO (policy 1) at
            // priority 10 (/proc/PID/stat fields 40 and 41).
            let stat = fs::read_to_string(format!("/proc/{}/stat", slot.pid())).unwrap();
            let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
            assert_eq!((fields[40 - 3], fields[41 - 3]), ("10", "1"), "{stat}");
        } else {
            let log = e.log_text();
            assert!(
                log.contains("sched_setscheduler(SCHED_FIFO, priority 10)"),
                "{log}"
            );
            assert!(log.contains("CAP_SYS_NICE"), "{log}");
        }
    });
}
