//! The whole engine under a fixed-rate synthetic feed.
//!
//! The bench writes a copy of the topology into its work directory: `feed` becomes
//! `synthetic-feed`, the cockpit (`ui`) is left out, every trading actor reads the bench
//! strategy (`bench/strategy-bench.ron`), the venue is the simulator with the bench venue file
//! on free loopback ports, and the engine gets its own name (`<engine>-bench`) so a running
//! engine is left alone. Cores, idle strategies, SCHED_FIFO and supervision stay as given.
//!
//! It then runs `<this binary> start --topology <copy>` (the supervisor's standard command
//! line with this binary's kinds), waits for every actor, commands each rate step through the
//! control file, and reads `hist.shm` before and after each step: the figures of a step are
//! the difference of the cumulative histograms the actors publish.

use crate::channels::{achieved, order_figures, Placement};
use crate::ctl::{BenchCtl, StepCmd};
use crate::feed::{SyntheticFeedConfig, KIND as FEED_KIND};
use crate::kinds::{repo_root, LIVE_KINDS};
use crate::report::{Figure, Percentiles, StepResult};
use crate::synth::SynthBook;
use actors::config::StrategyConfig;
use actors::live::{STAGE_TICK_TO_ORDER_INTENDED, STAGE_TICK_TO_ORDER_INTENDED_NAME};
use anyhow::{bail, Context};
use hdrhistogram::Histogram;
use runtime::clock::monotonic_ns;
use runtime::control::{actor_state, ControlBlock};
use runtime::hist::{stage, HistogramReader, HistogramRegion};
use runtime::shm::ShmDir;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use supervisor::topology::{self, TopologyFile, VenueFile};

/// Stages read from `hist.shm`, with the names the report uses.
pub const STAGES: [(u32, &str); 8] = [
    (
        STAGE_TICK_TO_ORDER_INTENDED,
        STAGE_TICK_TO_ORDER_INTENDED_NAME,
    ),
    (stage::TICK_TO_ORDER, "tick_to_order"),
    (stage::HOP_FEED_ORACLE, "hop_feed_oracle"),
    (stage::HOP_ORACLE_EXECUTION, "hop_oracle_execution"),
    (stage::ORACLE_PROC, "oracle_proc"),
    (stage::EXECUTION_PROC, "execution_proc"),
    (stage::SONAR_PROC, "sonar_proc"),
    (stage::SENTINEL_PROC, "sentinel_proc"),
];

/// Intended send time → Execution done with the signal, when the engine publishes it (a user
/// stage found by this name in `hist.shm`; omitted from the report otherwise).
pub const TICK_TO_DECISION_NAME: &str = "tick_to_decision_intended";

/// Files the bench engine runs from, all in the work directory.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub work_dir: PathBuf,
    pub topology_path: PathBuf,
    pub ctl_path: PathBuf,
    pub topology: TopologyFile,
    /// The strategy every actor reads (journal in the work directory).
    pub strategy: StrategyConfig,
    pub book: SynthBook,
}

impl Prepared {
    /// Where the topology runs the actor of `kind` (the peer chain copies it).
    pub fn placement(&self, kind: &str) -> Option<Placement> {
        self.topology
            .actors
            .iter()
            .find(|a| a.kind == kind)
            .map(|a| Placement {
                core: a.core,
                idle: a.idle.clone(),
            })
    }

    pub fn housekeeping_core(&self) -> usize {
        self.topology
            .housekeeping_cores
            .first()
            .copied()
            .unwrap_or(0)
    }
}

/// A free loopback port (bound, read, released).
pub fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("finding a free port")?;
    Ok(l.local_addr()?.port())
}

