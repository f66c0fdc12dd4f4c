//! The `supervisor` binary: the CLI with the built-in kinds.
//!
//! The engine's own kinds (feed, oracle, sonar, sentinel, execution, ui) and the venue server
//! are registered here by the crates that provide them.
use std::process::ExitCode;

use supervisor::{run_cli, Registry};

fn main() -> ExitCode {
    let registry = Registry::new();
    // The lead wires in: actors::live::register(&mut registry); ui::register(&mut registry);
    // registry.set_venue_server(|args| venue::server::run(..args..));
    run_cli(registry)
}
