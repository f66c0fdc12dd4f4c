//! The `supervisor` command line. Exit codes are documented in docs/cli.md and in [`exit_code`].

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Args, Parser, Subcommand};
use runtime::control::{actor_state, ControlBlock};
use runtime::shm::ShmDir;

use crate::child::{actor_run, ChildArgs};
use crate::engine::{self, EngineError, Supervisor};
use crate::machine::LocalMachine;
use crate::policy::Outcome;
use crate::registry::{Registry, VenueServeArgs};
use crate::topology::{self, TopologyError};

/// Process exit codes (stable: scripts rely on them).
pub mod exit_code {
    /// Success.
    pub const OK: u8 = 0;
    /// An unexpected failure (I/O, spawning, shared memory); the message says what.
    pub const FAILURE: u8 = 1;
    /// Bad command line, or the topology is invalid (every problem is printed).
    pub const USAGE: u8 = 2;
    /// No running engine by the topology's engine name (commands other than `start`).
    pub const NOT_RUNNING: u8 = 3;
    /// The engine is halted: `start` ended by halting (restart intensity exceeded, Sentinel),
    /// or `status` found the kill switch set / the engine halted.
    pub const HALTED: u8 = 4;
    /// `start`: an engine with this name is already running.
    pub const ALREADY_RUNNING: u8 = 5;
    /// `stop` / `restart`: the engine did not confirm within the deadline.
    pub const TIMEOUT: u8 = 6;
    /// `doctor`: at least one check failed (warnings alone exit 0).
    pub const DOCTOR_FAILED: u8 = 7;
}

