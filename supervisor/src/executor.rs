//! The async executor an actor process runs on, kept behind this thin module so glommio (quiet
//! upstream since 2025) can be swapped for another thread-per-core runtime (monoio) in one place.
//!
//! Facts that shape it (see `shared/notes/glommio.md`):
//! - `Placement::Fixed(core)` pins the executor thread; the caller has validated the core against
//!   the affinity mask (glommio only reads the online list).
//! - The blocking thread pool would sit on the actor's own core: it goes to the housekeeping
//!   cores instead.
//! - The reactor only runs between task passes; the actor loop yields with `yield_if_needed`
//!   every pass and keeps its own deadlines, so `preempt_timer` only bounds how late
//!   housekeeping work inside the executor may run.
//! - Each executor registers io_uring buffer memory against RLIMIT_MEMLOCK: actors do no file
//!   I/O through glommio, so it gets the minimum.

use std::future::Future;
use std::time::Duration;

use glommio::{CpuSet, LocalExecutorBuilder, Placement, PoolPlacement};

use crate::topology::EXECUTOR_IO_MEMORY_BYTES;

/// How late housekeeping work inside an actor's executor may run (the actor loop itself yields
/// every pass and never waits on executor timers).
pub const PREEMPT_TIMER: Duration = Duration::from_millis(10);

/// Why an executor could not be built.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    #[error(
        "locked-memory limit too low for the executor ({0}); remedy: `ulimit -l` at least 1024 \
         (KiB) in the shell that starts the supervisor, or a memlock line in \
         /etc/security/limits.conf"
    )]
    MemLock(String),
    #[error("cannot build the executor on core {core}: {message}")]
    Build { core: usize, message: String },
}

/// Run `task` to completion on a glommio executor pinned to `core`, with its blocking pool on
/// `housekeeping_cores`. Blocks the calling thread.
pub fn run_pinned<F, T>(
    name: &str,
    core: usize,
    housekeeping_cores: &[usize],
    task: impl FnOnce() -> F,
) -> Result<T, ExecutorError>
where
    F: Future<Output = T>,
{
    let mut builder = LocalExecutorBuilder::new(Placement::Fixed(core))
        .name(name)
        .io_memory(EXECUTOR_IO_MEMORY_BYTES as usize)
        .ring_depth(32)
        .preempt_timer(PREEMPT_TIMER);
    let housekeeping: Vec<usize> = housekeeping_cores.to_vec();
    if let Ok(online) = CpuSet::online() {
        let set = online.filter(|loc| housekeeping.contains(&loc.cpu));
        if !set.is_empty() {
            builder = builder.blocking_thread_pool_placement(PoolPlacement::Fenced(1, set));
        }
    }
    let executor = builder.make().map_err(|e| {
        let message = e.to_string();
        if message.contains("MemLock") {
            ExecutorError::MemLock(message)
        } else {
            ExecutorError::Build { core, message }
        }
    })?;
    Ok(executor.run(task()))
}

/// Give the executor a chance to run its reactor when the time slice is used up (glommio's
/// `yield_if_needed`; a no-op most passes).
pub async fn yield_if_needed() {
    glommio::yield_if_needed().await
}
