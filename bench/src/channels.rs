//! The peer: the same chain as a typical Rust engine builds it, threads in one process talking
//! through crossbeam channels.
//!
//! Same state machines (Oracle, Sonar, Sentinel, Execution), same synthetic market and
//! schedule, same venue client writing the same orders to a simulated venue, same order
//! journal and fsync policy, threads pinned to the cores the topology gives the matching actors
//! and idling by the same strategies when their channels are empty (`try_recv` polling, then
//! the topology's back-off). Only the transport (bounded crossbeam channels instead of
//! shared-memory rings) and the packaging (threads of one process instead of pinned processes)
//! differ, so the ratio of the two tick-to-order figures is the value of the design.
//!
//! Each thread owns its histograms (recording never allocates); the bench collects them
//! between rate steps, when the chain is quiet.

use crate::report::{Figure, Percentiles, StepResult};
use crate::synth::{Schedule, SynthBook};
use actors::config::StrategyConfig;
use actors::execution::costs::CostTable;
use actors::execution::journal::{jkind, Journal};
use actors::execution::{ExecAction, ExecActions, Execution, Gates, VenueEvent};
use actors::oracle::Oracle;
use actors::sentinel::{Sentinel, SentinelAction, SentinelActions};
use actors::sonar::{Regime, Sonar};
use anyhow::Context;
use crossbeam_channel::{bounded, Receiver, Sender, TryRecvError};
use hdrhistogram::Histogram;
use runtime::clock::{monotonic_ns, wall_clock_ns};
use runtime::hist::new_histogram;
use runtime::idle::{IdleStrategy, Idler};
use runtime::msg::{order_event_kind as oek, order_type, tif, MdEvent, OrderEvent, Signal, Stamps};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use venue::client::{ClientConfig, OrderClient};
use venue::protocol::{CancelOrderMsg, Logon, ModifyOrderMsg, NewOrderMsg};

/// Messages taken from one channel per pass at most (as the live actors' `MAX_BATCH`).
const MAX_BATCH: usize = 256;
/// Channel capacities: those of the engine's rings.
const MD_CAP: usize = 65_536;
const SIGNAL_CAP: usize = 4_096;
const ORDERS_CAP: usize = 16_384;

/// Where each thread runs and how it idles: the topology's feed, oracle, sonar, sentinel and
/// execution actors.
#[derive(Clone, Debug)]
pub struct Placement {
    pub core: usize,
    pub idle: IdleStrategy,
}

#[derive(Clone, Debug)]
pub struct ChannelChainConfig {
    pub feed: Placement,
    pub oracle: Placement,
    pub sonar: Placement,
    pub sentinel: Placement,
    pub execution: Placement,
    pub strategy: StrategyConfig,
    pub costs: CostTable,
    pub book: SynthBook,
    pub venue_order_addr: SocketAddr,
    /// Venue account (each chain logs on with its own).
    pub account: u32,
    pub journal_path: PathBuf,
    /// Where the journal's fsync helper runs (as the engine's: the housekeeping cores);
    /// empty = where it starts.
    pub housekeeping_cores: Vec<usize>,
}

/// Figures of one thread since the last collection.
#[derive(Clone, Debug, Default)]
struct Collected {
    hists: Vec<(&'static str, Histogram<u64>)>,
    decisions: u64,
    orders: u64,
}

/// Words shared by the threads.
#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    /// Collection round requested by the bench (each thread answers once per round).
    collect: AtomicU64,
    // Feed command (step number last).
    step: AtomicU64,
    rate: AtomicU64,
    start_ns: AtomicU64,
    events: AtomicU64,
    // Feed report.
    published: AtomicU64,
    last_publish_ns: AtomicU64,
    max_lag_ns: AtomicU64,
    dropped: AtomicU64,
    // Gates, as the control block carries them.
    regime: AtomicU32,
    gate_check: AtomicU32,
    lockdown: AtomicBool,
    // Progress, to know when the chain is quiet.
    oracle_in: AtomicU64,
    exec_signals: AtomicU64,
    signals_out: AtomicU64,
    ready: AtomicU64,
}

