//! The example of a user's own actor kind (`supervisor/examples/custom_actor.rs`), run as users
//! run it: its own binary, the whole engine of topology.ron plus the `momentum` strategy on one
//! more line, trading against the simulated venue. Its intents must become orders through
//! Execution, it must be supervised like a built-in actor (SIGKILL → restarted, carrying on),
//! the CLI of that binary must know it, and after the kill switch no intent becomes an order.
//! Reading Execution's answers, the strategy keeps at most one order working; SIGKILLed while
//! that order works, Execution comes back knowing the order is the strategy's and ends its life
//! for it.

mod common;
use common::*;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use runtime::control::{actor_state, ControlBlock};
use runtime::msg::{intent_event_kind as iek, order_event_kind as oek, IntentEvent};
use runtime::ring::Recv;
use runtime::rings::{IntentEventRing, INTENT_EVENTS_RING};

const EXECUTION: usize = 4;
/// The strategy's slot: after the six engine actors.
const MOMO: usize = 6;

/// The example's binary, built (or brought up to date) by the cargo that runs this test, so a
/// test of the example never runs a stale one.
fn example_binary() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--locked",
            "-p",
            "supervisor",
            "--example",
            "custom_actor",
            "--message-format=short",
        ])
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building the example failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // target/<profile>/deps/<this test> → target/<profile>/examples/custom_actor
    let exe = std::env::current_exe().unwrap();
    let bin = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap()
        .join("examples")
        .join("custom_actor");
    assert!(bin.is_file(), "no example binary at {}", bin.display());
    bin
}

fn all_running(c: &ControlBlock) -> bool {
    c.actor_count() == MOMO + 1
        && (0..c.actor_count()).all(|i| c.slot(i).state() == actor_state::RUNNING)
}

