//! Append-only order journal and crash recovery.
//!
//! Every state change of every order is one fixed-size record: a record
//! marker, a CRC-32 of the payload, and the payload, an [`OrderEvent`] (plain
//! data, 128 bytes). Execution emits each record *before* the action it
//! describes reaches the venue (the intent before the send), so after a crash
//! the journal knows every order that might be live.
//!
//! A crash can leave a torn last record (partly written). Recovery reads
//! records until the first one that is short or fails its marker or CRC, and
//! ignores the rest; [`Journal::open`] truncates the file there so new records
//! stay aligned. A record survives a crash of the process once it is in the
//! kernel (a `write` call returned): [`Journal::append`] writes each record at
//! once; [`Journal::stage`] queues it in a bounded buffer and [`Journal::commit`]
//! writes every queued record with one `write` call. Execution stages the records
//! of one loop pass and commits before each new order's send (so its intent is in
//! the kernel before the order's bytes leave) and at the end of the pass: one
//! system call per new order on the tick-to-order path instead of one per record
//! (venue responses, cancel and modify reports). A record that describes a
//! request (`CANCEL_SENT`, `SENT`) may reach the file after the request left; a crash
//! between a venue response being read and the pass's commit loses that response,
//! as a crash between the read and a per-record write did before. Surviving a crash
//! of the machine needs an fsync, whose frequency [`FsyncPolicy`] sets. With `EveryMs`, [`Journal::sync_in_background`]
//! moves the fsync (≈ 0.2 ms on the dev VM) to a helper thread on a housekeeping core, so the
//! hot thread only writes; the guarantee is the same (records reach the disk within about the
//! interval), and a failed background fsync is reported by the next append or tick.
//!
//! File layout: a 16-byte header (`EXJRNL01`, record size, low 32 bits of
//! [`runtime::msg::layout_hash`]), then records.

use runtime::msg::{order_event_kind as oek, side, OrderEvent, PRICE_SCALE};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;
use thiserror::Error;

/// Journal-only record kinds (beyond [`runtime::msg::order_event_kind`]).
pub mod jkind {
    /// Execution decided to send this order (written before the send).
    pub const INTENT: u8 = 100;
    /// Reconciliation corrected the position: `fill_qty_e8` = signed change,
    /// `fill_price_e8` = the mark used. Journals before 8 Dec 2026; since then the
    /// correction is a report, [`runtime::msg::order_event_kind::POSITION`], journaled too.
    pub const POSITION_FIX: u8 = 101;
    /// Reconciliation finished; quoting may resume.
    pub const RECONCILED: u8 = 102;
    /// Reconciliation found the order gone at the venue (filled or cancelled
    /// while we were down); it is closed locally.
    pub const GONE: u8 = 103;
    /// The order `client_order_id` was placed for a user strategy's intent, whose seq is in
    /// `venue_order_id` (the order has no venue id yet: this is written with its INTENT record,
    /// before the send). A restarted Execution thus knows which recovered orders are
    /// strategies', leaves them to their strategy and keeps reporting their lives to it.
    pub const FOR_INTENT: u8 = 104;
}

/// First bytes of every journal file.
pub const FILE_MAGIC: [u8; 8] = *b"EXJRNL01";
/// Bytes before the first record.
pub const HEADER_LEN: usize = 16;
/// First word of every record.
pub const RECORD_MARKER: u32 = 0x4345_524A; // "JREC" little-endian
const PAYLOAD_LEN: usize = core::mem::size_of::<OrderEvent>();
/// Bytes per record: marker, CRC, payload.
pub const RECORD_LEN: usize = 8 + PAYLOAD_LEN;
/// Records [`Journal::stage`] holds at most; staging one more commits the batch first.
pub const MAX_STAGED_RECORDS: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum FsyncPolicy {
    /// fsync after every commit (slowest; every record reaches the disk before the send
    /// that follows it, so it survives power loss record by record).
    EveryRecord,
    /// fsync when at least this many ms passed since the last one.
    EveryMs(u64),
    /// Never fsync (the OS writes back; survives process crashes only).
    #[default]
    Never,
}

