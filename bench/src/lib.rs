//! Latency benchmark of the whole engine (issue 7): tick-to-order and every hop at fixed
//! offered rates, measured from each event's intended send time (no coordinated omission),
//! beside the same chain built the usual way (threads and crossbeam channels).
//!
//! - [`synth`]: the synthetic market and the fixed-rate schedule;
//! - [`ctl`]: control words between the bench and the synthetic feed actor;
//! - [`feed`]: the `synthetic-feed` actor kind that replaces Feed;
//! - [`kinds`]: the registry of the bench binary (live actors, synthetic feed, venue);
//! - [`engine`]: the whole engine under the supervisor, read through `hist.shm`;
//! - [`channels`]: the peer chain on crossbeam channels;
//! - [`shm_chain`]: the engine's live actors and rings in one process (tests);
//! - [`report`]: percentiles, table, JSON and the last line.
pub mod channels;
pub mod ctl;
pub mod engine;
pub mod feed;
pub mod kinds;
pub mod report;
pub mod shm_chain;
pub mod synth;
