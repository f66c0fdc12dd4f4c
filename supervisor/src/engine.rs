//! The supervisor process: the thin layer around [`crate::policy`].
//!
//! It creates the engine's shared memory (directory, control block, rings), then loops: wait
//! (poll) on a signalfd (SIGINT, SIGTERM), a pidfd per child (a death is noticed at once, not at
//! the next tick) and the request socket, then turn what happened into policy events, feed them
//! and carry out the actions (spawn, stop request, SIGKILL, kill switch). Every tick it also
//! reads each actor's slot (ready, heartbeat), drains `emergency.ring` and publishes the engine
//! state.
//!
//! Files it owns in the engine directory, besides the regions: `supervisor.lock` (flock held
//! while it runs: a second supervisor for the same engine is refused) and `supervisor.sock` (the
//! CLI's requests: `restart NAME`, `stop`).

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use runtime::clock::monotonic_ns;
use runtime::control::{engine_state, ActorSpec as SlotSpec, ControlBlock};
use runtime::msg::{emergency_action, get_str};
use runtime::shm::ShmDir;

use crate::policy::{Action, ChildSpec, EngineState, Event, ExitStatus, Outcome, Policy};
use crate::registry::VenueServeArgs;
use crate::topology::{RestartType, Topology, VenueMode};
use runtime::rings::{self, EmergencyRing};

/// File names the supervisor keeps in the engine directory.
pub const LOCK_FILE: &str = "supervisor.lock";
pub const SOCKET_FILE: &str = "supervisor.sock";
/// How often deadlines, heartbeats and the emergency ring are checked.
pub const TICK: Duration = Duration::from_millis(5);
/// Most emergency messages handled per tick (a limit on every loop).
const EMERGENCIES_PER_TICK: usize = 64;
/// Most CLI connections served per tick.
const REQUESTS_PER_TICK: usize = 8;

/// Why the supervisor could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("engine `{engine}` is already running (supervisor pid {pid}); stop it first with `supervisor stop`")]
    AlreadyRunning { engine: String, pid: u32 },
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Setup(String),
}

fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> EngineError {
    let context = context.into();
    move |source| EngineError::Io { context, source }
}

/// What a policy child is.
#[derive(Clone, Debug)]
enum ChildKind {
    Venue(VenueServeArgs),
    /// An actor and its slot index.
    Actor(usize),
}

/// A running child process.
struct Proc {
    child: Child,
    pidfd: Option<OwnedFd>,
}

impl Proc {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn now_ms() -> u64 {
    monotonic_ns() / 1_000_000
}

/// A log line on stderr with the UTC time of day.
pub fn log(message: &str) {
    let wall_ms = runtime::clock::wall_clock_ns() / 1_000_000;
    let day_ms = wall_ms % 86_400_000;
    eprintln!(
        "{:02}:{:02}:{:02}.{:03} supervisor: {message}",
        day_ms / 3_600_000,
        day_ms / 60_000 % 60,
        day_ms / 1000 % 60,
        day_ms % 1000
    );
}

/// Block SIGINT/SIGTERM for this thread (and threads created later) and read them from a
/// signalfd instead, so they arrive as events in the poll loop.
fn signal_fd() -> Result<OwnedFd, EngineError> {
    // Safety: sigset_t is plain data; sigemptyset/sigaddset initialise it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // Safety: `set` is a valid sigset_t; the signals are valid numbers.
    unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGHUP);
    }
    // Safety: `set` is initialised; the old mask is not needed.
    if unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) } != 0 {
        return Err(EngineError::Setup("pthread_sigmask failed".into()));
    }
    // Safety: `set` is initialised; -1 asks for a new descriptor.
    let fd = unsafe { libc::signalfd(-1, &set, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC) };
    if fd < 0 {
        return Err(io_err("signalfd")(std::io::Error::last_os_error()));
    }
    // Safety: `fd` is a new descriptor we own.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Read pending signals from the signalfd.
