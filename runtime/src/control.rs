//! The control block, `control.shm`: the engine's shared switchboard.
//!
//! The supervisor creates it; every actor process, the UI actor and the CLI attach to it. It
//! holds:
//!
//! - the **kill switch**: a latching word that every actor reads once per loop pass (one Acquire
//!   load of a line that is written only when the switch flips), with who set it, when and why;
//!   the first caller wins and only an explicit [`ControlBlock::rearm`] clears it;
//! - **engine-wide words**: engine state, Sonar's regime and entropy, the zero-trust gate and its
//!   failing check, Sentinel's lockdown, the venue's latency injection, the supervisor's pid;
//! - one **actor slot** per actor ([`MAX_ACTORS`]), each on its own cache lines: identity,
//!   pid, generation, state, heartbeat, counters, latency;
//! - the actors' **telemetry** gauges, each behind a [`SeqLock`].
//!
//! Everything in the block is an atomic or written once before the region header is published,
//! so all-zero bytes plus the creator's initialisation are a valid block, and any process can read
//! any field at any time. Each word has one writer by convention (named on each method); the kill
//! switch and the operator-written values are safe with several.

use crate::clock::{monotonic_ns, wall_clock_ns};
use crate::msg::{get_str, put_str};
use crate::seqlock::SeqLock;
use crate::shm::{AttachError, Region, RegionKind, RegionSpec, ShmDir, ShmError};
use crate::telemetry::{
    ExecutionTelemetry, FeedTelemetry, OracleTelemetry, SentinelCheckpoint, SentinelTelemetry,
    SonarTelemetry, REGIME_ATTACK,
};
use bytemuck::{Pod, Zeroable};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// File name of the control block in the engine directory.
pub const CONTROL_FILE: &str = "control.shm";
/// Actor slots in the block.
pub const MAX_ACTORS: usize = 32;
/// Bytes of an actor's name (UTF-8, zero padded).
pub const ACTOR_NAME_BYTES: usize = 32;
/// Bytes of an actor's kind.
pub const ACTOR_KIND_BYTES: usize = 16;
/// Bytes of the engine name stored in the block.
pub const ENGINE_NAME_BYTES: usize = 32;
/// Bytes of "who set the kill switch".
pub const KILL_BY_BYTES: usize = 32;
/// Bytes of "why the kill switch was set".
pub const KILL_REASON_BYTES: usize = 96;
/// `core` of an actor that is not pinned.
pub const NO_CORE: u32 = u32::MAX;

/// Engine states ([`ControlBlock::engine_state`]).
pub mod engine_state {
    /// The block exists but the supervisor has not said anything yet.
    pub const UNKNOWN: u32 = 0;
    pub const STARTING: u32 = 1;
    pub const RUNNING: u32 = 2;
    /// Sentinel's lockdown: no new orders, resting ones cancelled.
    pub const LOCKDOWN: u32 = 3;
    /// The kill switch is set (or the supervisor halted the engine).
    pub const HALTED: u32 = 4;
    pub const STOPPING: u32 = 5;
    pub const STOPPED: u32 = 6;
    pub const MAX: u32 = 6;
}

/// Upper-case name of an [`engine_state`] code, as `supervisor status` prints it.
pub fn engine_state_name(code: u32) -> &'static str {
    match code {
        engine_state::STARTING => "STARTING",
        engine_state::RUNNING => "RUNNING",
        engine_state::LOCKDOWN => "LOCKDOWN",
        engine_state::HALTED => "HALTED",
        engine_state::STOPPING => "STOPPING",
        engine_state::STOPPED => "STOPPED",
        _ => "UNKNOWN",
    }
}

/// States of an actor slot ([`ActorSlot::state`]).
pub mod actor_state {
    /// Configured but never started.
    pub const EMPTY: u32 = 0;
    /// The supervisor spawned the process; it is attaching.
    pub const STARTING: u32 = 1;
    /// Attached and initialised, loop not yet running.
    pub const READY: u32 = 2;
    pub const RUNNING: u32 = 3;
    /// Saw the kill switch: heartbeats, sends nothing new.
    pub const HALTED: u32 = 4;
    pub const STOPPING: u32 = 5;
    /// Left its loop after a stop request (exit 0 follows).
    pub const STOPPED: u32 = 6;
    /// The supervisor saw the process die.
    pub const DEAD: u32 = 7;
    pub const MAX: u32 = 7;
}

/// Upper-case name of an [`actor_state`] code.
pub fn actor_state_name(code: u32) -> &'static str {
    match code {
        actor_state::EMPTY => "EMPTY",
        actor_state::STARTING => "STARTING",
        actor_state::READY => "READY",
        actor_state::RUNNING => "RUNNING",
        actor_state::HALTED => "HALTED",
        actor_state::STOPPING => "STOPPING",
        actor_state::STOPPED => "STOPPED",
        actor_state::DEAD => "DEAD",
        _ => "UNKNOWN",
    }
}

/// One actor as the supervisor configures it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorSpec {
    /// Unique name, 1-[`ACTOR_NAME_BYTES`] bytes.
    pub name: String,
    /// Kind (feed, oracle, … or a user's), 1-[`ACTOR_KIND_BYTES`] bytes.
    pub kind: String,
    /// Configured core, `None` when unpinned.
    pub core: Option<u32>,
}

impl ActorSpec {
    pub fn new(name: &str, kind: &str, core: Option<u32>) -> Self {
        Self {
            name: name.to_owned(),
            kind: kind.to_owned(),
            core,
        }
    }
}

/// Errors creating or attaching the control block.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("{count} actors configured, the control block holds at most {max}: remove actors from the topology")]
    TooManyActors { count: usize, max: usize },
    #[error("actor name {name:?} is empty or longer than {max} bytes: rename it in the topology")]
    BadActorName { name: String, max: usize },
    #[error("actor {name:?} has kind {kind:?}, which is empty or longer than {max} bytes")]
    BadActorKind {
        name: String,
        kind: String,
        max: usize,
    },
    #[error("actor name {name:?} appears twice: names must be unique")]
    DuplicateActor { name: String },
    #[error("engine name {name:?} is empty or longer than {max} bytes")]
    BadEngineName { name: String, max: usize },
    #[error("the existing control block of engine {engine_name:?} was made for other actors ({found:?}) or another engine: stop that engine, or remove control.shm if it is stale")]
    ActorsDiffer {
        engine_name: String,
        found: Vec<String>,
    },
    #[error("control block: {0}")]
    Shm(#[from] ShmError),
    #[error("control block: {0}")]
    Attach(#[from] AttachError),
}

// ---------------------------------------------------------------------------------------------
// Layout in shared memory.

/// Kill-switch details, written by the caller that won the kill.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct KillDetails {
    /// The kill word's value for this kill (monotonic ns when it was set).
    pub mono_ns: u64,
    pub wall_ns: u64,
    /// 1 for the first kill since the block was created, 2 for the next…
    pub kill_number: u64,
    pub by: [u8; KILL_BY_BYTES],
    pub reason: [u8; KILL_REASON_BYTES],
}

