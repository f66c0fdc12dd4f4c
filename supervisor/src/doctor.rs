//! `supervisor doctor` (being written).
use std::path::Path;

use crate::cli::Failure;
use crate::registry::Registry;

pub fn run(_topology: &Path, _registry: &Registry, _json: bool) -> Result<u8, Failure> {
    Err(Failure {
        code: crate::cli::exit_code::FAILURE,
        error: anyhow::anyhow!("doctor is not built yet"),
    })
}
