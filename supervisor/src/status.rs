//! `supervisor status`: the engine as the control block and /proc show it.
//!
//! The JSON shape is a contract (docs/cli.md): scripts depend on it. Add keys; never rename or
//! remove one.

use std::fs;
use std::os::fd::AsRawFd;
use std::path::Path;

use runtime::clock::monotonic_ns;
use runtime::control::{actor_state_name, engine_state, engine_state_name, ControlBlock};
use serde::Serialize;

use crate::engine::LOCK_FILE;

/// `status --json`.
#[derive(Serialize, Clone, Debug)]
pub struct Status {
    pub engine: String,
    /// The engine's shared-memory directory.
    pub shm_dir: String,
    /// STARTING, RUNNING, LOCKDOWN, HALTED, STOPPING, STOPPED or UNKNOWN.
    pub state: String,
    pub supervisor_pid: u32,
    /// Whether a supervisor holds the engine (false after a halt: what remains is a post-mortem).
    pub supervisor_running: bool,
    pub kill_switch: KillSwitch,
    pub ui_url: Option<String>,
    pub venue_latency: VenueLatency,
    pub actors: Vec<ActorStatus>,
}

#[derive(Serialize, Clone, Debug)]
pub struct KillSwitch {
    pub set: bool,
    pub by: Option<String>,
    pub reason: Option<String>,
    /// When it was set, ns since the Unix epoch.
    pub at_unix_ns: Option<u64>,
    /// Kills since the engine started.
    pub kill_count: u64,
}

#[derive(Serialize, Clone, Debug)]
pub struct VenueLatency {
    pub one_way_ns: u64,
    pub jitter_ns: u64,
}

#[derive(Serialize, Clone, Debug)]
pub struct ActorStatus {
    pub name: String,
    pub kind: String,
    /// 0 when no process runs.
    pub pid: u32,
    /// Configured core.
    pub core: Option<u32>,
    /// The core the process last ran on (/proc/PID/stat field 39); null without a process.
    pub last_cpu: Option<u32>,
    /// The cores the process may run on (/proc/PID/status Cpus_allowed_list).
    pub cpus_allowed: Option<String>,
    /// EMPTY, STARTING, READY, RUNNING, HALTED, STOPPING, STOPPED or DEAD.
    pub state: String,
    pub generation: u64,
    pub restarts: u64,
    pub heartbeat: u64,
    /// Milliseconds since the heartbeat last advanced.
    pub heartbeat_age_ms: u64,
    /// Involuntary context switches of the actor's thread since it started (/proc/PID/status).
    pub nonvoluntary_ctxt_switches: Option<u64>,
    pub voluntary_ctxt_switches: Option<u64>,
    pub msgs_in: u64,
    pub msgs_out: u64,
    pub errors: u64,
    /// Messages in per second over the sampling window.
    pub msgs_per_s: f64,
    /// Processing latency of passes with work, last published percentiles (ns).
    pub latency_p50_ns: u64,
    pub latency_p99_ns: u64,
    /// How long after the kill switch was set this incarnation saw it (ns), once it has.
    pub kill_seen_latency_ns: Option<u64>,
}

/// Whether a supervisor holds the engine's lock.
pub fn supervisor_running(engine_dir: &Path) -> bool {
    let Ok(file) = fs::File::open(engine_dir.join(LOCK_FILE)) else {
        return false;
    };
    // Safety: flock on a descriptor we own; a shared non-blocking attempt fails only when the
    // supervisor holds its exclusive lock.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    rc != 0
}

/// Fields of /proc/PID/stat after the command name; `fields[0]` is field 3 (state). `None` if
/// the process is gone.
pub fn proc_stat_fields(pid: u32) -> Option<Vec<String>> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: split after the last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_string).collect())
}

/// The CPU `pid` last ran on: /proc/PID/stat field 39.
pub fn last_cpu(pid: u32) -> Option<u32> {
    proc_stat_fields(pid)?.get(39 - 3)?.parse().ok()
}

/// A `Key:\tvalue` line of /proc/PID/status.
pub fn proc_status_field(pid: u32, key: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(|v| v.trim().to_string())
}

fn sample(control: &ControlBlock) -> Vec<(u64, u64)> {
    (0..control.actor_count())
        .map(|i| {
            let s = control.slot(i);
            (s.counters().msgs_in, s.counters_updated_ns())
        })
        .collect()
}