/// Who re-armed the kill switch last, and when.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct RearmDetails {
    pub mono_ns: u64,
    pub wall_ns: u64,
    pub rearm_number: u64,
    pub by: [u8; KILL_BY_BYTES],
}

/// Latency the simulated venue injects (the CLI writes, the venue reads).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct VenueLatency {
    pub one_way_ns: u64,
    pub jitter_ns: u64,
}

crate::shm_safe!(KillDetails, RearmDetails, VenueLatency);

/// Engine identity and state (one cache line).
#[repr(C, align(64))]
struct EngineLine {
    engine_state: AtomicU32,
    supervisor_pid: AtomicU32,
    /// Written once at creation.
    actor_count: u32,
    _pad: u32,
    created_wall_ns: u64,
    engine_name: [u8; ENGINE_NAME_BYTES],
    state_changed_ns: AtomicU64,
}

/// The kill word, alone on its line: read by every actor every pass, written only on a flip.
#[repr(C, align(64))]
struct KillLine {
    /// 0 = armed; otherwise the monotonic ns at which it was set (so one load tells both).
    killed_mono_ns: AtomicU64,
    kills: AtomicU64,
    rearms: AtomicU64,
    /// Bumped on every kill and re-arm; idle actors sleep on it with a futex so that a flip wakes
    /// them at once instead of after their back-off sleep (shared futex: other processes wait).
    wake_seq: AtomicU32,
}

/// Regime, gate and lockdown: what Execution reads before every order, on one line.
#[repr(C, align(64))]
struct GatesLine {
    regime: AtomicU32,
    gate_open: AtomicU32,
    gate_failing_check: AtomicU32,
    lockdown: AtomicU32,
    lockdown_reason: AtomicU32,
    _pad: u32,
    entropy_bits: AtomicU64,
    lockdown_since_ns: AtomicU64,
    regime_updated_ns: AtomicU64,
    gate_updated_ns: AtomicU64,
}

/// An actor's slot: four cache lines, the first written by the actor on every pass.
#[repr(C, align(64))]
pub struct ActorSlot {
    // Line 0: the actor's loop, every pass.
    heartbeat: AtomicU64,
    last_progress_ns: AtomicU64,
    state: AtomicU32,
    /// Set to 1 by the supervisor; the loop stops at its next pass.
    stop_requested: AtomicU32,
    /// Sum of the work units `poll` reported.
    work_done: AtomicU64,
    /// When this incarnation first saw the current kill (monotonic ns; 0 = not seen).
    kill_seen_ns: AtomicU64,
    /// `kill_seen_ns` minus the kill word's time.
    kill_latency_ns: AtomicU64,
    _line0: [u64; 2],
    // Line 1: identity, written once at creation; pid by the supervisor.
    name: [u8; ACTOR_NAME_BYTES],
    kind: [u8; ACTOR_KIND_BYTES],
    index: u32,
    core: u32,
    pid: AtomicU32,
    /// Raw wait status of the last exit the supervisor saw.
    last_exit_status: AtomicU32,
    // Line 2: lifecycle (supervisor) and published counters (the actor, a few times a second).
    generation: AtomicU64,
    restarts: AtomicU64,
    started_ns: AtomicU64,
    msgs_in: AtomicU64,
    msgs_out: AtomicU64,
    errors: AtomicU64,
    latency_p50_ns: AtomicU64,
    latency_p99_ns: AtomicU64,
    // Line 3: counters' time (the actor, a few times a second) and the doorbell (producers
    // read `wake_topics` and bump `doorbell_seq` only while the actor is parked).
    counters_updated_ns: AtomicU64,
    /// The futex word this actor sleeps on when idle: bumped by whoever wants it awake (a
    /// producer of a topic it waits for, the kill switch).
    doorbell_seq: AtomicU32,
    /// Topics ([`topic`]) whose producers wake this actor; written by the actor at start.
    wake_topics: AtomicU32,
    _line3: [u64; 6],
}

/// Wake-up topics: one bit per stream that an idle actor can ask to be woken for. A producer
/// calls [`ControlBlock::notify`] with its topic after publishing; an actor names the topics it
/// waits for with [`crate::actor::Actor::wake_topics`].
pub mod topic {
    /// `md.ring` (Feed → Oracle, Sonar, …).
    pub const MD: u32 = 1 << 0;
    /// `signal.ring` (Oracle → Execution).
    pub const SIGNAL: u32 = 1 << 1;
    /// `intent.ring` (a user strategy → Execution).
    pub const INTENT: u32 = 1 << 2;
    /// `orders.ring` (Execution → Sentinel).
    pub const ORDERS: u32 = 1 << 3;
    /// `intent_events.ring` (Execution → user strategies).
    pub const INTENT_EVENTS: u32 = 1 << 4;
    /// The first bit free for users' own streams (bits 16..32).
    pub const FIRST_USER: u32 = 1 << 16;
}

/// Which actors are parked (bit = slot index), on its own line: written only when an actor
/// parks or unparks, read by producers after every publication.
#[repr(C, align(64))]
struct WakeLine {
    parked_mask: AtomicU64,
    /// Doorbells rung (all actors), for tests and `status`.
    doorbells_rung: AtomicU64,
    _pad: [u64; 6],
}

#[repr(C)]
struct ControlLayout {
    engine: EngineLine,
    kill: KillLine,
    kill_details: SeqLock<KillDetails>,
    rearm_details: SeqLock<RearmDetails>,
    gates: GatesLine,
    venue_latency: SeqLock<VenueLatency>,
    oracle: SeqLock<OracleTelemetry>,
    sonar: SeqLock<SonarTelemetry>,
    sentinel: SeqLock<SentinelTelemetry>,
    /// Two slots, written in turn (see [`ControlBlock::save_sentinel_checkpoint`]).
    sentinel_checkpoint: [SeqLock<SentinelCheckpoint>; 2],
    execution: SeqLock<ExecutionTelemetry>,
    feed: SeqLock<FeedTelemetry>,
    actors: [ActorSlot; MAX_ACTORS],
    wake: WakeLine,
}

#[cfg(not(loom))]
const _: () = {
    assert!(core::mem::size_of::<WakeLine>() == 64);
    assert!(MAX_ACTORS <= 64, "parked_mask has one bit per actor");
    assert!(core::mem::size_of::<EngineLine>() == 64);
    assert!(core::mem::size_of::<KillLine>() == 64);
    assert!(core::mem::size_of::<GatesLine>() == 64);
    assert!(core::mem::size_of::<ActorSlot>() == 256);
    assert!(core::mem::align_of::<ControlLayout>() <= 4096);
};

