fn main() -> anyhow::Result<()> {
    anyhow::bail!("supervisor: not built yet")
}
