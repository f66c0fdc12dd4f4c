//! `supervisor doctor`: is this machine set up for pinned low-latency actors on the topology's
//! cores? The checks of `shared/notes/linux-tuning.md`, each with an id, a severity, what was
//! found, what is wanted and the remedy (the shape of Redpanda's `rpk` checkers): a table for
//! people, JSON for scripts.
//!
//! Static checks read /sys, /proc and the process's limits. When the engine is running, runtime
//! checks sample each actor process twice, a second apart (pinning, the core it runs on,
//! involuntary context switches, interrupts and steal time on its core).
//!
//! Hot cores (H) are the cores of busy actors (Spin/Yield); in a layout without busy actors,
//! the actor cores that are not housekeeping cores.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;
use std::time::Duration;

use runtime::control::ControlBlock;
use runtime::shm::ShmDir;
use serde::Serialize;

use crate::cli::{exit_code, Failure};
use crate::machine::{format_cpu_list, parse_cpu_list, IoUring, LocalMachine, Machine};
use crate::registry::Registry;
use crate::status::{last_cpu, proc_status_field};
use crate::topology::{self, KindCatalog, Topology, TopologyError};

/// How bad a finding is.
#[derive(Serialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// As wanted.
    Ok,
    /// Cannot be checked here, or only informative.
    Info,
    /// Works, but latency tails will suffer.
    Warning,
    /// The engine will not run (or not as configured).
    Error,
}

/// One check's result.
#[derive(Serialize, Clone, Debug)]
pub struct Check {
    pub id: String,
    pub severity: Severity,
    pub found: String,
    pub wanted: String,
    /// Empty when nothing needs doing.
    pub remedy: String,
}

/// `doctor --json`.
#[derive(Serialize, Clone, Debug)]
pub struct Report {
    pub topology: String,
    pub hot_cores: Vec<usize>,
    pub housekeeping_cores: Vec<usize>,
    /// Whether runtime checks ran (the engine was running).
    pub engine_running: bool,
    pub checks: Vec<Check>,
}

fn read(path: &str) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

fn check(id: &str, severity: Severity, found: String, wanted: &str, remedy: &str) -> Check {
    Check {
        id: id.to_string(),
        severity,
        found,
        wanted: wanted.to_string(),
        remedy: if severity == Severity::Ok {
            String::new()
        } else {
            remedy.to_string()
        },
    }
}

/// The cores of `list` missing from `have`.
fn missing(list: &[usize], have: &[usize]) -> Vec<usize> {
    list.iter().copied().filter(|c| !have.contains(c)).collect()
}

/// A kernel command-line parameter's CPU list (`isolcpus=managed_irq,domain,2-5` → 2-5).
fn cmdline_cpus(cmdline: &str, key: &str) -> Option<Vec<usize>> {
    let value = cmdline
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{key}=")))?;
    let cpus = value
        .split(',')
        .filter(|p| p.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(",");
    parse_cpu_list(&cpus)
}

/// Parse a hex CPU mask such as `ff` or `00000000,0000000f` (/proc/irq/*/smp_affinity).
fn parse_cpu_mask(text: &str) -> Vec<usize> {
    let hex: String = text.trim().chars().filter(|c| *c != ',').collect();
    let mut out = Vec::new();
    for (i, ch) in hex.chars().rev().enumerate() {
        if let Some(v) = ch.to_digit(16) {
            for bit in 0..4 {
                if v & (1 << bit) != 0 {
                    out.push(i * 4 + bit);
                }
            }
        }
    }
    out
}

fn process_running(name: &str) -> bool {
    let Ok(entries) = fs::read_dir("/proc") else {
        return false;
    };
    entries.flatten().any(|e| {
        e.file_name()
            .to_string_lossy()
            .bytes()
            .all(|b| b.is_ascii_digit())
            && fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == name)
    })
}

/// The hot cores of a topology (see the module documentation).
pub fn hot_cores(t: &Topology) -> Vec<usize> {
    let busy: BTreeSet<usize> = t
        .actors
        .iter()
        .filter(|a| a.idle.is_busy())
        .map(|a| a.core)
        .collect();
    let set: BTreeSet<usize> = if busy.is_empty() {
        t.actors
            .iter()
            .map(|a| a.core)
            .filter(|c| !t.housekeeping_cores.contains(c))
            .collect()
    } else {
        busy
    };
    set.into_iter().collect()
}

