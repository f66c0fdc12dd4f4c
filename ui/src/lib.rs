//! The UI actor: a process on a housekeeping core that samples the engine's shared memory (the
//! control block, every actor's telemetry and the latency histograms), streams it to the
//! cockpit over WebSocket at 20 Hz, serves the cockpit itself and `/metrics`, and carries the
//! operator's kill switch into the control block. It is never on the hot path: actors publish,
//! the UI samples.
//!
//! Run it as the supervisor's `ui` process kind through [`run_ui_process`]. ui/README.md
//! documents the frame schema, the routes and the token rules.

pub mod assets;
pub mod auth;
pub mod broadcast;
pub mod frame;
pub mod hist_view;
pub mod kill;
pub mod metrics;
pub mod procfs;
pub mod sampler;
pub mod server;
pub mod shm_view;
pub mod view;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

pub use auth::Token;
pub use server::{start, RunningServer, ServerSettings};
pub use view::{EngineView, ViewError};

/// Default address: loopback only.
pub const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8787);

/// Configuration of the UI actor.
#[derive(Debug, Clone)]
pub struct UiConfig {
    /// Engine whose shared memory to read (`/dev/shm/<engine_name>/` by default).
    pub engine_name: String,
    /// Base folder of the engine's shared memory (None: `/dev/shm`).
    pub shm_base: Option<PathBuf>,
    /// Listen address. Anything but loopback needs `allow_remote`.
    pub addr: SocketAddr,
    /// Allow binding beyond loopback (there is no TLS: put a proxy in front for remote use).
    pub allow_remote: bool,
    /// Extra host names accepted in Host/Origin (e.g. the proxy's name), without port.
    pub extra_hosts: Vec<String>,
    /// Where the control token is written (mode 0600).
    pub token_file: PathBuf,
    /// Use this token (None: the one in `token_file` if that file is private and valid, else a
    /// fresh one).
    pub token: Option<Token>,
    /// Frame period (default 50 ms = 20 Hz).
    pub frame_interval: Duration,
    /// Frames a client may have queued before it is dropped (default 20 = 1 s at 20 Hz).
    pub client_queue_frames: usize,
    /// A socket that cannot take one frame within this is dropped (default 1 s).
    pub client_send_timeout: Duration,
    /// Most cockpit clients at once (default 16).
    pub max_clients: usize,
    /// How long the kill watcher waits for every hot actor to halt (default 5 s).
    pub kill_watch_timeout: Duration,
    /// The UI actor's slot in the control block (the supervisor's `ActorEnv::spec.index`);
    /// None: found by this process's pid.
    pub own_slot: Option<usize>,
}

impl UiConfig {
    /// Defaults for an engine; the token file goes next to its shared memory.
    pub fn new(engine_name: &str, shm_base: Option<PathBuf>) -> UiConfig {
        let base = shm_base
            .clone()
            .unwrap_or_else(|| PathBuf::from(runtime::shm::DEFAULT_BASE));
        UiConfig {
            engine_name: engine_name.to_string(),
            token_file: base.join(engine_name).join("ui.token"),
            shm_base,
            addr: DEFAULT_ADDR,
            allow_remote: false,
            extra_hosts: vec![],
            token: None,
            frame_interval: Duration::from_millis(50),
            client_queue_frames: 20,
            client_send_timeout: Duration::from_secs(1),
            max_clients: 16,
            kill_watch_timeout: Duration::from_secs(5),
            own_slot: None,
        }
    }

    fn settings(&self) -> ServerSettings {
        ServerSettings {
            frame_interval: self.frame_interval,
            histogram_every_frames: 4,
            client_queue_frames: self.client_queue_frames,
            client_send_timeout: self.client_send_timeout,
            max_clients: self.max_clients,
            kill_watch_timeout: self.kill_watch_timeout,
        }
    }
}

/// Refuse a non-loopback bind unless allowed; warn when allowed.
pub fn check_bind(addr: SocketAddr, allow_remote: bool) -> anyhow::Result<()> {
    if addr.ip().is_loopback() {
        return Ok(());
    }
    if !allow_remote {
        anyhow::bail!(
            "refusing to bind the cockpit to {addr}: it is not a loopback address. The cockpit has \
             no TLS; bind 127.0.0.1 and put a proxy in front, or pass the explicit remote flag"
        );
    }
    eprintln!(
        "ui: WARNING: cockpit bound to {addr}, reachable beyond this machine without TLS; \
         control actions still need the token"
    );
    Ok(())
}

/// Run the UI actor until the process is stopped. Needs a tokio runtime (see [`run_ui_process`]).
pub async fn serve(config: UiConfig) -> anyhow::Result<()> {
    check_bind(config.addr, config.allow_remote)?;
    // A restarted UI actor keeps the token of its private token file (open cockpits and pasted
    // tokens stay valid); otherwise a fresh one.
    let token = match config.token.clone() {
        Some(t) => t,
        None => match Token::read_file(&config.token_file) {
            Some(t) => t,
            None => Token::generate().context("making the control token")?,
        },
    };
    token
        .write_file(&config.token_file)
        .context("writing the control token file")?;
    let mut view = shm_view::ShmView::new(config.shm_base.clone(), &config.engine_name);
    if let Some(i) = config.own_slot {
        view = view.with_own_slot(i);
    }
    let view: Arc<dyn EngineView> = Arc::new(view);
    let running = server::start(
        config.addr,
        config.extra_hosts.clone(),
        config.allow_remote,
        token.clone(),
        view,
        Box::new(assets::EmbeddedAssets),
        config.settings(),
    )
    .await?;
    println!(
        "ui: cockpit at http://{}/  token {} (also in {}, mode 0600)",
        running.addr,
        token.as_str(),
        config.token_file.display()
    );
    if running.wait().await {
        println!("ui: stopped on the supervisor's request");
        return Ok(());
    }
    anyhow::bail!("the cockpit server stopped unexpectedly")
}

/// Run [`serve`] on a current-thread tokio runtime (the housekeeping core the supervisor pinned
/// this process to). Returns Ok(()) when the supervisor asks the actor to stop.
pub fn run_config(config: UiConfig) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the UI actor's tokio runtime")?;
    rt.block_on(serve(config))
}

/// Entry point for the supervisor's `ui` process kind. The slot is found by this process's
/// pid; it is marked RUNNING, beats every frame (50 ms) and the function returns Ok(()) once
/// the slot's stop request is seen. See ui/README.md for the registration glue.
pub fn run_ui_process(
    shm_base: Option<PathBuf>,
    engine_name: &str,
    addr: SocketAddr,
    token_file: PathBuf,
    allow_remote: bool,
) -> anyhow::Result<()> {
    let mut config = UiConfig::new(engine_name, shm_base);
    config.addr = addr;
    config.token_file = token_file;
    config.allow_remote = allow_remote;
    run_config(config)
}

/// The supervisor's `ui` process kind in one call: the topology's engine name, shared-memory
/// base, UI address and token file (None: `<shm base>/<engine>/ui.token`), and this actor's slot
/// index (`ActorEnv::spec.index`). Loopback only: a topology asking for another address is
/// refused with the remedy.
pub fn run_ui_actor(
    engine_name: &str,
    shm_base: PathBuf,
    addr: SocketAddr,
    token_file: Option<PathBuf>,
    own_slot: usize,
) -> anyhow::Result<()> {
    let mut config = UiConfig::new(engine_name, Some(shm_base));
    config.addr = addr;
    if let Some(f) = token_file {
        config.token_file = f;
    }
    config.own_slot = Some(own_slot);
    run_config(config)
}
