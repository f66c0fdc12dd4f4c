//! The order journal: recovery after a crash in the middle of an order's life
//! (torn last record), reconciliation with the venue, and damaged files.
mod common;
use actors::execution::costs::{CostSchedule, CostTable, Date};
use actors::execution::journal::{
    jkind, FsyncPolicy, Journal, JournalError, RecoveredOrderState, HEADER_LEN, RECORD_LEN,
};
use actors::execution::nev::NevConfig;
use actors::execution::{
    BlockReason, ExecAction, ExecActions, ExecError, Execution, ExecutionConfig, Gates, VenueEvent,
    VenueOrder,
};
use actors::sonar::Regime;
use common::{e8, MS};
use runtime::msg::{order_event_kind as oek, side, Signal};
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

fn table() -> CostTable {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/costs"));
    CostSchedule::load_dir(&dir)
        .unwrap()
        .for_date(Date::parse("2026-06-01").unwrap())
        .unwrap()
        .clone()
}

fn cfg() -> ExecutionConfig {
    ExecutionConfig {
        tick_size_e8: e8(0.05),
        order_qty_e8: e8(2.0),
        // Keep the record sequence short: no re-pegging modifications here.
        repeg: false,
        nev: NevConfig {
            alpha_ticks_at_full_strength: 200.0,
            fill_prob_prior: 0.5,
            ..Default::default()
        },
        ..Default::default()
    }
}

const OPEN: Gates = Gates {
    regime: Regime::Attack,
    gate_check: 0,
    lockdown: false,
};

fn sig(bid: f64, ask: f64, strength: f64) -> Signal {
    Signal {
        instrument_id: 1,
        best_bid_e8: e8(bid),
        best_ask_e8: e8(ask),
        microprice_e8: (e8(bid) + e8(ask)) / 2,
        strength,
        ..Default::default()
    }
}

/// What the live wrapper does: journal every record action, in order.
fn journal_all(j: &mut Journal, out: &mut ExecActions, now_ns: u64) {
    for a in out.iter() {
        if let ExecAction::Report(ev) | ExecAction::Journal(ev) = a {
            j.append(ev, now_ns).unwrap();
        }
    }
    out.clear();
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).unwrap().len()
}

