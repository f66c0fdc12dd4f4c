//! A sequence lock for shared memory: one writer publishes a plain-data value, any number of
//! readers (in any process) take consistent copies without ever blocking the writer.
//!
//! Protocol (Boehm, "Can seqlocks get along with programming language memory models?", 2012):
//! the writer makes the sequence odd, stores the data, then makes it even again with Release; a
//! reader loads the sequence (Acquire), copies the data, issues an Acquire fence and loads the
//! sequence again: the copy is consistent when both loads saw the same even value. Data words are
//! copied with relaxed atomic loads and stores, so a torn read is a detected retry, never a data
//! race.
//!
//! Used for telemetry gauges (a few hundred bytes, published at up to a few kHz) and, through
//! [`SeqCounter`] and the word-copy helpers, for the histogram slots in `hist.shm`.

use crate::msg::ShmSafe;
use crate::sync::{fence, AtomicU64, Ordering};
use std::cell::UnsafeCell;
use std::marker::PhantomData;

/// Read attempts that only spin before a reader starts yielding.
pub const READ_SPIN_ATTEMPTS: u32 = 128;
/// Total read attempts before [`SeqLock::read`] gives up (a writer that died mid-write leaves
/// the sequence odd until it restarts; readers must not hang on it).
pub const READ_MAX_ATTEMPTS: u32 = READ_SPIN_ATTEMPTS + 1_024;

/// The sequence word of a seqlock: even = stable, odd = a write is in progress.
#[repr(C)]
#[derive(Debug, Default)]
pub struct SeqCounter {
    seq: AtomicU64,
}

impl SeqCounter {
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            seq: AtomicU64::new(0),
        }
    }

    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            seq: AtomicU64::new(0),
        }
    }

    /// Start a write: make the sequence odd. Returns the token for [`SeqCounter::end_write`].
    ///
    /// Single writer. If the previous writer died between begin and end (the sequence is odd),
    /// the write carries on from there, so a restarted writer heals the lock.
    #[inline]
    pub fn begin_write(&self) -> u64 {
        let current = self.seq.load(Ordering::Relaxed);
        let odd = current | 1;
        self.seq.store(odd, Ordering::Relaxed);
        // The odd value must be visible before any data store: a reader that sees new data then
        // sees (through its Acquire fence) a sequence different from its first load.
        fence(Ordering::Release);
        odd
    }

    /// Finish a write started with `token`: make the sequence even again (Release: the data
    /// stores happen before it).
    #[inline]
    pub fn end_write(&self, token: u64) {
        self.seq.store(token.wrapping_add(1), Ordering::Release);
    }

    /// Start a write only if no other write is in progress (CAS even → odd). For values that
    /// more than one process may write (operator actions): `None` means someone else is
    /// writing (or died writing); retry or fall back to [`SeqCounter::begin_write`].
    #[inline]
    pub fn try_begin_write_exclusive(&self) -> Option<u64> {
        let current = self.seq.load(Ordering::Relaxed);
        if current & 1 == 1 {
            return None;
        }
        self.seq
            .compare_exchange(current, current + 1, Ordering::Relaxed, Ordering::Relaxed)
            .ok()?;
        fence(Ordering::Release);
        Some(current + 1)
    }

    /// Start a read: the current sequence, or `None` while a write is in progress.
    #[inline]
    pub fn read_begin(&self) -> Option<u64> {
        let seq = self.seq.load(Ordering::Acquire);
        (seq & 1 == 0).then_some(seq)
    }

    /// Whether the data copied since [`SeqCounter::read_begin`] returned `start` is consistent.
    #[inline]
    pub fn read_validate(&self, start: u64) -> bool {
        fence(Ordering::Acquire);
        self.seq.load(Ordering::Relaxed) == start
    }

    /// The current sequence (even when stable): twice the number of completed writes, so a
    /// reader can tell whether anything was published since it last looked.
    #[inline]
    pub fn load(&self) -> u64 {
        self.seq.load(Ordering::Acquire)
    }
}

/// Wait politely between read attempts: spin first, then yield.
#[inline]
fn read_backoff(attempt: u32) {
    if attempt < READ_SPIN_ATTEMPTS {
        std::hint::spin_loop();
    } else {
        std::thread::yield_now();
    }
}