fn read_signals(fd: &OwnedFd) -> Vec<i32> {
    let mut out = Vec::new();
    // Bounded: a signalfd queues at most one entry per standard signal.
    for _ in 0..16 {
        // Safety: signalfd_siginfo is plain data.
        let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
        let size = std::mem::size_of::<libc::signalfd_siginfo>();
        // Safety: reading at most `size` bytes into `info`.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                &mut info as *mut _ as *mut libc::c_void,
                size,
            )
        };
        if n != size as isize {
            break;
        }
        out.push(info.ssi_signo as i32);
    }
    out
}

fn pidfd_open(pid: u32) -> Option<OwnedFd> {
    // Safety: pidfd_open takes a pid and flags and returns a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0) };
    if fd < 0 {
        return None;
    }
    // Safety: a new descriptor we own.
    Some(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

/// Take the flock that marks this engine as running; the pid of the holder when it is taken.
fn take_lock(dir: &ShmDir) -> Result<File, EngineError> {
    let path = dir.path().join(LOCK_FILE);
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(format!("opening {}", path.display())))?;
    // Safety: flock on a descriptor we own.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let pid = std::fs::read_to_string(&path)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        return Err(EngineError::AlreadyRunning {
            engine: dir
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            pid,
        });
    }
    file.set_len(0)
        .map_err(io_err("truncating the lock file"))?;
    writeln!(file, "{}", std::process::id()).map_err(io_err("writing the lock file"))?;
    Ok(file)
}

/// Remove what a previous run left in the engine directory (everything but our lock).
fn clear_stale(dir: &ShmDir) -> Result<(), EngineError> {
    let entries = std::fs::read_dir(dir.path())
        .map_err(io_err(format!("reading {}", dir.path().display())))?;
    for entry in entries.flatten() {
        if entry.file_name() == LOCK_FILE {
            continue;
        }
        let path = entry.path();
        std::fs::remove_file(&path)
            .map_err(io_err(format!("removing stale {}", path.display())))?;
    }
    Ok(())
}

/// The running supervisor.
pub struct Supervisor {
    topo: Arc<Topology>,
    exe: PathBuf,
    dir: ShmDir,
    control: Arc<ControlBlock>,
    emergency: runtime::ring::Consumer<runtime::msg::Emergency, 256>,
    _emergency_ring: EmergencyRing,
    kinds: Vec<ChildKind>,
    /// Policy child index of actor slot 0.
    actor_offset: usize,
    procs: Vec<Option<Proc>>,
    /// The generation each child's current process was recorded with.
    generations: Vec<u64>,
    policy: Policy,
    signals: OwnedFd,
    listener: UnixListener,
    _lock: File,
    seen_kill_generation: u64,
    /// The CPU mask the supervisor was started with: every child gets it back before exec (it
    /// checks its core against it, then pins itself), while the supervisor's own loop runs on
    /// the housekeeping cores.
    spawn_affinity: libc::cpu_set_t,
}

/// Pin the calling (supervisor) thread to the housekeeping cores, so its ticks never take a
/// hot core's time; returns the mask it had before, which children get back.
fn pin_to_housekeeping(cores: &[usize]) -> Result<libc::cpu_set_t, EngineError> {
    // Safety: cpu_set_t is plain data; zeroed is a valid empty set.
    let mut before: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // Safety: `before` is a valid writable cpu_set_t of the size passed; pid 0 = this thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut before) };
    if rc != 0 {
        return Err(io_err("sched_getaffinity")(std::io::Error::last_os_error()));
    }
    if !cores.is_empty() {
        if let Err(e) = crate::machine::pin_current_thread_to(cores) {
            // Not fatal: validation already checked the cores; the engine runs unpinned.
            eprintln!(
                "supervisor: could not pin itself to housekeeping cores {}: {e}",
                crate::machine::format_cpu_list(cores)
            );
        }
    }
    Ok(before)
}