#[test]
fn recovery_after_a_crash_mid_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.journal");
    let (mut j, fresh) = Journal::open(&path, FsyncPolicy::EveryRecord).unwrap();
    assert_eq!((fresh.records, fresh.next_client_order_id), (0, 1));
    let mut x = Execution::new(cfg(), table()).unwrap();
    let mut out = ExecActions::new();
    x.on_gates(OPEN, 0, &mut out);
    // Order 1: buy 2 at 1,000.00 → accepted → open → 1 filled (1 left).
    x.on_signal(&sig(1_000.0, 1_000.10, 0.5), MS, &mut out); // intent, sent
    x.on_venue(
        &VenueEvent::Accepted {
            client_order_id: 1,
            venue_order_id: 501,
        },
        2 * MS,
        &mut out,
    );
    x.on_venue(
        &VenueEvent::Open {
            client_order_id: 1,
            venue_order_id: 501,
        },
        3 * MS,
        &mut out,
    );
    x.on_venue(
        &VenueEvent::Fill {
            client_order_id: 1,
            price_e8: e8(1_000.0),
            qty_e8: e8(1.0),
            leaves_qty_e8: e8(1.0),
        },
        4 * MS,
        &mut out,
    );
    // Order 2: sell side, fully filled and closed.
    x.on_signal(&sig(1_000.0, 1_000.10, -0.5), 5 * MS, &mut out); // cancels 1 (turned against), places 2
    x.on_venue(
        &VenueEvent::CancelRejected {
            client_order_id: 1,
            reason: 3,
        },
        6 * MS,
        &mut out,
    );
    x.on_venue(
        &VenueEvent::Fill {
            client_order_id: 2,
            price_e8: e8(1_000.10),
            qty_e8: e8(2.0),
            leaves_qty_e8: 0,
        },
        7 * MS,
        &mut out,
    );
    journal_all(&mut j, &mut out, 7 * MS);
    // Order 3 (bid up one tick; order 1 still rests at 1,000.00): intent and SENT
    // written; the crash tears the SENT record.
    x.on_signal(&sig(1_000.05, 1_000.15, 0.5), 8 * MS, &mut out);
    journal_all(&mut j, &mut out, 8 * MS);
    let records = j.records_written();
    // 1: intent, sent, accepted, open, partial fill; 2's signal: cancel-sent(1),
    // intent(2), sent(2); cancel-rejected(1), filled(2); 3: intent, sent = 12.
    assert_eq!(records, 12);
    drop(j);
    let full = file_len(&path);
    let torn = full - (RECORD_LEN as u64 / 2);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(torn)
        .unwrap();

    let st = Journal::recover(&path).unwrap();
    assert_eq!(st.records, 11, "the torn SENT of order 3 is ignored");
    assert_eq!(st.ignored_tail_bytes, RECORD_LEN as u64 / 2);
    assert!(!st.damaged);
    // Position: +1 (order 1's partial buy) − 2 (order 2's sell) = −1.
    assert_eq!(st.position_e8, e8(-1.0));
    // Cash: −1,000.00 + 2 × 1,000.10 = +1,000.20.
    assert_eq!(st.cash_e8, e8(1_000.20) as i128);
    assert_eq!(st.next_client_order_id, 4);
    let ids: Vec<_> = st
        .open_orders
        .iter()
        .map(|o| (o.client_order_id, o.state))
        .collect();
    assert_eq!(
        ids,
        [
            (1, RecoveredOrderState::Open),
            (3, RecoveredOrderState::Intent)
        ]
    );
    let o1 = st.open_orders[0];
    assert_eq!(
        (o1.venue_order_id, o1.leaves_qty_e8, o1.side, o1.cancel_sent),
        (501, e8(1.0), side::BUY, false)
    );

    // Reopen: the tail is cut so new records line up.
    let (mut j2, st2) = Journal::open(&path, FsyncPolicy::EveryMs(5)).unwrap();
    assert_eq!(st2, st);
    assert_eq!(file_len(&path), torn - RECORD_LEN as u64 / 2);

    // A restarted Execution: restore, refuse to quote until reconciled.
    let mut y = Execution::new(cfg(), table()).unwrap();
    y.on_gates(OPEN, 0, &mut out);
    y.restore(&st2).unwrap();
    assert_eq!(y.position_e8(), e8(-1.0));
    // (A bid where none of the restored orders rests, so a new order is wanted.)
    y.on_signal(&sig(1_000.10, 1_000.20, 0.5), 20 * MS, &mut out);
    assert!(!out.iter().any(|a| matches!(a, ExecAction::SendNew { .. })));
    assert_eq!(y.metrics().blocked[BlockReason::NotReconciled as usize], 1);
    // The venue lists order 1 (1 left) and order 7, unknown to us (an orphan);
    // order 3 never reached it. Venue position −1 agrees.
    let venue = [
        VenueOrder {
            client_order_id: 1,
            venue_order_id: 501,
            side: side::BUY,
            price_e8: e8(1_000.0),
            leaves_qty_e8: e8(1.0),
        },
        VenueOrder {
            client_order_id: 7,
            venue_order_id: 777,
            side: side::SELL,
            price_e8: e8(1_001.0),
            leaves_qty_e8: e8(5.0),
        },
    ];
    out.clear();
    let s = y
        .reconcile(&venue, Some(e8(-1.0)), 21 * MS, &mut out)
        .unwrap();
    assert_eq!(
        (s.kept, s.gone, s.orphans_cancelled, s.position_fix_e8),
        (1, 1, 1, 0)
    );
    let cancels: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            ExecAction::SendCancel { client_order_id } => Some(*client_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(cancels, [7]);
    assert!(out.iter().any(
        |a| matches!(a, ExecAction::Journal(e) if e.kind == jkind::GONE && e.client_order_id == 3)
    ));
    journal_all(&mut j2, &mut out, 21 * MS);
    let mut ids = Vec::new();
    y.open_order_ids(&mut ids);
    assert_eq!(ids, [1]);
    // Order 1 was placed at 1 ms: the restored timer keeps its deadline of
    // 1 + 200 = 201 ms (not 200 ms after the restart).
    y.on_tick(201 * MS - 1, &mut out);
    assert!(out.is_empty());
    y.on_tick(201 * MS, &mut out);
    let c: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            ExecAction::SendCancel { client_order_id } => Some(*client_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(c, [1]);
    journal_all(&mut j2, &mut out, 201 * MS);
    // Quoting resumes with fresh ids (8: after the orphan's 7).
    y.on_signal(&sig(1_000.0, 1_000.10, -0.5), 202 * MS, &mut out);
    let news: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            ExecAction::SendNew {
                client_order_id, ..
            } => Some(*client_order_id),
            _ => None,
        })
        .collect();
    assert_eq!(news, [8]);
    journal_all(&mut j2, &mut out, 202 * MS);
    j2.sync(203 * MS).unwrap();
    drop(j2);
    // The journal replays to the same picture after the second life too.
    let st3 = Journal::recover(&path).unwrap();
    let ids: Vec<_> = st3
        .open_orders
        .iter()
        .map(|o| (o.client_order_id, o.cancel_sent))
        .collect();
    assert_eq!(ids, [(1, true), (8, false)]);
    assert_eq!(st3.position_e8, e8(-1.0));
    assert_eq!(st3.ignored_tail_bytes, 0);
}