/// Copy `dst.len()` words from shared memory with relaxed atomic loads.
///
/// # Safety
/// `src` must be 8-aligned and valid for reads of `dst.len() * 8` bytes for the duration of the
/// call, and every concurrent access to that memory must be atomic (as [`store_words`] does).
#[cfg(not(loom))]
#[inline]
pub unsafe fn load_words(src: *const u8, dst: &mut [u64]) {
    debug_assert_eq!(src as usize % 8, 0);
    let words = src as *const std::sync::atomic::AtomicU64;
    for (i, out) in dst.iter_mut().enumerate() {
        // Safety: the caller guarantees alignment and extent; AtomicU64 has the layout of u64.
        *out = unsafe { (*words.add(i)).load(std::sync::atomic::Ordering::Relaxed) };
    }
}

/// Copy `src` into shared memory with relaxed atomic stores (inside a write section).
///
/// # Safety
/// `dst` must be 8-aligned and valid for writes of `src.len() * 8` bytes for the duration of the
/// call, and every concurrent access to that memory must be atomic (as [`load_words`] does).
#[cfg(not(loom))]
#[inline]
pub unsafe fn store_words(dst: *mut u8, src: &[u64]) {
    debug_assert_eq!(dst as usize % 8, 0);
    let words = dst as *const std::sync::atomic::AtomicU64;
    for (i, word) in src.iter().enumerate() {
        // Safety: the caller guarantees alignment and extent; AtomicU64 has the layout of u64.
        unsafe { (*words.add(i)).store(*word, std::sync::atomic::Ordering::Relaxed) };
    }
}

/// Under loom the histogram slots (the only users of the raw copies) are never run; these
/// keep the crate compiling with the same signatures.
///
/// # Safety
/// As the non-loom version.
#[cfg(loom)]
pub unsafe fn load_words(src: *const u8, dst: &mut [u64]) {
    for (i, out) in dst.iter_mut().enumerate() {
        // Safety: the caller guarantees alignment and extent.
        *out = unsafe { core::ptr::read_volatile((src as *const u64).add(i)) };
    }
}

/// See the loom [`load_words`].
///
/// # Safety
/// As the non-loom version.
#[cfg(loom)]
pub unsafe fn store_words(dst: *mut u8, src: &[u64]) {
    for (i, word) in src.iter().enumerate() {
        // Safety: the caller guarantees alignment and extent.
        unsafe { core::ptr::write_volatile((dst as *mut u64).add(i), *word) };
    }
}

/// A value of plain data behind a sequence lock, laid out for shared memory.
///
/// All-zero bytes are a valid `SeqLock` (sequence 0, value all zeros), so a freshly created
/// region needs no initialisation. Under `cfg(loom)` the value lives in loom atomics instead so
/// the model checker can interleave the writer between any two words.
#[repr(C, align(64))]
pub struct SeqLock<T: ShmSafe> {
    seq: SeqCounter,
    #[cfg(not(loom))]
    data: UnsafeCell<T>,
    #[cfg(loom)]
    data: Box<[AtomicU64]>,
    _marker: PhantomData<UnsafeCell<T>>,
}

// Safety: every access to `data` is a word-sized atomic operation and readers only return copies
// validated by the sequence, so sharing a `SeqLock` between threads cannot create a data race.
// `T: ShmSafe` is plain data (Pod), which is Send + Sync.
unsafe impl<T: ShmSafe> Sync for SeqLock<T> {}
// Safety: as above; owning a SeqLock owns a T, which is Send.
unsafe impl<T: ShmSafe> Send for SeqLock<T> {}

impl<T: ShmSafe> SeqLock<T> {
    /// Words copied per read or write. Checked at compile time: the value must be a whole number
    /// of 8-byte words so the copy never touches bytes outside it.
    const WORDS: usize = {
        assert!(
            core::mem::size_of::<T>().is_multiple_of(8),
            "SeqLock values must be a whole number of 8-byte words"
        );
        core::mem::size_of::<T>() / 8
    };

    /// A lock holding `value` (for values that live in ordinary memory: tests, in-process use).
    pub fn new(value: T) -> Self {
        let lock = Self::zeroed();
        lock.write(&value);
        lock
    }

    #[cfg(not(loom))]
    fn zeroed() -> Self {
        Self {
            seq: SeqCounter::new(),
            data: UnsafeCell::new(T::zeroed()),
            _marker: PhantomData,
        }
    }

