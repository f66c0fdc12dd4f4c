//! The control block: kill switch latch, re-arm, engine words, actor slots and telemetry, seen
//! through two separate mappings of the same file as two processes would.

use runtime::control::{
    actor_state, engine_state, engine_state_name, ActorCounters, ActorSpec, ControlBlock,
    ControlError, OrderBlock, CONTROL_FILE, MAX_ACTORS,
};
use runtime::shm::{AttachError, Region, RegionKind, RegionSpec, ShmDir};
use runtime::telemetry::{
    gate_check, lockdown_reason, OracleTelemetry, SentinelTelemetry, REGIME_ATTACK, REGIME_VETO,
};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

fn watchdog(limit: Duration) -> Arc<AtomicBool> {
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    std::thread::spawn(move || {
        let start = Instant::now();
        while !flag.load(Ordering::Acquire) {
            if start.elapsed() > limit {
                eprintln!("watchdog: control test still running after {limit:?}");
                std::process::abort();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    done
}

fn actors() -> Vec<ActorSpec> {
    vec![
        ActorSpec::new("feed", "feed", Some(1)),
        ActorSpec::new("oracle", "oracle", Some(1)),
        ActorSpec::new("execution", "execution", None),
    ]
}

/// A fresh engine directory and its block, plus a second, independent mapping of the block.
fn two_mappings() -> (tempfile::TempDir, ControlBlock, ControlBlock) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = ShmDir::create(Some(tmp.path()), "eng").unwrap();
    let creator = ControlBlock::create(&dir, "eng", &actors()).unwrap();
    let attached = ControlBlock::attach(&ShmDir::open(Some(tmp.path()), "eng").unwrap()).unwrap();
    (tmp, creator, attached)
}

#[test]
fn kill_switch_first_writer_wins_across_threads() {
    let done = watchdog(Duration::from_secs(30));
    let block = Arc::new(ControlBlock::anonymous("eng", &actors()).unwrap());
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let block = block.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                block.kill(&format!("thread-{i}"), &format!("reason {i}"))
            })
        })
        .collect();
    let won: Vec<usize> = handles
        .into_iter()
        .enumerate()
        .filter_map(|(i, h)| h.join().unwrap().then_some(i))
        .collect();
    assert_eq!(won.len(), 1, "exactly one kill call must win, got {won:?}");
    let winner = won[0];
    let info = block.kill_info().expect("killed");
    assert_eq!(info.by, format!("thread-{winner}"));
    assert_eq!(info.reason, format!("reason {winner}"));
    assert_eq!(info.kill_number, 1);
    assert!(info.details_complete);
    assert!(block.is_killed());
    assert_eq!(block.kill_count(), 1);
    // Later callers still lose and do not overwrite the details.
    assert!(!block.kill("late", "too late"));
    assert_eq!(block.kill_info().unwrap().by, format!("thread-{winner}"));
    done.store(true, Ordering::Release);
}

#[test]
fn kill_latches_until_an_explicit_rearm() {
    let block = ControlBlock::anonymous("eng", &actors()).unwrap();
    assert!(!block.is_killed());
    assert_eq!(block.kill_info(), None);
    assert!(!block.rearm("op"), "re-arming an armed switch is a no-op");
    assert_eq!(block.last_rearm(), None);

    block.set_engine_state(engine_state::RUNNING, 10);
    assert!(block.kill_at(
        "ui",
        "operator pressed kill",
        1_000,
        1_700_000_000_000_000_000
    ));
    assert_eq!(block.kill_word(), 1_000);
    assert_eq!(block.engine_state(), engine_state::HALTED);
    let info = block.kill_info().unwrap();
    assert_eq!(
        (
            info.by.as_str(),
            info.reason.as_str(),
            info.mono_ns,
            info.wall_ns
        ),
        (
            "ui",
            "operator pressed kill",
            1_000,
            1_700_000_000_000_000_000
        )
    );

    assert!(block.rearm_at("alice", 2_000, 1_700_000_000_500_000_000));
    assert!(!block.is_killed());
    assert_eq!(block.kill_info(), None);
    assert_eq!(block.engine_state(), engine_state::RUNNING);
    let rearm = block.last_rearm().unwrap();
    assert_eq!((rearm.by.as_str(), rearm.rearm_number), ("alice", 1));
    assert_eq!(block.kill_generation(), 2);

    // A second kill is a new latch with its own details and number.
    assert!(block.kill_at("sentinel", "daily loss limit", 3_000, 1));
    let info = block.kill_info().unwrap();
    assert_eq!((info.by.as_str(), info.kill_number), ("sentinel", 2));
    assert_eq!(block.kill_generation(), 3);
}

