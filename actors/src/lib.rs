//! The engine's trading actors as pure state machines.
//!
//! Each actor takes messages and the current time (`now_ns`, always an
//! argument, never read from a clock) and returns actions into a bounded
//! buffer the caller owns ([`ActionBuf`]). The same code runs live (a thin
//! wrapper wires it to rings and sockets) and in the deterministic backtest:
//! no wall-clock reads, no hash-map iteration order in outputs, no
//! allocation on the hot path after construction.
//!
//! - [`oracle`]: weighted order book imbalance → [`runtime::msg::Signal`].
//! - [`sonar`]: entropy regime (Attack/Veto) and the zero-trust data gate.
//! - [`sentinel`]: round-trip times, lockdown, OTR, risk limits, heartbeat watchdog.
//! - [`execution`]: passive quoting under NEV, rate, OTR and kill gates; costs; journal.
//! - [`config`]: the strategy file (`config/strategy.ron`) that configures all four.
pub mod actions;
pub mod config;
pub mod execution;
pub mod oracle;
pub mod sentinel;
pub mod sonar;

pub use actions::ActionBuf;