#[derive(Parser, Debug)]
#[command(
    name = "supervisor",
    version,
    about = "Runs the trading engine: pinned actor processes, supervision, kill switch",
    long_about = "Runs the trading engine described by a topology file (default ./topology.ron): \
        each actor in its own process pinned to its core, supervised by Erlang/OTP rules, with \
        a latching kill switch in shared memory.\n\nEvery command except `start` finds the \
        running engine by the topology's engine name.\n\nExit codes: 0 ok, 1 failure, 2 usage \
        error or invalid topology, 3 no running engine, 4 engine halted, 5 already running, \
        6 timed out, 7 doctor found a failing check."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct TopologyArg {
    /// The topology file.
    #[arg(long, short = 't', default_value = "topology.ron", value_name = "FILE")]
    topology: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate the topology, create the shared memory and run the engine in the foreground
    /// (Ctrl-C or SIGTERM stops it gracefully).
    Start {
        #[command(flatten)]
        topo: TopologyArg,
    },
    /// Validate the topology against this machine and print what would run.
    Check {
        #[command(flatten)]
        topo: TopologyArg,
    },
    /// Engine state, kill switch, cockpit URL and every actor (pid, cores, state, heartbeat).
    Status {
        #[command(flatten)]
        topo: TopologyArg,
        /// Print JSON (schema in docs/cli.md).
        #[arg(long)]
        json: bool,
        /// Window for the messages/s rates.
        #[arg(long, default_value_t = 500, value_name = "MS")]
        sample_ms: u64,
    },
    /// Stop the engine gracefully: actors stop in reverse start order (orders cancelled,
    /// journals flushed), then the supervisor exits.
    Stop {
        #[command(flatten)]
        topo: TopologyArg,
    },
    /// Hot restart of one actor while the others keep running.
    Restart {
        /// The actor's name.
        actor: String,
        #[command(flatten)]
        topo: TopologyArg,
    },
    /// Set the kill switch: every actor halts at its next loop pass; Execution cancels every
    /// open order and sends nothing new. Latches until `rearm`.
    Kill {
        #[command(flatten)]
        topo: TopologyArg,
        /// Why (stored with the switch, shown by status and the cockpit).
        #[arg(long, default_value = "operator kill switch")]
        reason: String,
        /// Who (default operator:$USER).
        #[arg(long)]
        by: Option<String>,
    },
    /// Re-arm the kill switch (explicit operator action).
    Rearm {
        #[command(flatten)]
        topo: TopologyArg,
        #[arg(long)]
        by: Option<String>,
    },
    /// Check the machine for low-latency operation on the topology's cores (isolation, IRQs,
    /// SMT, governor, C-states, memlock, io_uring, VM...).
    Doctor {
        #[command(flatten)]
        topo: TopologyArg,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run the actors' own code deterministically in one thread against a recorded market
    /// (the venue's replay and queue-position matching, simulated clock, latency model) and
    /// report fills, OTR, costs and PnL. Same data and seed: the same report, byte for byte.
    Backtest {
        /// Binance recording (`.gz`) or LOBSTER message file (`…_message_L.csv`; the orderbook
        /// file beside it is found by LOBSTER's naming).
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Data format; by default guessed from the name (`.csv` → lobster, else binance).
        #[arg(long, value_enum)]
        format: Option<BacktestFormat>,
        /// Strategy file (RON: oracle, sonar, sentinel, execution, costs); selects the
        /// instrument's segment and cost table. Default: built-in defaults, costed as NSE
        /// equity intraday.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// Seed of the latency model.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Cost the instrument as this segment instead of the strategy's.
        #[arg(long, value_enum, value_name = "SEGMENT")]
        segment: Option<BacktestSegment>,
        /// Print the report as JSON (keys in docs/cli.md).
        #[arg(long)]
        json: bool,
    },
    /// Venue controls.
    Venue {
        #[command(subcommand)]
        command: VenueCommand,
    },
    /// (internal) Run one actor; started by the supervisor.
    #[command(hide = true)]
    ActorRun {
        #[arg(long)]
        topology: PathBuf,
        #[arg(long)]
        actor: String,
        #[arg(long)]
        generation: u64,
    },
    /// (internal) Run the venue simulator; started by the supervisor.
    #[command(hide = true)]
    VenueServe {
        #[arg(long)]
        config: PathBuf,
        #[arg(long)]
        replay: bool,
        #[arg(long)]
        order_addr: std::net::SocketAddr,
        #[arg(long)]
        md_addr: std::net::SocketAddr,
        #[arg(long)]
        engine_dir: PathBuf,
        #[arg(long)]
        housekeeping_cores: String,
    },
}

/// Formats `backtest --format` accepts.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum BacktestFormat {
    Binance,
    Lobster,
}

/// Segments `backtest --segment` accepts (the cost table's columns).
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum BacktestSegment {
    EquityIntraday,
    EquityDelivery,
    Futures,
    Options,
}

#[derive(Subcommand, Debug)]
enum VenueCommand {
    /// Set the simulated venue's injected one-way latency, e.g. `25ms`, `800us`, `0`.
    Latency {
        /// One-way delay.
        #[arg(value_parser = parse_duration_ns)]
        one_way: u64,
        /// Random jitter added on top (uniform 0..jitter).
        #[arg(long, value_parser = parse_duration_ns, default_value = "0")]
        jitter: u64,
        #[command(flatten)]
        topo: TopologyArg,
    },
}

/// `25ms`, `1.5ms`, `800us`, `2s`, `100ns`, `0` → nanoseconds.
pub fn parse_duration_ns(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(0);
    }
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{t}` has no unit; write e.g. 25ms, 800us, 2s"))?;
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{num}` is not a number"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        other => return Err(format!("unknown unit `{other}`; use ns, us, ms or s")),
    };
    let ns = value * scale;
    if !(0.0..=60e9).contains(&ns) {
        return Err(format!("`{t}` is outside 0..60s"));
    }
    Ok(ns.round() as u64)
}

/// An error with the exit code it maps to.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    fn new(code: u8, error: impl Into<anyhow::Error>) -> Self {
        Failure {
            code,
            error: error.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        let code = if error.downcast_ref::<TopologyError>().is_some() {
            exit_code::USAGE
        } else {
            exit_code::FAILURE
        };
        Failure { code, error }
    }
}

