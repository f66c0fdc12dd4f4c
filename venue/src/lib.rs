//! venue (being built).