    #[cfg(loom)]
    fn zeroed() -> Self {
        Self {
            seq: SeqCounter::new(),
            data: (0..Self::WORDS).map(|_| AtomicU64::new(0)).collect(),
            _marker: PhantomData,
        }
    }

    #[cfg(not(loom))]
    #[inline]
    fn store_value(&self, value: &T) {
        let bytes = bytemuck::bytes_of(value);
        let dst = self.data.get() as *mut u8;
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            let word = u64::from_ne_bytes(chunk.try_into().expect("chunks of 8"));
            // Safety: `data` is 8-aligned (the struct is 64-aligned and `seq` is 8 bytes; T's
            // alignment is at most 64, so its offset is a multiple of 8), `i < WORDS`, and all
            // accesses to it are atomic.
            unsafe { store_words(dst.add(i * 8), core::slice::from_ref(&word)) };
        }
    }

    #[cfg(loom)]
    fn store_value(&self, value: &T) {
        let bytes = bytemuck::bytes_of(value);
        for (i, chunk) in bytes.chunks_exact(8).enumerate() {
            let word = u64::from_ne_bytes(chunk.try_into().expect("chunks of 8"));
            self.data[i].store(word, Ordering::Relaxed);
        }
    }

    #[cfg(not(loom))]
    #[inline]
    fn load_value(&self) -> T {
        let mut out = T::zeroed();
        let dst = bytemuck::bytes_of_mut(&mut out);
        let src = self.data.get() as *const u8;
        for (i, chunk) in dst.chunks_exact_mut(8).enumerate() {
            let mut word = [0u64; 1];
            // Safety: as in `store_value`: aligned, in bounds, atomic accesses only.
            unsafe { load_words(src.add(i * 8), &mut word) };
            chunk.copy_from_slice(&word[0].to_ne_bytes());
        }
        out
    }

    #[cfg(loom)]
    fn load_value(&self) -> T {
        let mut out = T::zeroed();
        let dst = bytemuck::bytes_of_mut(&mut out);
        for (i, chunk) in dst.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&self.data[i].load(Ordering::Relaxed).to_ne_bytes());
        }
        out
    }

    /// Publish `value`. Single writer: two concurrent writers can interleave their words (each
    /// gauge has one owning actor). Never blocks or fails.
    #[inline]
    pub fn write(&self, value: &T) {
        let _ = Self::WORDS;
        let token = self.seq.begin_write();
        self.store_value(value);
        self.seq.end_write(token);
    }

    /// A writer that dies between the start of a write and its end, for tests: the sequence
    /// stays odd (readers give up) until the next write heals it.
    #[cfg(all(test, not(loom)))]
    pub(crate) fn die_while_writing(&self) {
        self.seq.begin_write();
    }

    /// Publish `value` when several writers may race (rare operator actions such as the kill
    /// switch details): writers take turns through a CAS on the sequence. A writer that finds
    /// the lock busy for [`READ_MAX_ATTEMPTS`] attempts assumes its holder died mid-write and
    /// writes anyway, which heals the lock. Returns whether the turn was taken cleanly.
    pub fn write_exclusive(&self, value: &T) -> bool {
        let _ = Self::WORDS;
        for attempt in 0..READ_MAX_ATTEMPTS {
            if let Some(token) = self.seq.try_begin_write_exclusive() {
                self.store_value(value);
                self.seq.end_write(token);
                return true;
            }
            read_backoff(attempt);
        }
        self.write(value);
        false
    }

    /// One attempt: a consistent copy, or `None` when a write overlapped it.
    #[inline]
    pub fn try_read(&self) -> Option<T> {
        self.try_read_with_seq().map(|(value, _)| value)
    }

    /// One attempt, returning the copy and the sequence it was taken at (see
    /// [`SeqLock::sequence`]).
    #[inline]
    pub fn try_read_with_seq(&self) -> Option<(T, u64)> {
        let _ = Self::WORDS;
        let start = self.seq.read_begin()?;
        let value = self.load_value();
        self.seq.read_validate(start).then_some((value, start))
    }

    /// A consistent copy, retrying (spinning, then yielding) up to [`READ_MAX_ATTEMPTS`] times.
    /// `None` only if the writer kept the lock busy that long (or died mid-write and has not
    /// restarted yet).
    pub fn read(&self) -> Option<T> {
        self.read_with_seq().map(|(value, _)| value)
    }

    /// As [`SeqLock::read`], with the sequence the copy was taken at.
    pub fn read_with_seq(&self) -> Option<(T, u64)> {
        for attempt in 0..READ_MAX_ATTEMPTS {
            if let Some(found) = self.try_read_with_seq() {
                return Some(found);
            }
            read_backoff(attempt);
        }
        None
    }

    /// Twice the number of completed writes (odd while one is in progress): compare two values
    /// to learn whether the gauge was updated.
    #[inline]
    pub fn sequence(&self) -> u64 {
        self.seq.load()
    }
}

