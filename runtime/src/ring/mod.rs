//! Lock-free rings in shared memory.
//!
//! - [`Spsc`]: one producer, one consumer; the mailbox between two actors. Never loses or
//!   duplicates a message, survives either side restarting.
//! - [`Broadcast`]: one publisher, up to [`MAX_SUBSCRIBERS`] subscribers with their own cursors;
//!   market data. The publisher never waits; a slow subscriber learns it was overrun and by how
//!   many messages.
//!
//! Both put a sequence word inside each slot, beside the payload, so a consumer spins on the very
//! cache line that carries the data (one cache miss a hop instead of two; see
//! `shared/notes/ipc-latency.md`). Positions that only matter on restart or when the ring is full
//! live on their own cache lines. The hot path takes no lock, allocates nothing and makes no
//! system call; all atomics come from [`crate::sync`] so that loom can model-check the protocol.
//!
//! Region payload layout (offsets in bytes, every block 128-byte aligned so the adjacent-line
//! prefetcher never pairs two blocks written by different sides):
//!
//! ```text
//! Spsc:      0 RingMeta | 128 producer Line | 256 consumer Line | 384 slots[N] (PackedSlot)
//! Broadcast: 0 RingMeta | 128 publisher Line | 256 + 128·i cursor Line i (i < 16) | 2304 slots[N]
//! ```
// Loom builds keep only the heap-backed constructors; the shared-memory layout goes unused.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

pub mod broadcast;
pub mod probe;
pub mod spsc;

pub use broadcast::{Broadcast, Publisher, Recv, Subscriber, MAX_SUBSCRIBERS};
pub use spsc::{Consumer, Full, Producer, SkipError, Spsc};

use std::path::PathBuf;

use crate::msg::ShmSafe;
use crate::shm::{AttachError, ShmError};
use crate::sync::{AtomicU64, Ordering, UnsafeCell};

/// Largest capacity accepted (2^24 slots): a limit on every queue.
pub const MAX_CAPACITY: usize = 1 << 24;

/// Largest message position a ring file may hold (2^62: 146 years at 10^9 messages/s). A
/// position read from a file beyond it is refused as [`RingError::Corrupt`] on attach, so that
/// `pos + 1` and the broadcast ring's `2 * pos + 2` can never overflow.
pub const MAX_POSITION: u64 = 1 << 62;

/// Refuse (as [`RingError::Corrupt`]) positions read from the file beyond [`MAX_POSITION`],
/// each named by what holds it; on a refusal, free `side`, the side just claimed.
fn check_positions(
    side: &Line,
    backing: &Backing,
    positions: &[(&str, u64)],
) -> Result<(), RingError> {
    let Some(&(what, pos)) = positions.iter().find(|&&(_, pos)| pos > MAX_POSITION) else {
        return Ok(());
    };
    release(side);
    Err(RingError::Corrupt {
        ring: backing.name(),
        reason: format!("{what} position {pos} is beyond {MAX_POSITION}: no ring gets that far"),
    })
}

/// Distance between blocks written by different sides (two cache lines).
pub(crate) const BLOCK_BYTES: usize = 128;

/// A broadcast slot: the sequence word and the message on the same cache line(s), each slot
/// starting on its own line.
#[repr(C, align(64))]
pub(crate) struct Slot<T> {
    pub(crate) seq: AtomicU64,
    pub(crate) msg: UnsafeCell<T>,
}

/// An SPSC slot: the commit word immediately followed by the message, slots back to back (stride
/// `8 + size_of::<T>()` rounded to T's alignment). A message of up to 56 bytes fills exactly one
/// cache line with its commit word (the slots start 64-byte aligned); a 64-byte message takes 72
/// bytes instead of the 128 a line-aligned slot would need, which measured 2.5x the batched
/// throughput (see benches/ring.rs). The consumer still finds the commit word on the line that
/// carries the start of the data.
#[repr(C)]
pub(crate) struct PackedSlot<T> {
    pub(crate) seq: AtomicU64,
    pub(crate) msg: UnsafeCell<T>,
}

/// A side's persisted position and the pid holding that side (0 = free).
#[repr(C, align(64))]
pub(crate) struct Line {
    pub(crate) pos: AtomicU64,
    pub(crate) pid: AtomicU64,
}

/// What the ring carries, written before the region header is published and checked on attach
/// so that two message types of equal size cannot be confused.
#[repr(C, align(64))]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RingMeta {
    pub(crate) type_hash: u64,
    pub(crate) msg_bytes: u64,
    pub(crate) msg_align: u64,
    pub(crate) capacity: u64,
}

impl RingMeta {
    pub(crate) fn of<T: ShmSafe>(capacity: usize) -> Self {
        RingMeta {
            type_hash: type_hash::<T>(),
            msg_bytes: core::mem::size_of::<T>() as u64,
            msg_align: core::mem::align_of::<T>() as u64,
            capacity: capacity as u64,
        }
    }
}

