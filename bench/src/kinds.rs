//! The actor kinds the benchmark's engine runs: the supervisor's built-in registry (the live
//! actors, the venue simulator's server) plus `synthetic-feed` in place of Feed, all behind the
//! supervisor's standard command line. Each live actor reads the strategy file named by its
//! `config:` entry in the topology.

use crate::feed::{SyntheticFeed, SyntheticFeedConfig, KIND as FEED_KIND};
use anyhow::Context;
use runtime::actor::Actor;
use std::path::PathBuf;
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

/// The registry of the bench binary: the `supervisor` binary's own (engine kinds, UI, venue
/// server) plus the synthetic feed, so the bench measures exactly the code `make run` runs.
pub fn registry() -> Registry {
    let mut r = supervisor::builtin::registry();
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
            Ok(
                Box::new(SyntheticFeed::new(&env.dir, env.control.clone(), &cfg)?)
                    as Box<dyn Actor>,
            )
        },
    )
    .expect("synthetic-feed is a new kind");
    r
}
