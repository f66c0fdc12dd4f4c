//! `make bench-latency`: tick-to-order and every hop of the whole engine at fixed offered
//! rates, beside the same chain on crossbeam channels, from each event's intended send time.
//!
//! The same binary is the engine's supervisor for the run: the supervisor re-executes it for
//! every actor (`actor-run`) and the venue (`venue-serve`), so its first argument decides.

use anyhow::Context;
use clap::Parser;
use latency_bench::channels::{ChannelChain, ChannelChainConfig};
use latency_bench::engine::{self, EngineRun};
use latency_bench::kinds::{self, repo_root};
use latency_bench::report::{self, StepResult};
use latency_bench::synth::SynthBook;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// The supervisor's subcommands (`start` runs the bench engine; the rest are its children).
const SUPERVISOR_COMMANDS: [&str; 6] = [
    "start",
    "stop",
    "status",
    "actor-run",
    "venue-serve",
    "check",
];

#[derive(Parser, Debug)]
#[command(
    name = "bench-latency",
    about = "Tick-to-order and per-hop latency of the whole engine at fixed offered rates, \
             measured from intended send times, beside the same chain on crossbeam channels"
)]
struct Args {
    /// The topology to measure (its feed becomes the synthetic feed, its ui is left out).
    #[arg(long, default_value = "topology.ron", value_name = "FILE")]
    topology: PathBuf,
    /// Offered rates, events per second.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000"
    )]
    rates: Vec<u64>,
    /// Seconds per rate step.
    #[arg(long, default_value_t = 5.0)]
    duration_s: f64,
    /// Events per step at most (caps the fastest rates' steps).
    #[arg(long, default_value_t = 2_000_000)]
    max_events: u64,
    /// A short smoke run: 1k and 10k events/s, 1 s each.
    #[arg(long)]
    quick: bool,
    /// Write the results as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Measure only the engine (no crossbeam peer).
    #[arg(long)]
    skip_channels: bool,
    /// Measure only the crossbeam peer.
    #[arg(long)]
    skip_engine: bool,
    /// Strategy of the trading actors.
    #[arg(long, value_name = "FILE")]
    strategy: Option<PathBuf>,
    /// Venue simulator configuration.
    #[arg(long, value_name = "FILE")]
    venue: Option<PathBuf>,
    /// Work directory (topology copy, journals, logs); default a fresh one under /tmp.
    #[arg(long, value_name = "DIR")]
    work_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let first = std::env::args().nth(1).unwrap_or_default();
    if SUPERVISOR_COMMANDS.contains(&first.as_str()) {
        return supervisor::run_cli(kinds::registry());
    }
    let args = Args::parse();
    let own_dir = args.work_dir.is_none().then(default_work_dir);
    match run(args) {
        Ok(()) => {
            // The journals of a full run take ~150 MB: a work directory we chose goes.
            if let Some(dir) = own_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            if let Some(dir) = own_dir {
                eprintln!("logs and configuration kept in {}", dir.display());
            }
            ExitCode::FAILURE
        }
    }
}

fn default_work_dir() -> PathBuf {
    std::env::temp_dir().join(format!("latency-bench-{}", std::process::id()))
}