impl Supervisor {
    /// Create the engine's shared memory and prepare (but not start) the children.
    pub fn new(topo: Topology) -> Result<Supervisor, EngineError> {
        let topo = Arc::new(topo);
        let exe = std::env::current_exe().map_err(io_err("finding this executable"))?;
        let dir = ShmDir::create(Some(&topo.shm_base), &topo.engine)
            .map_err(|e| EngineError::Setup(format!("engine directory: {e}")))?;
        let lock = take_lock(&dir)?;
        clear_stale(&dir)?;
        let specs: Vec<SlotSpec> = topo
            .actors
            .iter()
            .map(|a| SlotSpec::new(&a.name, &a.kind, Some(a.core as u32)))
            .collect();
        let control = Arc::new(
            ControlBlock::create(&dir, &topo.engine, &specs)
                .map_err(|e| EngineError::Setup(e.to_string()))?,
        );
        control.set_supervisor_pid(std::process::id());
        control.set_engine_state(engine_state::STARTING, monotonic_ns());
        runtime::hist::HistogramRegion::create(&dir)
            .map_err(|e| EngineError::Setup(format!("histograms: {e}")))?;
        let emergency_ring =
            rings::create_all(&dir).map_err(|e| EngineError::Setup(format!("rings: {e}")))?;
        let emergency = emergency_ring
            .consumer()
            .map_err(|e| EngineError::Setup(format!("emergency ring: {e}")))?;

        let mut kinds = Vec::new();
        let mut children = Vec::new();
        if let Some(venue) = &topo.venue {
            let (config, replay) = match &venue.mode {
                VenueMode::Simulator { config } => (Some(config.clone()), false),
                VenueMode::Replay { config } => (Some(config.clone()), true),
                VenueMode::External => (None, false),
            };
            if let Some(config) = config {
                kinds.push(ChildKind::Venue(VenueServeArgs {
                    config,
                    replay,
                    order_addr: venue.order_addr,
                    md_addr: venue.md_addr,
                    engine_dir: dir.path().to_path_buf(),
                }));
                children.push(ChildSpec {
                    name: "venue".into(),
                    restart: RestartType::Permanent,
                    watched: false,
                });
            }
        }
        let actor_offset = kinds.len();
        for a in &topo.actors {
            kinds.push(ChildKind::Actor(a.index));
            children.push(ChildSpec {
                name: a.name.clone(),
                restart: a.restart,
                watched: true,
            });
        }
        let n = kinds.len();
        let policy = Policy::new(topo.supervision, children);
        let signals = signal_fd()?;
        let socket_path = dir.path().join(SOCKET_FILE);
        let listener = UnixListener::bind(&socket_path)
            .map_err(io_err(format!("binding {}", socket_path.display())))?;
        listener
            .set_nonblocking(true)
            .map_err(io_err("request socket"))?;
        let seen_kill_generation = control.kill_generation();
        let spawn_affinity = pin_to_housekeeping(&topo.housekeeping_cores)?;
        Ok(Supervisor {
            topo,
            exe,
            dir,
            control,
            emergency,
            _emergency_ring: emergency_ring,
            kinds,
            actor_offset,
            procs: (0..n).map(|_| None).collect(),
            generations: vec![0; n],
            policy,
            signals,
            listener,
            _lock: lock,
            seen_kill_generation,
            spawn_affinity,
        })
    }

    pub fn control(&self) -> &Arc<ControlBlock> {
        &self.control
    }

    fn child_name(&self, child: usize) -> String {
        match &self.kinds[child] {
            ChildKind::Venue(_) => "venue".into(),
            ChildKind::Actor(i) => self.topo.actors[*i].name.clone(),
        }
    }

    /// Run until stopped or halted.
    pub fn run(mut self) -> Result<Outcome, EngineError> {
        log(&format!(
            "engine `{}` starting {} actor(s){} from {}; shared memory in {}",
            self.topo.engine,
            self.topo.actors.len(),
            if self.actor_offset > 0 {
                " and the venue"
            } else {
                ""
            },
            self.topo.source.display(),
            self.dir.path().display()
        ));
        for w in &self.topo.warnings {
            log(&format!("warning: {w}"));
        }
        let mut events = VecDeque::from([Event::Start]);
        loop {
            // Bounded: every event is handled once and actions add at most one event each.
            while let Some(event) = events.pop_front() {
                let actions = self.policy.handle(event, now_ms());
                for action in actions {
                    if let Some(outcome) = self.apply(action, &mut events) {
                        self.finish(&outcome);
                        return Ok(outcome);
                    }
                }
            }
            self.publish_state();
            self.wait(&mut events);
            self.observe(&mut events);
            events.push_back(Event::Tick);
        }
    }

