//! The engine's chain in one process: the real live actors (synthetic feed, Oracle, Sonar,
//! Sentinel, Execution) on real shared-memory rings, `hist.shm` and control block in a private
//! engine directory, each in its own thread driven by the runtime's `ActorLoop`, with Execution
//! writing orders to a real venue simulator in the same process. What the supervisor adds in
//! the whole-engine run is processes and pinning; this is what tests can run in seconds.

use crate::ctl::BenchCtl;
use crate::engine::StepDriver;
use crate::feed::SyntheticFeed;
use crate::kinds::repo_root;
use crate::report::StepResult;
use crate::synth::SynthBook;
use actors::config::StrategyConfig;
use actors::live::{self, LiveEnv};
use anyhow::Context;
use runtime::actor::{Actor, ActorLoop, RunOutcome};
use runtime::clock::MonotonicClock;
use runtime::control::{ActorSpec, ControlBlock};
use runtime::hist::{stage, HistogramPublisher, HistogramRegion};
use runtime::idle::IdleStrategy;
use runtime::rings::{MdRing, MD_RING};
use runtime::shm::ShmDir;
use std::path::Path;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// Actors in slot order: (name, kind).
const ACTORS: [(&str, &str); 5] = [
    ("feed", "synthetic-feed"),
    ("oracle", "oracle"),
    ("sonar", "sonar"),
    ("sentinel", "sentinel"),
    ("execution", "execution"),
];

/// The running in-process chain.
pub struct ShmChain {
    pub driver: StepDriver,
    threads: Vec<JoinHandle<RunOutcome>>,
    dir: ShmDir,
    _venue: venue::server::ServerHandle,
}

impl ShmChain {
    /// Build everything under `engine_name` in /dev/shm and a work directory `work_dir`
    /// (journal, control file); `strategy_file` and `venue_file` as the bench's.
    pub fn start(
        engine_name: &str,
        work_dir: &Path,
        strategy_file: &Path,
        venue_file: &Path,
        idle: IdleStrategy,
    ) -> anyhow::Result<ShmChain> {
        std::fs::create_dir_all(work_dir)?;
        let mut vcfg = venue::config::load(venue_file)?;
        vcfg.order_entry_addr = "127.0.0.1:0".parse()?;
        vcfg.market_data_addr = "127.0.0.1:0".parse()?;
        let venue = venue::server::start(vcfg)?;

        let dir = ShmDir::create(None, engine_name)?;
        // A previous run's files would be attached, not created fresh.
        dir.remove_all()?;
        let dir = ShmDir::create(None, engine_name)?;
        let specs: Vec<ActorSpec> = ACTORS
            .iter()
            .map(|(n, k)| ActorSpec::new(n, k, None))
            .collect();
        let control = Arc::new(ControlBlock::create(&dir, engine_name, &specs)?);
        runtime::rings::create_all(&dir)?;
        let hist = HistogramRegion::create(&dir)?;
        let ctl_path = work_dir.join("bench.ctl");
        let ctl = BenchCtl::create(&ctl_path)?;

        let mut strategy = StrategyConfig::load(strategy_file)?;
        let journal = work_dir.join("orders.journal");
        let _ = std::fs::remove_file(&journal);
        strategy.journal_path = journal.display().to_string();
        let book = SynthBook::default();

        let mut threads = Vec::new();
        for (index, (name, kind)) in ACTORS.iter().enumerate() {
            let actor: Box<dyn Actor + Send> = if *kind == "synthetic-feed" {
                let md = MdRing::attach(&dir, MD_RING)?.publisher()?;
                Box::new(SyntheticFeed::with_parts(
                    book,
                    md,
                    BenchCtl::attach(&ctl_path)?,
                ))
            } else {
                let mut env = LiveEnv::new(
                    dir.clone(),
                    control.clone(),
                    hist.clone(),
                    index,
                    strategy.clone(),
                    &repo_root(),
                );
                env.venue_order_addr = Some(venue.order_entry_addr());
                build_send(kind, env).with_context(|| format!("building {name}"))?
            };
            let mut lp = ActorLoop::new(control.clone(), index, MonotonicClock, idle.clone())?
                .with_histograms(
                    HistogramPublisher::new(hist.clone(), index as u32),
                    stage::proc_stage_for_kind(kind),
                );
            let mut actor = actor;
            threads.push(
                std::thread::Builder::new()
                    .name(format!("shm-{name}"))
                    .spawn(move || lp.run(actor.as_mut(), None))?,
            );
        }
        let driver = StepDriver::new(control, hist, ctl, "shm-threads");
        Ok(ShmChain {
            driver,
            threads,
            dir,
            _venue: venue,
        })
    }

    /// One measured step (see [`StepDriver::run_step`]).
    pub fn run_step(
        &mut self,
        rate_per_s: u64,
        events: u64,
        timeout: Duration,
    ) -> anyhow::Result<StepResult> {
        let threads = &self.threads;
        self.driver.run_step(rate_per_s, events, timeout, &mut || {
            if threads.iter().any(|t| t.is_finished()) {
                anyhow::bail!("an actor thread ended");
            }
            Ok(())
        })
    }

    /// Ask every actor to stop (reverse order), join, remove the engine directory.
    pub fn stop(self) -> anyhow::Result<()> {
        for i in (0..ACTORS.len()).rev() {
            self.driver.control.slot(i).request_stop();
        }
        for t in self.threads {
            match t.join() {
                Ok(RunOutcome::Stopped) => {}
                Ok(other) => anyhow::bail!("an actor loop ended with {other:?}"),
                Err(_) => anyhow::bail!("an actor thread panicked"),
            }
        }
        self.dir.remove_all()?;
        Ok(())
    }
}

/// `live::build`, for actors that move to their own thread.
fn build_send(kind: &str, env: LiveEnv) -> anyhow::Result<Box<dyn Actor + Send>> {
    Ok(match kind {
        "oracle" => Box::new(live::OracleActor::new(env)?),
        "sonar" => Box::new(live::SonarActor::new(env)?),
        "sentinel" => Box::new(live::SentinelActor::new(env)?),
        "execution" => Box::new(live::ExecutionActor::new(env)?),
        other => anyhow::bail!("no live kind {other}"),
    })
}