// ---------------------------------------------------------------------------------------------
// Actor slots.

/// Counters an actor publishes into its slot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ActorCounters {
    pub msgs_in: u64,
    pub msgs_out: u64,
    pub errors: u64,
}

/// A consistent-enough copy of a slot for display (each field is read atomically; fields may
/// be from slightly different instants).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorSnapshot {
    pub index: usize,
    pub name: String,
    pub kind: String,
    pub core: Option<u32>,
    pub pid: u32,
    pub generation: u64,
    pub state: u32,
    pub heartbeat: u64,
    pub last_progress_ns: u64,
    pub restarts: u64,
    pub started_ns: u64,
    pub work_done: u64,
    pub msgs_in: u64,
    pub msgs_out: u64,
    pub errors: u64,
    pub latency_p50_ns: u64,
    pub latency_p99_ns: u64,
    pub kill_seen_ns: u64,
    pub kill_latency_ns: u64,
    pub stop_requested: bool,
    pub last_exit_status: u32,
}

impl ActorSlot {
    pub fn index(&self) -> usize {
        self.index as usize
    }

    pub fn name(&self) -> String {
        get_str(&self.name)
    }

    /// Whether this slot's name is `name` (no allocation).
    pub fn name_is(&self, name: &str) -> bool {
        let end = self
            .name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(ACTOR_NAME_BYTES);
        &self.name[..end] == name.as_bytes()
    }

    pub fn kind(&self) -> String {
        get_str(&self.kind)
    }

    /// Configured core, `None` when unpinned.
    pub fn core(&self) -> Option<u32> {
        (self.core != NO_CORE).then_some(self.core)
    }

    // --- supervisor ---

    /// The supervisor (re)started this actor as process `pid`: bump the generation, record the
    /// start, clear the per-incarnation words, state STARTING. Returns the new generation.
    pub fn begin_incarnation(&self, pid: u32, now_ns: u64, is_restart: bool) -> u64 {
        if is_restart {
            self.restarts.fetch_add(1, Ordering::Relaxed);
        }
        self.pid.store(pid, Ordering::Relaxed);
        self.started_ns.store(now_ns, Ordering::Relaxed);
        self.last_progress_ns.store(now_ns, Ordering::Relaxed);
        self.stop_requested.store(0, Ordering::Relaxed);
        self.kill_seen_ns.store(0, Ordering::Relaxed);
        self.kill_latency_ns.store(0, Ordering::Relaxed);
        self.state.store(actor_state::STARTING, Ordering::Release);
        self.generation
            .fetch_add(1, Ordering::AcqRel)
            .wrapping_add(1)
    }

    /// The supervisor saw the process exit with `wait_status`: state DEAD (unless it stopped
    /// cleanly), pid 0.
    pub fn mark_exited(&self, wait_status: u32) {
        self.last_exit_status.store(wait_status, Ordering::Relaxed);
        self.pid.store(0, Ordering::Relaxed);
        let _ = self
            .state
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
                (s != actor_state::STOPPED).then_some(actor_state::DEAD)
            });
    }

    /// Ask the actor to leave its loop at its next pass (graceful stop).
    pub fn request_stop(&self) {
        self.stop_requested.store(1, Ordering::Release);
    }

    pub fn stop_requested(&self) -> bool {
        self.stop_requested.load(Ordering::Acquire) != 0
    }

    // --- the actor ---

    /// One loop pass: heartbeat + 1 and the time of this progress. Single writer (the actor).
    #[inline]
    pub fn beat(&self, now_ns: u64) {
        // Load + store rather than fetch_add: one writer, and no locked instruction per pass.
        let beats = self.heartbeat.load(Ordering::Relaxed);
        self.last_progress_ns.store(now_ns, Ordering::Relaxed);
        self.heartbeat
            .store(beats.wrapping_add(1), Ordering::Release);
    }

    /// Add `work` to the work counter. Single writer (the actor).
    #[inline]
    pub fn add_work(&self, work: u64) {
        let done = self.work_done.load(Ordering::Relaxed);
        self.work_done
            .store(done.wrapping_add(work), Ordering::Relaxed);
    }

    pub fn set_state(&self, state: u32) {
        self.state.store(state, Ordering::Release);
    }

    /// Record that this incarnation saw the kill at `seen_ns`, `latency_ns` after it was set.
    pub fn record_kill_seen(&self, seen_ns: u64, latency_ns: u64) {
        self.kill_latency_ns.store(latency_ns, Ordering::Relaxed);
        self.kill_seen_ns.store(seen_ns, Ordering::Release);
    }

    /// Clear the kill-seen words (after a rearm).
    pub fn clear_kill_seen(&self) {
        self.kill_seen_ns.store(0, Ordering::Relaxed);
        self.kill_latency_ns.store(0, Ordering::Relaxed);
    }

    pub fn set_counters(&self, counters: ActorCounters, now_ns: u64) {
        self.msgs_in.store(counters.msgs_in, Ordering::Relaxed);
        self.msgs_out.store(counters.msgs_out, Ordering::Relaxed);
        self.errors.store(counters.errors, Ordering::Relaxed);
        self.counters_updated_ns.store(now_ns, Ordering::Release);
    }

    pub fn set_latency(&self, p50_ns: u64, p99_ns: u64) {
        self.latency_p50_ns.store(p50_ns, Ordering::Relaxed);
        self.latency_p99_ns.store(p99_ns, Ordering::Relaxed);
    }

    // --- readers ---

    pub fn pid(&self) -> u32 {
        self.pid.load(Ordering::Acquire)
    }
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
    pub fn state(&self) -> u32 {
        self.state.load(Ordering::Acquire)
    }
    pub fn heartbeat(&self) -> u64 {
        self.heartbeat.load(Ordering::Acquire)
    }
    pub fn last_progress_ns(&self) -> u64 {
        self.last_progress_ns.load(Ordering::Acquire)
    }
    pub fn restarts(&self) -> u64 {
        self.restarts.load(Ordering::Relaxed)
    }
    pub fn started_ns(&self) -> u64 {
        self.started_ns.load(Ordering::Relaxed)
    }
    pub fn work_done(&self) -> u64 {
        self.work_done.load(Ordering::Relaxed)
    }
    pub fn counters(&self) -> ActorCounters {
        ActorCounters {
            msgs_in: self.msgs_in.load(Ordering::Relaxed),
            msgs_out: self.msgs_out.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }
    pub fn counters_updated_ns(&self) -> u64 {
        self.counters_updated_ns.load(Ordering::Acquire)
    }
    /// Processing latency percentiles last published by the actor's loop.
    pub fn latency_ns(&self) -> (u64, u64) {
        (
            self.latency_p50_ns.load(Ordering::Relaxed),
            self.latency_p99_ns.load(Ordering::Relaxed),
        )
    }
    /// `(seen_ns, latency_ns)` when this incarnation has seen the current kill.
    pub fn kill_seen(&self) -> Option<(u64, u64)> {
        let seen = self.kill_seen_ns.load(Ordering::Acquire);
        (seen != 0).then(|| (seen, self.kill_latency_ns.load(Ordering::Relaxed)))
    }
    pub fn last_exit_status(&self) -> u32 {
        self.last_exit_status.load(Ordering::Relaxed)
    }

    pub fn snapshot(&self) -> ActorSnapshot {
        let counters = self.counters();
        let (latency_p50_ns, latency_p99_ns) = self.latency_ns();
        ActorSnapshot {
            index: self.index(),
            name: self.name(),
            kind: self.kind(),
            core: self.core(),
            pid: self.pid(),
            generation: self.generation(),
            state: self.state(),
            heartbeat: self.heartbeat(),
            last_progress_ns: self.last_progress_ns(),
            restarts: self.restarts(),
            started_ns: self.started_ns(),
            work_done: self.work_done(),
            msgs_in: counters.msgs_in,
            msgs_out: counters.msgs_out,
            errors: counters.errors,
            latency_p50_ns,
            latency_p99_ns,
            kill_seen_ns: self.kill_seen_ns.load(Ordering::Relaxed),
            kill_latency_ns: self.kill_latency_ns.load(Ordering::Relaxed),
            stop_requested: self.stop_requested(),
            last_exit_status: self.last_exit_status(),
        }
    }
}

