//! A fixed-capacity action buffer: actors push their outputs here instead of
//! allocating. The caller creates one per actor at start-up and clears it after
//! handling the actions of each call.

/// Bounded buffer of `N` actions. Pushing beyond capacity never allocates: the
/// action is dropped and counted in [`ActionBuf::overflowed`], so a caller can
/// assert that its buffer was large enough (actors size their per-call output
/// by construction; an overflow is a bug to report, not to hide).
#[derive(Clone, Debug)]
pub struct ActionBuf<T: Copy + Default, const N: usize> {
    items: [T; N],
    len: usize,
    overflowed: u64,
}

impl<T: Copy + Default, const N: usize> Default for ActionBuf<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + Default, const N: usize> ActionBuf<T, N> {
    pub const CAPACITY: usize = N;

    pub fn new() -> Self {
        Self {
            items: [T::default(); N],
            len: 0,
            overflowed: 0,
        }
    }

    /// Append an action; returns false (and counts it) when the buffer is full.
    pub fn push(&mut self, item: T) -> bool {
        if self.len < N {
            self.items[self.len] = item;
            self.len += 1;
            true
        } else {
            self.overflowed += 1;
            false
        }
    }

    /// Free slots left.
    pub fn remaining(&self) -> usize {
        N - self.len
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.as_slice().iter()
    }

    /// Forget the actions (keeps the overflow count).
    pub fn clear(&mut self) {
        self.len = 0;
    }

    /// Actions dropped because the buffer was full, since construction.
    pub fn overflowed(&self) -> u64 {
        self.overflowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_beyond_capacity_is_counted_not_stored() {
        let mut b: ActionBuf<u32, 2> = ActionBuf::new();
        assert!(b.push(1));
        assert!(b.push(2));
        assert!(!b.push(3));
        assert_eq!(b.as_slice(), &[1, 2]);
        assert_eq!(b.overflowed(), 1);
        b.clear();
        assert!(b.is_empty());
        assert_eq!(b.remaining(), 2);
    }
}