/// Write the bench copy of `topology_file` and its configuration files into `work_dir`.
pub fn prepare(
    topology_file: &Path,
    strategy_file: &Path,
    venue_file: &Path,
    book: SynthBook,
    work_dir: &Path,
) -> anyhow::Result<Prepared> {
    std::fs::create_dir_all(work_dir)
        .with_context(|| format!("creating {}", work_dir.display()))?;
    let work_dir = work_dir
        .canonicalize()
        .with_context(|| format!("resolving {}", work_dir.display()))?;
    let src = std::fs::read_to_string(topology_file)
        .with_context(|| format!("reading the topology {}", topology_file.display()))?;
    let mut topo = topology::parse(topology_file, &src)?.raw;

    let mut strategy = StrategyConfig::load(strategy_file)?;
    strategy.journal_path = work_dir.join("orders.journal").display().to_string();
    strategy.costs_dir = repo_root().join(&strategy.costs_dir).display().to_string();
    // The engine keeps its journal in a folder named after the engine beside the configured
    // path (supervisor::builtin): start each bench from an empty one.
    let _ = std::fs::remove_dir_all(work_dir.join(format!("{}-bench", topo.engine)));
    let strategy_path = work_dir.join("strategy.ron");
    std::fs::write(
        &strategy_path,
        ron::ser::to_string_pretty(&strategy, ron::ser::PrettyConfig::default())?,
    )?;

    let ctl_path = work_dir.join("bench.ctl");
    let feed_path = work_dir.join("synthetic-feed.ron");
    let feed_cfg = SyntheticFeedConfig {
        control_path: ctl_path.clone(),
        book,
    };
    std::fs::write(
        &feed_path,
        ron::ser::to_string_pretty(&feed_cfg, ron::ser::PrettyConfig::default())?,
    )?;

    let mut actors = Vec::new();
    for mut a in topo.actors.drain(..) {
        match a.kind.as_str() {
            "feed" | FEED_KIND => {
                a.kind = FEED_KIND.to_string();
                a.config = Some(feed_path.clone());
            }
            // The cockpit is not part of the measured path; the bench does not build it.
            "ui" => continue,
            k if LIVE_KINDS.contains(&k) => a.config = Some(strategy_path.clone()),
            other => bail!(
                "{}: actor `{}` has kind `{other}`, which the latency bench cannot run \
                 (it runs feed, oracle, sonar, sentinel, execution; ui is left out)",
                topology_file.display(),
                a.name
            ),
        }
        actors.push(a);
    }
    for need in [FEED_KIND, "oracle", "execution", "sentinel"] {
        if actors.iter().filter(|a| a.kind == need).count() != 1 {
            bail!(
                "{}: the latency bench needs exactly one actor of kind `{}`",
                topology_file.display(),
                if need == FEED_KIND { "feed" } else { need }
            );
        }
    }
    topo.actors = actors;
    topo.engine = format!("{}-bench", topo.engine);
    topo.ui = None;
    topo.venue = Some(VenueFile::Simulator {
        config: venue_file
            .canonicalize()
            .with_context(|| format!("resolving the venue file {}", venue_file.display()))?,
        order_addr: format!("127.0.0.1:{}", free_port()?),
        md_addr: format!("127.0.0.1:{}", free_port()?),
    });
    let topology_path = work_dir.join("topology.ron");
    std::fs::write(
        &topology_path,
        ron::ser::to_string_pretty(&topo, ron::ser::PrettyConfig::default())?,
    )?;
    // Check it here, against this machine, so problems are printed rather than buried in the
    // supervisor's log.
    topology::load(
        &topology_path,
        &crate::kinds::registry(),
        &supervisor::machine::LocalMachine,
    )
    .map_err(|e| {
        anyhow::anyhow!(
            "the bench copy of {} does not validate on this machine:\n  {}",
            topology_file.display(),
            e.problems().join("\n  ")
        )
    })?;
    Ok(Prepared {
        work_dir,
        topology_path,
        ctl_path,
        topology: topo,
        strategy,
        book,
    })
}

/// Runs rate steps against a chain whose actors publish into `hist.shm` and whose feed is a
/// [`crate::feed::SyntheticFeed`] listening to `ctl`: the whole engine, or the same actors in
/// one process ([`crate::shm_chain`]).
pub struct StepDriver {
    pub control: Arc<ControlBlock>,
    reader: HistogramReader,
    ctl: BenchCtl,
    step: u64,
    chain: String,
}

/// The running bench engine.
pub struct EngineRun {
    child: Child,
    pub driver: StepDriver,
    prepared: Prepared,
}

