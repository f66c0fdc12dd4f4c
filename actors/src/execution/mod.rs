//! Execution (being built).
