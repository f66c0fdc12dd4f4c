//! Latency histograms: recorded by actors, readable from other processes while the engine runs,
//! and written as HdrHistogram interval logs that standard tools read.
//!
//! - Each actor records into its own local `hdrhistogram::Histogram<u64>` ([`new_histogram`]:
//!   1 ns … 60 s, 3 significant digits; recording never allocates).
//! - A few times a second it publishes the histogram (cumulative since its start) with a
//!   [`HistogramPublisher`] into `hist.shm` ([`HistogramRegion`]): [`MAX_SLOTS`] slots, each a
//!   seqlocked buffer holding the histogram in HdrHistogram's V2 encoding. A slot belongs to one
//!   (stage, publisher) pair, claimed by CAS on first publication, so every slot has a single
//!   writer while several actors may publish the same stage (the kill-switch latency, for one).
//! - A [`HistogramReader`] (UI actor, `supervisor status`, benchmarks) decodes consistent copies
//!   and merges the slots of a stage.
//! - An [`IntervalLog`] writes one stage's intervals to a file in the HdrHistogram interval-log
//!   format (V2 + deflate + base64, as `HistogramLogProcessor` and HdrHistogram's plotters
//!   expect); an [`IntervalLogger`] turns the published cumulative histograms into such logs, one
//!   file per stage, off the hot path.

use crate::msg::{get_str, put_str};
use crate::seqlock::{load_words, store_words, SeqCounter, READ_MAX_ATTEMPTS, READ_SPIN_ATTEMPTS};
use crate::shm::{AttachError, Region, RegionKind, RegionSpec, ShmDir, ShmError};
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer, V2Serializer};
use hdrhistogram::Histogram;
use std::cell::UnsafeCell;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// File name of the histogram region in the engine directory.
pub const HIST_FILE: &str = "hist.shm";
/// Lowest value the engine's histograms distinguish (ns).
pub const LOWEST_NS: u64 = 1;
/// Highest value they track (60 s in ns); larger values are clamped by `saturating_record`.
pub const HIGHEST_NS: u64 = 60_000_000_000;
/// Significant decimal digits (0.1 % value resolution).
pub const SIGNIFICANT_DIGITS: u8 = 3;
/// Stage ids are below this.
pub const MAX_STAGES: u32 = 32;
/// Slots in `hist.shm`: one per (stage, publisher) pair.
pub const MAX_SLOTS: usize = 64;
/// Bytes of encoded histogram a slot holds. A V2 encoding costs 1-9 bytes per non-empty bucket
/// (runs of empty ones cost one), so 64 KiB holds several thousand distinct latencies; a wider
/// histogram is refused with [`HistError::TooLarge`] rather than cut.
pub const SLOT_DATA_BYTES: usize = 64 * 1024 - SLOT_HEADER_BYTES;
const SLOT_HEADER_BYTES: usize = 128;
/// Default interval of [`IntervalLog`] (1 s).
pub const DEFAULT_LOG_INTERVAL_NS: u64 = 1_000_000_000;

/// A histogram with the engine's bounds. Recording into it never allocates.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(LOWEST_NS, HIGHEST_NS, SIGNIFICANT_DIGITS)
        .expect("constant histogram bounds are valid")
}

/// Stage ids and their names.
pub mod stage {
    /// Feed receive → order written (Execution).
    pub const TICK_TO_ORDER: u32 = 0;
    /// Order sent → acknowledged (Sentinel).
    pub const RTT: u32 = 1;
    /// Order sent → first fill.
    pub const ORDER_TO_FILL: u32 = 2;
    /// Processing time of a loop pass with work, per actor.
    pub const FEED_PROC: u32 = 3;
    pub const ORACLE_PROC: u32 = 4;
    pub const SONAR_PROC: u32 = 5;
    pub const SENTINEL_PROC: u32 = 6;
    pub const EXECUTION_PROC: u32 = 7;
    /// Ring hops: publish → consume.
    pub const HOP_FEED_ORACLE: u32 = 8;
    pub const HOP_ORACLE_EXECUTION: u32 = 9;
    /// How late a 200 ms cancel left after its deadline.
    pub const CANCEL_LATENESS: u32 = 10;
    /// Kill switch set → seen by an actor's loop (every actor publishes its own).
    pub const KILL_SWITCH: u32 = 11;
    /// Stages below this have names here; user stages go from here to `MAX_STAGES`.
    pub const FIRST_USER_STAGE: u32 = 12;