/// Every static check for `t`.
pub fn static_checks(t: &Topology, machine: &dyn Machine) -> Vec<Check> {
    let hot = hot_cores(t);
    let all: BTreeSet<usize> = t
        .actors
        .iter()
        .map(|a| a.core)
        .chain(t.housekeeping_cores.iter().copied())
        .collect();
    let all: Vec<usize> = all.into_iter().collect();
    let hot_s = format_cpu_list(&hot);
    let cmdline = read("/proc/cmdline").unwrap_or_default();
    let mut out = Vec::new();

    // online / allowed
    let online = machine.online_cores();
    let allowed = machine.allowed_cores();
    let bad: Vec<usize> = all
        .iter()
        .copied()
        .filter(|c| !online.contains(c) || !allowed.contains(c))
        .collect();
    out.push(check(
        "online_allowed",
        if bad.is_empty() {
            Severity::Ok
        } else {
            Severity::Error
        },
        format!(
            "online {}, allowed {}",
            format_cpu_list(&online),
            format_cpu_list(&allowed)
        ),
        &format!("cores {} online and allowed", format_cpu_list(&all)),
        "edit the topology's cores, or widen the cpuset / affinity the supervisor starts with",
    ));

    // isolation
    let isolated = read("/sys/devices/system/cpu/isolated")
        .and_then(|s| parse_cpu_list(&s))
        .unwrap_or_default();
    let not_isolated = missing(&hot, &isolated);
    out.push(check(
        "isolation",
        if hot.is_empty() || not_isolated.is_empty() {
            Severity::Ok
        } else {
            Severity::Warning
        },
        format!("isolated: {}", format_cpu_list(&isolated)),
        &format!("hot cores {hot_s} isolated"),
        &format!(
            "boot with isolcpus={hot_s} (or a cgroup v2 cpuset partition of type `isolated`) so \
             the scheduler puts nothing else there"
        ),
    ));

    // nohz_full
    let nohz = read("/sys/devices/system/cpu/nohz_full")
        .and_then(|s| parse_cpu_list(&s))
        .unwrap_or_default();
    out.push(check(
        "nohz_full",
        if hot.is_empty() || missing(&hot, &nohz).is_empty() {
            Severity::Ok
        } else {
            Severity::Warning
        },
        format!("nohz_full: {}", format_cpu_list(&nohz)),
        &format!("hot cores {hot_s} in nohz_full"),
        &format!("boot with nohz_full={hot_s}: no scheduler tick on a core running one task"),
    ));

    // rcu_nocbs
    let nocbs = cmdline_cpus(&cmdline, "rcu_nocbs").unwrap_or_default();
    out.push(check(
        "rcu_nocbs",
        if hot.is_empty() || missing(&hot, &nocbs).is_empty() {
            Severity::Ok
        } else {
            Severity::Warning
        },
        format!("rcu_nocbs: {}", format_cpu_list(&nocbs)),
        &format!("hot cores {hot_s} in rcu_nocbs"),
        &format!("boot with rcu_nocbs={hot_s}: RCU callbacks run elsewhere"),
    ));

    // IRQ affinity
    let default_mask = read("/proc/irq/default_smp_affinity")
        .map(|m| parse_cpu_mask(&m))
        .unwrap_or_default();
    let mut irqs_on_hot = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc/irq") {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if let Some(cpus) = fs::read_to_string(e.path().join("effective_affinity_list"))
                .ok()
                .and_then(|s| parse_cpu_list(&s))
            {
                if cpus.iter().any(|c| hot.contains(c)) {
                    irqs_on_hot.push(name);
                }
            }
        }
    }
    irqs_on_hot.sort_by_key(|n| n.parse::<u32>().unwrap_or(0));
    let irqbalance = process_running("irqbalance");
    let default_hits: Vec<usize> = default_mask
        .iter()
        .copied()
        .filter(|c| hot.contains(c))
        .collect();
    out.push(check(
        "irq_affinity",
        if hot.is_empty() || (irqs_on_hot.is_empty() && !irqbalance && default_hits.is_empty()) {
            Severity::Ok
        } else {
            Severity::Warning
        },
        format!(
            "{} IRQ(s) on hot cores{}; default affinity {}; irqbalance {}",
            irqs_on_hot.len(),
            if irqs_on_hot.is_empty() {
                String::new()
            } else {
                format!(
                    " ({})",
                    irqs_on_hot
                        .iter()
                        .take(8)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(",")
                )
            },
            format_cpu_list(&default_mask),
            if irqbalance { "running" } else { "not running" }
        ),
        "no device interrupt on hot cores; irqbalance off or banning them",
        &format!(
            "boot with irqaffinity={} ; write the housekeeping mask to /proc/irq/*/smp_affinity; \
             stop irqbalance or set IRQBALANCE_BANNED_CPULIST={hot_s}",
            format_cpu_list(&t.housekeeping_cores)
        ),
    ));

    // SMT
    let smt_active = read("/sys/devices/system/cpu/smt/active");
    let mut shared = Vec::new();
    for &core in &hot {
        let siblings = read(&format!(
            "/sys/devices/system/cpu/cpu{core}/topology/thread_siblings_list"
        ))
        .and_then(|s| parse_cpu_list(&s))
        .unwrap_or_default();
        for s in siblings.into_iter().filter(|&s| s != core) {
            if all.contains(&s) {
                shared.push(format!("{core}~{s}"));
            }
        }
    }
    out.push(check(
        "smt",
        if !shared.is_empty() {
            Severity::Warning
        } else if smt_active.as_deref() == Some("1") && !hot.is_empty() {
            Severity::Info
        } else {
            Severity::Ok
        },
        format!(
            "SMT active: {}; hot cores sharing a physical core with topology cores: {}",
            smt_active.as_deref().unwrap_or("unknown"),
            if shared.is_empty() {
                "none".into()
            } else {
                shared.join(" ")
            }
        ),
        "no hot actor shares a physical core with anything",
        "leave each hot core's hyperthread sibling out of the topology (and isolated), or boot \
         with nosmt",
    ));

    // Governor
    let govs: Vec<(usize, Option<String>)> = hot
        .iter()
        .map(|&c| {
            (
                c,
                read(&format!(
                    "/sys/devices/system/cpu/cpu{c}/cpufreq/scaling_governor"
                )),
            )
        })
        .collect();
    let not_perf: Vec<String> = govs
        .iter()
        .filter_map(|(c, g)| match g {
            Some(g) if g != "performance" => Some(format!("cpu{c}={g}")),
            _ => None,
        })
        .collect();
    let absent = govs.iter().all(|(_, g)| g.is_none());
    out.push(check(
        "governor",
        if hot.is_empty() {
            Severity::Ok
        } else if absent {
            Severity::Info
        } else if not_perf.is_empty() {
            Severity::Ok
        } else {
            Severity::Warning
        },
        if absent {
            "no cpufreq (common in virtual machines: the host decides)".into()
        } else if not_perf.is_empty() {
            "performance".into()
        } else {
            not_perf.join(" ")
        },
        "performance on hot cores",
        "cpupower frequency-set -g performance (or the tuned profile latency-performance)",
    ));

    // C-states
    let mut deep = Vec::new();
    let mut any_cpuidle = false;
    for &c in &hot {
        let Ok(states) = fs::read_dir(format!("/sys/devices/system/cpu/cpu{c}/cpuidle")) else {
            continue;
        };
        for s in states.flatten() {
            any_cpuidle = true;
            let p = s.path();
            let latency: u64 = fs::read_to_string(p.join("latency"))
                .ok()
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            let disabled = fs::read_to_string(p.join("disable")).is_ok_and(|v| v.trim() == "1");
            if latency > 10 && !disabled {
                let name = fs::read_to_string(p.join("name")).unwrap_or_default();
                deep.push(format!("cpu{c}:{}({latency}us)", name.trim()));
            }
        }
    }
    out.push(check(
        "cstates",
        if hot.is_empty() || (any_cpuidle && deep.is_empty()) {
            Severity::Ok
        } else if !any_cpuidle {
            Severity::Info
        } else {
            Severity::Warning
        },
        if !any_cpuidle {
            "no cpuidle states exposed (virtual machine or cpuidle off)".into()
        } else if deep.is_empty() {
            "no deep state enabled".into()
        } else {
            deep.join(" ")
        },
        "idle states deeper than 10 µs disabled on hot cores",
        "echo 1 > /sys/devices/system/cpu/cpuN/cpuidle/stateM/disable for deep states, or boot \
         with intel_idle.max_cstate=1 processor.max_cstate=1 (a spinning actor never idles, but \
         its core's sibling and polite actors do)",
    ));

    // Clocksource
    let clocksource = read("/sys/devices/system/clocksource/clocksource0/current_clocksource")
        .unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo").unwrap_or_default();
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_default()
        .to_string();
    let has = |f: &str| flags.split_whitespace().any(|x| x == f);
    let tsc_ok = has("constant_tsc") && has("nonstop_tsc");
    out.push(check(
        "clocksource",
        if clocksource == "tsc" && tsc_ok {
            Severity::Ok
        } else {
            Severity::Warning
        },
        format!(
            "{clocksource}; constant_tsc {} nonstop_tsc {}",
            has("constant_tsc"),
            has("nonstop_tsc")
        ),
        "tsc with constant_tsc and nonstop_tsc",
        "boot with clocksource=tsc tsc=reliable where the TSC is invariant; other clocksources \
         make every timestamp a slow system call",
    ));

    // THP
    let thp = read("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    out.push(check(
        "thp",
        if thp.contains("[always]") {
            Severity::Warning
        } else {
            Severity::Ok
        },
        thp.clone(),
        "[never] or [madvise]",
        "echo madvise > /sys/kernel/mm/transparent_hugepage/enabled (khugepaged compaction \
         stalls otherwise)",
    ));

    // Swap
    let swaps = read("/proc/swaps").unwrap_or_default();
    let swap_devices = swaps
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count();
    let swappiness = read("/proc/sys/vm/swappiness").unwrap_or_default();
    out.push(check(
        "swap",
        if swap_devices == 0 {
            Severity::Ok
        } else {
            Severity::Warning
        },
        format!("{swap_devices} swap device(s), swappiness {swappiness}"),
        "no swap (or the actors' memory locked)",
        "swapoff -a, or vm.swappiness=0: a page fault to swap is milliseconds",
    ));

    // NUMA balancing
    let numa = read("/proc/sys/kernel/numa_balancing");
    out.push(check(
        "numa_balancing",
        match numa.as_deref() {
            Some("0") | None => Severity::Ok,
            _ => Severity::Warning,
        },
        numa.clone()
            .unwrap_or_else(|| "absent (single node)".into()),
        "0",
        "sysctl -w kernel.numa_balancing=0 (it unmaps pages to sample accesses: minor faults)",
    ));

    // CFS quota
    let (quota, throttled) = cgroup_cpu();
    out.push(check(
        "cfs_quota",
        match (&quota, throttled) {
            (Some(q), _) if !q.starts_with("max") => Severity::Warning,
            (_, Some(n)) if n > 0 => Severity::Warning,
            _ => Severity::Ok,
        },
        format!(
            "cpu.max {}; nr_throttled {}",
            quota.as_deref().unwrap_or("absent"),
            throttled.map_or("?".into(), |n| n.to_string())
        ),
        "no CPU quota (cpu.max = max)",
        "run the engine in a cgroup without cpu.max (a spinner burns its quota and is frozen \
         until the next period)",
    ));

    // RT throttling, when an actor asks for SCHED_FIFO.
    if t.actors.iter().any(|a| a.sched_fifo.is_some()) {
        let rt = read("/proc/sys/kernel/sched_rt_runtime_us").unwrap_or_default();
        out.push(check(
            "rt_throttling",
            if rt == "-1" {
                Severity::Ok
            } else {
                Severity::Warning
            },
            format!("sched_rt_runtime_us {rt}"),
            "-1 for SCHED_FIFO spinners",
            "sysctl -w kernel.sched_rt_runtime_us=-1 (else a FIFO spinner is paused for 50 ms \
             every second), and keep per-CPU kernel threads off that core",
        ));
    }

    // memlock
    let required = t.required_memlock_bytes();
    let limit = machine.memlock_limit_bytes();
    out.push(check(
        "memlock",
        match limit {
            Some(l) if l < required => Severity::Error,
            _ => Severity::Ok,
        },
        limit.map_or("unlimited".into(), |l| format!("{} KiB", l / 1024)),
        &format!("≥ {} KiB", required.div_ceil(1024)),
        &format!(
            "ulimit -l {} (or unlimited), or a memlock line in /etc/security/limits.conf",
            required.div_ceil(1024)
        ),
    ));

    // io_uring
    let io = machine.io_uring();
    out.push(check(
        "io_uring",
        if io == IoUring::Available {
            Severity::Ok
        } else {
            Severity::Error
        },
        match &io {
            IoUring::Available => "available".into(),
            IoUring::Unavailable { cause } => cause.clone(),
        },
        "io_uring_setup succeeds (io_uring_disabled = 0, no seccomp filter blocking it)",
        "sysctl -w kernel.io_uring_disabled=0; in a container, a seccomp profile that allows \
         io_uring",
    ));

    // shm space
    let need = rings_bytes();
    let free = statvfs_free(&t.shm_base);
    out.push(check(
        "shm_space",
        match free {
            Some(f) if f < need => Severity::Error,
            Some(_) => Severity::Ok,
            None => Severity::Warning,
        },
        free.map_or("unknown".into(), |f| {
            format!("{} MiB free in {}", f >> 20, t.shm_base.display())
        }),
        &format!(
            "≥ {} MiB for the rings, control block and histograms",
            need.div_ceil(1 << 20)
        ),
        "mount -o remount,size=1G /dev/shm (or point shm_dir at a larger tmpfs)",
    ));

    // Virtualisation
    let hypervisor = has("hypervisor");
    out.push(check(
        "virtualisation",
        if hypervisor {
            Severity::Warning
        } else {
            Severity::Ok
        },
        if hypervisor {
            "running under a hypervisor".into()
        } else {
            "bare metal".into()
        },
        "bare metal",
        "vCPUs are not physical cores: the host can preempt a vCPU whatever the guest's \
         isolation, and steal time dominates latency tails; use dedicated (pinned) vCPUs or \
         bare metal for production",
    ));
    out
}