    /// Carry out one action; `Some` when the supervisor is done.
    fn apply(&mut self, action: Action, events: &mut VecDeque<Event>) -> Option<Outcome> {
        match action {
            Action::Spawn { child } => {
                if let Err(error) = self.spawn(child) {
                    log(&format!(
                        "cannot spawn `{}`: {error}",
                        self.child_name(child)
                    ));
                    events.push_back(Event::SpawnFailed {
                        child,
                        error: error.to_string(),
                    });
                }
            }
            Action::RequestStop { child } => match &self.kinds[child] {
                ChildKind::Actor(i) => self.control.slot(*i).request_stop(),
                ChildKind::Venue(_) => self.signal(child, libc::SIGTERM),
            },
            Action::Kill { child } => self.signal(child, libc::SIGKILL),
            Action::HaltEngine { reason } => {
                self.control.kill("supervisor", &reason);
                self.control
                    .set_engine_state(engine_state::HALTED, monotonic_ns());
                log(&format!("engine HALTED: {reason}"));
            }
            Action::Log { message } => log(&message),
            Action::Exit { outcome } => return Some(outcome),
        }
        None
    }

    fn signal(&self, child: usize, sig: i32) {
        if let Some(p) = &self.procs[child] {
            // Safety: kill(2) with a pid we spawned and have not reaped (it cannot be reused).
            unsafe { libc::kill(p.pid() as libc::pid_t, sig) };
        }
    }

