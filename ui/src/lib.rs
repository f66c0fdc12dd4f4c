//! ui (being built).
