//! The engine as the UI actor sees it: its shared memory. Attaches to `control.shm` when it
//! appears (the UI may start before the engine, and the engine may be restarted: a new control
//! file is noticed by its inode and re-attached).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use runtime::clock::wall_clock_ns;
use runtime::control::{
    actor_state, actor_state_name, engine_state_name, ControlBlock, CONTROL_FILE,
};
use runtime::hist::{stage, HistogramReader, HistogramRegion};
use runtime::shm::ShmDir;

use crate::view::{EngineReading, EngineView, KillReading, SlotReading, StageHist, ViewError};

/// How often (in reads) the control file's inode is checked for a newer engine.
const REATTACH_CHECK_EVERY: u64 = 20;

struct Attached {
    cb: Arc<ControlBlock>,
    inode: u64,
    path: PathBuf,
    /// `hist.shm`'s reader; None until the file exists (actors create it on first publication
    /// or the supervisor at start).
    hist: Option<HistogramReader>,
    dir: Option<ShmDir>,
}

pub struct ShmView {
    engine: String,
    base: Option<PathBuf>,
    attached: Mutex<Option<Attached>>,
    reads: std::sync::atomic::AtomicU64,
    /// The UI actor's own slot, when the supervisor told us; else found by our pid.
    own_slot: Option<usize>,
}

impl ShmView {
    pub fn new(base: Option<PathBuf>, engine_name: &str) -> ShmView {
        ShmView {
            engine: engine_name.to_string(),
            base,
            attached: Mutex::new(None),
            reads: Default::default(),
            own_slot: None,
        }
    }

    /// The UI actor's own slot index (as the supervisor's `ActorEnv` gives it). Without it the
    /// slot is found by this process's pid.
    pub fn with_own_slot(mut self, index: usize) -> ShmView {
        self.own_slot = Some(index);
        self
    }

    /// Attach to an engine's block that already exists (tests, tools).
    pub fn with_block(engine_name: &str, cb: Arc<ControlBlock>) -> ShmView {
        let path = cb
            .region()
            .path()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let inode = std::fs::metadata(&path).map(|m| m.ino()).unwrap_or(0);
        ShmView {
            engine: engine_name.to_string(),
            base: None,
            attached: Mutex::new(Some(Attached {
                cb,
                inode,
                hist: None,
                dir: path.parent().and_then(|d| {
                    let base = d.parent()?;
                    let name = d.file_name()?.to_str()?;
                    ShmDir::open(Some(base), name).ok()
                }),
                path,
            })),
            reads: Default::default(),
            own_slot: None,
        }
    }

    fn not_running(&self, detail: String) -> ViewError {
        ViewError::NotRunning {
            engine: self.engine.clone(),
            detail,
        }
    }

    /// The attached block, attaching (or re-attaching to a newer file) when needed.
    fn block(&self) -> Result<Arc<ControlBlock>, ViewError> {
        let mut g = self.attached.lock().unwrap_or_else(|p| p.into_inner());
        let n = self
            .reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(a) = g.as_ref() {
            let stale = n.is_multiple_of(REATTACH_CHECK_EVERY)
                && !a.path.as_os_str().is_empty()
                && std::fs::metadata(&a.path).map(|m| m.ino()).ok() != Some(a.inode);
            if !stale {
                return Ok(Arc::clone(&a.cb));
            }
            *g = None;
        }
        let dir = ShmDir::open(self.base.as_deref(), &self.engine)
            .map_err(|e| self.not_running(e.to_string()))?;
        let cb = ControlBlock::attach(&dir).map_err(|e| self.not_running(e.to_string()))?;
        let path = dir.path().join(CONTROL_FILE);
        let inode = std::fs::metadata(&path).map(|m| m.ino()).unwrap_or(0);
        let cb = Arc::new(cb);
        *g = Some(Attached {
            cb: Arc::clone(&cb),
            inode,
            path,
            hist: None,
            dir: Some(dir),
        });
        Ok(cb)
    }

    /// Every published stage's histogram (merged across publishers), in stage order.
    fn histograms(&self) -> Vec<StageHist> {
        let mut g = self.attached.lock().unwrap_or_else(|p| p.into_inner());
        let Some(a) = g.as_mut() else {
            return vec![];
        };
        if a.hist.is_none() {
            let Some(dir) = a.dir.as_ref() else {
                return vec![];
            };
            match HistogramRegion::attach(dir) {
                Ok(region) => a.hist = Some(HistogramReader::new(region)),
                Err(_) => return vec![], // not created yet: no histograms to show
            }
        }
        let Some(reader) = a.hist.as_mut() else {
            return vec![];
        };
        let mut stages: Vec<(u32, String)> = reader
            .slots()
            .into_iter()
            .map(|s| (s.stage, s.name))
            .collect();
        stages.sort();
        stages.dedup_by_key(|s| s.0);
        stages
            .into_iter()
            .filter_map(|(id, published_name)| {
                let hist = reader.read(id)?;
                let key = stage::name(id)
                    .map(str::to_string)
                    .unwrap_or_else(|| published_name.clone());
                let label = stage_label(&key);
                Some(StageHist {
                    stage: key,
                    label,
                    hist,
                    sum_ns: None,
                })
            })
            .collect()
    }
}