impl EngineRun {
    /// Start the supervisor on the prepared topology and wait until every actor runs.
    pub fn start(prepared: &Prepared, exe: &Path) -> anyhow::Result<EngineRun> {
        let ctl = BenchCtl::create(&prepared.ctl_path)?;
        let log = std::fs::File::create(prepared.work_dir.join("supervisor.log"))?;
        let child = Command::new(exe)
            .arg("start")
            .arg("--topology")
            .arg(&prepared.topology_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {} start", exe.display()))?;
        let mut run_guard = Guard(Some(child));
        let base = prepared
            .topology
            .shm_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("/dev/shm"));
        let deadline = Instant::now() + Duration::from_secs(60);
        // Bounded by the deadline: attach, then wait for every slot to run.
        let (dir, control) = loop {
            if let Some(status) = run_guard
                .0
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                bail!(
                    "the bench engine exited during start-up ({status}); see {}",
                    prepared.work_dir.join("supervisor.log").display()
                );
            }
            if let Ok(dir) = ShmDir::open(Some(&base), &prepared.topology.engine) {
                if let Ok(c) = ControlBlock::attach(&dir) {
                    let c = Arc::new(c);
                    let n = c.actor_count();
                    if n == prepared.topology.actors.len()
                        && (0..n).all(|i| c.slot(i).state() == actor_state::RUNNING)
                    {
                        break (dir, c);
                    }
                }
            }
            if Instant::now() > deadline {
                bail!(
                    "the bench engine's actors were not all running within 60 s; see {}",
                    prepared.work_dir.join("supervisor.log").display()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let hist = HistogramRegion::attach(&dir).context("attaching hist.shm")?;
        Ok(EngineRun {
            child: run_guard.0.take().expect("child kept"),
            driver: StepDriver::new(control, hist, ctl, "engine"),
            prepared: prepared.clone(),
        })
    }

    /// One measured step (see [`StepDriver::run_step`]).
    pub fn run_step(
        &mut self,
        rate_per_s: u64,
        events: u64,
        timeout: Duration,
    ) -> anyhow::Result<StepResult> {
        let child = &mut self.child;
        self.driver.run_step(
            rate_per_s,
            events,
            timeout,
            &mut || match child.try_wait() {
                Ok(Some(status)) => bail!("the bench engine exited ({status})"),
                _ => Ok(()),
            },
        )
    }

    /// Restarts counted so far (a restart would mix two incarnations in the figures).
    pub fn restarts(&self) -> u64 {
        let c = &self.driver.control;
        (0..c.actor_count()).map(|i| c.slot(i).restarts()).sum()
    }

    /// Stop the engine gracefully (SIGTERM to the supervisor), at most 30 s, then kill.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let pid = self.child.id() as libc::pid_t;
        // Safety: kill(2) on our own child's pid, which we have not yet waited for.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait()? {
                if !status.success() {
                    eprintln!(
                        "engine: the supervisor exited with {status}; see {}",
                        self.prepared.work_dir.join("supervisor.log").display()
                    );
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                bail!("the bench engine did not stop within 30 s: killed");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl StepDriver {
    pub fn new(
        control: Arc<ControlBlock>,
        hist: Arc<HistogramRegion>,
        ctl: BenchCtl,
        chain: &str,
    ) -> Self {
        StepDriver {
            control,
            reader: HistogramReader::new(hist),
            ctl,
            step: 0,
            chain: chain.to_string(),
        }
    }

    fn command(&mut self, rate_per_s: u64, events: u64) -> StepCmd {
        self.step += 1;
        let cmd = StepCmd {
            step: self.step,
            rate_per_s,
            start_ns: monotonic_ns() + 1_000_000,
            events,
        };
        self.ctl.command(cmd);
        cmd
    }

    /// Whether Sonar's regime is Attack and its gate open (Execution quotes).
    pub fn gates_open(&self) -> bool {
        let (regime, _, _) = self.control.regime();
        let (open, _, _) = self.control.gate();
        regime == runtime::telemetry::REGIME_ATTACK && open && !self.control.lockdown().0
    }

    /// Feed at `rate_per_s` until Sonar opens the gates (at most `timeout`); not measured.
    pub fn warm_up(&mut self, rate_per_s: u64, timeout: Duration) -> anyhow::Result<()> {
        let events = rate_per_s * timeout.as_secs().max(1);
        self.command(rate_per_s, events);
        let deadline = Instant::now() + timeout;
        let mut open_since: Option<Instant> = None;
        // Bounded by `timeout`; the gates must stay open 300 ms (Sonar's dwell settles).
        while Instant::now() < deadline {
            if self.gates_open() {
                let since = *open_since.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_millis(300) {
                    break;
                }
            } else {
                open_since = None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        self.command(0, 0);
        if !self.gates_open() {
            let (regime, entropy, _) = self.control.regime();
            let (_, check, _) = self.control.gate();
            bail!(
                "Sonar did not open the gates during warm-up (regime {regime}, entropy \
                 {entropy:.2}, failing check {check}): Execution would place no orders"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
        Ok(())
    }

    /// [`STAGES`] in order, then [`TICK_TO_DECISION_NAME`].
    fn snapshot(&mut self) -> Vec<Option<Histogram<u64>>> {
        let decision = self
            .reader
            .slots()
            .into_iter()
            .find(|s| s.name == TICK_TO_DECISION_NAME)
            .map(|s| s.stage);
        let mut v: Vec<_> = STAGES.iter().map(|(s, _)| self.reader.read(*s)).collect();
        v.push(decision.and_then(|s| self.reader.read(s)));
        v
    }

    /// One measured step: `events` events offered at `rate_per_s`; waits (at most
    /// `timeout`) until all are published, lets the chain drain, and returns the difference of
    /// the published histograms. `alive` fails when the chain died.
    pub fn run_step(
        &mut self,
        rate_per_s: u64,
        events: u64,
        timeout: Duration,
        alive: &mut dyn FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<StepResult> {
        // Publications settle (wrappers every 50 ms, the loop's processing time every 250 ms).
        std::thread::sleep(Duration::from_millis(600));
        let before = self.snapshot();
        let cmd = self.command(rate_per_s, events);
        let deadline = Instant::now() + timeout;
        // Bounded by `timeout`.
        loop {
            let r = self.ctl.read_report();
            if r.step == cmd.step && r.published >= events {
                break;
            }
            alive().with_context(|| format!("during the {rate_per_s}/s step"))?;
            if Instant::now() > deadline {
                eprintln!(
                    "{}: step at {rate_per_s}/s not finished within {timeout:?} \
                     (published {}/{events}); reporting what was measured",
                    self.chain, r.published
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Stop the generator, let the chain drain and the actors publish.
        let report = self.ctl.read_report();
        self.command(0, 0);
        std::thread::sleep(Duration::from_millis(800));
        let after = self.snapshot();
        let mut figures = Vec::new();
        let names = STAGES
            .iter()
            .map(|(_, n)| *n)
            .chain(std::iter::once(TICK_TO_DECISION_NAME));
        for (k, name) in names.enumerate() {
            if name == TICK_TO_DECISION_NAME && after[k].is_none() {
                continue;
            }
            let p = match (&after[k], &before[k]) {
                (Some(a), Some(b)) => {
                    let mut d = a.clone();
                    d.subtract(b).map_err(|e| {
                        anyhow::anyhow!(
                            "{name}: histograms went backwards (an actor restarted?): {e:?}"
                        )
                    })?;
                    Percentiles::of(&d)
                }
                (Some(a), None) => Percentiles::of(a),
                _ => Percentiles::default(),
            };
            figures.push(Figure {
                name: name.to_string(),
                percentiles: p,
            });
        }
        let count = |n: &str| {
            figures
                .iter()
                .find(|f| f.name == n)
                .map_or(0, |f| f.percentiles.count)
        };
        let orders = count("tick_to_order");
        let decisions = count("hop_oracle_execution");
        Ok(StepResult {
            chain: self.chain.clone(),
            offered_rate_per_s: rate_per_s,
            achieved_rate_per_s: achieved(report.published, cmd.start_ns, report.last_publish_ns),
            events: report.published,
            generator_max_lag_ns: report.max_lag_ns,
            orders,
            decisions,
            figures: order_figures(figures),
        })
    }
}

/// Kills the supervisor child if start-up fails half-way.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            // Safety: kill(2) on our own, not yet reaped, child.
            unsafe { libc::kill(c.id() as libc::pid_t, libc::SIGTERM) };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
