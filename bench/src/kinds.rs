//! The actor kinds the benchmark's engine runs: the engine's own live actors (Oracle, Sonar,
//! Sentinel, Execution, built by `actors::live::build`), the `synthetic-feed` in place of Feed,
//! and the venue simulator's server, all behind the supervisor's standard command line.
//!
//! Each live actor reads the strategy file named by its `config:` entry in the topology.

use crate::feed::{SyntheticFeed, SyntheticFeedConfig, KIND as FEED_KIND};
use actors::config::StrategyConfig;
use actors::live::{self, LiveEnv};
use anyhow::Context;
use runtime::actor::Actor;
use std::path::PathBuf;
use supervisor::registry::VenueServeArgs;
use supervisor::{ActorEnv, Registry};

/// The engine's live kinds this binary runs.
pub const LIVE_KINDS: [&str; 4] = ["oracle", "sonar", "sentinel", "execution"];

/// The repository root (cost tables and the bench's files are found relative to it): the
/// checkout this binary was built from, or the current directory when the binary was copied
/// to another machine (run it from the repository root there).
pub fn repo_root() -> PathBuf {
    let built = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    if built.join("bench/strategy-bench.ron").is_file() {
        built
    } else {
        PathBuf::from(".")
    }
}

/// A live actor's environment from the supervisor's.
pub fn live_env(env: &ActorEnv) -> anyhow::Result<LiveEnv> {
    let path = env.config_path().with_context(|| {
        format!(
            "actor `{}` (kind {}) needs `config:` naming the strategy file",
            env.spec.name, env.spec.kind
        )
    })?;
    let strategy = StrategyConfig::load(path)?;
    let mut le = LiveEnv::new(
        env.dir.clone(),
        env.control.clone(),
        env.hist.clone(),
        env.spec.index,
        strategy,
        &repo_root(),
    );
    le.venue_order_addr = env.venue_order_addr();
    le.venue_md_addr = env.venue_md_addr();
    Ok(le)
}

/// The registry of the bench binary: built-in diagnostic kinds, the engine's live kinds, the
/// synthetic feed and the venue server.
pub fn registry() -> Registry {
    let mut r = Registry::new();
    for kind in LIVE_KINDS {
        let k = r
            .register_actor(
                kind,
                "engine actor (actors::live)",
                move |env: &ActorEnv| Ok(live::build(kind, live_env(env)?)?),
            )
            .expect("live kinds are distinct");
        if kind == "execution" {
            k.requires(&["sentinel"]);
        }
    }
    r.register_actor(
        FEED_KIND,
        "benchmark feed: synthetic book updates at a commanded fixed rate on md.ring",
        |env: &ActorEnv| {
            let path = env.config_path().with_context(|| {
                format!(
                    "actor `{}` needs `config:` (synthetic-feed file)",
                    env.spec.name
                )
            })?;
            let cfg = SyntheticFeedConfig::load(path)?;
            Ok(Box::new(SyntheticFeed::new(&env.dir, &cfg)?) as Box<dyn Actor>)
        },
    )
    .expect("synthetic-feed is a new kind");
    r.set_venue_server(serve_venue);
    r
}

/// `venue-serve`: the simulator with the topology's addresses.
pub fn serve_venue(args: &VenueServeArgs) -> anyhow::Result<()> {
    let mut cfg = venue::config::load(&args.config)?;
    cfg.order_entry_addr = args.order_addr;
    cfg.market_data_addr = args.md_addr;
    venue::server::run(cfg)?;
    Ok(())
}
