//! Sentinel (being built).