    const NAMES: [&str; FIRST_USER_STAGE as usize] = [
        "tick_to_order",
        "rtt",
        "order_to_fill",
        "feed_proc",
        "oracle_proc",
        "sonar_proc",
        "sentinel_proc",
        "execution_proc",
        "hop_feed_oracle",
        "hop_oracle_execution",
        "cancel_lateness",
        "kill_switch",
    ];

    /// The name of a built-in stage; `None` for user stages (they publish with a name).
    pub fn name(stage: u32) -> Option<&'static str> {
        NAMES.get(stage as usize).copied()
    }

    /// The built-in stage called `name`.
    pub fn by_name(name: &str) -> Option<u32> {
        NAMES.iter().position(|n| *n == name).map(|i| i as u32)
    }

    /// The processing stage of a built-in actor kind (`"feed"` → [`FEED_PROC`]).
    pub fn proc_stage_for_kind(kind: &str) -> Option<u32> {
        match kind {
            "feed" => Some(FEED_PROC),
            "oracle" => Some(ORACLE_PROC),
            "sonar" => Some(SONAR_PROC),
            "sentinel" => Some(SENTINEL_PROC),
            "execution" => Some(EXECUTION_PROC),
            _ => None,
        }
    }
}

/// Errors of the histogram region, publishers, readers and logs.
#[derive(Debug, thiserror::Error)]
pub enum HistError {
    #[error("stage {stage} is out of range (stages are 0..{MAX_STAGES})")]
    BadStage { stage: u32 },
    #[error("stage {stage} is not built in: publish it with a name")]
    UnnamedStage { stage: u32 },
    #[error("all {MAX_SLOTS} histogram slots are taken: too many (stage, publisher) pairs; remove stale hist.shm or publish fewer stages")]
    NoFreeSlot,
    #[error("histogram for stage {stage} encodes to {bytes} bytes, more than a slot's {max}: it spans too many distinct values")]
    TooLarge {
        stage: u32,
        bytes: usize,
        max: usize,
    },
    #[error("encoding the histogram failed: {0}")]
    Encode(String),
    #[error("slot {slot} holds an undecodable histogram: {reason}")]
    Decode { slot: usize, reason: String },
    #[error("slot {slot} stayed busy: its writer is writing continuously or died mid-write")]
    Busy { slot: usize },
    #[error("histogram region: {0}")]
    Shm(#[from] ShmError),
    #[error("histogram region: {0}")]
    Attach(#[from] AttachError),
    #[error("interval log {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Metadata of a published slot, written inside the seqlock with the data.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct SlotMeta {
    total_count: u64,
    updated_ns: u64,
    data_len: u64,
    max_ns: u64,
    name: [u8; 32],
}
const META_WORDS: usize = core::mem::size_of::<SlotMeta>() / 8;

impl SlotMeta {
    fn to_words(self) -> [u64; META_WORDS] {
        let mut w = [0u64; META_WORDS];
        w[0] = self.total_count;
        w[1] = self.updated_ns;
        w[2] = self.data_len;
        w[3] = self.max_ns;
        for (i, chunk) in self.name.chunks_exact(8).enumerate() {
            w[4 + i] = u64::from_ne_bytes(chunk.try_into().expect("8 bytes"));
        }
        w
    }

    fn from_words(w: &[u64; META_WORDS]) -> Self {
        let mut name = [0u8; 32];
        for (i, chunk) in name.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&w[4 + i].to_ne_bytes());
        }
        SlotMeta {
            total_count: w[0],
            updated_ns: w[1],
            data_len: w[2],
            max_ns: w[3],
            name,
        }
    }
}