fn cgroup_cpu() -> (Option<String>, Option<u64>) {
    let Some(rel) = fs::read_to_string("/proc/self/cgroup").ok().and_then(|c| {
        c.lines()
            .find_map(|l| l.strip_prefix("0::").map(str::to_string))
    }) else {
        return (None, None);
    };
    let dir = Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    let quota = fs::read_to_string(dir.join("cpu.max"))
        .ok()
        .map(|s| s.trim().to_string());
    let throttled = fs::read_to_string(dir.join("cpu.stat")).ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("nr_throttled "))
            .and_then(|v| v.trim().parse().ok())
    });
    (quota, throttled)
}

fn rings_bytes() -> u64 {
    use runtime::rings::*;
    MdRing::spec().file_bytes()
        + SignalRing::spec().file_bytes()
        + IntentRing::spec().file_bytes()
        + IntentEventRing::spec().file_bytes()
        + OrdersRing::spec().file_bytes()
        + EmergencyRing::spec().file_bytes()
        + ControlBlock::spec().file_bytes()
        + runtime::hist::HistogramRegion::spec().file_bytes()
}

fn statvfs_free(path: &Path) -> Option<u64> {
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).ok()?;
    // Safety: statvfs is plain data; zeroed is a valid out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // Safety: `c` is a valid NUL-terminated path and `st` a writable statvfs.
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return None;
    }
    Some(st.f_bavail as u64 * st.f_frsize as u64)
}

