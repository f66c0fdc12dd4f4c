//! The `supervisor` binary: the CLI with the engine's kinds, the UI and the venue simulator.
use std::process::ExitCode;

fn main() -> ExitCode {
    supervisor::run_cli(supervisor::builtin::registry())
}
