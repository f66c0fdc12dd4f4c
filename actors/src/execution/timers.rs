//! A hashed timer wheel for the actor's own deadlines (200 ms cancels).
//!
//! Checked against `now_ns` on every poll of the actor loop, never with
//! executor timers (see shared/notes/glommio.md). Fixed capacity, allocated at
//! construction; insert, cancel and each expiry are O(1); a poll visits the
//! slots between the last poll and now (at most one turn of the wheel).
//! A timer fires exactly when `deadline_ns ≤ now_ns`, never before; how late
//! depends only on how often the caller polls.

use thiserror::Error;

const NIL: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
struct Entry {
    deadline_ns: u64,
    key: u64,
    prev: u32,
    next: u32,
    slot: u32,
    generation: u32,
    live: bool,
}

/// Identifies an armed timer for [`TimerWheel::cancel`]; stale handles (timer
/// already fired or cancelled) are recognised by their generation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TimerHandle {
    index: u32,
    generation: u32,
}

#[derive(Debug, Error, PartialEq, Eq)]
#[error("timer wheel full ({0} timers armed): raise the capacity (one per open order)")]
pub struct TimerFull(pub usize);

#[derive(Clone, Debug)]
pub struct TimerWheel {
    tick_ns: u64,
    heads: Vec<u32>,
    entries: Vec<Entry>,
    free: u32,
    current_tick: u64,
    len: usize,
}

impl TimerWheel {
    /// `slots` buckets of `tick_ns` each, holding at most `capacity` timers.
    pub fn new(tick_ns: u64, slots: usize, capacity: usize) -> Self {
        assert!(tick_ns > 0 && slots > 0 && capacity > 0 && capacity < NIL as usize);
        let entries = (0..capacity)
            .map(|i| Entry {
                deadline_ns: 0,
                key: 0,
                prev: NIL,
                next: if i + 1 < capacity { i as u32 + 1 } else { NIL },
                slot: 0,
                generation: 0,
                live: false,
            })
            .collect();
        Self {
            tick_ns,
            heads: vec![NIL; slots],
            entries,
            free: 0,
            current_tick: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Arm a timer that fires for `key` once `now_ns ≥ deadline_ns`.
    pub fn insert(&mut self, deadline_ns: u64, key: u64) -> Result<TimerHandle, TimerFull> {
        if self.free == NIL {
            return Err(TimerFull(self.len));
        }
        let idx = self.free;
        // A deadline already behind the wheel goes into the current slot so the
        // next poll sees it.
        let tick = (deadline_ns / self.tick_ns).max(self.current_tick);
        let slot = (tick % self.heads.len() as u64) as u32;
        let head = self.heads[slot as usize];
        let e = &mut self.entries[idx as usize];
        self.free = e.next;
        e.deadline_ns = deadline_ns;
        e.key = key;
        e.prev = NIL;
        e.next = head;
        e.slot = slot;
        e.live = true;
        let generation = e.generation;
        if head != NIL {
            self.entries[head as usize].prev = idx;
        }
        self.heads[slot as usize] = idx;
        self.len += 1;
        Ok(TimerHandle {
            index: idx,
            generation,
        })
    }

    /// Disarm a timer; false if it already fired or was cancelled.
    pub fn cancel(&mut self, h: TimerHandle) -> bool {
        match self.entries.get(h.index as usize) {
            Some(e) if e.live && e.generation == h.generation => {
                self.remove(h.index);
                true
            }
            _ => false,
        }
    }

    fn remove(&mut self, idx: u32) {
        let e = self.entries[idx as usize];
        if e.prev != NIL {
            self.entries[e.prev as usize].next = e.next;
        } else {
            self.heads[e.slot as usize] = e.next;
        }
        if e.next != NIL {
            self.entries[e.next as usize].prev = e.prev;
        }
        let f = &mut self.entries[idx as usize];
        f.live = false;
        f.generation = f.generation.wrapping_add(1);
        f.next = self.free;
        f.prev = NIL;
        self.free = idx;
        self.len -= 1;
    }

    /// Fire every timer with `deadline_ns ≤ now_ns`, calling `fire(key,
    /// deadline_ns)` for each. `fire` returns false when it cannot take more
    /// (its output buffer is full): expiry stops there and the rest fire on the
    /// next call. Returns the number fired.
    pub fn expire(&mut self, now_ns: u64, mut fire: impl FnMut(u64, u64) -> bool) -> usize {
        let now_tick = now_ns / self.tick_ns;
        if now_tick < self.current_tick {
            return 0; // time did not advance past the wheel (same tick handled below)
        }
        let n = self.heads.len() as u64;
        let visits = (now_tick - self.current_tick + 1).min(n);
        let mut fired = 0;
        for step in 0..visits {
            let tick = self.current_tick + step;
            let slot = (tick % n) as usize;
            let mut idx = self.heads[slot];
            while idx != NIL {
                let e = self.entries[idx as usize];
                if e.deadline_ns <= now_ns {
                    if !fire(e.key, e.deadline_ns) {
                        self.current_tick = tick;
                        return fired;
                    }
                    self.remove(idx);
                    fired += 1;
                }
                idx = e.next;
            }
        }
        self.current_tick = now_tick;
        fired
    }
}
