//! Idle strategies: what an actor's loop does on a pass that found no work.
//!
//! Chosen per actor in `topology.ron`, so a laptop and a 16-core box run the same engine:
//!
//! ```ron
//! idle: Spin,            // an isolated core: lowest latency, burns the core
//! idle: Yield,           // shares a core with other busy threads
//! idle: Backoff(spin_iterations: 100, yield_iterations: 10, min_sleep_us: 50, max_sleep_us: 1000),
//! ```
//!
//! The sleeping phase of `Backoff` is a park on the actor's doorbell (a futex in the control
//! block, see `ControlBlock::park_begin`): the producers of the actor's wake topics and the kill
//! switch ring it, so a parked actor runs as soon as its input arrives; the sleep length only
//! bounds how long it parks when nothing rings (heartbeats keep advancing). A wake-up through
//! the futex costs ~10 µs on the 2-vCPU VM, so on a shared core the hot chain yields a few dozen
//! times before parking: while events flow, the core passes round the chain without a wake-up.
//! Spinning on a shared core is the one thing to avoid: the spinner holds the core that the
//! neighbour it just woke needs (BENCHMARKS.md, "Idle strategies on a shared core").

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Largest `spin_iterations` accepted: beyond this, use [`IdleStrategy::Spin`].
pub const MAX_SPIN_ITERATIONS: u32 = 1_000_000;
/// Largest `yield_iterations` accepted.
pub const MAX_YIELD_ITERATIONS: u32 = 1_000_000;
/// Longest sleep between two passes (10 ms): an idle actor notices the kill switch and keeps its
/// heartbeat advancing within this bound.
pub const MAX_SLEEP_US_CAP: u32 = 10_000;

/// What an actor does on a pass without work.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub enum IdleStrategy {
    /// Busy-poll with the spin-loop hint. For an actor alone on an isolated core.
    Spin,
    /// Give the core to another runnable thread (`sched_yield`) on every idle pass.
    Yield,
    /// Spin `spin_iterations` idle passes, then yield `yield_iterations` passes, then sleep,
    /// starting at `min_sleep_us` and doubling up to `max_sleep_us`. Any work resets it.
    Backoff {
        #[serde(default = "default_spin_iterations")]
        spin_iterations: u32,
        #[serde(default = "default_yield_iterations")]
        yield_iterations: u32,
        #[serde(default = "default_min_sleep_us")]
        min_sleep_us: u32,
        #[serde(default = "default_max_sleep_us")]
        max_sleep_us: u32,
    },
}

fn default_spin_iterations() -> u32 {
    100
}
fn default_yield_iterations() -> u32 {
    10
}
fn default_min_sleep_us() -> u32 {
    50
}
fn default_max_sleep_us() -> u32 {
    1_000
}

impl IdleStrategy {
    /// The default back-off: 100 spins, 10 yields, then sleeps of 50 µs doubling to 1 ms. Polite
    /// enough for a 2-core machine; an idle actor notices new work or the kill switch within ~1 ms.
    pub fn default_backoff() -> Self {
        IdleStrategy::Backoff {
            spin_iterations: default_spin_iterations(),
            yield_iterations: default_yield_iterations(),
            min_sleep_us: default_min_sleep_us(),
            max_sleep_us: default_max_sleep_us(),
        }
    }

    /// Whether this strategy keeps its core busy (never sleeps). The supervisor refuses two busy
    /// actors on one core.
    pub fn is_busy(&self) -> bool {
        matches!(self, IdleStrategy::Spin | IdleStrategy::Yield)
    }

    /// Check the caps.
    pub fn validate(&self) -> Result<(), IdleConfigError> {
        if let IdleStrategy::Backoff {
            spin_iterations,
            yield_iterations,
            min_sleep_us,
            max_sleep_us,
        } = *self
        {
            if spin_iterations > MAX_SPIN_ITERATIONS {
                return Err(IdleConfigError::TooManySpins {
                    spin_iterations,
                    max: MAX_SPIN_ITERATIONS,
                });
            }
            if yield_iterations > MAX_YIELD_ITERATIONS {
                return Err(IdleConfigError::TooManyYields {
                    yield_iterations,
                    max: MAX_YIELD_ITERATIONS,
                });
            }
            if min_sleep_us == 0 {
                return Err(IdleConfigError::ZeroSleep);
            }
            if max_sleep_us > MAX_SLEEP_US_CAP {
                return Err(IdleConfigError::SleepTooLong {
                    max_sleep_us,
                    cap_us: MAX_SLEEP_US_CAP,
                });
            }
            if min_sleep_us > max_sleep_us {
                return Err(IdleConfigError::SleepRangeInverted {
                    min_sleep_us,
                    max_sleep_us,
                });
            }
        }
        Ok(())
    }
}