#[derive(Debug, Error)]
pub enum JournalError {
    #[error("journal {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("journal {path}: not an order journal of this build (bad header); move it aside or point the journal elsewhere")]
    BadHeader { path: PathBuf },
}

/// Where an open order stood when the journal ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecoveredOrderState {
    /// Only the intent was journaled: it may or may not have been sent.
    Intent,
    Sent,
    Accepted,
    Open,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveredOrder {
    pub client_order_id: u64,
    pub venue_order_id: u64,
    pub side: u8,
    pub price_e8: i64,
    pub qty_e8: i64,
    pub leaves_qty_e8: i64,
    pub filled_qty_e8: i64,
    pub placed_ns: u64,
    pub ltp_e8: i64,
    pub state: RecoveredOrderState,
    pub cancel_sent: bool,
    pub modifications: u32,
    /// Seq of the strategy intent that placed it (None: one of Execution's own quotes).
    pub intent_seq: Option<u64>,
}

/// What the journal says, rebuilt by replaying it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveredState {
    /// Orders that may still be live, by client order id.
    pub open_orders: Vec<RecoveredOrder>,
    pub position_e8: i64,
    /// Cash from fills (currency e8; buys negative).
    pub cash_e8: i128,
    /// First client order id not used yet.
    pub next_client_order_id: u64,
    /// Highest event sequence seen.
    pub last_seq: u64,
    /// Valid records replayed.
    pub records: u64,
    /// Fills replayed.
    pub fills: u64,
    /// Bytes after the last valid record (a torn tail), ignored.
    pub ignored_tail_bytes: u64,
    /// True when a full-size invalid record was found (damage, not a torn
    /// write at the end): everything after it was ignored too.
    pub damaged: bool,
}

/// The open journal file.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    policy: FsyncPolicy,
    last_sync_ns: u64,
    unsynced: bool,
    /// Staged records not written yet (at most [`MAX_STAGED_RECORDS`]).
    staged: Vec<u8>,
    /// File length after the last complete commit: a commit that fails part way is cut back to
    /// it, so that the retry neither duplicates records nor leaves a torn one behind.
    committed_len: u64,
    /// Set when a failed commit could not be cut back: nothing more is written.
    unwritable: bool,
    records_written: u64,
    /// The helper thread that fsyncs for `EveryMs`, once started.
    background: Option<BackgroundSync>,
}

/// State shared with the fsync helper thread.
#[derive(Debug)]
struct SyncShared {
    /// Records appended (written by the journal's owner).
    appended: AtomicU64,
    /// Records covered by the helper's last successful fsync.
    synced: AtomicU64,
    /// OS error of the helper's last failed fsync (0 = none; -1 = not an OS error).
    error: AtomicI32,
    stop: AtomicBool,
}

#[derive(Debug)]
struct BackgroundSync {
    shared: Arc<SyncShared>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for BackgroundSync {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take() {
            // It sleeps one interval at most between checks of `stop`.
            let _ = t.join();
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        // Staged records are written on an orderly drop (errors have no one to go to here:
        // the owner's last commit or sync reported them).
        let _ = self.commit(0);
    }
}

fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(&FILE_MAGIC);
    h[8..12].copy_from_slice(&(RECORD_LEN as u32).to_le_bytes());
    h[12..16].copy_from_slice(&(runtime::msg::layout_hash() as u32).to_le_bytes());
    h
}

impl Journal {
    /// Open (or create) the journal at `path`, replay it, cut a torn tail, and
    /// position for appending.
    pub fn open(
        path: &Path,
        policy: FsyncPolicy,
    ) -> Result<(Journal, RecoveredState), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let (state, valid_len) = if bytes.is_empty() {
            file.write_all(&header()).map_err(io)?;
            file.sync_all().map_err(io)?;
            (
                RecoveredState {
                    next_client_order_id: 1,
                    ..Default::default()
                },
                HEADER_LEN as u64,
            )
        } else {
            replay(&bytes, path)?
        };
        if (bytes.len() as u64) > valid_len {
            file.set_len(valid_len).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        file.seek(SeekFrom::Start(valid_len)).map_err(io)?;
        let j = Journal {
            file,
            path: path.to_path_buf(),
            policy,
            last_sync_ns: 0,
            unsynced: false,
            staged: Vec::with_capacity(MAX_STAGED_RECORDS * RECORD_LEN),
            committed_len: valid_len,
            unwritable: false,
            records_written: 0,
            background: None,
        };
        Ok((j, state))
    }

