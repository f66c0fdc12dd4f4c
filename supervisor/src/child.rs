//! The actor child process (`supervisor actor-run`): pin, attach, wait to be registered, build
//! the actor from the registry and run it.
//!
//! Order matters:
//! 1. pin the (only) thread to the configured core before any other thread exists, so every
//!    thread created later (glommio's, the actor's) inherits the mask; then read back what the
//!    kernel reports (affinity mask and the CPU we are on) and refuse to run elsewhere;
//! 2. optional SCHED_FIFO;
//! 3. attach the control block and wait until the supervisor has recorded this process in the
//!    slot (generation and pid), so the loop's first pass (which marks the slot RUNNING) cannot
//!    be overwritten by the supervisor's bookkeeping;
//! 4. build the actor and run the runtime's `ActorLoop` on a pinned glommio executor, yielding
//!    every pass.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use runtime::actor::{ActorLoop, RunOutcome};
use runtime::clock::MonotonicClock;
use runtime::control::ControlBlock;
use runtime::hist::{stage, HistogramPublisher, HistogramRegion};
use runtime::shm::ShmDir;

use crate::executor;
use crate::machine::{current_cpu, pin_current_thread, sched_affinity, LocalMachine};
use crate::registry::{ActorEnv, KindRunner, Registry};
use crate::topology::{self, SchedFifo};

/// What the supervisor passes to an actor child.
#[derive(Clone, Debug)]
pub struct ChildArgs {
    pub topology: PathBuf,
    pub actor: String,
    /// The slot generation the supervisor will record for this process.
    pub generation: u64,
}

/// How long a child waits for the supervisor to record it in its slot.
const REGISTRATION_TIMEOUT: Duration = Duration::from_secs(5);

/// Pin the calling thread to `core` and check that the kernel agrees.
pub fn pin_and_verify(core: usize) -> anyhow::Result<()> {
    pin_current_thread(core).with_context(|| format!("sched_setaffinity to core {core}"))?;
    let mask = sched_affinity(0).context("sched_getaffinity")?;
    if mask != [core] {
        bail!("asked for core {core}, but the kernel reports the affinity mask {mask:?}");
    }
    // The migration happens at the next scheduling point at the latest.
    std::thread::yield_now();
    match current_cpu() {
        Some(cpu) if cpu == core => Ok(()),
        other => bail!("pinned to core {core}, but the kernel reports running on {other:?}"),
    }
}

/// Switch the calling thread to SCHED_FIFO.
pub fn set_sched_fifo(fifo: &SchedFifo) -> anyhow::Result<()> {
    if let Some(ms) = fifo.rttime_limit_ms {
        let us = ms.saturating_mul(1000);
        let lim = libc::rlimit {
            rlim_cur: us,
            rlim_max: libc::RLIM_INFINITY,
        };
        // Safety: `lim` is a valid rlimit read by the call.
        if unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, &lim) } != 0 {
            // Raising the soft limit may need the hard limit too; try soft = hard = value.
            let lim = libc::rlimit {
                rlim_cur: us,
                rlim_max: us,
            };
            // Safety: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, &lim) } != 0 {
                bail!(
                    "setrlimit(RLIMIT_RTTIME, {ms} ms): {}",
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    let param = libc::sched_param {
        sched_priority: i32::from(fifo.priority),
    };
    // Safety: pid 0 = the calling thread; `param` is valid for the call.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) } != 0 {
        let err = std::io::Error::last_os_error();
        bail!(
            "sched_setscheduler(SCHED_FIFO, priority {}): {err}; remedy: give the binary \
             CAP_SYS_NICE (`setcap cap_sys_nice+ep`), or an `rtprio` line in \
             /etc/security/limits.conf (LimitRTPRIO= in a systemd unit), or remove sched_fifo \
             from the topology",
            fifo.priority
        );
    }
    Ok(())
}

/// Attach to the engine and wait to be recorded in `index`'s slot as this process.
fn attach_and_register(
    topo: &topology::Topology,
    index: usize,
    generation: u64,
) -> anyhow::Result<(ShmDir, Arc<ControlBlock>)> {
    let dir = ShmDir::open(Some(&topo.shm_base), &topo.engine)
        .with_context(|| format!("opening the engine directory of `{}`", topo.engine))?;
    let control = Arc::new(ControlBlock::attach(&dir).context("attaching the control block")?);
    let name = &topo.actors[index].name;
    if index >= control.actor_count() || !control.slot(index).name_is(name) {
        bail!(
            "the running engine's slot {index} is not `{name}`: the topology file changed since \
             the engine started; restart the engine to apply it"
        );
    }
    let me = std::process::id();
    let deadline = Instant::now() + REGISTRATION_TIMEOUT;
    let slot = control.slot(index);
    // Bounded: REGISTRATION_TIMEOUT at 100 µs a check.
    while !(slot.generation() == generation && slot.pid() == me) {
        if Instant::now() >= deadline {
            bail!(
                "the supervisor did not record this process (pid {me}, generation {generation}) \
                 in slot {index} within {REGISTRATION_TIMEOUT:?}"
            );
        }
        std::thread::sleep(Duration::from_micros(100));
    }
    Ok((dir, control))
}

/// `supervisor actor-run`: the whole life of one actor process.
pub fn actor_run(registry: &Registry, args: &ChildArgs) -> anyhow::Result<()> {
    let topo = Arc::new(topology::load(&args.topology, registry, &LocalMachine)?);
    let spec = topo
        .actor(&args.actor)
        .with_context(|| format!("no actor `{}` in {}", args.actor, args.topology.display()))?
        .clone();
    let kind = registry
        .get(&spec.kind)
        .with_context(|| format!("kind `{}` is not registered in this binary", spec.kind))?
        .clone();

    pin_and_verify(spec.core)?;
    // Linux adds up to 50 µs of "timer slack" to every sleep of a normal thread; an idle actor
    // backing off with short sleeps would notice the kill switch that much later. 1 ns = exact.
    // Safety: prctl(PR_SET_TIMERSLACK, ns) only changes this thread's slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
    if let Some(fifo) = &spec.sched_fifo {
        set_sched_fifo(fifo)?;
    }
    let (dir, control) = attach_and_register(&topo, spec.index, args.generation)?;
    let hist = HistogramRegion::attach(&dir).context("attaching hist.shm")?;
    let env = ActorEnv {
        hist,
        topology: Arc::clone(&topo),
        spec: spec.clone(),
        dir,
        control: Arc::clone(&control),
        generation: args.generation,
    };
    match &kind.runner {
        KindRunner::Process(main) => main(&env),
        KindRunner::Actor(factory) => {
            let mut actor = factory(&env).with_context(|| {
                format!("building actor `{}` of kind `{}`", spec.name, spec.kind)
            })?;
            let mut actor_loop = ActorLoop::new(
                Arc::clone(&control),
                spec.index,
                MonotonicClock,
                spec.idle.clone(),
            )?;
            // Processing and kill-switch latencies go to hist.shm for the cockpit, status and
            // benchmarks.
            actor_loop = actor_loop.with_histograms(
                HistogramPublisher::new(Arc::clone(&env.hist), spec.index as u32),
                stage::proc_stage_for_kind(&spec.kind),
            );
            let outcome =
                executor::run_pinned(&spec.name, spec.core, &topo.housekeeping_cores, || async {
                    actor_loop
                        .run_async(actor.as_mut(), None, executor::yield_if_needed)
                        .await
                })?;
            match outcome {
                RunOutcome::Stopped => Ok(()),
                RunOutcome::PassLimit => bail!("the actor loop ended without a stop request"),
            }
        }
    }
}
