//! LOBSTER message file, `---`, orderbook file → venue::replay::lobster (parse, first-row start, apply).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Refusals are the expected outcome for most inputs; a broken promise is a bug.
    if let Err(hardening::Refusal::Violation(m)) = hardening::lobster(data) {
        panic!("violation: {m}");
    }
});