#[test]
fn a_user_strategy_actor_trades_through_execution_is_supervised_and_stops_at_the_kill_switch() {
    let bin = example_binary();
    watchdog(Duration::from_secs(300), move || {
        let mut e = Engine::start_with(
            &bin,
            "custom",
            1_000,
            "(name: \"momo\", kind: \"momentum\", core: 1, idle: Backoff(), restart: permanent, \
             config: Some(\"momentum.ron\")),\n",
            // A one-tick move triggers, so intents come within seconds of simulated trading.
            &[("momentum.ron", "(threshold_ticks: 1, md_cursor: 5)\n")],
        );
        let c = e.control();
        wait_until("every actor RUNNING, the strategy too", DEADLINE, || {
            all_running(&c)
        });

        // The example's CLI is the standard one and knows the user's kind.
        let (code, out, err) = e.cli(&["status", "--json"]);
        assert_eq!(code, 0, "{out}{err}");
        let status: serde_json::Value = serde_json::from_str(&out).expect("status --json");
        let momo = status["actors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["name"] == "momo")
            .unwrap_or_else(|| panic!("no momo in {out}"));
        assert_eq!(momo["kind"], "momentum");
        assert_eq!(momo["core"], 1);
        assert_eq!(momo["state"], "RUNNING");

        // What Execution tells the strategy, read beside it (cursor 6; the strategy has 5).
        let dir = e.shm_dir();
        let mut answers = IntentEventRing::attach(&dir, INTENT_EVENTS_RING)
            .unwrap()
            .subscribe(6)
            .unwrap();
        let mut events: Vec<IntentEvent> = vec![];
        let mut drain = |events: &mut Vec<IntentEvent>| loop {
            match answers.poll() {
                Recv::Msg { msg, .. } => events.push(msg),
                Recv::Overrun { lost } => panic!("{lost} answers lost"),
                Recv::Empty => break,
            }
        };

        // Its intents become orders at the venue, through Execution.
        wait_until(
            "three of the strategy's intents placed as orders",
            Duration::from_secs(90),
            || {
                drain(&mut events);
                exec_t(&c).intents_placed >= 3
            },
        );
        let x = exec_t(&c);
        assert!(
            x.intents_placed + x.intents_refused <= x.intents,
            "placed {} + refused {} of {} received",
            x.intents_placed,
            x.intents_refused,
            x.intents
        );
        assert!(x.orders_sent >= x.intents_placed);
        assert_eq!(
            x.intents_refused, 0,
            "the example asks for what Execution takes (passive LIMIT DAY at the touch, on the \
             instrument's tick): nothing refused for what it asks"
        );

        // The strategy waits for its order's end before the next: never two working at once.
        drain(&mut events);
        assert_eq!(replay(&events).1, 1, "a second order while one works");
        assert!(events.iter().filter(|v| v.kind == oek::SENT).count() >= 3);

        // Supervised like a built-in kind: SIGKILLed, it comes back and carries on.
        let pid = c.slot(MOMO).pid();
        assert_ne!(pid, 0);
        let before = exec_t(&c).intents;
        // Safety: kill(2) on the strategy process of the engine under test (pid just read).
        unsafe { libc::kill(pid as i32, libc::SIGKILL) };
        wait_until("the strategy restarted", DEADLINE, || {
            let s = c.slot(MOMO);
            s.state() == actor_state::RUNNING && s.pid() != pid && s.restarts() >= 1
        });
        wait_until(
            "intents from the restarted strategy",
            Duration::from_secs(90),
            || exec_t(&c).intents > before,
        );

        // Execution SIGKILLed while the strategy's order works: the restarted Execution knows
        // from the journal that the order was the strategy's, and ends its life for it (GONE if
        // the venue no longer lists it, else its cancel), so the strategy carries on.
        wait_until(
            "one of the strategy's orders working",
            Duration::from_secs(90),
            || {
                drain(&mut events);
                !replay(&events).0.is_empty()
            },
        );
        let exec_pid = c.slot(EXECUTION).pid();
        // Safety: kill(2) on the Execution process of the engine under test (pid just read).
        unsafe { libc::kill(exec_pid as i32, libc::SIGKILL) };
        let at_kill = replay(&events).0;
        wait_until("Execution restarted", DEADLINE, || {
            let s = c.slot(EXECUTION);
            s.state() == actor_state::RUNNING && s.pid() != exec_pid
        });
        wait_until(
            "the orders working at Execution's SIGKILL ended for their strategy",
            Duration::from_secs(30),
            || {
                drain(&mut events);
                let now = replay(&events).0;
                at_kill.iter().all(|w| !now.contains(w))
            },
        );
        let n = events.len();
        wait_until(
            "an order of the strategy after Execution's restart",
            Duration::from_secs(90),
            || {
                drain(&mut events);
                events[n..].iter().any(|v| v.kind == oek::SENT)
            },
        );

        // Kill switch: the strategy and Execution halt, nothing more becomes an order.
        let (code, out, err) = e.cli(&["kill", "--reason", "test over", "--by", "test"]);
        assert_eq!(code, 0, "{out}{err}");
        wait_until(
            "strategy and Execution halted, no order open",
            DEADLINE,
            || {
                c.slot(MOMO).state() == actor_state::HALTED
                    && c.slot(EXECUTION).state() == actor_state::HALTED
                    && exec_t(&c).open_orders == 0
            },
        );
        // Telemetry published after the halt (an older copy may miss the last decisions).
        let halted_ns = runtime::clock::monotonic_ns();
        wait_until("Execution's telemetry after the halt", DEADLINE, || {
            exec_t(&c).updated_ns > halted_ns
        });
        let at_halt = exec_t(&c);
        // Every actor is halted, so no input arrives; what could still send is Execution's
        // timers, whose longest is the 200 ms cancel. A second is five of them.
        std::thread::sleep(Duration::from_secs(1));
        let later = exec_t(&c);
        assert_eq!(
            (later.orders_sent, later.intents, later.intents_placed),
            (at_halt.orders_sent, at_halt.intents, at_halt.intents_placed),
            "an order left after the kill switch"
        );
        // Every order the strategy had has ended, and it was told so under its intent.
        drain(&mut events);
        assert_eq!(replay(&events).0, []);
        e.assert_supervisor_alive();
    });
}

/// What a strategy was told, replayed: the orders (client order id, intent seq) still working
/// after the last event, and the most that worked at once. Every end of an order (filled,
/// cancelled, rejected, gone) must be of a working order, under the intent that placed it.
fn replay(events: &[IntentEvent]) -> (Vec<(u64, u64)>, usize) {
    let mut working: Vec<(u64, u64)> = vec![];
    let mut most = 0;
    for ev in events {
        match ev.kind {
            oek::SENT => {
                working.push((ev.client_order_id, ev.intent_seq));
                most = most.max(working.len());
            }
            oek::FILLED | oek::CANCELLED | oek::REJECTED | iek::GONE => {
                let i = working
                    .iter()
                    .position(|&w| w == (ev.client_order_id, ev.intent_seq))
                    .unwrap_or_else(|| panic!("the end of an order not working: {ev:?}"));
                working.remove(i);
            }
            _ => {}
        }
    }
    (working, most)
}