/// The running chain.
pub struct ChannelChain {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<anyhow::Result<()>>>,
    collected_rx: Receiver<Collected>,
    step: u64,
}

/// Pin like the supervisor pins an actor: the core, and 1 ns timer slack (the default 50 µs
/// would lengthen every back-off sleep beyond the engine's actors').
fn pin(core: usize) {
    // A failed pin is reported and the thread runs unpinned: the figures say where they ran.
    if let Err(e) = supervisor::machine::pin_current_thread(core) {
        eprintln!("channels chain: could not pin a thread to core {core}: {e}");
    }
    // Safety: prctl(PR_SET_TIMERSLACK, ns) only changes the calling thread's timer slack.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong) };
}

fn record(h: &mut Histogram<u64>, v: u64) {
    h.saturating_record(v.max(1));
}

/// Hand this thread's histograms over when a collection round is open (then start afresh).
fn maybe_collect(
    shared: &Shared,
    seen: &mut u64,
    hists: &mut [(&'static str, Histogram<u64>)],
    decisions: &mut u64,
    orders: &mut u64,
    tx: &Sender<Collected>,
) {
    let round = shared.collect.load(Ordering::Acquire);
    if round == *seen {
        return;
    }
    *seen = round;
    let c = Collected {
        hists: hists.iter().map(|(n, h)| (*n, h.clone())).collect(),
        decisions: *decisions,
        orders: *orders,
    };
    for (_, h) in hists.iter_mut() {
        h.reset();
    }
    *decisions = 0;
    *orders = 0;
    let _ = tx.send(c);
}

impl ChannelChain {
    /// Start the five threads; the execution thread logs on to the venue first.
    pub fn start(cfg: ChannelChainConfig) -> anyhow::Result<ChannelChain> {
        let shared = Arc::new(Shared::default());
        let (md_o_tx, md_o_rx) = bounded::<MdEvent>(MD_CAP);
        let (md_s_tx, md_s_rx) = bounded::<MdEvent>(MD_CAP);
        let (md_e_tx, md_e_rx) = bounded::<MdEvent>(MD_CAP);
        let (sig_tx, sig_rx) = bounded::<Signal>(SIGNAL_CAP);
        let (ord_tx, ord_rx) = bounded::<OrderEvent>(ORDERS_CAP);
        let (col_tx, collected_rx) = bounded::<Collected>(16);
        let mut threads = Vec::new();

        let oracle =
            Oracle::new(cfg.strategy.oracle.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut sonar =
            Sonar::new(cfg.strategy.sonar.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
        sonar.set_wall_clock_offset(wall_clock_ns() as i64 - monotonic_ns() as i64);
        let sentinel =
            Sentinel::new(cfg.strategy.sentinel.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut ecfg = cfg.strategy.execution.clone();
        ecfg.instrument_id = cfg.book.instrument_id;
        let exec = Execution::new(ecfg, cfg.costs.clone()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let _ = std::fs::remove_file(&cfg.journal_path);
        let (mut journal, _) = Journal::open(&cfg.journal_path, cfg.strategy.journal_fsync)
            .context("channels chain journal")?;
        // The same journal as the engine's Execution, fsync on a housekeeping helper included.
        let housekeeping = cfg.housekeeping_cores.clone();
        journal
            .sync_in_background(move || {
                if !housekeeping.is_empty() {
                    let _ = supervisor::machine::pin_current_thread_to(&housekeeping);
                }
            })
            .context("channels chain journal")?;
        let mut name = [0u8; 16];
        runtime::msg::put_str(&mut name, "channels");
        let logon = Logon {
            account: cfg.account,
            heartbeat_ms: 0,
            stp_id: u64::from(cfg.account),
            name,
        };
        let client = OrderClient::connect_with_clock(
            cfg.venue_order_addr,
            logon,
            ClientConfig::default(),
            monotonic_ns,
        )
        .with_context(|| {
            format!(
                "channels chain: logon to the venue at {}",
                cfg.venue_order_addr
            )
        })?;

        // Feed.
        {
            let sh = shared.clone();
            let p = cfg.feed.clone();
            let book = cfg.book;
            threads.push(spawn("cb-feed", move || {
                pin(p.core);
                feed_loop(&sh, book, &p.idle, [md_o_tx, md_s_tx, md_e_tx])
            })?);
        }
        // Oracle.
        {
            let sh = shared.clone();
            let p = cfg.oracle.clone();
            let tx = col_tx.clone();
            threads.push(spawn("cb-oracle", move || {
                pin(p.core);
                oracle_loop(&sh, oracle, &p.idle, md_o_rx, sig_tx, tx)
            })?);
        }
        // Sonar.
        {
            let sh = shared.clone();
            let p = cfg.sonar.clone();
            threads.push(spawn("cb-sonar", move || {
                pin(p.core);
                sonar_loop(&sh, sonar, &p.idle, md_s_rx)
            })?);
        }
        // Sentinel.
        {
            let sh = shared.clone();
            let p = cfg.sentinel.clone();
            threads.push(spawn("cb-sentinel", move || {
                pin(p.core);
                sentinel_loop(&sh, sentinel, &p.idle, ord_rx)
            })?);
        }
        // Execution.
        {
            let sh = shared.clone();
            let p = cfg.execution.clone();
            let tx = col_tx.clone();
            let mut ex = ExecThread {
                exec,
                journal,
                client,
                xo: Box::new(ExecActions::new()),
                orders_tx: ord_tx,
                instrument_id: cfg.book.instrument_id,
                hists: [
                    ("tick_to_order_intended", new_histogram()),
                    ("tick_to_order", new_histogram()),
                    ("tick_to_decision_intended", new_histogram()),
                    ("hop_oracle_execution", new_histogram()),
                    ("execution_proc", new_histogram()),
                ],
                venue_buf: Vec::with_capacity(MAX_BATCH),
                decisions: 0,
                orders: 0,
            };
            threads.push(spawn("cb-execution", move || {
                pin(p.core);
                ex.run(&sh, &p.idle, sig_rx, md_e_rx, tx)
            })?);
        }
        let chain = ChannelChain {
            shared,
            threads,
            collected_rx,
            step: 0,
        };
        // Bounded wait for every thread's first pass.
        let deadline = Instant::now() + Duration::from_secs(10);
        while chain.shared.ready.load(Ordering::Acquire) < 5 {
            if Instant::now() > deadline {
                anyhow::bail!("channels chain: threads not running after 10 s");
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(chain)
    }

    /// Whether Sonar says Attack with the gate open (Execution quotes).
    pub fn gates_open(&self) -> bool {
        self.shared.regime.load(Ordering::Acquire) == Regime::Attack.code()
            && self.shared.gate_check.load(Ordering::Acquire) == 0
    }

    /// Offer `events` events at `rate_per_s`, wait until they are through, and return the
    /// figures of this step (histograms since the previous step).
    pub fn run_step(
        &mut self,
        rate_per_s: u64,
        events: u64,
        timeout: Duration,
    ) -> anyhow::Result<StepResult> {
        self.step += 1;
        let sh = &self.shared;
        let start_ns = monotonic_ns() + 1_000_000;
        let exec_before = sh.exec_signals.load(Ordering::Acquire);
        let sig_before = sh.signals_out.load(Ordering::Acquire);
        sh.rate.store(rate_per_s, Ordering::Relaxed);
        sh.start_ns.store(start_ns, Ordering::Relaxed);
        sh.events.store(events, Ordering::Relaxed);
        sh.published.store(0, Ordering::Relaxed);
        sh.max_lag_ns.store(0, Ordering::Relaxed);
        sh.step.store(self.step, Ordering::Release);
        let deadline = Instant::now() + timeout;
        // Bounded by `timeout`: all events published and every signal consumed by Execution.
        loop {
            let published = sh.published.load(Ordering::Acquire);
            let out = sh.signals_out.load(Ordering::Acquire);
            let done = sh.exec_signals.load(Ordering::Acquire);
            if published >= events && done >= out && out > sig_before {
                break;
            }
            if Instant::now() > deadline {
                eprintln!(
                    "channels chain: step at {rate_per_s}/s not finished within {timeout:?} \
                     (published {published}/{events}); reporting what was measured"
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Let the last venue responses and timers settle, then collect.
        std::thread::sleep(Duration::from_millis(50));
        let published = sh.published.load(Ordering::Acquire);
        let last = sh.last_publish_ns.load(Ordering::Acquire);
        let max_lag = sh.max_lag_ns.load(Ordering::Acquire);
        let decisions_seen = sh.exec_signals.load(Ordering::Acquire) - exec_before;
        let collected = self.collect()?;
        let mut figures = Vec::new();
        let mut orders = 0;
        let mut decisions = 0;
        for c in &collected {
            orders += c.orders;
            decisions += c.decisions;
            for (name, h) in &c.hists {
                figures.push(Figure {
                    name: (*name).to_string(),
                    percentiles: Percentiles::of(h),
                });
            }
        }
        debug_assert!(decisions <= decisions_seen.max(decisions));
        Ok(StepResult {
            chain: "channels".into(),
            offered_rate_per_s: rate_per_s,
            achieved_rate_per_s: achieved(published, start_ns, last),
            events: published,
            generator_max_lag_ns: max_lag,
            orders,
            decisions,
            figures: order_figures(figures),
        })
    }

    fn collect(&self) -> anyhow::Result<Vec<Collected>> {
        self.shared.collect.fetch_add(1, Ordering::AcqRel);
        let mut out = Vec::new();
        // Oracle and Execution answer; 10 s bounds a stuck thread.
        for _ in 0..2 {
            out.push(
                self.collected_rx
                    .recv_timeout(Duration::from_secs(10))
                    .context("channels chain: a thread did not hand over its histograms")?,
            );
        }
        Ok(out)
    }

    /// Stop and join every thread.
    pub fn stop(self) -> anyhow::Result<()> {
        self.shared.stop.store(true, Ordering::Release);
        for t in self.threads {
            match t.join() {
                Ok(r) => r?,
                Err(_) => anyhow::bail!("channels chain: a thread panicked"),
            }
        }
        Ok(())
    }
}

/// Figures in the report's order.
pub fn order_figures(mut figures: Vec<Figure>) -> Vec<Figure> {
    const ORDER: [&str; 9] = [
        "tick_to_order_intended",
        "tick_to_order",
        "tick_to_decision_intended",
        "hop_feed_oracle",
        "hop_oracle_execution",
        "oracle_proc",
        "execution_proc",
        "sonar_proc",
        "sentinel_proc",
    ];
    figures.sort_by_key(|f| {
        ORDER
            .iter()
            .position(|n| *n == f.name)
            .unwrap_or(ORDER.len())
    });
    figures
}

/// Events / time from the intended start to the last publication.
pub fn achieved(published: u64, start_ns: u64, last_ns: u64) -> f64 {
    if published < 2 || last_ns <= start_ns {
        return 0.0;
    }
    published as f64 * 1e9 / (last_ns - start_ns) as f64
}

fn spawn<F>(name: &str, f: F) -> anyhow::Result<JoinHandle<anyhow::Result<()>>>
where
    F: FnOnce() -> anyhow::Result<()> + Send + 'static,
{
    Ok(std::thread::Builder::new().name(name.into()).spawn(f)?)
}

fn feed_loop(
    sh: &Shared,
    book: SynthBook,
    idle: &IdleStrategy,
    txs: [Sender<MdEvent>; 3],
) -> anyhow::Result<()> {
    let mut idler = Idler::new(idle.clone())?;
    let offset = wall_clock_ns() as i64 - monotonic_ns() as i64;
    let (mut step, mut next, mut total) = (0u64, 0u64, 0u64);
    let (mut rate, mut start, mut events) = (0u64, 0u64, 0u64);
    sh.ready.fetch_add(1, Ordering::AcqRel);
    while !sh.stop.load(Ordering::Acquire) {
        let s = sh.step.load(Ordering::Acquire);
        if s != step {
            step = s;
            rate = sh.rate.load(Ordering::Relaxed);
            start = sh.start_ns.load(Ordering::Relaxed);
            events = sh.events.load(Ordering::Relaxed);
            next = 0;
        }
        let mut work = 0;
        if next < events && rate > 0 {
            let sched = Schedule {
                start_ns: start,
                rate_per_s: rate,
            };
            let due = sched
                .due_by(monotonic_ns())
                .min(events)
                .min(next + crate::feed::MAX_BATCH);
            let mut max_lag = sh.max_lag_ns.load(Ordering::Relaxed);
            let mut last = 0;
            while next < due {
                let intended_ns = sched.intended_ns(next);
                let t = monotonic_ns();
                let stamps = Stamps {
                    exchange_ns: (t as i64 + offset) as u64,
                    recv_ns: t,
                    publish_ns: t,
                    intended_ns,
                };
                let ev = book.event(total, stamps);
                for tx in &txs {
                    if tx.try_send(ev).is_err() {
                        sh.dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                total += 1;
                next += 1;
                work += 1;
                max_lag = max_lag.max(t.saturating_sub(intended_ns));
                last = t;
            }
            if work > 0 {
                sh.max_lag_ns.store(max_lag, Ordering::Relaxed);
                sh.last_publish_ns.store(last, Ordering::Relaxed);
                sh.published.store(next, Ordering::Release);
            }
        }
        idler.idle(work);
    }
    Ok(())
}

fn oracle_loop(
    sh: &Shared,
    mut oracle: Oracle,
    idle: &IdleStrategy,
    rx: Receiver<MdEvent>,
    tx: Sender<Signal>,
    col: Sender<Collected>,
) -> anyhow::Result<()> {
    let mut idler = Idler::new(idle.clone())?;
    let mut hists = [
        ("hop_feed_oracle", new_histogram()),
        ("oracle_proc", new_histogram()),
    ];
    let (mut seen, mut d, mut o) = (0u64, 0u64, 0u64);
    sh.ready.fetch_add(1, Ordering::AcqRel);
    while !sh.stop.load(Ordering::Acquire) {
        let pass_start = monotonic_ns();
        let mut work = 0;
        while work < MAX_BATCH {
            match rx.try_recv() {
                Ok(ev) => {
                    work += 1;
                    let t = monotonic_ns();
                    record(&mut hists[0].1, t.saturating_sub(ev.stamps.publish_ns));
                    if let Some(mut sig) = oracle.on_md(&ev, t) {
                        sig.stamps.publish_ns = monotonic_ns();
                        if tx.try_send(sig).is_ok() {
                            sh.signals_out.fetch_add(1, Ordering::AcqRel);
                        }
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        if work > 0 {
            sh.oracle_in.fetch_add(work as u64, Ordering::Relaxed);
            record(&mut hists[1].1, monotonic_ns() - pass_start);
        } else {
            maybe_collect(sh, &mut seen, &mut hists, &mut d, &mut o, &col);
        }
        idler.idle(work);
    }
    Ok(())
}

fn sonar_loop(
    sh: &Shared,
    mut sonar: Sonar,
    idle: &IdleStrategy,
    rx: Receiver<MdEvent>,
) -> anyhow::Result<()> {
    let mut idler = Idler::new(idle.clone())?;
    sh.regime.store(Regime::Veto.code(), Ordering::Release);
    sh.gate_check.store(u32::MAX, Ordering::Release);
    sh.ready.fetch_add(1, Ordering::AcqRel);
    let apply = |out: actors::sonar::SonarOutput| {
        sh.regime.store(out.regime.code(), Ordering::Release);
        sh.gate_check.store(out.gate_check, Ordering::Release);
    };
    while !sh.stop.load(Ordering::Acquire) {
        let mut work = 0;
        while work < MAX_BATCH {
            match rx.try_recv() {
                Ok(ev) => {
                    work += 1;
                    apply(sonar.on_md(&ev, monotonic_ns()));
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        apply(sonar.on_tick(monotonic_ns()));
        idler.idle(work);
    }
    Ok(())
}

fn sentinel_loop(
    sh: &Shared,
    mut sentinel: Sentinel,
    idle: &IdleStrategy,
    rx: Receiver<OrderEvent>,
) -> anyhow::Result<()> {
    let mut idler = Idler::new(idle.clone())?;
    let mut out = SentinelActions::new();
    sh.ready.fetch_add(1, Ordering::AcqRel);
    let apply = |out: &mut SentinelActions| {
        for a in out.iter() {
            match a {
                SentinelAction::EnterLockdown { .. } => sh.lockdown.store(true, Ordering::Release),
                SentinelAction::LiftLockdown => sh.lockdown.store(false, Ordering::Release),
                SentinelAction::Emergency(_) => {}
            }
        }
        out.clear();
    };
    while !sh.stop.load(Ordering::Acquire) {
        let mut work = 0;
        while work < MAX_BATCH {
            match rx.try_recv() {
                Ok(ev) => {
                    work += 1;
                    sentinel.on_order_event(&ev, monotonic_ns(), &mut out);
                    apply(&mut out);
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(()),
            }
        }
        sentinel.on_tick(monotonic_ns(), &mut out);
        apply(&mut out);
        idler.idle(work);
    }
    Ok(())
}

const H_T2O_INTENDED: usize = 0;
const H_T2O: usize = 1;
const H_T2D_INTENDED: usize = 2;
const H_HOP: usize = 3;
const H_PROC: usize = 4;

struct ExecThread {
    exec: Execution,
    journal: Journal,
    client: OrderClient,
    xo: Box<ExecActions>,
    orders_tx: Sender<OrderEvent>,
    instrument_id: u32,
    /// [`H_T2O_INTENDED`], [`H_T2O`], [`H_T2D_INTENDED`], [`H_HOP`], [`H_PROC`].
    hists: [(&'static str, Histogram<u64>); 5],
    venue_buf: Vec<VenueEvent>,
    decisions: u64,
    orders: u64,
}

impl ExecThread {
    fn gates(sh: &Shared) -> Gates {
        Gates {
            regime: Regime::from_code(sh.regime.load(Ordering::Acquire)),
            gate_check: sh.gate_check.load(Ordering::Acquire),
            lockdown: sh.lockdown.load(Ordering::Acquire),
        }
    }

    /// Carry out the actions in order (journal before the send that follows; cancels and
    /// modifications queued and written with the next new order or at the end), as the live
    /// Execution does.
    fn handle(&mut self, now: u64) -> anyhow::Result<()> {
        let mut intent = Stamps::default();
        let mut written_ns = 0;
        for k in 0..self.xo.len() {
            match self.xo.as_slice()[k] {
                ExecAction::Journal(ev) => {
                    if ev.kind == jkind::INTENT {
                        intent = ev.stamps;
                    }
                    self.journal.stage(&ev, now)?;
                }
                ExecAction::Report(mut ev) => {
                    if written_ns != 0 && ev.kind == oek::SENT {
                        ev.request_sent_ns = written_ns;
                    }
                    self.journal.stage(&ev, now)?;
                    let _ = self.orders_tx.try_send(ev);
                }
                ExecAction::SendNew {
                    client_order_id,
                    side,
                    price_e8,
                    qty_e8,
                } => {
                    self.journal.commit(now)?;
                    let info = self.client.send_new_order(NewOrderMsg {
                        client_order_id,
                        instrument_id: self.instrument_id,
                        side,
                        order_type: order_type::LIMIT,
                        tif: tif::DAY,
                        price_e8,
                        qty_e8,
                        send_ns: 0,
                    })?;
                    written_ns = info.written_ns;
                    self.orders += 1;
                    if intent.recv_ns != 0 {
                        record(
                            &mut self.hists[H_T2O].1,
                            written_ns.saturating_sub(intent.recv_ns),
                        );
                    }
                    if intent.intended_ns != 0 {
                        record(
                            &mut self.hists[H_T2O_INTENDED].1,
                            written_ns.saturating_sub(intent.intended_ns),
                        );
                    }
                }
                ExecAction::SendCancel { client_order_id } => {
                    self.client.queue_cancel(CancelOrderMsg {
                        client_order_id,
                        venue_order_id: 0,
                        instrument_id: self.instrument_id,
                        send_ns: 0,
                    })?;
                }
                ExecAction::SendModify {
                    client_order_id,
                    price_e8,
                    qty_e8,
                } => {
                    self.client.queue_modify(ModifyOrderMsg {
                        client_order_id,
                        venue_order_id: 0,
                        instrument_id: self.instrument_id,
                        price_e8,
                        qty_e8,
                        send_ns: 0,
                    })?;
                }
            }
        }
        self.xo.clear();
        if self.client.unwritten_bytes() > 0 {
            self.client.send_queued()?;
        }
        Ok(())
    }

    fn drain_venue(&mut self) -> anyhow::Result<usize> {
        let buf = &mut self.venue_buf;
        self.client.poll(MAX_BATCH, |_, f| {
            if let Some(ev) = actors::live::venue_event(f) {
                buf.push(ev);
            }
        })?;
        let n = self.venue_buf.len();
        let t = monotonic_ns();
        for k in 0..n {
            let ev = self.venue_buf[k];
            self.exec.on_venue(&ev, t, &mut self.xo);
            self.handle(t)?;
        }
        self.venue_buf.clear();
        self.client.maintain()?;
        Ok(n)
    }

    fn run(
        &mut self,
        sh: &Shared,
        idle: &IdleStrategy,
        sig_rx: Receiver<Signal>,
        md_rx: Receiver<MdEvent>,
        col: Sender<Collected>,
    ) -> anyhow::Result<()> {
        let mut idler = Idler::new(idle.clone())?;
        let mut seen = 0u64;
        sh.ready.fetch_add(1, Ordering::AcqRel);
        while !sh.stop.load(Ordering::Acquire) {
            let pass_start = monotonic_ns();
            let mut work = self.drain_venue()?;
            let mut n = 0;
            while n < MAX_BATCH {
                match md_rx.try_recv() {
                    Ok(ev) => {
                        n += 1;
                        self.exec.on_md(&ev, monotonic_ns());
                    }
                    Err(_) => break,
                }
            }
            work += n;
            let mut n = 0;
            while n < MAX_BATCH {
                let Ok(sig) = sig_rx.try_recv() else { break };
                n += 1;
                let t = monotonic_ns();
                record(
                    &mut self.hists[H_HOP].1,
                    t.saturating_sub(sig.stamps.publish_ns),
                );
                self.exec.on_gates(Self::gates(sh), t, &mut self.xo);
                self.exec.on_signal(&sig, t, &mut self.xo);
                self.handle(t)?;
                self.decisions += 1;
                if sig.stamps.intended_ns != 0 {
                    record(
                        &mut self.hists[H_T2D_INTENDED].1,
                        monotonic_ns().saturating_sub(sig.stamps.intended_ns),
                    );
                }
            }
            if n > 0 {
                sh.exec_signals.fetch_add(n as u64, Ordering::AcqRel);
            }
            work += n;
            let t = monotonic_ns();
            self.exec.on_gates(Self::gates(sh), t, &mut self.xo);
            self.exec.on_tick(t, &mut self.xo);
            work += self.xo.len();
            self.handle(t)?;
            self.journal.commit(t)?;
            self.journal.sync_if_due(monotonic_ns())?;
            if work > 0 {
                record(&mut self.hists[H_PROC].1, monotonic_ns() - pass_start);
            } else {
                maybe_collect(
                    sh,
                    &mut seen,
                    &mut self.hists,
                    &mut self.decisions,
                    &mut self.orders,
                    &col,
                );
            }
            idler.idle(work);
        }
        let _ = self.client.send_logout();
        let _ = self.journal.sync(monotonic_ns());
        Ok(())
    }
}
