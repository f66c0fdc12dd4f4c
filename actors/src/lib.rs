//! actors (being built).