fn pin_to_housekeeping(cores: &[usize]) {
    if let Err(e) = supervisor::machine::pin_current_thread_to(cores) {
        eprintln!("bench-latency: could not pin to the housekeeping cores {cores:?}: {e}");
    }
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn run(mut args: Args) -> anyhow::Result<()> {
    if args.quick {
        args.rates = vec![1_000, 10_000];
        args.duration_s = 1.0;
    }
    if args.rates.is_empty() || args.rates.contains(&0) {
        anyhow::bail!("--rates needs positive rates, e.g. 1000,10000");
    }
    if !(args.duration_s > 0.0 && args.duration_s <= 600.0) {
        anyhow::bail!("--duration-s must be within (0, 600]");
    }
    let root = repo_root();
    let strategy = args
        .strategy
        .clone()
        .unwrap_or_else(|| root.join("bench/strategy-bench.ron"));
    let venue_file = args
        .venue
        .clone()
        .unwrap_or_else(|| root.join("bench/venue-bench.ron"));
    let work_dir = args.work_dir.clone().unwrap_or_else(default_work_dir);
    let book = SynthBook::default();
    let prepared = engine::prepare(&args.topology, &strategy, &venue_file, book, &work_dir)?;
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    let load_before = load();
    println!(
        "bench-latency: topology {} ({} actors as run: {}), {} CPUs, load average {}",
        args.topology.display(),
        prepared.topology.actors.len(),
        prepared
            .topology
            .actors
            .iter()
            .map(|a| format!("{}@{}", a.name, a.core))
            .collect::<Vec<_>>()
            .join(" "),
        cpus,
        load_before
    );
    let events_for = |rate: u64| ((rate as f64 * args.duration_s) as u64).clamp(1, args.max_events);
    let timeout_for =
        |rate: u64| Duration::from_secs_f64(3.0 * events_for(rate) as f64 / rate as f64 + 10.0);
    let started = Instant::now();
    let mut steps: Vec<StepResult> = Vec::new();

    if !args.skip_engine {
        let exe = std::env::current_exe().context("finding this executable")?;
        let mut run = EngineRun::start(&prepared, &exe)?;
        // The harness (step commands, histogram reads) keeps off the hot cores, as the
        // supervisor does (after the start: the engine checks its cores against the mask it
        // inherits).
        pin_to_housekeeping(&prepared.topology.housekeeping_cores);
        let result = (|| -> anyhow::Result<()> {
            run.driver.warm_up(2_000, Duration::from_secs(10))?;
            for &rate in &args.rates {
                let s = run.run_step(rate, events_for(rate), timeout_for(rate))?;
                print!("{}", report::table(std::slice::from_ref(&s)));
                steps.push(s);
            }
            if run.restarts() > 0 {
                eprintln!(
                    "engine: {} actor restarts during the run: figures mix incarnations",
                    run.restarts()
                );
            }
            Ok(())
        })();
        let stopped = run.stop();
        result?;
        stopped?;
    }

    if !args.skip_channels {
        // The peer chain's threads pin themselves from here.
        pin_to_housekeeping(&prepared.topology.housekeeping_cores);
        let (venue, order_addr) = start_venue(&venue_file, prepared.housekeeping_core())?;
        let place = |kind: &str| {
            prepared
                .placement(kind)
                .with_context(|| format!("the topology has no `{kind}` actor"))
        };
        let costs = actors::execution::costs::CostSchedule::load_dir(std::path::Path::new(
            &prepared.strategy.costs_dir,
        ))?
        .for_date(actors::live::today_utc())?
        .clone();
        let cfg = ChannelChainConfig {
            feed: place("synthetic-feed")?,
            oracle: place("oracle")?,
            sonar: place("sonar").unwrap_or_else(|_| place("oracle").expect("checked")),
            sentinel: place("sentinel")?,
            execution: place("execution")?,
            strategy: prepared.strategy.clone(),
            costs,
            book,
            venue_order_addr: order_addr,
            account: 7,
            journal_path: prepared.work_dir.join("channels-orders.journal"),
            housekeeping_cores: prepared.topology.housekeeping_cores.clone(),
        };
        let mut chain = ChannelChain::start(cfg)?;
        let result = (|| -> anyhow::Result<()> {
            // Warm-up: until Sonar's gates open (as for the engine).
            let step_events = 2_000;
            let deadline = Instant::now() + Duration::from_secs(10);
            while !chain.gates_open() {
                if Instant::now() > deadline {
                    anyhow::bail!("channels chain: Sonar did not open the gates in 10 s");
                }
                chain.run_step(2_000, step_events / 4, Duration::from_secs(5))?;
            }
            chain.run_step(2_000, step_events, Duration::from_secs(5))?;
            for &rate in &args.rates {
                let s = chain.run_step(rate, events_for(rate), timeout_for(rate))?;
                print!("{}", report::table(std::slice::from_ref(&s)));
                steps.push(s);
            }
            Ok(())
        })();
        let stopped = chain.stop();
        drop(venue);
        result?;
        stopped?;
    }

    let load_after = load();
    println!(
        "\nrun took {:.0} s; load average before {load_before}, after {load_after}; {cpus} CPUs",
        started.elapsed().as_secs_f64()
    );
    println!(
        "tick_to_order_intended: feed's intended send time → order bytes written (includes \
         generator lag and queueing: no coordinated omission); tick_to_order: actual publish \
         → written; tick_to_decision_intended (channels only): intended → Execution done \
         with the signal"
    );
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "topology": args.topology.display().to_string(),
            "cpus": cpus,
            "load_before": load_before,
            "load_after": load_after,
            "duration_s": args.duration_s,
            "steps": steps,
        });
        std::fs::write(path, serde_json::to_string_pretty(&doc)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("JSON written to {}", path.display());
    }
    println!(
        "{}",
        report::last_line(&steps, 10_000, "tick_to_order_intended")
    );
    Ok(())
}

/// The venue simulator for the peer chain, in this process, on the housekeeping core.
fn start_venue(
    venue_file: &std::path::Path,
    core: usize,
) -> anyhow::Result<(venue::server::ServerHandle, std::net::SocketAddr)> {
    let mut cfg = venue::config::load(venue_file)?;
    cfg.order_entry_addr = "127.0.0.1:0".parse()?;
    cfg.market_data_addr = "127.0.0.1:0".parse()?;
    // The server thread inherits the mask of the thread that spawns it.
    let h = std::thread::spawn(move || {
        let _ = supervisor::machine::pin_current_thread(core);
        venue::server::start(cfg)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("venue start-up panicked"))??;
    let addr = h.order_entry_addr();
    Ok((h, addr))
}
