//! What the kernel says about the actor processes and the cores: last CPU, CPU time, context
//! switches (from `/proc/<pid>/stat` and `/proc/<pid>/status`) and per-core busy time (from
//! `/proc/stat`). Parsing is pure and tested on fixed text; reading is a thin layer.

use std::collections::HashMap;
use std::fs;

/// Per-process figures from one read of `/proc/<pid>/{stat,status}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ProcStat {
    /// The CPU the task last ran on (field 39 of stat).
    pub last_cpu: i32,
    /// User + system CPU time in clock ticks (fields 14 and 15).
    pub cpu_ticks: u64,
    pub ctx_voluntary: u64,
    pub ctx_nonvoluntary: u64,
}

/// Parse `/proc/<pid>/stat`. The command name (field 2) may hold spaces and parentheses, so
/// fields are counted from the last ')'.
pub fn parse_stat(text: &str) -> Option<(i32, u64)> {
    let after = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = after.split_whitespace().collect();
    // after[0] is field 3 (state): field N is f[N - 3].
    let utime: u64 = f.get(14 - 3)?.parse().ok()?;
    let stime: u64 = f.get(15 - 3)?.parse().ok()?;
    let cpu: i32 = f.get(39 - 3)?.parse().ok()?;
    Some((cpu, utime + stime))
}

