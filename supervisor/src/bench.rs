//! `supervisor bench-control` (being written).
use std::path::Path;

use runtime::control::ControlBlock;

pub fn run(
    _engine: &str,
    _dir: &Path,
    _control: &ControlBlock,
    _trials: u32,
) -> anyhow::Result<()> {
    anyhow::bail!("bench-control is not built yet")
}
