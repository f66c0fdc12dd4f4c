//! topology.ron text → supervisor::topology::{parse, validate} on a fake two-core machine.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Refusals are the expected outcome for most inputs; a broken promise is a bug.
    if let Err(hardening::Refusal::Violation(m)) = hardening::topology(data) {
        panic!("violation: {m}");
    }
});