#[test]
fn kill_time_zero_still_reads_as_killed() {
    let block = ControlBlock::anonymous("eng", &[]).unwrap();
    assert!(block.kill_at("test", "clock at zero", 0, 0));
    assert!(block.is_killed());
    assert_eq!(block.kill_word(), 1);
}

#[test]
fn long_kill_texts_are_cut_at_character_boundaries() {
    let block = ControlBlock::anonymous("eng", &[]).unwrap();
    let by = "operator-with-a-very-long-name-indeed-yes";
    let reason = "₹".repeat(40); // 120 bytes; 96 hold 32 rupee signs
    assert!(block.kill(by, &reason));
    let info = block.kill_info().unwrap();
    assert_eq!(info.by, &by[..32]);
    assert_eq!(info.reason, "₹".repeat(32));
}

#[test]
fn a_second_mapping_sees_every_kind_of_write() {
    let (_tmp, a, b) = two_mappings();
    assert_eq!(b.engine_name(), "eng");
    assert_eq!(b.actor_count(), 3);

    a.set_supervisor_pid(4242);
    a.set_engine_state(engine_state::RUNNING, 5);
    assert_eq!(b.supervisor_pid(), 4242);
    assert_eq!(engine_state_name(b.engine_state()), "RUNNING");

    // Kill through the attached mapping, observed by the creator's.
    assert!(b.kill_at("cli", "test", 77, 88));
    assert!(a.is_killed());
    assert_eq!(a.kill_info().unwrap().by, "cli");
    assert!(a.rearm("cli"));
    assert!(!b.is_killed());

    a.set_regime(REGIME_ATTACK, 0.25, 100);
    a.set_gate(false, gate_check::CROSSED_BOOK, 101);
    a.set_lockdown(true, lockdown_reason::ACK_TIMEOUT, 102);
    assert_eq!(b.regime(), (REGIME_ATTACK, 0.25, 100));
    assert_eq!(b.gate(), (false, gate_check::CROSSED_BOOK, 101));
    assert_eq!(b.lockdown(), (true, lockdown_reason::ACK_TIMEOUT, 102));

    let slot = a.slot(a.find("oracle").unwrap());
    slot.beat(500);
    slot.beat(600);
    slot.set_counters(
        ActorCounters {
            msgs_in: 10,
            msgs_out: 4,
            errors: 1,
        },
        600,
    );
    let seen = b.slot(1);
    assert_eq!((seen.heartbeat(), seen.last_progress_ns()), (2, 600));
    assert_eq!(seen.counters().msgs_out, 4);

    let oracle = OracleTelemetry {
        md_seq: 9,
        wobi: -0.5,
        level_imbalance: [0.125; 8],
        ..Default::default()
    };
    a.oracle_telemetry().write(&oracle);
    assert_eq!(b.oracle_telemetry().read(), Some(oracle));
    let mut sentinel = SentinelTelemetry {
        rtt_p99_ns: 21_000_000,
        ..Default::default()
    };
    sentinel.set_last_emergency("halt: rtt");
    b.sentinel_telemetry().write(&sentinel);
    assert_eq!(
        a.sentinel_telemetry().read().unwrap().last_emergency(),
        "halt: rtt"
    );

    assert_eq!(b.venue_latency_changes(), 0);
    b.set_venue_latency(5_000_000, 1_000_000);
    let (latency, changes) = a.venue_latency().unwrap();
    assert_eq!(
        (latency.one_way_ns, latency.jitter_ns, changes),
        (5_000_000, 1_000_000, 1)
    );
}