impl core::fmt::Debug for ActorSlot {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.snapshot().fmt(f)
    }
}

// ---------------------------------------------------------------------------------------------
// The block.

/// Who set the kill switch, when and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KillInfo {
    pub by: String,
    pub reason: String,
    /// Unix epoch ns (for people and logs).
    pub wall_ns: u64,
    /// Monotonic ns (for latency: actors subtract it from the time they saw it).
    pub mono_ns: u64,
    /// 1 for the first kill since the block was created, 2 for the next…
    pub kill_number: u64,
    /// False if the setter died between setting the word and writing the details (`by` and
    /// `reason` are then empty).
    pub details_complete: bool,
}

/// Who re-armed last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RearmInfo {
    pub by: String,
    pub wall_ns: u64,
    pub mono_ns: u64,
    pub rearm_number: u64,
}

/// Why Execution may not place a new order right now (the first reason found, in the order
/// kill switch, lockdown, gate, regime).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderBlock {
    Kill,
    /// Sentinel's lockdown with its reason code.
    Lockdown(u32),
    /// The zero-trust gate is closed with this failing check.
    Gate(u32),
    /// Sonar's regime is not Attack (the code).
    Regime(u32),
}

/// A mapped control block. Cheap to share behind an `Arc` between the threads of a process.
pub struct ControlBlock {
    region: Region,
}

impl core::fmt::Debug for ControlBlock {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ControlBlock")
            .field("region", &self.region)
            .field("engine_name", &self.engine_name())
            .field("engine_state", &engine_state_name(self.engine_state()))
            .field("killed", &self.is_killed())
            .finish()
    }
}

/// Check names and counts before anything is created.
fn validate_specs(engine_name: &str, actors: &[ActorSpec]) -> Result<(), ControlError> {
    if engine_name.is_empty() || engine_name.len() > ENGINE_NAME_BYTES {
        return Err(ControlError::BadEngineName {
            name: engine_name.to_owned(),
            max: ENGINE_NAME_BYTES,
        });
    }
    if actors.len() > MAX_ACTORS {
        return Err(ControlError::TooManyActors {
            count: actors.len(),
            max: MAX_ACTORS,
        });
    }
    for (i, a) in actors.iter().enumerate() {
        if a.name.is_empty() || a.name.len() > ACTOR_NAME_BYTES || a.name.contains('\0') {
            return Err(ControlError::BadActorName {
                name: a.name.clone(),
                max: ACTOR_NAME_BYTES,
            });
        }
        if a.kind.is_empty() || a.kind.len() > ACTOR_KIND_BYTES || a.kind.contains('\0') {
            return Err(ControlError::BadActorKind {
                name: a.name.clone(),
                kind: a.kind.clone(),
                max: ACTOR_KIND_BYTES,
            });
        }
        if actors[..i].iter().any(|b| b.name == a.name) {
            return Err(ControlError::DuplicateActor {
                name: a.name.clone(),
            });
        }
    }
    Ok(())
}

/// Write identity fields into a zeroed layout (before the region header is published).
///
/// # Safety
/// `payload` must point to at least `size_of::<ControlLayout>()` zeroed, writable, 64-aligned
/// bytes that no other process trusts yet.
unsafe fn init_layout(payload: *mut u8, engine_name: &str, actors: &[ActorSpec]) {
    let layout = payload as *mut ControlLayout;
    // Safety: per the contract, nobody else reads these bytes yet and they are in bounds;
    // raw-pointer writes create no reference to the atomics living beside them.
    unsafe {
        let engine = &raw mut (*layout).engine;
        (&raw mut (*engine).actor_count).write(actors.len() as u32);
        (&raw mut (*engine).created_wall_ns).write(wall_clock_ns());
        let mut name = [0u8; ENGINE_NAME_BYTES];
        put_str(&mut name, engine_name);
        (&raw mut (*engine).engine_name).write(name);
        for (i, a) in actors.iter().enumerate() {
            let slot = &raw mut (*layout).actors[i];
            let mut n = [0u8; ACTOR_NAME_BYTES];
            put_str(&mut n, &a.name);
            (&raw mut (*slot).name).write(n);
            let mut k = [0u8; ACTOR_KIND_BYTES];
            put_str(&mut k, &a.kind);
            (&raw mut (*slot).kind).write(k);
            (&raw mut (*slot).core).write(a.core.unwrap_or(NO_CORE));
        }
        for i in 0..MAX_ACTORS {
            (&raw mut (*layout).actors[i].index).write(i as u32);
        }
    }
}

impl ControlBlock {
    /// The region spec of a control block built by this binary.
    pub fn spec() -> RegionSpec {
        RegionSpec {
            kind: RegionKind::Control,
            capacity: MAX_ACTORS as u64,
            slot_size: core::mem::size_of::<ActorSlot>() as u64,
            payload_bytes: core::mem::size_of::<ControlLayout>() as u64,
        }
    }

    /// Create `control.shm` in `dir` (fails if it exists: a stale block from a previous run must
    /// be removed deliberately) with one slot per actor, in order.
    pub fn create(
        dir: &ShmDir,
        engine_name: &str,
        actors: &[ActorSpec],
    ) -> Result<ControlBlock, ControlError> {
        validate_specs(engine_name, actors)?;
        let region = Region::create_with(dir, CONTROL_FILE, Self::spec(), |payload| {
            // Safety: create_with hands us the zeroed, 4096-aligned payload of the size in
            // `spec()` before publishing the header.
            unsafe { init_layout(payload, engine_name, actors) }
        })?;
        Ok(Self::from_region(region))
    }

