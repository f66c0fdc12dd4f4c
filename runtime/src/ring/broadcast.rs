//! Broadcast ring: one publisher, up to [`MAX_SUBSCRIBERS`] subscribers, each with its own
//! cursor persisted in the ring. Market data travels on it.
//!
//! Protocol (a seqlock per slot). Message `p` lives in slot `p mod N`. The slot's `seq` word is
//! `2p + 1` while the publisher writes message `p` and `2p + 2` once it is complete (0 = never
//! written). The publisher never looks at the subscribers: it stores `seq = 2p + 1` (Release),
//! issues a Release fence, stores the message words (relaxed atomics), then stores
//! `seq = 2p + 2` (Release) and finally its own persisted position `p + 1`.
//!
//! A subscriber at cursor `c` wants `seq = 2c + 2`. It loads `seq` (Acquire):
//! - equal: it copies the message word by word (relaxed atomic loads, so a concurrent overwrite is
//!   a detected retry, never a data race), issues an Acquire fence and loads `seq` again; if it is
//!   unchanged the copy is whole, else the slot was overwritten under it: overrun.
//! - smaller (an older message, or `2c + 1`: message `c` is being written): nothing new yet.
//! - larger: the publisher lapped the subscriber (it wrote message `c + N` or later here).
//!   The subscriber reads the publisher's position `h` and skips to `max(h − N, c + 1)`, the
//!   oldest message that may still be intact, reporting exactly how many it skipped. If that one
//!   is overwritten too before it is read, the next poll reports the next skip; the sum of the
//!   reported losses plus the messages delivered always equals the distance travelled.
//!
//! Restarts: each cursor's position persists, so a restarted subscriber resumes where it stopped
//! (or learns what it lost meanwhile). A restarted publisher resumes from its persisted position,
//! skipping slots already committed after it (died between the two stores); a slot left odd by a
//! publisher killed mid-write is simply written again.
//!
//! Messages must be whole 8-byte words with 8-byte alignment (checked at compile time), which all
//! engine messages are.
use std::marker::PhantomData;
use std::sync::Arc;

use super::{
    check_positions, claim, release, Backing, Line, RingError, Slot, BLOCK_BYTES, MAX_CAPACITY,
    MAX_POSITION,
};
use crate::msg::ShmSafe;
#[cfg(not(loom))]
use crate::shm::Region;
use crate::shm::{RegionKind, RegionSpec, ShmDir};
use crate::sync::{fence, AtomicU64, Ordering};

/// Cursors per broadcast ring.
pub const MAX_SUBSCRIBERS: usize = 16;

const PUB_OFF: usize = BLOCK_BYTES;
const CURSORS_OFF: usize = 2 * BLOCK_BYTES;
const SLOTS_OFF: usize = CURSORS_OFF + MAX_SUBSCRIBERS * BLOCK_BYTES;

/// What a [`Subscriber::poll`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recv<T> {
    /// The next message and its sequence number.
    Msg { seq: u64, msg: T },
    /// Nothing new yet.
    Empty,
    /// The publisher overwrote messages this subscriber had not read: `lost` of them are gone
    /// (exactly), and the cursor moved past them to the oldest message that may still be read.
    Overrun { lost: u64 },
}

struct Shared {
    backing: Backing,
    publisher: *const Line,
    cursors: *const u8,
    /// Slot `i`'s `seq` is at `seq_base + i · stride` (in words); its message words follow at
    /// `words_base + i · stride`. Strided pointers let the loom build keep its atomics on the
    /// heap while the real build keeps `Slot<T>` in shared memory.
    seq_base: *const AtomicU64,
    words_base: *const AtomicU64,
    stride_words: usize,
}

// Safety: the pointers point into `backing`, owned by the Shared; all access is atomic.
unsafe impl Send for Shared {}
// Safety: see Send.
unsafe impl Sync for Shared {}

impl Shared {
    fn publisher(&self) -> &Line {
        // Safety: points into the backing owned by self.
        unsafe { &*self.publisher }
    }

