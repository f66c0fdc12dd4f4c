//! Actor kinds: the names `topology.ron` may use and the code that builds each.
//!
//! A kind is either
//! - an **actor kind**: a factory returning a [`runtime::actor::Actor`]; the supervisor's child
//!   process pins itself, builds a glommio executor and runs the actor in the runtime's
//!   [`runtime::actor::ActorLoop`] (heartbeat, kill switch, stop requests, idling, latency);
//! - a **process kind**: a function that is the whole child's `main` after pinning (e.g. the UI,
//!   which runs a tokio runtime). It must mark its slot ready ([`ActorEnv::set_running`]), beat
//!   ([`ActorEnv::beat`]) at least every `heartbeat_timeout_ms / 2`, watch
//!   [`ActorEnv::stop_requested`] and return `Ok(())` when asked to stop.
//!
//! Users add their own kinds in their own binary and hand the registry to
//! [`crate::run_cli`]; see `examples/custom_actor.rs`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use runtime::actor::Actor;
use runtime::control::{actor_state, ActorSlot, ControlBlock};
use runtime::hist::HistogramRegion;
use runtime::shm::ShmDir;

use crate::topology::{ActorSpec, KindCatalog, Topology};

/// What a kind's factory gets: who the actor is and where its engine lives.
pub struct ActorEnv {
    /// The checked topology this engine runs.
    pub topology: Arc<Topology>,
    /// This actor's entry in it.
    pub spec: ActorSpec,
    /// The engine's shared-memory directory (rings are attached from here).
    pub dir: ShmDir,
    /// The control block (kill switch, slots, engine words).
    pub control: Arc<ControlBlock>,
    /// This incarnation's generation in the slot (1 for the first start, +1 per restart).
    pub generation: u64,
    /// The engine's latency histograms (`hist.shm`); publish under the slot index
    /// (`HistogramPublisher::new(hist, spec.index as u32)`).
    pub hist: Arc<HistogramRegion>,
}

impl ActorEnv {
    /// This actor's slot in the control block.
    pub fn slot(&self) -> &ActorSlot {
        self.control.slot(self.spec.index)
    }

    /// Process kinds: report ready (the supervisor starts the next actor once this is seen).
    pub fn set_running(&self) {
        self.slot().set_state(actor_state::RUNNING);
    }

    /// Process kinds: one heartbeat (the supervisor kills an actor whose heartbeat stalls); the
    /// slot follows the kill switch (HALTED while set) as loop actors' slots do.
    pub fn beat(&self) {
        self.control
            .beat_process(self.spec.index, runtime::clock::monotonic_ns());
    }

    /// Process kinds: whether the supervisor asked this actor to stop.
    pub fn stop_requested(&self) -> bool {
        self.slot().stop_requested()
    }

    /// The venue's order-entry address, when the topology has a venue.
    pub fn venue_order_addr(&self) -> Option<SocketAddr> {
        self.topology.venue.as_ref().map(|v| v.order_addr)
    }

    /// The venue's market-data address, when the topology has a venue.
    pub fn venue_md_addr(&self) -> Option<SocketAddr> {
        self.topology.venue.as_ref().map(|v| v.md_addr)
    }

    /// The actor's kind-specific configuration file, if the topology names one.
    pub fn config_path(&self) -> Option<&PathBuf> {
        self.spec.config.as_ref()
    }
}

/// Builds an actor of one kind.
pub type ActorFactory = Arc<dyn Fn(&ActorEnv) -> anyhow::Result<Box<dyn Actor>> + Send + Sync>;
/// Runs a process kind's whole child process.
pub type ProcessMain = Arc<dyn Fn(&ActorEnv) -> anyhow::Result<()> + Send + Sync>;

/// How a kind runs.
#[derive(Clone)]
pub enum KindRunner {
    Actor(ActorFactory),
    Process(ProcessMain),
}

/// A registered kind.
#[derive(Clone)]
pub struct Kind {
    pub runner: KindRunner,
    /// Kinds a topology must also contain when it contains this one.
    pub requires: Vec<String>,
    /// One line for `--help` and `check`.
    pub description: String,
}

/// Arguments of the venue simulator's child process (`supervisor venue-serve`).
#[derive(Clone, Debug)]
pub struct VenueServeArgs {
    /// The venue configuration file (`venue: Simulator(config: ...)`).
    pub config: PathBuf,
    /// Replay mode (`venue: Replay(...)`) rather than the synthetic simulator.
    pub replay: bool,
    pub order_addr: SocketAddr,
    pub md_addr: SocketAddr,
    /// The engine's shared-memory directory (the venue reads its latency words in the control
    /// block there).
    pub engine_dir: PathBuf,
}

/// The venue server's entry point (the venue crate's `server::run`).
pub type VenueServer = Arc<dyn Fn(&VenueServeArgs) -> anyhow::Result<()> + Send + Sync>;

/// Kind name → how to run it. [`Registry::new`] holds the built-in diagnostic kind `idle`.
#[derive(Clone, Default)]
pub struct Registry {
    kinds: BTreeMap<String, Kind>,
    venue_server: Option<VenueServer>,
}

/// Errors registering kinds.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RegistryError {
    #[error("kind `{0}` is already registered")]
    Duplicate(String),
    #[error("kind name `{name}` {why}")]
    BadName { name: String, why: String },
}

