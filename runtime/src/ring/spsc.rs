//! Single-producer single-consumer ring: the mailbox between two actors.
//!
//! Protocol. Messages are numbered from 0; message `p` lives in slot `p mod N`, and the slot's
//! `seq` word holds `p + 1` once message `p` is fully written (0 = never written).
//! - Producer, message `p`: if `p − consumer_position ≥ N` the ring may be full: reload the
//!   consumer's position (Acquire) and give up if it still is. Write the message, then store
//!   `seq = p + 1` with Release. Then store its own persisted position `p + 1` (read only on
//!   restart and by `pending`).
//! - Consumer at position `c`: load `seq` of slot `c mod N` with Acquire; if it is `c + 1` the
//!   message is complete (the Release/Acquire pair orders the payload before it), read it, then
//!   store its position `c + 1` with Release, which tells the producer the slot is free.
//!
//! - `push_batch` writes and commits its messages in one pass but commits the first slot last,
//!   so the consumer, waiting on the first, finds the whole batch ready at once.
//!
//! The consumer spins on the cache line that carries the data; the producer reads the consumer's
//! line only when its cached copy says the ring is full.
//!
//! Restarts. Both positions persist in the ring. A restarted consumer resumes from its persisted
//! position (committed after each pop or batch). A restarted producer resumes from its persisted
//! position and then skips forward over slots whose `seq` already says "committed", in case it
//! died between committing a slot and updating its position. A producer killed while writing a
//! message never stored that slot's `seq`, so the consumer never reads the half-written message;
//! the restarted producer writes that sequence number again. One killed while publishing a batch
//! (first slot last) may leave commits beyond its first uncommitted slot; the restarted producer
//! withdraws them (the consumer cannot have reached them) before it writes those numbers again.
use std::marker::PhantomData;
use std::sync::Arc;

use super::{
    check_positions, claim, release, Backing, Line, PackedSlot as Slot, RingError, BLOCK_BYTES,
    MAX_CAPACITY,
};
use crate::msg::ShmSafe;
#[cfg(not(loom))]
use crate::shm::Region;
use crate::shm::{RegionKind, RegionSpec, ShmDir};
#[cfg(loom)]
use crate::sync::AtomicU64;
use crate::sync::Ordering;

const PROD_OFF: usize = BLOCK_BYTES;
const CONS_OFF: usize = 2 * BLOCK_BYTES;
const SLOTS_OFF: usize = 3 * BLOCK_BYTES;

/// The ring is full: the consumer has not freed a slot yet. Retry later (back-pressure).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ring full")]
pub struct Full;

/// Why [`Consumer::skip_to`] refused to move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SkipError {
    #[error("cannot skip back to {wanted}: the consumer has already committed up to {position}")]
    Behind { wanted: u64, position: u64 },
    #[error("cannot skip to {wanted}: message {first_missing} was never published on this ring")]
    Unpublished { wanted: u64, first_missing: u64 },
}

struct Shared<T> {
    backing: Backing,
    prod: *const Line,
    cons: *const Line,
    slots: *const Slot<T>,
}

// Safety: the pointers point into `backing`, which the Shared owns; everything they reach is
// accessed through atomics or under the ring protocol that gives each slot one writer at a time.
unsafe impl<T: Send> Send for Shared<T> {}
// Safety: see Send.
unsafe impl<T: Send> Sync for Shared<T> {}

impl<T> Shared<T> {
    fn prod(&self) -> &Line {
        // Safety: points into the backing this Shared owns, valid and aligned for its lifetime.
        unsafe { &*self.prod }
    }

    fn cons(&self) -> &Line {
        // Safety: as `prod`.
        unsafe { &*self.cons }
    }
}

/// A single-producer single-consumer ring of `N` slots of `T`, in shared memory or anonymous.
///
/// The handle only opens the ring; [`Spsc::producer`] and [`Spsc::consumer`] take the sides
/// (each at most once at a time across all processes).
pub struct Spsc<T: ShmSafe, const N: usize> {
    shared: Arc<Shared<T>>,
    _n: PhantomData<[T; N]>,
}