    #[cfg(not(loom))]
    fn cursor(&self, index: usize) -> &Line {
        debug_assert!(index < MAX_SUBSCRIBERS);
        // Safety: index < MAX_SUBSCRIBERS (checked by callers), lines BLOCK_BYTES apart.
        unsafe { &*(self.cursors.add(index * BLOCK_BYTES) as *const Line) }
    }
}

/// A broadcast ring of `N` slots of `T`, in shared memory or anonymous.
pub struct Broadcast<T: ShmSafe, const N: usize> {
    shared: Arc<Shared>,
    _t: PhantomData<[T; N]>,
}

impl<T: ShmSafe, const N: usize> Broadcast<T, N> {
    /// Compile-time checks (referenced by every constructor).
    const CHECKS: () = {
        assert!(
            N.is_power_of_two() && N >= 2 && N <= MAX_CAPACITY,
            "ring capacity must be a power of two between 2 and MAX_CAPACITY"
        );
        assert!(
            core::mem::size_of::<T>() & 7 == 0 && core::mem::align_of::<T>() >= 8,
            "broadcast messages must be whole 8-byte words, 8-byte aligned"
        );
    };
    #[cfg(loom)]
    const WORDS: usize = core::mem::size_of::<T>() / 8;

    /// The region spec of this ring type.
    pub fn spec() -> RegionSpec {
        let () = Self::CHECKS;
        let slot_size = core::mem::size_of::<Slot<T>>();
        RegionSpec {
            kind: RegionKind::Broadcast,
            capacity: N as u64,
            slot_size: slot_size as u64,
            payload_bytes: (SLOTS_OFF + N * slot_size) as u64,
        }
    }

    #[cfg(not(loom))]
    fn init_payload(payload: *mut u8) {
        // Safety: zeroed, 4096-aligned, unpublished payload of at least SLOTS_OFF bytes.
        unsafe { (payload as *mut super::RingMeta).write(super::RingMeta::of::<T>(N)) }
    }

