//! Facts about the machine that validation depends on, behind a trait so that validation can
//! be tested without the machine ([`FakeMachine`]) and run for real ([`LocalMachine`]).

use std::fs;
use std::path::Path;

/// What validation needs to know about the machine.
pub trait Machine {
    /// Cores the kernel has online (`/sys/devices/system/cpu/online`).
    fn online_cores(&self) -> Vec<usize>;
    /// Cores this process may run on: `sched_getaffinity` intersected with the cgroup's
    /// `cpuset.cpus.effective` when there is one.
    fn allowed_cores(&self) -> Vec<usize>;
    /// `RLIMIT_MEMLOCK` soft limit in bytes; `None` means unlimited.
    fn memlock_limit_bytes(&self) -> Option<u64>;
    /// Whether io_uring (which glommio needs) can be used by this process.
    fn io_uring(&self) -> IoUring;
}

/// io_uring availability, with the likely cause when it is not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IoUring {
    Available,
    Unavailable { cause: String },
}

/// The real machine this process runs on.
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalMachine;

impl Machine for LocalMachine {
    fn online_cores(&self) -> Vec<usize> {
        fs::read_to_string("/sys/devices/system/cpu/online")
            .ok()
            .and_then(|s| parse_cpu_list(&s))
            .unwrap_or_else(|| {
                // No sysfs (unusual container): fall back to what std sees.
                let n = std::thread::available_parallelism().map_or(1, |n| n.get());
                (0..n).collect()
            })
    }

    fn allowed_cores(&self) -> Vec<usize> {
        let affinity = sched_affinity(0).unwrap_or_default();
        match cgroup_cpuset_effective() {
            Some(cpuset) => affinity
                .into_iter()
                .filter(|c| cpuset.contains(c))
                .collect(),
            None => affinity,
        }
    }

    fn memlock_limit_bytes(&self) -> Option<u64> {
        memlock_limit_bytes()
    }

    fn io_uring(&self) -> IoUring {
        probe_io_uring()
    }
}

