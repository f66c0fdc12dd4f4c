//! Rolling normalised Shannon entropy of a binary symbol stream.

/// Normalised Shannon entropy (bits, 0 … 1 for two symbols) of the last
/// `capacity` symbols, updated in O(1) per symbol. The window is a ring buffer
/// allocated once at construction.
#[derive(Clone, Debug)]
pub struct RollingEntropy {
    buf: Vec<u8>,
    head: usize,
    len: usize,
    counts: [u32; 2],
}

impl RollingEntropy {
    /// `capacity` ≥ 1 symbols.
    pub fn new(capacity: usize) -> Self {
        assert!(
            capacity >= 1,
            "entropy window must hold at least one symbol"
        );
        Self {
            buf: vec![0; capacity],
            head: 0,
            len: 0,
            counts: [0; 2],
        }
    }

    /// Add a symbol: `true` = up / buy, `false` = down / sell.
    pub fn push(&mut self, up: bool) {
        let cap = self.buf.len();
        if self.len == cap {
            let old = self.buf[self.head];
            self.counts[old as usize] -= 1;
        } else {
            self.len += 1;
        }
        self.buf[self.head] = up as u8;
        self.counts[up as usize] += 1;
        self.head = (self.head + 1) % cap;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Symbols counted as (down, up).
    pub fn counts(&self) -> (u32, u32) {
        (self.counts[0], self.counts[1])
    }

    /// `H = −Σ p log₂ p` over the window, divided by log₂ 2 = 1 (so already 0 … 1).
    /// 0 when empty.
    pub fn entropy(&self) -> f64 {
        let n = self.len as f64;
        let mut h = 0.0;
        for &c in &self.counts {
            if c > 0 {
                let p = c as f64 / n;
                h -= p * p.log2();
            }
        }
        h
    }

    pub fn clear(&mut self) {
        self.head = 0;
        self.len = 0;
        self.counts = [0; 2];
    }
}