    #[cfg(not(loom))]
    fn from_region(region: Region) -> Self {
        let base = region.payload_ptr();
        // Safety: the payload is spec().payload_bytes long and 4096-aligned, so all offsets are
        // in bounds and aligned; zeroed memory is a valid Line/Slot. `Slot<T>` is repr(C) with
        // `seq` first and the message (8-byte aligned, whole words) at offset 8, and both
        // `AtomicU64` and `UnsafeCell<T>` have the layout of their contents.
        let shared = unsafe {
            let slots = base.add(SLOTS_OFF) as *const Slot<T>;
            Shared {
                publisher: base.add(PUB_OFF) as *const Line,
                cursors: base.add(CURSORS_OFF),
                seq_base: &raw const (*slots).seq,
                words_base: (&raw const (*slots).msg) as *const AtomicU64,
                stride_words: core::mem::size_of::<Slot<T>>() / 8,
                backing: Backing::Region(region),
            }
        };
        Broadcast {
            shared: Arc::new(shared),
            _t: PhantomData,
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
        let () = Self::CHECKS;
        struct Heap {
            lines: Box<[Line]>,
            words: Box<[AtomicU64]>,
        }
        let stride = 1 + Self::WORDS;
        let heap = Box::new(Heap {
            lines: (0..1 + MAX_SUBSCRIBERS)
                .map(|_| Line {
                    pos: AtomicU64::new(0),
                    pid: AtomicU64::new(0),
                })
                .collect(),
            words: (0..N * stride).map(|_| AtomicU64::new(0)).collect(),
        });
        // The loom build addresses cursor i as lines[1 + i] (see `cursor_line`).
        let shared = Shared {
            publisher: &heap.lines[0] as *const Line,
            cursors: &heap.lines[1] as *const Line as *const u8,
            seq_base: heap.words.as_ptr(),
            words_base: heap.words[1..].as_ptr(),
            stride_words: stride,
            backing: Backing::Heap(heap),
        };
        Ok(Broadcast {
            shared: Arc::new(shared),
            _t: PhantomData,
        })
    }

    /// Number of slots.
    pub const fn capacity(&self) -> usize {
        N
    }

    /// Take the publisher side, resuming the sequence where the previous publisher stopped.
    pub fn publisher(&self) -> Result<Publisher<T, N>, RingError> {
        let sh = &self.shared;
        claim(sh.publisher(), &sh.backing.name(), "publisher")?;
        let mut pos = sh.publisher().pos.load(Ordering::Acquire);
        check_positions(sh.publisher(), &sh.backing, &[("publisher", pos)])?;
        // Skip slots committed after the persisted position (died between the two stores).
        for _ in 0..N {
            let seq = seq_at(sh, pos & (N as u64 - 1)).load(Ordering::Acquire);
            if seq != 2 * pos + 2 {
                break;
            }
            pos += 1;
        }
        sh.publisher().pos.store(pos, Ordering::Release);
        Ok(Publisher {
            pos,
            shared: Arc::clone(sh),
            _t: PhantomData,
        })
    }

    /// Take cursor `cursor` and resume at its persisted position (0 for a cursor never used:
    /// a late subscriber then first learns how much it missed, as an [`Recv::Overrun`]).
    pub fn subscribe(&self, cursor: usize) -> Result<Subscriber<T, N>, RingError> {
        self.subscribe_at(cursor, false)
    }

    /// Take cursor `cursor` and start at the publisher's current position (only new messages).
    pub fn subscribe_latest(&self, cursor: usize) -> Result<Subscriber<T, N>, RingError> {
        self.subscribe_at(cursor, true)
    }

    fn subscribe_at(&self, cursor: usize, latest: bool) -> Result<Subscriber<T, N>, RingError> {
        if cursor >= MAX_SUBSCRIBERS {
            return Err(RingError::CursorOutOfRange {
                cursor,
                max: MAX_SUBSCRIBERS,
            });
        }
        let sh = &self.shared;
        let line = cursor_line(sh, cursor);
        claim(line, &sh.backing.name(), "subscriber cursor")?;
        let head = sh.publisher().pos.load(Ordering::Acquire);
        let pos = if latest {
            line.pos.store(head, Ordering::Release);
            head
        } else {
            line.pos.load(Ordering::Acquire)
        };
        check_positions(
            line,
            &sh.backing,
            &[("publisher", head), ("subscriber cursor", pos)],
        )?;
        // A subscriber may read message p before the publisher stores position p + 1.
        if pos > head + 1 {
            release(line);
            return Err(RingError::Corrupt {
                ring: sh.backing.name(),
                reason: format!(
                    "cursor {cursor} is at {pos}, beyond the publisher's position {head}"
                ),
            });
        }
        Ok(Subscriber {
            pos,
            cursor,
            shared: Arc::clone(sh),
            _t: PhantomData,
        })
    }
}

#[inline(always)]
fn seq_at(sh: &Shared, index: u64) -> &AtomicU64 {
    // Safety: callers pass index < N; the strided layout is in bounds of the backing.
    unsafe { &*sh.seq_base.add(index as usize * sh.stride_words) }
}

#[inline(always)]
fn words_at(sh: &Shared, index: u64) -> *const AtomicU64 {
    // Safety: as seq_at.
    unsafe { sh.words_base.add(index as usize * sh.stride_words) }
}

#[inline(always)]
fn cursor_line(sh: &Shared, cursor: usize) -> &Line {
    #[cfg(not(loom))]
    {
        sh.cursor(cursor)
    }
    #[cfg(loom)]
    {
        // Safety: the loom heap keeps the cursor lines contiguous as `Line`s.
        unsafe { &*(sh.cursors as *const Line).add(cursor) }
    }
}

/// The writing side of a [`Broadcast`]. Never waits.
pub struct Publisher<T: ShmSafe, const N: usize> {
    pos: u64,
    shared: Arc<Shared>,
    _t: PhantomData<[T; N]>,
}

impl<T: ShmSafe, const N: usize> Publisher<T, N> {
    /// Publish one message; returns its sequence number. Overwrites the oldest slot.
    #[inline]
    pub fn publish(&mut self, msg: &T) -> u64 {
        let sh = &*self.shared;
        let pos = self.pos;
        let index = pos & (N as u64 - 1);
        let seq = seq_at(sh, index);
        // Release: a subscriber that sees the odd value also sees our earlier position store
        // (it reads the position to compute how far it was lapped).
        seq.store(2 * pos + 1, Ordering::Release);
        // The odd value must be visible before any word of the new message.
        fence(Ordering::Release);
        let words: &[u64] = bytemuck::cast_slice(bytemuck::bytes_of(msg));
        let dst = words_at(sh, index);
        for (i, w) in words.iter().enumerate() {
            // Safety: i < WORDS, inside this slot's message area.
            unsafe { &*dst.add(i) }.store(*w, Ordering::Relaxed);
        }
        seq.store(2 * pos + 2, Ordering::Release);
        self.pos = pos + 1;
        sh.publisher().pos.store(pos + 1, Ordering::Release);
        pos
    }

