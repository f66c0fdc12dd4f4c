//! A self-checking 64-byte message for ring tests, benchmarks and `ring_peer`: it carries its
//! sequence number and a checksum of itself, so a torn or half-written copy is detectable.
use bytemuck::{Pod, Zeroable};

/// One cache line: sequence, six payload words derived from it, checksum.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct ProbeMsg {
    pub seq: u64,
    pub words: [u64; 6],
    pub check: u64,
}

crate::shm_safe!(ProbeMsg);

impl ProbeMsg {
    /// The message for sequence number `seq`; `salt` varies the payload (e.g. a run id).
    pub fn new(seq: u64, salt: u64) -> Self {
        let mut words = [0u64; 6];
        let mut x = seq ^ salt.rotate_left(17) ^ 0x9e37_79b9_7f4a_7c15;
        for w in &mut words {
            // splitmix64 step: every word differs, so a mix of two messages fails the check.
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            *w = z ^ (z >> 31);
        }
        let mut m = ProbeMsg {
            seq,
            words,
            check: 0,
        };
        m.check = m.checksum();
        m
    }

    /// FNV-1a over every field but `check`.
    pub fn checksum(&self) -> u64 {
        let mut h = 0xcbf2_9ce4_8422_2325u64;
        for v in core::iter::once(&self.seq).chain(self.words.iter()) {
            for b in v.to_le_bytes() {
                h ^= b as u64;
                h = h.wrapping_mul(0x100_0000_01b3);
            }
        }
        h
    }

    /// Whether the message is whole (its checksum matches) and is exactly `new(seq, salt)`.
    pub fn is_intact(&self, salt: u64) -> bool {
        self.check == self.checksum() && *self == ProbeMsg::new(self.seq, salt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_detects_a_torn_copy() {
        let a = ProbeMsg::new(1, 7);
        let b = ProbeMsg::new(2, 7);
        assert!(a.is_intact(7) && b.is_intact(7));
        assert!(!a.is_intact(8), "another salt is another message");
        let mut torn = a;
        torn.words[3..].copy_from_slice(&b.words[3..]);
        assert!(!torn.is_intact(7));
        assert_eq!(core::mem::size_of::<ProbeMsg>(), 64);
    }
}
