//! The harness shared by the long engine tests (chaos, soak): the full engine of topology.ron
//! in a temporary directory with its own name, shm base, ports and journal, a watchdog, polling
//! with deadlines, and readers of its processes and telemetry.
#![allow(dead_code)] // each test binary uses its own part of the harness

use std::fs;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use runtime::control::ControlBlock;
use runtime::shm::ShmDir;
use supervisor::status::proc_stat_fields;

pub const BIN: &str = env!("CARGO_BIN_EXE_supervisor");
/// Generous deadline for anything the engine should do "soon" on a loaded 2-core machine.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Supervisor pids of running tests, killed by the watchdog when a test hangs.
pub static LIVE_PIDS: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Run `body` on a thread; fail the test if it has not finished within `limit`.
pub fn watchdog(limit: Duration, body: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        body();
        let _ = tx.send(());
    });
    match rx.recv_timeout(limit) {
        Ok(()) => handle.join().expect("test body"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            for pid in LIVE_PIDS.lock().unwrap().drain(..) {
                // Safety: kill(2) on a supervisor this test binary started.
                unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            }
            panic!("test did not finish within {limit:?}");
        }
    }
}

/// Poll `cond` every 5 ms until it holds or `deadline` passes.
pub fn wait_until(what: &str, deadline: Duration, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    while !cond() {
        assert!(
            Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A free loopback port (bound then released; the engine binds it a moment later).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub const ACTORS: [&str; 6] = ["feed", "oracle", "sonar", "sentinel", "execution", "ui"];

/// The full engine of topology.ron in a temporary directory: its own engine name, shm base,
/// ports and journal; `config/` is the repository's (a symlink), so the default strategy trades.
pub struct Engine {
    pub tmp: tempfile::TempDir,
    topology: PathBuf,
    base: PathBuf,
    name: String,
    /// The binary that runs the engine and answers its CLI.
    bin: PathBuf,
    supervisor: Option<Child>,
    log: PathBuf,
}

impl Engine {
    pub fn start(tag: &str, max_restarts: u32) -> Engine {
        Engine::start_with(Path::new(BIN), tag, max_restarts, "", &[])
    }

    /// The same engine run by another binary built on `supervisor::run_cli` (a user's, with its
    /// own kinds registered), with `extra_actors` (topology lines) after the engine's actors and
    /// `files` (name, contents) written beside the topology first (their `config:` files).
    pub fn start_with(
        bin: &Path,
        tag: &str,
        max_restarts: u32,
        extra_actors: &str,
        files: &[(&str, &str)],
    ) -> Engine {
        let tmp = tempfile::tempdir().expect("tempdir");
        for (name, contents) in files {
            fs::write(tmp.path().join(name), contents).unwrap();
        }
        let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let config = repo
            .join("config")
            .canonicalize()
            .expect("repository config/");
        std::os::unix::fs::symlink(&config, tmp.path().join("config")).unwrap();
        let base = tmp.path().join("shm");
        fs::create_dir(&base).unwrap();
        let name = format!("{tag}{}", std::process::id());
        let topology = tmp.path().join("topology.ron");
        let (order, md, ui) = (free_port(), free_port(), free_port());
        let actors: String = ACTORS
            .iter()
            .map(|a| {
                let core = if matches!(*a, "feed" | "oracle" | "execution") { 1 } else { 0 };
                let restart = if *a == "ui" { "transient" } else { "permanent" };
                format!(
                    "(name: \"{a}\", kind: \"{a}\", core: {core}, idle: Backoff(), restart: {restart}),\n"
                )
            })
            .collect::<String>()
            + extra_actors;
        fs::write(
            &topology,
            format!(
                "Topology(\n engine: \"{name}\",\n shm_dir: Some(\"{}\"),\n housekeeping_cores: [0],\n \
                 actors: [\n{actors}],\n supervision: (strategy: one_for_one, \
                 intensity: (max_restarts: {max_restarts}, period_ms: 10000), shutdown_timeout_ms: 2000, \
                 heartbeat_timeout_ms: 3000, start_timeout_ms: 20000),\n \
                 venue: Some(Simulator(config: \"{}\", order_addr: \"127.0.0.1:{order}\", \
                 md_addr: \"127.0.0.1:{md}\")),\n \
                 ui: Some((addr: \"127.0.0.1:{ui}\", token_file: Some(\"config/ui.token\"))),\n)\n",
                base.display(),
                config.join("venue.ron").display(),
            ),
        )
        .unwrap();
        let log = tmp.path().join("supervisor.log");
        let logf = fs::File::create(&log).unwrap();
        let child = Command::new(bin)
            .args(["start", "--topology"])
            .arg(&topology)
            .current_dir(tmp.path())
            .stdin(Stdio::null())
            .stdout(logf.try_clone().unwrap())
            .stderr(logf)
            .spawn()
            .expect("spawn supervisor");
        LIVE_PIDS.lock().unwrap().push(child.id());
        Engine {
            tmp,
            topology,
            base,
            name,
            bin: bin.to_path_buf(),
            supervisor: Some(child),
            log,
        }
    }

    /// The engine's control block, once the supervisor has created it; fails at once, with
    /// the supervisor's log, if the supervisor exits first (a topology it refused, say).
    pub fn control(&self) -> Arc<ControlBlock> {
        let mut attached = None;
        wait_until("the control block", DEADLINE, || {
            attached = ShmDir::open(Some(&self.base), &self.name)
                .ok()
                .and_then(|d| ControlBlock::attach(&d).ok());
            assert!(
                attached.is_some() || !self.supervisor_exited(),
                "the supervisor exited before creating its control block:\n{}",
                self.log_tail()
            );
            attached.is_some()
        });
        Arc::new(attached.unwrap())
    }

    /// Whether the supervisor process has exited (a zombie, not yet reaped, or gone).
    fn supervisor_exited(&self) -> bool {
        proc_stat_fields(self.supervisor_pid())
            .is_none_or(|f| matches!(f.first().map(String::as_str), Some("Z" | "X")))
    }

    /// The engine's shared-memory directory, to attach to its rings.
    pub fn shm_dir(&self) -> ShmDir {
        ShmDir::open(Some(&self.base), &self.name).expect("the engine's shm directory")
    }

    pub fn supervisor_pid(&self) -> u32 {
        self.supervisor.as_ref().unwrap().id()
    }

    pub fn assert_supervisor_alive(&mut self) {
        let exited = self.supervisor.as_mut().unwrap().try_wait().unwrap();
        assert!(
            exited.is_none(),
            "the supervisor exited ({exited:?}):\n{}",
            self.log_tail()
        );
    }

    /// The venue child process (`supervisor venue-serve`), if one runs now.
    pub fn venue_pid(&self) -> Option<u32> {
        children_of(self.supervisor_pid())
            .into_iter()
            .find(|&pid| cmdline(pid).contains("venue-serve"))
    }

    pub fn journal(&self) -> PathBuf {
        self.tmp
            .path()
            .join("var")
            .join(&self.name)
            .join("orders.journal")
    }

    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(&self.bin)
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

    pub fn log_tail(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = fs::File::open(&self.log) {
            let _ = f.read_to_string(&mut s);
        }
        let start = s.len().saturating_sub(6000);
        let start = (start..s.len())
            .find(|&i| s.is_char_boundary(i))
            .unwrap_or(0);
        s[start..].to_string()
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Some(mut child) = self.supervisor.take() {
            // Thaw a venue a failed assertion may have left stopped, then stop the engine.
            if let Some(v) = children_of(child.id())
                .into_iter()
                .find(|&p| cmdline(p).contains("venue-serve"))
            {
                // Safety: kill(2) on the venue process of the engine under test.
                unsafe { libc::kill(v as i32, libc::SIGCONT) };
            }
            // Safety: kill(2) on the supervisor this test started; its children die with it
            // (PR_SET_PDEATHSIG).
            unsafe { libc::kill(child.id() as i32, libc::SIGKILL) };
            let _ = child.wait();
            LIVE_PIDS.lock().unwrap().retain(|&p| p != child.id());
        }
    }
}

/// Processes whose parent is `ppid` (from /proc/PID/stat field 4).
pub fn children_of(ppid: u32) -> Vec<u32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_string_lossy().parse::<u32>().ok())
        .filter(|&pid| {
            proc_stat_fields(pid)
                .is_some_and(|f| f.get(1).and_then(|p| p.parse().ok()) == Some(ppid))
        })
        .collect()
}

pub fn cmdline(pid: u32) -> String {
    fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// A consistent copy of a telemetry block, retrying while its writer holds it (a writer
/// SIGKILLed mid-write leaves it busy until its successor writes again).
pub fn fresh<T>(what: &str, mut read: impl FnMut() -> Option<T>) -> T {
    let mut v = None;
    wait_until(what, DEADLINE, || {
        v = read();
        v.is_some()
    });
    v.unwrap()
}

pub fn exec_t(c: &ControlBlock) -> runtime::telemetry::ExecutionTelemetry {
    fresh("Execution telemetry", || c.execution_telemetry().read())
}

#[allow(dead_code)]
pub fn feed_t(c: &ControlBlock) -> runtime::telemetry::FeedTelemetry {
    fresh("Feed telemetry", || c.feed_telemetry().read())
}

#[allow(dead_code)]
pub fn sonar_t(c: &ControlBlock) -> runtime::telemetry::SonarTelemetry {
    fresh("Sonar telemetry", || c.sonar_telemetry().read())
}

pub fn sentinel_t(c: &ControlBlock) -> runtime::telemetry::SentinelTelemetry {
    fresh("Sentinel telemetry", || c.sentinel_telemetry().read())
}
