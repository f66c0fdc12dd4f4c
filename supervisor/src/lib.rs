//! The engine's supervisor: reads `topology.ron`, starts every actor as a pinned child process,
//! watches and restarts them by Erlang/OTP rules, and carries the kill switch and the CLI.
//!
//! Layers, pure first:
//! - [`locate`], [`topology`]: RON text → raw [`topology::TopologyFile`] → checked
//!   [`topology::Topology`], every error located by file, line, column, actor and field.
//! - [`machine`]: the machine facts validation needs, behind a trait.
//! - [`policy`]: supervision decisions as a pure state machine.
pub mod locate;
pub mod machine;
pub mod policy;
pub mod topology;