/// Per-CPU counters of /proc/interrupts lines LOC, RES, CAL, TLB for `cpu`.
fn interrupts(cpu: usize) -> Vec<(String, u64)> {
    let text = read("/proc/interrupts").unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    let Some(col) = header.iter().position(|h| *h == format!("CPU{cpu}")) else {
        return Vec::new();
    };
    lines
        .filter_map(|l| {
            let mut parts = l.split_whitespace();
            let name = parts.next()?.trim_end_matches(':').to_string();
            if !["LOC", "RES", "CAL", "TLB"].contains(&name.as_str()) {
                return None;
            }
            let v = parts.nth(col)?.parse().ok()?;
            Some((name, v))
        })
        .collect()
}

/// The steal ticks of `cpu` in /proc/stat.
fn steal(cpu: usize) -> Option<u64> {
    read("/proc/stat")?
        .lines()
        .find(|l| l.starts_with(&format!("cpu{cpu} ")))?
        .split_whitespace()
        .nth(8)?
        .parse()
        .ok()
}

/// Runtime checks against the running engine: two samples `sample` apart.
pub fn runtime_checks(t: &Topology, control: &ControlBlock, sample: Duration) -> Vec<Check> {
    struct Sample {
        nvcsw: Option<u64>,
        irq: Vec<(String, u64)>,
        steal: Option<u64>,
    }
    let take = |pid: u32, core: usize| Sample {
        nvcsw: proc_status_field(pid, "nonvoluntary_ctxt_switches").and_then(|v| v.parse().ok()),
        irq: interrupts(core),
        steal: steal(core),
    };
    let actors: Vec<(usize, u32)> = t
        .actors
        .iter()
        .map(|a| (a.index, control.slot(a.index).pid()))
        .filter(|(_, pid)| *pid != 0)
        .collect();
    let first: Vec<Sample> = actors
        .iter()
        .map(|&(i, pid)| take(pid, t.actors[i].core))
        .collect();
    std::thread::sleep(sample);
    let mut out = Vec::new();
    for (k, &(i, pid)) in actors.iter().enumerate() {
        let a = &t.actors[i];
        let second = take(pid, a.core);
        let allowed = proc_status_field(pid, "Cpus_allowed_list").unwrap_or_default();
        out.push(check(
            &format!("pinned:{}", a.name),
            if allowed == a.core.to_string() {
                Severity::Ok
            } else {
                Severity::Error
            },
            format!("Cpus_allowed_list {allowed}"),
            &a.core.to_string(),
            "the actor did not pin itself: check its start-up log",
        ));
        let ran = last_cpu(pid);
        out.push(check(
            &format!("running_there:{}", a.name),
            if ran == Some(a.core as u32) {
                Severity::Ok
            } else {
                Severity::Error
            },
            ran.map_or("unknown".into(), |c| format!("last ran on {c}")),
            &a.core.to_string(),
            "the kernel runs it elsewhere: check the cpuset",
        ));
        let delta = second
            .nvcsw
            .zip(first[k].nvcsw)
            .map(|(b, a)| b.saturating_sub(a));
        out.push(check(
            &format!("not_preempted:{}", a.name),
            match delta {
                Some(0) => Severity::Ok,
                Some(_) if a.idle.is_busy() => Severity::Warning,
                Some(_) => Severity::Info,
                None => Severity::Info,
            },
            delta.map_or("unknown".into(), |d| {
                format!(
                    "{d} involuntary context switches in {} ms",
                    sample.as_millis()
                )
            }),
            "0 for a spinning actor",
            "something else runs on this core: isolate it (isolcpus, cpuset), move kernel \
             threads and IRQs away",
        ));
        let irq_delta: Vec<String> = second
            .irq
            .iter()
            .filter_map(|(name, v)| {
                let before = first[k].irq.iter().find(|(n, _)| n == name)?.1;
                let d = v.saturating_sub(before);
                (d > 0).then(|| format!("{name} +{d}"))
            })
            .collect();
        out.push(check(
            &format!("interrupts:{}", a.name),
            if irq_delta.is_empty() {
                Severity::Ok
            } else if a.idle.is_busy() {
                Severity::Warning
            } else {
                Severity::Info
            },
            if irq_delta.is_empty() {
                "none".into()
            } else {
                format!("core {}: {}", a.core, irq_delta.join(" "))
            },
            "near 0 on hot cores",
            "LOC: nohz_full; RES/CAL/TLB: another thread of a shared address space or \
             membarrier (keep hot actors in their own processes)",
        ));
        let steal_delta = second
            .steal
            .zip(first[k].steal)
            .map(|(b, a)| b.saturating_sub(a));
        out.push(check(
            &format!("steal:{}", a.name),
            match steal_delta {
                Some(0) | None => Severity::Ok,
                Some(_) => Severity::Warning,
            },
            steal_delta.map_or("unknown".into(), |d| {
                format!("{d} ticks on core {}", a.core)
            }),
            "0",
            "the hypervisor runs something else on this vCPU: dedicated vCPUs or bare metal",
        ));
        let locked = proc_status_field(pid, "VmLck").unwrap_or_default();
        let rss = proc_status_field(pid, "VmRSS").unwrap_or_default();
        out.push(check(
            &format!("locked:{}", a.name),
            Severity::Info,
            format!("VmLck {locked}, VmRSS {rss}"),
            "locked ≈ resident (mlockall)",
            "memory is not locked: a page can be reclaimed and faulted back on the hot path",
        ));
    }
    out
}