    fn spawn(&mut self, child: usize) -> std::io::Result<()> {
        let mut cmd = Command::new(&self.exe);
        let mut generation = 0;
        match &self.kinds[child] {
            ChildKind::Actor(i) => {
                let a = &self.topo.actors[*i];
                generation = self.control.slot(*i).generation() + 1;
                cmd.arg("actor-run")
                    .arg("--topology")
                    .arg(&self.topo.source)
                    .arg("--actor")
                    .arg(&a.name)
                    .arg("--generation")
                    .arg(generation.to_string());
            }
            ChildKind::Venue(v) => {
                cmd.arg("venue-serve")
                    .arg("--config")
                    .arg(&v.config)
                    .arg("--order-addr")
                    .arg(v.order_addr.to_string())
                    .arg("--md-addr")
                    .arg(v.md_addr.to_string())
                    .arg("--engine-dir")
                    .arg(&v.engine_dir)
                    .arg("--housekeeping-cores")
                    .arg(crate::machine::format_cpu_list(
                        &self.topo.housekeeping_cores,
                    ));
                if v.replay {
                    cmd.arg("--replay");
                }
            }
        }
        let parent = std::process::id() as libc::pid_t;
        let spawn_affinity = self.spawn_affinity;
        cmd.stdin(Stdio::null())
            // Own process group: a Ctrl-C in the terminal reaches the supervisor only, which
            // then stops the children gracefully.
            .process_group(0);
        // Safety: the closure runs in the forked child before exec and only makes
        // async-signal-safe calls (sched_setaffinity, sigprocmask, prctl, getppid).
        unsafe {
            cmd.pre_exec(move || {
                // Back to the mask the engine was started with (the supervisor's own thread
                // is pinned to the housekeeping cores).
                libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &spawn_affinity);
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                // The supervisor blocks SIGINT/SIGTERM for its signalfd; the mask survives exec.
                libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                // Die with the supervisor: no orphan keeps a core and a ring side.
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("supervisor died during spawn"));
                }
                Ok(())
            });
        }
        let proc_child = cmd.spawn()?;
        let pid = proc_child.id();
        let pidfd = pidfd_open(pid);
        if let ChildKind::Actor(i) = self.kinds[child] {
            let slot = self.control.slot(i);
            let recorded = slot.begin_incarnation(pid, monotonic_ns(), generation > 1);
            debug_assert_eq!(recorded, generation);
            self.generations[child] = recorded;
        }
        self.procs[child] = Some(Proc {
            child: proc_child,
            pidfd,
        });
        Ok(())
    }

    /// Wait for a signal, a child's death, a request or the tick.
    fn wait(&mut self, events: &mut VecDeque<Event>) {
        let mut fds = vec![
            libc::pollfd {
                fd: self.signals.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: self.listener.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        for p in &self.procs {
            if let Some(fd) = p.as_ref().and_then(|p| p.pidfd.as_ref()) {
                fds.push(libc::pollfd {
                    fd: fd.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                });
            }
        }
        // Safety: `fds` is a valid array of pollfd of the length passed.
        let n = unsafe {
            libc::poll(
                fds.as_mut_ptr(),
                fds.len() as libc::nfds_t,
                TICK.as_millis() as i32,
            )
        };
        if n <= 0 {
            return;
        }
        if fds[0].revents != 0 {
            for sig in read_signals(&self.signals) {
                log(&format!(
                    "signal {} received: stopping gracefully",
                    match sig {
                        libc::SIGINT => "SIGINT",
                        libc::SIGTERM => "SIGTERM",
                        _ => "SIGHUP",
                    }
                ));
                events.push_back(Event::StopRequested);
            }
        }
        if fds[1].revents != 0 {
            self.serve_requests(events);
        }
        // Exits are collected in `observe` (which also covers children without a pidfd); a
        // readable pidfd only makes the poll return at once.
    }

    /// Reap exits, read slots, drain the emergency ring.
    fn observe(&mut self, events: &mut VecDeque<Event>) {
        for child in 0..self.procs.len() {
            let exited = match self.procs[child].as_mut() {
                Some(p) => match p.child.try_wait() {
                    Ok(Some(status)) => Some(status),
                    Ok(None) => None,
                    Err(e) => {
                        log(&format!("waitpid on `{}`: {e}", self.child_name(child)));
                        None
                    }
                },
                None => None,
            };
            if let Some(status) = exited {
                self.procs[child] = None;
                if let ChildKind::Actor(i) = self.kinds[child] {
                    self.control.slot(i).mark_exited(status.into_raw() as u32);
                }
                let status = match (status.code(), status.signal()) {
                    (Some(0), _) => ExitStatus::Normal,
                    (Some(code), _) => ExitStatus::Code(code),
                    (None, Some(sig)) => ExitStatus::Signal(sig),
                    (None, None) => ExitStatus::Code(-1),
                };
                events.push_back(Event::ChildExited { child, status });
                continue;
            }
            if self.procs[child].is_none() {
                continue;
            }
            match &self.kinds[child] {
                ChildKind::Actor(i) => {
                    let slot = self.control.slot(*i);
                    if slot.generation() != self.generations[child] {
                        continue;
                    }
                    let state = slot.state();
                    if matches!(
                        state,
                        runtime::control::actor_state::RUNNING
                            | runtime::control::actor_state::HALTED
                    ) {
                        events.push_back(Event::ChildReady { child });
                    }
                    events.push_back(Event::Heartbeat {
                        child,
                        count: slot.heartbeat(),
                    });
                }
                ChildKind::Venue(v) => {
                    if matches!(
                        self.policy.child_state(child),
                        crate::policy::ChildState::Starting { .. }
                    ) && TcpStream::connect_timeout(&v.order_addr, Duration::from_millis(20))
                        .is_ok()
                    {
                        events.push_back(Event::ChildReady { child });
                    }
                }
            }
        }
        for _ in 0..EMERGENCIES_PER_TICK {
            let Some(msg) = self.emergency.try_pop() else {
                break;
            };
            let reason = get_str(&msg.reason);
            match msg.action {
                emergency_action::RESTART_ACTOR
                    if (msg.actor_index as usize) < self.topo.actors.len() =>
                {
                    events.push_back(Event::EmergencyRestart {
                        child: self.actor_offset + msg.actor_index as usize,
                        reason,
                    });
                }
                emergency_action::HALT_ALL => events.push_back(Event::EmergencyHalt { reason }),
                emergency_action::LOCKDOWN => log(&format!("Sentinel: lockdown: {reason}")),
                other => log(&format!(
                    "ignoring an emergency message with action {other} for slot {}: {reason}",
                    msg.actor_index
                )),
            }
        }
        let kill_generation = self.control.kill_generation();
        if kill_generation != self.seen_kill_generation {
            self.seen_kill_generation = kill_generation;
            match self.control.kill_info() {
                Some(k) if self.control.is_killed() => log(&format!(
                    "kill switch SET by `{}`: {}; every actor halts at its next pass",
                    k.by, k.reason
                )),
                _ => {
                    let by = self
                        .control
                        .last_rearm()
                        .map(|r| r.by)
                        .unwrap_or_else(|| "?".into());
                    log(&format!("kill switch re-armed by `{by}`"));
                }
            }
        }
    }

    fn publish_state(&self) {
        let state = match self.policy.engine_state() {
            EngineState::Starting => engine_state::STARTING,
            EngineState::Running | EngineState::Restarting => engine_state::RUNNING,
            EngineState::Stopping => engine_state::STOPPING,
            EngineState::Halted => engine_state::HALTED,
            EngineState::Done => engine_state::STOPPED,
        };
        if self.control.engine_state() != state {
            self.control.set_engine_state(state, monotonic_ns());
        }
    }

    /// Answer the CLI's requests (one line in, one line out).
    fn serve_requests(&mut self, events: &mut VecDeque<Event>) {
        for _ in 0..REQUESTS_PER_TICK {
            let stream = match self.listener.accept() {
                Ok((s, _)) => s,
                Err(_) => return,
            };
            let reply = self.handle_request(&stream, events);
            let mut stream = stream;
            let _ = writeln!(stream, "{reply}");
        }
    }

    fn handle_request(&mut self, stream: &UnixStream, events: &mut VecDeque<Event>) -> String {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
        let mut line = String::new();
        // A limit: requests are one short line.
        if BufReader::new(stream.take_ref(512))
            .read_line(&mut line)
            .is_err()
        {
            return "error: could not read the request".into();
        }
        let mut words = line.split_whitespace();
        match (words.next(), words.next()) {
            (Some("restart"), Some(name)) => {
                match self.topo.actors.iter().position(|a| a.name == name) {
                    Some(i) => {
                        let child = self.actor_offset + i;
                        let generation = self.control.slot(i).generation();
                        events.push_back(Event::RestartRequested { child });
                        format!("ok restarting `{name}` (generation {generation})")
                    }
                    None => format!(
                        "error: no actor `{name}`; actors: {}",
                        self.topo
                            .actors
                            .iter()
                            .map(|a| a.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                }
            }
            (Some("stop"), None) => {
                events.push_back(Event::StopRequested);
                "ok stopping".into()
            }
            (Some("ping"), None) => format!("ok {}", std::process::id()),
            _ => format!("error: unknown request `{}`", line.trim()),
        }
    }

    fn finish(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Stopped => {
                self.control
                    .set_engine_state(engine_state::STOPPED, monotonic_ns());
                log(&format!(
                    "engine `{}` stopped; removing {}",
                    self.topo.engine,
                    self.dir.path().display()
                ));
                if let Err(e) = self.dir.remove_all() {
                    log(&format!("could not remove the engine directory: {e}"));
                }
            }
            Outcome::Halted { reason } => {
                self.control
                    .set_engine_state(engine_state::HALTED, monotonic_ns());
                let _ = std::fs::remove_file(self.dir.path().join(SOCKET_FILE));
                log(&format!(
                    "engine `{}` HALTED and every actor stopped: {reason}. Shared memory kept in \
                     {} for inspection (`supervisor status`); the next start clears it",
                    self.topo.engine,
                    self.dir.path().display()
                ));
            }
        }
    }
}

/// A `take` adapter for a borrowed stream (so the reader cannot read past one short request).
trait TakeRef {
    fn take_ref(&self, limit: u64) -> std::io::Take<&UnixStream>;
}

impl TakeRef for UnixStream {
    fn take_ref(&self, limit: u64) -> std::io::Take<&UnixStream> {
        std::io::Read::take(self, limit)
    }
}

/// Send one request line to the running supervisor of the engine in `engine_dir`.
pub fn request(engine_dir: &Path, line: &str) -> std::io::Result<String> {
    let mut stream = UnixStream::connect(engine_dir.join(SOCKET_FILE))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    writeln!(stream, "{line}")?;
    let mut reply = String::new();
    BufReader::new(&stream).read_line(&mut reply)?;
    Ok(reply.trim().to_string())
}