/// One slot in `hist.shm`.
#[repr(C, align(64))]
struct HistSlot {
    seq: SeqCounter,
    /// 0 = free, else [`slot_key`] of the owner, claimed by CAS.
    owner: AtomicU64,
    /// [`SlotMeta`] as words, under `seq` (UnsafeCell: written through shared references).
    meta: UnsafeCell<[u64; META_WORDS]>,
    _pad: [u8; SLOT_HEADER_BYTES - 16 - META_WORDS * 8],
    /// Encoded histogram, under `seq`.
    data: UnsafeCell<[u8; SLOT_DATA_BYTES]>,
}

#[cfg(not(loom))]
const _: () = {
    assert!(core::mem::size_of::<SlotMeta>().is_multiple_of(8));
    assert!(core::mem::size_of::<HistSlot>() == 64 * 1024);
    assert!(SLOT_DATA_BYTES.is_multiple_of(8));
};

/// Owner key of a slot: stage and publisher, both + 1 so that 0 stays "free".
fn slot_key(stage: u32, publisher: u32) -> u64 {
    (u64::from(stage) + 1) << 32 | (u64::from(publisher) + 1)
}

fn key_parts(key: u64) -> (u32, u32) {
    (
        ((key >> 32) as u32).wrapping_sub(1),
        (key as u32).wrapping_sub(1),
    )
}

/// `hist.shm`: [`MAX_SLOTS`] histogram slots.
pub struct HistogramRegion {
    region: Region,
}

impl core::fmt::Debug for HistogramRegion {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HistogramRegion")
            .field("region", &self.region)
            .finish()
    }
}

impl HistogramRegion {
    /// The region spec of a histogram region built by this binary.
    pub fn spec() -> RegionSpec {
        RegionSpec {
            kind: RegionKind::Histograms,
            capacity: MAX_SLOTS as u64,
            slot_size: core::mem::size_of::<HistSlot>() as u64,
            payload_bytes: (MAX_SLOTS * core::mem::size_of::<HistSlot>()) as u64,
        }
    }

    /// Create `hist.shm` in `dir` (fails if it exists).
    pub fn create(dir: &ShmDir) -> Result<Arc<Self>, HistError> {
        Ok(Self::from_region(Region::create(
            dir,
            HIST_FILE,
            Self::spec(),
        )?))
    }

    /// Attach to an existing `hist.shm`.
    pub fn attach(dir: &ShmDir) -> Result<Arc<Self>, HistError> {
        Ok(Self::from_region(Region::attach(
            dir,
            HIST_FILE,
            Self::spec(),
        )?))
    }

    /// Attach, or create when missing (an actor that starts before the supervisor made it).
    pub fn create_or_attach(dir: &ShmDir) -> Result<Arc<Self>, HistError> {
        Ok(Self::from_region(Region::create_or_attach(
            dir,
            HIST_FILE,
            Self::spec(),
        )?))
    }

    /// A region in anonymous memory, for one process (tests, benchmarks, the backtest).
    pub fn anonymous() -> Result<Arc<Self>, HistError> {
        Ok(Self::from_region(Region::anonymous(Self::spec())?))
    }

    fn from_region(region: Region) -> Arc<Self> {
        assert!(region.payload_len() >= MAX_SLOTS * core::mem::size_of::<HistSlot>());
        assert_eq!(region.payload_ptr() as usize % 64, 0);
        Arc::new(Self { region })
    }

    fn slot(&self, index: usize) -> &HistSlot {
        assert!(index < MAX_SLOTS);
        // Safety: the payload holds MAX_SLOTS slots (checked in from_region), 64-aligned, alive
        // as long as `self.region`. All-zero bytes are a valid free slot. Concurrent writes
        // happen only through atomics (`seq`, `owner`) and atomic word copies (`meta`, `data`),
        // and we only ever read those fields through the same atomic copies.
        unsafe { &*(self.region.payload_ptr() as *const HistSlot).add(index) }
    }

    pub fn region(&self) -> &Region {
        &self.region
    }