impl<T: ShmSafe, const N: usize> Spsc<T, N> {
    /// Compile-time check of the capacity (referenced by every constructor).
    const CAPACITY_OK: () = assert!(
        N.is_power_of_two() && N >= 2 && N <= MAX_CAPACITY,
        "ring capacity must be a power of two between 2 and MAX_CAPACITY"
    );
    const MASK: u64 = N as u64 - 1;
    /// Bytes from one slot to the next (commit word + message, rounded to T's alignment).
    pub const SLOT_BYTES: usize = core::mem::size_of::<Slot<T>>();
    /// Offset of slot 0 in the region's payload; each slot is the 8-byte commit word followed by
    /// the message (at offset 8 for 8-byte-aligned messages). For tools and white-box tests.
    pub const SLOTS_OFFSET: usize = SLOTS_OFF;

    /// The region spec of this ring type.
    pub fn spec() -> RegionSpec {
        let () = Self::CAPACITY_OK;
        let slot_size = core::mem::size_of::<Slot<T>>();
        RegionSpec {
            kind: RegionKind::Spsc,
            capacity: N as u64,
            slot_size: slot_size as u64,
            payload_bytes: (SLOTS_OFF + N * slot_size) as u64,
        }
    }

    #[cfg(not(loom))]
    fn init_payload(payload: *mut u8) {
        // Safety: the payload is at least SLOTS_OFF bytes, 4096-aligned, zeroed and not yet
        // published to anyone (the header's `initialised` is stored after this).
        unsafe { (payload as *mut super::RingMeta).write(super::RingMeta::of::<T>(N)) }
    }

    #[cfg(not(loom))]
    fn from_region(region: Region) -> Self {
        let base = region.payload_ptr();
        // Safety: the region's payload is `spec().payload_bytes` long (checked by create or
        // attach), 4096-aligned, so every offset below is in bounds and 64-byte aligned, and
        // zeroed memory is a valid Line/Slot (atomics at 0, T: Pod).
        let shared = unsafe {
            Shared {
                prod: base.add(PROD_OFF) as *const Line,
                cons: base.add(CONS_OFF) as *const Line,
                slots: base.add(SLOTS_OFF) as *const Slot<T>,
                backing: Backing::Region(region),
            }
        };
        Spsc {
            shared: Arc::new(shared),
            _n: PhantomData,
        }
    }

    /// Create the ring file `name` in `dir` (fails if it exists).
    #[cfg(not(loom))]
    pub fn create(dir: &ShmDir, name: &str) -> Result<Self, RingError> {
        let region = Region::create_with(dir, name, Self::spec(), Self::init_payload)?;
        Ok(Self::from_region(region))
    }

    /// Attach to an existing ring file, checking its header and message type.
    #[cfg(not(loom))]
    pub fn attach(dir: &ShmDir, name: &str) -> Result<Self, RingError> {
        let region = Region::attach(dir, name, Self::spec())?;
        super::check_meta::<T>(&region, N)?;
        Ok(Self::from_region(region))
    }

    /// Attach if the file exists (a restart: positions persist), else create it.
    #[cfg(not(loom))]
    pub fn create_or_attach(dir: &ShmDir, name: &str) -> Result<Self, RingError> {
        let region = Region::create_or_attach_with(dir, name, Self::spec(), Self::init_payload)?;
        super::check_meta::<T>(&region, N)?;
        Ok(Self::from_region(region))
    }

    /// A ring in anonymous memory, for threads of one process.
    #[cfg(not(loom))]
    pub fn anonymous() -> Result<Self, RingError> {
        let region = Region::anonymous_with(Self::spec(), Self::init_payload)?;
        Ok(Self::from_region(region))
    }

