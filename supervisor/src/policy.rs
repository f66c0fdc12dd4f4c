//! The supervisor's decisions as a pure state machine: events and the time in, actions out.
//!
//! It follows Erlang/OTP's supervisor rules:
//!
//! - **Restart types.** A `permanent` child is always restarted; a `transient` child only after
//!   an abnormal exit (non-zero status, a signal, or a kill by the supervisor because its
//!   heartbeat stalled, it did not become ready in time, or Sentinel asked); a `temporary` child
//!   never, not even when a sibling's failure terminates it (it is then removed).
//! - **Strategies.** `one_for_one` restarts the failed child; `rest_for_one` terminates the
//!   children started after it (in reverse start order), then restarts it and them in start
//!   order; `one_for_all` does the same with every child.
//! - **Intensity.** Each restart decision is recorded; when more than `max_restarts` fall within
//!   the last `period_ms`, the supervisor gives up: it halts the engine (kill switch) and
//!   terminates every child in reverse start order.
//! - **Termination** is graceful: the child is asked to stop, and killed when it has not exited
//!   within `shutdown_timeout_ms`. Children are terminated one at a time, in reverse start order,
//!   and started one at a time in start order, each waiting for the previous to report ready.
//! - A failure during the initial start aborts the start (OTP: `start_link` fails).
//!
//! The thin layer ([`crate::engine`]) turns actions into processes and signals and reports what
//! happened as events. It only reports exits of the current process of a child.

use std::collections::VecDeque;

use crate::topology::{RestartType, Strategy, Supervision};

/// A supervised child: an actor process, or the venue simulator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildSpec {
    pub name: String,
    pub restart: RestartType,
    /// Whether the child publishes a heartbeat the watchdog should check.
    pub watched: bool,
}

/// How a child process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    /// Exit status 0.
    Normal,
    /// A non-zero exit status.
    Code(i32),
    /// Killed by a signal.
    Signal(i32),
}

impl ExitStatus {
    pub fn is_normal(self) -> bool {
        self == ExitStatus::Normal
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExitStatus::Normal => write!(f, "exit status 0"),
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signal(s) => write!(f, "signal {s} ({})", signal_name(*s)),
        }
    }
}

fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "SIGKILL",
        libc::SIGSEGV => "SIGSEGV",
        libc::SIGABRT => "SIGABRT",
        libc::SIGTERM => "SIGTERM",
        libc::SIGINT => "SIGINT",
        libc::SIGBUS => "SIGBUS",
        libc::SIGILL => "SIGILL",
        libc::SIGFPE => "SIGFPE",
        libc::SIGXCPU => "SIGXCPU",
        _ => "signal",
    }
}

/// What the thin layer observed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Begin: start every child in order.
    Start,
    /// The child reported ready (its slot says so).
    ChildReady { child: usize },
    /// The child's current process ended.
    ChildExited { child: usize, status: ExitStatus },
    /// The child's process could not be created.
    SpawnFailed { child: usize, error: String },
    /// The child's heartbeat counter as read now (the watchdog compares successive readings).
    Heartbeat { child: usize, count: u64 },
    /// Sentinel asks to restart a child (counts as a failure).
    EmergencyRestart { child: usize, reason: String },
    /// Sentinel asks to halt everything.
    EmergencyHalt { reason: String },
    /// The operator asks for a hot restart of one child (`supervisor restart`): not a failure,
    /// so it ignores the strategy and does not count towards the intensity.
    RestartRequested { child: usize },
    /// Graceful stop of the whole engine (`supervisor stop`, Ctrl-C, SIGTERM).
    StopRequested,
    /// Time passed: check deadlines and heartbeats.
    Tick,
}

/// What the thin layer must do, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Start a new process for the child.
    Spawn { child: usize },
    /// Ask the child to stop (it should exit with status 0).
    RequestStop { child: usize },
    /// SIGKILL the child's process.
    Kill { child: usize },
    /// Set the kill switch and mark the engine HALTED (children are then terminated).
    HaltEngine { reason: String },
    /// A decision worth a log line.
    Log { message: String },
    /// Every child is down after a stop or a halt: the supervisor exits.
    Exit { outcome: Outcome },
}

/// Why the supervisor finishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Stopped,
    Halted { reason: String },
}

/// The engine as the policy sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EngineState {
    Starting,
    Running,
    /// A restart plan is in progress.
    Restarting,
    Stopping,
    /// Halting (escalation or Sentinel) or halted.
    Halted,
    /// Every child is down; the supervisor is done.
    Done,
}

/// A child's state in the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChildState {
    /// Not running and not scheduled (before start, or a transient child after a normal exit).
    Down,
    /// Spawned; waiting for ready until `deadline_ms`.
    Starting {
        deadline_ms: u64,
    },
    Running,
    /// Asked to stop; killed at `deadline_ms`.
    Stopping {
        deadline_ms: u64,
    },
    /// SIGKILL sent; waiting for the exit.
    Killing,
    /// A temporary child that ended: never started again (except by the operator).
    Removed,
}