/// Fills the venue matched that never reached us: the venue's position wins. The correction
/// is valued at the mid (no P&L from nothing), reported to Sentinel with the absolute
/// position, and journaled so that the next restart starts from it. Without a mark it waits,
/// quoting blocked, changing nothing.
#[test]
fn reconcile_fixes_the_position_to_the_venue() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orders.journal");
    let (mut j, _) = Journal::open(&path, FsyncPolicy::EveryRecord).unwrap();
    let mut y = Execution::new(cfg(), table()).unwrap();
    let mut out = ExecActions::new();
    y.on_gates(OPEN, 0, &mut out);
    // A first start, flat, reconciled; the venue says +3.
    assert!(y.is_reconciled());
    assert_eq!(
        y.reconcile(&[], Some(e8(3.0)), 0, &mut out),
        Err(ExecError::NoMarkForPositionFix(e8(3.0)))
    );
    assert!(out.is_empty());
    assert_eq!(y.position_e8(), 0);
    assert!(!y.has_mark() && !y.is_reconciled());
    // Quoting waits: a signal (which gives the mid 1000.05) sends nothing.
    y.on_signal(&sig(1_000.0, 1_000.10, 0.5), MS, &mut out);
    assert!(!out.iter().any(|a| matches!(a, ExecAction::SendNew { .. })));
    assert_eq!(y.metrics().blocked[BlockReason::NotReconciled as usize], 1);
    assert!(y.has_mark());
    out.clear();
    let pnl_before = y.metrics().pnl_gross_inr;
    let s = y.reconcile(&[], Some(e8(3.0)), 2 * MS, &mut out).unwrap();
    assert_eq!(s.position_fix_e8, e8(3.0));
    assert_eq!(y.position_e8(), e8(3.0));
    assert!(y.is_reconciled());
    let fixes: Vec<_> = out
        .iter()
        .filter_map(|a| match a {
            ExecAction::Report(e) if e.kind == oek::POSITION => {
                Some((e.qty_e8, e.fill_qty_e8, e.fill_price_e8, e.client_order_id))
            }
            _ => None,
        })
        .collect();
    assert_eq!(fixes, [(e8(3.0), e8(3.0), e8(1_000.05), 0)]);
    assert_eq!(y.metrics().pnl_gross_inr, pnl_before);
    journal_all(&mut j, &mut out, 2 * MS);
    // The venue agrees now: nothing to fix, but Sentinel is told the position all the same
    // (it may have missed a fill that the journal has).
    let s = y.reconcile(&[], Some(e8(3.0)), 3 * MS, &mut out).unwrap();
    assert_eq!(s.position_fix_e8, 0);
    assert!(out.iter().any(|a| matches!(a, ExecAction::Report(e)
        if e.kind == oek::POSITION && (e.qty_e8, e.fill_qty_e8) == (e8(3.0), 0))));
    journal_all(&mut j, &mut out, 3 * MS);
    drop(j);
    // A restart replays the correction.
    let st = Journal::recover(&path).unwrap();
    assert_eq!(st.position_e8, e8(3.0));
    // Bought 3 at the mid ₹1,000.05 (e8).
    assert_eq!(st.cash_e8, -3 * 100_005 * 1_000_000i128);
}