/// Parse a kernel CPU list such as `0-3,8,10-11` (whitespace tolerated). `None` if malformed.
pub fn parse_cpu_list(text: &str) -> Option<Vec<usize>> {
    let text = text.trim();
    let mut out = Vec::new();
    if text.is_empty() {
        return Some(out);
    }
    for part in text.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once('-') {
            let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            // A limit: no machine has a million CPUs; refuse a corrupt range.
            if b < a || b - a > 1 << 20 {
                return None;
            }
            out.extend(a..=b);
        } else {
            out.push(part.parse().ok()?);
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

/// Format cores the kernel's way (`0-3,8`), for messages.
pub fn format_cpu_list(cores: &[usize]) -> String {
    let mut sorted = cores.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    if parts.is_empty() {
        "none".to_string()
    } else {
        parts.join(",")
    }
}

/// The CPUs thread/process `pid` (0 = the calling thread) may run on.
pub fn sched_affinity(pid: libc::pid_t) -> std::io::Result<Vec<usize>> {
    // Safety: cpu_set_t is plain data; zeroed is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // Safety: `set` is a valid writable cpu_set_t of the size we pass.
    let rc =
        unsafe { libc::sched_getaffinity(pid, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    // Safety: CPU_ISSET only reads the set for indices below its bit size.
    Ok((0..max)
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect())
}

/// Pin the calling thread to `core`.
pub fn pin_current_thread(core: usize) -> std::io::Result<()> {
    // Safety: a zeroed cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if core >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    // Safety: `core` is below the set's bit size (checked above).
    unsafe { libc::CPU_SET(core, &mut set) };
    // Safety: `set` is a valid cpu_set_t of the size passed; pid 0 = the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Restrict the calling thread to `cores` (e.g. the housekeeping cores).
pub fn pin_current_thread_to(cores: &[usize]) -> std::io::Result<()> {
    // Safety: a zeroed cpu_set_t is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let max = 8 * std::mem::size_of::<libc::cpu_set_t>();
    if cores.is_empty() || cores.iter().any(|&c| c >= max) {
        return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
    }
    for &c in cores {
        // Safety: `c` is below the set's bit size (checked above).
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    // Safety: `set` is a valid cpu_set_t of the size passed; pid 0 = the calling thread.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// The CPU the calling thread is running on right now.
pub fn current_cpu() -> Option<usize> {
    // Safety: sched_getcpu takes no arguments and only returns a value.
    let cpu = unsafe { libc::sched_getcpu() };
    (cpu >= 0).then_some(cpu as usize)
}

/// `RLIMIT_MEMLOCK` soft limit in bytes, `None` when unlimited.
pub fn memlock_limit_bytes() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // Safety: `lim` is a valid writable rlimit.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) };
    if rc != 0 || lim.rlim_cur == libc::RLIM_INFINITY {
        return None;
    }
    Some(lim.rlim_cur)
}

/// The cgroup v2 `cpuset.cpus.effective` of this process, if readable.
pub fn cgroup_cpuset_effective() -> Option<Vec<usize>> {
    let cgroup = fs::read_to_string("/proc/self/cgroup").ok()?;
    // cgroup v2: a single line "0::/path".
    let rel = cgroup.lines().find_map(|l| l.strip_prefix("0::"))?;
    let mut dir = Path::new("/sys/fs/cgroup").join(rel.trim_start_matches('/'));
    // The file exists only where the cpuset controller is enabled; walk up to the nearest one.
    for _ in 0..64 {
        if let Ok(text) = fs::read_to_string(dir.join("cpuset.cpus.effective")) {
            let cpus = parse_cpu_list(&text)?;
            return (!cpus.is_empty()).then_some(cpus);
        }
        if !dir.pop() || dir == Path::new("/sys/fs") {
            break;
        }
    }
    None
}

/// Try to create an io_uring; when that fails, find the likely cause.
pub fn probe_io_uring() -> IoUring {
    // Safety: io_uring_params is plain data; zeroed asks for defaults.
    let mut params: [u8; 120] = [0; 120];
    // Safety: io_uring_setup(entries, params) reads and writes a 120-byte io_uring_params, which
    // `params` provides; the returned fd (if any) is closed below.
    let fd = unsafe { libc::syscall(libc::SYS_io_uring_setup, 1u32, params.as_mut_ptr()) };
    if fd >= 0 {
        // Safety: `fd` is a descriptor we own and close once.
        unsafe { libc::close(fd as libc::c_int) };
        return IoUring::Available;
    }
    let err = std::io::Error::last_os_error();
    let disabled = fs::read_to_string("/proc/sys/kernel/io_uring_disabled")
        .ok()
        .map(|s| s.trim().to_string());
    let seccomp = fs::read_to_string("/proc/self/status").ok().and_then(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Seccomp:"))
            .map(|v| v.trim().to_string())
    });
    let cause = match (disabled.as_deref(), seccomp.as_deref()) {
        (Some("2"), _) => format!(
            "io_uring_setup failed ({err}): /proc/sys/kernel/io_uring_disabled is 2 (disabled for \
             everyone); remedy: `sysctl -w kernel.io_uring_disabled=0`"
        ),
        (Some("1"), _) => format!(
            "io_uring_setup failed ({err}): /proc/sys/kernel/io_uring_disabled is 1 (only members \
             of kernel.io_uring_group may use it); remedy: `sysctl -w kernel.io_uring_disabled=0` \
             or add this user to that group"
        ),
        (_, Some(mode)) if mode != "0" => format!(
            "io_uring_setup failed ({err}): this process runs under a seccomp filter (Seccomp: \
             {mode}); Docker ≥ 25's default profile blocks io_uring; remedy: run the container \
             with a profile that allows io_uring_setup/io_uring_enter/io_uring_register"
        ),
        _ if err.raw_os_error() == Some(libc::ENOSYS) => format!(
            "io_uring_setup failed ({err}): the kernel was built without io_uring \
             (CONFIG_IO_URING); glommio needs Linux ≥ 5.8 with io_uring"
        ),
        _ => format!("io_uring_setup failed ({err})"),
    };
    IoUring::Unavailable { cause }
}

/// A machine described by a test.
#[derive(Clone, Debug)]
pub struct FakeMachine {
    pub online: Vec<usize>,
    pub allowed: Vec<usize>,
    pub memlock_bytes: Option<u64>,
    pub io_uring: IoUring,
}

impl FakeMachine {
    /// `cores` cores, all online and allowed, unlimited memlock, io_uring available.
    pub fn with_cores(cores: usize) -> Self {
        FakeMachine {
            online: (0..cores).collect(),
            allowed: (0..cores).collect(),
            memlock_bytes: None,
            io_uring: IoUring::Available,
        }
    }
}

impl Machine for FakeMachine {
    fn online_cores(&self) -> Vec<usize> {
        self.online.clone()
    }
    fn allowed_cores(&self) -> Vec<usize> {
        self.allowed.clone()
    }
    fn memlock_limit_bytes(&self) -> Option<u64> {
        self.memlock_bytes
    }
    fn io_uring(&self) -> IoUring {
        self.io_uring.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_parse_and_format() {
        assert_eq!(
            parse_cpu_list("0-3,8,10-11\n"),
            Some(vec![0, 1, 2, 3, 8, 10, 11])
        );
        assert_eq!(parse_cpu_list(""), Some(vec![]));
        assert_eq!(parse_cpu_list("3-1"), None);
        assert_eq!(parse_cpu_list("x"), None);
        assert_eq!(format_cpu_list(&[11, 0, 1, 2, 3, 8, 10]), "0-3,8,10-11");
        assert_eq!(format_cpu_list(&[]), "none");
    }

    #[test]
    fn local_machine_allows_a_core_it_runs_on() {
        let m = LocalMachine;
        let cpu = current_cpu().expect("sched_getcpu");
        assert!(m.online_cores().contains(&cpu));
        assert!(m.allowed_cores().contains(&cpu));
    }
}