    /// Find the slot owned by `key`, or claim a free one.
    fn claim(&self, key: u64) -> Result<usize, HistError> {
        for i in 0..MAX_SLOTS {
            if self.slot(i).owner.load(Ordering::Acquire) == key {
                // A restarted publisher takes its slot back.
                return Ok(i);
            }
        }
        for i in 0..MAX_SLOTS {
            let owner = &self.slot(i).owner;
            match owner.compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(i),
                Err(k) if k == key => return Ok(i),
                Err(_) => {}
            }
        }
        Err(HistError::NoFreeSlot)
    }

    /// Free every slot owned by `publisher` (the supervisor, after an actor was removed for
    /// good; the publisher must not be running). Each slot is emptied before it is freed, so the
    /// next owner's readers never see the old histogram under the new name.
    pub fn release_publisher(&self, publisher: u32) {
        for i in 0..MAX_SLOTS {
            let slot = self.slot(i);
            let key = slot.owner.load(Ordering::Acquire);
            if key != 0 && key_parts(key).1 == publisher {
                let token = slot.seq.begin_write();
                // Safety: `meta` is 8-aligned and META_WORDS long; the owner is not running, so
                // we are the only writer; all accesses are atomic word copies.
                unsafe { store_words(slot.meta.get() as *mut u8, &[0; META_WORDS]) };
                slot.seq.end_write(token);
                let _ = slot
                    .owner
                    .compare_exchange(key, 0, Ordering::AcqRel, Ordering::Acquire);
            }
        }
    }
}

/// Publishes one actor's histograms into `hist.shm`. Allocates its buffers once; publishing
/// after that does not allocate (unless a histogram grows past what it has seen).
pub struct HistogramPublisher {
    region: Arc<HistogramRegion>,
    publisher: u32,
    /// Slot + 1 per stage, 0 until claimed.
    slots: [u16; MAX_STAGES as usize],
    serializer: V2Serializer,
    bytes: Vec<u8>,
}

impl HistogramPublisher {
    /// A publisher identified by `publisher` (the actor's slot index; another unique number for
    /// non-actors). A restarted actor with the same index gets its slots back.
    pub fn new(region: Arc<HistogramRegion>, publisher: u32) -> Self {
        Self {
            region,
            publisher,
            slots: [0; MAX_STAGES as usize],
            serializer: V2Serializer::new(),
            bytes: Vec::with_capacity(SLOT_DATA_BYTES),
        }
    }

    /// Publish `histogram` as built-in `stage` (see [`stage`]).
    pub fn publish(
        &mut self,
        stage: u32,
        histogram: &Histogram<u64>,
        now_ns: u64,
    ) -> Result<(), HistError> {
        if stage >= MAX_STAGES {
            return Err(HistError::BadStage { stage });
        }
        let name = stage::name(stage).ok_or(HistError::UnnamedStage { stage })?;
        self.publish_named(stage, name, histogram, now_ns)
    }

    /// Publish `histogram` as `stage` under `name` (user stages; cut to 32 bytes).
    pub fn publish_named(
        &mut self,
        stage: u32,
        name: &str,
        histogram: &Histogram<u64>,
        now_ns: u64,
    ) -> Result<(), HistError> {
        if stage >= MAX_STAGES {
            return Err(HistError::BadStage { stage });
        }
        let slot_index = match self.slots[stage as usize] {
            0 => {
                let i = self.region.claim(slot_key(stage, self.publisher))?;
                self.slots[stage as usize] = i as u16 + 1;
                i
            }
            s => usize::from(s) - 1,
        };
        self.bytes.clear();
        self.serializer
            .serialize(histogram, &mut self.bytes)
            .map_err(|e| HistError::Encode(e.to_string()))?;
        let len = self.bytes.len();
        if len > SLOT_DATA_BYTES {
            return Err(HistError::TooLarge {
                stage,
                bytes: len,
                max: SLOT_DATA_BYTES,
            });
        }
        // Pad to whole words so the copy is word-wise.
        self.bytes.resize(len.next_multiple_of(8), 0);
        let mut meta = SlotMeta {
            total_count: histogram.len(),
            updated_ns: now_ns,
            data_len: len as u64,
            max_ns: histogram.max(),
            name: [0; 32],
        };
        put_str(&mut meta.name, name);
        let meta_words = meta.to_words();

        let slot = self.region.slot(slot_index);
        let token = slot.seq.begin_write();
        // Safety: `meta` and `data` are 8-aligned (offsets 16 and 128 in a 64-aligned slot) and
        // large enough (data_len ≤ SLOT_DATA_BYTES, padded to 8 within it since SLOT_DATA_BYTES
        // is a multiple of 8); this publisher is the slot's only writer (it owns the slot key)
        // and every access to these bytes is an atomic word copy.
        unsafe {
            store_words(slot.meta.get() as *mut u8, &meta_words);
            let dst = slot.data.get() as *mut u8;
            for (i, chunk) in self.bytes.chunks_exact(8).enumerate() {
                let word = u64::from_ne_bytes(chunk.try_into().expect("8 bytes"));
                store_words(dst.add(i * 8), core::slice::from_ref(&word));
            }
        }
        slot.seq.end_write(token);
        Ok(())
    }
}