/// Parse the context-switch lines of `/proc/<pid>/status`.
pub fn parse_status(text: &str) -> (u64, u64) {
    let mut vol = 0;
    let mut nonvol = 0;
    for line in text.lines() {
        if let Some(v) = line.strip_prefix("voluntary_ctxt_switches:") {
            vol = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("nonvoluntary_ctxt_switches:") {
            nonvol = v.trim().parse().unwrap_or(0);
        }
    }
    (vol, nonvol)
}

/// Per-core (busy, total) jiffies from `/proc/stat` lines `cpuN user nice system idle iowait …`.
/// Busy excludes idle and iowait.
pub fn parse_proc_stat(text: &str) -> Vec<(u32, u64, u64)> {
    let mut out = Vec::new();
    for line in text.lines() {
        // "cpuN …" only: the aggregate line is "cpu  …" (no number right after "cpu").
        let Some(rest) = line
            .strip_prefix("cpu")
            .filter(|r| r.starts_with(|c: char| c.is_ascii_digit()))
        else {
            continue;
        };
        let mut parts = rest.split_whitespace();
        let Some(Ok(core)) = parts.next().map(str::parse::<u32>) else {
            continue;
        };
        let vals: Vec<u64> = parts.filter_map(|v| v.parse().ok()).collect();
        if vals.len() < 4 {
            continue;
        }
        // guest and guest_nice (fields 9, 10) are already counted in user and nice.
        let total: u64 = vals.iter().take(8).sum();
        let idle = vals[3] + vals.get(4).copied().unwrap_or(0);
        out.push((core, total.saturating_sub(idle), total));
    }
    out
}

pub fn read_proc(pid: u32) -> Option<ProcStat> {
    if pid == 0 {
        return None;
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (last_cpu, cpu_ticks) = parse_stat(&stat)?;
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let (v, nv) = parse_status(&status);
    Some(ProcStat {
        last_cpu,
        cpu_ticks,
        ctx_voluntary: v,
        ctx_nonvoluntary: nv,
    })
}

/// CPU percentages are computed over windows of at least this long: the kernel counts CPU time
/// in clock ticks (10 ms at 100 Hz), so over one 50 ms frame an actor using 5 % of a core
/// would read 0 % or 20 %.
pub const CPU_WINDOW_NS: u64 = 1_000_000_000;

/// Per-core window: (baseline busy, baseline total, baseline ns, last percentage).
type CoreWindow = (u64, u64, u64, f64);

/// Keeps window baselines so CPU percentages are over the last ~second.
#[derive(Debug, Default)]
pub struct ProcSampler {
    /// pid → (baseline cpu_ticks, baseline ns, last percentage)
    prev_proc: HashMap<u32, (u64, u64, f64)>,
    prev_cores: HashMap<u32, CoreWindow>,
    ticks_per_s: u64,
}

/// One core's busy share over the last interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CoreBusy {
    pub core: u32,
    pub busy_pct: f64,
}

impl ProcSampler {
    pub fn new() -> Self {
        // Safety: sysconf only reads a configuration value.
        let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
        ProcSampler {
            ticks_per_s: if hz > 0 { hz as u64 } else { 100 },
            ..Default::default()
        }
    }

    /// Read a process and its CPU% (of one core) over the last completed window.
    pub fn process(&mut self, pid: u32, now_ns: u64) -> Option<(ProcStat, f64)> {
        let st = read_proc(pid)?;
        let entry = self
            .prev_proc
            .entry(pid)
            .or_insert((st.cpu_ticks, now_ns, 0.0));
        if now_ns.saturating_sub(entry.1) >= CPU_WINDOW_NS {
            entry.2 = cpu_pct(
                Some((entry.0, entry.1)),
                (st.cpu_ticks, now_ns),
                self.ticks_per_s,
            );
            entry.0 = st.cpu_ticks;
            entry.1 = now_ns;
        }
        Some((st, entry.2))
    }

    /// Forget pids no longer present (bounded memory across restarts).
    pub fn retain_pids(&mut self, live: &[u32]) {
        self.prev_proc.retain(|pid, _| live.contains(pid));
    }

    /// Every core's busy share over the last completed window.
    pub fn cores(&mut self, now_ns: u64) -> Vec<CoreBusy> {
        let text = fs::read_to_string("/proc/stat").unwrap_or_default();
        let mut out = Vec::new();
        for (core, busy, total) in parse_proc_stat(&text) {
            let e = self
                .prev_cores
                .entry(core)
                .or_insert((busy, total, now_ns, 0.0));
            if now_ns.saturating_sub(e.2) >= CPU_WINDOW_NS && total > e.1 {
                e.3 = 100.0 * busy.saturating_sub(e.0) as f64 / (total - e.1) as f64;
                e.0 = busy;
                e.1 = total;
                e.2 = now_ns;
            }
            out.push(CoreBusy {
                core,
                busy_pct: e.3,
            });
        }
        out
    }
}

/// CPU percent of one core between two (ticks, ns) readings.
pub fn cpu_pct(prev: Option<(u64, u64)>, now: (u64, u64), ticks_per_s: u64) -> f64 {
    match prev {
        Some((pt, pns)) if now.1 > pns && ticks_per_s > 0 => {
            let cpu_s = now.0.saturating_sub(pt) as f64 / ticks_per_s as f64;
            let wall_s = (now.1 - pns) as f64 / 1e9;
            100.0 * cpu_s / wall_s
        }
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // A real line, with a command name holding a space and a parenthesis.
    const STAT: &str = "4242 (oracle (x) 1) R 1 4242 4242 0 -1 4194304 120 0 0 0 \
        1234 56 0 0 20 0 1 0 100 1000000 200 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0";

    #[test]
    fn stat_fields_counted_from_the_last_paren() {
        // utime 1234 + stime 56; processor (field 39) = 3
        assert_eq!(parse_stat(STAT), Some((3, 1290)));
        assert_eq!(parse_stat("garbage"), None);
        assert_eq!(parse_stat("1 (x) R 1 2"), None);
    }

    #[test]
    fn status_context_switches() {
        let s = "Name:\tfeed\nvoluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t7\n";
        assert_eq!(parse_status(s), (150, 7));
        assert_eq!(parse_status(""), (0, 0));
    }

    #[test]
    fn proc_stat_per_core_busy() {
        let s = "cpu  10 0 10 100 0 0 0 0 0 0\n\
                 cpu0 6 0 4 40 10 0 0 0 0 0\n\
                 cpu1 1 1 1 97 0 0 0 0 5 0\n\
                 intr 1 2 3\n";
        // cpu0: total 60, idle 40 + iowait 10 → busy 10; cpu1: guest 5 not double counted
        assert_eq!(parse_proc_stat(s), vec![(0, 10, 60), (1, 3, 100)]);
    }

    #[test]
    fn cpu_percent_over_an_interval() {
        // 50 ticks at 100 Hz = 0.5 s of CPU in 1 s of wall time = 50 %
        assert_eq!(
            cpu_pct(Some((100, 1_000_000_000)), (150, 2_000_000_000), 100),
            50.0
        );
        assert_eq!(cpu_pct(None, (150, 2_000_000_000), 100), 0.0);
        assert_eq!(
            cpu_pct(Some((100, 5)), (150, 5), 100),
            0.0,
            "no time passed"
        );
    }

    #[test]
    fn reads_this_process() {
        let st = read_proc(std::process::id()).expect("own /proc entry");
        assert!(st.last_cpu >= 0);
        assert!(read_proc(0).is_none());
    }
}
