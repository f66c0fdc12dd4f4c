//! Latency benchmark of the whole engine (issue 7).
