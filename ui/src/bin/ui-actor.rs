//! Run the UI actor by hand against an engine that is already running (the supervisor
//! normally starts it as the `ui` process kind). `ui-actor --help` lists the options.
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// The cockpit server: samples an engine's shared memory and serves the dashboard.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Engine name (the topology's `engine_name`; its shared memory is <shm-base>/<name>/).
    #[arg(long)]
    engine: String,
    /// Base folder of the shared memory.
    #[arg(long)]
    shm_base: Option<PathBuf>,
    /// Listen address (loopback unless --allow-remote).
    #[arg(long, default_value_t = ui::DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Allow a non-loopback address (no TLS: prefer a proxy in front).
    #[arg(long)]
    allow_remote: bool,
    /// Token file (mode 0600). Default: <shm-base>/<engine>/ui.token.
    #[arg(long)]
    token_file: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let defaults = ui::UiConfig::new(&a.engine, a.shm_base.clone());
    ui::run_ui_process(
        a.shm_base,
        &a.engine,
        a.addr,
        a.token_file.unwrap_or(defaults.token_file),
        a.allow_remote,
    )
}