/// What a slot holds, without the histogram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    pub slot: usize,
    pub stage: u32,
    pub publisher: u32,
    pub name: String,
    pub total_count: u64,
    pub max_ns: u64,
    pub updated_ns: u64,
}

/// A consistent decoded copy of one slot.
#[derive(Clone, Debug)]
pub struct SlotSnapshot {
    pub info: SlotInfo,
    pub histogram: Histogram<u64>,
}

/// Reads histograms from `hist.shm` (any process). Not for hot paths: decoding allocates.
pub struct HistogramReader {
    region: Arc<HistogramRegion>,
    words: Vec<u64>,
    bytes: Vec<u8>,
    deserializer: Deserializer,
}

impl HistogramReader {
    pub fn new(region: Arc<HistogramRegion>) -> Self {
        Self {
            region,
            words: vec![0; SLOT_DATA_BYTES / 8],
            bytes: Vec::with_capacity(SLOT_DATA_BYTES),
            deserializer: Deserializer::new(),
        }
    }

    /// Every stage's published histogram merged across publishers; `None` when nobody has
    /// published `stage` yet (or its slots could not be read).
    pub fn read(&mut self, stage: u32) -> Option<Histogram<u64>> {
        self.read_stage(stage).ok().flatten()
    }

    /// As [`HistogramReader::read`], with the reason when a slot could not be read.
    pub fn read_stage(&mut self, stage: u32) -> Result<Option<Histogram<u64>>, HistError> {
        let mut merged: Option<Histogram<u64>> = None;
        for slot in 0..MAX_SLOTS {
            let key = self.region.slot(slot).owner.load(Ordering::Acquire);
            if key == 0 || key_parts(key).0 != stage {
                continue;
            }
            if let Some(snapshot) = self.read_slot(slot)? {
                match merged.as_mut() {
                    None => merged = Some(snapshot.histogram),
                    Some(m) => m.add(&snapshot.histogram).map_err(|e| HistError::Decode {
                        slot,
                        reason: format!("cannot merge: {e:?}"),
                    })?,
                }
            }
        }
        Ok(merged)
    }

    /// `stage` as published by `publisher` alone.
    pub fn read_from(
        &mut self,
        stage: u32,
        publisher: u32,
    ) -> Result<Option<SlotSnapshot>, HistError> {
        let key = slot_key(stage, publisher);
        for slot in 0..MAX_SLOTS {
            if self.region.slot(slot).owner.load(Ordering::Acquire) == key {
                return self.read_slot(slot);
            }
        }
        Ok(None)
    }

    /// Slots that hold a publication, without decoding them.
    pub fn slots(&self) -> Vec<SlotInfo> {
        (0..MAX_SLOTS)
            .filter_map(|slot| self.read_meta(slot))
            .collect()
    }