#[test]
fn slots_keep_identity_and_lifecycle() {
    let (_tmp, a, b) = two_mappings();
    let names: Vec<_> = b
        .actors()
        .map(|s| (s.index(), s.name(), s.kind(), s.core()))
        .collect();
    assert_eq!(
        names,
        [
            (0, "feed".to_owned(), "feed".to_owned(), Some(1)),
            (1, "oracle".to_owned(), "oracle".to_owned(), Some(1)),
            (2, "execution".to_owned(), "execution".to_owned(), None),
        ]
    );
    assert_eq!(b.find("execution"), Some(2));
    assert_eq!(b.find("exec"), None);
    assert_eq!(b.find(""), None);
    assert!(b.get_slot(MAX_ACTORS).is_none());

    let feed = a.slot(0);
    assert_eq!(feed.state(), actor_state::EMPTY);
    assert_eq!(feed.begin_incarnation(100, 1_000, false), 1);
    assert_eq!(
        (b.slot(0).pid(), b.slot(0).state()),
        (100, actor_state::STARTING)
    );
    b.slot(0).set_state(actor_state::RUNNING);
    b.slot(0).record_kill_seen(1_500, 300);
    b.slot(0).request_stop();
    // Dies: DEAD, pid cleared, exit status kept.
    feed.mark_exited(9);
    assert_eq!(
        (feed.state(), feed.pid(), feed.last_exit_status()),
        (actor_state::DEAD, 0, 9)
    );
    // Restarted: generation and restarts count, per-incarnation words cleared.
    assert_eq!(feed.begin_incarnation(101, 2_000, true), 2);
    let s = b.slot(0).snapshot();
    assert_eq!(
        (s.generation, s.restarts, s.pid, s.started_ns),
        (2, 1, 101, 2_000)
    );
    assert_eq!((s.kill_seen_ns, s.stop_requested), (0, false));
    // A clean stop is not turned into DEAD by the exit that follows it.
    feed.set_state(actor_state::STOPPED);
    feed.mark_exited(0);
    assert_eq!(feed.state(), actor_state::STOPPED);
}

#[test]
fn order_block_reports_the_first_reason_in_priority_order() {
    let block = ControlBlock::anonymous("eng", &[]).unwrap();
    // A fresh block: gate closed (0) and regime unknown: nothing may trade until Sonar says so.
    assert_eq!(block.order_block(), Some(OrderBlock::Gate(0)));
    block.set_gate(true, gate_check::NONE, 1);
    assert_eq!(block.order_block(), Some(OrderBlock::Regime(0)));
    block.set_regime(REGIME_VETO, 0.9, 2);
    assert_eq!(block.order_block(), Some(OrderBlock::Regime(REGIME_VETO)));
    block.set_regime(REGIME_ATTACK, 0.1, 3);
    assert_eq!(block.order_block(), None);
    block.set_gate(false, gate_check::STALE_DATA, 4);
    assert_eq!(
        block.order_block(),
        Some(OrderBlock::Gate(gate_check::STALE_DATA))
    );
    block.set_lockdown(true, lockdown_reason::RTT_OVER_THRESHOLD, 5);
    assert_eq!(
        block.order_block(),
        Some(OrderBlock::Lockdown(lockdown_reason::RTT_OVER_THRESHOLD))
    );
    block.kill("t", "t");
    assert_eq!(block.order_block(), Some(OrderBlock::Kill));
}

