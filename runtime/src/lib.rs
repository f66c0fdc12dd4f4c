//! The engine's runtime foundation: everything actors share.
//!
//! - [`msg`]: fixed-size plain-data messages and the [`msg::ShmSafe`] marker trait.
//! - [`shm`]: shared-memory regions (create, attach, header checks).
//! - [`ring`]: the SPSC mailbox ring and the broadcast ring for market data.
//! - [`rings`]: the engine's rings by name, type and capacity (who writes, who reads).
//! - [`control`]: the control block (kill switch, actor slots, engine words).
//! - [`telemetry`]: gauges actors publish for the cockpit, behind a [`seqlock`].
//! - [`clock`], [`idle`], [`hist`]: time, idle strategies, latency histograms.
//! - [`actor`]: the `Actor` trait and the one loop every actor runs.
pub mod actor;
pub mod clock;
pub mod control;
pub mod hist;
pub mod idle;
pub mod msg;
pub mod ring;
pub mod rings;
pub mod seqlock;
pub mod shm;
pub(crate) mod sync;
pub mod telemetry;
