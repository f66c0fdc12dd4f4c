//! The simulated venue and everything that speaks to it.
//!
//! - [`matching`]: order-by-order matching engine (price-time, STP, bands, rate limits).
//! - [`synth`]: seeded synthetic order flow with switching regimes.
//! - [`protocol`]: the versioned little-endian binary protocol (docs/venue-protocol.md).
//! - [`server`]: the venue process (TCP on loopback, latency injection, heartbeats).
//! - [`client`]: non-blocking order-entry and market-data clients for Feed and Execution.
//! - [`feed`]: the Feed actor's pure state machine (book, gaps, staleness → `MdEvent`).
//! - [`book`]: the price-level (L2) book used by replay and the feed.
//! - [`replay`]: Binance and LOBSTER recordings; [`capture`]: our binary capture format.
//! - [`queue`]: queue-position model for our passive orders against recorded data.
//! - [`config`]: `config/venue.ron` and `config/instruments.ron`.
pub mod book;
pub mod capture;
pub mod client;
pub mod config;
pub mod feed;
pub mod fixed;
pub mod latency;
pub mod matching;
pub mod protocol;
pub mod queue;
pub mod replay;
pub mod replay_venue;
pub mod server;
pub mod sim;
pub mod synth;

/// Nanoseconds on a monotonic clock (process-local origin). The venue keeps its own
/// so it does not depend on the runtime's clock module being built.
pub fn monotonic_ns() -> u64 {
    use std::sync::OnceLock;
    use std::time::Instant;
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    let o = ORIGIN.get_or_init(Instant::now);
    // Saturating: u64 ns covers 584 years of uptime.
    o.elapsed().as_nanos().min(u64::MAX as u128) as u64 + 1
}

/// Wall-clock ns since the Unix epoch (venue event times).
pub fn wall_clock_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}