    /// Loom builds model-check the protocol on the heap: there is no shared memory to open.
    #[cfg(loom)]
    pub fn create(_dir: &ShmDir, _name: &str) -> Result<Self, RingError> {
        Err(RingError::LoomBuild)
    }

    /// Loom builds: see [`Self::create`].
    #[cfg(loom)]
    pub fn attach(_dir: &ShmDir, _name: &str) -> Result<Self, RingError> {
        Err(RingError::LoomBuild)
    }

    /// Loom builds: see [`Self::create`].
    #[cfg(loom)]
    pub fn create_or_attach(_dir: &ShmDir, _name: &str) -> Result<Self, RingError> {
        Err(RingError::LoomBuild)
    }

    /// A ring on the heap built from loom's atomics (loom model checking only).
    #[cfg(loom)]
    pub fn anonymous() -> Result<Self, RingError> {
        let () = Self::CAPACITY_OK;
        struct Heap<T> {
            prod: Box<Line>,
            cons: Box<Line>,
            slots: Box<[Slot<T>]>,
        }
        // Safety: only reached through Shared, whose protocol governs access.
        unsafe impl<T> Send for Heap<T> {}
        // Safety: as Send.
        unsafe impl<T> Sync for Heap<T> {}
        let line = || {
            Box::new(Line {
                pos: AtomicU64::new(0),
                pid: AtomicU64::new(0),
            })
        };
        let heap = Box::new(Heap {
            prod: line(),
            cons: line(),
            slots: (0..N)
                .map(|_| Slot {
                    seq: AtomicU64::new(0),
                    msg: crate::sync::UnsafeCell::new(T::zeroed()),
                })
                .collect(),
        });
        let shared = Shared {
            prod: &*heap.prod as *const Line,
            cons: &*heap.cons as *const Line,
            slots: heap.slots.as_ptr(),
            backing: Backing::Heap(heap),
        };
        Ok(Spsc {
            shared: Arc::new(shared),
            _n: PhantomData,
        })
    }

    /// Number of slots.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Take the producer side, resuming the sequence where the previous producer stopped.
    pub fn producer(&self) -> Result<Producer<T, N>, RingError> {
        let sh = &self.shared;
        claim(sh.prod(), &sh.backing.name(), "producer")?;
        let consumer_pos = sh.cons().pos.load(Ordering::Acquire);
        let persisted = sh.prod().pos.load(Ordering::Acquire);
        check_positions(
            sh.prod(),
            &sh.backing,
            &[("consumer", consumer_pos), ("producer", persisted)],
        )?;
        let mut pos = persisted.max(consumer_pos);
        // Skip slots committed after the last persisted position (died between the two
        // stores). Bounded by N: at most N messages can be outstanding.
        for _ in 0..N {
            // Safety: index masked into 0..N; slots valid for the Shared's lifetime.
            let slot = unsafe { &*sh.slots.add((pos & Self::MASK) as usize) };
            if slot.seq.load(Ordering::Acquire) != pos + 1 {
                break;
            }
            pos += 1;
        }
        // A batch commits its first slot last, so a producer that died while publishing one
        // may have committed slots after the first uncommitted one. The consumer cannot reach
        // them (it stops at `pos`), and we are about to write those sequence numbers again:
        // withdraw the orphaned commits so the consumer never reads a slot while we rewrite it.
        for k in 1..N as u64 {
            let p = pos + k;
            // Safety: as above.
            let slot = unsafe { &*sh.slots.add((p & Self::MASK) as usize) };
            if slot.seq.load(Ordering::Acquire) == p + 1 {
                slot.seq.store(0, Ordering::Release);
            }
        }
        if pos - consumer_pos > N as u64 {
            release(sh.prod());
            return Err(RingError::Corrupt {
                ring: sh.backing.name(),
                reason: format!(
                    "producer position {pos} is more than {N} ahead of consumer position {consumer_pos}"
                ),
            });
        }
        sh.prod().pos.store(pos, Ordering::Release);
        Ok(Producer {
            slots: sh.slots,
            prod: sh.prod,
            cons: sh.cons,
            pos,
            cached_consumer_pos: consumer_pos,
            shared: Arc::clone(sh),
            _n: PhantomData,
        })
    }

