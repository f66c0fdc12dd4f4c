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
//! - [`live`]: the live wrappers (rings, control block, venue sessions) built with
//!   [`live::build`] from a plain [`live::LiveEnv`].
//!
//! # Wiring (what a live wrapper or the backtest does)
//!
//! - **Oracle**: for each `MdEvent`, `oracle.on_md(&ev, now)`; a returned
//!   `Signal` goes to Execution (signal ring). `oracle.telemetry(now)` now and then.
//! - **Sonar**: `sonar.on_md(&ev, now)` per event, `sonar.on_overrun(lost, now)`
//!   when the broadcast cursor was overrun, `sonar.on_tick(now)` every pass;
//!   when the output says `changed`, publish `regime.code()` and `gate_check`.
//! - **Sentinel**: `on_order_event` for every `ExecAction::Report` of Execution,
//!   `on_mark(mid)` from market data, `on_heartbeat(slot, counter, now)` for
//!   each watched actor slot, `on_tick(now)` every pass. `EnterLockdown` /
//!   `LiftLockdown` set the control block's lockdown word (reason
//!   `LockdownReason::code()`); `Emergency` goes to the supervisor.
//! - **Execution**: each pass `on_gates(Gates { regime, gate_check, lockdown },
//!   now)` from the control block, `on_kill(now)` once when the kill switch is
//!   seen, `on_md` / `on_signal` / `on_venue` per message, `on_tick(now)` every
//!   pass (the 200 ms cancels). Handle the actions in order: `Journal` and
//!   `Report` are appended to the journal (and `Report` sent to Sentinel)
//!   before the `Send*` that follows them goes to the venue;
//!   `journal.sync_if_due(now)` once per pass.
//! - **Restart**: `Journal::open(path, policy)` → `(journal, state)`;
//!   `exec.restore(&state)`; ask the venue for our open orders and position;
//!   `exec.reconcile(&venue_orders, Some(position), now, &mut out)`; quoting
//!   resumes only after that.
//!
//! In the backtest the same calls run in one thread with `now` from the
//! simulated clock; every output is a deterministic function of the inputs.
pub mod actions;
pub mod backtest;
pub mod config;
pub mod execution;
pub mod live;
pub mod oracle;
pub mod sentinel;
pub mod sonar;

pub use actions::ActionBuf;
