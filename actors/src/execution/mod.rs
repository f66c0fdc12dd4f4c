//! Execution: passive quoting under every gate (being built), with its parts:
//! costs, OTR, rate limits, the cancel timer wheel and the order journal.
pub mod costs;
pub mod otr;