    fn read_meta(&self, slot: usize) -> Option<SlotInfo> {
        let s = self.region.slot(slot);
        let key = s.owner.load(Ordering::Acquire);
        if key == 0 {
            return None;
        }
        for attempt in 0..READ_MAX_ATTEMPTS {
            if let Some(start) = s.seq.read_begin() {
                let mut w = [0u64; META_WORDS];
                // Safety: see `read_slot`.
                unsafe { load_words(s.meta.get() as *const u8, &mut w) };
                if s.seq.read_validate(start) {
                    if start == 0 || w[2] == 0 {
                        return None; // claimed but nothing published yet, or emptied
                    }
                    return Some(Self::info(slot, key, &SlotMeta::from_words(&w)));
                }
            }
            backoff(attempt);
        }
        None
    }

    fn info(slot: usize, key: u64, meta: &SlotMeta) -> SlotInfo {
        let (stage, publisher) = key_parts(key);
        SlotInfo {
            slot,
            stage,
            publisher,
            name: get_str(&meta.name),
            total_count: meta.total_count,
            max_ns: meta.max_ns,
            updated_ns: meta.updated_ns,
        }
    }

    /// A consistent decoded copy of slot `slot`; `None` if it holds no publication.
    pub fn read_slot(&mut self, slot: usize) -> Result<Option<SlotSnapshot>, HistError> {
        if slot >= MAX_SLOTS {
            return Ok(None);
        }
        let s = self.region.slot(slot);
        for attempt in 0..READ_MAX_ATTEMPTS {
            let key = s.owner.load(Ordering::Acquire);
            if key == 0 {
                return Ok(None);
            }
            if let Some(start) = s.seq.read_begin() {
                if start == 0 {
                    return Ok(None);
                }
                let mut w = [0u64; META_WORDS];
                // Safety: `meta` and `data` are 8-aligned and in bounds; the words copied are
                // bounded by SLOT_DATA_BYTES; every concurrent access is an atomic word copy.
                unsafe { load_words(s.meta.get() as *const u8, &mut w) };
                let meta = SlotMeta::from_words(&w);
                let len = (meta.data_len as usize).min(SLOT_DATA_BYTES);
                let words = len.div_ceil(8);
                // Safety: as above.
                unsafe { load_words(s.data.get() as *const u8, &mut self.words[..words]) };
                if s.seq.read_validate(start) {
                    if meta.data_len == 0 {
                        return Ok(None); // emptied by release_publisher
                    }
                    if meta.data_len as usize > SLOT_DATA_BYTES {
                        return Err(HistError::Decode {
                            slot,
                            reason: format!("length {} exceeds the slot", meta.data_len),
                        });
                    }
                    self.bytes.clear();
                    for w in &self.words[..words] {
                        self.bytes.extend_from_slice(&w.to_ne_bytes());
                    }
                    self.bytes.truncate(len);
                    let histogram: Histogram<u64> = self
                        .deserializer
                        .deserialize(&mut &self.bytes[..])
                        .map_err(|e| HistError::Decode {
                            slot,
                            reason: format!("{e:?}"),
                        })?;
                    return Ok(Some(SlotSnapshot {
                        info: Self::info(slot, key, &meta),
                        histogram,
                    }));
                }
            }
            backoff(attempt);
        }
        Err(HistError::Busy { slot })
    }
}