    /// Take the consumer side, resuming at the persisted position.
    pub fn consumer(&self) -> Result<Consumer<T, N>, RingError> {
        let sh = &self.shared;
        claim(sh.cons(), &sh.backing.name(), "consumer")?;
        let pos = sh.cons().pos.load(Ordering::Acquire);
        check_positions(sh.cons(), &sh.backing, &[("consumer", pos)])?;
        Ok(Consumer {
            slots: sh.slots,
            prod: sh.prod,
            cons: sh.cons,
            pos,
            shared: Arc::clone(sh),
            _n: PhantomData,
        })
    }
}

/// The writing side of an [`Spsc`]. Dropping it frees the side for a successor.
pub struct Producer<T: ShmSafe, const N: usize> {
    // Copies of the Shared's pointers: one indirection less on the hot path.
    slots: *const Slot<T>,
    prod: *const Line,
    cons: *const Line,
    /// Sequence number of the next message.
    pos: u64,
    /// Last consumer position read; refreshed only when the ring looks full.
    cached_consumer_pos: u64,
    shared: Arc<Shared<T>>,
    _n: PhantomData<[T; N]>,
}

// Safety: the producer side is owned by exactly one handle (claim), the pointers stay valid
// through `shared`, and the protocol needs no thread affinity.
unsafe impl<T: ShmSafe + Send, const N: usize> Send for Producer<T, N> {}

impl<T: ShmSafe, const N: usize> Producer<T, N> {
    const MASK: u64 = N as u64 - 1;

    #[inline(always)]
    fn slot(&self, pos: u64) -> &Slot<T> {
        // Safety: the index is masked into 0..N and the slots live as long as `shared`.
        unsafe { &*self.slots.add((pos & Self::MASK) as usize) }
    }

    /// Free slots, refreshing the cached consumer position only if fewer than `want` look free.
    #[inline(always)]
    fn free(&mut self, want: u64) -> u64 {
        let n = N as u64;
        let mut free = n - (self.pos - self.cached_consumer_pos);
        if free < want {
            // Safety: `cons` points into the backing kept alive by `shared`.
            self.cached_consumer_pos = unsafe { &*self.cons }.pos.load(Ordering::Acquire);
            free = n - (self.pos - self.cached_consumer_pos);
        }
        free
    }

    /// Write one message. Returns its sequence number, or [`Full`] (nothing written).
    #[inline]
    pub fn try_push(&mut self, msg: &T) -> Result<u64, Full> {
        if self.free(1) == 0 {
            return Err(Full);
        }
        let pos = self.pos;
        let slot = self.slot(pos);
        // Safety: the consumer has released this slot (position check above, Acquire), and no
        // one reads it until `seq` says `pos + 1`; we are the only producer (claim).
        slot.msg.with_mut(|p| unsafe { p.write(*msg) });
        slot.seq.store(pos + 1, Ordering::Release);
        self.pos = pos + 1;
        // Safety: `prod` points into the backing kept alive by `shared`.
        unsafe { &*self.prod }
            .pos
            .store(self.pos, Ordering::Release);
        Ok(pos)
    }