impl From<TopologyError> for Failure {
    fn from(e: TopologyError) -> Self {
        Failure::new(exit_code::USAGE, e)
    }
}

/// The entry point of the `supervisor` binary, and of a user's own binary with its own kinds.
pub fn run_cli(registry: Registry) -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit_code::USAGE
            } else {
                exit_code::OK
            });
        }
    };
    match run(cli.command, &registry) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

/// The engine a non-start command talks to.
struct Attached {
    engine: String,
    dir: ShmDir,
    control: Arc<ControlBlock>,
}

fn attach(topology: &Path) -> Result<Attached, Failure> {
    let (engine, base) = topology::engine_of(topology)?;
    let not_running = |why: String| {
        Failure::new(
            exit_code::NOT_RUNNING,
            anyhow::anyhow!(
                "no engine `{engine}` under {} ({why}); start it with `supervisor start --topology {}`",
                base.display(),
                topology.display()
            ),
        )
    };
    let dir = ShmDir::open(Some(&base), &engine).map_err(|e| not_running(e.to_string()))?;
    let control = Arc::new(ControlBlock::attach(&dir).map_err(|e| not_running(e.to_string()))?);
    Ok(Attached {
        engine,
        dir,
        control,
    })
}

fn operator(by: Option<String>) -> String {
    by.unwrap_or_else(|| {
        format!(
            "operator:{}",
            std::env::var("USER").unwrap_or_else(|_| "unknown".into())
        )
    })
}