#[test]
fn damaged_and_foreign_files_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    // Not a journal.
    let foreign = dir.path().join("foreign");
    std::fs::write(&foreign, b"hello, this is not a journal file").unwrap();
    assert!(matches!(
        Journal::recover(&foreign),
        Err(JournalError::BadHeader { .. })
    ));
    assert!(matches!(
        Journal::open(&foreign, FsyncPolicy::Never),
        Err(JournalError::BadHeader { .. })
    ));
    // Missing file: an I/O error naming the path.
    let err = Journal::recover(&dir.path().join("missing"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing"), "{err}");
    // A flipped byte in the 2nd of 3 records: replay stops before it, flags damage.
    let path = dir.path().join("j");
    let (mut j, _) = Journal::open(&path, FsyncPolicy::Never).unwrap();
    for cid in 1..=3 {
        let ev = runtime::msg::OrderEvent {
            client_order_id: cid,
            kind: jkind::INTENT,
            qty_e8: 1,
            ..Default::default()
        };
        j.append(&ev, 0).unwrap();
    }
    drop(j);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[16 + RECORD_LEN + 20] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let st = Journal::recover(&path).unwrap();
    assert_eq!(st.records, 1);
    assert!(st.damaged);
    assert_eq!(st.ignored_tail_bytes, 2 * RECORD_LEN as u64);
}

#[test]
fn background_fsync_covers_every_record_and_runs_on_its_own_thread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bg.journal");
    let (mut j, _) = Journal::open(&path, FsyncPolicy::EveryMs(1)).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    j.sync_in_background(move || {
        tx.send(std::thread::current().name().map(str::to_owned))
            .unwrap();
    })
    .unwrap();
    // The placement hook ran on the helper, not on this thread.
    let helper = rx
        .recv_timeout(std::time::Duration::from_secs(20))
        .expect("the helper thread never started");
    assert_eq!(helper.as_deref(), Some("journal-fsync"));
    let ev = runtime::msg::OrderEvent {
        client_order_id: 7,
        ..Default::default()
    };
    for i in 0..50 {
        j.append(&ev, i).unwrap();
        j.sync_if_due(i).unwrap();
    }
    // The helper catches up with all 50 (watchdog: 20 s, the interval is 1 ms).
    let start = std::time::Instant::now();
    while j.records_synced() < 50 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "the background fsync stalled at {} of 50 records",
            j.records_synced()
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(j.records_written(), 50);
    drop(j); // joins the helper
    assert_eq!(
        file_len(&path),
        actors::execution::journal::HEADER_LEN as u64 + 50 * RECORD_LEN as u64
    );
}

#[test]
fn other_policies_keep_fsync_on_the_caller() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("never.journal");
    let (mut j, _) = Journal::open(&path, FsyncPolicy::EveryRecord).unwrap();
    let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = started.clone();
    j.sync_in_background(move || flag.store(true, std::sync::atomic::Ordering::Release))
        .unwrap();
    j.append(&runtime::msg::OrderEvent::default(), 1).unwrap();
    // EveryRecord synced in the append itself; no helper was started.
    assert_eq!(j.records_synced(), 1);
    assert!(!started.load(std::sync::atomic::Ordering::Acquire));
}