/// A catalog that knows every kind it is given and requires nothing.
struct AnyKinds(Vec<String>);

impl KindCatalog for AnyKinds {
    fn kinds(&self) -> Vec<String> {
        self.0.clone()
    }
    fn requires(&self, _kind: &str) -> Vec<String> {
        Vec::new()
    }
}

/// `supervisor doctor`.
pub fn run(topology_file: &Path, registry: &Registry, json: bool) -> Result<u8, Failure> {
    // Validate against a machine that allows everything: the doctor reports what this machine
    // lacks instead of stopping at it.
    let permissive = crate::machine::FakeMachine {
        online: (0..4096).collect(),
        allowed: (0..4096).collect(),
        memlock_bytes: None,
        io_uring: IoUring::Available,
    };
    // Kinds this binary does not link in are no reason to skip checking the machine for them.
    let src = fs::read_to_string(topology_file).map_err(|source| TopologyError::Read {
        file: topology_file.to_path_buf(),
        source,
    })?;
    let parsed = topology::parse(topology_file, &src)?;
    let mut kinds = registry.kinds();
    kinds.extend(parsed.raw.actors.iter().map(|a| a.kind.clone()));
    kinds.sort();
    kinds.dedup();
    let t = topology::validate(&parsed, &AnyKinds(kinds), &permissive)?;
    let mut checks = static_checks(&t, &LocalMachine);
    let running = ShmDir::open(Some(&t.shm_base), &t.engine)
        .ok()
        .and_then(|d| ControlBlock::attach(&d).ok());
    let engine_running = running.is_some();
    if let Some(control) = &running {
        checks.extend(runtime_checks(&t, control, Duration::from_secs(1)));
    }
    let report = Report {
        topology: t.source.display().to_string(),
        hot_cores: hot_cores(&t),
        housekeeping_cores: t.housekeeping_cores.clone(),
        engine_running,
        checks,
    };
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(anyhow::Error::from)?
        );
    } else {
        println!(
            "doctor for {}: hot cores {}, housekeeping {}{}",
            report.topology,
            format_cpu_list(&report.hot_cores),
            format_cpu_list(&report.housekeeping_cores),
            if engine_running {
                " (engine running: runtime checks included)"
            } else {
                " (engine not running: static checks only)"
            }
        );
        for c in &report.checks {
            let sev = match c.severity {
                Severity::Ok => "ok",
                Severity::Info => "info",
                Severity::Warning => "WARN",
                Severity::Error => "ERROR",
            };
            println!("{sev:<5} {:<24} found: {}", c.id, c.found);
            if c.severity > Severity::Ok {
                println!("      {:<24} wanted: {}", "", c.wanted);
                if !c.remedy.is_empty() {
                    println!("      {:<24} remedy: {}", "", c.remedy);
                }
            }
        }
    }
    Ok(
        if report.checks.iter().any(|c| c.severity == Severity::Error) {
            exit_code::DOCTOR_FAILED
        } else {
            exit_code::OK
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_masks_and_cmdline_lists_parse() {
        assert_eq!(parse_cpu_mask("3"), vec![0, 1]);
        assert_eq!(parse_cpu_mask("00000000,00000010"), vec![4]);
        assert_eq!(parse_cpu_mask("f0"), vec![4, 5, 6, 7]);
        assert_eq!(
            cmdline_cpus("ro isolcpus=managed_irq,domain,2-3,5 quiet", "isolcpus"),
            Some(vec![2, 3, 5])
        );
        assert_eq!(cmdline_cpus("ro quiet", "rcu_nocbs"), None);
    }
}