    /// Attach to `control.shm` if it exists and was made for the same engine name and actor list
    /// (a restarted supervisor finding its running engine), else create it. A block made for
    /// another actor list is refused with [`ControlError::ActorsDiffer`], never reused.
    pub fn create_or_attach(
        dir: &ShmDir,
        engine_name: &str,
        actors: &[ActorSpec],
    ) -> Result<ControlBlock, ControlError> {
        validate_specs(engine_name, actors)?;
        let region = Region::create_or_attach_with(dir, CONTROL_FILE, Self::spec(), |payload| {
            // Safety: as in `create`; only run when this call creates the file.
            unsafe { init_layout(payload, engine_name, actors) }
        })?;
        let block = Self::from_region(region);
        block.check_actors(engine_name, actors)?;
        Ok(block)
    }

    /// Whether this block was made for `engine_name` and `actors` (names, kinds, cores, order).
    pub fn check_actors(
        &self,
        engine_name: &str,
        actors: &[ActorSpec],
    ) -> Result<(), ControlError> {
        let found: Vec<ActorSpec> = self
            .actors()
            .map(|s| ActorSpec {
                name: s.name(),
                kind: s.kind(),
                core: s.core(),
            })
            .collect();
        if self.engine_name() != engine_name || found != actors {
            return Err(ControlError::ActorsDiffer {
                engine_name: self.engine_name(),
                found: found.iter().map(|a| a.name.clone()).collect(),
            });
        }
        Ok(())
    }

    /// Attach to the engine's existing `control.shm` (refused with a typed error if it was made
    /// by another build, is truncated, foreign…).
    pub fn attach(dir: &ShmDir) -> Result<ControlBlock, ControlError> {
        let region = Region::attach(dir, CONTROL_FILE, Self::spec())?;
        Ok(Self::from_region(region))
    }

    /// A block in anonymous memory, for one process (tests, the backtest).
    pub fn anonymous(
        engine_name: &str,
        actors: &[ActorSpec],
    ) -> Result<ControlBlock, ControlError> {
        validate_specs(engine_name, actors)?;
        let region = Region::anonymous_with(Self::spec(), |payload| {
            // Safety: as in `create`.
            unsafe { init_layout(payload, engine_name, actors) }
        })?;
        Ok(Self::from_region(region))
    }

    fn from_region(region: Region) -> ControlBlock {
        assert!(region.payload_len() >= core::mem::size_of::<ControlLayout>());
        assert_eq!(region.payload_ptr() as usize % 64, 0);
        ControlBlock { region }
    }

    #[inline]
    fn layout(&self) -> &ControlLayout {
        // Safety: the region's payload is at least size_of::<ControlLayout>() bytes, 64-aligned
        // (checked in from_region), lives as long as `self.region`, and holds a valid layout:
        // all-zero bytes are valid for every field (atomics, Pod) and the identity fields were
        // written before the header was published. Concurrent mutation happens only through
        // atomics (and SeqLock's atomic word copies); the plain fields are never written again.
        unsafe { &*(self.region.payload_ptr() as *const ControlLayout) }
    }

    /// The underlying region (path, header).
    pub fn region(&self) -> &Region {
        &self.region
    }

    pub fn engine_name(&self) -> String {
        get_str(&self.layout().engine.engine_name)
    }

    /// Unix epoch ns when the block was created.
    pub fn created_wall_ns(&self) -> u64 {
        self.layout().engine.created_wall_ns
    }

    // --- kill switch ---

    /// The kill word: 0 while armed, else the monotonic ns at which it was set. One Acquire load
    /// of a line written only when the switch flips: the hot-path check.
    #[inline(always)]
    pub fn kill_word(&self) -> u64 {
        self.layout().kill.killed_mono_ns.load(Ordering::Acquire)
    }

    /// Whether the kill switch is set (one Acquire load).
    #[inline(always)]
    pub fn is_killed(&self) -> bool {
        self.kill_word() != 0
    }

    /// Set the kill switch. Returns true if this call set it, false if it was already set (the
    /// first caller's details are kept). `by` and `reason` are cut to 32 and 96 bytes.
    pub fn kill(&self, by: &str, reason: &str) -> bool {
        self.kill_at(by, reason, monotonic_ns(), wall_clock_ns())
    }