    /// Sequence number the next message will get.
    pub fn next_seq(&self) -> u64 {
        self.pos
    }
}

impl<T: ShmSafe, const N: usize> Drop for Publisher<T, N> {
    fn drop(&mut self) {
        release(self.shared.publisher());
    }
}

/// A reading side of a [`Broadcast`], owning one cursor.
pub struct Subscriber<T: ShmSafe, const N: usize> {
    pos: u64,
    cursor: usize,
    shared: Arc<Shared>,
    _t: PhantomData<[T; N]>,
}

impl<T: ShmSafe, const N: usize> Subscriber<T, N> {
    #[inline(always)]
    fn commit(&mut self, pos: u64) {
        self.pos = pos;
        cursor_line(&self.shared, self.cursor)
            .pos
            .store(pos, Ordering::Release);
    }

    /// The next message, [`Recv::Empty`], or [`Recv::Overrun`] with the exact number lost.
    /// Never returns a torn message.
    #[inline]
    pub fn poll(&mut self) -> Recv<T> {
        let sh = &*self.shared;
        let pos = self.pos;
        let index = pos & (N as u64 - 1);
        let want = 2 * pos + 2;
        let seq = seq_at(sh, index);
        let before = seq.load(Ordering::Acquire);
        if before < want {
            return Recv::Empty;
        }
        if before == want {
            let mut msg = T::zeroed();
            {
                let words: &mut [u64] = bytemuck::cast_slice_mut(bytemuck::bytes_of_mut(&mut msg));
                let src = words_at(sh, index);
                for (i, w) in words.iter_mut().enumerate() {
                    // Safety: i < WORDS, inside this slot's message area.
                    *w = unsafe { &*src.add(i) }.load(Ordering::Relaxed);
                }
            }
            // Order the word loads before the second sequence load.
            fence(Ordering::Acquire);
            if seq.load(Ordering::Relaxed) == want {
                self.commit(pos + 1);
                return Recv::Msg { seq: pos, msg };
            }
        }
        // Lapped: the slot holds (or is being written with) message pos + N or later.
        // (Bounded: a tampered file's head cannot carry the cursor past MAX_POSITION.)
        let head = sh.publisher().pos.load(Ordering::Acquire).min(MAX_POSITION);
        let next = head.saturating_sub(N as u64).max(pos + 1);
        self.commit(next);
        Recv::Overrun { lost: next - pos }
    }

    /// Sequence number of the next message this subscriber will read.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// This subscriber's cursor index.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// How far behind the publisher this subscriber is (approximate).
    pub fn lag(&self) -> u64 {
        self.shared
            .publisher()
            .pos
            .load(Ordering::Acquire)
            .saturating_sub(self.pos)
    }
}

impl<T: ShmSafe, const N: usize> Drop for Subscriber<T, N> {
    fn drop(&mut self) {
        release(cursor_line(&self.shared, self.cursor));
    }
}