impl Default for IdleStrategy {
    fn default() -> Self {
        Self::default_backoff()
    }
}

/// An [`IdleStrategy`] outside its caps.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdleConfigError {
    #[error("spin_iterations = {spin_iterations} is above the cap of {max}; use `Spin` for an actor that should never sleep")]
    TooManySpins { spin_iterations: u32, max: u32 },
    #[error("yield_iterations = {yield_iterations} is above the cap of {max}; use `Yield` for an actor that should never sleep")]
    TooManyYields { yield_iterations: u32, max: u32 },
    #[error("min_sleep_us must be at least 1; use spin or yield iterations for shorter waits")]
    ZeroSleep,
    #[error("max_sleep_us = {max_sleep_us} is above the cap of {cap_us} µs: an idle actor would notice the kill switch too late")]
    SleepTooLong { max_sleep_us: u32, cap_us: u32 },
    #[error("min_sleep_us = {min_sleep_us} is above max_sleep_us = {max_sleep_us}")]
    SleepRangeInverted {
        min_sleep_us: u32,
        max_sleep_us: u32,
    },
}

/// What one idle pass did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleStep {
    /// Work was done: nothing to wait for.
    Busy,
    /// One `spin_loop` hint.
    Spin,
    /// One `sched_yield`.
    Yield,
    /// Slept this many microseconds.
    Sleep { us: u32 },
}

/// Runs an [`IdleStrategy`]: call [`Idler::idle`] once per loop pass with the work that pass did.
#[derive(Clone, Debug)]
pub struct Idler {
    strategy: IdleStrategy,
    /// Consecutive passes without work since the last one with work.
    idle_passes: u64,
    /// Next back-off sleep (0 until the sleeping phase starts).
    sleep_us: u32,
}

impl Idler {
    /// An idler for a validated strategy.
    pub fn new(strategy: IdleStrategy) -> Result<Self, IdleConfigError> {
        strategy.validate()?;
        Ok(Self {
            strategy,
            idle_passes: 0,
            sleep_us: 0,
        })
    }

    pub fn strategy(&self) -> &IdleStrategy {
        &self.strategy
    }

    /// Forget the back-off state, as after a pass with work.
    #[inline]
    pub fn reset(&mut self) {
        self.idle_passes = 0;
        self.sleep_us = 0;
    }

    /// Decide what this pass does and advance the back-off state, without doing it. Pure, so the
    /// sequence can be checked without waiting.
    pub fn next_step(&mut self, work_done: usize) -> IdleStep {
        if work_done > 0 {
            self.reset();
            return IdleStep::Busy;
        }
        let pass = self.idle_passes;
        self.idle_passes = self.idle_passes.saturating_add(1);
        match self.strategy {
            IdleStrategy::Spin => IdleStep::Spin,
            IdleStrategy::Yield => IdleStep::Yield,
            IdleStrategy::Backoff {
                spin_iterations,
                yield_iterations,
                min_sleep_us,
                max_sleep_us,
            } => {
                let spins = u64::from(spin_iterations);
                if pass < spins {
                    IdleStep::Spin
                } else if pass < spins + u64::from(yield_iterations) {
                    IdleStep::Yield
                } else {
                    let us = if self.sleep_us == 0 {
                        min_sleep_us
                    } else {
                        self.sleep_us
                    };
                    self.sleep_us = us.saturating_mul(2).min(max_sleep_us);
                    IdleStep::Sleep { us }
                }
            }
        }
    }

    /// Wait according to the strategy when `work_done` is 0; reset the back-off otherwise.
    /// Returns what it did.
    #[inline]
    pub fn idle(&mut self, work_done: usize) -> IdleStep {
        self.idle_with(work_done, |us| {
            std::thread::sleep(Duration::from_micros(u64::from(us)))
        })
    }

    /// [`Idler::idle`] with the caller's sleep, e.g. a futex wait that the kill switch cuts short
    /// (see `ControlBlock::wait_for_wake`): a sleeping actor then sees a flip at once.
    #[inline]
    pub fn idle_with(&mut self, work_done: usize, sleep_us: impl FnOnce(u32)) -> IdleStep {
        let step = self.next_step(work_done);
        match step {
            IdleStep::Busy => {}
            IdleStep::Spin => std::hint::spin_loop(),
            IdleStep::Yield => std::thread::yield_now(),
            IdleStep::Sleep { us } => sleep_us(us),
        }
        step
    }
}