/// Read the engine's status, sampling counters over `sample_ms` for the rates.
pub fn read(
    engine: &str,
    engine_dir: &Path,
    control: &ControlBlock,
    ui_url: Option<String>,
    sample_ms: u64,
) -> Status {
    let before = sample(control);
    let t0 = monotonic_ns();
    if sample_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(sample_ms));
    }
    let after = sample(control);
    let elapsed_s = (monotonic_ns() - t0) as f64 / 1e9;
    let now_ns = monotonic_ns();
    let kill = control.kill_info();
    let (latency, _) = control.venue_latency().unwrap_or_default();
    let running = supervisor_running(engine_dir);
    let actors = (0..control.actor_count())
        .map(|i| {
            let s = control.slot(i).snapshot();
            let live = s.pid != 0 && Path::new(&format!("/proc/{}", s.pid)).exists();
            let pid = if live { s.pid } else { 0 };
            let proc_u64 = |key: &str| {
                live.then(|| proc_status_field(pid, key))
                    .flatten()
                    .and_then(|v| v.parse().ok())
            };
            let msgs_per_s = if elapsed_s > 0.0 && after[i].1 != before[i].1 {
                (after[i].0.saturating_sub(before[i].0)) as f64 / elapsed_s
            } else {
                0.0
            };
            ActorStatus {
                name: s.name.clone(),
                kind: s.kind.clone(),
                pid,
                core: s.core,
                last_cpu: live.then(|| last_cpu(pid)).flatten(),
                cpus_allowed: live
                    .then(|| proc_status_field(pid, "Cpus_allowed_list"))
                    .flatten(),
                state: actor_state_name(s.state).to_string(),
                generation: s.generation,
                restarts: s.restarts,
                heartbeat: s.heartbeat,
                heartbeat_age_ms: now_ns.saturating_sub(s.last_progress_ns) / 1_000_000,
                nonvoluntary_ctxt_switches: proc_u64("nonvoluntary_ctxt_switches"),
                voluntary_ctxt_switches: proc_u64("voluntary_ctxt_switches"),
                msgs_in: s.msgs_in,
                msgs_out: s.msgs_out,
                errors: s.errors,
                msgs_per_s,
                latency_p50_ns: s.latency_p50_ns,
                latency_p99_ns: s.latency_p99_ns,
                kill_seen_latency_ns: (s.kill_seen_ns != 0).then_some(s.kill_latency_ns),
            }
        })
        .collect();
    Status {
        engine: engine.to_string(),
        shm_dir: engine_dir.display().to_string(),
        state: engine_state_name(control.effective_engine_state()).to_string(),
        supervisor_pid: control.supervisor_pid(),
        supervisor_running: running,
        kill_switch: KillSwitch {
            set: kill.is_some(),
            by: kill.as_ref().map(|k| k.by.clone()),
            reason: kill.as_ref().map(|k| k.reason.clone()),
            at_unix_ns: kill.as_ref().map(|k| k.wall_ns),
            kill_count: control.kill_count(),
        },
        ui_url,
        venue_latency: VenueLatency {
            one_way_ns: latency.one_way_ns,
            jitter_ns: latency.jitter_ns,
        },
        actors,
    }
}

impl Status {
    /// Whether the engine is halted (kill switch or escalation).
    pub fn is_halted(&self) -> bool {
        self.state == engine_state_name(engine_state::HALTED)
    }

    /// The table for people.
    pub fn render(&self) -> String {
        let mut out = format!(
            "engine {} ({}): {}{}\n",
            self.engine,
            self.shm_dir,
            self.state,
            if self.supervisor_running {
                format!(" (supervisor pid {})", self.supervisor_pid)
            } else {
                " (no supervisor running: post-mortem view)".to_string()
            }
        );
        if self.kill_switch.set {
            out.push_str(&format!(
                "kill switch: SET by {} — {}\n",
                self.kill_switch.by.as_deref().unwrap_or("?"),
                self.kill_switch.reason.as_deref().unwrap_or("")
            ));
        } else {
            out.push_str("kill switch: armed\n");
        }
        if let Some(url) = &self.ui_url {
            out.push_str(&format!("cockpit: {url}\n"));
        }
        out.push_str(&format!(
            "{:<12} {:<10} {:>7} {:>4} {:>4} {:<8} {:>4} {:>6} {:>8} {:>10} {:>9} {:>9}\n",
            "actor",
            "kind",
            "pid",
            "core",
            "ran",
            "state",
            "rst",
            "hb_ms",
            "nvcsw",
            "msgs/s",
            "p50_us",
            "p99_us"
        ));
        for a in &self.actors {
            let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
            out.push_str(&format!(
                "{:<12} {:<10} {:>7} {:>4} {:>4} {:<8} {:>4} {:>6} {:>8} {:>10.0} {:>9.1} {:>9.1}\n",
                a.name,
                a.kind,
                if a.pid == 0 { "-".to_string() } else { a.pid.to_string() },
                opt(a.core.map(u64::from)),
                opt(a.last_cpu.map(u64::from)),
                a.state,
                a.restarts,
                a.heartbeat_age_ms,
                opt(a.nonvoluntary_ctxt_switches),
                a.msgs_per_s,
                a.latency_p50_ns as f64 / 1000.0,
                a.latency_p99_ns as f64 / 1000.0
            ));
        }
        out
    }
}
