//! The engine's supervisor: reads `topology.ron`, starts every actor as a pinned child process,
//! watches and restarts them by Erlang/OTP rules, and carries the kill switch and the CLI.
//!
//! Layers, pure first:
//! - [`locate`], [`topology`]: RON text → raw [`topology::TopologyFile`] → checked
//!   [`topology::Topology`], every error located by file, line, column, actor and field.
//! - [`machine`]: the machine facts validation needs, behind a trait.
//! - [`policy`]: supervision decisions as a pure state machine.
//! - [`registry`]: actor kinds (built-in `idle`, the engine's, a user's) and [`ActorEnv`].
//! - [`engine`]: the supervisor process (shared memory, spawn, pidfd, signals, requests);
//!   [`child`]: an actor's process (pin, SCHED_FIFO, executor, loop); [`executor`]: glommio.
//! - [`cli`]: the command line ([`run_cli`]); [`status`], [`doctor`].
//!
//! A user's binary with its own kinds:
//!
//! ```no_run
//! use supervisor::{run_cli, ActorEnv, Registry};
//! use runtime::actor::Actor;
//!
//! struct Quiet;
//! impl Actor for Quiet {
//!     fn poll(&mut self, _now_ns: u64) -> usize { 0 }
//! }
//!
//! fn main() -> std::process::ExitCode {
//!     let mut registry = Registry::new();
//!     registry
//!         .register_actor("quiet", "does nothing", |_env: &ActorEnv| {
//!             Ok(Box::new(Quiet) as Box<dyn Actor>)
//!         })
//!         .expect("a new kind");
//!     run_cli(registry)
//! }
//! ```
pub mod builtin;
pub mod child;
pub mod cli;
pub mod doctor;
pub mod engine;
pub mod executor;
pub mod locate;
pub mod machine;
pub mod policy;
pub mod registry;
pub mod status;
pub mod topology;

pub use cli::run_cli;
pub use registry::{ActorEnv, Registry};
