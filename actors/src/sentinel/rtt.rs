//! Rolling window of round-trip times with nearest-rank percentiles.

/// Latest and percentiles over the window (0 when no sample yet).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RttStats {
    pub latest_ns: u64,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
    /// Samples in the window.
    pub samples: usize,
    /// Samples since start.
    pub total: u64,
}

/// The last `capacity` RTT samples (ring buffer) plus a scratch buffer for
/// percentile selection, both allocated once.
#[derive(Clone, Debug)]
pub struct RttWindow {
    buf: Vec<u64>,
    scratch: Vec<u64>,
    head: usize,
    len: usize,
    latest_ns: u64,
    total: u64,
}

impl RttWindow {
    pub fn new(capacity: usize) -> Self {
        assert!(capacity > 0, "RTT window must hold at least one sample");
        Self {
            buf: vec![0; capacity],
            scratch: vec![0; capacity],
            head: 0,
            len: 0,
            latest_ns: 0,
            total: 0,
        }
    }

    pub fn push(&mut self, rtt_ns: u64) {
        self.buf[self.head] = rtt_ns;
        self.head = (self.head + 1) % self.buf.len();
        self.len = (self.len + 1).min(self.buf.len());
        self.latest_ns = rtt_ns;
        self.total += 1;
    }

    /// Nearest-rank percentiles: the p-th is the ⌈p·n⌉-th smallest sample.
    /// O(n) per call (selection), meant for telemetry, not per message.
    pub fn stats(&mut self) -> RttStats {
        let n = self.len;
        if n == 0 {
            return RttStats::default();
        }
        let s = &mut self.scratch[..n];
        s.copy_from_slice(&self.buf[..n]);
        let rank = |p: f64| ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        let p50 = *s.select_nth_unstable(rank(0.50)).1;
        let p99 = *s.select_nth_unstable(rank(0.99)).1;
        let max = *s.iter().max().unwrap_or(&0);
        RttStats {
            latest_ns: self.latest_ns,
            p50_ns: p50,
            p99_ns: p99,
            max_ns: max,
            samples: n,
            total: self.total,
        }
    }
}
