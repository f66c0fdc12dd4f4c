//! The engine's own kinds and the venue server, registered into a [`Registry`].
//!
//! `feed`, `oracle`, `sonar`, `sentinel` and `execution` are the live wrappers of the actors
//! crate (pure state machines wired to rings, the control block and the venue's TCP sessions);
//! `ui` is the cockpit's server, a process kind with its own tokio runtime. A user's binary
//! starts from [`registry`] and adds its own kinds (see `examples/custom_actor.rs`).

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use runtime::control::ControlBlock;
use runtime::shm::ShmDir;

use crate::registry::{ActorEnv, Registry, VenueServeArgs};

/// The kinds every engine has, with their descriptions.
pub const ENGINE_KINDS: [(&str, &str); 5] = [
    (
        "feed",
        "market data in: venue session, book, gap/crossed/stale checks → md.ring",
    ),
    (
        "oracle",
        "weighted order book imbalance, microprice → signal.ring",
    ),
    (
        "sonar",
        "entropy regime (Attack/Veto) and the zero-trust gate → control block",
    ),
    (
        "sentinel",
        "RTT lockdown, OTR, limits, heartbeat watchdog → emergency.ring",
    ),
    (
        "execution",
        "passive quotes after NEV, 200 ms cancels, OTR and rate budgets, journal",
    ),
];

/// The registry of the `supervisor` binary: built-in diagnostic kinds, the engine's kinds, the
/// UI and the venue simulator.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    for (kind, description) in ENGINE_KINDS {
        let k = r
            .register_actor(kind, description, move |env: &ActorEnv| {
                let live = live_env(env)?;
                Ok(actors::live::build(kind, live)?)
            })
            .expect("built-in kinds have distinct names");
        if kind == "execution" {
            // Nothing may quote without the risk actor watching its round trips.
            k.requires(&["sentinel"]);
        }
    }
    r.register_process(
        "ui",
        "cockpit server: WebSocket telemetry, /metrics, kill switch",
        |env| {
            let ui = env
                .topology
                .ui
                .as_ref()
                .context("an actor of kind `ui` needs the topology's `ui` section")?;
            ui::run_ui_actor(
                &env.topology.engine,
                env.topology.shm_base.clone(),
                ui.addr,
                ui.token_file.clone(),
                env.spec.index,
            )
        },
    )
    .expect("built-in kinds have distinct names");
    r.set_venue_server(serve_venue);
    r
}

/// Where relative paths of a topology (strategy, costs, journal) are resolved: the folder of
/// the topology file (the repository root for `topology.ron`).
fn root_of(env: &ActorEnv) -> PathBuf {
    env.topology
        .source
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

fn live_env(env: &ActorEnv) -> anyhow::Result<actors::live::LiveEnv> {
    let root = root_of(env);
    let strategy_path = env
        .config_path()
        .cloned()
        .unwrap_or_else(|| root.join("config/strategy.ron"));
    let strategy = actors::config::StrategyConfig::load(&strategy_path)
        .with_context(|| format!("strategy for actor `{}`", env.spec.name))?;
    let mut live = actors::live::LiveEnv::new(
        env.dir.clone(),
        env.control.clone(),
        env.hist.clone(),
        env.spec.index,
        strategy,
        &root,
    );
    // One journal per engine, so two engines (or two tests) never share one.
    if let Some(name) = live.journal_path.file_name().map(|n| n.to_owned()) {
        let parent = live.journal_path.parent().unwrap_or(&root).to_path_buf();
        let dir = parent.join(&env.topology.engine);
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("creating the journal directory {}", dir.display()))?;
        live.journal_path = dir.join(name);
    }
    live.venue_order_addr = env.venue_order_addr();
    live.venue_md_addr = env.venue_md_addr();
    let housekeeping = env.topology.housekeeping_cores.clone();
    live.place_helper_thread = Some(std::sync::Arc::new(move || {
        if let Err(e) = crate::machine::pin_current_thread_to(&housekeeping) {
            eprintln!("helper thread: could not pin to the housekeeping cores: {e}");
        }
    }));
    Ok(live)
}

/// The venue process: the simulator on the topology's addresses, with its injected latency
/// following the control block's words (`supervisor venue latency 25ms`).
fn serve_venue(args: &VenueServeArgs) -> anyhow::Result<()> {
    let mut cfg = venue::config::load(&args.config)
        .with_context(|| format!("venue configuration {}", args.config.display()))?;
    cfg.order_entry_addr = args.order_addr;
    cfg.market_data_addr = args.md_addr;
    let handle = venue::server::start(cfg).context("starting the venue")?;
    eprintln!(
        "venue: order entry on {}, market data on {}",
        handle.order_entry_addr(),
        handle.market_data_addr()
    );
    let control = attach_control(&args.engine_dir)?;
    let latency = handle.latency_control();
    let mut seen_changes = control.venue_latency_changes();
    // The control plane polls at 50 Hz: a latency change is an operator action, not a hot path.
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let changes = control.venue_latency_changes();
        if changes != seen_changes {
            if let Some((l, at)) = control.venue_latency() {
                latency.set(l.one_way_ns, l.jitter_ns);
                eprintln!(
                    "venue: injected latency now {} µs one way, jitter {} µs",
                    l.one_way_ns / 1_000,
                    l.jitter_ns / 1_000
                );
                seen_changes = at;
            }
        }
    }
}

fn attach_control(engine_dir: &Path) -> anyhow::Result<ControlBlock> {
    let base = engine_dir
        .parent()
        .context("engine directory has no parent")?;
    let name = engine_dir
        .file_name()
        .and_then(|n| n.to_str())
        .context("engine directory name is not UTF-8")?;
    let dir = ShmDir::open(Some(base), name)?;
    Ok(ControlBlock::attach(&dir)?)
}