    /// Write as many of `msgs` as fit, then publish them in order. Returns how many were
    /// written (0 when full). The consumer may see them one by one.
    #[inline]
    pub fn push_batch(&mut self, msgs: &[T]) -> usize {
        let n = (self.free(msgs.len() as u64) as usize).min(msgs.len());
        let start = self.pos;
        // One pass over the slots (each line touched once while hot): write every message and
        // commit slots 1..n at once, and commit slot 0 last. A consumer waiting on the first
        // slot then finds the whole batch ready when it wakes and reads it in one sweep instead
        // of chasing the producer line by line; it cannot pass slot 0 early, so the order of the
        // other commits does not matter to it (each Release store orders everything before it).
        for (i, msg) in msgs[..n].iter().enumerate() {
            let seq = start + i as u64;
            let slot = self.slot(seq);
            // Safety: as in try_push: these n slots are free and unpublished.
            slot.msg.with_mut(|p| unsafe { p.write(*msg) });
            if i > 0 {
                slot.seq.store(seq + 1, Ordering::Release);
            }
        }
        if n > 0 {
            self.slot(start).seq.store(start + 1, Ordering::Release);
        }
        self.pos = start + n as u64;
        // Safety: as in try_push.
        unsafe { &*self.prod }
            .pos
            .store(self.pos, Ordering::Release);
        n
    }

    /// Like [`Producer::push_batch`], but builds each message in its slot: `make(seq)` is called
    /// for up to `n` consecutive sequence numbers (as many as fit), with no staging copy.
    /// Returns how many were written and published.
    #[inline]
    pub fn push_with(&mut self, n: usize, mut make: impl FnMut(u64) -> T) -> usize {
        let n = (self.free(n as u64) as usize).min(n);
        let start = self.pos;
        // Same order as push_batch: the first slot is committed last.
        for i in 0..n as u64 {
            let seq = start + i;
            let slot = self.slot(seq);
            let msg = make(seq);
            // Safety: as in try_push: these n slots are free and unpublished.
            slot.msg.with_mut(|p| unsafe { p.write(msg) });
            if i > 0 {
                slot.seq.store(seq + 1, Ordering::Release);
            }
        }
        if n > 0 {
            self.slot(start).seq.store(start + 1, Ordering::Release);
        }
        self.pos = start + n as u64;
        // Safety: as in try_push.
        unsafe { &*self.prod }
            .pos
            .store(self.pos, Ordering::Release);
        n
    }

    /// Sequence number the next message will get.
    pub fn next_seq(&self) -> u64 {
        self.pos
    }

    /// Messages written but (as far as this side last looked) not yet consumed.
    pub fn in_flight(&self) -> u64 {
        self.pos - self.cached_consumer_pos
    }
}

impl<T: ShmSafe, const N: usize> Drop for Producer<T, N> {
    fn drop(&mut self) {
        release(self.shared.prod());
    }
}

/// The reading side of an [`Spsc`]. Dropping it frees the side for a successor.
pub struct Consumer<T: ShmSafe, const N: usize> {
    slots: *const Slot<T>,
    prod: *const Line,
    cons: *const Line,
    /// Sequence number of the next message to read.
    pos: u64,
    shared: Arc<Shared<T>>,
    _n: PhantomData<[T; N]>,
}

// Safety: as for Producer.
unsafe impl<T: ShmSafe + Send, const N: usize> Send for Consumer<T, N> {}

impl<T: ShmSafe, const N: usize> Consumer<T, N> {
    const MASK: u64 = N as u64 - 1;

    #[inline(always)]
    fn slot(&self, pos: u64) -> &Slot<T> {
        // Safety: the index is masked into 0..N and the slots live as long as `shared`.
        unsafe { &*self.slots.add((pos & Self::MASK) as usize) }
    }

    #[inline(always)]
    fn commit(&mut self, pos: u64) {
        self.pos = pos;
        // Safety: `cons` points into the backing kept alive by `shared`.
        unsafe { &*self.cons }.pos.store(pos, Ordering::Release);
    }

    /// Read the next message, if one is published.
    #[inline]
    pub fn try_pop(&mut self) -> Option<T> {
        let pos = self.pos;
        let slot = self.slot(pos);
        if slot.seq.load(Ordering::Acquire) != pos + 1 {
            return None;
        }
        // Safety: seq == pos + 1 (Acquire) means the message is complete, and the producer will
        // not touch this slot until our position passes it.
        let msg = slot.msg.with(|p| unsafe { p.read() });
        self.commit(pos + 1);
        Some(msg)
    }