/// What the cockpit calls a stage.
pub fn stage_label(key: &str) -> String {
    match key {
        "tick_to_order" => "tick → order".into(),
        "rtt" => "order RTT".into(),
        "order_to_fill" => "order → fill".into(),
        "hop_feed_oracle" => "hop feed → oracle".into(),
        "hop_oracle_execution" => "hop oracle → exec".into(),
        "cancel_lateness" => "cancel lateness".into(),
        "kill_switch" => "kill flag → seen".into(),
        k => match k.strip_suffix("_proc") {
            Some(actor) => format!("{actor} processing"),
            None => k.replace('_', " "),
        },
    }
}

fn slots_of(cb: &ControlBlock) -> Vec<SlotReading> {
    cb.actors()
        .map(|s| {
            let snap = s.snapshot();
            SlotReading {
                index: snap.index as u32,
                name: snap.name,
                kind: snap.kind,
                pid: snap.pid,
                core: snap.core.map_or(-1, |c| c as i32),
                state: actor_state_name(snap.state).to_string(),
                heartbeat_ns: snap.last_progress_ns,
                last_progress_ns: snap.last_progress_ns,
                restarts: snap.restarts,
                msgs_in: snap.msgs_in,
                msgs_out: snap.msgs_out,
                latency_p50_ns: snap.latency_p50_ns,
                latency_p99_ns: snap.latency_p99_ns,
                kill_seen_ns: snap.kill_seen_ns,
            }
        })
        .collect()
}

impl EngineView for ShmView {
    fn engine_name(&self) -> &str {
        &self.engine
    }

    fn read(&self, _now_ns: u64, with_histograms: bool) -> Result<EngineReading, ViewError> {
        let cb = self.block()?;
        let kill = match cb.kill_info() {
            Some(k) => KillReading {
                set: true,
                by: k.by,
                reason: k.reason,
                at_ns: k.mono_ns,
            },
            // The word can be set a moment before its details are written.
            None if cb.is_killed() => KillReading {
                set: true,
                at_ns: cb.kill_word(),
                ..KillReading::default()
            },
            None => KillReading::default(),
        };
        // Telemetry never published reads as all zero: show "no data" rather than zeros.
        Ok(EngineReading {
            engine_state: engine_state_name(cb.effective_engine_state()).to_string(),
            uptime_ns: wall_clock_ns().saturating_sub(cb.created_wall_ns()),
            kill,
            slots: slots_of(&cb),
            oracle: cb.oracle_telemetry().read().filter(|t| t.updated_ns != 0),
            sonar: cb.sonar_telemetry().read().filter(|t| t.updated_ns != 0),
            sentinel: cb.sentinel_telemetry().read().filter(|t| t.updated_ns != 0),
            execution: cb
                .execution_telemetry()
                .read()
                .filter(|t| t.updated_ns != 0),
            feed: cb.feed_telemetry().read().filter(|t| t.updated_ns != 0),
            histograms: if with_histograms {
                self.histograms()
            } else {
                vec![]
            },
        })
    }

    fn slots(&self) -> Result<Vec<SlotReading>, ViewError> {
        let cb = self.block()?;
        Ok(slots_of(&cb))
    }

    fn kill(&self, by: &str, reason: &str) -> Result<bool, ViewError> {
        Ok(self.block()?.kill(by, reason))
    }

    fn rearm(&self, by: &str) -> Result<bool, ViewError> {
        Ok(self.block()?.rearm(by))
    }

    fn heartbeat(&self, now_ns: u64) {
        let Ok(cb) = self.block() else { return };
        if let Some(i) = self.own(&cb) {
            // HALTED while the kill switch is set, like every other actor's slot.
            cb.beat_process(i, now_ns);
        }
    }

    fn stop_requested(&self) -> bool {
        let Ok(cb) = self.block() else { return false };
        self.own(&cb).is_some_and(|i| cb.slot(i).stop_requested())
    }

    fn mark_stopped(&self) {
        if let Ok(cb) = self.block() {
            if let Some(i) = self.own(&cb) {
                cb.slot(i).set_state(actor_state::STOPPED);
            }
        }
    }
}

impl ShmView {
    /// Our slot: the one the supervisor named, else the one whose pid is ours (the supervisor
    /// writes it when it spawns us; several slots may show our pid when one process hosts
    /// several actors, so the ui kind is preferred).
    fn own(&self, cb: &ControlBlock) -> Option<usize> {
        if let Some(i) = self.own_slot.filter(|&i| i < cb.actor_count()) {
            return Some(i);
        }
        let me = std::process::id();
        cb.actors()
            .position(|s| s.pid() == me && s.kind() == "ui")
            .or_else(|| cb.actors().position(|s| s.pid() == me))
    }
}