    /// For `EveryMs(ms)`: fsync from a helper thread every `ms` instead of on the caller's
    /// thread (a no-op for the other policies, or when already started). `on_start` runs first
    /// on the helper thread, e.g. to pin it to a housekeeping core.
    pub fn sync_in_background(
        &mut self,
        on_start: impl FnOnce() + Send + 'static,
    ) -> Result<(), JournalError> {
        let FsyncPolicy::EveryMs(ms) = self.policy else {
            return Ok(());
        };
        if self.background.is_some() {
            return Ok(());
        }
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        // Same open file: an fsync through the clone covers what the owner wrote.
        let file = self.file.try_clone().map_err(io)?;
        let shared = Arc::new(SyncShared {
            appended: AtomicU64::new(self.records_written),
            synced: AtomicU64::new(self.records_written),
            error: AtomicI32::new(0),
            stop: AtomicBool::new(false),
        });
        let helper = shared.clone();
        let interval = Duration::from_millis(ms.max(1));
        let thread = std::thread::Builder::new()
            .name("journal-fsync".into())
            .spawn(move || {
                on_start();
                loop {
                    let stopping = helper.stop.load(Ordering::Acquire);
                    let appended = helper.appended.load(Ordering::Acquire);
                    if appended != helper.synced.load(Ordering::Relaxed) {
                        match file.sync_data() {
                            Ok(()) => helper.synced.store(appended, Ordering::Release),
                            Err(e) => helper
                                .error
                                .store(e.raw_os_error().unwrap_or(-1), Ordering::Release),
                        }
                    }
                    if stopping {
                        return;
                    }
                    std::thread::sleep(interval);
                }
            })
            .map_err(io)?;
        self.background = Some(BackgroundSync {
            shared,
            thread: Some(thread),
        });
        Ok(())
    }

    /// Records covered by an fsync: all of them unless a background fsync is still due.
    pub fn records_synced(&self) -> u64 {
        match &self.background {
            Some(b) => b.shared.synced.load(Ordering::Acquire),
            None if self.unsynced => 0,
            None => self.records_written,
        }
    }

    /// The background helper's last fsync failure, if any (taken: reported once).
    fn background_error(&self) -> Result<(), JournalError> {
        let Some(b) = &self.background else {
            return Ok(());
        };
        // A plain load first: this runs on every pass of the hot loop, and the swap (a write)
        // would pull the line from the helper's core each time.
        if b.shared.error.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        match b.shared.error.swap(0, Ordering::AcqRel) {
            0 => Ok(()),
            -1 => Err(JournalError::Io {
                path: self.path.clone(),
                source: std::io::Error::other("background fsync failed"),
            }),
            errno => Err(JournalError::Io {
                path: self.path.clone(),
                source: std::io::Error::from_raw_os_error(errno),
            }),
        }
    }

