//! Bytes from a TCP peer → venue::protocol::decode, one frame and as a stream (skip/close rules
//! of docs/venue-protocol.md), with round-trip and truncation checks on every accepted frame.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Refusals are the expected outcome for most inputs; a broken promise is a bug.
    if let Err(hardening::Refusal::Violation(m)) = hardening::venue_frame(data) {
        panic!("violation: {m}");
    }
    if let Err(hardening::Refusal::Violation(m)) = hardening::venue_stream(data) {
        panic!("violation: {m}");
    }
});
