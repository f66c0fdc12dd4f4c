//! supervisor (being built).
