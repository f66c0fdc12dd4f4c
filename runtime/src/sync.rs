//! The loom seam: lock-free code imports atomics from here so that `RUSTFLAGS="--cfg loom"`
//! model-checks it with loom's atomics and the normal build uses std's.
#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
