//! Latency injection: a one-way delay model (base + uniform jitter + rare spikes),
//! adjustable at run time from any thread, and a FIFO delay line that never lets a
//! later frame overtake an earlier one (causality under jitter).

use crate::config::LatencyConfig;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Shared, lock-free latency settings: the venue thread reads them on every sample;
/// the CLI, the supervisor's control-block poller or a test writes them.
#[derive(Debug, Clone)]
pub struct LatencyControl {
    inner: Arc<Settings>,
}

#[derive(Debug)]
struct Settings {
    one_way_ns: AtomicU64,
    jitter_ns: AtomicU64,
    /// Spike probability in parts per million.
    spike_ppm: AtomicU64,
    spike_ns: AtomicU64,
    changes: AtomicU64,
}

impl LatencyControl {
    pub fn new(cfg: &LatencyConfig) -> Self {
        LatencyControl {
            inner: Arc::new(Settings {
                one_way_ns: AtomicU64::new(cfg.one_way_ns),
                jitter_ns: AtomicU64::new(cfg.jitter_ns),
                spike_ppm: AtomicU64::new((cfg.spike_probability * 1e6).round() as u64),
                spike_ns: AtomicU64::new(cfg.spike_ns),
                changes: AtomicU64::new(0),
            }),
        }
    }

    /// Change the one-way delay and its jitter (e.g. `supervisor venue latency 25ms`).
    /// Takes effect for frames that arrive or leave after the call.
    pub fn set(&self, one_way_ns: u64, jitter_ns: u64) {
        self.inner.one_way_ns.store(one_way_ns, Ordering::Relaxed);
        self.inner.jitter_ns.store(jitter_ns, Ordering::Relaxed);
        self.inner.changes.fetch_add(1, Ordering::Release);
    }

    /// Change the spike model.
    pub fn set_spikes(&self, probability: f64, spike_ns: u64) {
        let p = probability.clamp(0.0, 1.0);
        self.inner
            .spike_ppm
            .store((p * 1e6).round() as u64, Ordering::Relaxed);
        self.inner.spike_ns.store(spike_ns, Ordering::Relaxed);
        self.inner.changes.fetch_add(1, Ordering::Release);
    }

    /// (one-way ns, jitter ns).
    pub fn get(&self) -> (u64, u64) {
        (
            self.inner.one_way_ns.load(Ordering::Relaxed),
            self.inner.jitter_ns.load(Ordering::Relaxed),
        )
    }

    /// How many times the settings changed (for status displays).
    pub fn changes(&self) -> u64 {
        self.inner.changes.load(Ordering::Acquire)
    }
}

/// Samples one-way delays from the shared settings with a seeded generator.
#[derive(Debug, Clone)]
pub struct LatencyModel {
    ctl: LatencyControl,
    rng: ChaCha8Rng,
}

impl LatencyModel {
    pub fn new(ctl: LatencyControl, seed: u64) -> Self {
        LatencyModel {
            ctl,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn control(&self) -> &LatencyControl {
        &self.ctl
    }

    /// One delay: base + uniform(0, jitter] + spike with its probability.
    pub fn sample_ns(&mut self) -> u64 {
        let s = &self.ctl.inner;
        let base = s.one_way_ns.load(Ordering::Relaxed);
        let jitter = s.jitter_ns.load(Ordering::Relaxed);
        let ppm = s.spike_ppm.load(Ordering::Relaxed);
        let mut d = base;
        if jitter > 0 {
            d = d.saturating_add(self.rng.random_range(0..=jitter));
        }
        if ppm > 0 && self.rng.random_range(0..1_000_000u64) < ppm {
            d = d.saturating_add(s.spike_ns.load(Ordering::Relaxed));
        }
        d
    }
}

/// A bounded FIFO of items released at or after their due time, in insertion order:
/// an item is never due before the one ahead of it.
#[derive(Debug, Clone)]
pub struct DelayLine<T> {
    q: VecDeque<(u64, T)>,
    last_due_ns: u64,
    cap: usize,
}

impl<T> DelayLine<T> {
    pub fn with_capacity(cap: usize) -> Self {
        DelayLine {
            q: VecDeque::with_capacity(cap.min(1 << 16)),
            last_due_ns: 0,
            cap,
        }
    }

    /// Enqueue for `now_ns + delay_ns` (or later, to keep order). `Err(item)` when full.
    pub fn push(&mut self, now_ns: u64, delay_ns: u64, item: T) -> Result<u64, T> {
        if self.q.len() >= self.cap {
            return Err(item);
        }
        let due = now_ns.saturating_add(delay_ns).max(self.last_due_ns);
        self.last_due_ns = due;
        self.q.push_back((due, item));
        Ok(due)
    }

    /// The next item due at `now_ns`, if any.
    pub fn pop_due(&mut self, now_ns: u64) -> Option<T> {
        match self.q.front() {
            Some(&(due, _)) if due <= now_ns => self.q.pop_front().map(|x| x.1),
            _ => None,
        }
    }

    /// Due time of the head.
    pub fn next_due_ns(&self) -> Option<u64> {
        self.q.front().map(|x| x.0)
    }

    pub fn len(&self) -> usize {
        self.q.len()
    }

    pub fn is_empty(&self) -> bool {
        self.q.is_empty()
    }

    pub fn clear(&mut self) {
        self.q.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_line_keeps_order_under_jitter() {
        let mut d = DelayLine::with_capacity(3);
        // Second item gets a shorter delay but may not overtake the first.
        assert_eq!(d.push(0, 100, 'a'), Ok(100));
        assert_eq!(d.push(10, 20, 'b'), Ok(100));
        assert_eq!(d.push(10, 200, 'c'), Ok(210));
        assert_eq!(d.push(10, 1, 'x'), Err('x'));
        assert_eq!(d.pop_due(99), None);
        assert_eq!(d.pop_due(100), Some('a'));
        assert_eq!(d.pop_due(100), Some('b'));
        assert_eq!(d.pop_due(200), None);
        assert_eq!(d.pop_due(210), Some('c'));
    }

    #[test]
    fn model_follows_settings_and_bounds() {
        let ctl = LatencyControl::new(&LatencyConfig::default());
        let mut m = LatencyModel::new(ctl.clone(), 1);
        assert_eq!(m.sample_ns(), 0);
        ctl.set(25_000_000, 1_000);
        for _ in 0..1000 {
            let s = m.sample_ns();
            assert!((25_000_000..=25_001_000).contains(&s));
        }
        ctl.set_spikes(1.0, 5);
        assert!(m.sample_ns() >= 25_000_005);
        assert_eq!(ctl.get(), (25_000_000, 1_000));
        assert_eq!(ctl.changes(), 2);
    }
}