    /// Replay a journal without modifying it.
    pub fn recover(path: &Path) -> Result<RecoveredState, JournalError> {
        let bytes = std::fs::read(path).map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(replay(&bytes, path)?.0)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn records_written(&self) -> u64 {
        self.records_written
    }

    /// Append one record (one `write` call, with any staged before it; fsync per policy).
    pub fn append(&mut self, ev: &OrderEvent, now_ns: u64) -> Result<(), JournalError> {
        self.stage(ev, now_ns)?;
        self.commit(now_ns)
    }

    /// Queue one record for the next [`Journal::commit`] (no system call unless the queue
    /// is full, when the queued batch is committed first). A staged record is lost if the
    /// process dies before the commit: commit before acting on it outside the process.
    pub fn stage(&mut self, ev: &OrderEvent, now_ns: u64) -> Result<(), JournalError> {
        if self.staged.len() >= MAX_STAGED_RECORDS * RECORD_LEN {
            self.commit(now_ns)?;
        }
        let payload = bytemuck::bytes_of(ev);
        self.staged.extend_from_slice(&RECORD_MARKER.to_le_bytes());
        self.staged
            .extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        self.staged.extend_from_slice(payload);
        Ok(())
    }

    /// Records staged and not yet written.
    pub fn staged_records(&self) -> usize {
        self.staged.len() / RECORD_LEN
    }

    /// Write every staged record with one `write` call (nothing at all when none is staged),
    /// then fsync per policy. On an error the file is cut back to its last complete commit and
    /// the staged records are kept, so a later commit writes them whole and nothing is dropped
    /// silently; the caller halts trading (see `ExecutionActor::journal_failure`).
    pub fn commit(&mut self, now_ns: u64) -> Result<(), JournalError> {
        if self.staged.is_empty() {
            return Ok(());
        }
        let io = |path: &Path, source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if self.unwritable {
            let e = std::io::Error::other("an earlier failed write could not be undone");
            return Err(io(&self.path, e));
        }
        if let Err(e) = self.file.write_all(&self.staged) {
            // Part of the batch may be in the file (a full disk): take it back out.
            let len = self.committed_len;
            let undone = self
                .file
                .set_len(len)
                .and_then(|()| self.file.seek(SeekFrom::Start(len)));
            self.unwritable = undone.is_err();
            return Err(io(&self.path, e));
        }
        self.committed_len += self.staged.len() as u64;
        self.records_written += (self.staged.len() / RECORD_LEN) as u64;
        self.staged.clear();
        self.unsynced = true;
        if let Some(b) = &self.background {
            b.shared
                .appended
                .store(self.records_written, Ordering::Release);
            return self.background_error();
        }
        match self.policy {
            FsyncPolicy::EveryRecord => self.sync(now_ns),
            FsyncPolicy::EveryMs(_) => self.sync_if_due(now_ns),
            FsyncPolicy::Never => Ok(()),
        }
    }

    /// For `EveryMs`: fsync if the interval passed (call from the actor's tick too,
    /// so a quiet period still gets its last records synced).
    pub fn sync_if_due(&mut self, now_ns: u64) -> Result<(), JournalError> {
        if self.background.is_some() {
            return self.background_error();
        }
        if let FsyncPolicy::EveryMs(ms) = self.policy {
            if self.unsynced && now_ns.saturating_sub(self.last_sync_ns) >= ms * 1_000_000 {
                return self.sync(now_ns);
            }
        }
        Ok(())
    }

    /// Commit what is staged, then fsync.
    pub fn sync(&mut self, now_ns: u64) -> Result<(), JournalError> {
        self.commit(now_ns)?;
        let path = &self.path;
        self.file.sync_data().map_err(|source| JournalError::Io {
            path: path.clone(),
            source,
        })?;
        self.last_sync_ns = now_ns;
        self.unsynced = false;
        Ok(())
    }
}

/// Replay `bytes`; returns the state and the length of the valid prefix.
fn replay(bytes: &[u8], path: &Path) -> Result<(RecoveredState, u64), JournalError> {
    if bytes.len() < HEADER_LEN || bytes[..HEADER_LEN] != header() {
        return Err(JournalError::BadHeader {
            path: path.to_path_buf(),
        });
    }
    let mut st = RecoveredState {
        next_client_order_id: 1,
        ..Default::default()
    };
    let mut open: BTreeMap<u64, RecoveredOrder> = BTreeMap::new();
    let mut off = HEADER_LEN;
    while off < bytes.len() {
        let rest = &bytes[off..];
        if rest.len() < RECORD_LEN {
            break;
        }
        let marker = u32::from_le_bytes(rest[..4].try_into().expect("4 bytes"));
        let crc = u32::from_le_bytes(rest[4..8].try_into().expect("4 bytes"));
        let payload = &rest[8..RECORD_LEN];
        if marker != RECORD_MARKER || crc32fast::hash(payload) != crc {
            st.damaged = rest.len() >= 2 * RECORD_LEN;
            break;
        }
        let ev: OrderEvent = bytemuck::pod_read_unaligned(payload);
        apply(&mut st, &mut open, &ev);
        st.records += 1;
        off += RECORD_LEN;
    }
    st.ignored_tail_bytes = (bytes.len() - off) as u64;
    st.open_orders = open.into_values().collect();
    Ok((st, off as u64))
}

fn apply(st: &mut RecoveredState, open: &mut BTreeMap<u64, RecoveredOrder>, ev: &OrderEvent) {
    let cid = ev.client_order_id;
    st.last_seq = st.last_seq.max(ev.seq);
    if cid != 0 {
        st.next_client_order_id = st.next_client_order_id.max(cid + 1);
    }
    let new_order = |state| RecoveredOrder {
        client_order_id: cid,
        venue_order_id: ev.venue_order_id,
        side: ev.side,
        price_e8: ev.price_e8,
        qty_e8: ev.qty_e8,
        leaves_qty_e8: ev.qty_e8,
        filled_qty_e8: 0,
        placed_ns: ev.request_sent_ns,
        ltp_e8: ev.ltp_e8,
        state,
        cancel_sent: false,
        modifications: 0,
        intent_seq: None,
    };
    match ev.kind {
        jkind::INTENT => {
            open.insert(cid, new_order(RecoveredOrderState::Intent));
        }
        jkind::FOR_INTENT => {
            if let Some(o) = open.get_mut(&cid) {
                o.intent_seq = Some(ev.venue_order_id);
            }
        }
        oek::SENT => {
            open.entry(cid)
                .or_insert_with(|| new_order(RecoveredOrderState::Sent))
                .state = RecoveredOrderState::Sent;
        }
        oek::ACCEPTED | oek::OPEN => {
            if let Some(o) = open.get_mut(&cid) {
                o.state = if ev.kind == oek::OPEN {
                    RecoveredOrderState::Open
                } else {
                    RecoveredOrderState::Accepted
                };
                if ev.venue_order_id != 0 {
                    o.venue_order_id = ev.venue_order_id;
                }
            }
        }
        oek::PARTIALLY_FILLED | oek::FILLED => {
            let sign: i128 = if ev.side == side::BUY { 1 } else { -1 };
            st.position_e8 = (st.position_e8 as i128 + sign * ev.fill_qty_e8 as i128) as i64;
            st.cash_e8 -=
                sign * ev.fill_qty_e8 as i128 * ev.fill_price_e8 as i128 / PRICE_SCALE as i128;
            st.fills += 1;
            if ev.kind == oek::FILLED || ev.leaves_qty_e8 <= 0 {
                open.remove(&cid);
            } else if let Some(o) = open.get_mut(&cid) {
                o.leaves_qty_e8 = ev.leaves_qty_e8;
                o.filled_qty_e8 += ev.fill_qty_e8;
            }
        }
        oek::CANCEL_SENT => {
            if let Some(o) = open.get_mut(&cid) {
                o.cancel_sent = true;
            }
        }
        oek::CANCEL_REJECTED => {
            if let Some(o) = open.get_mut(&cid) {
                o.cancel_sent = false;
            }
        }
        oek::MODIFY_SENT => {
            if let Some(o) = open.get_mut(&cid) {
                o.modifications += 1;
            }
        }
        oek::MODIFIED => {
            if let Some(o) = open.get_mut(&cid) {
                o.price_e8 = ev.price_e8;
                o.qty_e8 = ev.qty_e8;
                o.leaves_qty_e8 = ev.leaves_qty_e8;
                o.ltp_e8 = ev.ltp_e8;
            }
        }
        oek::CANCELLED | oek::REJECTED | jkind::GONE => {
            open.remove(&cid);
        }
        jkind::POSITION_FIX | oek::POSITION => {
            st.position_e8 += ev.fill_qty_e8;
            st.cash_e8 -= ev.fill_qty_e8 as i128 * ev.fill_price_e8 as i128 / PRICE_SCALE as i128;
        }
        _ => {}
    }
}