/// FNV-1a of the message's type name, size and alignment.
pub(crate) fn type_hash<T: ShmSafe>() -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    let mut mix = |bytes: &[u8]| {
        for &b in bytes {
            h ^= b as u64;
            h = h.wrapping_mul(0x100_0000_01b3);
        }
    };
    mix(T::TYPE_NAME.as_bytes());
    mix(&(core::mem::size_of::<T>() as u64).to_le_bytes());
    mix(&(core::mem::align_of::<T>() as u64).to_le_bytes());
    h
}

/// Errors opening a ring or taking one of its sides.
#[derive(Debug, thiserror::Error)]
pub enum RingError {
    #[error(transparent)]
    Shm(#[from] ShmError),
    #[error(transparent)]
    Attach(#[from] AttachError),
    #[error("ring {path} carries message type hash {found:#018x} ({found_bytes} bytes), expected {expected:#018x} for {expected_name} ({expected_bytes} bytes): two actors disagree on what this ring carries; check the topology")]
    MessageType {
        path: PathBuf,
        found: u64,
        found_bytes: u64,
        expected: u64,
        expected_name: &'static str,
        expected_bytes: u64,
    },
    #[error("the {side} side of ring {ring} is held by live process {pid}: only one {side} at a time; stop it first (or wait for the supervisor to reap it)")]
    SideTaken {
        ring: String,
        side: &'static str,
        pid: u32,
    },
    #[error("cursor {cursor} out of range: a broadcast ring has cursors 0..{max}")]
    CursorOutOfRange { cursor: usize, max: usize },
    #[error("ring {ring} is inconsistent: {reason}; remove the file and restart both sides")]
    Corrupt { ring: String, reason: String },
    #[error("this is a loom model-checking build: rings live on the heap, shared-memory files cannot be opened")]
    LoomBuild,
}

/// Whether `pid` names a live process (a zombie counts as dead: it will never touch the ring).
pub(crate) fn pid_alive(pid: u32) -> bool {
    if pid == 0 || pid > i32::MAX as u32 {
        return false;
    }
    // Safety: kill with signal 0 only checks for existence and permission; it sends nothing.
    let rc = unsafe { libc::kill(pid as libc::pid_t, 0) };
    if rc != 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EPERM) {
        return false;
    }
    // /proc/<pid>/stat: "pid (comm) S ..."; the state follows the last ')'.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.trim_start().chars().next()),
            Some('Z') | Some('X')
        ),
        Err(_) => true,
    }
}

/// Take a side of a ring for this process: refuse while another live process (or another handle
/// in this one) holds it; take over from a dead holder.
pub(crate) fn claim(line: &Line, ring: &str, side: &'static str) -> Result<(), RingError> {
    let me = u64::from(std::process::id());
    // Bounded: each failed exchange means another claimant changed the word; a few suffice.
    for _ in 0..64 {
        let holder = line.pid.load(Ordering::Acquire);
        if holder != 0 && (holder == me || pid_alive(holder as u32)) {
            return Err(RingError::SideTaken {
                ring: ring.to_owned(),
                side,
                pid: holder as u32,
            });
        }
        if line
            .pid
            .compare_exchange(holder, me, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            return Ok(());
        }
    }
    Err(RingError::SideTaken {
        ring: ring.to_owned(),
        side,
        pid: line.pid.load(Ordering::Acquire) as u32,
    })
}

/// Give a side back (on drop), unless another process took it over meanwhile.
pub(crate) fn release(line: &Line) {
    let me = u64::from(std::process::id());
    let _ = line
        .pid
        .compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
}

/// Where a ring's memory lives.
pub(crate) enum Backing {
    /// A shared-memory file or an anonymous mapping (zero-filled = valid empty ring).
    #[cfg(not(loom))]
    Region(crate::shm::Region),
    /// Heap objects built with loom's atomics (which cannot live in zeroed memory).
    #[cfg(loom)]
    Heap(#[allow(dead_code)] Box<dyn Send + Sync>),
}

impl Backing {
    pub(crate) fn name(&self) -> String {
        match self {
            #[cfg(not(loom))]
            Backing::Region(r) => r
                .path()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "<anonymous>".to_owned()),
            #[cfg(loom)]
            Backing::Heap(_) => "<loom heap>".to_owned(),
        }
    }
}

/// Check the message-type record of an attached ring.
#[cfg(not(loom))]
pub(crate) fn check_meta<T: ShmSafe>(
    region: &crate::shm::Region,
    capacity: usize,
) -> Result<(), RingError> {
    // Safety: the payload starts with a RingMeta written before the header was published (the
    // attach verified `initialised` with Acquire); it is plain integers, never written again.
    let found = unsafe { (region.payload_ptr() as *const RingMeta).read() };
    let expected = RingMeta::of::<T>(capacity);
    if found != expected {
        return Err(RingError::MessageType {
            path: region.path().map(Into::into).unwrap_or_default(),
            found: found.type_hash,
            found_bytes: found.msg_bytes,
            expected: expected.type_hash,
            expected_name: T::TYPE_NAME,
            expected_bytes: expected.msg_bytes,
        });
    }
    Ok(())
}
