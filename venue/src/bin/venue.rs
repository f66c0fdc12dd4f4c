//! `venue [--config config/venue.ron]`: run the simulated exchange until killed.
use anyhow::Context;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut path = std::path::PathBuf::from("config/venue.ron");
    while let Some(a) = args.next() {
        match a.as_str() {
            "--config" | "-c" => {
                path = args.next().context("--config needs a path")?.into();
            }
            "--help" | "-h" => {
                println!("usage: venue [--config config/venue.ron]\nRuns the simulated venue (see docs/venue-protocol.md).");
                return Ok(());
            }
            other => anyhow::bail!("unknown argument {other:?} (try --help)"),
        }
    }
    let cfg = venue::config::load(&path).with_context(|| format!("loading {}", path.display()))?;
    venue::server::run(cfg).context("venue stopped")?;
    Ok(())
}