impl ChildState {
    /// Whether a process exists for the child.
    pub fn is_live(self) -> bool {
        matches!(
            self,
            ChildState::Starting { .. }
                | ChildState::Running
                | ChildState::Stopping { .. }
                | ChildState::Killing
        )
    }
}

#[derive(Clone, Debug)]
struct Child {
    spec: ChildSpec,
    state: ChildState,
    /// Killed by the supervisor because it failed (stall, start timeout, Sentinel): its exit is
    /// abnormal whatever the status says.
    condemned: Option<String>,
    /// Last heartbeat reading and when it last changed.
    heartbeat: Option<u64>,
    heartbeat_changed_ms: u64,
    restarts: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Starting,
    Running,
    Stopping(Outcome),
    Done,
}

/// The supervision state machine.
#[derive(Clone, Debug)]
pub struct Policy {
    cfg: Supervision,
    children: Vec<Child>,
    phase: Phase,
    /// Children to terminate, next first (kept in reverse start order).
    terminate: Vec<usize>,
    /// Children to start, next first (kept in start order).
    spawn: Vec<usize>,
    /// Times (ms) of recent restart decisions, oldest first; never longer than
    /// `max_restarts + 1` entries.
    restart_times_ms: VecDeque<u64>,
}

impl Policy {
    pub fn new(cfg: Supervision, children: Vec<ChildSpec>) -> Self {
        let children = children
            .into_iter()
            .map(|spec| Child {
                spec,
                state: ChildState::Down,
                condemned: None,
                heartbeat: None,
                heartbeat_changed_ms: 0,
                restarts: 0,
            })
            .collect();
        Policy {
            cfg,
            children,
            phase: Phase::Starting,
            terminate: Vec::new(),
            spawn: Vec::new(),
            restart_times_ms: VecDeque::new(),
        }
    }

    pub fn child_state(&self, child: usize) -> ChildState {
        self.children[child].state
    }

    /// Restarts of this child so far (failures and operator restarts).
    pub fn restarts(&self, child: usize) -> u32 {
        self.children[child].restarts
    }