#[test]
fn effective_state_shows_halt_and_lockdown() {
    let block = ControlBlock::anonymous("eng", &[]).unwrap();
    block.set_engine_state(engine_state::RUNNING, 1);
    block.set_lockdown(true, lockdown_reason::ACK_TIMEOUT, 7);
    assert_eq!(block.effective_engine_state(), engine_state::LOCKDOWN);
    assert_eq!(block.lockdown(), (true, lockdown_reason::ACK_TIMEOUT, 7));
    // The start of a lockdown is kept while it lasts.
    block.set_lockdown(true, lockdown_reason::RTT_OVER_THRESHOLD, 9);
    assert_eq!(block.lockdown().2, 7);
    block.set_lockdown(false, lockdown_reason::NONE, 10);
    assert_eq!(block.lockdown(), (false, 0, 0));
    assert_eq!(block.effective_engine_state(), engine_state::RUNNING);
    block.kill("t", "t");
    assert_eq!(block.effective_engine_state(), engine_state::HALTED);
}

#[test]
fn bad_actor_lists_are_refused_with_the_cause() {
    let too_many: Vec<_> = (0..MAX_ACTORS + 1)
        .map(|i| ActorSpec::new(&format!("a{i}"), "feed", None))
        .collect();
    assert!(matches!(
        ControlBlock::anonymous("eng", &too_many),
        Err(ControlError::TooManyActors { count: 33, max: 32 })
    ));
    let dup = [
        ActorSpec::new("x", "feed", None),
        ActorSpec::new("x", "oracle", None),
    ];
    assert!(matches!(
        ControlBlock::anonymous("eng", &dup),
        Err(ControlError::DuplicateActor { name }) if name == "x"
    ));
    let long = [ActorSpec::new(&"n".repeat(33), "feed", None)];
    assert!(matches!(
        ControlBlock::anonymous("eng", &long),
        Err(ControlError::BadActorName { .. })
    ));
    let kind = [ActorSpec::new("n", "", None)];
    assert!(matches!(
        ControlBlock::anonymous("eng", &kind),
        Err(ControlError::BadActorKind { .. })
    ));
    assert!(matches!(
        ControlBlock::anonymous("", &[]),
        Err(ControlError::BadEngineName { .. })
    ));
}

#[test]
fn attach_refuses_a_missing_or_foreign_block() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = ShmDir::create(Some(tmp.path()), "eng").unwrap();
    let missing = ControlBlock::attach(&dir).unwrap_err();
    assert!(
        matches!(missing, ControlError::Attach(AttachError::NotFound { .. })),
        "{missing}"
    );
    // Something else under the control block's name: refused, not reinterpreted.
    Region::create(
        &dir,
        CONTROL_FILE,
        RegionSpec {
            kind: RegionKind::Spsc,
            capacity: 64,
            slot_size: 128,
            payload_bytes: 64 * 128,
        },
    )
    .unwrap();
    let foreign = ControlBlock::attach(&dir).unwrap_err();
    assert!(
        matches!(foreign, ControlError::Attach(AttachError::Kind { .. })),
        "{foreign}"
    );
    // And create does not clobber it.
    assert!(matches!(
        ControlBlock::create(&dir, "eng", &[]),
        Err(ControlError::Shm(_))
    ));
}

#[test]
fn create_or_attach_reuses_only_a_block_made_for_the_same_actors() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = ShmDir::create(Some(tmp.path()), "eng").unwrap();
    let first = ControlBlock::create_or_attach(&dir, "eng", &actors()).unwrap();
    first.slot(2).beat(9);
    // A restarted supervisor with the same topology finds the running engine's block.
    let again = ControlBlock::create_or_attach(&dir, "eng", &actors()).unwrap();
    assert_eq!(again.slot(2).heartbeat(), 1);
    // Another actor list is refused, naming what the block holds.
    let mut other = actors();
    other[1].core = Some(0);
    let err = ControlBlock::create_or_attach(&dir, "eng", &other).unwrap_err();
    match err {
        ControlError::ActorsDiffer { found, .. } => {
            assert_eq!(found, ["feed", "oracle", "execution"])
        }
        e => panic!("unexpected {e}"),
    }
    assert!(ControlBlock::create_or_attach(&dir, "eng", &actors()[..2]).is_err());
}