fn run(command: Command, registry: &Registry) -> Result<u8, Failure> {
    match command {
        Command::Start { topo } => {
            let topology = topology::load(&topo.topology, registry, &LocalMachine)?;
            let supervisor = Supervisor::new(topology).map_err(|e| match e {
                EngineError::AlreadyRunning { .. } => Failure::new(exit_code::ALREADY_RUNNING, e),
                other => Failure::new(exit_code::FAILURE, other),
            })?;
            match supervisor.run() {
                Ok(Outcome::Stopped) => Ok(exit_code::OK),
                Ok(Outcome::Halted { reason }) => {
                    eprintln!("engine halted: {reason}");
                    Ok(exit_code::HALTED)
                }
                Err(e) => Err(Failure::new(exit_code::FAILURE, e)),
            }
        }
        Command::Check { topo } => {
            let t = topology::load(&topo.topology, registry, &LocalMachine)?;
            println!(
                "{}: engine `{}`, shared memory {}, housekeeping cores {}",
                t.source.display(),
                t.engine,
                t.engine_dir().display(),
                crate::machine::format_cpu_list(&t.housekeeping_cores)
            );
            for a in &t.actors {
                println!(
                    "  #{} {:<12} kind {:<10} core {:<3} idle {:?} restart {:?}{}",
                    a.index,
                    a.name,
                    a.kind,
                    a.core,
                    a.idle,
                    a.restart,
                    a.sched_fifo
                        .map(|f| format!(" SCHED_FIFO {}", f.priority))
                        .unwrap_or_default()
                );
            }
            for w in &t.warnings {
                println!("warning: {w}");
            }
            println!("ok");
            Ok(exit_code::OK)
        }
        Command::Status {
            topo,
            json,
            sample_ms,
        } => {
            let a = attach(&topo.topology)?;
            // The UI URL comes from the file; tolerate a file that no longer validates.
            let ui_url = std::fs::read_to_string(&topo.topology)
                .ok()
                .and_then(|src| topology::parse(&topo.topology, &src).ok())
                .and_then(|p| p.raw.ui.map(|u| format!("http://{}/", u.addr)));
            let status =
                crate::status::read(&a.engine, a.dir.path(), &a.control, ui_url, sample_ms);
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&status).map_err(anyhow::Error::from)?
                );
            } else {
                print!("{}", status.render());
            }
            Ok(if status.is_halted() {
                exit_code::HALTED
            } else {
                exit_code::OK
            })
        }
        Command::Kill { topo, reason, by } => {
            let a = attach(&topo.topology)?;
            let by = operator(by);
            if a.control.kill(&by, &reason) {
                println!("kill switch SET by {by}: {reason}");
            } else {
                let k = a.control.kill_info();
                println!(
                    "kill switch was already set by {}: {}",
                    k.as_ref().map_or("?", |k| k.by.as_str()),
                    k.as_ref().map_or("", |k| k.reason.as_str())
                );
            }
            Ok(exit_code::OK)
        }
        Command::Rearm { topo, by } => {
            let a = attach(&topo.topology)?;
            let by = operator(by);
            if a.control.rearm(&by) {
                println!("kill switch re-armed by {by}");
            } else {
                println!("kill switch was not set");
            }
            Ok(exit_code::OK)
        }
        Command::Stop { topo } => {
            let a = attach(&topo.topology)?;
            if !crate::status::supervisor_running(a.dir.path()) {
                return Err(Failure::new(
                    exit_code::NOT_RUNNING,
                    anyhow::anyhow!("engine `{}` has no running supervisor", a.engine),
                ));
            }
            let reply = engine::request(a.dir.path(), "stop").or_else(|e| {
                // The socket is gone or stuck: fall back to SIGTERM, which does the same.
                let pid = a.control.supervisor_pid();
                if pid == 0 {
                    return Err(e);
                }
                // Safety: kill(2) with the pid the supervisor recorded; signal 0-safe.
                unsafe { libc::kill(pid as libc::pid_t, libc::SIGTERM) };
                Ok(format!("ok sent SIGTERM to {pid}"))
            });
            let reply = reply.map_err(|e| Failure::new(exit_code::FAILURE, e))?;
            if !reply.starts_with("ok") {
                return Err(Failure::new(exit_code::FAILURE, anyhow::anyhow!("{reply}")));
            }
            let deadline = Instant::now() + Duration::from_secs(120);
            while crate::status::supervisor_running(a.dir.path()) {
                if Instant::now() > deadline {
                    return Err(Failure::new(
                        exit_code::TIMEOUT,
                        anyhow::anyhow!("the supervisor did not exit within 120 s"),
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            println!("engine `{}` stopped", a.engine);
            Ok(exit_code::OK)
        }
        Command::Restart { actor, topo } => {
            let a = attach(&topo.topology)?;
            let index = (0..a.control.actor_count())
                .find(|&i| a.control.slot(i).name_is(&actor))
                .ok_or_else(|| {
                    Failure::new(
                        exit_code::USAGE,
                        anyhow::anyhow!("engine `{}` has no actor `{actor}`", a.engine),
                    )
                })?;
            let before = a.control.slot(index).generation();
            let reply =
                engine::request(a.dir.path(), &format!("restart {actor}")).map_err(|e| {
                    Failure::new(
                        exit_code::NOT_RUNNING,
                        anyhow::anyhow!("cannot reach the supervisor of `{}`: {e}", a.engine),
                    )
                })?;
            if !reply.starts_with("ok") {
                return Err(Failure::new(exit_code::FAILURE, anyhow::anyhow!("{reply}")));
            }
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let slot = a.control.slot(index);
                let state = slot.state();
                if slot.generation() > before
                    && (state == actor_state::RUNNING || state == actor_state::HALTED)
                {
                    println!(
                        "`{actor}` restarted: pid {}, generation {}",
                        slot.pid(),
                        slot.generation()
                    );
                    return Ok(exit_code::OK);
                }
                if Instant::now() > deadline {
                    return Err(Failure::new(
                        exit_code::TIMEOUT,
                        anyhow::anyhow!("`{actor}` was not running again within 60 s"),
                    ));
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Command::Doctor { topo, json } => crate::doctor::run(&topo.topology, registry, json),
        Command::Venue {
            command:
                VenueCommand::Latency {
                    one_way,
                    jitter,
                    topo,
                },
        } => {
            let a = attach(&topo.topology)?;
            a.control.set_venue_latency(one_way, jitter);
            println!(
                "venue latency set: one-way {} µs, jitter {} µs",
                one_way as f64 / 1000.0,
                jitter as f64 / 1000.0
            );
            Ok(exit_code::OK)
        }
        Command::ActorRun {
            topology,
            actor,
            generation,
        } => {
            actor_run(
                registry,
                &ChildArgs {
                    topology,
                    actor: actor.clone(),
                    generation,
                },
            )
            .map_err(|e| Failure::new(exit_code::FAILURE, e.context(format!("actor `{actor}`"))))?;
            Ok(exit_code::OK)
        }
        Command::Backtest {
            data,
            format,
            config,
            seed,
            segment,
            json,
        } => {
            let mut cfg = actors::backtest::BacktestConfig::new(data);
            if let Some(f) = format {
                cfg.format = match f {
                    BacktestFormat::Binance => actors::backtest::DataFormat::Binance,
                    BacktestFormat::Lobster => actors::backtest::DataFormat::Lobster,
                };
            }
            if let Some(path) = config {
                // Relative paths inside the strategy (cost tables) resolve against the
                // repository the strategy file lives in: config/<file> → its grandparent.
                if let Some(root) = path
                    .canonicalize()
                    .ok()
                    .and_then(|p| p.parent()?.parent().map(Path::to_path_buf))
                {
                    if root.join("config/costs").is_dir() {
                        cfg.root = root;
                    }
                }
                cfg.strategy = Some(path);
            }
            cfg.seed = seed;
            if let Some(s) = segment {
                use actors::execution::costs::Segment;
                cfg.segment = Some(match s {
                    BacktestSegment::EquityIntraday => Segment::EquityIntraday,
                    BacktestSegment::EquityDelivery => Segment::EquityDelivery,
                    BacktestSegment::Futures => Segment::Futures,
                    BacktestSegment::Options => Segment::Options,
                });
            }
            let report = actors::backtest::run(&cfg)
                .map_err(|e| Failure::new(exit_code::FAILURE, anyhow::anyhow!("backtest: {e}")))?;
            if json {
                println!("{}", report.to_json_pretty());
            } else {
                print!("{}", report.to_table());
            }
            Ok(exit_code::OK)
        }
        Command::VenueServe {
            config,
            replay,
            order_addr,
            md_addr,
            engine_dir,
            housekeeping_cores,
        } => {
            let cores = crate::machine::parse_cpu_list(&housekeeping_cores).unwrap_or_default();
            if let Err(e) = crate::machine::pin_current_thread_to(&cores) {
                eprintln!("venue: could not pin to housekeeping cores {housekeeping_cores}: {e}");
            }
            let server = registry.venue_server().ok_or_else(|| {
                Failure::new(
                    exit_code::FAILURE,
                    anyhow::anyhow!(
                        "this binary has no venue server linked in: the binary's main must call \
                         Registry::set_venue_server (the venue crate's server) for a topology \
                         with `venue: Some(Simulator(..))`; or use `venue: Some(Tcp(..))` for a \
                         venue that is already running"
                    ),
                )
            })?;
            server(&VenueServeArgs {
                config,
                replay,
                order_addr,
                md_addr,
                engine_dir,
            })
            .map_err(|e| Failure::new(exit_code::FAILURE, e.context("venue")))?;
            Ok(exit_code::OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration_ns("25ms"), Ok(25_000_000));
        assert_eq!(parse_duration_ns("1.5ms"), Ok(1_500_000));
        assert_eq!(parse_duration_ns("800us"), Ok(800_000));
        assert_eq!(parse_duration_ns("2s"), Ok(2_000_000_000));
        assert_eq!(parse_duration_ns("0"), Ok(0));
        assert!(parse_duration_ns("25").is_err());
        assert!(parse_duration_ns("25 parsecs").is_err());
        assert!(parse_duration_ns("100s").is_err());
    }

    #[test]
    fn command_line_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