    pub fn len(&self) -> usize {
        self.children.len()
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    pub fn engine_state(&self) -> EngineState {
        match &self.phase {
            Phase::Starting => EngineState::Starting,
            Phase::Running if self.terminate.is_empty() && self.spawn.is_empty() => {
                EngineState::Running
            }
            Phase::Running => EngineState::Restarting,
            Phase::Stopping(Outcome::Stopped) => EngineState::Stopping,
            Phase::Stopping(Outcome::Halted { .. }) => EngineState::Halted,
            Phase::Done => EngineState::Done,
        }
    }

    fn name(&self, child: usize) -> &str {
        &self.children[child].spec.name
    }

    /// Feed one event; returns the actions to take, in order.
    pub fn handle(&mut self, event: Event, now_ms: u64) -> Vec<Action> {
        let mut out = Vec::new();
        if self.phase == Phase::Done {
            return out;
        }
        match event {
            Event::Start => {
                if self.phase == Phase::Starting && self.spawn.is_empty() {
                    self.spawn = (0..self.children.len()).collect();
                }
            }
            Event::ChildReady { child } => {
                if let ChildState::Starting { .. } = self.children[child].state {
                    let c = &mut self.children[child];
                    c.state = ChildState::Running;
                    c.heartbeat_changed_ms = now_ms;
                }
            }
            Event::ChildExited { child, status } => self.exited(child, status, now_ms, &mut out),
            Event::SpawnFailed { child, error } => {
                self.children[child].state = ChildState::Killing;
                self.children[child].condemned = Some(format!("could not be spawned: {error}"));
                self.exited(child, ExitStatus::Code(-1), now_ms, &mut out);
            }
            Event::Heartbeat { child, count } => {
                let c = &mut self.children[child];
                if c.heartbeat != Some(count) {
                    c.heartbeat = Some(count);
                    c.heartbeat_changed_ms = now_ms;
                }
            }
            Event::EmergencyRestart { child, reason } => {
                if self.children[child].state.is_live() && self.phase == Phase::Running {
                    out.push(Action::Log {
                        message: format!(
                            "Sentinel asks to restart `{}`: {reason}",
                            self.name(child)
                        ),
                    });
                    self.condemn(child, format!("Sentinel asked: {reason}"), &mut out);
                } else {
                    out.push(Action::Log {
                        message: format!(
                            "Sentinel asks to restart `{}` ({reason}); ignored: it is not running",
                            self.name(child)
                        ),
                    });
                }
            }
            Event::EmergencyHalt { reason } => {
                self.halt(format!("Sentinel halted the engine: {reason}"), &mut out);
            }
            Event::RestartRequested { child } => {
                if self.phase == Phase::Running {
                    out.push(Action::Log {
                        message: format!("operator restart of `{}`", self.name(child)),
                    });
                    self.children[child].restarts += 1;
                    if self.children[child].state.is_live() && !self.terminate.contains(&child) {
                        self.terminate.push(child);
                        self.terminate.sort_unstable_by(|a, b| b.cmp(a));
                    }
                    if !self.spawn.contains(&child) {
                        self.spawn.push(child);
                        self.spawn.sort_unstable();
                    }
                } else {
                    out.push(Action::Log {
                        message: format!(
                            "operator restart of `{}` ignored while the engine is {:?}",
                            self.name(child),
                            self.engine_state()
                        ),
                    });
                }
            }
            Event::StopRequested => {
                if !matches!(self.phase, Phase::Stopping(_)) {
                    out.push(Action::Log {
                        message: "stopping: terminating children in reverse start order".into(),
                    });
                    self.begin_stopping(Outcome::Stopped);
                } else {
                    // Asked again while stopping (a second Ctrl-C): stop waiting for graceful
                    // exits and kill what is still running, in reverse start order.
                    out.push(Action::Log {
                        message: "stop requested again: killing the remaining children now".into(),
                    });
                    for child in (0..self.children.len()).rev() {
                        let c = &mut self.children[child];
                        if c.state.is_live() && c.state != ChildState::Killing {
                            c.state = ChildState::Killing;
                            out.push(Action::Kill { child });
                        }
                    }
                    self.terminate.clear();
                }
            }
            Event::Tick => self.tick(now_ms, &mut out),
        }
        self.drive(now_ms, &mut out);
        out
    }

    /// Kill a failing child; its exit will be treated as abnormal.
    fn condemn(&mut self, child: usize, why: String, out: &mut Vec<Action>) {
        let c = &mut self.children[child];
        c.condemned = Some(why);
        if c.state != ChildState::Killing {
            c.state = ChildState::Killing;
            out.push(Action::Kill { child });
        }
    }

    fn tick(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        for child in 0..self.children.len() {
            let c = &self.children[child];
            match c.state {
                ChildState::Stopping { deadline_ms } if now_ms >= deadline_ms => {
                    out.push(Action::Log {
                        message: format!(
                            "`{}` did not stop within {} ms; killing it",
                            c.spec.name, self.cfg.shutdown_timeout_ms
                        ),
                    });
                    self.children[child].state = ChildState::Killing;
                    out.push(Action::Kill { child });
                }
                ChildState::Starting { deadline_ms } if now_ms >= deadline_ms => {
                    let why = format!(
                        "did not report ready within {} ms",
                        self.cfg.start_timeout_ms
                    );
                    out.push(Action::Log {
                        message: format!("`{}` {why}; killing it", c.spec.name),
                    });
                    self.condemn(child, why, out);
                }
                ChildState::Running
                    if c.spec.watched
                        && now_ms.saturating_sub(c.heartbeat_changed_ms)
                            >= self.cfg.heartbeat_timeout_ms
                        && !matches!(self.phase, Phase::Stopping(_)) =>
                {
                    let why = format!(
                        "heartbeat stalled for {} ms (timeout {} ms)",
                        now_ms - c.heartbeat_changed_ms,
                        self.cfg.heartbeat_timeout_ms
                    );
                    out.push(Action::Log {
                        message: format!("`{}` {why}; killing it", c.spec.name),
                    });
                    self.condemn(child, why, out);
                }
                _ => {}
            }
        }
    }

    fn exited(&mut self, child: usize, status: ExitStatus, now_ms: u64, out: &mut Vec<Action>) {
        let was = self.children[child].state;
        if !was.is_live() {
            return; // Not ours (already reported); the thin layer should not do this.
        }
        let condemned = self.children[child].condemned.take();
        let expected = matches!(was, ChildState::Stopping { .. })
            || (was == ChildState::Killing && condemned.is_none());
        let temporary = self.children[child].spec.restart == RestartType::Temporary;
        self.children[child].state = ChildState::Down;
        self.children[child].heartbeat = None;

        if let Phase::Stopping(_) = self.phase {
            out.push(Action::Log {
                message: format!("`{}` stopped ({status})", self.name(child)),
            });
            return;
        }
        if expected && condemned.is_none() {
            // Terminated by a restart plan (a sibling failed, or an operator restart).
            // A temporary child is scheduled again only by an operator restart.
            if temporary && !self.spawn.contains(&child) {
                self.children[child].state = ChildState::Removed;
                self.spawn.retain(|&c| c != child);
                out.push(Action::Log {
                    message: format!(
                        "`{}` is temporary: terminated with its siblings and not restarted",
                        self.name(child)
                    ),
                });
            }
            return;
        }
        // A failure, or an exit on its own.
        let abnormal = condemned.is_some() || !status.is_normal();
        let why = match &condemned {
            Some(reason) => format!("was killed: {reason}"),
            None => format!("exited ({status})"),
        };
        if self.phase == Phase::Starting {
            self.halt(format!("`{}` {why} during start-up", self.name(child)), out);
            return;
        }
        let restart = match self.children[child].spec.restart {
            RestartType::Permanent => true,
            RestartType::Transient => abnormal,
            RestartType::Temporary => false,
        };
        if !restart {
            let kind = self.children[child].spec.restart;
            self.children[child].state = if temporary {
                ChildState::Removed
            } else {
                ChildState::Down
            };
            self.spawn.retain(|&c| c != child);
            out.push(Action::Log {
                message: format!(
                    "`{}` {why}; not restarted ({} child{})",
                    self.name(child),
                    match kind {
                        RestartType::Permanent => "permanent",
                        RestartType::Transient => "transient",
                        RestartType::Temporary => "temporary",
                    },
                    if kind == RestartType::Transient {
                        ", normal exit"
                    } else {
                        ""
                    }
                ),
            });
            return;
        }
        // Intensity: one more restart within the period?
        self.restart_times_ms.push_back(now_ms);
        while self
            .restart_times_ms
            .front()
            .is_some_and(|&t| now_ms.saturating_sub(t) >= self.cfg.period_ms)
        {
            self.restart_times_ms.pop_front();
        }
        if self.restart_times_ms.len() > self.cfg.max_restarts as usize {
            let reason = format!(
                "restart intensity exceeded: {} restarts within {} ms (limit {}); last: `{}` {why}",
                self.restart_times_ms.len(),
                self.cfg.period_ms,
                self.cfg.max_restarts,
                self.name(child)
            );
            self.halt(reason, out);
            return;
        }
        let group: Vec<usize> = match self.cfg.strategy {
            Strategy::OneForOne => vec![child],
            Strategy::RestForOne => (child..self.children.len()).collect(),
            Strategy::OneForAll => (0..self.children.len()).collect(),
        };
        out.push(Action::Log {
            message: format!(
                "`{}` {why}; restarting {} ({})",
                self.name(child),
                group
                    .iter()
                    .map(|&c| format!("`{}`", self.name(c)))
                    .collect::<Vec<_>>()
                    .join(", "),
                match self.cfg.strategy {
                    Strategy::OneForOne => "one_for_one",
                    Strategy::RestForOne => "rest_for_one",
                    Strategy::OneForAll => "one_for_all",
                }
            ),
        });
        for &c in &group {
            let state = self.children[c].state;
            if c != child && state.is_live() && !self.terminate.contains(&c) {
                self.terminate.push(c);
            }
            let respawn = c == child
                || (state.is_live() && self.children[c].spec.restart != RestartType::Temporary);
            if respawn && !self.spawn.contains(&c) {
                self.spawn.push(c);
            }
            if respawn {
                self.children[c].restarts += 1;
            }
        }
        self.terminate.sort_unstable_by(|a, b| b.cmp(a));
        self.spawn.sort_unstable();
    }

    fn halt(&mut self, reason: String, out: &mut Vec<Action>) {
        if matches!(
            self.phase,
            Phase::Stopping(Outcome::Halted { .. }) | Phase::Done
        ) {
            return;
        }
        out.push(Action::Log {
            message: format!("HALTING the engine: {reason}"),
        });
        out.push(Action::HaltEngine {
            reason: reason.clone(),
        });
        self.begin_stopping(Outcome::Halted { reason });
    }

    fn begin_stopping(&mut self, outcome: Outcome) {
        self.phase = Phase::Stopping(outcome);
        self.spawn.clear();
        self.terminate = (0..self.children.len())
            .rev()
            .filter(|&c| self.children[c].state.is_live())
            .collect();
    }

    /// Advance the plan: one termination at a time, then one start at a time.
    fn drive(&mut self, now_ms: u64, out: &mut Vec<Action>) {
        // Bounded: each pass either returns or removes an entry from a list.
        for _ in 0..=2 * self.children.len() + 1 {
            let terminating = self
                .children
                .iter()
                .any(|c| matches!(c.state, ChildState::Stopping { .. } | ChildState::Killing));
            if terminating {
                return;
            }
            if let Some(&next) = self.terminate.first() {
                self.terminate.remove(0);
                if self.children[next].state.is_live() {
                    self.children[next].state = ChildState::Stopping {
                        deadline_ms: now_ms + self.cfg.shutdown_timeout_ms,
                    };
                    out.push(Action::RequestStop { child: next });
                    return;
                }
                continue;
            }
            if let Phase::Stopping(outcome) = &self.phase {
                if self.children.iter().all(|c| !c.state.is_live()) {
                    out.push(Action::Exit {
                        outcome: outcome.clone(),
                    });
                    self.phase = Phase::Done;
                }
                return;
            }
            if self
                .children
                .iter()
                .any(|c| matches!(c.state, ChildState::Starting { .. }))
            {
                return;
            }
            if let Some(&next) = self.spawn.first() {
                self.spawn.remove(0);
                if self.children[next].state.is_live() {
                    continue; // Already running (e.g. scheduled twice).
                }
                let c = &mut self.children[next];
                c.state = ChildState::Starting {
                    deadline_ms: now_ms + self.cfg.start_timeout_ms,
                };
                c.heartbeat = None;
                c.heartbeat_changed_ms = now_ms;
                out.push(Action::Spawn { child: next });
                return;
            }
            if self.phase == Phase::Starting && !self.children.is_empty() {
                self.phase = Phase::Running;
                out.push(Action::Log {
                    message: format!("all {} children running", self.children.len()),
                });
            }
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;

    const SHUTDOWN_MS: u64 = 100;
    const HEARTBEAT_MS: u64 = 500;
    const START_MS: u64 = 1_000;

    fn cfg(strategy: Strategy, max_restarts: u32, period_ms: u64) -> Supervision {
        Supervision {
            strategy,
            max_restarts,
            period_ms,
            shutdown_timeout_ms: SHUTDOWN_MS,
            heartbeat_timeout_ms: HEARTBEAT_MS,
            start_timeout_ms: START_MS,
        }
    }

    fn child(name: &str, restart: RestartType) -> ChildSpec {
        ChildSpec {
            name: name.into(),
            restart,
            watched: true,
        }
    }

    /// Actions without the log lines.
    fn acts(actions: Vec<Action>) -> Vec<Action> {
        actions
            .into_iter()
            .filter(|a| !matches!(a, Log { .. }))
            .collect()
    }

    /// A policy whose children a, b, c (given restart types) are all running at t = 0.
    fn running(strategy: Strategy, types: [RestartType; 3], max_restarts: u32) -> Policy {
        let children = ["a", "b", "c"]
            .iter()
            .zip(types)
            .map(|(n, t)| child(n, t))
            .collect();
        let mut p = Policy::new(cfg(strategy, max_restarts, 10_000), children);
        assert_eq!(acts(p.handle(Event::Start, 0)), vec![Spawn { child: 0 }]);
        assert_eq!(
            acts(p.handle(Event::ChildReady { child: 0 }, 0)),
            vec![Spawn { child: 1 }]
        );
        assert_eq!(
            acts(p.handle(Event::ChildReady { child: 1 }, 0)),
            vec![Spawn { child: 2 }]
        );
        assert_eq!(acts(p.handle(Event::ChildReady { child: 2 }, 0)), vec![]);
        assert_eq!(p.engine_state(), EngineState::Running);
        p
    }

    use RestartType::{Permanent as P, Temporary as Tmp, Transient as Tr};

    fn exit(p: &mut Policy, child: usize, status: ExitStatus, now_ms: u64) -> Vec<Action> {
        acts(p.handle(Event::ChildExited { child, status }, now_ms))
    }

    fn ready(p: &mut Policy, child: usize, now_ms: u64) -> Vec<Action> {
        acts(p.handle(Event::ChildReady { child }, now_ms))
    }

    #[test]
    fn children_start_in_order_each_after_the_previous_is_ready() {
        let mut p = Policy::new(
            cfg(Strategy::OneForOne, 1, 1000),
            vec![child("a", P), child("b", P)],
        );
        assert_eq!(acts(p.handle(Event::Start, 0)), vec![Spawn { child: 0 }]);
        // Nothing else starts while `a` is not ready.
        assert_eq!(acts(p.handle(Event::Tick, 10)), vec![]);
        assert_eq!(ready(&mut p, 0, 20), vec![Spawn { child: 1 }]);
        assert_eq!(p.engine_state(), EngineState::Starting);
        assert_eq!(ready(&mut p, 1, 30), vec![]);
        assert_eq!(p.engine_state(), EngineState::Running);
    }

    #[test]
    fn permanent_child_is_restarted_after_normal_exit() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 5);
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Normal, 100),
            vec![Spawn { child: 1 }]
        );
        assert_eq!(p.restarts(1), 1);
    }

    #[test]
    fn permanent_child_is_restarted_after_a_crash() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 5);
        assert_eq!(
            exit(&mut p, 0, ExitStatus::Signal(libc::SIGSEGV), 100),
            vec![Spawn { child: 0 }]
        );
    }

    #[test]
    fn transient_child_not_restarted_after_normal_exit() {
        let mut p = running(Strategy::OneForOne, [P, Tr, P], 5);
        assert_eq!(exit(&mut p, 1, ExitStatus::Normal, 100), vec![]);
        assert_eq!(p.child_state(1), ChildState::Down);
        assert_eq!(p.engine_state(), EngineState::Running);
    }

    #[test]
    fn transient_child_restarted_after_abnormal_exit() {
        let mut p = running(Strategy::OneForOne, [P, Tr, P], 5);
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Code(3), 100),
            vec![Spawn { child: 1 }]
        );
        assert_eq!(ready(&mut p, 1, 110), vec![]);
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Signal(libc::SIGKILL), 200),
            vec![Spawn { child: 1 }]
        );
    }

    #[test]
    fn temporary_child_never_restarted() {
        let mut p = running(Strategy::OneForOne, [P, P, Tmp], 5);
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Signal(libc::SIGKILL), 100),
            vec![]
        );
        assert_eq!(p.child_state(2), ChildState::Removed);
    }

    #[test]
    fn temporary_sibling_is_terminated_and_not_restarted_by_one_for_all() {
        let mut p = running(Strategy::OneForAll, [P, P, Tmp], 5);
        // b fails: c (temporary) then a are terminated, then a and b restarted; c is removed.
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Code(1), 100),
            vec![RequestStop { child: 2 }]
        );
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Normal, 110),
            vec![RequestStop { child: 0 }]
        );
        assert_eq!(p.child_state(2), ChildState::Removed);
        assert_eq!(
            exit(&mut p, 0, ExitStatus::Normal, 120),
            vec![Spawn { child: 0 }]
        );
        assert_eq!(ready(&mut p, 0, 130), vec![Spawn { child: 1 }]);
        assert_eq!(ready(&mut p, 1, 140), vec![]);
        assert_eq!(p.child_state(2), ChildState::Removed);
        assert_eq!(p.engine_state(), EngineState::Running);
    }

    #[test]
    fn one_for_one_restarts_only_the_failed_child() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 5);
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Code(1), 100),
            vec![Spawn { child: 1 }]
        );
        assert_eq!(p.child_state(0), ChildState::Running);
        assert_eq!(p.child_state(2), ChildState::Running);
    }

    #[test]
    fn one_for_all_restarts_every_child() {
        let mut p = running(Strategy::OneForAll, [P, P, P], 5);
        // a fails: c then b terminated (reverse order, one at a time), then a, b, c started.
        assert_eq!(
            exit(&mut p, 0, ExitStatus::Code(1), 100),
            vec![RequestStop { child: 2 }]
        );
        assert_eq!(p.engine_state(), EngineState::Restarting);
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Normal, 110),
            vec![RequestStop { child: 1 }]
        );
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Normal, 120),
            vec![Spawn { child: 0 }]
        );
        assert_eq!(ready(&mut p, 0, 130), vec![Spawn { child: 1 }]);
        assert_eq!(ready(&mut p, 1, 140), vec![Spawn { child: 2 }]);
        assert_eq!(ready(&mut p, 2, 150), vec![]);
        assert_eq!(p.engine_state(), EngineState::Running);
        assert_eq!([p.restarts(0), p.restarts(1), p.restarts(2)], [1, 1, 1]);
    }

    #[test]
    fn rest_for_one_restarts_later_children() {
        let mut p = running(Strategy::RestForOne, [P, P, P], 5);
        // b fails: c terminated, then b and c started; a untouched.
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Code(1), 100),
            vec![RequestStop { child: 2 }]
        );
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Normal, 110),
            vec![Spawn { child: 1 }]
        );
        assert_eq!(ready(&mut p, 1, 120), vec![Spawn { child: 2 }]);
        assert_eq!(ready(&mut p, 2, 130), vec![]);
        assert_eq!(p.child_state(0), ChildState::Running);
        assert_eq!(p.restarts(0), 0);
    }

    #[test]
    fn rest_for_one_failure_of_last_child_restarts_only_it() {
        let mut p = running(Strategy::RestForOne, [P, P, P], 5);
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Code(1), 100),
            vec![Spawn { child: 2 }]
        );
    }

    #[test]
    fn sibling_that_ignores_stop_is_killed_after_shutdown_timeout() {
        let mut p = running(Strategy::OneForAll, [P, P, P], 5);
        assert_eq!(
            exit(&mut p, 0, ExitStatus::Code(1), 100),
            vec![RequestStop { child: 2 }]
        );
        assert_eq!(acts(p.handle(Event::Tick, 100 + SHUTDOWN_MS - 1)), vec![]);
        assert_eq!(
            acts(p.handle(Event::Tick, 100 + SHUTDOWN_MS)),
            vec![Kill { child: 2 }]
        );
        // Killed during a planned termination: not a failure, no extra restart counted.
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Signal(libc::SIGKILL), 210),
            vec![RequestStop { child: 1 }]
        );
        assert_eq!(p.restarts(2), 1);
    }

    #[test]
    fn intensity_exceeded_halts_engine() {
        // At most 2 restarts in 10 s: the third failure within the window halts.
        let mut p = running(Strategy::OneForOne, [P, P, P], 2);
        assert_eq!(
            exit(&mut p, 0, ExitStatus::Code(1), 1_000),
            vec![Spawn { child: 0 }]
        );
        ready(&mut p, 0, 1_010);
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Code(1), 2_000),
            vec![Spawn { child: 1 }]
        );
        ready(&mut p, 1, 2_010);
        let actions = p.handle(
            Event::ChildExited {
                child: 0,
                status: ExitStatus::Signal(libc::SIGKILL),
            },
            3_000,
        );
        let halt = actions
            .iter()
            .find_map(|a| match a {
                HaltEngine { reason } => Some(reason.clone()),
                _ => None,
            })
            .expect("a HaltEngine action");
        assert!(halt.contains("restart intensity exceeded"), "{halt}");
        assert!(
            halt.contains("3 restarts within 10000 ms (limit 2)"),
            "{halt}"
        );
        assert!(halt.contains("`a`"), "{halt}");
        // The survivors are terminated in reverse order, then the supervisor exits.
        assert_eq!(
            acts(actions),
            vec![
                HaltEngine {
                    reason: halt.clone()
                },
                RequestStop { child: 2 }
            ]
        );
        assert_eq!(p.engine_state(), EngineState::Halted);
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Normal, 3_010),
            vec![RequestStop { child: 1 }]
        );
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Normal, 3_020),
            vec![Exit {
                outcome: Outcome::Halted { reason: halt }
            }]
        );
        assert_eq!(p.engine_state(), EngineState::Done);
        assert_eq!(acts(p.handle(Event::Tick, 4_000)), vec![]);
    }

    #[test]
    fn zero_intensity_halts_at_the_first_restart() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 0);
        let actions = exit(&mut p, 1, ExitStatus::Code(1), 100);
        assert!(matches!(actions[0], HaltEngine { .. }), "{actions:?}");
    }

    #[test]
    fn restarts_outside_period_do_not_count() {
        // 2 restarts per 10 s; failures 6 s apart never have more than 2 in a window.
        let mut p = running(Strategy::OneForOne, [P, P, P], 2);
        for i in 0..10u64 {
            let t = 1_000 + i * 6_000;
            assert_eq!(
                exit(&mut p, 0, ExitStatus::Code(1), t),
                vec![Spawn { child: 0 }],
                "failure {i} at {t} ms"
            );
            ready(&mut p, 0, t + 10);
        }
        assert_eq!(p.engine_state(), EngineState::Running);
    }

    #[test]
    fn restart_exactly_one_period_later_is_outside_the_window() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 1);
        assert_eq!(
            exit(&mut p, 0, ExitStatus::Code(1), 20_000),
            vec![Spawn { child: 0 }]
        );
        ready(&mut p, 0, 20_001);
        // 10 000 ms later the first restart has left the (10 000 ms) window.
        assert_eq!(
            exit(&mut p, 0, ExitStatus::Code(1), 30_000),
            vec![Spawn { child: 0 }]
        );
        ready(&mut p, 0, 30_001);
        // But a third only 1 ms after the second is within it: 2 restarts > 1.
        let actions = exit(&mut p, 0, ExitStatus::Code(1), 30_002);
        assert!(matches!(actions[0], HaltEngine { .. }), "{actions:?}");
    }

    #[test]
    fn stalled_heartbeat_kills_and_restarts_the_child() {
        let mut p = running(Strategy::OneForOne, [P, Tr, P], 5);
        // b's heartbeat advances until 300 ms, then stops; a and c keep beating.
        for t in (0..=300).step_by(100) {
            p.handle(Event::Heartbeat { child: 1, count: t }, t);
        }
        for t in (0..=1_000).step_by(100) {
            p.handle(Event::Heartbeat { child: 0, count: t }, t);
            p.handle(Event::Heartbeat { child: 2, count: t }, t);
            p.handle(
                Event::Heartbeat {
                    child: 1,
                    count: 300,
                },
                t,
            );
            let actions = acts(p.handle(Event::Tick, t));
            if t < 300 + HEARTBEAT_MS {
                assert_eq!(actions, vec![], "at {t} ms");
            } else if t == 300 + HEARTBEAT_MS {
                assert_eq!(actions, vec![Kill { child: 1 }], "at {t} ms");
            }
        }
        // A transient child killed for stalling exited abnormally: it is restarted, whatever
        // status the SIGKILL produced.
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Signal(libc::SIGKILL), 1_001),
            vec![Spawn { child: 1 }]
        );
    }

    #[test]
    fn child_that_never_becomes_ready_is_killed_and_restarted() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 5);
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Code(1), 100),
            vec![Spawn { child: 1 }]
        );
        // a and c keep beating; b never reports ready.
        p.handle(Event::Heartbeat { child: 0, count: 1 }, 100 + START_MS);
        p.handle(Event::Heartbeat { child: 2, count: 1 }, 100 + START_MS);
        assert_eq!(acts(p.handle(Event::Tick, 100 + START_MS - 1)), vec![]);
        assert_eq!(
            acts(p.handle(Event::Tick, 100 + START_MS)),
            vec![Kill { child: 1 }]
        );
        assert_eq!(
            exit(
                &mut p,
                1,
                ExitStatus::Signal(libc::SIGKILL),
                100 + START_MS + 1
            ),
            vec![Spawn { child: 1 }]
        );
        assert_eq!(p.restarts(1), 2);
    }

    #[test]
    fn failure_during_start_up_aborts_the_start() {
        let mut p = Policy::new(
            cfg(Strategy::OneForOne, 5, 1000),
            vec![child("a", P), child("b", P)],
        );
        p.handle(Event::Start, 0);
        ready(&mut p, 0, 1);
        let actions = exit(&mut p, 1, ExitStatus::Code(2), 2);
        let reason = match &actions[0] {
            HaltEngine { reason } => reason.clone(),
            other => panic!("expected a halt, got {other:?}"),
        };
        assert!(
            reason.contains("`b` exited (exit status 2) during start-up"),
            "{reason}"
        );
        assert_eq!(actions[1], RequestStop { child: 0 });
    }

    #[test]
    fn spawn_failure_counts_as_a_failure() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 1);
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Code(1), 100),
            vec![Spawn { child: 2 }]
        );
        let actions = acts(p.handle(
            Event::SpawnFailed {
                child: 2,
                error: "ENOMEM".into(),
            },
            101,
        ));
        assert!(matches!(&actions[0], HaltEngine { reason } if reason.contains("ENOMEM")));
    }

    #[test]
    fn stop_terminates_children_in_reverse_order_then_exits() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 5);
        assert_eq!(
            acts(p.handle(Event::StopRequested, 100)),
            vec![RequestStop { child: 2 }]
        );
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Normal, 110),
            vec![RequestStop { child: 1 }]
        );
        // A child that ignores the request is killed at the deadline; stopping goes on.
        assert_eq!(
            acts(p.handle(Event::Tick, 110 + SHUTDOWN_MS)),
            vec![Kill { child: 1 }]
        );
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Signal(libc::SIGKILL), 215),
            vec![RequestStop { child: 0 }]
        );
        // Permanent or not, nothing is restarted while stopping.
        assert_eq!(
            exit(&mut p, 0, ExitStatus::Code(1), 220),
            vec![Exit {
                outcome: Outcome::Stopped
            }]
        );
    }

    #[test]
    fn second_stop_request_kills_the_remaining_children_at_once() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 5);
        assert_eq!(
            acts(p.handle(Event::StopRequested, 100)),
            vec![RequestStop { child: 2 }]
        );
        assert_eq!(
            acts(p.handle(Event::StopRequested, 110)),
            vec![Kill { child: 2 }, Kill { child: 1 }, Kill { child: 0 }]
        );
        assert_eq!(
            exit(&mut p, 0, ExitStatus::Signal(libc::SIGKILL), 111),
            vec![]
        );
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Signal(libc::SIGKILL), 112),
            vec![]
        );
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Signal(libc::SIGKILL), 113),
            vec![Exit {
                outcome: Outcome::Stopped
            }]
        );
    }

    #[test]
    fn operator_restart_restarts_only_that_child_and_does_not_count() {
        let mut p = running(Strategy::OneForAll, [P, P, Tmp], 0);
        assert_eq!(
            acts(p.handle(Event::RestartRequested { child: 2 }, 100)),
            vec![RequestStop { child: 2 }]
        );
        // Even a temporary child comes back when the operator asks.
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Normal, 110),
            vec![Spawn { child: 2 }]
        );
        assert_eq!(ready(&mut p, 2, 120), vec![]);
        assert_eq!(p.engine_state(), EngineState::Running);
        assert_eq!(p.restarts(2), 1);
        assert_eq!(p.child_state(0), ChildState::Running);
    }

    #[test]
    fn sentinel_restart_kills_and_counts_towards_intensity() {
        let mut p = running(Strategy::OneForOne, [P, P, Tr], 0);
        let actions = acts(p.handle(
            Event::EmergencyRestart {
                child: 2,
                reason: "rtt 40ms".into(),
            },
            100,
        ));
        assert_eq!(actions, vec![Kill { child: 2 }]);
        // Intensity 0: the restart that follows halts.
        let actions = exit(&mut p, 2, ExitStatus::Signal(libc::SIGKILL), 101);
        assert!(matches!(&actions[0], HaltEngine { reason } if reason.contains("rtt 40ms")));
    }

    #[test]
    fn sentinel_halt_halts_and_terminates_everything() {
        let mut p = running(Strategy::OneForOne, [P, P, P], 5);
        let actions = acts(p.handle(
            Event::EmergencyHalt {
                reason: "daily loss limit".into(),
            },
            100,
        ));
        assert_eq!(
            actions,
            vec![
                HaltEngine {
                    reason: "Sentinel halted the engine: daily loss limit".into()
                },
                RequestStop { child: 2 }
            ]
        );
        assert_eq!(p.engine_state(), EngineState::Halted);
    }

    #[test]
    fn failure_during_a_restart_plan_is_merged_into_it() {
        let mut p = running(Strategy::RestForOne, [P, P, P], 5);
        assert_eq!(
            exit(&mut p, 1, ExitStatus::Code(1), 100),
            vec![RequestStop { child: 2 }]
        );
        // While c is stopping, a fails too: now everything from a on is restarted.
        assert_eq!(exit(&mut p, 0, ExitStatus::Code(1), 105), vec![]);
        assert_eq!(
            exit(&mut p, 2, ExitStatus::Normal, 110),
            vec![Spawn { child: 0 }]
        );
        assert_eq!(ready(&mut p, 0, 120), vec![Spawn { child: 1 }]);
        assert_eq!(ready(&mut p, 1, 130), vec![Spawn { child: 2 }]);
        assert_eq!(ready(&mut p, 2, 140), vec![]);
        assert_eq!(p.engine_state(), EngineState::Running);
    }
}