    /// [`ControlBlock::kill`] with explicit timestamps (tests and simulations with their own
    /// clock). `mono_ns` 0 is taken as 1: 0 means armed.
    pub fn kill_at(&self, by: &str, reason: &str, mono_ns: u64, wall_ns: u64) -> bool {
        let l = self.layout();
        let word = mono_ns.max(1);
        if l.kill
            .killed_mono_ns
            .compare_exchange(0, word, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let kill_number = l
            .kill
            .kills
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        let mut details = KillDetails {
            mono_ns: word,
            wall_ns,
            kill_number,
            by: [0; KILL_BY_BYTES],
            reason: [0; KILL_REASON_BYTES],
        };
        put_str(&mut details.by, by);
        put_str(&mut details.reason, reason);
        l.kill_details.write_exclusive(&details);
        self.set_engine_state(engine_state::HALTED, mono_ns);
        self.wake_all();
        true
    }

    /// The heartbeat of a process kind (a child that runs its own main instead of the actor
    /// loop, such as the UI): the slot goes RUNNING once started, HALTED while the kill switch is
    /// set and RUNNING again after a re-arm, as the actor loop does for loop actors, then beats.
    /// Stopping states (STOPPING, STOPPED) are left alone.
    pub fn beat_process(&self, index: usize, now_ns: u64) {
        let slot = self.slot(index);
        let killed = self.is_killed();
        let state = slot.state();
        let next = match state {
            actor_state::STARTING | actor_state::READY | actor_state::HALTED if !killed => {
                actor_state::RUNNING
            }
            actor_state::STARTING | actor_state::READY | actor_state::RUNNING if killed => {
                actor_state::HALTED
            }
            other => other,
        };
        if next != state {
            slot.set_state(next);
        }
        slot.beat(now_ns);
    }

    // --- waking idle actors ---

    /// The wake sequence: read it before re-checking the kill word, then pass it to
    /// [`ControlBlock::wait_for_wake`], so a flip between the check and the wait is never missed.
    #[inline]
    pub fn wake_seq(&self) -> u32 {
        self.layout().kill.wake_seq.load(Ordering::Acquire)
    }

    /// Wake every actor sleeping in [`ControlBlock::wait_for_wake`] or parked on its doorbell
    /// ([`ControlBlock::park_wait`]), in every process.
    pub fn wake_all(&self) {
        // Doorbells first: they are what idle actors sleep on.
        // Every doorbell, parked or not: an actor between `park_begin` and its wait has already
        // read its doorbell, so the bump makes that wait return at once.
        // (Bounded by the slots that exist: the count is read from a file that may be hostile.)
        for index in 0..self.actor_count().min(MAX_ACTORS) {
            self.ring_doorbell(index);
        }
        let word = &self.layout().kill.wake_seq;
        word.fetch_add(1, Ordering::AcqRel);
        futex_wake(word);
    }

    // --- doorbells: waking idle actors when their input arrives ---

    /// Declare the topics ([`topic`]) whose producers wake actor `index` when it is parked
    /// (the actor loop writes this from [`crate::actor::Actor::wake_topics`] at start).
    pub fn set_wake_topics(&self, index: usize, topics: u32) {
        self.slot(index)
            .wake_topics
            .store(topics, Ordering::Release);
    }

    /// The topics actor `index` waits for.
    pub fn wake_topics(&self, index: usize) -> u32 {
        self.slot(index).wake_topics.load(Ordering::Acquire)
    }

    /// Call after publishing on `topics` (after the ring's own Release stores): wakes each
    /// parked actor that waits for one of them. When nobody is parked (a busy-spin topology,
    /// or a loaded one) this is one fence and one load; returns how many doorbells it rang.
    #[inline]
    pub fn notify(&self, topics: u32) -> u32 {
        // SeqCst fence: orders the ring's stores before the load of the parked mask, against
        // the parker's SeqCst RMW on the mask before it re-polls (Dekker): either the parker's
        // re-poll sees the message or this load sees its parked bit.
        std::sync::atomic::fence(Ordering::SeqCst);
        let parked = self.layout().wake.parked_mask.load(Ordering::Relaxed);
        if parked == 0 {
            return 0;
        }
        self.notify_parked(parked, topics)
    }

    #[cold]
    fn notify_parked(&self, mut parked: u64, topics: u32) -> u32 {
        let mut rung = 0;
        let count = self.actor_count().min(MAX_ACTORS);
        while parked != 0 {
            let index = parked.trailing_zeros() as usize;
            parked &= parked - 1;
            if index < count && self.wake_topics(index) & topics != 0 {
                self.ring_doorbell(index);
                rung += 1;
            }
        }
        rung
    }

    /// Wake actor `index` if it is parked on its doorbell (a harmless bump otherwise).
    pub fn ring_doorbell(&self, index: usize) {
        let word = &self.slot(index).doorbell_seq;
        word.fetch_add(1, Ordering::AcqRel);
        self.layout()
            .wake
            .doorbells_rung
            .fetch_add(1, Ordering::Relaxed);
        futex_wake(word);
    }

    /// Doorbells rung since the block was created (all actors).
    pub fn doorbells_rung(&self) -> u64 {
        self.layout().wake.doorbells_rung.load(Ordering::Relaxed)
    }

    /// Whether actor `index` is parked now.
    pub fn is_parked(&self, index: usize) -> bool {
        index < 64 && self.layout().wake.parked_mask.load(Ordering::Acquire) & (1 << index) != 0
    }

    /// Actor `index` is about to sleep: mark it parked and return its doorbell's value. The
    /// caller must then re-check its inputs (and the kill word), sleep with
    /// [`ControlBlock::park_wait`] and this value only if they are still empty, and call
    /// [`ControlBlock::park_end`] in every case. A publication in between is never missed: its
    /// [`ControlBlock::notify`] either is seen by the re-check or sees the parked bit.
    pub fn park_begin(&self, index: usize) -> u32 {
        debug_assert!(index < 64);
        // SeqCst RMW: the parked bit is visible before the re-check's loads (see `notify`).
        self.layout()
            .wake
            .parked_mask
            .fetch_or(1 << index, Ordering::SeqCst);
        self.slot(index).doorbell_seq.load(Ordering::Acquire)
    }

    /// Sleep up to `timeout_us`, or until actor `index`'s doorbell rings after `seen_seq` was
    /// read by [`ControlBlock::park_begin`]. May return early; callers re-check anyway.
    pub fn park_wait(&self, index: usize, seen_seq: u32, timeout_us: u32) {
        futex_wait(&self.slot(index).doorbell_seq, seen_seq, timeout_us);
    }

    /// Actor `index` is awake again: producers stop ringing its doorbell.
    pub fn park_end(&self, index: usize) {
        debug_assert!(index < 64);
        self.layout()
            .wake
            .parked_mask
            .fetch_and(!(1 << index), Ordering::Release);
    }

    /// Sleep up to `timeout_us`, or until [`ControlBlock::wake_all`] runs after `seen_seq` was
    /// read. Returns early (spuriously) at times: callers re-check their state every pass anyway.
    pub fn wait_for_wake(&self, seen_seq: u32, timeout_us: u32) {
        futex_wait(&self.layout().kill.wake_seq, seen_seq, timeout_us);
    }

    /// Who set the kill switch, when and why; `None` while armed.
    pub fn kill_info(&self) -> Option<KillInfo> {
        let l = self.layout();
        let word = self.kill_word();
        if word == 0 {
            return None;
        }
        // The winner writes the details right after its CAS: wait (boundedly) for them.
        for attempt in 0..crate::seqlock::READ_MAX_ATTEMPTS {
            if let Some(d) = l.kill_details.try_read() {
                if d.mono_ns == word {
                    return Some(KillInfo {
                        by: get_str(&d.by),
                        reason: get_str(&d.reason),
                        wall_ns: d.wall_ns,
                        mono_ns: d.mono_ns,
                        kill_number: d.kill_number,
                        details_complete: true,
                    });
                }
            }
            if self.kill_word() != word {
                // Re-armed (or re-armed and killed again) meanwhile: report the current state.
                return self.kill_info_once();
            }
            if attempt < crate::seqlock::READ_SPIN_ATTEMPTS {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
        Some(KillInfo {
            by: String::new(),
            reason: String::new(),
            wall_ns: 0,
            mono_ns: word,
            kill_number: l.kill.kills.load(Ordering::Acquire),
            details_complete: false,
        })
    }

    /// One look without waiting for details (used after a concurrent re-arm).
    fn kill_info_once(&self) -> Option<KillInfo> {
        let word = self.kill_word();
        if word == 0 {
            return None;
        }
        let d = self.layout().kill_details.try_read();
        Some(match d {
            Some(d) if d.mono_ns == word => KillInfo {
                by: get_str(&d.by),
                reason: get_str(&d.reason),
                wall_ns: d.wall_ns,
                mono_ns: d.mono_ns,
                kill_number: d.kill_number,
                details_complete: true,
            },
            _ => KillInfo {
                by: String::new(),
                reason: String::new(),
                wall_ns: 0,
                mono_ns: word,
                kill_number: self.layout().kill.kills.load(Ordering::Acquire),
                details_complete: false,
            },
        })
    }

    /// Clear the kill switch: an explicit operator action only. Returns true if it was set.
    /// Actors see the cleared word at their next pass, call `on_rearm` and run again.
    pub fn rearm(&self, by: &str) -> bool {
        self.rearm_at(by, monotonic_ns(), wall_clock_ns())
    }

    /// [`ControlBlock::rearm`] with explicit timestamps.
    pub fn rearm_at(&self, by: &str, mono_ns: u64, wall_ns: u64) -> bool {
        let l = self.layout();
        let word = l.kill.killed_mono_ns.swap(0, Ordering::AcqRel);
        if word == 0 {
            return false;
        }
        let rearm_number = l
            .kill
            .rearms
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        let mut details = RearmDetails {
            mono_ns,
            wall_ns,
            rearm_number,
            by: [0; KILL_BY_BYTES],
        };
        put_str(&mut details.by, by);
        l.rearm_details.write_exclusive(&details);
        // HALTED came from the kill: go back to RUNNING. Any other state is the supervisor's.
        let _ = l.engine.engine_state.compare_exchange(
            engine_state::HALTED,
            engine_state::RUNNING,
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.wake_all();
        true
    }

    /// The last re-arm, if any.
    pub fn last_rearm(&self) -> Option<RearmInfo> {
        let d = self.layout().rearm_details.read()?;
        (d.rearm_number != 0).then(|| RearmInfo {
            by: get_str(&d.by),
            wall_ns: d.wall_ns,
            mono_ns: d.mono_ns,
            rearm_number: d.rearm_number,
        })
    }

    /// Kills since the block was created.
    pub fn kill_count(&self) -> u64 {
        self.layout().kill.kills.load(Ordering::Acquire)
    }

    /// Kills plus re-arms: changes on every flip of the switch.
    pub fn kill_generation(&self) -> u64 {
        let k = &self.layout().kill;
        k.kills.load(Ordering::Acquire) + k.rearms.load(Ordering::Acquire)
    }

    // --- engine-wide words ---

    /// [`engine_state`] code as the supervisor (or the kill switch) last set it.
    pub fn engine_state(&self) -> u32 {
        self.layout().engine.engine_state.load(Ordering::Acquire)
    }

    /// The state to show people: HALTED while the kill switch is set, LOCKDOWN while Sentinel's
    /// lockdown holds a RUNNING engine, else the stored state.
    pub fn effective_engine_state(&self) -> u32 {
        if self.is_killed() {
            return engine_state::HALTED;
        }
        let stored = self.engine_state();
        if stored == engine_state::RUNNING && self.lockdown().0 {
            engine_state::LOCKDOWN
        } else {
            stored
        }
    }

    /// Set the engine state (supervisor).
    pub fn set_engine_state(&self, state: u32, now_ns: u64) {
        let e = &self.layout().engine;
        e.state_changed_ns.store(now_ns, Ordering::Relaxed);
        e.engine_state.store(state, Ordering::Release);
    }

    pub fn engine_state_changed_ns(&self) -> u64 {
        self.layout()
            .engine
            .state_changed_ns
            .load(Ordering::Acquire)
    }

    pub fn supervisor_pid(&self) -> u32 {
        self.layout().engine.supervisor_pid.load(Ordering::Acquire)
    }

    pub fn set_supervisor_pid(&self, pid: u32) {
        self.layout()
            .engine
            .supervisor_pid
            .store(pid, Ordering::Release);
    }

    /// Sonar: publish the regime ([`crate::telemetry::REGIME_ATTACK`] …) and the entropy.
    pub fn set_regime(&self, regime: u32, entropy: f64, now_ns: u64) {
        let g = &self.layout().gates;
        g.entropy_bits.store(entropy.to_bits(), Ordering::Relaxed);
        g.regime_updated_ns.store(now_ns, Ordering::Relaxed);
        g.regime.store(regime, Ordering::Release);
    }

    /// `(regime code, entropy, updated_ns)`.
    pub fn regime(&self) -> (u32, f64, u64) {
        let g = &self.layout().gates;
        let regime = g.regime.load(Ordering::Acquire);
        (
            regime,
            f64::from_bits(g.entropy_bits.load(Ordering::Relaxed)),
            g.regime_updated_ns.load(Ordering::Relaxed),
        )
    }

    /// Sonar: publish the zero-trust gate; `failing_check` is a
    /// [`crate::telemetry::gate_check`] code (0 when open).
    pub fn set_gate(&self, open: bool, failing_check: u32, now_ns: u64) {
        let g = &self.layout().gates;
        g.gate_failing_check.store(failing_check, Ordering::Relaxed);
        g.gate_updated_ns.store(now_ns, Ordering::Relaxed);
        g.gate_open.store(u32::from(open), Ordering::Release);
    }

    /// `(open, failing check code, updated_ns)`.
    pub fn gate(&self) -> (bool, u32, u64) {
        let g = &self.layout().gates;
        let open = g.gate_open.load(Ordering::Acquire) != 0;
        (
            open,
            g.gate_failing_check.load(Ordering::Relaxed),
            g.gate_updated_ns.load(Ordering::Relaxed),
        )
    }

    /// Sentinel: enter (`on`) or lift lockdown with a
    /// [`crate::telemetry::lockdown_reason`] code.
    pub fn set_lockdown(&self, on: bool, reason: u32, now_ns: u64) {
        let g = &self.layout().gates;
        let was = g.lockdown.load(Ordering::Relaxed) != 0;
        if on && !was {
            g.lockdown_since_ns.store(now_ns, Ordering::Relaxed);
        }
        if !on {
            g.lockdown_since_ns.store(0, Ordering::Relaxed);
        }
        g.lockdown_reason
            .store(if on { reason } else { 0 }, Ordering::Relaxed);
        g.lockdown.store(u32::from(on), Ordering::Release);
    }

    /// `(in lockdown, reason code, since_ns)`.
    pub fn lockdown(&self) -> (bool, u32, u64) {
        let g = &self.layout().gates;
        let on = g.lockdown.load(Ordering::Acquire) != 0;
        (
            on,
            g.lockdown_reason.load(Ordering::Relaxed),
            g.lockdown_since_ns.load(Ordering::Relaxed),
        )
    }

    /// Execution, before every order: the first reason not to place one, `None` when the kill
    /// switch is clear, there is no lockdown, the gate is open and the regime is Attack. Four
    /// loads from two cache lines.
    #[inline]
    pub fn order_block(&self) -> Option<OrderBlock> {
        if self.is_killed() {
            return Some(OrderBlock::Kill);
        }
        let g = &self.layout().gates;
        if g.lockdown.load(Ordering::Acquire) != 0 {
            return Some(OrderBlock::Lockdown(
                g.lockdown_reason.load(Ordering::Relaxed),
            ));
        }
        if g.gate_open.load(Ordering::Acquire) == 0 {
            return Some(OrderBlock::Gate(
                g.gate_failing_check.load(Ordering::Relaxed),
            ));
        }
        let regime = g.regime.load(Ordering::Acquire);
        if regime != REGIME_ATTACK {
            return Some(OrderBlock::Regime(regime));
        }
        None
    }

    /// The CLI: change the venue's latency injection. Several CLIs may race; they take turns.
    pub fn set_venue_latency(&self, one_way_ns: u64, jitter_ns: u64) {
        self.layout().venue_latency.write_exclusive(&VenueLatency {
            one_way_ns,
            jitter_ns,
        });
    }

    /// The venue: current latency injection and its change counter (bumps by one per change).
    /// `None` only while a writer holds the value for implausibly long.
    pub fn venue_latency(&self) -> Option<(VenueLatency, u64)> {
        self.layout()
            .venue_latency
            .read_with_seq()
            .map(|(v, seq)| (v, seq / 2))
    }

    /// Change counter of the latency injection (cheap: the venue polls this, then reads).
    pub fn venue_latency_changes(&self) -> u64 {
        self.layout().venue_latency.sequence() / 2
    }

    // --- telemetry ---

    pub fn oracle_telemetry(&self) -> &SeqLock<OracleTelemetry> {
        &self.layout().oracle
    }
    pub fn sonar_telemetry(&self) -> &SeqLock<SonarTelemetry> {
        &self.layout().sonar
    }
    pub fn sentinel_telemetry(&self) -> &SeqLock<SentinelTelemetry> {
        &self.layout().sentinel
    }
    /// Save Sentinel's risk state for its next incarnation (see [`SentinelCheckpoint`]). The
    /// two slots are written in turn (by `saves`), so a Sentinel killed in the middle of a save
    /// leaves the previous one whole for [`ControlBlock::load_sentinel_checkpoint`].
    pub fn save_sentinel_checkpoint(&self, cp: &SentinelCheckpoint) {
        self.layout().sentinel_checkpoint[(cp.saves % 2) as usize].write(cp);
    }

    /// The newest whole checkpoint Sentinel saved, or `None` before its first save.
    pub fn load_sentinel_checkpoint(&self) -> Option<SentinelCheckpoint> {
        self.layout()
            .sentinel_checkpoint
            .iter()
            .filter_map(|slot| slot.read())
            .filter(|cp| cp.saves > 0)
            .max_by_key(|cp| cp.saves)
    }
    pub fn execution_telemetry(&self) -> &SeqLock<ExecutionTelemetry> {
        &self.layout().execution
    }
    pub fn feed_telemetry(&self) -> &SeqLock<FeedTelemetry> {
        &self.layout().feed
    }

    // --- actor slots ---

    /// Number of configured actors (slots `0..actor_count()`).
    pub fn actor_count(&self) -> usize {
        self.layout().engine.actor_count as usize
    }

    /// Slot `index`, or `None` past [`MAX_ACTORS`].
    pub fn get_slot(&self, index: usize) -> Option<&ActorSlot> {
        self.layout().actors.get(index)
    }

    /// Slot `index`.
    ///
    /// # Panics
    /// If `index >= MAX_ACTORS` (a programming error, like indexing a slice out of bounds);
    /// use [`ControlBlock::get_slot`] or [`ControlBlock::find`] with untrusted input.
    pub fn slot(&self, index: usize) -> &ActorSlot {
        &self.layout().actors[index]
    }

    /// The slot index of the actor called `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        self.actors().position(|s| s.name_is(name))
    }

    /// The configured actors' slots, in configuration order.
    pub fn actors(&self) -> impl ExactSizeIterator<Item = &ActorSlot> + '_ {
        let n = self.actor_count().min(MAX_ACTORS);
        self.layout().actors[..n].iter()
    }
}

/// FUTEX_WAKE every waiter on `word` (the shared variant: waiters live in other processes).
fn futex_wake(word: &AtomicU32) {
    // Safety: `word` is a valid, aligned u32 inside the live shared mapping; FUTEX_WAKE (not
    // the private variant, which would not reach other processes) only reads its address.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE,
            i32::MAX,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

/// FUTEX_WAIT on `word` while it holds `seen`, at most `timeout_us`.
fn futex_wait(word: &AtomicU32, seen: u32, timeout_us: u32) {
    let timeout = libc::timespec {
        tv_sec: (timeout_us / 1_000_000) as libc::time_t,
        tv_nsec: ((timeout_us % 1_000_000) * 1_000) as libc::c_long,
    };
    // Safety: as in `futex_wake`; the kernel compares the word with `seen` atomically and
    // sleeps only while they are equal, at most `timeout`, which lives across the call.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT,
            seen,
            &timeout as *const libc::timespec,
            std::ptr::null::<u32>(),
            0u32,
        );
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn layout_lines_do_not_share_cache_lines() {
        let cb = ControlBlock::anonymous("t", &[ActorSpec::new("a", "feed", Some(1))]).unwrap();
        let l = cb.layout();
        let base = l as *const ControlLayout as usize;
        let off = |p: usize| p - base;
        assert_eq!(off(&l.kill as *const KillLine as usize) % 64, 0);
        assert_eq!(off(&l.gates as *const GatesLine as usize) % 64, 0);
        for s in &l.actors {
            assert_eq!(off(s as *const ActorSlot as usize) % 64, 0);
        }
        assert_eq!(ControlBlock::spec().slot_size, 256);
    }

    #[test]
    fn a_sentinel_killed_while_saving_leaves_its_previous_checkpoint() {
        let cb = ControlBlock::anonymous("t", &[ActorSpec::new("s", "sentinel", None)]).unwrap();
        assert_eq!(cb.load_sentinel_checkpoint(), None, "nothing saved yet");
        let cp = |saves: u64| SentinelCheckpoint {
            saves,
            orders_pos: 10 * saves,
            position_e8: -(saves as i64),
            ..SentinelCheckpoint::default()
        };
        cb.save_sentinel_checkpoint(&cp(1));
        cb.save_sentinel_checkpoint(&cp(2));
        assert_eq!(
            cb.load_sentinel_checkpoint(),
            Some(cp(2)),
            "the newest of the two"
        );
        // Save 3 goes to slot 1 (over save 1); the writer dies in the middle of it.
        cb.layout().sentinel_checkpoint[1].die_while_writing();
        assert_eq!(
            cb.load_sentinel_checkpoint(),
            Some(cp(2)),
            "save 2 is still whole"
        );
        // The successor's save 3 heals the slot.
        cb.save_sentinel_checkpoint(&cp(3));
        assert_eq!(cb.load_sentinel_checkpoint(), Some(cp(3)));
        let mut cash = SentinelCheckpoint::default();
        for v in [0i128, -1, i128::from(i64::MIN) * 3, i128::MAX / 7] {
            cash.set_cash_e8(v);
            assert_eq!(cash.cash_e8(), v);
        }
    }
}