#[test]
fn staged_records_reach_the_file_together_on_commit_and_on_sync_or_drop() {
    use actors::execution::journal::MAX_STAGED_RECORDS;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("staged.journal");
    let rec = |cid: u64| runtime::msg::OrderEvent {
        client_order_id: cid,
        kind: jkind::INTENT,
        seq: cid,
        ..Default::default()
    };
    let records_on_disk = |p: &Path| (file_len(p) - HEADER_LEN as u64) / RECORD_LEN as u64;
    let (mut j, _) = Journal::open(&path, FsyncPolicy::Never).unwrap();
    for cid in 1..=3 {
        j.stage(&rec(cid), cid).unwrap();
    }
    // Staged: in the process only, not in the file (a crash now would lose them).
    assert_eq!((j.staged_records(), j.records_written()), (3, 0));
    assert_eq!(records_on_disk(&path), 0);
    assert_eq!(Journal::recover(&path).unwrap().records, 0);
    j.commit(4).unwrap();
    assert_eq!((j.staged_records(), j.records_written()), (0, 3));
    let st = Journal::recover(&path).unwrap();
    assert_eq!(
        (st.records, st.last_seq, st.next_client_order_id),
        (3, 3, 4)
    );
    assert_eq!(st.open_orders.len(), 3);
    // An empty commit writes nothing.
    j.commit(5).unwrap();
    assert_eq!(records_on_disk(&path), 3);

    // The stage is bounded: one more than it holds commits the full batch first.
    for cid in 10..10 + MAX_STAGED_RECORDS as u64 + 1 {
        j.stage(&rec(cid), cid).unwrap();
    }
    assert_eq!(j.staged_records(), 1);
    assert_eq!(records_on_disk(&path), 3 + MAX_STAGED_RECORDS as u64);

    // `sync` commits before it fsyncs; an append writes what was staged before it, in order.
    j.sync(6).unwrap();
    assert_eq!(records_on_disk(&path), 4 + MAX_STAGED_RECORDS as u64);
    j.stage(&rec(200), 7).unwrap();
    j.append(&rec(201), 8).unwrap();
    assert_eq!(j.staged_records(), 0);
    // Dropping the journal writes what is still staged.
    j.stage(&rec(300), 9).unwrap();
    drop(j);
    let st = Journal::recover(&path).unwrap();
    assert_eq!(st.records, 7 + MAX_STAGED_RECORDS as u64);
    assert_eq!((st.last_seq, st.next_client_order_id), (300, 301));
    assert!(!st.damaged);
    assert_eq!(st.ignored_tail_bytes, 0);
}

/// A commit cut short (here by the file-size limit, as a full disk would) leaves part of its
/// batch in the file. The journal cuts the file back and keeps the batch, so the retry writes
/// it whole: no torn record in the middle, no record twice. Runs in a child process, the only
/// one whose file-size limit is lowered.
#[test]
fn a_commit_cut_short_is_undone_and_the_retry_writes_the_batch_whole() {
    const CHILD: &str = "JOURNAL_TEST_FSIZE_DIR";
    if let Ok(dir) = std::env::var(CHILD) {
        let path = Path::new(&dir).join("short.journal");
        let (mut j, _) = Journal::open(&path, FsyncPolicy::Never).unwrap();
        let limit = |bytes: u64| {
            let lim = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: libc::RLIM_INFINITY,
            };
            // Safety: plain system calls on this (child) process with valid arguments.
            unsafe {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &lim), 0);
            }
        };
        limit((HEADER_LEN + 2 * RECORD_LEN + RECORD_LEN / 2) as u64);
        for cid in 1..=4u64 {
            j.stage(
                &runtime::msg::OrderEvent {
                    client_order_id: cid,
                    kind: jkind::INTENT,
                    seq: cid,
                    ..Default::default()
                },
                cid,
            )
            .unwrap();
        }
        assert!(j.commit(5).is_err(), "the limit cuts the write short");
        assert_eq!(
            file_len(&path),
            HEADER_LEN as u64,
            "the partial batch is taken back"
        );
        assert_eq!((j.staged_records(), j.records_written()), (4, 0));
        limit(libc::RLIM_INFINITY);
        j.commit(6).unwrap();
        let st = Journal::recover(&path).unwrap();
        assert_eq!((st.records, st.last_seq), (4, 4));
        assert!(!st.damaged);
        assert_eq!(file_len(&path), (HEADER_LEN + 4 * RECORD_LEN) as u64);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "a_commit_cut_short_is_undone_and_the_retry_writes_the_batch_whole",
            "--nocapture",
        ])
        .env(CHILD, dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "child failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The child really ran this test (not zero tests).
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 passed"));
}
