//! The benchmark's control words: how the bench process tells the synthetic feed (an actor in
//! its own process) which rate to offer, and how the feed reports back. A small file of atomic
//! words, memory-mapped by both; each word has one writer.

use memmap2::MmapMut;
use std::fs::OpenOptions;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

const MAGIC: u64 = 0x4c41_5442_454e_4348; // "LATBENCH"
const WORDS: usize = 32;
const FILE_BYTES: u64 = (WORDS * 8) as u64;

// Word indexes. Commands (bench → feed) on the first cache line, reports on the next ones.
const W_MAGIC: usize = 0;
const W_STEP: usize = 1;
const W_RATE: usize = 2;
const W_START_NS: usize = 3;
const W_EVENTS: usize = 4;
const W_ACK_STEP: usize = 8;
const W_PUBLISHED: usize = 9;
const W_LAST_PUBLISH_NS: usize = 10;
const W_MAX_LAG_NS: usize = 11;
const W_TOTAL: usize = 12;

/// A step the feed is asked to run: `events` events at `rate_per_s` from `start_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StepCmd {
    /// 1, 2, ...; a new number starts a new step.
    pub step: u64,
    pub rate_per_s: u64,
    pub start_ns: u64,
    pub events: u64,
}

/// What the feed reports about the step it runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StepReport {
    /// The step these figures belong to.
    pub step: u64,
    /// Events of this step published so far.
    pub published: u64,
    /// When the latest of them was published (monotonic ns).
    pub last_publish_ns: u64,
    /// Largest publish time − intended time in this step (the generator's own lag).
    pub max_lag_ns: u64,
    /// Events published since the feed started (all steps).
    pub total: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("bench control file {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("bench control file {path} is not one (bad size or magic): remove it")]
    Foreign { path: String },
}

/// The mapped control words.
pub struct BenchCtl {
    map: MmapMut,
}

impl BenchCtl {
    /// Create (or truncate) the file at `path` and map it.
    pub fn create(path: &Path) -> Result<BenchCtl, CtlError> {
        let io = |source| CtlError::Io {
            path: path.display().to_string(),
            source,
        };
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        f.set_len(FILE_BYTES).map_err(io)?;
        // Safety: the file is ours (just created, private temp directory) and sized above;
        // every access goes through the atomics in `words`.
        let map = unsafe { MmapMut::map_mut(&f) }.map_err(io)?;
        let ctl = BenchCtl { map };
        ctl.words()[W_MAGIC].store(MAGIC, Ordering::Release);
        Ok(ctl)
    }

    /// Map an existing control file (the feed's side).
    pub fn attach(path: &Path) -> Result<BenchCtl, CtlError> {
        let io = |source| CtlError::Io {
            path: path.display().to_string(),
            source,
        };
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .map_err(io)?;
        if f.metadata().map_err(io)?.len() != FILE_BYTES {
            return Err(CtlError::Foreign {
                path: path.display().to_string(),
            });
        }
        // Safety: as in `create`; the size was checked, accesses are atomic.
        let map = unsafe { MmapMut::map_mut(&f) }.map_err(io)?;
        let ctl = BenchCtl { map };
        if ctl.words()[W_MAGIC].load(Ordering::Acquire) != MAGIC {
            return Err(CtlError::Foreign {
                path: path.display().to_string(),
            });
        }
        Ok(ctl)
    }

    fn words(&self) -> &[AtomicU64; WORDS] {
        // Safety: the mapping is FILE_BYTES = WORDS × 8 bytes long (set or checked at open),
        // page aligned (so 8-aligned), lives as long as `self`, and is only accessed through
        // these atomics, here and in the other process.
        unsafe { &*(self.map.as_ptr() as *const [AtomicU64; WORDS]) }
    }

    /// Bench side: start a step (the step number last, so the feed sees a complete command).
    pub fn command(&self, cmd: StepCmd) {
        let w = self.words();
        w[W_RATE].store(cmd.rate_per_s, Ordering::Relaxed);
        w[W_START_NS].store(cmd.start_ns, Ordering::Relaxed);
        w[W_EVENTS].store(cmd.events, Ordering::Relaxed);
        w[W_STEP].store(cmd.step, Ordering::Release);
    }

    /// Feed side: the current command (step 0 = none yet).
    pub fn read_command(&self) -> StepCmd {
        let w = self.words();
        let step = w[W_STEP].load(Ordering::Acquire);
        StepCmd {
            step,
            rate_per_s: w[W_RATE].load(Ordering::Relaxed),
            start_ns: w[W_START_NS].load(Ordering::Relaxed),
            events: w[W_EVENTS].load(Ordering::Relaxed),
        }
    }

    /// Feed side: publish progress (the step number last).
    pub fn report(&self, r: &StepReport) {
        let w = self.words();
        w[W_PUBLISHED].store(r.published, Ordering::Relaxed);
        w[W_LAST_PUBLISH_NS].store(r.last_publish_ns, Ordering::Relaxed);
        w[W_MAX_LAG_NS].store(r.max_lag_ns, Ordering::Relaxed);
        w[W_TOTAL].store(r.total, Ordering::Relaxed);
        w[W_ACK_STEP].store(r.step, Ordering::Release);
    }

    /// Bench side: the feed's latest report. Figures are a moment's view (not one atomic
    /// snapshot); the bench reads them after the step has finished, when they no longer move.
    pub fn read_report(&self) -> StepReport {
        let w = self.words();
        let step = w[W_ACK_STEP].load(Ordering::Acquire);
        StepReport {
            step,
            published: w[W_PUBLISHED].load(Ordering::Relaxed),
            last_publish_ns: w[W_LAST_PUBLISH_NS].load(Ordering::Relaxed),
            max_lag_ns: w[W_MAX_LAG_NS].load(Ordering::Relaxed),
            total: w[W_TOTAL].load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_and_reports_cross_the_file() {
        let dir = std::env::temp_dir().join(format!("latbench-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bench.ctl");
        let bench = BenchCtl::create(&path).unwrap();
        let feed = BenchCtl::attach(&path).unwrap();
        assert_eq!(feed.read_command().step, 0);
        let cmd = StepCmd {
            step: 3,
            rate_per_s: 10_000,
            start_ns: 42,
            events: 50_000,
        };
        bench.command(cmd);
        assert_eq!(feed.read_command(), cmd);
        let r = StepReport {
            step: 3,
            published: 7,
            last_publish_ns: 99,
            max_lag_ns: 5,
            total: 70,
        };
        feed.report(&r);
        assert_eq!(bench.read_report(), r);
        std::fs::write(dir.join("other"), b"not a control file").unwrap();
        assert!(matches!(
            BenchCtl::attach(&dir.join("other")),
            Err(CtlError::Foreign { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