fn backoff(attempt: u32) {
    if attempt < READ_SPIN_ATTEMPTS {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

// ---------------------------------------------------------------------------------------------
// Interval logs.

/// One stage's HdrHistogram interval log: a file of intervals, each the histogram of the values
/// recorded during it (V2 + deflate + base64, with `#[StartTime]`/`#[BaseTime]` headers and the
/// legend line, as HdrHistogram's Java `HistogramLogWriter` writes them). For a housekeeping
/// thread: writing an interval allocates and does file I/O.
pub struct IntervalLog {
    path: PathBuf,
    file: std::io::BufWriter<std::fs::File>,
    serializer: V2DeflateSerializer,
    interval: Histogram<u64>,
    /// Monotonic ns the log's timestamps count from.
    base_mono_ns: u64,
    interval_start_ns: u64,
    interval_ns: u64,
    tag: Option<String>,
    intervals_written: u64,
}

impl IntervalLog {
    /// Create (truncate) `path` and write the headers. `start_mono_ns` is "now" on the engine's
    /// clock and `start_wall_ns` the same instant in Unix ns: interval timestamps in the file are
    /// seconds since then (BaseTime). `tag`, when given, marks every interval (no spaces or
    /// commas).
    pub fn create(
        path: &Path,
        start_mono_ns: u64,
        start_wall_ns: u64,
        interval_ns: u64,
        tag: Option<&str>,
    ) -> Result<Self, HistError> {
        let io = |source| HistError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(t) = tag {
            if Tag::new(t).is_none() {
                return Err(io(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("tag {t:?} contains a space, comma or line break"),
                )));
            }
        }
        let file = std::fs::File::create(path).map_err(io)?;
        let mut file = std::io::BufWriter::new(file);
        let start = SystemTime::UNIX_EPOCH + Duration::from_nanos(start_wall_ns);
        let mut serializer = V2DeflateSerializer::new();
        IntervalLogWriterBuilder::new()
            .add_comment(&format!(
                "[Logged with the nse engine runtime, values in nanoseconds: {}]",
                path.file_stem().and_then(|s| s.to_str()).unwrap_or("")
            ))
            .with_start_time(start)
            .with_base_time(start)
            .begin_log_with(&mut file, &mut serializer)
            .map_err(io)?;
        writeln!(
            file,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )
        .map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self {
            path: path.to_owned(),
            file,
            serializer,
            interval: new_histogram(),
            base_mono_ns: start_mono_ns,
            interval_start_ns: start_mono_ns,
            interval_ns: interval_ns.max(1),
            tag: tag.map(str::to_owned),
            intervals_written: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record one value (ns) into the current interval.
    pub fn record(&mut self, value_ns: u64) {
        self.interval.saturating_record(value_ns);
    }

    /// The current interval's histogram, to record into or add to.
    pub fn histogram_mut(&mut self) -> &mut Histogram<u64> {
        &mut self.interval
    }

    pub fn intervals_written(&self) -> u64 {
        self.intervals_written
    }

    /// When at least the interval has passed since the current one began: write it (covering
    /// start → `now_ns`), reset it and start the next. Returns whether an interval was written.
    pub fn tick(&mut self, now_ns: u64) -> Result<bool, HistError> {
        if now_ns.saturating_sub(self.interval_start_ns) < self.interval_ns {
            return Ok(false);
        }
        self.write_interval(now_ns)?;
        Ok(true)
    }

    /// Write the current interval now, however short, and flush (at shutdown).
    pub fn finish(&mut self, now_ns: u64) -> Result<(), HistError> {
        if now_ns > self.interval_start_ns || !self.interval.is_empty() {
            self.write_interval(now_ns)?;
        }
        Ok(())
    }

    fn write_interval(&mut self, now_ns: u64) -> Result<(), HistError> {
        let io = |source| HistError::Io {
            path: self.path.clone(),
            source,
        };
        let start = Duration::from_nanos(self.interval_start_ns.saturating_sub(self.base_mono_ns));
        let length = Duration::from_nanos(now_ns.saturating_sub(self.interval_start_ns));
        let tag = self.tag.as_deref().and_then(Tag::new);
        // The builder with no headers writes none: this only borrows the file and serializer
        // for one interval line.
        let mut writer = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.file, &mut self.serializer)
            .map_err(io)?;
        writer
            .write_histogram(&self.interval, start, length, tag)
            .map_err(|e| HistError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(e.to_string()),
            })?;
        self.file.flush().map_err(|source| HistError::Io {
            path: self.path.clone(),
            source,
        })?;
        self.interval.reset();
        self.interval_start_ns = now_ns;
        self.intervals_written += 1;
        Ok(())
    }
}

/// Writes interval logs for every published stage from `hist.shm`: one file per stage,
/// `<dir>/<stage name>.hlog`, each interval the difference between two cumulative publications
/// (a publisher that restarted, and so started counting again, contributes its new counts).
pub struct IntervalLogger {
    dir: PathBuf,
    reader: HistogramReader,
    interval_ns: u64,
    start_mono_ns: u64,
    start_wall_ns: u64,
    last_tick_ns: u64,
    stages: Vec<Option<StageLog>>,
}

struct StageLog {
    log: IntervalLog,
    /// Last cumulative histogram per slot, to subtract.
    last: Vec<(usize, Histogram<u64>)>,
}

impl IntervalLogger {
    /// Log into `dir` (created if missing) every `interval_ns` (see [`DEFAULT_LOG_INTERVAL_NS`]).
    pub fn new(
        dir: &Path,
        region: Arc<HistogramRegion>,
        interval_ns: u64,
        start_mono_ns: u64,
        start_wall_ns: u64,
    ) -> Result<Self, HistError> {
        std::fs::create_dir_all(dir).map_err(|source| HistError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Self {
            dir: dir.to_owned(),
            reader: HistogramReader::new(region),
            interval_ns: interval_ns.max(1),
            start_mono_ns,
            start_wall_ns,
            last_tick_ns: start_mono_ns,
            stages: (0..MAX_STAGES).map(|_| None).collect(),
        })
    }

    /// When the interval has passed: read every slot, write each stage's new counts as one
    /// interval. Returns the number of intervals written.
    pub fn tick(&mut self, now_ns: u64) -> Result<usize, HistError> {
        if now_ns.saturating_sub(self.last_tick_ns) < self.interval_ns {
            return Ok(0);
        }
        self.last_tick_ns = now_ns;
        self.write_all(now_ns)
    }

    /// Write an interval for every stage now, however short (at shutdown).
    pub fn finish(&mut self, now_ns: u64) -> Result<usize, HistError> {
        self.write_all(now_ns)
    }

    fn write_all(&mut self, now_ns: u64) -> Result<usize, HistError> {
        let mut written = 0;
        for info in self.reader.slots() {
            let Some(snapshot) = self.reader.read_slot(info.slot)? else {
                continue;
            };
            let stage = info.stage as usize;
            if stage >= self.stages.len() {
                continue;
            }
            if self.stages[stage].is_none() {
                let file_name = sanitize(&info.name, info.stage);
                let log = IntervalLog::create(
                    &self.dir.join(format!("{file_name}.hlog")),
                    self.start_mono_ns,
                    self.start_wall_ns,
                    self.interval_ns,
                    None,
                )?;
                // The first interval covers the time since the logger started.
                self.stages[stage] = Some(StageLog {
                    log,
                    last: Vec::new(),
                });
            }
            let entry = self.stages[stage].as_mut().expect("just set");
            let previous = entry.last.iter_mut().find(|(slot, _)| *slot == info.slot);
            let delta = match previous {
                Some((_, last)) => {
                    let mut d = snapshot.histogram.clone();
                    // A publisher that restarted counts from zero again: then the whole new
                    // histogram is new.
                    if snapshot.histogram.len() < last.len() || d.subtract(&*last).is_err() {
                        d = snapshot.histogram.clone();
                    }
                    *last = snapshot.histogram;
                    d
                }
                None => {
                    entry.last.push((info.slot, snapshot.histogram.clone()));
                    snapshot.histogram
                }
            };
            entry
                .log
                .histogram_mut()
                .add(&delta)
                .map_err(|e| HistError::Decode {
                    slot: info.slot,
                    reason: format!("cannot merge: {e:?}"),
                })?;
        }
        for entry in self.stages.iter_mut().flatten() {
            entry.log.finish(now_ns)?;
            written += 1;
        }
        Ok(written)
    }

    /// The log files written so far.
    pub fn paths(&self) -> Vec<PathBuf> {
        self.stages
            .iter()
            .flatten()
            .map(|s| s.log.path().to_owned())
            .collect()
    }
}

/// A file-name-safe stage name.
fn sanitize(name: &str, stage: u32) -> String {
    let clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if clean.is_empty() {
        format!("stage_{stage}")
    } else {
        clean
    }
}