impl Registry {
    /// A registry with the built-in kinds: `idle` (does nothing but run the loop: heartbeat,
    /// kill switch, stop; for checking pinning and supervision).
    pub fn new() -> Self {
        let mut r = Registry::default();
        r.register_actor(
            "idle",
            "diagnostic: runs the loop and nothing else (heartbeat, kill switch, pinning)",
            |_env: &ActorEnv| Ok(Box::new(IdleActor) as Box<dyn Actor>),
        )
        .expect("built-in kinds are distinct");
        r.register_process(
            "idle-process",
            "diagnostic: a process kind (own main, no executor) that only beats and stops",
            idle_process_main,
        )
        .expect("built-in kinds are distinct");
        r
    }

    /// An empty registry (no built-ins).
    pub fn empty() -> Self {
        Registry::default()
    }

    fn check_name(&self, name: &str) -> Result<(), RegistryError> {
        let bad = |why: &str| RegistryError::BadName {
            name: name.to_string(),
            why: why.to_string(),
        };
        if name.is_empty() || name.len() > runtime::control::ACTOR_KIND_BYTES {
            return Err(bad(&format!(
                "must be 1 to {} bytes long",
                runtime::control::ACTOR_KIND_BYTES
            )));
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        {
            return Err(bad("must use a-z, 0-9, `_` and `-` only"));
        }
        if self.kinds.contains_key(name) {
            return Err(RegistryError::Duplicate(name.to_string()));
        }
        Ok(())
    }

    /// Register an actor kind.
    pub fn register_actor<F>(
        &mut self,
        name: &str,
        description: &str,
        factory: F,
    ) -> Result<&mut Kind, RegistryError>
    where
        F: Fn(&ActorEnv) -> anyhow::Result<Box<dyn Actor>> + Send + Sync + 'static,
    {
        self.check_name(name)?;
        Ok(self.kinds.entry(name.to_string()).or_insert(Kind {
            runner: KindRunner::Actor(Arc::new(factory)),
            requires: Vec::new(),
            description: description.to_string(),
        }))
    }

    /// Register a process kind (its function is the child's whole `main`).
    pub fn register_process<F>(
        &mut self,
        name: &str,
        description: &str,
        main: F,
    ) -> Result<&mut Kind, RegistryError>
    where
        F: Fn(&ActorEnv) -> anyhow::Result<()> + Send + Sync + 'static,
    {
        self.check_name(name)?;
        Ok(self.kinds.entry(name.to_string()).or_insert(Kind {
            runner: KindRunner::Process(Arc::new(main)),
            requires: Vec::new(),
            description: description.to_string(),
        }))
    }

    /// Hook the venue simulator's server (run by `supervisor venue-serve`).
    pub fn set_venue_server<F>(&mut self, server: F)
    where
        F: Fn(&VenueServeArgs) -> anyhow::Result<()> + Send + Sync + 'static,
    {
        self.venue_server = Some(Arc::new(server));
    }

    pub fn venue_server(&self) -> Option<&VenueServer> {
        self.venue_server.as_ref()
    }

    pub fn get(&self, kind: &str) -> Option<&Kind> {
        self.kinds.get(kind)
    }

    /// Registered kinds with their descriptions, sorted by name.
    pub fn describe(&self) -> Vec<(String, String)> {
        self.kinds
            .iter()
            .map(|(k, v)| (k.clone(), v.description.clone()))
            .collect()
    }
}

impl Kind {
    /// Declare kinds that must be present alongside this one (e.g. `execution` requires
    /// `sentinel`: nothing may send orders unwatched).
    pub fn requires(&mut self, kinds: &[&str]) -> &mut Self {
        self.requires.extend(kinds.iter().map(|k| k.to_string()));
        self
    }
}

impl KindCatalog for Registry {
    fn kinds(&self) -> Vec<String> {
        self.kinds.keys().cloned().collect()
    }
    fn requires(&self, kind: &str) -> Vec<String> {
        self.kinds
            .get(kind)
            .map(|k| k.requires.clone())
            .unwrap_or_default()
    }
}

/// The `idle-process` kind: what a process kind must do (ready, heartbeat, kill switch, stop),
/// and nothing else. Beats every millisecond.
fn idle_process_main(env: &ActorEnv) -> anyhow::Result<()> {
    env.set_running();
    // Bounded by the stop request; a lost supervisor kills this process (PR_SET_PDEATHSIG).
    loop {
        env.beat();
        if env.stop_requested() {
            env.slot().set_state(actor_state::STOPPED);
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// The `idle` kind: no work; everything it shows comes from the loop.
pub struct IdleActor;

impl Actor for IdleActor {
    fn poll(&mut self, _now_ns: u64) -> usize {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_registered_once_with_valid_names() {
        let mut r = Registry::new();
        assert_eq!(
            KindCatalog::kinds(&r),
            vec!["idle".to_string(), "idle-process".to_string()]
        );
        let dup = r
            .register_actor("idle", "again", |_| {
                Ok(Box::new(IdleActor) as Box<dyn Actor>)
            })
            .err();
        assert_eq!(dup, Some(RegistryError::Duplicate("idle".into())));
        assert!(matches!(
            r.register_process("Bad Name", "", |_| Ok(())),
            Err(RegistryError::BadName { .. })
        ));
        assert!(matches!(
            r.register_process("a-kind-name-longer-than-16", "", |_| Ok(())),
            Err(RegistryError::BadName { .. })
        ));
        r.register_actor("execution", "orders", |_| {
            Ok(Box::new(IdleActor) as Box<dyn Actor>)
        })
        .unwrap()
        .requires(&["sentinel"]);
        assert_eq!(r.requires("execution"), vec!["sentinel".to_string()]);
        assert_eq!(r.requires("idle"), Vec::<String>::new());
        assert_eq!(
            KindCatalog::kinds(&r),
            vec![
                "execution".to_string(),
                "idle".to_string(),
                "idle-process".to_string()
            ]
        );
    }
}