    /// Hand up to `max` published messages, in order, to `f(seq, &msg)` without copying them
    /// out, then commit the position once. Returns how many were handled.
    ///
    /// If the process dies inside `f`, the whole batch is delivered again to the next consumer.
    #[inline]
    pub fn pop_batch(&mut self, max: usize, mut f: impl FnMut(u64, &T)) -> usize {
        self.pop_batch_checkpointed(max, &mut (), |_, seq, m| f(seq, m), |_, _| {})
    }

    /// Like [`Consumer::pop_batch`], but folds each message into `state` with
    /// `f(state, seq, &msg)` and then calls `checkpoint(state, end)` after the last message and
    /// before the position is committed, with `end` the position the commit will store.
    ///
    /// For a consumer whose own state must survive a restart: it saves that state tagged with
    /// `end` in `checkpoint`. If the process dies after the checkpoint and before the commit, the
    /// ring still delivers the batch again; the successor sees the checkpoint's `end` ahead of
    /// its position and steps over what the state already holds with [`Consumer::skip_to`].
    /// Nothing is counted twice and nothing is lost. Not called when no message was published.
    #[inline]
    pub fn pop_batch_checkpointed<S: ?Sized>(
        &mut self,
        max: usize,
        state: &mut S,
        mut f: impl FnMut(&mut S, u64, &T),
        checkpoint: impl FnOnce(&mut S, u64),
    ) -> usize {
        let start = self.pos;
        let mut pos = start;
        while pos - start < max as u64 {
            let slot = self.slot(pos);
            if slot.seq.load(Ordering::Acquire) != pos + 1 {
                break;
            }
            // Safety: as in try_pop; the reference does not outlive the call, and the slot
            // stays ours until the commit below.
            slot.msg.with(|p| f(state, pos, unsafe { &*p }));
            pos += 1;
        }
        if pos != start {
            checkpoint(state, pos);
            self.commit(pos);
        }
        (pos - start) as usize
    }

    /// Step over messages up to (not including) `pos` without reading them: the successor of a
    /// consumer that checkpointed its state at `pos` (see
    /// [`Consumer::pop_batch_checkpointed`]) but died before committing. Returns how many were
    /// skipped (0 when `pos` is the current position).
    ///
    /// Refused, and nothing moves, when `pos` is behind the current position (that state
    /// misses committed messages) or when a message before `pos` is not published (that state
    /// was not made from this ring).
    pub fn skip_to(&mut self, pos: u64) -> Result<u64, SkipError> {
        if pos < self.pos {
            return Err(SkipError::Behind {
                wanted: pos,
                position: self.pos,
            });
        }
        if pos - self.pos > N as u64 {
            return Err(SkipError::Unpublished {
                wanted: pos,
                first_missing: self.pos + N as u64,
            });
        }
        // Bounded: at most N slots. The producer cannot reuse them (our position has not passed
        // them), so each still holds the number it was published with.
        for p in self.pos..pos {
            if self.slot(p).seq.load(Ordering::Acquire) != p + 1 {
                return Err(SkipError::Unpublished {
                    wanted: pos,
                    first_missing: p,
                });
            }
        }
        let skipped = pos - self.pos;
        if skipped > 0 {
            self.commit(pos);
        }
        Ok(skipped)
    }

    /// Sequence number of the next message to read (= messages consumed so far).
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Messages published but not yet read (approximate: reads the producer's position).
    pub fn pending(&self) -> u64 {
        // Safety: `prod` points into the backing kept alive by `shared`.
        unsafe { &*self.prod }
            .pos
            .load(Ordering::Acquire)
            .saturating_sub(self.pos)
    }
}

impl<T: ShmSafe, const N: usize> Drop for Consumer<T, N> {
    fn drop(&mut self) {
        release(self.shared.cons());
    }
}