impl<T: ShmSafe + core::fmt::Debug> core::fmt::Debug for SeqLock<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SeqLock")
            .field("sequence", &self.sequence())
            .field("value", &self.try_read())
            .finish()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use bytemuck::{Pod, Zeroable};
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    /// Every word holds the same value, so a torn copy shows as words that differ.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
    struct Uniform {
        words: [u64; 24],
    }
    crate::shm_safe!(Uniform);

    /// A value whose type is 4-aligned, to check the word copy does not depend on T's alignment.
    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
    struct Narrow {
        a: u32,
        b: u32,
        c: [u8; 8],
    }
    crate::shm_safe!(Narrow);

    fn watchdog(limit: Duration) -> Arc<AtomicBool> {
        let done = Arc::new(AtomicBool::new(false));
        let flag = done.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !flag.load(std::sync::atomic::Ordering::Acquire) {
                if start.elapsed() > limit {
                    eprintln!("watchdog: seqlock test still running after {limit:?}");
                    std::process::abort();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        done
    }

    #[test]
    fn zero_bytes_are_a_valid_empty_lock() {
        let lock = SeqLock::<Narrow>::zeroed();
        assert_eq!(lock.sequence(), 0);
        assert_eq!(lock.read(), Some(Narrow::zeroed()));
    }

    #[test]
    fn write_then_read_round_trips_and_counts() {
        let lock = SeqLock::new(Narrow {
            a: 1,
            b: 2,
            c: *b"abcdefgh",
        });
        assert_eq!(lock.sequence(), 2);
        let v = Narrow {
            a: u32::MAX,
            b: 7,
            c: [9; 8],
        };
        lock.write(&v);
        assert_eq!(lock.sequence(), 4);
        assert_eq!(lock.read_with_seq(), Some((v, 4)));
    }

    #[test]
    fn a_write_in_progress_makes_readers_retry_then_give_up() {
        let lock = SeqLock::new(Narrow::zeroed());
        // A writer that died between begin and end leaves the sequence odd.
        let token = lock.seq.begin_write();
        assert_eq!(token, 3);
        assert_eq!(lock.try_read(), None);
        assert_eq!(lock.read(), None);
        // A restarted writer heals it: its write completes and readers see it.
        let v = Narrow {
            a: 5,
            b: 6,
            c: [1; 8],
        };
        lock.write(&v);
        assert_eq!(lock.sequence(), 4);
        assert_eq!(lock.read(), Some(v));
    }

    #[test]
    fn exclusive_writers_take_turns_and_heal_a_dead_holder() {
        let lock = SeqLock::new(Narrow::zeroed());
        assert_eq!(lock.seq.try_begin_write_exclusive(), Some(3));
        // Held (or its holder died): a second exclusive begin is refused.
        assert_eq!(lock.seq.try_begin_write_exclusive(), None);
        let v = Narrow {
            a: 1,
            b: 1,
            c: [1; 8],
        };
        // The busy lock is waited on, then healed: the value lands and the lock is even.
        assert!(!lock.write_exclusive(&v));
        assert_eq!(lock.sequence(), 4);
        assert_eq!(lock.read(), Some(v));
        assert!(lock.write_exclusive(&Narrow::zeroed()));
        assert_eq!(lock.sequence(), 6);
    }

    #[test]
    fn concurrent_exclusive_writers_never_tear() {
        use std::sync::atomic::{AtomicU64 as StdU64, Ordering as O};
        let done = watchdog(Duration::from_secs(30));
        let lock = Arc::new(SeqLock::new(Uniform { words: [0; 24] }));
        // The writers keep going until the reader has made this many consistent reads.
        let reads = Arc::new(StdU64::new(0));
        let wanted_reads = 20_000;
        let writers: Vec<_> = (1..=2u64)
            .map(|w| {
                let lock = lock.clone();
                let reads = reads.clone();
                std::thread::spawn(move || {
                    let (mut writes, mut clean) = (0u64, 0u64);
                    while reads.load(O::Relaxed) < wanted_reads {
                        writes += 1;
                        clean += u64::from(lock.write_exclusive(&Uniform {
                            words: [w << 32 | writes; 24],
                        }));
                    }
                    (writes, clean)
                })
            })
            .collect();
        while reads.load(O::Relaxed) < wanted_reads {
            if let Some(v) = lock.try_read() {
                assert!(v.words.iter().all(|&x| x == v.words[0]), "torn: {v:?}");
                reads.fetch_add(1, O::Relaxed);
            }
        }
        let (writes, clean) = writers
            .into_iter()
            .map(|w| w.join().expect("writer panicked"))
            .fold((0, 0), |(a, b), (c, d)| (a + c, b + d));
        // A writer only heals (writes without its turn) after ~1,000 yields on a held lock,
        // which takes a holder descheduled for a long time; when every turn was clean, the
        // sequence counts each write after the initial one.
        if clean == writes {
            assert_eq!(lock.sequence(), 2 * (1 + writes));
        }
        assert_eq!(lock.sequence() % 2, 0);
        done.store(true, O::Release);
    }

    #[test]
    fn readers_never_see_a_torn_value() {
        use std::sync::atomic::{AtomicU64 as StdU64, Ordering as O};
        let done = watchdog(Duration::from_secs(30));
        let lock = Arc::new(SeqLock::new(Uniform { words: [0; 24] }));
        let stop = Arc::new(AtomicBool::new(false));
        // Consistent reads per reader: the writer keeps writing until each reader has made
        // enough of them while writes were going on (readers may start late on a busy machine).
        let reads: Arc<[StdU64; 2]> = Arc::new([StdU64::new(0), StdU64::new(0)]);
        let wanted_reads = 20_000;

        let readers: Vec<_> = (0..2)
            .map(|r| {
                let lock = lock.clone();
                let stop = stop.clone();
                let reads = reads.clone();
                std::thread::spawn(move || {
                    let mut last = 0u64;
                    while !stop.load(O::Acquire) {
                        if let Some(v) = lock.try_read() {
                            let first = v.words[0];
                            assert!(v.words.iter().all(|&w| w == first), "torn read: {v:?}");
                            // The writer only counts up: a reader never goes back in time.
                            assert!(first >= last, "value went back from {last} to {first}");
                            last = first;
                            reads[r].fetch_add(1, O::Relaxed);
                        }
                    }
                })
            })
            .collect();

        let mut writes = 0u64;
        while reads.iter().any(|n| n.load(O::Relaxed) < wanted_reads) {
            writes += 1;
            lock.write(&Uniform {
                words: [writes; 24],
            });
        }
        stop.store(true, O::Release);
        for r in readers {
            r.join().expect("reader panicked");
        }
        assert_eq!(
            lock.read(),
            Some(Uniform {
                words: [writes; 24]
            })
        );
        assert_eq!(lock.sequence(), 2 * (writes + 1));
        done.store(true, O::Release);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use bytemuck::{Pod, Zeroable};

    #[repr(C)]
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
    struct Pair {
        a: u64,
        b: u64,
    }
    crate::shm_safe!(Pair);

    /// Every interleaving of one writer (two writes) and one reader: a read that validates is
    /// one of the three values ever published, never a mix.
    #[test]
    fn loom_no_torn_reads() {
        loom::model(|| {
            let lock = loom::sync::Arc::new(SeqLock::new(Pair { a: 0, b: 0 }));
            let writer = {
                let lock = lock.clone();
                loom::thread::spawn(move || {
                    lock.write(&Pair { a: 1, b: 1 });
                    lock.write(&Pair { a: 2, b: 2 });
                })
            };
            if let Some((v, seq)) = lock.try_read_with_seq() {
                assert_eq!(v.a, v.b, "torn read {v:?}");
                assert_eq!(seq, 2 * (v.a + 1), "value and sequence disagree");
            }
            writer.join().unwrap();
            assert_eq!(lock.try_read(), Some(Pair { a: 2, b: 2 }));
        });
    }
}
